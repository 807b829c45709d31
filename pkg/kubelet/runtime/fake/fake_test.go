package fake

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/coxswain/coxswain/pkg/kubelet/runtime"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime/runtimetest"
)

func newFake(t testing.TB, cfg Config) *Runtime {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestConformance(t *testing.T) {
	runtimetest.Run(t, runtimetest.Harness{
		New: func(t *testing.T) runtime.Runtime { return newFake(t, Config{}) },
	})
}

func TestBehavior(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		b          Behavior
		startErr   string
		wantState  runtime.ContainerState
		wantCode   int32
		wantReason string
	}{
		{"runs until stopped", Behavior{}, "", runtime.StateRunning, 0, ""},
		{"completes", Behavior{RunFor: 50 * time.Millisecond}, "", runtime.StateExited, 0, runtime.ReasonCompleted},
		{"fails", Behavior{RunFor: 50 * time.Millisecond, ExitCode: 2}, "", runtime.StateExited, 2, runtime.ReasonError},
		{"oom", Behavior{RunFor: 50 * time.Millisecond, OOM: true}, "", runtime.StateExited, 137, runtime.ReasonOOMKilled},
		{"start error", Behavior{StartError: "exec format error"}, "exec format error", runtime.StateExited, 128, runtime.ReasonStartError},
		{"start delay", Behavior{StartDelay: 100 * time.Millisecond}, "", runtime.StateRunning, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newFake(t, Config{Behavior: func(sb string, cfg *runtime.ContainerConfig) Behavior {
				if cfg.Name == "scripted" {
					return tc.b
				}
				return Behavior{}
			}})
			sb, err := r.RunPodSandbox(ctx, runtime.PodSandboxConfig{Name: "p"})
			if err != nil {
				t.Fatal(err)
			}
			id, err := r.CreateContainer(ctx, sb, runtime.ContainerConfig{Name: "scripted", Command: []string{"x"}})
			if err != nil {
				t.Fatal(err)
			}
			begin := time.Now()
			err = r.StartContainer(ctx, id)
			if tc.startErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.startErr) {
					t.Fatalf("start error %v, want %q", err, tc.startErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if d := time.Since(begin); d < tc.b.StartDelay {
				t.Fatalf("start took %s, want ≥ %s", d, tc.b.StartDelay)
			}
			time.Sleep(tc.b.RunFor + 50*time.Millisecond)
			st, err := r.ContainerStatus(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if st.State != tc.wantState || st.ExitCode != tc.wantCode || st.Reason != tc.wantReason {
				t.Fatalf("status %+v, want %s %d %q", st, tc.wantState, tc.wantCode, tc.wantReason)
			}
			if tc.b.RunFor > 0 && st.FinishedAt.Sub(st.StartedAt) != tc.b.RunFor {
				t.Fatalf("ran %s, want %s", st.FinishedAt.Sub(st.StartedAt), tc.b.RunFor)
			}
		})
	}
}

func TestStartDelayHonoursContext(t *testing.T) {
	r := newFake(t, Config{Behavior: func(string, *runtime.ContainerConfig) Behavior { return Behavior{StartDelay: time.Hour} }})
	sb, _ := r.RunPodSandbox(context.Background(), runtime.PodSandboxConfig{})
	id, _ := r.CreateContainer(context.Background(), sb, runtime.ContainerConfig{Command: []string{"x"}})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := r.StartContainer(ctx, id); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want deadline exceeded", err)
	}
}

func TestExitContainerAndExecHook(t *testing.T) {
	ctx := context.Background()
	var gotCmd []string
	r := newFake(t, Config{Exec: func(ctx context.Context, id string, cmd []string, s runtime.ExecStreams) (int, error) {
		gotCmd = cmd
		return 3, nil
	}})
	sb, _ := r.RunPodSandbox(ctx, runtime.PodSandboxConfig{})
	id, _ := r.CreateContainer(ctx, sb, runtime.ContainerConfig{Command: []string{"x"}})
	if err := r.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if code, err := r.Exec(ctx, id, []string{"probe"}, runtime.ExecStreams{}); code != 3 || err != nil || gotCmd[0] != "probe" {
		t.Fatalf("exec = %d, %v, cmd %v", code, err, gotCmd)
	}
	if err := r.ExitContainer(id, 1, ""); err != nil {
		t.Fatal(err)
	}
	st, _ := r.ContainerStatus(ctx, id)
	if st.State != runtime.StateExited || st.ExitCode != 1 || st.Reason != runtime.ReasonError {
		t.Fatalf("status %+v", st)
	}
	if err := r.ExitContainer(id, 1, ""); err == nil {
		t.Fatal("ExitContainer of exited container succeeded")
	}
}

func TestIPsComeFromPodCIDR(t *testing.T) {
	r := newFake(t, Config{PodCIDR: "10.1.2.0/29"})
	ctx := context.Background()
	for i := 0; i < 6; i++ {
		sb, err := r.RunPodSandbox(ctx, runtime.PodSandboxConfig{})
		if err != nil {
			t.Fatal(err)
		}
		st, _ := r.PodSandboxStatus(ctx, sb)
		if !strings.HasPrefix(st.IP, "10.1.2.") {
			t.Fatalf("IP %s outside 10.1.2.0/29", st.IP)
		}
	}
	if _, err := r.RunPodSandbox(ctx, runtime.PodSandboxConfig{}); err == nil {
		t.Fatal("seventh sandbox in a /29 got an IP")
	}
	if _, err := New(Config{PodCIDR: "bogus"}); err == nil || !strings.Contains(err.Error(), "PodCIDR") {
		t.Fatalf("bad PodCIDR error %v", err)
	}
}

// BenchmarkMemoryPerPod measures the heap held per sandbox with one running
// container (hollow nodes run 30 such pods each).
func BenchmarkMemoryPerPod(b *testing.B) {
	ctx := context.Background()
	const pods = 30_000 // e.g. 1,000 hollow nodes × 30 pods, in one runtime
	for i := 0; i < b.N; i++ {
		goruntime.GC()
		var before, after goruntime.MemStats
		goruntime.ReadMemStats(&before)
		r, err := New(Config{PodCIDR: "10.0.0.0/16"})
		if err != nil {
			b.Fatal(err)
		}
		for p := 0; p < pods; p++ {
			sb, err := r.RunPodSandbox(ctx, runtime.PodSandboxConfig{UID: "uid", Name: "pod", Namespace: "default"})
			if err != nil {
				b.Fatal(err)
			}
			id, err := r.CreateContainer(ctx, sb, runtime.ContainerConfig{Name: "app", Image: "img", Command: []string{"run"}})
			if err != nil {
				b.Fatal(err)
			}
			if err := r.StartContainer(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
		goruntime.GC()
		goruntime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/pods, "bytes/pod")
		goruntime.KeepAlive(r)
	}
}

// BenchmarkPodLifecycle measures one full sandbox+container life cycle.
func BenchmarkPodLifecycle(b *testing.B) {
	ctx := context.Background()
	r, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		sb, err := r.RunPodSandbox(ctx, runtime.PodSandboxConfig{Name: fmt.Sprint(i)})
		if err != nil {
			b.Fatal(err)
		}
		id, _ := r.CreateContainer(ctx, sb, runtime.ContainerConfig{Command: []string{"x"}})
		_ = r.StartContainer(ctx, id)
		_ = r.StopContainer(ctx, id, 0)
		_ = r.RemovePodSandbox(ctx, sb)
	}
}
