package testutil

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/coxswain/coxswain/pkg/apiserver"
	"github.com/coxswain/coxswain/pkg/client"
)

// APIServer is an apiserver running inside the test process.
type APIServer struct {
	t       testing.TB
	Config  apiserver.Config
	Server  *apiserver.Server
	Client  *client.Client
	Addr    string
	cancel  context.CancelFunc
	done    chan error
	stopped bool
}

// Logger returns a logger that prints when COXSWAIN_TEST_LOG is set and discards otherwise.
func Logger() *slog.Logger {
	if os.Getenv("COXSWAIN_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// StartAPIServer starts an apiserver with an embedded etcd in t.TempDir(); mutate may adjust the config.
// It is stopped when the test ends.
func StartAPIServer(t testing.TB, mutate ...func(*apiserver.Config)) *APIServer {
	t.Helper()
	cfg := apiserver.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir(), Logger: Logger()}
	for _, m := range mutate {
		m(&cfg)
	}
	a := &APIServer{t: t, Config: cfg}
	a.start()
	t.Cleanup(func() { a.Stop() })
	return a
}

func (a *APIServer) start() {
	a.t.Helper()
	s, err := apiserver.New(a.Config)
	if err != nil {
		a.t.Fatalf("apiserver.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.Server, a.cancel, a.done, a.stopped = s, cancel, make(chan error, 1), false
	go func() { a.done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-a.done:
		a.t.Fatalf("apiserver exited before ready: %v", err)
	case <-time.After(60 * time.Second):
		a.t.Fatalf("apiserver not ready after 60s")
	}
	a.Addr = s.Addr()
	// Keep the same address across restarts so clients reconnect to it.
	a.Config.GRPCAddr = a.Addr
	if a.Client == nil {
		c, err := client.New(client.Config{Server: a.Addr, UserAgent: a.t.Name(), WaitForReady: true})
		if err != nil {
			a.t.Fatalf("client: %v", err)
		}
		a.Client = c
		a.t.Cleanup(func() { c.Close() })
	}
}

// Stop stops the apiserver (and its embedded etcd), keeping the data directory.
func (a *APIServer) Stop() {
	if a.stopped {
		return
	}
	a.stopped = true
	a.cancel()
	select {
	case <-a.done:
	case <-time.After(30 * time.Second):
		a.t.Errorf("apiserver did not stop within 30s")
	}
}

// Restart stops and starts the apiserver on the same data directory and address.
func (a *APIServer) Restart() {
	a.t.Helper()
	a.Stop()
	a.start()
}

// Context returns a context that ends with the test (or after 2 minutes).
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// Eventually polls cond every 20ms until it holds or timeout passes, then fails with msg.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v: "+msg, append([]any{timeout}, args...)...)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
