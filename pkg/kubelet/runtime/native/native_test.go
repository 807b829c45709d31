//go:build linux

package native

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/coxswain/coxswain/pkg/kubelet/runtime"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime/runtimetest"
)

func TestMain(m *testing.M) {
	Init()
	os.Exit(m.Run())
}

var (
	rootOnce   sync.Once
	rootReason string
	cgroupSeq  atomic.Int64
)

// requireRoot skips unless the test can create network namespaces.
func requireRoot(t testing.TB) {
	t.Helper()
	rootOnce.Do(func() {
		if os.Geteuid() != 0 {
			rootReason = "the native runtime needs root (namespaces, mounts, netlink, cgroups)"
			return
		}
		p := filepath.Join(os.TempDir(), fmt.Sprintf("coxswain-netns-probe-%d", os.Getpid()))
		if err := newNetNS(p); err != nil {
			rootReason = fmt.Sprintf("cannot create network namespaces here: %v", err)
			return
		}
		_ = removeNetNS(p)
	})
	if rootReason != "" {
		t.Skip(rootReason)
	}
}

// newNodeNS creates a network namespace standing in for a node.
func newNodeNS(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "node-netns")
	if err := newNetNS(p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = removeNetNS(p) })
	h, err := nsHandle(p)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
	return p
}

// newRuntime returns a native runtime whose node is a fresh network
// namespace (the host network is never touched) and whose cgroups live below
// the test's own cgroup.
func newRuntime(t testing.TB, cfg Config) *Runtime {
	t.Helper()
	requireRoot(t)
	if cfg.PodCIDR == "" {
		cfg.PodCIDR = "10.244.1.0/24"
	}
	if cfg.NodeNetNS == "" {
		cfg.NodeNetNS = newNodeNS(t)
	}
	if cfg.StateDir == "" {
		cfg.StateDir = t.TempDir()
	}
	if cfg.CgroupRoot == "" {
		cfg.CgroupRoot = fmt.Sprintf("coxswain-test-%d-%d", os.Getpid(), cgroupSeq.Add(1))
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
		if err := r.b.cg.Destroy(""); err != nil {
			t.Errorf("remove cgroup root: %v", err)
		}
	})
	return r
}

// image returns a rootfs holding testbin at /bin/testbin.
func image(t testing.TB) string {
	t.Helper()
	return runtimetest.MakeRootFS(t, runtimetest.BuildTestBin(t, ""))
}

func TestConformance(t *testing.T) {
	requireRoot(t)
	runtimetest.Run(t, runtimetest.Harness{
		New:       func(t *testing.T) runtime.Runtime { return newRuntime(t, Config{}) },
		Processes: true,
		Image: func(t *testing.T, bin string) (string, string) {
			return runtimetest.MakeRootFS(t, bin), "/bin/testbin"
		},
	})
}

func runPod(t testing.TB, r runtime.Runtime, name string) (string, runtime.SandboxStatus) {
	t.Helper()
	ctx := context.Background()
	id, err := r.RunPodSandbox(ctx, runtime.PodSandboxConfig{
		UID: "uid-" + name, Name: name, Namespace: "default", Hostname: name,
		DNS: &runtime.DNSConfig{Servers: []string{"10.96.0.10"}, Searches: []string{"default.svc.cluster.local"}, Options: []string{"ndots:5"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.PodSandboxStatus(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return id, st
}

func startContainer(t testing.TB, r runtime.Runtime, sb string, cfg runtime.ContainerConfig) string {
	t.Helper()
	ctx := context.Background()
	if cfg.LogPath == "" {
		cfg.LogPath = filepath.Join(t.TempDir(), cfg.Name+".log")
	}
	id, err := r.CreateContainer(ctx, sb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	return id
}

func readLog(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPodLocalhost: container B reaches container A's HTTP server on
// localhost, because the containers of a pod share the network namespace.
func TestPodLocalhost(t *testing.T) {
	r := newRuntime(t, Config{})
	rootfs := image(t)
	sb, _ := runPod(t, r, "web")
	startContainer(t, r, sb, runtime.ContainerConfig{Name: "a", RootFS: rootfs, Command: []string{"/bin/testbin", "serve", "127.0.0.1:8080"}})
	logB := filepath.Join(t.TempDir(), "b.log")
	b := startContainer(t, r, sb, runtime.ContainerConfig{Name: "b", RootFS: rootfs, Command: []string{"/bin/testbin", "fetch", "http://localhost:8080/", "20s"}, LogPath: logB})
	st := runtimetest.WaitState(t, r, b, runtime.StateExited)
	if st.ExitCode != 0 {
		t.Fatalf("fetch over localhost failed: %+v\n%s", st, readLog(t, logB))
	}
	if out := readLog(t, logB); !strings.Contains(out, "hello from web") {
		t.Fatalf("fetch output %q, want the server's hostname web", out)
	}
}

// TestContainerView checks what a container sees: its own PID namespace,
// hostname, the sandbox's /etc files, mounts, a private writable layer, and
// no access to the host's devices or network.
func TestContainerView(t *testing.T) {
	r := newRuntime(t, Config{})
	rootfs := image(t)
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "hello"), []byte("from-host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rw := t.TempDir()
	sb, sst := runPod(t, r, "view-0")
	tests := []struct {
		name   string
		args   []string
		code   int32
		output string // a line that must appear
	}{
		{"pid 1", []string{"pid"}, 0, "1"},
		{"hostname", []string{"hostname"}, 0, "view-0"},
		{"etc hostname", []string{"cat", "/etc/hostname"}, 0, "view-0"},
		{"resolv.conf", []string{"cat", "/etc/resolv.conf"}, 0, "nameserver 10.96.0.10"},
		{"hosts", []string{"cat", "/etc/hosts"}, 0, sst.IP + "\tview-0"},
		{"read-only mount readable", []string{"cat", "/data/hello"}, 0, "from-host"},
		{"read-only mount not writable", []string{"write", "/data/x", "y"}, 2, ""},
		{"read-write mount", []string{"write", "/rw/out", "written", "--", "cat", "/rw/out"}, 0, "written"},
		{"private writable layer", []string{"write", "/bin/new", "x", "--", "cat", "/bin/new"}, 0, "x"},
		{"dev null", []string{"write", "/dev/null", "x"}, 0, ""},
		{"no host disk", []string{"cat", "/dev/vda"}, 2, ""},
		{"eth0 address", []string{"cat", "/proc/net/fib_trie"}, 0, ""},
		{"capabilities dropped", []string{"cat", "/proc/self/status"}, 0, "CapBnd:\t" + dockerCapBnd},
		{"sysfs read-only", []string{"write", "/sys/kernel/mm/transparent_hugepage/enabled", "never"}, 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := runtime.ContainerConfig{Name: "v", RootFS: rootfs, Command: append([]string{"/bin/testbin"}, tc.args...),
				Mounts:  []runtime.Mount{{HostPath: data, ContainerPath: "/data", ReadOnly: true}, {HostPath: rw, ContainerPath: "/rw"}},
				LogPath: filepath.Join(t.TempDir(), "log")}
			id := startContainer(t, r, sb, cfg)
			st := runtimetest.WaitState(t, r, id, runtime.StateExited)
			out := readLog(t, cfg.LogPath)
			if st.ExitCode != tc.code {
				t.Fatalf("exit %d, want %d; output:\n%s", st.ExitCode, tc.code, out)
			}
			if tc.output != "" && !strings.Contains("\n"+out+"\n", "\n"+tc.output+"\n") {
				t.Fatalf("output lacks line %q:\n%s", tc.output, out)
			}
			if tc.name == "eth0 address" && !strings.Contains(out, sst.IP) {
				t.Fatalf("container's network namespace lacks the pod IP %s:\n%s", sst.IP, out)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(rootfs, "bin", "new")); !os.IsNotExist(err) {
		t.Errorf("a container write reached the image directory: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(rw, "out")); err != nil || string(b) != "written" {
		t.Errorf("read-write mount: host sees %q, %v", b, err)
	}
}

// dockerCapBnd is the bounding set of keptCaps, as /proc/PID/status shows it.
const dockerCapBnd = "00000000a80425fb"

// TestExecJoinsContainer: an exec'd command runs in the container's
// namespaces (PID, UTS, mount, network) with its env and reduced capabilities.
func TestExecJoinsContainer(t *testing.T) {
	r := newRuntime(t, Config{})
	ctx := context.Background()
	sb, sst := runPod(t, r, "exec-0")
	id := startContainer(t, r, sb, runtime.ContainerConfig{Name: "c", RootFS: image(t), Command: []string{"/bin/testbin", "sleep", "60s"},
		Env: []string{"PATH=/bin", "MARK=inside"}, WorkingDir: "/tmp"})
	var out strings.Builder
	code, err := r.Exec(ctx, id, []string{"testbin", "pid", "--", "hostname", "--", "pwd", "--", "env", "--", "cat", "/proc/self/status", "--", "cat", "/proc/net/fib_trie"},
		runtime.ExecStreams{Stdout: &out, Stderr: &out})
	if err != nil || code != 0 {
		t.Fatalf("exec: %d, %v\n%s", code, err, out.String())
	}
	lines := strings.Split(out.String(), "\n")
	if len(lines) < 3 || lines[0] == "1" || len(lines[0]) > 3 || lines[1] != "exec-0" || lines[2] != "/tmp" {
		t.Errorf("exec saw pid %q hostname %q cwd %q; want a small PID in the container's namespace, exec-0, /tmp", lines[0], lines[1], lines[2])
	}
	for _, want := range []string{"MARK=inside", "CapBnd:\t" + dockerCapBnd, sst.IP} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("exec output lacks %q:\n%s", want, out.String())
		}
	}
}

// link connects two node namespaces with a veth pair addressed a/b in 192.0.2.0/24.
func link(t *testing.T, nsA, nsB string) {
	t.Helper()
	ha, err := nsHandle(nsA)
	if err != nil {
		t.Fatal(err)
	}
	defer ha.Close()
	hb, err := nsHandle(nsB)
	if err != nil {
		t.Fatal(err)
	}
	defer hb.Close()
	fb, err := os.Open(nsB)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	la := netlink.NewLinkAttrs()
	la.Name = "uplink"
	if err := ha.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "uplink", PeerNamespace: netlink.NsFd(int(fb.Fd()))}); err != nil {
		t.Fatal(err)
	}
	for i, h := range []*netlink.Handle{ha, hb} {
		l, err := h.LinkByName("uplink")
		if err != nil {
			t.Fatal(err)
		}
		addr := netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", i+1))
		if err := h.AddrAdd(l, &netlink.Addr{IPNet: toIPNet(addr, 24)}); err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTwoNodes: two simulated nodes (network namespaces with their own
// bridge and pod CIDR, linked by a veth pair, routes from SyncRoutes); a pod
// on each reaches the other by pod IP.
func TestTwoNodes(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	nsA, nsB := newNodeNS(t), newNodeNS(t)
	link(t, nsA, nsB)
	a := newRuntime(t, Config{PodCIDR: "10.244.1.0/24", NodeNetNS: nsA})
	b := newRuntime(t, Config{PodCIDR: "10.244.2.0/24", NodeNetNS: nsB})
	routes := map[netip.Prefix]netip.Addr{
		netip.MustParsePrefix("10.244.1.0/24"): netip.MustParseAddr("192.0.2.1"),
		netip.MustParsePrefix("10.244.2.0/24"): netip.MustParseAddr("192.0.2.2"),
	}
	for _, r := range []*Runtime{a, b} {
		if err := r.SyncRoutes(ctx, routes); err != nil {
			t.Fatal(err)
		}
	}
	rootfs := image(t)
	sbA, stA := runPod(t, a, "pod-a")
	sbB, stB := runPod(t, b, "pod-b")
	if !strings.HasPrefix(stA.IP, "10.244.1.") || !strings.HasPrefix(stB.IP, "10.244.2.") || stA.IP == "10.244.1.1" {
		t.Fatalf("pod IPs %s, %s not from the nodes' pod CIDRs (or the gateway)", stA.IP, stB.IP)
	}
	startContainer(t, a, sbA, runtime.ContainerConfig{Name: "srv", RootFS: rootfs, Command: []string{"/bin/testbin", "serve", ":8080"}})
	startContainer(t, b, sbB, runtime.ContainerConfig{Name: "srv", RootFS: rootfs, Command: []string{"/bin/testbin", "serve", ":8080"}})
	for _, tc := range []struct {
		from   *Runtime
		sb, to string
		want   string
	}{
		{a, sbA, stB.IP, "hello from pod-b"},
		{b, sbB, stA.IP, "hello from pod-a"},
	} {
		logp := filepath.Join(t.TempDir(), "fetch.log")
		id := startContainer(t, tc.from, tc.sb, runtime.ContainerConfig{Name: "fetch", RootFS: rootfs,
			Command: []string{"/bin/testbin", "fetch", "http://" + tc.to + ":8080/", "20s"}, LogPath: logp})
		st := runtimetest.WaitState(t, tc.from, id, runtime.StateExited)
		if out := readLog(t, logp); st.ExitCode != 0 || !strings.Contains(out, tc.want) {
			t.Fatalf("fetch %s: exit %d output %q, want %q", tc.to, st.ExitCode, out, tc.want)
		}
	}
}

func TestSyncRoutes(t *testing.T) {
	r := newRuntime(t, Config{PodCIDR: "10.244.1.0/24"})
	ctx := context.Background()
	h, err := nsHandle(r.b.cfg.NodeNetNS)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	// A foreign route SyncRoutes must leave alone.
	br, _ := h.LinkByName("cox0")
	foreign := &netlink.Route{LinkIndex: br.Attrs().Index, Dst: toIPNet(netip.MustParseAddr("10.250.0.0"), 16), Scope: netlink.SCOPE_LINK}
	if err := h.RouteAdd(foreign); err != nil {
		t.Fatal(err)
	}
	p := netip.MustParsePrefix
	gw := netip.MustParseAddr
	steps := []struct {
		in   map[netip.Prefix]netip.Addr
		want map[netip.Prefix]netip.Addr
	}{
		{map[netip.Prefix]netip.Addr{p("10.244.2.0/24"): gw("10.244.1.20"), p("10.244.3.0/24"): gw("10.244.1.30"), p("10.244.1.0/24"): gw("10.244.1.99")},
			map[netip.Prefix]netip.Addr{p("10.244.2.0/24"): gw("10.244.1.20"), p("10.244.3.0/24"): gw("10.244.1.30")}},
		{map[netip.Prefix]netip.Addr{p("10.244.2.0/24"): gw("10.244.1.21")},
			map[netip.Prefix]netip.Addr{p("10.244.2.0/24"): gw("10.244.1.21")}},
		{map[netip.Prefix]netip.Addr{}, map[netip.Prefix]netip.Addr{}},
	}
	for i, s := range steps {
		if err := r.SyncRoutes(ctx, s.in); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		got, err := r.Routes()
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(sortedRoutes(got)) != fmt.Sprint(sortedRoutes(s.want)) {
			t.Fatalf("step %d: routes %v, want %v", i, got, s.want)
		}
	}
	all, err := h.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, rt := range all {
		if rt.Dst != nil && rt.Dst.String() == "10.250.0.0/16" {
			found = true
		}
	}
	if !found {
		t.Fatal("SyncRoutes removed a route it does not own")
	}
	if err := r.SyncRoutes(ctx, map[netip.Prefix]netip.Addr{p("fd00::/64"): gw("fd00::1")}); err == nil {
		t.Fatal("IPv6 route accepted")
	}
}

func sortedRoutes(m map[netip.Prefix]netip.Addr) []string {
	var out []string
	for p, g := range m {
		out = append(out, p.String()+"→"+g.String())
	}
	sort.Strings(out)
	return out
}

func requireCgroups(t *testing.T, r *Runtime, memory bool) {
	t.Helper()
	if r.CgroupVersion() == 0 {
		t.Skip("no cgroup hierarchy with the cpu or memory controller on this machine")
	}
	if memory && !r.b.cg.Memory() {
		t.Skip("the memory cgroup controller is not available on this machine")
	}
}

// TestCgroupLimits: the pod and container cgroups hold the configured limits
// (cpu.max/memory.max on cgroup v2, the v1 equivalents on hybrid hosts).
func TestCgroupLimits(t *testing.T) {
	r := newRuntime(t, Config{})
	requireCgroups(t, r, false)
	ctx := context.Background()
	sb, err := r.RunPodSandbox(ctx, runtime.PodSandboxConfig{Name: "limited", CPUMilliLimit: 1500, MemoryLimitBytes: 256 << 20})
	if err != nil {
		t.Fatal(err)
	}
	id := startContainer(t, r, sb, runtime.ContainerConfig{Name: "c", RootFS: image(t), Command: []string{"/bin/testbin", "sleep", "60s"},
		CPUMilliLimit: 250, MemoryLimitBytes: 64 << 20})
	st, _ := r.ContainerStatus(ctx, id)
	read := func(dir, file string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	type want struct{ ctrl, file, value string }
	var pod, ctr []want
	switch r.CgroupVersion() {
	case 2:
		pod = []want{{"", "cpu.max", "150000 100000"}, {"", "memory.max", "268435456"}}
		ctr = []want{{"", "cpu.max", "25000 100000"}, {"", "memory.max", "67108864"}}
	case 1:
		pod = []want{{"cpu", "cpu.cfs_quota_us", "150000"}, {"memory", "memory.limit_in_bytes", "268435456"}}
		ctr = []want{{"cpu", "cpu.cfs_quota_us", "25000"}, {"cpu", "cpu.cfs_period_us", "100000"}, {"memory", "memory.limit_in_bytes", "67108864"}}
	}
	for _, set := range []struct {
		dirs  map[string]string
		wants []want
	}{{r.CgroupDirs(sb, ""), pod}, {r.CgroupDirs(sb, id), ctr}} {
		for _, w := range set.wants {
			dir, ok := set.dirs[w.ctrl]
			if !ok {
				continue // controller unavailable: limits disabled (logged)
			}
			if got := read(dir, w.file); got != w.value {
				t.Errorf("%s/%s = %q, want %q", dir, w.file, got, w.value)
			}
		}
	}
	for ctrl, dir := range r.CgroupDirs(sb, id) {
		if procs := read(dir, "cgroup.procs"); !strings.Contains("\n"+procs+"\n", fmt.Sprintf("\n%d\n", st.PID)) {
			t.Errorf("%s cgroup.procs %q lacks container PID %d", ctrl, procs, st.PID)
		}
	}
}

// TestOOMKilled: a memory hog over its limit is reported OOMKilled, 137.
func TestOOMKilled(t *testing.T) {
	r := newRuntime(t, Config{})
	requireCgroups(t, r, true)
	sb, _ := runPod(t, r, "hog")
	cfg := runtime.ContainerConfig{Name: "hog", RootFS: image(t), Command: []string{"/bin/testbin", "alloc", "512", "--", "sleep", "60s"},
		MemoryLimitBytes: 48 << 20, LogPath: filepath.Join(t.TempDir(), "hog.log")}
	id := startContainer(t, r, sb, cfg)
	st := runtimetest.WaitState(t, r, id, runtime.StateExited)
	if st.Reason != runtime.ReasonOOMKilled || st.ExitCode != 137 {
		t.Fatalf("memory hog: %+v, want OOMKilled 137; log:\n%s", st, readLog(t, cfg.LogPath))
	}
	// A container killed by StopContainer is not mistaken for an OOM kill.
	id2 := startContainer(t, r, sb, runtime.ContainerConfig{Name: "ok", RootFS: image(t), Command: []string{"/bin/testbin", "sleep", "60s"}, MemoryLimitBytes: 48 << 20})
	if err := r.StopContainer(context.Background(), id2, 0); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.ContainerStatus(context.Background(), id2); st.Reason != runtime.ReasonError || st.ExitCode != 137 {
		t.Fatalf("killed container: %+v, want Error 137", st)
	}
}

// TestRecover: a new runtime on the same StateDir adopts the ready
// sandboxes (same IP, netns intact), kills the containers it cannot adopt,
// and never hands out an adopted IP again.
func TestRecover(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	cfg := Config{NodeNetNS: newNodeNS(t), StateDir: t.TempDir(), PodCIDR: "10.244.1.0/29",
		CgroupRoot: fmt.Sprintf("coxswain-test-%d-recover", os.Getpid())}
	first, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sb, st := runPod(t, first, "survivor")
	stopped, _ := runPod(t, first, "stopped")
	if err := first.StopPodSandbox(ctx, stopped); err != nil {
		t.Fatal(err)
	}
	cid := startContainer(t, first, sb, runtime.ContainerConfig{Name: "c", RootFS: image(t), Command: []string{"/bin/testbin", "ignoreterm", "--", "sleep", "60s"}})
	cst, _ := first.ContainerStatus(ctx, cid)
	first.b.node.close() // the old instance "crashes": no cleanup

	second := newRuntime(t, cfg)
	list, err := second.ListPodSandboxes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != sb || !list[0].Ready || list[0].IP != st.IP || list[0].UID != "uid-survivor" {
		t.Fatalf("recovered sandboxes %+v, want only %s with IP %s", list, sb, st.IP)
	}
	deadline := time.Now().Add(runtimetest.Timeout)
	for procStartTime(cst.PID) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("container process %d of the previous instance still alive", cst.PID)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := 0; i < 4; i++ { // the /29 has 5 pod addresses; one is adopted
		_, s := runPod(t, second, fmt.Sprint("new", i))
		if s.IP == st.IP {
			t.Fatalf("adopted IP %s handed out again", s.IP)
		}
	}
	if _, err := second.RunPodSandbox(ctx, runtime.PodSandboxConfig{Name: "full"}); err == nil {
		t.Fatal("pod CIDR should be exhausted")
	}
	// The adopted sandbox still works.
	logp := filepath.Join(t.TempDir(), "log")
	id := startContainer(t, second, sb, runtime.ContainerConfig{Name: "again", RootFS: image(t), Command: []string{"/bin/testbin", "hostname"}, LogPath: logp})
	runtimetest.WaitState(t, second, id, runtime.StateExited)
	runtimetest.WaitLog(t, logp, "survivor")
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg   Config
		field string
	}{
		{Config{}, "PodCIDR"},
		{Config{PodCIDR: "banana"}, "PodCIDR"},
		{Config{PodCIDR: "fd00::/64"}, "PodCIDR"},
		{Config{PodCIDR: "10.0.0.0/31"}, "PodCIDR"},
		{Config{PodCIDR: "10.0.0.0/24", BridgeName: "a-very-long-bridge-name"}, "BridgeName"},
		{Config{PodCIDR: "10.0.0.0/24", StateDir: "relative"}, "StateDir"},
		{Config{PodCIDR: "10.0.0.0/24", StateDir: "/tmp/a:b"}, "StateDir"},
		{Config{PodCIDR: "10.0.0.0/24", MTU: 10}, "MTU"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("New(%+v): error %v should name %s", tc.cfg, err, tc.field)
		}
	}
}

// BenchmarkStartLatency starts 50 pods (sandbox + one container from a
// pre-built rootfs) on one node, one after another, and reports the p50 and
// p99 time from RunPodSandbox to a running container.
func BenchmarkStartLatency(b *testing.B) {
	requireRoot(b)
	ctx := context.Background()
	rootfs := image(b)
	const pods = 50
	var all []time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r := newRuntime(b, Config{PodCIDR: "10.244.0.0/24"})
		b.StartTimer()
		for p := 0; p < pods; p++ {
			begin := time.Now()
			sb, err := r.RunPodSandbox(ctx, runtime.PodSandboxConfig{Name: fmt.Sprint("p", p), Hostname: fmt.Sprint("p", p)})
			if err != nil {
				b.Fatal(err)
			}
			id, err := r.CreateContainer(ctx, sb, runtime.ContainerConfig{Name: "c", RootFS: rootfs, Command: []string{"/bin/testbin", "sleep", "600s"}})
			if err != nil {
				b.Fatal(err)
			}
			if err := r.StartContainer(ctx, id); err != nil {
				b.Fatal(err)
			}
			all = append(all, time.Since(begin))
		}
		b.StopTimer()
		if err := r.Shutdown(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(q float64) time.Duration { return all[int(q*float64(len(all)-1))] }
	b.ReportMetric(float64(pct(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}
