package process

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/coxswain/coxswain/pkg/kubelet/runtime"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime/internal/engine"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime/internal/fsroot"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime/internal/ipam"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime/internal/procutil"
)

// DefaultIPRange is the loopback range sandbox IPs come from by default.
const DefaultIPRange = "127.100.0.0/16"

// Config configures the process runtime.
type Config struct {
	// IPRange is the prefix sandbox IPs are allocated from (default
	// DefaultIPRange). It should lie in 127.0.0.0/8.
	IPRange string
	Logger  *slog.Logger
}

// Runtime is the process runtime; it implements runtime.Runtime.
type Runtime struct {
	*engine.Engine
	b *backend
}

var _ runtime.Runtime = (*Runtime)(nil)

// New returns a process runtime.
func New(cfg Config) (*Runtime, error) {
	if cfg.IPRange == "" {
		cfg.IPRange = DefaultIPRange
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p, err := netip.ParsePrefix(cfg.IPRange)
	if err != nil {
		return nil, fmt.Errorf("process runtime: IPRange %q: %w", cfg.IPRange, err)
	}
	a, err := ipam.New(ipam.Config{Prefix: p})
	if err != nil {
		return nil, fmt.Errorf("process runtime: IPRange: %w", err)
	}
	b := &backend{ipam: a, log: cfg.Logger}
	return &Runtime{Engine: engine.New(b, cfg.Logger), b: b}, nil
}

// Run blocks until ctx is done, then kills every container and releases
// every sandbox.
func (r *Runtime) Run(ctx context.Context) error {
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return r.Shutdown(sctx)
}

type backend struct {
	ipam *ipam.Allocator
	log  *slog.Logger
}

func (b *backend) Name() string { return "process" }

func (b *backend) RunSandbox(ctx context.Context, sb *engine.Sandbox) error {
	ip, err := b.ipam.Allocate(sb.ID)
	if err != nil {
		return err
	}
	sb.IP = ip
	return nil
}

func (b *backend) StopSandbox(ctx context.Context, sb *engine.Sandbox) error {
	return b.ipam.Release(sb.IP)
}

func (b *backend) RemoveSandbox(ctx context.Context, sb *engine.Sandbox) error { return nil }

func (b *backend) CreateContainer(ctx context.Context, sb *engine.Sandbox, c *engine.Container) error {
	if c.Config.RootFS != "" {
		fi, err := os.Stat(c.Config.RootFS)
		if err != nil {
			return fmt.Errorf("RootFS: %w", err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("RootFS %s: not a directory", c.Config.RootFS)
		}
	}
	if len(c.Config.Mounts) > 0 {
		b.log.Debug("process runtime ignores mounts", "container", c.ID, "mounts", len(c.Config.Mounts))
	}
	return nil
}

// command builds the exec.Cmd for argv following the package's resolution rules.
func command(cfg runtime.ContainerConfig, argv []string) (*exec.Cmd, error) {
	root, dir, lookupDir := "/", cfg.WorkingDir, cfg.WorkingDir
	pathEnv, hasPath := fsroot.EnvValue(cfg.Env, "PATH")
	if cfg.RootFS != "" {
		root = cfg.RootFS
		if lookupDir == "" {
			lookupDir = "/"
		}
		var err error
		if dir, err = fsroot.Resolve(root, lookupDir); err != nil {
			return nil, fmt.Errorf("working dir: %w", err)
		}
	} else {
		if !hasPath {
			pathEnv = os.Getenv("PATH")
		}
		if lookupDir == "" {
			wd, err := os.Getwd()
			if err != nil {
				return nil, fmt.Errorf("working dir: %w", err)
			}
			lookupDir = wd
		}
	}
	path, err := fsroot.LookPath(root, argv[0], pathEnv, lookupDir)
	if err != nil {
		return nil, err
	}
	env := cfg.Env
	if env == nil {
		env = []string{}
	}
	return &exec.Cmd{Path: path, Args: argv, Env: env, Dir: dir}, nil
}

func (b *backend) StartContainer(ctx context.Context, sb *engine.Sandbox, c *engine.Container, stdio engine.Stdio) (*engine.Process, error) {
	cmd, err := command(c.Config, c.Config.Command)
	if err != nil {
		return nil, err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.Stdin, stdio.Stdout, stdio.Stderr
	if stdio.TTY {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	} else {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pid := cmd.Process.Pid
	return &engine.Process{
		PID: pid,
		Wait: func() (syscall.WaitStatus, error) {
			err := cmd.Wait()
			// Like the end of a PID namespace: the group dies with its leader.
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				return 0, err
			}
			return cmd.ProcessState.Sys().(syscall.WaitStatus), nil
		},
		Signal: func(sig syscall.Signal) error {
			err := syscall.Kill(-pid, sig)
			if errors.Is(err, syscall.ESRCH) {
				err = syscall.Kill(pid, sig)
			}
			return err
		},
	}, nil
}

func (b *backend) ContainerExited(c *engine.Container, ws syscall.WaitStatus) (int32, string, string) {
	return procutil.ExitInfo(ws)
}

func (b *backend) RemoveContainer(ctx context.Context, c *engine.Container) error { return nil }

func (b *backend) Exec(ctx context.Context, sb *engine.Sandbox, c *engine.Container, argv []string, streams runtime.ExecStreams) (int, error) {
	cmd, err := command(c.Config, argv)
	if err != nil {
		return -1, fmt.Errorf("exec in container %q: %w", c.ID, err)
	}
	return engine.RunCommand(ctx, cmd, streams, nil)
}
