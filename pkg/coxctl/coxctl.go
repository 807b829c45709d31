package coxctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/api/manifest"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/coxctl/config"
)

// IOStreams are the standard streams of a command.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// Main runs coxctl with the process's arguments and streams and exits with its status.
func Main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}

// Run executes coxctl with args and returns the exit status: 0 on success, the remote command's status
// for exec, 1 for any other error (printed on ErrOut the way kubectl prints it).
func Run(ctx context.Context, streams IOStreams, args []string) int {
	cmd, f := newCommand(streams)
	defer f.close()
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	return printError(streams.ErrOut, err)
}

// exitError carries a status without printing anything more (exec's remote exit code, or errors that
// were already reported).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// errSilent is a failure whose messages were already printed.
var errSilent = exitError{code: 1}

// unreachableError says the apiserver cannot be reached.
type unreachableError struct {
	addr, reason string
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("cannot reach the apiserver at %s (%s); start a cluster with 'make run' or pass --server", e.addr, e.reason)
}

// printError prints err like kubectl and returns the exit status.
func printError(w io.Writer, err error) int {
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var ue *unreachableError
	if errors.As(err, &ue) {
		fmt.Fprintf(w, "Error: %s\n", ue.Error())
		return 1
	}
	var de *manifest.DecodeError
	if errors.As(err, &de) {
		for _, fe := range de.Errors {
			fmt.Fprintf(w, "error: %s\n", fe.Error())
		}
		return 1
	}
	fmt.Fprintln(w, formatError(err))
	return 1
}

// formatError renders one error as kubectl does: "Error from server (NotFound): ...", "The Deployment
// "x" is invalid: ...", or "error: ...".
func formatError(err error) string {
	var se *apierrors.StatusError
	if errors.As(err, &se) {
		prefix := ""
		var ce *contextError
		if errors.As(err, &ce) {
			prefix = ce.context + ": "
		}
		if se.Reason == apierrors.ReasonInvalid {
			return "The " + kindWithoutGroup(se.Message)
		}
		reason := string(se.Reason)
		if reason == "" {
			reason = "Unknown"
		}
		return fmt.Sprintf("Error from server (%s): %s%s", reason, prefix, se.Message)
	}
	return "error: " + err.Error()
}

// kindWithoutGroup turns the apiserver's `Deployment.apps "x" is invalid` into kubectl's `Deployment "x"
// is invalid`.
func kindWithoutGroup(msg string) string {
	for _, r := range api.All() {
		if r.Group != "" && strings.HasPrefix(msg, r.Kind+"."+r.Group+" ") {
			return r.Kind + strings.TrimPrefix(msg, r.Kind+"."+r.Group)
		}
	}
	return msg
}

// contextError adds kubectl's "error when creating "file"" context to a server error.
type contextError struct {
	context string
	err     error
}

func (e *contextError) Error() string { return e.context + ": " + e.err.Error() }
func (e *contextError) Unwrap() error { return e.err }

// factory builds the client and resolves the configuration from the global flags.
type factory struct {
	streams    IOStreams
	configPath string
	context    string
	server     string
	namespace  string
	timeout    time.Duration

	resolved *config.Resolved
	client   *client.Client
}

func (f *factory) config() (*config.File, string, error) {
	path := config.Path(f.configPath)
	file, err := config.Load(path)
	return file, path, err
}

func (f *factory) resolve() (config.Resolved, error) {
	if f.resolved != nil {
		return *f.resolved, nil
	}
	file, _, err := f.config()
	if err != nil {
		return config.Resolved{}, err
	}
	r, err := file.Resolve(config.Overrides{Context: f.context, Server: f.server, Namespace: f.namespace})
	if err != nil {
		return r, err
	}
	f.resolved = &r
	return r, nil
}

// Namespace is the namespace to use and whether -n named it.
func (f *factory) Namespace() (string, bool, error) {
	r, err := f.resolve()
	if err != nil {
		return "", false, err
	}
	return r.Namespace, r.ExplicitNamespace, nil
}

// Client returns the apiserver client, after checking that the apiserver answers.
func (f *factory) Client(ctx context.Context) (*client.Client, error) {
	if f.client != nil {
		return f.client, nil
	}
	r, err := f.resolve()
	if err != nil {
		return nil, err
	}
	if err := checkReachable(ctx, r.Server); err != nil {
		return nil, err
	}
	c, err := client.New(client.Config{Server: r.Server, UserAgent: "coxctl"})
	if err != nil {
		return nil, err
	}
	f.client = c
	return c, nil
}

func (f *factory) close() {
	if f.client != nil {
		f.client.Close()
		f.client = nil
	}
}

// reachTimeout bounds the check that the apiserver answers.
const reachTimeout = 3 * time.Second

// checkReachable dials the apiserver so that a stopped cluster is one clear line, not a gRPC retry loop.
func checkReachable(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: reachTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return &unreachableError{addr: addr, reason: dialReason(err)}
	}
	conn.Close()
	return nil
}

func dialReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "no route to host"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network is unreachable"
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return "no such host " + dns.Name
	}
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return ae.Err
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}

// NewCommand builds the coxctl command tree writing to streams.
func NewCommand(streams IOStreams) *cobra.Command {
	cmd, f := newCommand(streams)
	cmd.PersistentPostRun = func(*cobra.Command, []string) { f.close() }
	return cmd
}

func newCommand(streams IOStreams) (*cobra.Command, *factory) {
	f := &factory{streams: streams}
	root := &cobra.Command{
		Use:   "coxctl",
		Short: "coxctl controls a coxswain cluster, as kubectl controls Kubernetes",
		Long: "coxctl controls a coxswain cluster, as kubectl controls Kubernetes.\n\n" +
			"It reads ~/.coxswain/config (or --config / $" + config.EnvVar + ") for the apiserver address and namespace.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	pf := root.PersistentFlags()
	pf.StringVar(&f.configPath, "config", "", "path of the coxctl configuration file (default $"+config.EnvVar+" or ~/.coxswain/config)")
	pf.StringVar(&f.context, "context", "", "the configuration context to use")
	pf.StringVar(&f.server, "server", "", "the apiserver address, host:port (overrides the context)")
	pf.StringVarP(&f.namespace, "namespace", "n", "", "the namespace scope of this request")
	pf.DurationVar(&f.timeout, "request-timeout", 0, "the time to wait for each server call of get, apply, create and delete (0: no limit)")
	_ = root.RegisterFlagCompletionFunc("namespace", f.completeNames(api.Namespaces))
	_ = root.RegisterFlagCompletionFunc("context", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		file, _, err := f.config()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for _, c := range file.Contexts {
			names = append(names, c.Name)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%v\nSee '%s --help' for usage.", err, c.CommandPath())
	})
	root.AddCommand(
		newApplyCommand(f), newCreateCommand(f), newDeleteCommand(f),
		newGetCommand(f), newDescribeCommand(f),
		newLogsCommand(f), newExecCommand(f), newPortForwardCommand(f),
		newScaleCommand(f), newRolloutCommand(f),
		newLabelCommand(f, "label"), newLabelCommand(f, "annotate"),
		newCordonCommand(f, true), newCordonCommand(f, false), newDrainCommand(f),
		newEditCommand(f), newExplainCommand(f), newVersionCommand(f), newAPIResourcesCommand(f),
		newConfigCommand(f), newCompletionCommand(f),
	)
	return root, f
}

// callCtx bounds one server call by --request-timeout.
func (f *factory) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if f.timeout > 0 {
		return context.WithTimeout(ctx, f.timeout)
	}
	return context.WithCancel(ctx)
}
