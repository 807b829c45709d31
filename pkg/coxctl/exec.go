package coxctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/coxctl/podstream"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

func newExecCommand(f *factory) *cobra.Command {
	var stdin, tty, quiet bool
	var container string
	cmd := &cobra.Command{
		Use:   "exec (POD | TYPE/NAME) [-c CONTAINER] [flags] -- COMMAND [args...]",
		Short: "Execute a command in a container",
		Long: `Execute a command in a container. The exit status of the command becomes coxctl's.
With -t and a terminal on standard input, the terminal is put in raw mode and its size follows resizes.`,
		Example: `  coxctl exec web -- date
  coxctl exec -it web -c app -- sh
  coxctl exec deploy/web -- cat /etc/hosts`,
		ValidArgsFunction: f.completeFirstName(api.Pods),
		RunE: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			if dash < 0 || dash >= len(args) {
				return errors.New("you must specify a command after --, e.g. coxctl exec POD -- sh")
			}
			if dash != 1 {
				return errors.New("exactly one pod (POD or TYPE/NAME) is required before --")
			}
			ctx := cmd.Context()
			ns, _, err := f.Namespace()
			if err != nil {
				return err
			}
			c, err := f.Client(ctx)
			if err != nil {
				return err
			}
			pods, err := podsFor(ctx, c, ns, args[:1], "")
			if err != nil {
				return err
			}
			pod := pods[0]
			var note io.Writer = f.streams.ErrOut
			if quiet {
				note = nil
			}
			name, err := containerFor(pod, container, note)
			if err != nil {
				return err
			}
			if pod.GetStatus().GetPhase() == "Succeeded" || pod.GetStatus().GetPhase() == "Failed" {
				return fmt.Errorf("cannot exec into a container in a completed pod; current phase is %s", pod.GetStatus().GetPhase())
			}
			cfg := podstream.ExecConfig{
				Options: &corev1.ExecOptions{Namespace: pod.GetMetadata().GetNamespace(), Name: pod.GetMetadata().GetName(),
					Container: name, Command: args[dash:]},
				Stdout: f.streams.Out,
				Stderr: f.streams.ErrOut,
			}
			if stdin {
				cfg.Stdin = f.streams.In
			}
			if tty {
				restore, resize, ok := rawTerminal(ctx, f.streams.In, f.streams.Out)
				if ok {
					defer restore()
					cfg.Options.Tty = true
					cfg.Stderr = nil // a terminal carries one stream
					cfg.Resize = resize
				} else if !quiet {
					fmt.Fprintln(f.streams.ErrOut, "Unable to use a TTY - input is not a terminal or the right kind of file")
				}
			}
			code, err := podstream.Exec(ctx, c.PodStreams(), cfg)
			if err != nil {
				return err
			}
			if code != 0 {
				if !quiet {
					fmt.Fprintf(f.streams.ErrOut, "command terminated with exit code %d\n", code)
				}
				return exitError{code: code}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&stdin, "stdin", "i", false, "pass standard input to the container")
	fl.BoolVarP(&tty, "tty", "t", false, "standard input is a TTY")
	fl.StringVarP(&container, "container", "c", "", "the container to run the command in")
	fl.BoolVarP(&quiet, "quiet", "q", false, "only print the command's output")
	return cmd
}

// rawTerminal puts the terminal on in in raw mode and reports its size now and on every SIGWINCH. It
// reports false when in is not a terminal.
func rawTerminal(ctx context.Context, in io.Reader, out io.Writer) (restore func(), resize <-chan *corev1.TerminalSize, ok bool) {
	inf, isFile := in.(*os.File)
	if !isFile || !term.IsTerminal(int(inf.Fd())) {
		return nil, nil, false
	}
	state, err := term.MakeRaw(int(inf.Fd()))
	if err != nil {
		return nil, nil, false
	}
	sizeFd := int(inf.Fd())
	if outf, ok := out.(*os.File); ok && term.IsTerminal(int(outf.Fd())) {
		sizeFd = int(outf.Fd())
	}
	ch := make(chan *corev1.TerminalSize, 4)
	sendSize := func() {
		if w, h, err := term.GetSize(sizeFd); err == nil {
			select {
			case ch <- &corev1.TerminalSize{Width: uint32(w), Height: uint32(h)}:
			default:
			}
		}
	}
	sendSize()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-winch:
				sendSize()
			}
		}
	}()
	return func() {
		cancel()
		signal.Stop(winch)
		_ = term.Restore(int(inf.Fd()), state)
	}, ch, true
}
