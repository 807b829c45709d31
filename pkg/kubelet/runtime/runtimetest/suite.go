package runtimetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coxswain/coxswain/pkg/kubelet/runtime"
)

// Harness describes the implementation under test.
type Harness struct {
	// New returns a fresh runtime for one test; it registers its own cleanup
	// with t.Cleanup.
	New func(t *testing.T) runtime.Runtime
	// Processes is set when containers are real processes: exit codes, logs,
	// environment, working directory, exec, signals and start errors are
	// checked, and ContainerStatus.PID must name a live host process.
	Processes bool
	// Image turns the testbin binary at host path bin into the RootFS and
	// argv[0] of a container. nil means RootFS "" and argv[0] = bin.
	Image func(t *testing.T, bin string) (rootfs, argv0 string)
}

// Timeout bounds every wait of the suite (generous: the machine is noisy).
const Timeout = 30 * time.Second

type suite struct {
	h             Harness
	rootfs, argv0 string
}

// Run runs the conformance suite against h as subtests of t.
func Run(t *testing.T, h Harness) {
	s := &suite{h: h}
	if h.Processes {
		bin := BuildTestBin(t, "")
		s.rootfs, s.argv0 = s.image(t, bin)
	} else {
		s.argv0 = "/bin/testbin"
	}
	tests := []struct {
		name      string
		processes bool
		fn        func(*testing.T, runtime.Runtime)
	}{
		{"SandboxLifecycle", false, s.testSandboxLifecycle},
		{"ContainerLifecycle", false, s.testContainerLifecycle},
		{"UnknownIDs", false, s.testUnknownIDs},
		{"StartTwiceFails", false, s.testStartTwice},
		{"StopPodSandboxKillsContainers", false, s.testStopSandbox},
		{"RemoveRunningContainer", false, s.testRemoveRunning},
		{"ListContainersFilters", false, s.testListFilters},
		{"ConcurrentPods", false, s.testConcurrent},
		{"ExitCodes", true, s.testExitCodes},
		{"StopEscalatesToKill", true, s.testStopEscalates},
		{"LogsEnvWorkingDir", true, s.testLogsEnv},
		{"StartErrorNotFound", true, s.testStartErrorNotFound},
		{"StartErrorExecFormat", true, s.testExecFormat},
		{"Stdin", true, s.testStdin},
		{"TTY", true, s.testTTY},
		{"Exec", true, s.testExec},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.processes && !h.Processes {
				t.Skipf("%s needs real processes; this runtime has none", tc.name)
			}
			tc.fn(t, h.New(t))
		})
	}
}

func (s *suite) image(t *testing.T, bin string) (string, string) {
	if s.h.Image == nil {
		return "", bin
	}
	return s.h.Image(t, bin)
}

func (s *suite) container(t *testing.T, name string, args ...string) runtime.ContainerConfig {
	return runtime.ContainerConfig{
		Name:    name,
		Image:   "testbin:latest",
		RootFS:  s.rootfs,
		Command: append([]string{s.argv0}, args...),
		LogPath: filepath.Join(t.TempDir(), name+".log"),
	}
}

func sandbox(t *testing.T, rt runtime.Runtime, name string) string {
	t.Helper()
	id, err := rt.RunPodSandbox(context.Background(), runtime.PodSandboxConfig{
		UID: "uid-" + name, Name: name, Namespace: "default", Hostname: name,
		DNS: &runtime.DNSConfig{Servers: []string{"10.96.0.10"}, Searches: []string{"default.svc.cluster.local"}, Options: []string{"ndots:5"}},
	})
	mustf(t, err, "RunPodSandbox %s", name)
	return id
}

func start(t *testing.T, rt runtime.Runtime, sb string, cfg runtime.ContainerConfig) string {
	t.Helper()
	ctx := context.Background()
	id, err := rt.CreateContainer(ctx, sb, cfg)
	mustf(t, err, "CreateContainer %s", cfg.Name)
	mustf(t, rt.StartContainer(ctx, id), "StartContainer %s", cfg.Name)
	return id
}

// WaitState polls until the container reaches want or Timeout passes.
func WaitState(t testing.TB, rt runtime.Runtime, id string, want runtime.ContainerState) runtime.ContainerStatus {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		st, err := rt.ContainerStatus(context.Background(), id)
		mustf(t, err, "ContainerStatus %s", id)
		if st.State == want {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s: state %s after %s, want %s (status %+v)", id, st.State, Timeout, want, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitLog polls until the file at path contains substr or Timeout passes,
// and returns its content.
func WaitLog(t testing.TB, path, substr string) string {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), substr) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("log %s: no %q after %s; content:\n%s", path, substr, Timeout, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *suite) processAlive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

func (s *suite) testSandboxLifecycle(t *testing.T, rt runtime.Runtime) {
	ctx := context.Background()
	if rt.Name() == "" {
		t.Error("Name() is empty")
	}
	ids := []string{sandbox(t, rt, "a"), sandbox(t, rt, "b"), sandbox(t, rt, "c")}
	ips := map[string]bool{}
	for i, id := range ids {
		st, err := rt.PodSandboxStatus(ctx, id)
		mustf(t, err, "PodSandboxStatus")
		name := string(rune('a' + i))
		if st.ID != id || st.UID != "uid-"+name || st.Name != name || st.Namespace != "default" {
			t.Errorf("sandbox %s status identity %+v", id, st)
		}
		if !st.Ready || st.CreatedAt.IsZero() || time.Since(st.CreatedAt) > time.Hour {
			t.Errorf("sandbox %s not ready or bad CreatedAt: %+v", id, st)
		}
		ip, err := netip.ParseAddr(st.IP)
		if err != nil {
			t.Errorf("sandbox %s IP %q: %v", id, st.IP, err)
		}
		if ips[ip.String()] {
			t.Errorf("duplicate sandbox IP %s", ip)
		}
		ips[ip.String()] = true
	}
	list, err := rt.ListPodSandboxes(ctx)
	mustf(t, err, "ListPodSandboxes")
	if len(list) != 3 {
		t.Fatalf("ListPodSandboxes: %d sandboxes, want 3: %+v", len(list), list)
	}
	mustf(t, rt.StopPodSandbox(ctx, ids[0]), "StopPodSandbox")
	mustf(t, rt.StopPodSandbox(ctx, ids[0]), "StopPodSandbox again")
	st, err := rt.PodSandboxStatus(ctx, ids[0])
	mustf(t, err, "PodSandboxStatus after stop")
	if st.Ready || st.IP != "" {
		t.Errorf("stopped sandbox still ready or has IP: %+v", st)
	}
	mustf(t, rt.RemovePodSandbox(ctx, ids[0]), "RemovePodSandbox")
	mustf(t, rt.RemovePodSandbox(ctx, ids[0]), "RemovePodSandbox again")
	if _, err := rt.PodSandboxStatus(ctx, ids[0]); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("status of removed sandbox: want ErrNotFound, got %v", err)
	}
	// Removing a ready sandbox directly works too.
	mustf(t, rt.RemovePodSandbox(ctx, ids[1]), "RemovePodSandbox of ready sandbox")
	list, err = rt.ListPodSandboxes(ctx)
	mustf(t, err, "ListPodSandboxes")
	if len(list) != 1 || list[0].ID != ids[2] {
		t.Fatalf("ListPodSandboxes after removals: %+v", list)
	}
}

func (s *suite) testContainerLifecycle(t *testing.T, rt runtime.Runtime) {
	ctx := context.Background()
	sb := sandbox(t, rt, "life")
	cfg := s.container(t, "main", "trapterm", "--", "echo", "ready", "--", "sleep", "60s")
	id, err := rt.CreateContainer(ctx, sb, cfg)
	mustf(t, err, "CreateContainer")
	st, err := rt.ContainerStatus(ctx, id)
	mustf(t, err, "ContainerStatus")
	if st.State != runtime.StateCreated || st.ID != id || st.SandboxID != sb || st.Name != "main" || st.CreatedAt.IsZero() || !st.StartedAt.IsZero() {
		t.Fatalf("created status %+v", st)
	}
	mustf(t, rt.StartContainer(ctx, id), "StartContainer")
	st, err = rt.ContainerStatus(ctx, id)
	mustf(t, err, "ContainerStatus")
	if st.State != runtime.StateRunning || st.StartedAt.IsZero() || st.StartedAt.Before(st.CreatedAt) {
		t.Fatalf("running status %+v", st)
	}
	if s.h.Processes {
		if st.PID <= 0 || !s.processAlive(st.PID) {
			t.Fatalf("running container PID %d is not a live process", st.PID)
		}
		WaitLog(t, cfg.LogPath, "ready")
	}
	begin := time.Now()
	mustf(t, rt.StopContainer(ctx, id, 20*time.Second), "StopContainer")
	if d := time.Since(begin); d > 15*time.Second {
		t.Errorf("StopContainer of a SIGTERM-handling container took %s", d)
	}
	st, err = rt.ContainerStatus(ctx, id)
	mustf(t, err, "ContainerStatus")
	if st.State != runtime.StateExited || st.FinishedAt.Before(st.StartedAt) || st.PID != 0 {
		t.Fatalf("stopped status %+v", st)
	}
	if s.h.Processes {
		if st.ExitCode != 0 || st.Reason != runtime.ReasonCompleted {
			t.Errorf("graceful stop: exit %d reason %q, want 0 %q", st.ExitCode, st.Reason, runtime.ReasonCompleted)
		}
		WaitLog(t, cfg.LogPath, "got SIGTERM")
	}
	mustf(t, rt.StopContainer(ctx, id, time.Second), "StopContainer of exited container")
	mustf(t, rt.RemoveContainer(ctx, id), "RemoveContainer")
	if _, err := rt.ContainerStatus(ctx, id); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("status of removed container: want ErrNotFound, got %v", err)
	}
	// A created container that is stopped becomes Exited without running.
	id2, err := rt.CreateContainer(ctx, sb, s.container(t, "never", "sleep", "60s"))
	mustf(t, err, "CreateContainer")
	mustf(t, rt.StopContainer(ctx, id2, time.Second), "StopContainer of created container")
	if st := WaitState(t, rt, id2, runtime.StateExited); !st.StartedAt.IsZero() {
		t.Errorf("never-started container has StartedAt %v", st.StartedAt)
	}
	if err := rt.StartContainer(ctx, id2); err == nil {
		t.Error("StartContainer of an exited container succeeded")
	}
}

func (s *suite) testUnknownIDs(t *testing.T, rt runtime.Runtime) {
	ctx := context.Background()
	notFound := []struct {
		op  string
		err error
	}{}
	add := func(op string, err error) {
		notFound = append(notFound, struct {
			op  string
			err error
		}{op, err})
	}
	_, err := rt.PodSandboxStatus(ctx, "nope")
	add("PodSandboxStatus", err)
	_, err = rt.CreateContainer(ctx, "nope", s.container(t, "x", "sleep", "1s"))
	add("CreateContainer", err)
	add("StartContainer", rt.StartContainer(ctx, "nope"))
	add("StopContainer", rt.StopContainer(ctx, "nope", time.Second))
	_, err = rt.ContainerStatus(ctx, "nope")
	add("ContainerStatus", err)
	_, err = rt.Exec(ctx, "nope", []string{"true"}, runtime.ExecStreams{})
	add("Exec", err)
	for _, nf := range notFound {
		if !errors.Is(nf.err, runtime.ErrNotFound) {
			t.Errorf("%s(unknown): want ErrNotFound, got %v", nf.op, nf.err)
		}
	}
	for op, err := range map[string]error{
		"StopPodSandbox":   rt.StopPodSandbox(ctx, "nope"),
		"RemovePodSandbox": rt.RemovePodSandbox(ctx, "nope"),
		"RemoveContainer":  rt.RemoveContainer(ctx, "nope"),
	} {
		if err != nil {
			t.Errorf("%s(unknown) must be idempotent, got %v", op, err)
		}
	}
	cs, err := rt.ListContainers(ctx, "nope")
	if err != nil || len(cs) != 0 {
		t.Errorf("ListContainers(unknown) = %v, %v; want empty", cs, err)
	}
	sb := sandbox(t, rt, "empty")
	if _, err := rt.CreateContainer(ctx, sb, runtime.ContainerConfig{Name: "nocmd", RootFS: s.rootfs}); err == nil {
		t.Error("CreateContainer without command succeeded")
	}
}

func (s *suite) testStartTwice(t *testing.T, rt runtime.Runtime) {
	ctx := context.Background()
	sb := sandbox(t, rt, "twice")
	id := start(t, rt, sb, s.container(t, "c", "sleep", "60s"))
	if err := rt.StartContainer(ctx, id); err == nil {
		t.Error("second StartContainer succeeded")
	}
	mustf(t, rt.StopContainer(ctx, id, 0), "StopContainer")
	if err := rt.StartContainer(ctx, id); err == nil {
		t.Error("StartContainer after stop succeeded")
	}
}

func (s *suite) testStopSandbox(t *testing.T, rt runtime.Runtime) {
	ctx := context.Background()
	sb := sandbox(t, rt, "stopme")
	a := start(t, rt, sb, s.container(t, "a", "sleep", "60s"))
	b := start(t, rt, sb, s.container(t, "b", "ignoreterm", "--", "sleep", "60s"))
	var pids []int
	for _, id := range []string{a, b} {
		st, err := rt.ContainerStatus(ctx, id)
		mustf(t, err, "ContainerStatus")
		pids = append(pids, st.PID)
	}
	begin := time.Now()
	mustf(t, rt.StopPodSandbox(ctx, sb), "StopPodSandbox")
	if d := time.Since(begin); d > 15*time.Second {
		t.Errorf("StopPodSandbox took %s", d)
	}
	for i, id := range []string{a, b} {
		st := WaitState(t, rt, id, runtime.StateExited)
		if s.h.Processes {
			if st.ExitCode != 137 {
				t.Errorf("container %s killed by StopPodSandbox: exit %d, want 137", id, st.ExitCode)
			}
			if s.processAlive(pids[i]) {
				// The PID may be a zombie briefly; give it a moment.
				time.Sleep(500 * time.Millisecond)
				if s.processAlive(pids[i]) {
					t.Errorf("container %s process %d still alive after StopPodSandbox", id, pids[i])
				}
			}
		}
	}
	if _, err := rt.CreateContainer(ctx, sb, s.container(t, "late", "sleep", "1s")); err == nil {
		t.Error("CreateContainer in a stopped sandbox succeeded")
	}
	mustf(t, rt.RemovePodSandbox(ctx, sb), "RemovePodSandbox")
	cs, err := rt.ListContainers(ctx, sb)
	if err != nil || len(cs) != 0 {
		t.Errorf("containers of a removed sandbox: %v, %v", cs, err)
	}
	if _, err := rt.ContainerStatus(ctx, a); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("container of removed sandbox: want ErrNotFound, got %v", err)
	}
}

func (s *suite) testRemoveRunning(t *testing.T, rt runtime.Runtime) {
	ctx := context.Background()
	sb := sandbox(t, rt, "rm")
	id := start(t, rt, sb, s.container(t, "c", "ignoreterm", "--", "sleep", "60s"))
	st, err := rt.ContainerStatus(ctx, id)
	mustf(t, err, "ContainerStatus")
	mustf(t, rt.RemoveContainer(ctx, id), "RemoveContainer")
	if _, err := rt.ContainerStatus(ctx, id); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("removed container: want ErrNotFound, got %v", err)
	}
	if s.h.Processes {
		deadline := time.Now().Add(Timeout)
		for s.processAlive(st.PID) {
			if time.Now().After(deadline) {
				t.Fatalf("process %d of removed container still alive", st.PID)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func (s *suite) testListFilters(t *testing.T, rt runtime.Runtime) {
	ctx := context.Background()
	sb1, sb2 := sandbox(t, rt, "one"), sandbox(t, rt, "two")
	c1 := start(t, rt, sb1, s.container(t, "c1", "sleep", "60s"))
	c2, err := rt.CreateContainer(ctx, sb1, s.container(t, "c2", "sleep", "60s"))
	mustf(t, err, "CreateContainer")
	c3 := start(t, rt, sb2, s.container(t, "c3", "sleep", "60s"))
	ids := func(cs []runtime.ContainerStatus) map[string]runtime.ContainerState {
		m := map[string]runtime.ContainerState{}
		for _, c := range cs {
			m[c.ID] = c.State
		}
		return m
	}
	l1, err := rt.ListContainers(ctx, sb1)
	mustf(t, err, "ListContainers")
	if got := ids(l1); len(got) != 2 || got[c1] != runtime.StateRunning || got[c2] != runtime.StateCreated {
		t.Errorf("ListContainers(%s) = %v", sb1, got)
	}
	all, err := rt.ListContainers(ctx, "")
	mustf(t, err, "ListContainers all")
	if got := ids(all); len(got) != 3 || got[c3] != runtime.StateRunning {
		t.Errorf("ListContainers(\"\") = %v", got)
	}
	for _, c := range all {
		want := sb1
		if c.ID == c3 {
			want = sb2
		}
		if c.SandboxID != want {
			t.Errorf("container %s SandboxID %s, want %s", c.ID, c.SandboxID, want)
		}
	}
}

func (s *suite) testConcurrent(t *testing.T, rt runtime.Runtime) {
	ctx := context.Background()
	const pods = 8
	var wg sync.WaitGroup
	errs := make(chan error, pods)
	ips := make(chan string, pods)
	for i := 0; i < pods; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			err := func() error {
				sb, err := rt.RunPodSandbox(ctx, runtime.PodSandboxConfig{UID: fmt.Sprint("u", i), Name: fmt.Sprint("p", i), Namespace: "ns"})
				if err != nil {
					return err
				}
				st, err := rt.PodSandboxStatus(ctx, sb)
				if err != nil {
					return err
				}
				ips <- st.IP
				cfg := s.container(t, fmt.Sprint("c", i), "sleep", "60s")
				id, err := rt.CreateContainer(ctx, sb, cfg)
				if err != nil {
					return err
				}
				if err := rt.StartContainer(ctx, id); err != nil {
					return err
				}
				if err := rt.StopContainer(ctx, id, 0); err != nil {
					return err
				}
				if err := rt.RemoveContainer(ctx, id); err != nil {
					return err
				}
				return rt.RemovePodSandbox(ctx, sb)
			}()
			if err != nil {
				errs <- fmt.Errorf("pod %d: %w", i, err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	close(ips)
	for err := range errs {
		t.Error(err)
	}
	seen := map[string]bool{}
	for ip := range ips {
		if seen[ip] {
			t.Errorf("concurrent sandboxes share IP %s", ip)
		}
		seen[ip] = true
	}
	if l, _ := rt.ListPodSandboxes(ctx); len(l) != 0 {
		t.Errorf("sandboxes left after concurrent run: %+v", l)
	}
}

func (s *suite) testExitCodes(t *testing.T, rt runtime.Runtime) {
	sb := sandbox(t, rt, "exits")
	tests := []struct {
		args   []string
		code   int32
		reason string
	}{
		{[]string{"exit", "0"}, 0, runtime.ReasonCompleted},
		{[]string{"exit", "3"}, 3, runtime.ReasonError},
		{[]string{"echo", "bye"}, 0, runtime.ReasonCompleted},
	}
	for i, tc := range tests {
		id := start(t, rt, sb, s.container(t, fmt.Sprint("e", i), tc.args...))
		st := WaitState(t, rt, id, runtime.StateExited)
		if st.ExitCode != tc.code || st.Reason != tc.reason || st.FinishedAt.Before(st.StartedAt) {
			t.Errorf("%v: exit %d reason %q (%+v), want %d %q", tc.args, st.ExitCode, st.Reason, st, tc.code, tc.reason)
		}
	}
}

func (s *suite) testStopEscalates(t *testing.T, rt runtime.Runtime) {
	ctx := context.Background()
	sb := sandbox(t, rt, "kill")
	cfg := s.container(t, "stubborn", "ignoreterm", "--", "echo", "ready", "--", "sleep", "60s")
	id := start(t, rt, sb, cfg)
	WaitLog(t, cfg.LogPath, "ready")
	const grace = 500 * time.Millisecond
	begin := time.Now()
	mustf(t, rt.StopContainer(ctx, id, grace), "StopContainer")
	d := time.Since(begin)
	if d < grace {
		t.Errorf("StopContainer returned after %s, before the %s grace period", d, grace)
	}
	if d > 15*time.Second {
		t.Errorf("StopContainer took %s", d)
	}
	st, err := rt.ContainerStatus(ctx, id)
	mustf(t, err, "ContainerStatus")
	if st.State != runtime.StateExited || st.ExitCode != 137 || st.Reason != runtime.ReasonError {
		t.Errorf("SIGKILLed container: %+v, want Exited 137 Error", st)
	}
}

func (s *suite) testLogsEnv(t *testing.T, rt runtime.Runtime) {
	sb := sandbox(t, rt, "logs")
	cfg := s.container(t, "c", "echo", "to-stdout", "--", "echoerr", "to-stderr", "--", "env", "--", "pwd")
	cfg.Env = []string{"FOO=bar", "EMPTY="}
	cfg.WorkingDir = "/tmp"
	id := start(t, rt, sb, cfg)
	st := WaitState(t, rt, id, runtime.StateExited)
	if st.ExitCode != 0 {
		t.Fatalf("exit %d: %+v", st.ExitCode, st)
	}
	b, err := os.ReadFile(cfg.LogPath)
	mustf(t, err, "read log")
	ls := lines(string(b))
	for _, want := range []string{"to-stdout", "to-stderr", "FOO=bar", "EMPTY="} {
		if !contains(ls, want) {
			t.Errorf("log lacks line %q:\n%s", want, b)
		}
	}
	if len(ls) == 0 || !strings.HasSuffix(ls[len(ls)-1], "/tmp") {
		t.Errorf("working dir: last log line should end in /tmp:\n%s", b)
	}
	// The log is appended to, never truncated: a second container writing the
	// same path keeps the first one's output.
	cfg2 := s.container(t, "again", "echo", "second-run")
	cfg2.LogPath = cfg.LogPath
	id2 := start(t, rt, sb, cfg2)
	WaitState(t, rt, id2, runtime.StateExited)
	b, err = os.ReadFile(cfg.LogPath)
	mustf(t, err, "read log")
	if !bytes.Contains(b, []byte("to-stdout")) || !bytes.Contains(b, []byte("second-run")) {
		t.Errorf("log not appended:\n%s", b)
	}
}

func (s *suite) testStartErrorNotFound(t *testing.T, rt runtime.Runtime) {
	ctx := context.Background()
	sb := sandbox(t, rt, "enoent")
	cfg := s.container(t, "missing")
	cfg.Command = []string{"/no/such/binary"}
	id, err := rt.CreateContainer(ctx, sb, cfg)
	mustf(t, err, "CreateContainer")
	err = rt.StartContainer(ctx, id)
	if err == nil {
		t.Fatal("StartContainer of a missing binary succeeded")
	}
	st, serr := rt.ContainerStatus(ctx, id)
	mustf(t, serr, "ContainerStatus")
	if st.State != runtime.StateExited || st.Reason != runtime.ReasonStartError || st.ExitCode != runtime.ExitCodeStartError || st.Message == "" {
		t.Errorf("start error status %+v", st)
	}
	if !strings.Contains(err.Error(), "no such file") && !strings.Contains(err.Error(), "not found") {
		t.Errorf("start error %q names no missing file", err)
	}
}

func (s *suite) testExecFormat(t *testing.T, rt runtime.Runtime) {
	ctx := context.Background()
	foreign := BuildTestBin(t, ForeignArch())
	rootfs, argv0 := s.image(t, foreign)
	sb := sandbox(t, rt, "foreign")
	cfg := s.container(t, "arm", "echo", "hi")
	cfg.RootFS, cfg.Command[0] = rootfs, argv0
	id, err := rt.CreateContainer(ctx, sb, cfg)
	mustf(t, err, "CreateContainer")
	err = rt.StartContainer(ctx, id)
	if err == nil || !strings.Contains(err.Error(), "exec format error") {
		t.Fatalf("StartContainer of a %s binary: got %v, want an error containing %q", ForeignArch(), err, "exec format error")
	}
	st, serr := rt.ContainerStatus(ctx, id)
	mustf(t, serr, "ContainerStatus")
	if st.State != runtime.StateExited || st.Reason != runtime.ReasonStartError || !strings.Contains(st.Message, "exec format error") {
		t.Errorf("status %+v, want Exited StartError with exec format error", st)
	}
}

func (s *suite) testStdin(t *testing.T, rt runtime.Runtime) {
	sb := sandbox(t, rt, "stdin")
	closed := start(t, rt, sb, s.container(t, "closed", "stdin", "--", "echo", "eof"))
	if st := WaitState(t, rt, closed, runtime.StateExited); st.ExitCode != 0 {
		t.Errorf("container without stdin: exit %d", st.ExitCode)
	}
	cfg := s.container(t, "open", "stdin", "--", "echo", "eof")
	cfg.Stdin = true
	open := start(t, rt, sb, cfg)
	time.Sleep(500 * time.Millisecond)
	st, err := rt.ContainerStatus(context.Background(), open)
	mustf(t, err, "ContainerStatus")
	if st.State != runtime.StateRunning {
		t.Errorf("container with open stdin should block reading it, got %+v", st)
	}
}

func (s *suite) testTTY(t *testing.T, rt runtime.Runtime) {
	sb := sandbox(t, rt, "tty")
	cfg := s.container(t, "tty", "tty", "--", "echo", "done")
	cfg.TTY = true
	id := start(t, rt, sb, cfg)
	WaitState(t, rt, id, runtime.StateExited)
	out := WaitLog(t, cfg.LogPath, "done")
	if !strings.Contains(out, "tty ") {
		t.Errorf("TTY container did not see a terminal:\n%s", out)
	}
	cfg = s.container(t, "notty", "tty")
	id = start(t, rt, sb, cfg)
	WaitState(t, rt, id, runtime.StateExited)
	WaitLog(t, cfg.LogPath, "notty")
}

func (s *suite) testExec(t *testing.T, rt runtime.Runtime) {
	ctx := context.Background()
	sb := sandbox(t, rt, "exec")
	cfg := s.container(t, "target", "sleep", "60s")
	cfg.Env = []string{"FOO=from-container"}
	cfg.WorkingDir = "/tmp"
	id := start(t, rt, sb, cfg)
	run := func(streams runtime.ExecStreams, args ...string) (int, string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		if streams.Stdout == nil {
			streams.Stdout = &out
		}
		streams.Stderr = &errb
		code, err := rt.Exec(ctx, id, append([]string{s.argv0}, args...), streams)
		mustf(t, err, "Exec %v", args)
		return code, out.String(), errb.String()
	}
	tests := []struct {
		name    string
		streams runtime.ExecStreams
		args    []string
		code    int
		stdout  string // expected line
		stderr  string
	}{
		{"echo", runtime.ExecStreams{}, []string{"echo", "hi"}, 0, "hi", ""},
		{"exit code", runtime.ExecStreams{}, []string{"echoerr", "oops", "--", "exit", "7"}, 7, "", "oops"},
		{"env", runtime.ExecStreams{}, []string{"env"}, 0, "FOO=from-container", ""},
		{"stdin", runtime.ExecStreams{Stdin: strings.NewReader("piped\n")}, []string{"stdin"}, 0, "piped", ""},
		{"no tty", runtime.ExecStreams{}, []string{"tty"}, 0, "notty", ""},
	}
	for _, tc := range tests {
		code, out, errOut := run(tc.streams, tc.args...)
		if code != tc.code {
			t.Errorf("exec %s: code %d, want %d (stdout %q stderr %q)", tc.name, code, tc.code, out, errOut)
		}
		if tc.stdout != "" && !contains(lines(out), tc.stdout) {
			t.Errorf("exec %s: stdout %q lacks line %q", tc.name, out, tc.stdout)
		}
		if tc.stderr != "" && !contains(lines(errOut), tc.stderr) {
			t.Errorf("exec %s: stderr %q lacks line %q", tc.name, errOut, tc.stderr)
		}
	}
	// A TTY exec sees the size queued on Resize before it starts.
	resize := make(chan runtime.TermSize, 1)
	resize <- runtime.TermSize{Width: 91, Height: 17}
	var ttyOut safeBuffer
	code, err := rt.Exec(ctx, id, []string{s.argv0, "tty"}, runtime.ExecStreams{Stdout: &ttyOut, TTY: true, Resize: resize})
	mustf(t, err, "Exec tty")
	if code != 0 || !strings.Contains(ttyOut.String(), "tty 91x17") {
		t.Errorf("exec tty: code %d output %q, want tty 91x17", code, ttyOut.String())
	}
	// Cancelling ctx kills the command.
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	begin := time.Now()
	code, err = rt.Exec(cctx, id, []string{s.argv0, "sleep", "60s"}, runtime.ExecStreams{})
	if d := time.Since(begin); d > 15*time.Second {
		t.Errorf("cancelled exec returned after %s", d)
	}
	if err == nil && code == 0 {
		t.Error("cancelled exec reported success")
	}
	// Exec into a container that is not running fails.
	mustf(t, rt.StopContainer(ctx, id, 0), "StopContainer")
	if _, err := rt.Exec(ctx, id, []string{s.argv0, "echo"}, runtime.ExecStreams{}); err == nil {
		t.Error("exec in an exited container succeeded")
	}
}

type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *safeBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *safeBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
