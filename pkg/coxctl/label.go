package coxctl

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/api/validation"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// newLabelCommand builds label (verb "label") and annotate (verb "annotate"), which differ only in the
// map they edit.
func newLabelCommand(f *factory, verb string) *cobra.Command {
	var overwrite, all bool
	var selector string
	past := "labeled"
	what := "labels"
	if verb == "annotate" {
		past, what = "annotated", "annotations"
	}
	cmd := &cobra.Command{
		Use:   verb + " (TYPE NAME | TYPE/NAME | TYPE -l selector | TYPE --all) KEY_1=VAL_1 ... KEY_N- [--overwrite]",
		Short: "Update the " + what + " of objects",
		Long: fmt.Sprintf(`Update the %s of objects: KEY=VALUE sets a key (replacing an existing value only with --overwrite),
KEY- removes it.`, what),
		Example: fmt.Sprintf(`  coxctl %[1]s pods web tier=frontend
  coxctl %[1]s deploy/web tier=backend --overwrite
  coxctl %[1]s nodes node-1 tier-
  coxctl %[1]s pods -l app=web canary=true`, verb),
		ValidArgsFunction: f.completeResourceArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			// Split the arguments into objects and key changes.
			var objArgs, changes []string
			for _, a := range args {
				if strings.Contains(a, "=") || strings.HasSuffix(a, "-") && !strings.Contains(a, "/") {
					changes = append(changes, a)
				} else {
					objArgs = append(objArgs, a)
				}
			}
			if len(changes) == 0 {
				return fmt.Errorf("at least one %s update is required", strings.TrimSuffix(what, "s"))
			}
			set, remove, err := parseKeyChanges(changes, verb == "label")
			if err != nil {
				return err
			}
			rargs, err := parseResourceArgs(objArgs)
			if err != nil {
				return errors.New("one or more resources must be specified as <resource> <name> or <resource>/<name>")
			}
			ns, _, err := f.Namespace()
			if err != nil {
				return err
			}
			c, err := f.Client(ctx)
			if err != nil {
				return err
			}
			type obj struct {
				r    *api.Resource
				name string
			}
			var targets []obj
			for _, ra := range rargs {
				if len(ra.names) > 0 {
					for _, n := range ra.names {
						targets = append(targets, obj{ra.res, n})
					}
					continue
				}
				if selector == "" && !all {
					return errors.New("resource(s) were provided, but no name was specified: give a name, -l or --all")
				}
				items, _, err := dyn(c, ra.res).List(ctx, &metav1.ListOptions{Namespace: nsFor(ra.res, ns), LabelSelector: selector})
				if err != nil {
					return err
				}
				sortForPrinting(ra.res, items)
				for _, it := range items {
					targets = append(targets, obj{ra.res, it.GetMetadata().GetName()})
				}
			}
			var errs []error
			for _, t := range targets {
				changed := false
				err := updateWithRetry(ctx, c, t.r, ns, t.name, func(o api.Object) error {
					m := api.Meta(o)
					target := &m.Labels
					if verb == "annotate" {
						target = &m.Annotations
					}
					var err error
					changed, err = applyKeyChanges(target, set, remove, overwrite)
					if err != nil {
						return err
					}
					if !changed {
						return errNoChange
					}
					return nil
				})
				if errors.Is(err, errNoChange) {
					fmt.Fprintf(f.streams.Out, "%s/%s not %s\n", typeName(t.r), t.name, past)
					continue
				}
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(f.streams.Out, "%s/%s %s\n", typeName(t.r), t.name, past)
			}
			return reportAll(f.streams.ErrOut, errs)
		},
	}
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "allow replacing existing values")
	cmd.Flags().BoolVar(&all, "all", false, "update every object of the type in the namespace")
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "update the objects matching this label selector")
	return cmd
}

// parseKeyChanges reads KEY=VALUE and KEY- arguments; labels are validated like the apiserver does.
func parseKeyChanges(args []string, labels bool) (map[string]string, []string, error) {
	set := map[string]string{}
	var remove []string
	for _, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok {
			if k == "" {
				return nil, nil, fmt.Errorf("invalid label spec: %s", a)
			}
			if labels {
				if errs := validation.IsQualifiedName(k); len(errs) > 0 {
					return nil, nil, fmt.Errorf("invalid label spec: %s: %s", a, strings.Join(errs, "; "))
				}
				if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
					return nil, nil, fmt.Errorf("invalid label value: %q: %s", a, strings.Join(errs, "; "))
				}
			}
			set[k] = v
			continue
		}
		remove = append(remove, strings.TrimSuffix(a, "-"))
	}
	for _, k := range remove {
		if _, ok := set[k]; ok {
			return nil, nil, fmt.Errorf("can not both modify and remove the key %q in the same command", k)
		}
	}
	return set, remove, nil
}

// applyKeyChanges edits a labels or annotations map, refusing to replace a value without overwrite.
func applyKeyChanges(m *map[string]string, set map[string]string, remove []string, overwrite bool) (bool, error) {
	if *m == nil {
		*m = map[string]string{}
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	changed := false
	for _, k := range keys {
		old, exists := (*m)[k]
		if exists && old != set[k] && !overwrite {
			return false, fmt.Errorf("'%s' already has a value (%s), and --overwrite is false", k, old)
		}
		if !exists || old != set[k] {
			(*m)[k] = set[k]
			changed = true
		}
	}
	for _, k := range remove {
		if _, ok := (*m)[k]; ok {
			delete(*m, k)
			changed = true
		}
	}
	if len(*m) == 0 {
		*m = nil
	}
	return changed, nil
}
