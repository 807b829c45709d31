package coxctl

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coxswain/coxswain/pkg/coxctl/podstream/podstreamtest"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// fakeEnv runs coxctl against the fake PodService (a tiny kubelet behind a gRPC server): logs, exec and
// port-forward end to end through the command line.
func fakeEnv(t *testing.T, s *podstreamtest.Server) *env {
	podstreamtest.Start(t, s)
	return &env{t: t, server: s.Addr, config: filepath.Join(t.TempDir(), "config")}
}

func TestLogsCommand(t *testing.T) {
	multi := podstreamtest.Pod("default", "multi", map[string]string{"app": "web"}, "app", "sidecar")
	s := &podstreamtest.Server{Pods: []*corev1.Pod{
		podstreamtest.Pod("default", "web-1", map[string]string{"app": "web"}, "app"), multi,
	}, LogText: map[string]string{
		"default/web-1/app":     "hello\nworld\n",
		"default/multi/app":     "a1\na2\n",
		"default/multi/sidecar": "s1\n",
	}}
	e := fakeEnv(t, s)
	wantEqual(t, "logs", e.ok("logs", "web-1"), "hello\nworld\n")
	wantEqual(t, "logs --tail", e.ok("logs", "pod/web-1", "--tail=1", "--timestamps"), "2025-03-01T12:00:00.000000000Z world\n")
	r := e.run("", "logs", "multi")
	if r.code != 0 || r.out != "a1\na2\n" || r.err != "Defaulted container \"app\" out of: app, sidecar\n" {
		t.Errorf("logs of a two-container pod: %+v", r)
	}
	wantEqual(t, "logs -c", e.ok("logs", "multi", "-c", "sidecar"), "s1\n")
	wantEqual(t, "logs POD CONTAINER", e.ok("logs", "multi", "sidecar"), "s1\n")
	wantEqual(t, "logs -l --prefix", e.ok("logs", "-l", "app=web", "--prefix"), "[pod/multi/app] a1\n[pod/multi/app] a2\n[pod/web-1/app] hello\n[pod/web-1/app] world\n")
	wantEqual(t, "logs --all-containers", e.ok("logs", "multi", "--all-containers"), "a1\na2\ns1\n")
	wantEqual(t, "logs bad container", e.fail(1, "logs", "multi", "-c", "nope"), "error: container nope is not valid for pod multi: choose one of: [app sidecar]\n")
	wantEqual(t, "logs missing pod", e.fail(1, "logs", "nope"), "Error from server (NotFound): pods \"nope\" not found\n")
	// The options reach the server.
	e.ok("logs", "web-1", "--since=90s", "--previous", "--limit-bytes=100")
	calls := s.LogCalls()
	last := calls[len(calls)-1]
	if last.GetSinceSeconds() != 90 || !last.GetPrevious() || last.GetLimitBytes() != 100 || last.GetContainer() != "app" {
		t.Errorf("log options = %v", last)
	}
	// -f streams until interrupted.
	b := e.start(nil, "logs", "-f", "web-1")
	b.waitOut(t, "hello\nworld\nfollow 0\nfollow 1\n")
	if code := b.stop(); code != 0 {
		t.Errorf("logs -f interrupted: exit %d %s", code, b.err.String())
	}
}

func TestExecCommand(t *testing.T) {
	s := &podstreamtest.Server{Pods: []*corev1.Pod{podstreamtest.Pod("default", "web", nil, "app", "sidecar")}}
	e := fakeEnv(t, s)
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		out   string
		err   string
	}{
		{"stdout", "", []string{"exec", "web", "--", "echo", "hi", "there"}, 0, "hi there\n", "Defaulted container \"app\" out of: app, sidecar\n"},
		{"exit code", "", []string{"exec", "web", "-c", "app", "--", "exit", "3"}, 3, "", "command terminated with exit code 3\n"},
		{"exit code quiet", "", []string{"exec", "-q", "web", "-c", "app", "--", "exit", "42"}, 42, "", ""},
		{"stderr", "", []string{"exec", "web", "-c", "sidecar", "--", "stderr", "oops"}, 1, "", "oops\ncommand terminated with exit code 1\n"},
		{"stdin", "line one\nline two\n", []string{"exec", "-i", "web", "-c", "app", "--", "cat"}, 0, "line one\nline two\n", ""},
		{"tty without a terminal", "", []string{"exec", "-it", "web", "-c", "app", "--", "env"}, 0,
			"container=app stdin=true stdout=true stderr=true tty=false\n", "Unable to use a TTY - input is not a terminal or the right kind of file\n"},
		{"no command", "", []string{"exec", "web"}, 1, "", "error: you must specify a command after --, e.g. coxctl exec POD -- sh\n"},
		{"missing pod", "", []string{"exec", "nope", "--", "true"}, 1, "", "Error from server (NotFound): pods \"nope\" not found\n"},
		{"bad container", "", []string{"exec", "web", "-c", "x", "--", "true"}, 1, "", "error: container x is not valid for pod web: choose one of: [app sidecar]\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.run(tc.stdin, tc.args...)
			if r.code != tc.code || r.out != tc.out || r.err != tc.err {
				t.Errorf("got exit %d out %q err %q; want exit %d out %q err %q", r.code, r.out, r.err, tc.code, tc.out, tc.err)
			}
		})
	}
	if got := s.Execs()[0]; got.GetContainer() != "app" || strings.Join(got.GetCommand(), " ") != "echo hi there" || got.GetNamespace() != "default" {
		t.Errorf("exec options = %v", got)
	}
}

func TestPortForwardCommand(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from the pod, path %s", r.URL.Path)
	}))
	defer backend.Close()
	s := &podstreamtest.Server{Pods: []*corev1.Pod{podstreamtest.Pod("default", "web", nil, "app")},
		Ports: map[int32]string{8080: strings.TrimPrefix(backend.URL, "http://")}}
	e := fakeEnv(t, s)
	// ":http" picks a free local port for the container port named http (8080).
	b := e.start(nil, "port-forward", "pod/web", ":http")
	b.waitOut(t, " -> 8080\n")
	m := regexp.MustCompile(`Forwarding from (127\.0\.0\.1:\d+) -> 8080`).FindStringSubmatch(b.out.String())
	if m == nil {
		t.Fatalf("no Forwarding line: %q", b.out.String())
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Get("http://" + m[1] + "/index.html")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantEqual(t, "response through the forward", string(body), "hello from the pod, path /index.html")
	b.waitOut(t, "Handling connection for ")
	if code := b.stop(); code != 0 {
		t.Errorf("port-forward exit %d: %s", code, b.err.String())
	}
	wantContains(t, "unknown named port", e.fail(1, "port-forward", "web", ":nope"), `pod web does not have a named port "nope"`)
	wantContains(t, "no ports", e.fail(1, "port-forward", "web"), "TYPE/NAME and a list of ports are required")
}
