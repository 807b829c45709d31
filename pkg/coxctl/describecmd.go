package coxctl

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/coxctl/describe"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

func newDescribeCommand(f *factory) *cobra.Command {
	var selector string
	var allNamespaces bool
	cmd := &cobra.Command{
		Use:   "describe (TYPE [NAME_PREFIX] | TYPE/NAME) [flags]",
		Short: "Show details of an object or group of objects, with their events",
		Example: `  coxctl describe pod web-5d59d67564-x2x9k
  coxctl describe deploy/web
  coxctl describe pods -l app=web
  coxctl describe nodes`,
		ValidArgsFunction: f.completeResourceArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			rargs, err := parseResourceArgs(args)
			if err != nil {
				return fmt.Errorf("you must specify the type of resource to describe. Use \"coxctl api-resources\" for a complete list of supported resources")
			}
			ns, _, err := f.Namespace()
			if err != nil {
				return err
			}
			c, err := f.Client(ctx)
			if err != nil {
				return err
			}
			rd := reader{c}
			var errs []error
			first := true
			show := func(r *api.Resource, obj api.Object) error {
				text, err := describe.Describe(ctx, rd, r, obj, time.Now())
				if err != nil {
					return err
				}
				if !first {
					fmt.Fprintln(f.streams.Out)
					fmt.Fprintln(f.streams.Out)
				}
				first = false
				fmt.Fprint(f.streams.Out, text)
				return nil
			}
			for _, ra := range rargs {
				rns := nsFor(ra.res, ns)
				if len(ra.names) == 0 {
					lo := &metav1.ListOptions{LabelSelector: selector}
					if ra.res.Namespaced && !allNamespaces {
						lo.Namespace = rns
					}
					items, err := rd.List(ctx, ra.res, lo)
					if err != nil {
						return err
					}
					sortForPrinting(ra.res, items)
					for _, obj := range items {
						if err := show(ra.res, obj); err != nil {
							return err
						}
					}
					if len(items) == 0 && len(rargs) == 1 {
						fmt.Fprintln(f.streams.ErrOut, noResources(rargs, ns, allNamespaces))
					}
					continue
				}
				for _, name := range ra.names {
					objs, err := findByNameOrPrefix(ctx, rd, ra.res, rns, name)
					if err != nil {
						errs = append(errs, err)
						continue
					}
					for _, obj := range objs {
						if err := show(ra.res, obj); err != nil {
							return err
						}
					}
				}
			}
			return reportAll(f.streams.ErrOut, errs)
		},
	}
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "describe the objects matching this label selector")
	cmd.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "describe the objects of every namespace")
	return cmd
}

// findByNameOrPrefix gets an object by name or, as kubectl describe does, every object whose name
// starts with name.
func findByNameOrPrefix(ctx context.Context, rd reader, r *api.Resource, ns, name string) ([]api.Object, error) {
	obj, err := rd.Get(ctx, r, ns, name)
	if err == nil {
		return []api.Object{obj}, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, err
	}
	items, lerr := rd.List(ctx, r, &metav1.ListOptions{Namespace: ns})
	if lerr != nil {
		return nil, err
	}
	sortForPrinting(r, items)
	var out []api.Object
	for _, it := range items {
		if strings.HasPrefix(it.GetMetadata().GetName(), name) {
			out = append(out, it)
		}
	}
	if len(out) == 0 {
		return nil, err
	}
	return out, nil
}
