package native

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/coxswain/coxswain/pkg/kubelet/runtime"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime/internal/cgroups"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime/internal/engine"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime/internal/fsroot"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime/internal/ipam"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime/internal/procutil"
)

// Runtime is the native runtime; it implements runtime.Runtime.
type Runtime struct {
	*engine.Engine
	b *backend
}

var _ runtime.Runtime = (*Runtime)(nil)

type backend struct {
	cfg     Config
	log     *slog.Logger
	node    *node
	ipam    *ipam.Allocator
	cg      *cgroups.Manager
	overlay bool
	eng     *engine.Engine

	routesMu sync.Mutex
}

// sandboxState is persisted as StateDir/sandboxes/ID/sandbox.json.
type sandboxState struct {
	ID      string                   `json:"id"`
	Config  runtime.PodSandboxConfig `json:"config"`
	IP      string                   `json:"ip"`
	Created time.Time                `json:"created"`
	Ready   bool                     `json:"ready"`
}

// containerState is persisted as StateDir/containers/ID/state.json once
// started, so a restarted runtime can kill what it no longer tracks.
type containerState struct {
	SandboxID string `json:"sandboxID"`
	PID       int    `json:"pid"`
	StartTime uint64 `json:"startTime"` // /proc/PID/stat field 22, guards against PID reuse
}

type ctrData struct {
	dir    string
	cgroup string
}

// New sets up the node network (bridge, forwarding), IPAM and cgroups, and
// recovers the sandboxes a previous instance left in StateDir.
func New(cfg Config) (*Runtime, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("native runtime: must run as root (euid %d)", os.Geteuid())
	}
	prefix, _ := netip.ParsePrefix(cfg.PodCIDR)
	prefix = prefix.Masked()
	for _, d := range []string{"sandboxes", "containers"} {
		if err := os.MkdirAll(filepath.Join(cfg.StateDir, d), 0o700); err != nil {
			return nil, fmt.Errorf("native runtime: StateDir: %w", err)
		}
	}
	b := &backend{cfg: cfg, log: cfg.Logger}
	var err error
	if b.ipam, err = ipam.New(ipam.Config{Prefix: prefix, Reserved: []netip.Addr{prefix.Addr().Next()}, StatePath: filepath.Join(cfg.StateDir, "ipam.json")}); err != nil {
		return nil, fmt.Errorf("native runtime: PodCIDR: %w", err)
	}
	if b.node, err = setupNode(cfg.NodeNetNS, cfg.BridgeName, prefix, cfg.MTU); err != nil {
		return nil, fmt.Errorf("native runtime: node network: %w", err)
	}
	if b.cg, err = cgroups.New(cfg.CgroupRoot, cfg.Logger); err != nil {
		b.node.close()
		return nil, fmt.Errorf("native runtime: CgroupRoot: %w", err)
	}
	b.overlay = overlaySupported(cfg.StateDir)
	if !b.overlay {
		cfg.Logger.Warn("overlayfs unavailable", "consequence", "containers write to their RootFS directly")
	}
	b.eng = engine.New(b, cfg.Logger)
	r := &Runtime{Engine: b.eng, b: b}
	if err := b.recover(); err != nil {
		b.node.close()
		return nil, fmt.Errorf("native runtime: recover %s: %w", cfg.StateDir, err)
	}
	return r, nil
}

// Run blocks until ctx is done, then kills every container (containers are
// not adopted across restarts; sandboxes are, see the package doc). Sandbox
// networks stay in place.
func (r *Runtime) Run(ctx context.Context) error {
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	cs, _ := r.ListContainers(sctx, "")
	var errs []error
	for _, c := range cs {
		if c.State == runtime.StateRunning {
			errs = append(errs, r.StopContainer(sctx, c.ID, 0))
		}
	}
	r.b.node.close()
	return errors.Join(errs...)
}

// Close kills every container and removes every sandbox (network, netns,
// cgroups, state), then releases the node handle. The bridge and routes stay.
func (r *Runtime) Close(ctx context.Context) error {
	err := r.Shutdown(ctx)
	r.b.node.close()
	return err
}

// SyncRoutes makes the node's routes to other nodes' pod CIDRs match
// routes (pod CIDR → node IP): missing ones are added, changed ones
// replaced, ones installed earlier but absent now removed. The node's own
// PodCIDR is ignored. Routes are tagged with a private rtnetlink protocol
// number, so routes from other sources are never touched.
func (r *Runtime) SyncRoutes(ctx context.Context, routes map[netip.Prefix]netip.Addr) error {
	want := make(map[netip.Prefix]netip.Addr, len(routes))
	for p, gw := range routes {
		if !p.IsValid() || !p.Addr().Is4() || !gw.Is4() {
			return fmt.Errorf("sync routes: %s via %s: only IPv4 pod CIDRs and node IPs are supported", p, gw)
		}
		if p.Masked() == r.b.node.prefix {
			continue
		}
		want[p.Masked()] = gw
	}
	r.b.routesMu.Lock()
	defer r.b.routesMu.Unlock()
	if err := r.b.node.syncRoutes(want); err != nil {
		return fmt.Errorf("sync routes: %w", err)
	}
	return nil
}

// Routes returns the routes SyncRoutes installed (pod CIDR → node IP).
func (r *Runtime) Routes() (map[netip.Prefix]netip.Addr, error) { return r.b.node.routes() }

// CgroupDirs returns the cgroup directories of a sandbox ("" container) or
// container, per controller ("" for cgroup v2); empty when cgroups are
// disabled.
func (r *Runtime) CgroupDirs(sandboxID, containerID string) map[string]string {
	rel := podCgroup(sandboxID)
	if containerID != "" {
		rel += "/" + containerID
	}
	return r.b.cg.Dirs(rel)
}

// CgroupVersion reports which cgroup hierarchy limits are written to (0 = none).
func (r *Runtime) CgroupVersion() int { return int(r.b.cg.Version()) }

// SandboxNetNS returns the path of a sandbox's network namespace.
func (r *Runtime) SandboxNetNS(sandboxID string) string { return r.b.netnsPath(sandboxID) }

func podCgroup(sandboxID string) string { return "pod-" + sandboxID }

func (b *backend) Name() string { return "native" }

func (b *backend) sandboxDir(id string) string { return filepath.Join(b.cfg.StateDir, "sandboxes", id) }
func (b *backend) netnsPath(id string) string  { return filepath.Join(b.sandboxDir(id), "netns") }
func (b *backend) containerDir(id string) string {
	return filepath.Join(b.cfg.StateDir, "containers", id)
}

func (b *backend) saveSandbox(sb *engine.Sandbox, ready bool) error {
	st := sandboxState{ID: sb.ID, Config: sb.Config, Created: sb.Created, Ready: ready}
	if ready {
		st.IP = sb.IP.String()
	}
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	p := filepath.Join(b.sandboxDir(sb.ID), "sandbox.json")
	if err := os.WriteFile(p+".tmp", data, 0o600); err != nil {
		return fmt.Errorf("save sandbox state: %w", err)
	}
	return os.Rename(p+".tmp", p)
}

func (b *backend) RunSandbox(ctx context.Context, sb *engine.Sandbox) (err error) {
	ip, err := b.ipam.Allocate(sb.ID)
	if err != nil {
		return err
	}
	sb.IP = ip
	dir := b.sandboxDir(sb.ID)
	defer func() {
		if err != nil {
			_ = b.node.detach(sb.ID)
			_ = removeNetNS(b.netnsPath(sb.ID))
			_ = b.cg.Destroy(podCgroup(sb.ID))
			_ = os.RemoveAll(dir)
			_ = b.ipam.Release(ip)
		}
	}()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("sandbox dir: %w", err)
	}
	if err := b.cg.Create(podCgroup(sb.ID), cgroups.Limits{CPUMilli: sb.Config.CPUMilliLimit, MemoryBytes: sb.Config.MemoryLimitBytes}); err != nil {
		return err
	}
	if err := newNetNS(b.netnsPath(sb.ID)); err != nil {
		return err
	}
	if err := b.node.attach(sb.ID, b.netnsPath(sb.ID), ip); err != nil {
		return err
	}
	if err := writeSandboxFiles(dir, sb.Config, ip); err != nil {
		return err
	}
	return b.saveSandbox(sb, true)
}

func (b *backend) StopSandbox(ctx context.Context, sb *engine.Sandbox) error {
	var errs []error
	if err := b.node.detach(sb.ID); err != nil {
		errs = append(errs, err)
	}
	if err := b.ipam.Release(sb.IP); err != nil {
		errs = append(errs, err)
	}
	if err := b.saveSandbox(sb, false); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (b *backend) RemoveSandbox(ctx context.Context, sb *engine.Sandbox) error {
	var errs []error
	if err := removeNetNS(b.netnsPath(sb.ID)); err != nil {
		errs = append(errs, err)
	}
	if err := b.cg.Destroy(podCgroup(sb.ID)); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(b.sandboxDir(sb.ID)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (b *backend) CreateContainer(ctx context.Context, sb *engine.Sandbox, c *engine.Container) error {
	if c.Config.RootFS == "" {
		return fmt.Errorf("RootFS: required by the native runtime")
	}
	fi, err := os.Stat(c.Config.RootFS)
	if err != nil {
		return fmt.Errorf("RootFS: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("RootFS %s: not a directory", c.Config.RootFS)
	}
	for _, m := range c.Config.Mounts {
		if !filepath.IsAbs(m.HostPath) || !filepath.IsAbs(m.ContainerPath) {
			return fmt.Errorf("mount %q → %q: paths must be absolute", m.HostPath, m.ContainerPath)
		}
	}
	dir := b.containerDir(c.ID)
	for _, d := range []string{"upper", "work", "rootfs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			os.RemoveAll(dir)
			return fmt.Errorf("container dir: %w", err)
		}
	}
	// A symlink keeps ':' and ',' of image paths out of the overlay options.
	if err := os.Symlink(c.Config.RootFS, filepath.Join(dir, "lower")); err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("container dir: %w", err)
	}
	c.Data = &ctrData{dir: dir, cgroup: podCgroup(sb.ID) + "/" + c.ID}
	return nil
}

func (b *backend) StartContainer(ctx context.Context, sb *engine.Sandbox, c *engine.Container, stdio engine.Stdio) (*engine.Process, error) {
	d := c.Data.(*ctrData)
	cc := c.Config
	if err := b.cg.Create(d.cgroup, cgroups.Limits{CPUMilli: cc.CPUMilliLimit, MemoryBytes: cc.MemoryLimitBytes}); err != nil {
		return nil, err
	}
	sbDir := b.sandboxDir(sb.ID)
	icfg := initConfig{
		Lower: filepath.Join(d.dir, "lower"), Upper: filepath.Join(d.dir, "upper"), Work: filepath.Join(d.dir, "work"),
		Target: filepath.Join(d.dir, "rootfs"), Overlay: b.overlay,
		NetNS: b.netnsPath(sb.ID), Hostname: sb.Config.Hostname,
		Mounts: append([]runtime.Mount{
			{HostPath: filepath.Join(sbDir, "hosts"), ContainerPath: "/etc/hosts"},
			{HostPath: filepath.Join(sbDir, "resolv.conf"), ContainerPath: "/etc/resolv.conf"},
			{HostPath: filepath.Join(sbDir, "hostname"), ContainerPath: "/etc/hostname"},
		}, cc.Mounts...),
		Args: cc.Command, Env: cc.Env, WorkingDir: cc.WorkingDir,
	}
	if icfg.Env == nil {
		icfg.Env = []string{}
	}
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		cfgR.Close()
		cfgW.Close()
		return nil, err
	}
	defer cfgW.Close()
	defer errR.Close()
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{"coxswain-init"},
		Env:        []string{initEnv + "=container"},
		Stdin:      stdio.Stdin,
		Stdout:     stdio.Stdout,
		Stderr:     stdio.Stderr,
		ExtraFiles: []*os.File{cfgR, errW},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWNS,
			Setsid:     true,
			Setctty:    stdio.TTY,
		},
	}
	err = cmd.Start()
	cfgR.Close()
	errW.Close()
	if err != nil {
		return nil, fmt.Errorf("start init: %w", err)
	}
	pid := cmd.Process.Pid
	fail := func(err error) (*engine.Process, error) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = b.cg.Destroy(d.cgroup)
		return nil, err
	}
	if err := b.cg.AddProc(d.cgroup, pid); err != nil {
		return fail(err)
	}
	if err := json.NewEncoder(cfgW).Encode(icfg); err != nil {
		return fail(fmt.Errorf("send init config: %w", err))
	}
	cfgW.Close()
	deadline := time.Now().Add(time.Minute)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = errR.SetReadDeadline(deadline)
	msg, err := io.ReadAll(errR)
	if err != nil {
		return fail(fmt.Errorf("wait for init: %w", err))
	}
	if len(msg) > 0 {
		var ie initError
		if json.Unmarshal(msg, &ie) != nil || ie.Error == "" {
			ie.Error = strings.TrimSpace(string(msg))
		}
		return fail(errors.New(ie.Error))
	}
	st := containerState{SandboxID: sb.ID, PID: pid, StartTime: procStartTime(pid)}
	if data, err := json.Marshal(st); err == nil {
		_ = os.WriteFile(filepath.Join(d.dir, "state.json"), data, 0o600)
	}
	return &engine.Process{
		PID: pid,
		Wait: func() (syscall.WaitStatus, error) {
			err := cmd.Wait()
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				return 0, err
			}
			return cmd.ProcessState.Sys().(syscall.WaitStatus), nil
		},
		// The container's PID 1 only receives signals it handles, except
		// SIGKILL, whose delivery ends the whole PID namespace.
		// Signal goes through the pidfd os.Process holds: no PID reuse race.
		Signal: func(sig syscall.Signal) error {
			if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
				return err
			}
			return nil
		},
	}, nil
}

// procStartTime reads the start time of pid (0 if unknown).
func procStartTime(pid int) uint64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0
	}
	n, _ := strconv.ParseUint(f[19], 10, 64)
	return n
}

func (b *backend) ContainerExited(c *engine.Container, ws syscall.WaitStatus) (int32, string, string) {
	d := c.Data.(*ctrData)
	code, reason, msg := procutil.ExitInfo(ws)
	if ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		if n, err := b.cg.OOMKills(d.cgroup); err == nil && n > 0 {
			code, reason, msg = runtime.ExitCodeOOMKilled, runtime.ReasonOOMKilled, fmt.Sprintf("killed by the OOM killer (%d process(es))", n)
		} else if err != nil {
			b.log.Warn("read oom kills failed", "container", c.ID, "err", err)
		}
	}
	if err := b.cg.Destroy(d.cgroup); err != nil {
		b.log.Warn("destroy container cgroup failed", "container", c.ID, "err", err)
	}
	_ = os.Remove(filepath.Join(d.dir, "state.json"))
	return code, reason, msg
}

func (b *backend) RemoveContainer(ctx context.Context, c *engine.Container) error {
	d, ok := c.Data.(*ctrData)
	if !ok {
		return nil
	}
	if err := b.cg.Destroy(d.cgroup); err != nil {
		return err
	}
	return os.RemoveAll(d.dir)
}

func (b *backend) Exec(ctx context.Context, sb *engine.Sandbox, c *engine.Container, argv []string, streams runtime.ExecStreams) (int, error) {
	proc := b.eng.Running(c)
	if proc == nil {
		return -1, fmt.Errorf("exec in container %q: not running", c.ID)
	}
	d := c.Data.(*ctrData)
	rootPrefix := fmt.Sprintf("/proc/%d/root", proc.PID)
	wd := c.Config.WorkingDir
	if wd == "" {
		wd = "/"
	}
	pathEnv, _ := fsroot.EnvValue(c.Config.Env, "PATH")
	host, err := fsroot.LookPath(rootPrefix, argv[0], pathEnv, wd)
	if err != nil {
		return -1, fmt.Errorf("exec in container %q: %w", c.ID, err)
	}
	inCtr := "/" + strings.TrimPrefix(strings.TrimPrefix(host, rootPrefix), "/")
	env := c.Config.Env
	if env == nil {
		env = []string{}
	}
	cmd := &exec.Cmd{Path: inCtr, Args: argv, Env: env, Dir: wd}
	nsFiles := make([]*os.File, 0, 5)
	defer func() {
		for _, f := range nsFiles {
			f.Close()
		}
	}()
	for _, ns := range []string{"ipc", "uts", "net", "pid", "mnt"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/%s", proc.PID, ns))
		if err != nil {
			return -1, fmt.Errorf("exec in container %q: %w", c.ID, err)
		}
		nsFiles = append(nsFiles, f)
	}
	start := func(cmd *exec.Cmd) error {
		err := onFreshThread(func() error {
			if err := unix.Unshare(unix.CLONE_FS); err != nil {
				return fmt.Errorf("unshare fs: %w", err)
			}
			for _, f := range nsFiles {
				if err := unix.Setns(int(f.Fd()), 0); err != nil {
					return fmt.Errorf("setns %s: %w", f.Name(), err)
				}
			}
			// The bounding set is per thread and inherited by the child;
			// this thread is thrown away afterwards.
			if err := dropCaps(); err != nil {
				return err
			}
			return cmd.Start()
		})
		if err != nil {
			return err
		}
		if err := b.cg.AddProc(d.cgroup, cmd.Process.Pid); err != nil {
			b.log.Warn("exec cgroup join failed", "container", c.ID, "err", err)
		}
		return nil
	}
	code, err := engine.RunCommand(ctx, cmd, streams, start)
	if err != nil {
		return code, fmt.Errorf("exec in container %q: %w", c.ID, err)
	}
	return code, nil
}

// overlaySupported tries an overlay mount in dir.
func overlaySupported(dir string) bool {
	tmp, err := os.MkdirTemp(dir, "overlay-probe-")
	if err != nil {
		return false
	}
	defer os.RemoveAll(tmp)
	for _, d := range []string{"l", "u", "w", "m"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o755); err != nil {
			return false
		}
	}
	m := filepath.Join(tmp, "m")
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", filepath.Join(tmp, "l"), filepath.Join(tmp, "u"), filepath.Join(tmp, "w"))
	if err := unix.Mount("overlay", m, "overlay", 0, opts); err != nil {
		return false
	}
	_ = unix.Unmount(m, unix.MNT_DETACH)
	return true
}

// recover adopts the sandboxes of a previous instance whose netns and veth
// survived, kills containers it left running, and releases everything else.
func (b *backend) recover() error {
	ents, err := os.ReadDir(filepath.Join(b.cfg.StateDir, "containers"))
	if err != nil {
		return err
	}
	for _, e := range ents {
		dir := b.containerDir(e.Name())
		var st containerState
		if data, err := os.ReadFile(filepath.Join(dir, "state.json")); err == nil && json.Unmarshal(data, &st) == nil && st.PID > 0 {
			if procStartTime(st.PID) == st.StartTime && st.StartTime != 0 {
				_ = syscall.Kill(st.PID, syscall.SIGKILL)
			}
			_ = b.cg.Destroy(podCgroup(st.SandboxID) + "/" + e.Name())
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		b.log.Info("removed container of previous instance", "container", e.Name())
	}
	owners := map[string]bool{}
	ents, err = os.ReadDir(filepath.Join(b.cfg.StateDir, "sandboxes"))
	if err != nil {
		return err
	}
	for _, e := range ents {
		id := e.Name()
		var st sandboxState
		data, err := os.ReadFile(filepath.Join(b.sandboxDir(id), "sandbox.json"))
		if err == nil {
			err = json.Unmarshal(data, &st)
		}
		ip, ipErr := netip.ParseAddr(st.IP)
		if err == nil && st.ID == id && st.Ready && ipErr == nil && isNetNS(b.netnsPath(id)) && b.node.hasVeth(id) {
			sb := &engine.Sandbox{ID: id, Config: st.Config, IP: ip, Created: st.Created}
			// Containers of the previous instance are gone: clear their cgroups.
			for _, dir := range b.cg.Dirs(podCgroup(id)) {
				subs, _ := os.ReadDir(dir)
				for _, s := range subs {
					if s.IsDir() {
						_ = b.cg.Destroy(podCgroup(id) + "/" + s.Name())
					}
				}
			}
			b.eng.Adopt(sb, true)
			owners[id] = true
			b.log.Info("recovered sandbox", "sandbox", id, "ip", ip)
			continue
		}
		_ = b.node.detach(id)
		_ = removeNetNS(b.netnsPath(id))
		_ = b.cg.Destroy(podCgroup(id))
		if err := os.RemoveAll(b.sandboxDir(id)); err != nil {
			return err
		}
		b.log.Info("removed sandbox of previous instance", "sandbox", id)
	}
	for ip, owner := range b.ipam.Allocations() {
		if !owners[owner] {
			if err := b.ipam.Release(ip); err != nil {
				return err
			}
		}
	}
	return nil
}
