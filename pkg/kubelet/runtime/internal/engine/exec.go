package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/creack/pty"

	"github.com/coxswain/coxswain/pkg/kubelet/runtime"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime/internal/procutil"
)

// RunCommand runs cmd attached to streams and returns its exit code (128+n
// for a death by signal n). start starts cmd (nil: cmd.Start); backends use it
// to start from inside namespaces. The command gets its own process group
// (or session, with a TTY); cancelling ctx SIGKILLs that group and returns
// ctx's error.
func RunCommand(ctx context.Context, cmd *exec.Cmd, streams runtime.ExecStreams, start func(*exec.Cmd) error) (int, error) {
	if start == nil {
		start = (*exec.Cmd).Start
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	var master, slave *os.File
	if streams.TTY {
		var err error
		master, slave, err = pty.Open()
		if err != nil {
			return -1, fmt.Errorf("exec: open pty: %w", err)
		}
		defer master.Close()
		select {
		case sz := <-streams.Resize:
			_ = pty.Setsize(master, &pty.Winsize{Rows: sz.Height, Cols: sz.Width})
		default:
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, true, 0
	} else {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = streams.Stdin, streams.Stdout, streams.Stderr
		cmd.SysProcAttr.Setpgid = true
		cmd.WaitDelay = 2 * time.Second // don't hang on grandchildren holding the pipes
	}
	err := start(cmd)
	if slave != nil {
		slave.Close()
	}
	if err != nil {
		return -1, err
	}
	pid := cmd.Process.Pid
	done := make(chan struct{})
	killed := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			close(killed)
		case <-done:
		}
	}()
	var outDone chan struct{}
	if master != nil {
		outDone = make(chan struct{})
		go func() {
			defer close(outDone)
			w := streams.Stdout
			if w == nil {
				w = io.Discard
			}
			_, _ = io.Copy(w, master)
		}()
		if streams.Stdin != nil {
			go func() { _, _ = io.Copy(master, streams.Stdin) }()
		}
		if streams.Resize != nil {
			go func() {
				for {
					select {
					case sz, ok := <-streams.Resize:
						if !ok {
							return
						}
						_ = pty.Setsize(master, &pty.Winsize{Rows: sz.Height, Cols: sz.Width})
					case <-done:
						return
					}
				}
			}()
		}
	}
	werr := cmd.Wait()
	close(done)
	if outDone != nil {
		select {
		case <-outDone:
		case <-time.After(2 * time.Second):
		}
	}
	if cmd.ProcessState == nil {
		return -1, fmt.Errorf("exec: wait: %w", werr)
	}
	code, _, _ := procutil.ExitInfo(cmd.ProcessState.Sys().(syscall.WaitStatus))
	select {
	case <-killed:
		return int(code), fmt.Errorf("exec: %w", ctx.Err())
	default:
	}
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) && !errors.Is(werr, exec.ErrWaitDelay) {
		return int(code), fmt.Errorf("exec: %w", werr)
	}
	return int(code), nil
}
