package process

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coxswain/coxswain/pkg/kubelet/runtime"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime/runtimetest"
)

func newRuntime(t *testing.T, cfg Config) *Runtime {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := r.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return r
}

func TestConformanceHostFS(t *testing.T) {
	runtimetest.Run(t, runtimetest.Harness{
		New:       func(t *testing.T) runtime.Runtime { return newRuntime(t, Config{}) },
		Processes: true,
	})
}

func TestConformanceRootFS(t *testing.T) {
	runtimetest.Run(t, runtimetest.Harness{
		New:       func(t *testing.T) runtime.Runtime { return newRuntime(t, Config{}) },
		Processes: true,
		Image: func(t *testing.T, bin string) (string, string) {
			return runtimetest.MakeRootFS(t, bin), "testbin" // found via the default PATH inside RootFS
		},
	})
}

func TestSandboxIPs(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, Config{IPRange: "127.100.7.0/29"})
	var ids []string
	seen := map[string]bool{}
	for i := 0; i < 6; i++ {
		id, err := r.RunPodSandbox(ctx, runtime.PodSandboxConfig{Name: strconv.Itoa(i)})
		if err != nil {
			t.Fatal(err)
		}
		st, _ := r.PodSandboxStatus(ctx, id)
		ip := netip.MustParseAddr(st.IP)
		if !netip.MustParsePrefix("127.100.7.0/29").Contains(ip) || seen[st.IP] || st.IP == "127.100.7.0" || st.IP == "127.100.7.7" {
			t.Fatalf("sandbox %d IP %s: outside range, duplicate or network/broadcast", i, st.IP)
		}
		seen[st.IP] = true
		ids = append(ids, id)
	}
	if _, err := r.RunPodSandbox(ctx, runtime.PodSandboxConfig{Name: "extra"}); err == nil {
		t.Fatal("a seventh sandbox fit in a /29")
	}
	if err := r.StopPodSandbox(ctx, ids[2]); err != nil {
		t.Fatal(err)
	}
	id, err := r.RunPodSandbox(ctx, runtime.PodSandboxConfig{Name: "again"})
	if err != nil {
		t.Fatalf("released address not reusable: %v", err)
	}
	st, _ := r.PodSandboxStatus(ctx, id)
	if !seen[st.IP] {
		t.Fatalf("new sandbox got %s, want the released address", st.IP)
	}
	// The default range is 127.100.0.0/16 and a container can bind its IP.
	d := newRuntime(t, Config{})
	sb, err := d.RunPodSandbox(ctx, runtime.PodSandboxConfig{Name: "d"})
	if err != nil {
		t.Fatal(err)
	}
	dst, _ := d.PodSandboxStatus(ctx, sb)
	if !strings.HasPrefix(dst.IP, "127.100.") {
		t.Fatalf("default range IP %s", dst.IP)
	}
	bin := runtimetest.BuildTestBin(t, "")
	srv := runtime.ContainerConfig{Name: "srv", Command: []string{bin, "serve", dst.IP + ":18080"}}
	cid, _ := d.CreateContainer(ctx, sb, srv)
	if err := d.StartContainer(ctx, cid); err != nil {
		t.Fatal(err)
	}
	fetch := runtime.ContainerConfig{Name: "fetch", Command: []string{bin, "fetch", "http://" + dst.IP + ":18080/", "20s"}, LogPath: filepath.Join(t.TempDir(), "f.log")}
	fid, _ := d.CreateContainer(ctx, sb, fetch)
	if err := d.StartContainer(ctx, fid); err != nil {
		t.Fatal(err)
	}
	if st := runtimetest.WaitState(t, d, fid, runtime.StateExited); st.ExitCode != 0 {
		b, _ := os.ReadFile(fetch.LogPath)
		t.Fatalf("fetch from the sandbox IP failed: %+v\n%s", st, b)
	}
	runtimetest.WaitLog(t, fetch.LogPath, "hello from")
}

func TestBadConfig(t *testing.T) {
	for _, r := range []string{"nonsense", "fd00::/64", "127.0.0.1/32"} {
		if _, err := New(Config{IPRange: r}); err == nil || !strings.Contains(err.Error(), "IPRange") {
			t.Errorf("IPRange %q: error %v should name IPRange", r, err)
		}
	}
}

// A default SIGTERM disposition is reported as 128+15, and StopContainer
// reaches grandchildren through the process group.
func TestSignalsAndProcessGroup(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, Config{})
	bin := runtimetest.BuildTestBin(t, "")
	sb, _ := r.RunPodSandbox(ctx, runtime.PodSandboxConfig{Name: "sig"})
	tests := []struct {
		name  string
		args  []string
		grace time.Duration
		code  int32
	}{
		{"sigterm", []string{"echo", "ready", "--", "sleep", "60s"}, 20 * time.Second, 143},
		{"grandchild", []string{"spawn", "60s", "--", "echo", "ready", "--", "sleep", "60s"}, 20 * time.Second, 143},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := runtime.ContainerConfig{Name: tc.name, Command: append([]string{bin}, tc.args...), LogPath: filepath.Join(t.TempDir(), "log")}
			id, err := r.CreateContainer(ctx, sb, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.StartContainer(ctx, id); err != nil {
				t.Fatal(err)
			}
			out := runtimetest.WaitLog(t, cfg.LogPath, "ready")
			if err := r.StopContainer(ctx, id, tc.grace); err != nil {
				t.Fatal(err)
			}
			st, _ := r.ContainerStatus(ctx, id)
			if st.ExitCode != tc.code || st.Reason != runtime.ReasonError || !strings.Contains(st.Message, "SIGTERM") {
				t.Fatalf("status %+v, want exit %d Error with SIGTERM message", st, tc.code)
			}
			if first := strings.Fields(out)[0]; first != "ready" {
				child, err := strconv.Atoi(first)
				if err != nil {
					t.Fatalf("spawn output %q", out)
				}
				deadline := time.Now().Add(runtimetest.Timeout)
				for syscall.Kill(child, 0) == nil {
					if time.Now().After(deadline) {
						t.Fatalf("grandchild %d survived StopContainer", child)
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
}

// A grandchild left behind when the main process exits is killed too.
func TestGroupDiesWithLeader(t *testing.T) {
	ctx := context.Background()
	r := newRuntime(t, Config{})
	bin := runtimetest.BuildTestBin(t, "")
	sb, _ := r.RunPodSandbox(ctx, runtime.PodSandboxConfig{Name: "orphan"})
	cfg := runtime.ContainerConfig{Name: "c", Command: []string{bin, "spawn", "60s"}, LogPath: filepath.Join(t.TempDir(), "log")}
	id, _ := r.CreateContainer(ctx, sb, cfg)
	if err := r.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	runtimetest.WaitState(t, r, id, runtime.StateExited)
	out := runtimetest.WaitLog(t, cfg.LogPath, "\n")
	child, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("spawn output %q", out)
	}
	deadline := time.Now().Add(runtimetest.Timeout)
	for syscall.Kill(child, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d outlived its container", child)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunShutsDown(t *testing.T) {
	r, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	bin := runtimetest.BuildTestBin(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	sb, _ := r.RunPodSandbox(ctx, runtime.PodSandboxConfig{Name: "run"})
	id, _ := r.CreateContainer(ctx, sb, runtime.ContainerConfig{Name: "c", Command: []string{bin, "ignoreterm", "--", "sleep", "60s"}})
	if err := r.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	st, _ := r.ContainerStatus(ctx, id)
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(runtimetest.Timeout):
		t.Fatal("Run did not return after cancel")
	}
	if l, _ := r.ListPodSandboxes(context.Background()); len(l) != 0 {
		t.Fatalf("sandboxes after Run: %+v", l)
	}
	if syscall.Kill(st.PID, 0) == nil {
		t.Fatalf("container process %d alive after Run returned", st.PID)
	}
}
