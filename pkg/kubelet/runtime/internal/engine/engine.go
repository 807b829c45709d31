package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"

	"github.com/coxswain/coxswain/pkg/kubelet/runtime"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime/internal/procutil"
)

// Backend supplies the implementation-specific parts of a runtime. The
// engine serialises operations per container; sandbox operations may run
// concurrently for different sandboxes.
type Backend interface {
	Name() string
	// RunSandbox sets up the sandbox (sb.IP must be set on success).
	RunSandbox(ctx context.Context, sb *Sandbox) error
	// StopSandbox releases the sandbox network; its containers are dead.
	StopSandbox(ctx context.Context, sb *Sandbox) error
	// RemoveSandbox deletes what is left of a stopped sandbox.
	RemoveSandbox(ctx context.Context, sb *Sandbox) error
	// CreateContainer validates and prepares a container.
	CreateContainer(ctx context.Context, sb *Sandbox, c *Container) error
	// StartContainer starts the container's process on stdio. An error is a
	// start failure whose text is reported to the kubelet.
	StartContainer(ctx context.Context, sb *Sandbox, c *Container, stdio Stdio) (*Process, error)
	// ContainerExited turns the wait status into the reported exit code,
	// reason and message (e.g. detecting OOM kills) and releases per-run
	// resources.
	ContainerExited(c *Container, ws syscall.WaitStatus) (code int32, reason, message string)
	// RemoveContainer deletes the state of an exited container.
	RemoveContainer(ctx context.Context, c *Container) error
	// Exec runs cmd in the running container c.
	Exec(ctx context.Context, sb *Sandbox, c *Container, cmd []string, streams runtime.ExecStreams) (int, error)
}

// Stdio is what a container's process gets as fds 0, 1 and 2. With TTY, all
// three are the terminal and the process must become a session leader with
// it as controlling terminal (fd 0).
type Stdio struct {
	Stdin, Stdout, Stderr *os.File
	TTY                   bool
}

// Process is a started container process.
type Process struct {
	PID int // host PID
	// Wait blocks until the process exits; called exactly once.
	Wait func() (syscall.WaitStatus, error)
	// Signal delivers sig to the whole container.
	Signal func(sig syscall.Signal) error
}

// Sandbox is the engine's record of a pod sandbox.
type Sandbox struct {
	ID      string
	Config  runtime.PodSandboxConfig
	IP      netip.Addr
	Created time.Time
	Data    any // backend state

	ready      bool // guarded by Engine.mu
	containers map[string]*Container
}

// Container is the engine's record of a container.
type Container struct {
	ID        string
	SandboxID string
	Config    runtime.ContainerConfig
	Data      any // backend state

	op sync.Mutex // serialises Start/Stop/Remove

	// guarded by Engine.mu
	state    runtime.ContainerState
	pid      int
	exitCode int32
	reason   string
	message  string
	created  time.Time
	started  time.Time
	finished time.Time
	proc     *Process
	done     chan struct{} // closed when the process has exited and been accounted
	removed  bool
}

// Engine implements runtime.Runtime on top of a Backend.
type Engine struct {
	b   Backend
	log *slog.Logger

	mu         sync.Mutex
	sandboxes  map[string]*Sandbox
	containers map[string]*Container
}

var _ runtime.Runtime = (*Engine)(nil)

// New returns an engine for b. log may be nil.
func New(b Backend, log *slog.Logger) *Engine {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{b: b, log: log, sandboxes: map[string]*Sandbox{}, containers: map[string]*Container{}}
}

// NewID returns a random 16-hex-digit ID.
func NewID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Name returns the backend's name.
func (e *Engine) Name() string { return e.b.Name() }

// Adopt registers a sandbox recovered by the backend (e.g. after a restart).
func (e *Engine) Adopt(sb *Sandbox, ready bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	sb.ready = ready
	if sb.containers == nil {
		sb.containers = map[string]*Container{}
	}
	e.sandboxes[sb.ID] = sb
}

func (e *Engine) RunPodSandbox(ctx context.Context, cfg runtime.PodSandboxConfig) (string, error) {
	sb := &Sandbox{ID: NewID(), Config: cfg, Created: time.Now(), containers: map[string]*Container{}}
	if err := e.b.RunSandbox(ctx, sb); err != nil {
		return "", fmt.Errorf("run sandbox %s/%s: %w", cfg.Namespace, cfg.Name, err)
	}
	e.mu.Lock()
	sb.ready = true
	e.sandboxes[sb.ID] = sb
	e.mu.Unlock()
	e.log.Debug("sandbox started", "runtime", e.b.Name(), "sandbox", sb.ID, "pod", cfg.Namespace+"/"+cfg.Name, "ip", sb.IP)
	return sb.ID, nil
}

func (e *Engine) StopPodSandbox(ctx context.Context, id string) error {
	e.mu.Lock()
	sb, ok := e.sandboxes[id]
	if !ok {
		e.mu.Unlock()
		return nil
	}
	wasReady := sb.ready
	sb.ready = false
	cs := make([]*Container, 0, len(sb.containers))
	for _, c := range sb.containers {
		cs = append(cs, c)
	}
	e.mu.Unlock()
	var errs []error
	for _, c := range cs {
		if err := e.stop(ctx, c, 0); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("stop sandbox %s: %w", id, errors.Join(errs...))
	}
	if wasReady {
		if err := e.b.StopSandbox(ctx, sb); err != nil {
			return fmt.Errorf("stop sandbox %s: %w", id, err)
		}
		e.mu.Lock()
		sb.IP = netip.Addr{}
		e.mu.Unlock()
	}
	return nil
}

func (e *Engine) RemovePodSandbox(ctx context.Context, id string) error {
	if err := e.StopPodSandbox(ctx, id); err != nil {
		return err
	}
	e.mu.Lock()
	sb, ok := e.sandboxes[id]
	if !ok {
		e.mu.Unlock()
		return nil
	}
	cs := make([]*Container, 0, len(sb.containers))
	for _, c := range sb.containers {
		cs = append(cs, c)
	}
	e.mu.Unlock()
	for _, c := range cs {
		if err := e.RemoveContainer(ctx, c.ID); err != nil {
			return fmt.Errorf("remove sandbox %s: %w", id, err)
		}
	}
	if err := e.b.RemoveSandbox(ctx, sb); err != nil {
		return fmt.Errorf("remove sandbox %s: %w", id, err)
	}
	e.mu.Lock()
	delete(e.sandboxes, id)
	e.mu.Unlock()
	return nil
}

func (e *Engine) sandboxStatus(sb *Sandbox) runtime.SandboxStatus {
	st := runtime.SandboxStatus{ID: sb.ID, UID: sb.Config.UID, Name: sb.Config.Name, Namespace: sb.Config.Namespace, Ready: sb.ready, CreatedAt: sb.Created}
	if sb.ready && sb.IP.IsValid() {
		st.IP = sb.IP.String()
	}
	return st
}

func (e *Engine) PodSandboxStatus(ctx context.Context, id string) (runtime.SandboxStatus, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	sb, ok := e.sandboxes[id]
	if !ok {
		return runtime.SandboxStatus{}, fmt.Errorf("sandbox %q: %w", id, runtime.ErrNotFound)
	}
	return e.sandboxStatus(sb), nil
}

func (e *Engine) ListPodSandboxes(ctx context.Context) ([]runtime.SandboxStatus, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]runtime.SandboxStatus, 0, len(e.sandboxes))
	for _, sb := range e.sandboxes {
		out = append(out, e.sandboxStatus(sb))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// Sandbox returns the record of a sandbox (for backends' own helpers).
func (e *Engine) Sandbox(id string) (*Sandbox, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	sb, ok := e.sandboxes[id]
	return sb, ok
}

func (e *Engine) CreateContainer(ctx context.Context, sandboxID string, cfg runtime.ContainerConfig) (string, error) {
	if len(cfg.Command) == 0 || cfg.Command[0] == "" {
		return "", fmt.Errorf("create container %q: command is empty", cfg.Name)
	}
	c := &Container{ID: NewID(), SandboxID: sandboxID, Config: cfg, state: runtime.StateCreated, created: time.Now(), done: make(chan struct{})}
	c.op.Lock()
	defer c.op.Unlock()
	e.mu.Lock()
	sb, ok := e.sandboxes[sandboxID]
	switch {
	case !ok:
		e.mu.Unlock()
		return "", fmt.Errorf("create container %q: sandbox %q: %w", cfg.Name, sandboxID, runtime.ErrNotFound)
	case !sb.ready:
		e.mu.Unlock()
		return "", fmt.Errorf("create container %q: sandbox %q is not ready", cfg.Name, sandboxID)
	}
	sb.containers[c.ID] = c
	e.containers[c.ID] = c
	e.mu.Unlock()
	if err := e.b.CreateContainer(ctx, sb, c); err != nil {
		e.mu.Lock()
		delete(sb.containers, c.ID)
		delete(e.containers, c.ID)
		e.mu.Unlock()
		return "", fmt.Errorf("create container %q: %w", cfg.Name, err)
	}
	return c.ID, nil
}

func (e *Engine) lookup(id string) (*Container, *Sandbox, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.containers[id]
	if !ok {
		return nil, nil, fmt.Errorf("container %q: %w", id, runtime.ErrNotFound)
	}
	return c, e.sandboxes[c.SandboxID], nil
}

// openStdio prepares the container's stdio. cleanup releases the parent's
// copies after start; finish (run after the process exited) drains the
// terminal and closes the log.
func openStdio(cfg runtime.ContainerConfig) (st Stdio, afterStart func(), finish func(), err error) {
	logf, err := procutil.OpenLog(cfg.LogPath)
	if err != nil {
		return Stdio{}, nil, nil, err
	}
	if cfg.TTY {
		master, slave, err := pty.Open()
		if err != nil {
			logf.Close()
			return Stdio{}, nil, nil, fmt.Errorf("open pty: %w", err)
		}
		copied := make(chan struct{})
		go func() {
			defer close(copied)
			_, _ = io.Copy(logf, master) // ends with EIO once every slave fd is closed
		}()
		st = Stdio{Stdin: slave, Stdout: slave, Stderr: slave, TTY: true}
		return st, func() { slave.Close() }, func() {
			select {
			case <-copied:
			case <-time.After(2 * time.Second): // a stray holder of the slave
			}
			master.Close()
			<-copied
			logf.Close()
		}, nil
	}
	var stdin, stdinW *os.File
	if cfg.Stdin {
		stdin, stdinW, err = os.Pipe()
	} else {
		stdin, err = os.Open(os.DevNull)
	}
	if err != nil {
		logf.Close()
		return Stdio{}, nil, nil, fmt.Errorf("stdin: %w", err)
	}
	st = Stdio{Stdin: stdin, Stdout: logf, Stderr: logf}
	return st, func() { stdin.Close(); logf.Close() }, func() {
		if stdinW != nil {
			stdinW.Close()
		}
	}, nil
}

func (e *Engine) StartContainer(ctx context.Context, id string) error {
	c, sb, err := e.lookup(id)
	if err != nil {
		return err
	}
	c.op.Lock()
	defer c.op.Unlock()
	e.mu.Lock()
	state, removed := c.state, c.removed
	ready := sb != nil && sb.ready
	e.mu.Unlock()
	switch {
	case removed:
		return fmt.Errorf("start container %q: %w", id, runtime.ErrNotFound)
	case state != runtime.StateCreated:
		return fmt.Errorf("start container %q: state is %s, want %s", id, state, runtime.StateCreated)
	case !ready:
		return fmt.Errorf("start container %q: sandbox %q is not ready", id, c.SandboxID)
	}
	stdio, afterStart, finish, err := openStdio(c.Config)
	if err != nil {
		e.startFailed(c, err)
		return fmt.Errorf("start container %q: %w", id, err)
	}
	proc, err := e.b.StartContainer(ctx, sb, c, stdio)
	afterStart()
	if err != nil {
		finish()
		e.startFailed(c, err)
		return fmt.Errorf("start container %q: %w", id, err)
	}
	e.mu.Lock()
	c.state, c.pid, c.proc, c.started = runtime.StateRunning, proc.PID, proc, time.Now()
	e.mu.Unlock()
	go e.wait(c, proc, finish)
	return nil
}

func (e *Engine) startFailed(c *Container, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c.state = runtime.StateExited
	c.exitCode, c.reason, c.message = runtime.ExitCodeStartError, runtime.ReasonStartError, err.Error()
	c.finished = time.Now()
	close(c.done)
}

func (e *Engine) wait(c *Container, proc *Process, finish func()) {
	ws, err := proc.Wait()
	var code int32
	var reason, msg string
	if err != nil {
		code, reason, msg = -1, runtime.ReasonError, fmt.Sprintf("wait: %v", err)
		e.log.Warn("container wait failed", "container", c.ID, "err", err)
	} else {
		code, reason, msg = e.b.ContainerExited(c, ws)
	}
	finish()
	e.mu.Lock()
	c.state, c.pid, c.finished = runtime.StateExited, 0, time.Now()
	c.exitCode, c.reason, c.message = code, reason, msg
	e.mu.Unlock()
	close(c.done)
	e.log.Debug("container exited", "container", c.ID, "name", c.Config.Name, "code", code, "reason", reason)
}

func (e *Engine) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	c, _, err := e.lookup(id)
	if err != nil {
		return err
	}
	return e.stop(ctx, c, grace)
}

// stop ends c: SIGTERM, up to grace, SIGKILL, and waits for the exit.
func (e *Engine) stop(ctx context.Context, c *Container, grace time.Duration) error {
	c.op.Lock()
	defer c.op.Unlock()
	e.mu.Lock()
	state, proc := c.state, c.proc
	if state == runtime.StateCreated {
		c.state, c.finished = runtime.StateExited, time.Now()
		c.reason, c.message = runtime.ReasonCompleted, "stopped before it was started"
		close(c.done)
		e.mu.Unlock()
		return nil
	}
	e.mu.Unlock()
	if state != runtime.StateRunning {
		return nil
	}
	if grace > 0 {
		if err := proc.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			e.log.Warn("container sigterm failed", "container", c.ID, "err", err)
		}
		t := time.NewTimer(grace)
		select {
		case <-c.done:
			t.Stop()
			return nil
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	if err := proc.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop container %q: kill: %w", c.ID, err)
	}
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		// Keep waiting a little: SIGKILL is quick, a cancelled ctx should not
		// leave the container Running in our books.
		select {
		case <-c.done:
			return nil
		case <-time.After(10 * time.Second):
			return fmt.Errorf("stop container %q: %w", c.ID, ctx.Err())
		}
	}
}

func (e *Engine) RemoveContainer(ctx context.Context, id string) error {
	c, _, err := e.lookup(id)
	if err != nil {
		return nil
	}
	if err := e.stop(ctx, c, 0); err != nil {
		return fmt.Errorf("remove container %q: %w", id, err)
	}
	c.op.Lock()
	defer c.op.Unlock()
	e.mu.Lock()
	if c.removed {
		e.mu.Unlock()
		return nil
	}
	c.removed = true
	delete(e.containers, id)
	if sb, ok := e.sandboxes[c.SandboxID]; ok {
		delete(sb.containers, id)
	}
	e.mu.Unlock()
	if err := e.b.RemoveContainer(ctx, c); err != nil {
		return fmt.Errorf("remove container %q: %w", id, err)
	}
	return nil
}

func (e *Engine) containerStatus(c *Container) runtime.ContainerStatus {
	return runtime.ContainerStatus{
		ID: c.ID, SandboxID: c.SandboxID, Name: c.Config.Name, Image: c.Config.Image,
		State: c.state, PID: c.pid, ExitCode: c.exitCode, Reason: c.reason, Message: c.message,
		CreatedAt: c.created, StartedAt: c.started, FinishedAt: c.finished,
	}
}

func (e *Engine) ContainerStatus(ctx context.Context, id string) (runtime.ContainerStatus, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.containers[id]
	if !ok {
		return runtime.ContainerStatus{}, fmt.Errorf("container %q: %w", id, runtime.ErrNotFound)
	}
	return e.containerStatus(c), nil
}

func (e *Engine) ListContainers(ctx context.Context, sandboxID string) ([]runtime.ContainerStatus, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []runtime.ContainerStatus
	if sandboxID != "" {
		if sb, ok := e.sandboxes[sandboxID]; ok {
			for _, c := range sb.containers {
				out = append(out, e.containerStatus(c))
			}
		}
	} else {
		for _, c := range e.containers {
			out = append(out, e.containerStatus(c))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

func (e *Engine) Exec(ctx context.Context, containerID string, cmd []string, streams runtime.ExecStreams) (int, error) {
	c, sb, err := e.lookup(containerID)
	if err != nil {
		return -1, err
	}
	if len(cmd) == 0 || cmd[0] == "" {
		return -1, fmt.Errorf("exec in container %q: command is empty", containerID)
	}
	e.mu.Lock()
	state := c.state
	e.mu.Unlock()
	if state != runtime.StateRunning {
		return -1, fmt.Errorf("exec in container %q: state is %s, want %s", containerID, state, runtime.StateRunning)
	}
	return e.b.Exec(ctx, sb, c, cmd, streams)
}

// Shutdown removes every sandbox (killing all containers).
func (e *Engine) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	ids := make([]string, 0, len(e.sandboxes))
	for id := range e.sandboxes {
		ids = append(ids, id)
	}
	e.mu.Unlock()
	var errs []error
	for _, id := range ids {
		if err := e.RemovePodSandbox(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Running returns the running process of c, or nil.
func (e *Engine) Running(c *Container) *Process {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c.state != runtime.StateRunning {
		return nil
	}
	return c.proc
}
