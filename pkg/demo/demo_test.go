package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type running struct {
	srv   *Server
	base  string
	logs  *syncBuffer
	exits chan int
	stop  context.CancelFunc
	done  chan error
}

func start(t *testing.T, cfg Config) *running {
	t.Helper()
	logs := &syncBuffer{}
	exits := make(chan int, 4)
	if cfg.Bind == "" {
		cfg.Bind = "127.0.0.1"
	}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.Exit = func(code int) { exits <- code }
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("Run ended before listening: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("server not listening after 10s")
	}
	r := &running{srv: srv, base: "http://" + srv.TCPAddr().String(), logs: logs, exits: exits, stop: cancel, done: done}
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("server did not stop within 15s")
		}
	})
	return r
}

func do(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp.StatusCode, string(b)
}

func TestEndpoints(t *testing.T) {
	r := start(t, Config{Version: "v7", PodName: "web-1", PodIP: "10.1.2.3", NodeName: "node-a", UDP: true})
	host, _ := os.Hostname()
	tests := []struct {
		name, method, path string
		status             int
		body               string
	}{
		{"root", "GET", "/", 200, "v7 web-1 10.1.2.3 node-a\n"},
		{"json", "GET", "/json", 200, `{"version":"v7","podName":"web-1","podIP":"10.1.2.3","nodeName":"node-a"}` + "\n"},
		{"healthz", "GET", "/healthz", 200, "ok\n"},
		{"readyz", "GET", "/readyz", 200, "ok\n"},
		{"hostname", "GET", "/hostname", 200, host + "\n"},
		{"echo", "GET", "/echo?msg=hello%20world", 200, "hello world"},
		{"echo empty", "GET", "/echo", 200, ""},
		{"unknown path", "GET", "/nope", 404, "404 page not found\n"},
		{"fail needs POST", "GET", "/fail/live", 405, "Method Not Allowed\n"},
		{"exit bad code", "POST", "/exit?code=x", 400, "exit: code \"x\" must be an integer 0-255\n"},
		{"exit code too big", "POST", "/exit?code=256", 400, "exit: code \"256\" must be an integer 0-255\n"},
		{"alloc bad", "POST", "/alloc?mb=0", 400, "alloc: mb \"0\" must be an integer 1-65536\n"},
		{"alloc too much", "POST", "/alloc?mb=65537", 400, "alloc: mb \"65537\" must be an integer 1-65536\n"},
		{"alloc wrong method", "DELETE", "/alloc?mb=1", 405, "alloc: use GET or POST\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(t, tc.method, r.base+tc.path)
			if status != tc.status || body != tc.body {
				t.Errorf("%s %s = %d %q, want %d %q", tc.method, tc.path, status, body, tc.status, tc.body)
			}
		})
	}
	select {
	case code := <-r.exits:
		t.Errorf("invalid /exit requests called Exit(%d)", code)
	default:
	}
}

func TestPodIPFallsBackToLocalAddress(t *testing.T) {
	r := start(t, Config{Version: "v1", PodName: "p"})
	_, body := do(t, "GET", r.base+"/")
	if want := "v1 p 127.0.0.1 -\n"; body != want {
		t.Errorf("GET / = %q, want %q", body, want)
	}
	var info Info
	_, js := do(t, "GET", r.base+"/json")
	if err := json.Unmarshal([]byte(js), &info); err != nil {
		t.Fatalf("GET /json: %v in %q", err, js)
	}
	if info.PodIP != "127.0.0.1" || info.NodeName != "" {
		t.Errorf("GET /json = %+v, want podIP 127.0.0.1 and no node", info)
	}
}

func TestProbeToggles(t *testing.T) {
	r := start(t, Config{})
	steps := []struct {
		post          string
		live, ready   int
		wantLogSubstr string
	}{
		{"", 200, 200, ""},
		{"/fail/ready", 200, 503, "readiness failing"},
		{"/fail/live", 503, 503, "liveness failing"},
		{"/recover", 200, 200, "probes recovered"},
		{"/fail/live", 503, 200, "liveness failing"},
		{"/recover", 200, 200, "probes recovered"},
	}
	for i, st := range steps {
		if st.post != "" {
			if status, _ := do(t, "POST", r.base+st.post); status != 200 {
				t.Fatalf("step %d: POST %s = %d", i, st.post, status)
			}
		}
		if got, _ := do(t, "GET", r.base+"/healthz"); got != st.live {
			t.Errorf("step %d (%s): /healthz = %d, want %d", i, st.post, got, st.live)
		}
		if got, _ := do(t, "GET", r.base+"/readyz"); got != st.ready {
			t.Errorf("step %d (%s): /readyz = %d, want %d", i, st.post, got, st.ready)
		}
		if st.wantLogSubstr != "" && !strings.Contains(r.logs.String(), st.wantLogSubstr) {
			t.Errorf("step %d: log lacks %q", i, st.wantLogSubstr)
		}
	}
}

func TestExitCallsExitAfterAnswering(t *testing.T) {
	r := start(t, Config{})
	for _, code := range []int{0, 3, 255} {
		status, body := do(t, "GET", r.base+"/exit?code="+strconv.Itoa(code))
		if status != 200 || body != "exiting with code "+strconv.Itoa(code)+"\n" {
			t.Errorf("/exit?code=%d = %d %q", code, status, body)
		}
		select {
		case got := <-r.exits:
			if got != code {
				t.Errorf("Exit(%d), want Exit(%d)", got, code)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("/exit?code=%d did not call Exit", code)
		}
	}
}

func TestAllocAccumulates(t *testing.T) {
	r := start(t, Config{})
	for _, tc := range []struct {
		mb   string
		want string
	}{
		{"3", "allocated 3 MiB, total 3 MiB\n"},
		{"5", "allocated 5 MiB, total 8 MiB\n"},
	} {
		status, body := do(t, "POST", r.base+"/alloc?mb="+tc.mb)
		if status != 200 || body != tc.want {
			t.Errorf("/alloc?mb=%s = %d %q, want 200 %q", tc.mb, status, body, tc.want)
		}
	}
	r.srv.allocMu.Lock()
	defer r.srv.allocMu.Unlock()
	if len(r.srv.hog) != 8 {
		t.Fatalf("hog holds %d chunks, want 8", len(r.srv.hog))
	}
	for i, c := range r.srv.hog {
		if len(c) != 1<<20 || c[0] != 1 || c[len(c)-4096] != 1 {
			t.Fatalf("chunk %d not 1 MiB and touched", i)
		}
	}
}

func TestUDPEcho(t *testing.T) {
	r := start(t, Config{PodName: "udp-pod", UDP: true})
	tcpPort := r.srv.TCPAddr().(*net.TCPAddr).Port
	udpPort := r.srv.UDPAddr().(*net.UDPAddr).Port
	if tcpPort != udpPort {
		t.Fatalf("UDP port %d differs from TCP port %d", udpPort, tcpPort)
	}
	conn, err := net.Dial("udp", r.srv.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 1500)
	for _, msg := range []string{"hostname", "anything", ""} {
		got := ""
		// UDP may drop; retry a few times with a generous deadline.
		for attempt := 0; attempt < 5 && got == ""; attempt++ {
			if _, err := conn.Write([]byte(msg)); err != nil {
				t.Fatal(err)
			}
			_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			n, err := conn.Read(buf)
			if err == nil {
				got = string(buf[:n])
			}
		}
		if got != "udp-pod" {
			t.Errorf("UDP answer to %q = %q, want %q", msg, got, "udp-pod")
		}
	}
}

func TestUDPOff(t *testing.T) {
	r := start(t, Config{UDP: false})
	if r.srv.UDPAddr() != nil {
		t.Errorf("UDPAddr = %v with UDP off, want nil", r.srv.UDPAddr())
	}
	port := r.srv.TCPAddr().(*net.TCPAddr).Port
	// Nothing listens on the UDP twin port, so binding it must succeed.
	pc, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("UDP port %d is taken although UDP is off: %v", port, err)
	}
	pc.Close()
}

func TestGracefulShutdown(t *testing.T) {
	r := start(t, Config{UDP: true})
	addr := r.srv.TCPAddr().String()
	r.stop()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("Run = %v, want nil after cancel", err)
		}
		r.done <- nil // for the cleanup
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return within 15s of cancel")
	}
	if !strings.Contains(r.logs.String(), "msg=\"shutting down\"") {
		t.Errorf("log lacks \"shutting down\":\n%s", r.logs.String())
	}
	if c, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after shutdown", addr)
	}
}

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"port negative", Config{Port: -1}, "port: -1 is out of range"},
		{"port too big", Config{Port: 70000}, "port: 70000 is out of range"},
		{"bind not ip", Config{Bind: "example"}, "bind: \"example\" is not an IP address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New(%+v) = %v, want error containing %q", tc.cfg, err, tc.want)
			}
		})
	}
}

func TestRunFailsWhenPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srv, err := New(Config{Bind: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	err = srv.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "listen tcp port") {
		t.Errorf("Run on a taken port = %v, want listen error", err)
	}
}

func TestParseFlags(t *testing.T) {
	host, _ := os.Hostname()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{"defaults", nil, nil, Config{Port: 8080, UDP: true, Version: "v1", PodName: host}, ""},
		{"env", nil, map[string]string{"PORT": "9000", "POD_IP": "10.0.0.5", "POD_NAME": "p", "NODE_NAME": "n", "VERSION": "v2"},
			Config{Port: 9000, Bind: "10.0.0.5", UDP: true, Version: "v2", PodName: "p", PodIP: "10.0.0.5", NodeName: "n"}, ""},
		{"flags win over env", []string{"--port", "81", "--bind", "127.0.0.1", "--udp=false"}, map[string]string{"PORT": "9000", "POD_IP": "10.0.0.5", "POD_NAME": "p"},
			Config{Port: 81, Bind: "127.0.0.1", UDP: false, Version: "v1", PodName: "p", PodIP: "10.0.0.5"}, ""},
		{"bad PORT", nil, map[string]string{"PORT": "http"}, Config{}, "env PORT: invalid port \"http\""},
		{"bad flag", []string{"--nope"}, nil, Config{}, "flags: flag provided but not defined: -nope"},
		{"stray arg", []string{"serve"}, nil, Config{}, "flags: unexpected argument \"serve\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseFlags(tc.args, func(k string) string { return tc.env[k] }, "v1")
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Port != tc.want.Port || got.Bind != tc.want.Bind || got.UDP != tc.want.UDP || got.Version != tc.want.Version ||
				got.PodName != tc.want.PodName || got.PodIP != tc.want.PodIP || got.NodeName != tc.want.NodeName {
				t.Errorf("ParseFlags = %+v, want %+v", got, tc.want)
			}
		})
	}
}
