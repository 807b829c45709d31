package coxctl

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/client"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// completionTimeout bounds the apiserver calls of shell completion.
const completionTimeout = 2 * time.Second

func newCompletionCommand(f *factory) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Output the shell completion code for bash, zsh or fish",
		Long: `Output the shell completion code for bash, zsh or fish. It completes commands, flags, resource types
(with their short names) and the names of live objects, asking the apiserver with a short timeout.

  source <(coxctl completion bash)
  coxctl completion zsh > "${fpath[1]}/_coxctl"
  coxctl completion fish | source`,
		ValidArgs: []string{"bash", "zsh", "fish"},
		Args:      cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(f.streams.Out, true)
			case "zsh":
				return root.GenZshCompletion(f.streams.Out)
			case "fish":
				return root.GenFishCompletion(f.streams.Out, true)
			}
			return fmt.Errorf("unsupported shell type %q: supported shells: bash, zsh, fish", args[0])
		},
	}
}

// completionClient is the client for completion, or nil when the apiserver does not answer quickly.
func (f *factory) completionClient(ctx context.Context) *client.Client {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	c, err := f.Client(ctx)
	if err != nil {
		return nil
	}
	return c
}

// liveNames lists the names of objects of r starting with prefix.
func (f *factory) liveNames(ctx context.Context, r *api.Resource, prefix string) []string {
	c := f.completionClient(ctx)
	if c == nil {
		return nil
	}
	ns, _, err := f.Namespace()
	if err != nil {
		return nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	objs, _, err := dyn(c, r).List(ctx, &metav1.ListOptions{Namespace: nsFor(r, ns)})
	if err != nil {
		return nil
	}
	var out []string
	for _, o := range objs {
		if n := o.GetMetadata().GetName(); strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}

// completeResourceArgs completes "TYPE NAME..." and "TYPE/NAME" arguments.
func (f *factory) completeResourceArgs(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) == 0 {
		if typ, prefix, ok := strings.Cut(toComplete, "/"); ok {
			r, err := api.Lookup(typ)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var out []string
			for _, n := range f.liveNames(cmd.Context(), r, prefix) {
				out = append(out, typ+"/"+n)
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		}
		// "po,sv<TAB>": complete the last type of a comma list.
		head, last := "", toComplete
		if i := strings.LastIndex(toComplete, ","); i >= 0 {
			head, last = toComplete[:i+1], toComplete[i+1:]
		}
		var out []string
		for _, k := range completeKinds(last) {
			out = append(out, head+k)
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
	if strings.Contains(args[0], "/") || strings.Contains(args[0], ",") {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	r, err := api.Lookup(args[0])
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return f.liveNames(cmd.Context(), r, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// completeNames completes the names of objects of one kind (a flag value, a pod argument...).
func (f *factory) completeNames(r *api.Resource) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return f.liveNames(cmd.Context(), r, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeFirstName completes the first argument only with names of r.
func (f *factory) completeFirstName(r *api.Resource) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return f.liveNames(cmd.Context(), r, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}
