package coxctl

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/client"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

type deleteOptions struct {
	files          fileOptions
	selector       string
	fieldSelector  string
	all            bool
	allNamespaces  bool
	cascade        string
	gracePeriod    int
	now            bool
	force          bool
	wait           bool
	timeout        time.Duration
	ignoreNotFound bool
}

func newDeleteCommand(f *factory) *cobra.Command {
	o := &deleteOptions{}
	cmd := &cobra.Command{
		Use:   "delete ([-f FILENAME] | TYPE [(NAME | -l label | --all)])",
		Short: "Delete objects by file names, standard input, names or label selectors",
		Example: `  coxctl delete pod web
  coxctl delete -f deployment.yaml
  coxctl delete pods -l app=web
  coxctl delete deploy/web --cascade=orphan
  coxctl delete pods --all --now`,
		ValidArgsFunction: f.completeResourceArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), f, args)
		},
	}
	o.files.addFlags(cmd, "of the objects to delete")
	fl := cmd.Flags()
	fl.StringVarP(&o.selector, "selector", "l", "", "delete the objects matching this label selector")
	fl.StringVar(&o.fieldSelector, "field-selector", "", "delete the objects matching this field selector")
	fl.BoolVar(&o.all, "all", false, "delete every object of the type in the namespace")
	fl.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "with a selector or --all, delete in every namespace")
	fl.StringVar(&o.cascade, "cascade", "background", `"background", "foreground" or "orphan": how dependents (a deployment's replicasets...) are deleted`)
	fl.IntVar(&o.gracePeriod, "grace-period", -1, "seconds a pod gets to terminate (-1: its own; 0 needs --force)")
	fl.BoolVar(&o.now, "now", false, "signal the pods for immediate shutdown (same as --grace-period=1)")
	fl.BoolVar(&o.force, "force", false, "remove the objects at once, without waiting for their termination (with --grace-period=0)")
	fl.BoolVar(&o.wait, "wait", true, "wait until the objects are gone before returning")
	fl.DurationVar(&o.timeout, "timeout", 0, "how long to wait for the deletion (0: no limit)")
	fl.BoolVar(&o.ignoreNotFound, "ignore-not-found", false, "treat objects that are not found as deleted")
	_ = cmd.RegisterFlagCompletionFunc("cascade", cobra.FixedCompletions([]string{"background", "foreground", "orphan"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

type target struct {
	res    *api.Resource
	ns     string
	name   string
	source string
}

func (o *deleteOptions) request() (*metav1.DeleteRequest, error) {
	req := &metav1.DeleteRequest{}
	switch o.cascade {
	case "background", "true", "":
		req.PropagationPolicy = "Background"
	case "foreground":
		req.PropagationPolicy = "Foreground"
	case "orphan", "false":
		req.PropagationPolicy = "Orphan"
	default:
		return nil, fmt.Errorf(`invalid cascade value (%s). Must be "background", "foreground", or "orphan"`, o.cascade)
	}
	grace := o.gracePeriod
	if o.now {
		if grace >= 0 {
			return nil, errors.New("--now and --grace-period cannot be specified together")
		}
		grace = 1
	}
	if o.force && grace < 0 {
		grace = 0
	}
	if grace == 0 && !o.force {
		grace = 1 // kubectl: 0 means immediate deletion only with --force
	}
	if grace >= 0 {
		req.GracePeriodSeconds = proto.Int64(int64(grace))
	}
	return req, nil
}

func (o *deleteOptions) run(ctx context.Context, f *factory, args []string) error {
	req, err := o.request()
	if err != nil {
		return err
	}
	ns, explicit, err := f.Namespace()
	if err != nil {
		return err
	}
	var targets []target
	var c *client.Client
	if len(o.files.filenames) > 0 {
		if len(args) > 0 {
			return errors.New("cannot specify both resource arguments and -f")
		}
		docs, err := o.files.readManifests(f.streams.In)
		if err != nil {
			return err
		}
		if err := prepare(docs, ns, explicit); err != nil {
			return err
		}
		for _, d := range docs {
			m := d.Object.GetMetadata()
			targets = append(targets, target{res: d.Resource, ns: nsFor(d.Resource, m.GetNamespace()), name: m.GetName(), source: d.Source})
		}
		if c, err = f.Client(ctx); err != nil {
			return err
		}
	} else {
		rargs, err := parseResourceArgs(args)
		if err != nil {
			return errors.New("you must provide one or more resources by argument or filename")
		}
		named := false
		for _, ra := range rargs {
			named = named || len(ra.names) > 0
		}
		switch {
		case named && (o.selector != "" || o.all):
			return errors.New("name cannot be provided when a selector or --all is specified")
		case !named && o.selector == "" && o.fieldSelector == "" && !o.all:
			return fmt.Errorf("resource(s) were provided, but no name was specified")
		}
		if c, err = f.Client(ctx); err != nil {
			return err
		}
		for _, ra := range rargs {
			if named {
				for _, n := range ra.names {
					targets = append(targets, target{res: ra.res, ns: nsFor(ra.res, ns), name: n})
				}
				continue
			}
			lo := &metav1.ListOptions{LabelSelector: o.selector, FieldSelector: o.fieldSelector}
			if ra.res.Namespaced && !o.allNamespaces {
				lo.Namespace = ns
			}
			cctx, cancel := f.callCtx(ctx)
			items, _, err := dyn(c, ra.res).List(cctx, lo)
			cancel()
			if err != nil {
				return err
			}
			sortForPrinting(ra.res, items)
			for _, it := range items {
				targets = append(targets, target{res: ra.res, ns: it.GetMetadata().GetNamespace(), name: it.GetMetadata().GetName()})
			}
		}
		if len(targets) == 0 {
			fmt.Fprintln(f.streams.ErrOut, "No resources found")
			return nil
		}
	}
	if o.force {
		fmt.Fprintln(f.streams.ErrOut, "Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.")
	}
	var errs []error
	type pending struct {
		t   target
		uid string
	}
	var waits []pending
	for _, t := range targets {
		r := proto.Clone(req).(*metav1.DeleteRequest)
		r.Namespace, r.Name = t.ns, t.name
		cctx, cancel := f.callCtx(ctx)
		obj, err := dyn(c, t.res).Delete(cctx, r)
		cancel()
		if err != nil {
			if apierrors.IsNotFound(err) && o.ignoreNotFound {
				continue
			}
			if t.source != "" {
				err = &contextError{context: fmt.Sprintf("error when deleting %q", t.source), err: err}
			}
			errs = append(errs, err)
			continue
		}
		verb := "deleted"
		if o.force && req.GetGracePeriodSeconds() == 0 {
			verb = "force deleted"
		}
		fmt.Fprintf(f.streams.Out, "%s %q %s\n", typeName(t.res), t.name, verb)
		if o.wait {
			waits = append(waits, pending{t, obj.GetMetadata().GetUid()})
		}
	}
	if len(waits) > 0 {
		wctx := ctx
		if o.timeout > 0 {
			var cancel context.CancelFunc
			wctx, cancel = context.WithTimeout(ctx, o.timeout)
			defer cancel()
		}
		for _, p := range waits {
			if err := waitGone(wctx, c, p.t.res, p.t.ns, p.t.name, p.uid); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return reportAll(f.streams.ErrOut, errs)
}

// waitGone polls until the object (of that uid) no longer exists.
func waitGone(ctx context.Context, c *client.Client, r *api.Resource, ns, name, uid string) error {
	delay := 50 * time.Millisecond
	for {
		obj, err := dyn(c, r).Get(ctx, ns, name)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err == nil && uid != "" && obj.GetMetadata().GetUid() != uid {
			return nil // a new object of the same name
		}
		if err != nil && !timedOut(ctx, err) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for the deletion of %s %q", typeName(r), name)
		case <-time.After(delay):
		}
		if delay < time.Second {
			delay *= 2
		}
	}
}
