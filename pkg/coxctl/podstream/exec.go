package podstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// ExecConfig describes one exec session.
type ExecConfig struct {
	// Options name the pod, container and command; Stdin/Stdout/Stderr/Tty are set from the fields below
	// when left false.
	Options *corev1.ExecOptions
	// Stdin is sent to the command when set; its EOF closes the command's stdin.
	Stdin io.Reader
	// Stdout and Stderr receive the command's output (with a TTY everything arrives on Stdout).
	Stdout, Stderr io.Writer
	// Resize delivers terminal size changes (the first one is sent right away).
	Resize <-chan *corev1.TerminalSize
}

// ErrNoExitCode is returned when the stream ends before the remote command reported its exit code.
var ErrNoExitCode = errors.New("the exec stream ended before the command exited")

// Exec runs a command in a container and returns its exit code.
func Exec(ctx context.Context, c corev1.PodServiceClient, cfg ExecConfig) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := cfg.Options
	if cfg.Stdin != nil {
		opts.Stdin = true
	}
	if cfg.Stdout != nil {
		opts.Stdout = true
	}
	if cfg.Stderr != nil {
		opts.Stderr = true
	}
	stream, err := c.Exec(ctx)
	if err != nil {
		return 0, apierrors.FromGRPC(err)
	}
	var sendMu sync.Mutex
	send := func(in *corev1.ExecInput) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return stream.Send(in)
	}
	if err := send(&corev1.ExecInput{Options: opts}); err != nil {
		return 0, recvError(stream, err)
	}
	if cfg.Stdin != nil {
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := cfg.Stdin.Read(buf)
				if n > 0 {
					if send(&corev1.ExecInput{Stdin: append([]byte(nil), buf[:n]...)}) != nil {
						return
					}
				}
				if err != nil {
					_ = send(&corev1.ExecInput{CloseStdin: true})
					return
				}
			}
		}()
	}
	if cfg.Resize != nil {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case sz, ok := <-cfg.Resize:
					if !ok {
						return
					}
					if send(&corev1.ExecInput{Resize: sz}) != nil {
						return
					}
				}
			}
		}()
	}
	for {
		out, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return 0, ErrNoExitCode
		}
		if err != nil {
			return 0, apierrors.FromGRPC(err)
		}
		if len(out.GetStdout()) > 0 && cfg.Stdout != nil {
			if _, err := cfg.Stdout.Write(out.GetStdout()); err != nil {
				return 0, fmt.Errorf("write stdout: %w", err)
			}
		}
		if len(out.GetStderr()) > 0 {
			w := cfg.Stderr
			if w == nil {
				w = cfg.Stdout
			}
			if w != nil {
				if _, err := w.Write(out.GetStderr()); err != nil {
					return 0, fmt.Errorf("write stderr: %w", err)
				}
			}
		}
		if out.GetExited() {
			return int(out.GetExitCode()), nil
		}
	}
}

// recvError returns the server's status when a Send failed because the server ended the stream.
func recvError(stream corev1.PodService_ExecClient, sendErr error) error {
	if errors.Is(sendErr, io.EOF) {
		if _, err := stream.Recv(); err != nil && !errors.Is(err, io.EOF) {
			return apierrors.FromGRPC(err)
		}
	}
	return apierrors.FromGRPC(sendErr)
}
