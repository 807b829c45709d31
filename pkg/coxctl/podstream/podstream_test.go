package podstream_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/coxctl/podstream"
	"github.com/coxswain/coxswain/pkg/coxctl/podstream/podstreamtest"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

func start(t *testing.T, s *podstreamtest.Server) corev1.PodServiceClient {
	t.Helper()
	podstreamtest.Start(t, s)
	cc, err := grpc.NewClient(s.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return corev1.NewPodServiceClient(cc)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func TestLogs(t *testing.T) {
	s := &podstreamtest.Server{Pods: []*corev1.Pod{podstreamtest.Pod("default", "web", nil, "app")},
		LogText: map[string]string{"default/web/app": "one\ntwo\nthree\n"}}
	c := start(t, s)
	for _, tc := range []struct {
		name string
		opts *corev1.PodLogOptions
		want string
		err  string
	}{
		{"all", &corev1.PodLogOptions{Namespace: "default", Name: "web", Container: "app"}, "one\ntwo\nthree\n", ""},
		{"tail", &corev1.PodLogOptions{Namespace: "default", Name: "web", Container: "app", TailLines: proto.Int64(1)}, "three\n", ""},
		{"timestamps", &corev1.PodLogOptions{Namespace: "default", Name: "web", Container: "app", TailLines: proto.Int64(1), Timestamps: true},
			"2025-03-01T12:00:00.000000000Z three\n", ""},
		{"missing pod", &corev1.PodLogOptions{Namespace: "default", Name: "nope", Container: "app"}, "", `pods "nope" not found`},
		{"bad container", &corev1.PodLogOptions{Namespace: "default", Name: "web", Container: "x"}, "", `container "x" is not valid`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := podstream.Logs(ctx(t), c, tc.opts, &buf)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				if tc.name == "missing pod" && !apierrors.IsNotFound(err) {
					t.Errorf("err %v is not NotFound", err)
				}
				return
			}
			if err != nil || buf.String() != tc.want {
				t.Fatalf("got %q, %v; want %q", buf.String(), err, tc.want)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe to write from the stream and read from the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestLogsFollowEndsWithContext(t *testing.T) {
	s := &podstreamtest.Server{Pods: []*corev1.Pod{podstreamtest.Pod("default", "web", nil, "app")},
		LogText: map[string]string{"default/web/app": "start\n"}}
	c := start(t, s)
	fctx, cancel := context.WithCancel(ctx(t))
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- podstream.Logs(fctx, c, &corev1.PodLogOptions{Namespace: "default", Name: "web", Container: "app", Follow: true}, &out)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "follow 2\n") {
		if time.Now().After(deadline) {
			t.Fatalf("followed log never reached line 2: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("cancelled follow: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Logs did not return after cancel")
	}
	if !strings.HasPrefix(out.String(), "start\nfollow 0\nfollow 1\n") {
		t.Errorf("log = %q", out.String())
	}
}

func TestExec(t *testing.T) {
	s := &podstreamtest.Server{Pods: []*corev1.Pod{podstreamtest.Pod("default", "web", nil, "app")}}
	c := start(t, s)
	opts := func(cmd ...string) *corev1.ExecOptions {
		return &corev1.ExecOptions{Namespace: "default", Name: "web", Container: "app", Command: cmd}
	}
	for _, tc := range []struct {
		name      string
		cmd       []string
		stdin     string
		code      int
		out, errs string
		err       string
		withStdin bool
		tty       bool
	}{
		{name: "stdout", cmd: []string{"echo", "hello", "world"}, code: 0, out: "hello world\n"},
		{name: "stderr and exit 1", cmd: []string{"stderr", "boom"}, code: 1, errs: "boom\n"},
		{name: "exit code 3", cmd: []string{"exit", "3"}, code: 3},
		{name: "exit code 130", cmd: []string{"exit", "130"}, code: 130},
		{name: "command not found", cmd: []string{"nope"}, code: 127, errs: "nope: command not found\n"},
		{name: "stdin is carried and closed", cmd: []string{"cat"}, stdin: "line 1\nline 2\n", withStdin: true, code: 0, out: "line 1\nline 2\n"},
		{name: "options", cmd: []string{"env"}, withStdin: true, tty: true, out: "container=app stdin=true stdout=true stderr=true tty=true\n"},
		{name: "missing pod", cmd: []string{"echo"}, err: `pods "nope" not found`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errs bytes.Buffer
			o := opts(tc.cmd...)
			o.Tty = tc.tty
			if tc.name == "missing pod" {
				o.Name = "nope"
			}
			cfg := podstream.ExecConfig{Options: o, Stdout: &out, Stderr: &errs}
			if tc.withStdin {
				cfg.Stdin = strings.NewReader(tc.stdin)
			}
			code, err := podstream.Exec(ctx(t), c, cfg)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || code != tc.code || out.String() != tc.out || errs.String() != tc.errs {
				t.Fatalf("code %d err %v out %q errs %q; want code %d out %q errs %q", code, err, out.String(), errs.String(), tc.code, tc.out, tc.errs)
			}
		})
	}
}

func TestExecResize(t *testing.T) {
	s := &podstreamtest.Server{Pods: []*corev1.Pod{podstreamtest.Pod("default", "web", nil, "app")}}
	c := start(t, s)
	resize := make(chan *corev1.TerminalSize, 1)
	resize <- &corev1.TerminalSize{Width: 120, Height: 40}
	var out bytes.Buffer
	pr, pw := io.Pipe() // stdin that stays open: the command ends on the resize
	defer pw.Close()
	code, err := podstream.Exec(ctx(t), c, podstream.ExecConfig{
		Options: &corev1.ExecOptions{Namespace: "default", Name: "web", Command: []string{"size"}, Tty: true},
		Stdin:   pr, Stdout: &out, Resize: resize})
	if err != nil || code != 0 || out.String() != "120x40\n" {
		t.Fatalf("code %d err %v out %q", code, err, out.String())
	}
}

func TestParsePorts(t *testing.T) {
	got, err := podstream.ParsePorts([]string{"8080:80", "9090", ":443"})
	if err != nil {
		t.Fatal(err)
	}
	want := []podstream.PortPair{{Local: 8080, Remote: 80}, {Local: 9090, Remote: 9090}, {Local: 0, Remote: 443}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"x", "80:y", "0", "70000", "-1:80", "80:0"} {
		if _, err := podstream.ParsePorts([]string{bad}); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("ParsePorts(%q) err = %v", bad, err)
		}
	}
}

// TestPortForwardHTTP carries HTTP requests through the forwarder and the fake kubelet to a real HTTP
// server, over several connections.
func TestPortForwardHTTP(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s body=%q", r.Method, r.URL.Path, body)
	}))
	defer backend.Close()
	s := &podstreamtest.Server{Pods: []*corev1.Pod{podstreamtest.Pod("default", "web", nil, "app")},
		Ports: map[int32]string{80: strings.TrimPrefix(backend.URL, "http://")}}
	c := start(t, s)
	var out, errOut syncBuffer
	f, err := podstream.NewForwarder(podstream.ForwarderConfig{Client: c, Namespace: "default", Pod: "web",
		Ports: []podstream.PortPair{{Local: 0, Remote: 80}, {Local: 0, Remote: 81}}, Out: &out, ErrOut: &errOut})
	if err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithCancel(ctx(t))
	done := make(chan error, 1)
	go func() { done <- f.Run(fctx) }()
	addrs := f.Addrs()
	if len(addrs) != 2 {
		t.Fatalf("addrs = %v", addrs)
	}
	// A fresh connection per request (no keep-alive) exercises the close path each time.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	for i := 0; i < 3; i++ {
		resp, err := client.Post("http://"+addrs[0].String()+"/hello", "text/plain", strings.NewReader(fmt.Sprintf("req-%d", i)))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf("POST /hello body=\"req-%d\"", i); string(body) != want {
			t.Fatalf("response %d = %q, want %q", i, body, want)
		}
	}
	// Keep-alive: two requests on one forwarded connection.
	ka := &http.Client{Timeout: 30 * time.Second}
	for i := 0; i < 2; i++ {
		resp, err := ka.Get("http://" + addrs[0].String() + "/ka")
		if err != nil {
			t.Fatalf("keep-alive request %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	ka.CloseIdleConnections()
	// Port 81 has nothing listening in the pod: the connection fails and the error is reported.
	if _, err := client.Get("http://" + addrs[1].String() + "/"); err == nil {
		t.Errorf("request to a closed pod port succeeded")
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(errOut.String(), "nothing listening on port 81") {
		if time.Now().After(deadline) {
			t.Fatalf("no error reported for port 81: %q", errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	for _, want := range []string{
		"Forwarding from " + addrs[0].String() + " -> 80\n",
		"Forwarding from " + addrs[1].String() + " -> 81\n",
		"Handling connection for ",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
