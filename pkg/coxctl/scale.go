package coxctl

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/client"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
)

func newScaleCommand(f *factory) *cobra.Command {
	var replicas, current int
	cmd := &cobra.Command{
		Use:   "scale (TYPE NAME | TYPE/NAME) --replicas=COUNT",
		Short: "Set a new size for a deployment or replica set",
		Example: `  coxctl scale deploy/web --replicas=3
  coxctl scale rs web-5d59d67564 --replicas=0 --current-replicas=2`,
		ValidArgsFunction: f.completeResourceArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if replicas < 0 {
				return errors.New("the --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0")
			}
			r, name, err := parseTypeName(args, nil)
			if err != nil {
				return err
			}
			if r != api.Deployments && r != api.ReplicaSets {
				return fmt.Errorf("cannot scale %s: only deployments and replicasets can be scaled", typeName(r))
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
			err = updateWithRetry(ctx, c, r, ns, name, func(obj api.Object) error {
				var spec interface{ GetReplicas() int32 }
				var set func(int32)
				switch o := obj.(type) {
				case *appsv1.Deployment:
					if o.Spec == nil {
						o.Spec = &appsv1.DeploymentSpec{}
					}
					spec, set = o.Spec, func(n int32) { o.Spec.Replicas = proto.Int32(n) }
				case *appsv1.ReplicaSet:
					if o.Spec == nil {
						o.Spec = &appsv1.ReplicaSetSpec{}
					}
					spec, set = o.Spec, func(n int32) { o.Spec.Replicas = proto.Int32(n) }
				}
				if current >= 0 && int(spec.GetReplicas()) != current {
					return fmt.Errorf("expected replicas to be %d, was %d", current, spec.GetReplicas())
				}
				set(int32(replicas))
				return nil
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(f.streams.Out, "%s/%s scaled\n", typeName(r), name)
			return nil
		},
	}
	cmd.Flags().IntVar(&replicas, "replicas", -1, "the new number of replicas (required)")
	cmd.Flags().IntVar(&current, "current-replicas", -1, "precondition: the current number of replicas (-1: any)")
	return cmd
}

// errNoChange tells updateWithRetry that mutate left the object as it was.
var errNoChange = errors.New("no change")

// updateWithRetry reads an object, applies mutate and writes it, retrying on conflicts. mutate may return
// errNoChange, which updateWithRetry returns without writing.
func updateWithRetry(ctx context.Context, c *client.Client, r *api.Resource, ns, name string, mutate func(api.Object) error) error {
	res := dyn(c, r)
	for attempt := 0; ; attempt++ {
		obj, err := res.Get(ctx, nsFor(r, ns), name)
		if err != nil {
			return err
		}
		obj = api.Clone(obj)
		if err := mutate(obj); err != nil {
			return err
		}
		_, err = res.Update(ctx, obj)
		if apierrors.IsConflict(err) && attempt < 10 {
			continue
		}
		return err
	}
}
