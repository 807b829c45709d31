package coxctl

import (
	"bytes"
	"context"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coxswain/coxswain/pkg/testutil"
)

// env is a real apiserver and a way to run coxctl against it in-process.
type env struct {
	t      *testing.T
	api    *testutil.APIServer
	server string
	config string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	a := testutil.StartAPIServer(t)
	return &env{t: t, api: a, server: a.Addr, config: filepath.Join(t.TempDir(), "config")}
}

// result is what one coxctl run printed and returned.
type result struct {
	out, err string
	code     int
}

// run runs coxctl with args (after --server and --config) and stdin.
func (e *env) run(stdin string, args ...string) result {
	e.t.Helper()
	return e.runCtx(testutil.Context(e.t), stdin, args...)
}

func (e *env) runCtx(ctx context.Context, stdin string, args ...string) result {
	e.t.Helper()
	var out, errOut bytes.Buffer
	full := append([]string{"--server", e.server, "--config", e.config}, args...)
	code := Run(ctx, IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut}, full)
	return result{out.String(), errOut.String(), code}
}

// ok runs coxctl and fails the test unless it succeeds; it returns stdout.
func (e *env) ok(args ...string) string {
	e.t.Helper()
	r := e.run("", args...)
	if r.code != 0 {
		e.t.Fatalf("coxctl %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.out, r.err)
	}
	return r.out
}

// fail runs coxctl, requires exit status code and returns stderr.
func (e *env) fail(code int, args ...string) string {
	e.t.Helper()
	r := e.run("", args...)
	if r.code != code {
		e.t.Fatalf("coxctl %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, code, r.out, r.err)
	}
	return r.err
}

func wantEqual(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\n--- got\n%s\n--- want\n%s", what, got, want)
	}
}

func wantContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

// lockedBuffer is written by a running command and read by the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// background runs a long-lived coxctl command (get -w, port-forward...) until stop is called.
type background struct {
	out, err *lockedBuffer
	cancel   context.CancelFunc
	done     chan struct{} // closed when the command returned, with code set
	code     int
}

func (e *env) start(stdin io.Reader, args ...string) *background {
	ctx, cancel := context.WithCancel(testutil.Context(e.t))
	b := &background{out: &lockedBuffer{}, err: &lockedBuffer{}, cancel: cancel, done: make(chan struct{})}
	full := append([]string{"--server", e.server, "--config", e.config}, args...)
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	go func() {
		b.code = Run(ctx, IOStreams{In: stdin, Out: b.out, ErrOut: b.err}, full)
		close(b.done)
	}()
	e.t.Cleanup(func() { b.stop() })
	return b
}

// waitOut waits until the command printed s.
func (b *background) waitOut(t *testing.T, s string) {
	t.Helper()
	testutil.Eventually(t, 30*time.Second, func() bool { return strings.Contains(b.out.String(), s) },
		"output never contained %q:\n%s\nstderr:\n%s", s, b.out.String(), b.err.String())
}

// wait waits for the command to return by itself; false when it is still running after d.
func (b *background) wait(d time.Duration) (int, bool) {
	select {
	case <-b.done:
		return b.code, true
	case <-time.After(d):
		return 0, false
	}
}

// stop cancels the command and returns its exit status (-1 if it does not return).
func (b *background) stop() int {
	b.cancel()
	if code, ok := b.wait(30 * time.Second); ok {
		return code
	}
	return -1
}

// squeeze collapses runs of spaces, for comparisons that do not depend on column widths.
func squeeze(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' }), " ")
}

// wantContainsSqueezed is wantContains ignoring the width of the space runs.
func wantContainsSqueezed(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(squeeze(got), squeeze(w)) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

// freeAddr returns a local address nothing listens on.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
