package fake

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/coxswain/coxswain/pkg/kubelet/runtime"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime/internal/ipam"
)

// Behavior scripts one container.
type Behavior struct {
	// StartDelay makes StartContainer block this long (or until ctx ends).
	StartDelay time.Duration
	// RunFor > 0 makes the container exit by itself after RunFor with ExitCode
	// (and Reason: Completed for 0, Error otherwise, OOMKilled if OOM).
	RunFor   time.Duration
	ExitCode int32
	OOM      bool
	// StartError, if set, makes StartContainer fail with this message.
	StartError string
}

// Config configures a fake runtime.
type Config struct {
	// PodCIDR is the range sandbox IPs come from; default 10.88.0.0/16.
	PodCIDR string
	// Behavior, if set, is consulted by CreateContainer for each container.
	Behavior func(sandboxID string, cfg *runtime.ContainerConfig) Behavior
	// Exec, if set, runs exec requests; default: exit code 0, no output.
	Exec func(ctx context.Context, containerID string, cmd []string, streams runtime.ExecStreams) (int, error)
}

// Runtime is the fake runtime. Use New.
type Runtime struct {
	cfg  Config
	ipam *ipam.Allocator

	mu         sync.Mutex
	seq        uint64
	sandboxes  map[string]*sandbox
	containers map[string]*container
}

var _ runtime.Runtime = (*Runtime)(nil)

type sandbox struct {
	id, uid, name, namespace string
	ip                       netip.Addr
	ready                    bool
	created                  int64
	containers               []*container
}

type container struct {
	id, name, image string
	sb              *sandbox
	state           runtime.ContainerState
	exitCode        int32
	oom             bool
	reason, message string
	created         int64
	started         int64
	finished        int64
	exitAt          int64 // scripted exit time, 0 = none
	behavior        *Behavior
}

// New returns a fake runtime.
func New(cfg Config) (*Runtime, error) {
	if cfg.PodCIDR == "" {
		cfg.PodCIDR = "10.88.0.0/16"
	}
	p, err := netip.ParsePrefix(cfg.PodCIDR)
	if err != nil {
		return nil, fmt.Errorf("fake runtime: PodCIDR %q: %w", cfg.PodCIDR, err)
	}
	a, err := ipam.New(ipam.Config{Prefix: p})
	if err != nil {
		return nil, fmt.Errorf("fake runtime: PodCIDR: %w", err)
	}
	return &Runtime{cfg: cfg, ipam: a, sandboxes: map[string]*sandbox{}, containers: map[string]*container{}}, nil
}

// Name returns "fake".
func (r *Runtime) Name() string { return "fake" }

func (r *Runtime) nextID(prefix string) string {
	r.seq++
	return prefix + strconv.FormatUint(r.seq, 36)
}

func now() int64 { return time.Now().UnixNano() }

func toTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func (r *Runtime) RunPodSandbox(ctx context.Context, cfg runtime.PodSandboxConfig) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := r.nextID("s")
	ip, err := r.ipam.Allocate(id)
	if err != nil {
		return "", fmt.Errorf("run sandbox %s/%s: %w", cfg.Namespace, cfg.Name, err)
	}
	r.sandboxes[id] = &sandbox{id: id, uid: cfg.UID, name: cfg.Name, namespace: cfg.Namespace, ip: ip, ready: true, created: now()}
	return id, nil
}

func (r *Runtime) StopPodSandbox(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	sb, ok := r.sandboxes[id]
	if !ok {
		return nil
	}
	r.stopSandboxLocked(sb)
	return nil
}

func (r *Runtime) stopSandboxLocked(sb *sandbox) {
	t := now()
	for _, c := range sb.containers {
		c.refresh(t)
		if c.state == runtime.StateRunning || c.state == runtime.StateCreated {
			c.exit(t, 137, runtime.ReasonError, "killed by signal 9 (SIGKILL)")
		}
	}
	if sb.ready {
		sb.ready = false
		_ = r.ipam.Release(sb.ip)
		sb.ip = netip.Addr{}
	}
}

func (r *Runtime) RemovePodSandbox(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	sb, ok := r.sandboxes[id]
	if !ok {
		return nil
	}
	r.stopSandboxLocked(sb)
	for _, c := range sb.containers {
		delete(r.containers, c.id)
	}
	delete(r.sandboxes, id)
	return nil
}

func (sb *sandbox) status() runtime.SandboxStatus {
	s := runtime.SandboxStatus{ID: sb.id, UID: sb.uid, Name: sb.name, Namespace: sb.namespace, Ready: sb.ready, CreatedAt: toTime(sb.created)}
	if sb.ip.IsValid() {
		s.IP = sb.ip.String()
	}
	return s
}

func (r *Runtime) PodSandboxStatus(ctx context.Context, id string) (runtime.SandboxStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sb, ok := r.sandboxes[id]
	if !ok {
		return runtime.SandboxStatus{}, fmt.Errorf("sandbox %q: %w", id, runtime.ErrNotFound)
	}
	return sb.status(), nil
}

func (r *Runtime) ListPodSandboxes(ctx context.Context) ([]runtime.SandboxStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]runtime.SandboxStatus, 0, len(r.sandboxes))
	for _, sb := range r.sandboxes {
		out = append(out, sb.status())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

func (r *Runtime) CreateContainer(ctx context.Context, sandboxID string, cfg runtime.ContainerConfig) (string, error) {
	if len(cfg.Command) == 0 {
		return "", fmt.Errorf("create container %q: command is empty", cfg.Name)
	}
	var b *Behavior
	if r.cfg.Behavior != nil {
		bh := r.cfg.Behavior(sandboxID, &cfg)
		if bh != (Behavior{}) {
			b = &bh
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	sb, ok := r.sandboxes[sandboxID]
	if !ok {
		return "", fmt.Errorf("create container %q: sandbox %q: %w", cfg.Name, sandboxID, runtime.ErrNotFound)
	}
	if !sb.ready {
		return "", fmt.Errorf("create container %q: sandbox %q is not ready", cfg.Name, sandboxID)
	}
	c := &container{id: r.nextID("c"), name: cfg.Name, image: cfg.Image, sb: sb, state: runtime.StateCreated, created: now(), behavior: b}
	r.containers[c.id] = c
	sb.containers = append(sb.containers, c)
	return c.id, nil
}

func (c *container) exit(t int64, code int32, reason, msg string) {
	c.state = runtime.StateExited
	c.exitCode, c.reason, c.message = code, reason, msg
	c.finished = t
	c.exitAt = 0
}

// refresh applies a scripted exit whose time has come.
func (c *container) refresh(t int64) {
	if c.state != runtime.StateRunning || c.exitAt == 0 || t < c.exitAt {
		return
	}
	b := c.behavior
	reason := runtime.ReasonCompleted
	code := b.ExitCode
	switch {
	case b.OOM:
		reason, code = runtime.ReasonOOMKilled, runtime.ExitCodeOOMKilled
	case code != 0:
		reason = runtime.ReasonError
	}
	c.exit(c.exitAt, code, reason, "")
}

func (r *Runtime) lookup(id string) (*container, error) {
	c, ok := r.containers[id]
	if !ok {
		return nil, fmt.Errorf("container %q: %w", id, runtime.ErrNotFound)
	}
	c.refresh(now())
	return c, nil
}

func (r *Runtime) StartContainer(ctx context.Context, id string) error {
	r.mu.Lock()
	c, err := r.lookup(id)
	if err != nil {
		r.mu.Unlock()
		return err
	}
	if c.state != runtime.StateCreated {
		r.mu.Unlock()
		return fmt.Errorf("start container %q: state is %s, want %s", id, c.state, runtime.StateCreated)
	}
	b := c.behavior
	r.mu.Unlock()
	if b != nil && b.StartDelay > 0 {
		t := time.NewTimer(b.StartDelay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("start container %q: %w", id, ctx.Err())
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.state != runtime.StateCreated { // stopped or removed meanwhile
		return fmt.Errorf("start container %q: state changed to %s while starting", id, c.state)
	}
	t := now()
	if b != nil && b.StartError != "" {
		c.exit(t, runtime.ExitCodeStartError, runtime.ReasonStartError, b.StartError)
		return fmt.Errorf("start container %q: %s", id, b.StartError)
	}
	c.state = runtime.StateRunning
	c.started = t
	if b != nil && b.RunFor > 0 {
		c.exitAt = t + int64(b.RunFor)
	}
	return nil
}

func (r *Runtime) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.lookup(id)
	if err != nil {
		return err
	}
	switch c.state {
	case runtime.StateRunning:
		c.exit(now(), 143, runtime.ReasonError, "killed by signal 15 (SIGTERM)")
	case runtime.StateCreated:
		c.exit(now(), 0, runtime.ReasonCompleted, "stopped before start")
	}
	return nil
}

// ExitContainer makes a running container exit now with code and reason
// ("" picks Completed or Error from the code), simulating a crash.
func (r *Runtime) ExitContainer(id string, code int32, reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.lookup(id)
	if err != nil {
		return err
	}
	if c.state != runtime.StateRunning {
		return fmt.Errorf("exit container %q: state is %s, want %s", id, c.state, runtime.StateRunning)
	}
	if reason == "" {
		reason = runtime.ReasonCompleted
		if code != 0 {
			reason = runtime.ReasonError
		}
	}
	c.exit(now(), code, reason, "")
	return nil
}

func (r *Runtime) RemoveContainer(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return nil
	}
	delete(r.containers, id)
	cs := c.sb.containers
	for i, x := range cs {
		if x == c {
			cs[i] = cs[len(cs)-1]
			cs[len(cs)-1] = nil
			c.sb.containers = cs[:len(cs)-1]
			break
		}
	}
	if c.state != runtime.StateExited {
		c.exit(now(), 137, runtime.ReasonError, "removed")
	}
	return nil
}

func (c *container) status() runtime.ContainerStatus {
	return runtime.ContainerStatus{
		ID: c.id, SandboxID: c.sb.id, Name: c.name, Image: c.image, State: c.state,
		ExitCode: c.exitCode, Reason: c.reason, Message: c.message,
		CreatedAt: toTime(c.created), StartedAt: toTime(c.started), FinishedAt: toTime(c.finished),
	}
}

func (r *Runtime) ContainerStatus(ctx context.Context, id string) (runtime.ContainerStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.lookup(id)
	if err != nil {
		return runtime.ContainerStatus{}, err
	}
	return c.status(), nil
}

func (r *Runtime) ListContainers(ctx context.Context, sandboxID string) ([]runtime.ContainerStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := now()
	var out []runtime.ContainerStatus
	add := func(c *container) {
		c.refresh(t)
		out = append(out, c.status())
	}
	if sandboxID != "" {
		if sb, ok := r.sandboxes[sandboxID]; ok {
			for _, c := range sb.containers {
				add(c)
			}
		}
	} else {
		for _, c := range r.containers {
			add(c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

func (r *Runtime) Exec(ctx context.Context, containerID string, cmd []string, streams runtime.ExecStreams) (int, error) {
	r.mu.Lock()
	c, err := r.lookup(containerID)
	if err == nil && c.state != runtime.StateRunning {
		err = fmt.Errorf("exec in container %q: state is %s, want %s", containerID, c.state, runtime.StateRunning)
	}
	r.mu.Unlock()
	if err != nil {
		return -1, err
	}
	if len(cmd) == 0 {
		return -1, errors.New("exec: command is empty")
	}
	if r.cfg.Exec != nil {
		return r.cfg.Exec(ctx, containerID, cmd, streams)
	}
	return 0, nil
}
