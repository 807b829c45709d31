package coxctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/coxctl/printers"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

type getOptions struct {
	output         string
	selector       string
	fieldSelector  string
	allNamespaces  bool
	watch          bool
	watchOnly      bool
	noHeaders      bool
	showLabels     bool
	showKind       bool
	ignoreNotFound bool
}

func newGetCommand(f *factory) *cobra.Command {
	o := &getOptions{}
	cmd := &cobra.Command{
		Use:   "get (TYPE[.GROUP] [NAME ...] | TYPE/NAME ...) [flags]",
		Short: "Display one or many resources",
		Example: `  coxctl get pods
  coxctl get pods -o wide -A
  coxctl get deploy my-deployment -o yaml
  coxctl get po,svc -l app=web
  coxctl get all
  coxctl get pods -w`,
		ValidArgsFunction: f.completeResourceArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.output, "output", "o", "", "output format: yaml, json, name or wide")
	fl.StringVarP(&o.selector, "selector", "l", "", "label selector to filter on, e.g. -l app=web,tier!=db")
	fl.StringVar(&o.fieldSelector, "field-selector", "", "field selector to filter on, e.g. --field-selector spec.nodeName=node-1")
	fl.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list the objects of every namespace")
	fl.BoolVarP(&o.watch, "watch", "w", false, "after listing, watch for changes and print them")
	fl.BoolVar(&o.watchOnly, "watch-only", false, "watch for changes without listing first")
	fl.BoolVar(&o.noHeaders, "no-headers", false, "do not print headers")
	fl.BoolVar(&o.showLabels, "show-labels", false, "print the labels as the last column")
	fl.BoolVar(&o.showKind, "show-kind", false, "print the kind with each name")
	fl.BoolVar(&o.ignoreNotFound, "ignore-not-found", false, "treat objects that are not found as no error")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"yaml", "json", "name", "wide"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (o *getOptions) run(ctx context.Context, f *factory, args []string) error {
	switch o.output {
	case "", "wide", "yaml", "json", "name":
	default:
		return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,name,wide,yaml", o.output)
	}
	rargs, err := parseResourceArgs(args)
	if err != nil {
		return err
	}
	named := false
	for _, ra := range rargs {
		if len(ra.names) > 0 {
			named = true
		}
	}
	if named && o.selector != "" {
		return errors.New("name cannot be provided when a selector is specified")
	}
	if named && o.allNamespaces {
		return errors.New("a resource cannot be retrieved by name across all namespaces")
	}
	ns, _, err := f.Namespace()
	if err != nil {
		return err
	}
	c, err := f.Client(ctx)
	if err != nil {
		return err
	}
	if o.watch || o.watchOnly {
		if len(rargs) != 1 {
			return errors.New("you may only specify a single resource type when watching")
		}
		return o.runWatch(ctx, f, c, rargs[0], ns)
	}
	type result struct {
		res  *api.Resource
		objs []api.Object
	}
	var results []result
	var errs []error
	total := 0
	for _, ra := range rargs {
		var objs []api.Object
		if len(ra.names) > 0 {
			for _, name := range ra.names {
				cctx, cancel := f.callCtx(ctx)
				obj, err := dyn(c, ra.res).Get(cctx, nsFor(ra.res, ns), name)
				cancel()
				if err != nil {
					if apierrors.IsNotFound(err) && o.ignoreNotFound {
						continue
					}
					errs = append(errs, err)
					continue
				}
				objs = append(objs, obj)
			}
		} else {
			objs, err = o.list(ctx, f, c, ra.res, ns)
			if err != nil {
				return err
			}
		}
		total += len(objs)
		results = append(results, result{ra.res, objs})
	}
	out := f.streams.Out
	switch o.output {
	case "yaml", "json", "name":
		var all []api.Object
		for _, r := range results {
			all = append(all, r.objs...)
		}
		single := len(rargs) == 1 && len(rargs[0].names) == 1
		if len(all) > 0 || !single {
			if err := printers.WriteObjects(out, all, o.output, !single); err != nil {
				return err
			}
		}
	default:
		withKind := o.showKind || len(rargs) > 1
		printed := 0
		for _, r := range results {
			if len(r.objs) == 0 {
				continue
			}
			if printed > 0 {
				fmt.Fprintln(out)
			}
			opts := printers.Options{Wide: o.output == "wide", NoHeaders: o.noHeaders, ShowLabels: o.showLabels,
				WithNamespace: o.allNamespaces, WithKind: withKind}
			if err := printers.BuildTable(r.res, r.objs, opts).Write(out, o.noHeaders); err != nil {
				return err
			}
			printed++
		}
		if total == 0 && len(errs) == 0 && !named {
			fmt.Fprintln(f.streams.ErrOut, noResources(rargs, ns, o.allNamespaces))
		}
	}
	return reportAll(f.streams.ErrOut, errs)
}

// reportAll prints every error but the last and returns the last (printed by Run), as kubectl does.
func reportAll(w io.Writer, errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	for _, e := range errs[:len(errs)-1] {
		fmt.Fprintln(w, formatError(e))
	}
	return errs[len(errs)-1]
}

func noResources(rargs []resourceArg, ns string, all bool) string {
	if all {
		return "No resources found"
	}
	for _, ra := range rargs {
		if ra.res.Namespaced {
			return fmt.Sprintf("No resources found in %s namespace.", ns)
		}
	}
	return "No resources found"
}

func (o *getOptions) listOptions(r *api.Resource, ns string) *metav1.ListOptions {
	opts := &metav1.ListOptions{LabelSelector: o.selector, FieldSelector: o.fieldSelector}
	if r.Namespaced && !o.allNamespaces {
		opts.Namespace = ns
	}
	return opts
}

func (o *getOptions) list(ctx context.Context, f *factory, c *client.Client, r *api.Resource, ns string) ([]api.Object, error) {
	cctx, cancel := f.callCtx(ctx)
	defer cancel()
	objs, _, err := dyn(c, r).List(cctx, o.listOptions(r, ns))
	if err != nil {
		return nil, err
	}
	sortForPrinting(r, objs)
	return objs, nil
}

// sortForPrinting orders objects by namespace and name, events by when they were last seen.
func sortForPrinting(r *api.Resource, objs []api.Object) {
	printers.SortObjects(objs)
	if r == api.Events {
		sort.SliceStable(objs, func(i, j int) bool {
			return printers.EventTime(objs[i].(*corev1.Event)).Before(printers.EventTime(objs[j].(*corev1.Event)))
		})
	}
}

// runWatch lists (unless --watch-only), then prints each change as it comes until ctx ends.
func (o *getOptions) runWatch(ctx context.Context, f *factory, c *client.Client, ra resourceArg, ns string) error {
	r := ra.res
	opts := o.listOptions(r, ns)
	if len(ra.names) > 1 {
		return errors.New("watch is only supported on individual resources and resource collections, but 2 resources were found")
	}
	if len(ra.names) == 1 {
		sel := "metadata.name=" + ra.names[0]
		if opts.FieldSelector != "" {
			sel = opts.FieldSelector + "," + sel
		}
		opts.FieldSelector = sel
	}
	res := dyn(c, r)
	items, lm, err := res.List(ctx, opts)
	if err != nil {
		return err
	}
	if len(ra.names) == 1 && len(items) == 0 {
		return notFound(r, ra.names[0])
	}
	sortForPrinting(r, items)
	topts := printers.Options{Wide: o.output == "wide", ShowLabels: o.showLabels, WithNamespace: o.allNamespaces, WithKind: o.showKind}
	out := f.streams.Out
	headerDone := false
	print := func(objs []api.Object) error {
		switch o.output {
		case "yaml", "json", "name":
			for _, obj := range objs {
				if o.output == "yaml" && headerDone {
					fmt.Fprintln(out, "---")
				}
				if err := printers.WriteObjects(out, []api.Object{obj}, o.output, false); err != nil {
					return err
				}
				headerDone = true
			}
			return nil
		}
		noHeaders := o.noHeaders || headerDone
		headerDone = true
		return printers.BuildTable(r, objs, topts).Write(out, noHeaders)
	}
	if !o.watchOnly && len(items) > 0 {
		if err := print(items); err != nil {
			return err
		}
	}
	opts.ResourceVersion = lm.GetResourceVersion()
	for {
		w, err := res.Watch(ctx, opts)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for {
			ev, err := w.Next()
			if err != nil {
				w.Stop()
				if ctx.Err() != nil {
					return nil
				}
				if errors.Is(err, client.ErrWatchClosed) {
					break
				}
				if apierrors.IsExpired(err) {
					// Too old: relist silently and go on from the new version.
					_, lm, lerr := res.List(ctx, opts)
					if lerr != nil {
						return lerr
					}
					opts.ResourceVersion = lm.GetResourceVersion()
					break
				}
				return err
			}
			if ev.Type == client.Bookmark {
				opts.ResourceVersion = ev.Object.GetMetadata().GetResourceVersion()
				continue
			}
			opts.ResourceVersion = ev.Object.GetMetadata().GetResourceVersion()
			if err := print([]api.Object{ev.Object}); err != nil {
				return err
			}
		}
	}
}

// completeKinds lists resource names and short names for completion.
func completeKinds(prefix string) []string {
	var out []string
	for _, r := range api.All() {
		for _, n := range append([]string{r.Plural, strings.ToLower(r.Kind)}, r.ShortNames...) {
			if strings.HasPrefix(n, prefix) {
				out = append(out, n)
			}
		}
	}
	if strings.HasPrefix("all", prefix) {
		out = append(out, "all")
	}
	return out
}
