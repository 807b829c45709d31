package coxctl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/client"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// MirrorPodAnnotation marks the API copy of a static pod, which drain leaves alone.
const MirrorPodAnnotation = "kubernetes.io/config.mirror"

func newCordonCommand(f *factory, cordon bool) *cobra.Command {
	verb, short := "uncordon", "Mark a node as schedulable"
	if cordon {
		verb, short = "cordon", "Mark a node as unschedulable"
	}
	var selector string
	cmd := &cobra.Command{
		Use:               verb + " NODE",
		Short:             short,
		ValidArgsFunction: f.completeFirstName(api.Nodes),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := f.Client(ctx)
			if err != nil {
				return err
			}
			names, err := nodeNames(ctx, c, args, selector)
			if err != nil {
				return err
			}
			var errs []error
			for _, n := range names {
				if err := setUnschedulable(ctx, f, c, n, cordon); err != nil {
					errs = append(errs, err)
				}
			}
			return reportAll(f.streams.ErrOut, errs)
		},
	}
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "the nodes matching this label selector")
	return cmd
}

func nodeNames(ctx context.Context, c *client.Client, args []string, selector string) ([]string, error) {
	if selector != "" {
		nodes, _, err := c.Nodes().List(ctx, &metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return nil, err
		}
		var out []string
		for _, n := range nodes {
			out = append(out, n.GetMetadata().GetName())
		}
		return out, nil
	}
	if len(args) == 0 {
		return nil, errors.New("a node name or a selector (-l) is required")
	}
	var out []string
	for _, a := range args {
		out = append(out, strings.TrimPrefix(strings.TrimPrefix(a, "node/"), "nodes/"))
	}
	return out, nil
}

// setUnschedulable cordons or uncordons a node, printing kubectl's message.
func setUnschedulable(ctx context.Context, f *factory, c *client.Client, name string, cordon bool) error {
	verb := "uncordoned"
	if cordon {
		verb = "cordoned"
	}
	err := updateWithRetry(ctx, c, api.Nodes, "", name, func(o api.Object) error {
		n := o.(*corev1.Node)
		if n.Spec == nil {
			n.Spec = &corev1.NodeSpec{}
		}
		if n.Spec.Unschedulable == cordon {
			return errNoChange
		}
		n.Spec.Unschedulable = cordon
		return nil
	})
	if errors.Is(err, errNoChange) {
		fmt.Fprintf(f.streams.Out, "node/%s already %s\n", name, verb)
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(f.streams.Out, "node/%s %s\n", name, verb)
	return nil
}

type drainOptions struct {
	ignoreDaemonSets   bool
	force              bool
	deleteEmptyDirData bool
	gracePeriod        int
	timeout            time.Duration
	selector           string
	podSelector        string
}

func newDrainCommand(f *factory) *cobra.Command {
	o := &drainOptions{}
	cmd := &cobra.Command{
		Use:   "drain NODE",
		Short: "Drain a node in preparation for maintenance",
		Long: `Drain a node: cordon it, then evict (delete) its pods and wait until they are gone. Mirror pods are
left alone; pods of a DaemonSet need --ignore-daemonsets; pods that no controller will recreate need
--force; pods with emptyDir volumes need --delete-emptydir-data.`,
		ValidArgsFunction: f.completeFirstName(api.Nodes),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := f.Client(ctx)
			if err != nil {
				return err
			}
			names, err := nodeNames(ctx, c, args, o.selector)
			if err != nil {
				return err
			}
			for _, n := range names {
				if err := o.drain(ctx, f, c, n); err != nil {
					return err
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.ignoreDaemonSets, "ignore-daemonsets", false, "ignore pods managed by a DaemonSet")
	fl.BoolVar(&o.force, "force", false, "also delete pods that no controller manages")
	fl.BoolVar(&o.deleteEmptyDirData, "delete-emptydir-data", false, "also delete pods with emptyDir volumes (their data is lost)")
	fl.IntVar(&o.gracePeriod, "grace-period", -1, "seconds each pod gets to terminate (-1: its own)")
	fl.DurationVar(&o.timeout, "timeout", 0, "how long to wait for the pods to go (0: no limit)")
	fl.StringVarP(&o.selector, "selector", "l", "", "drain the nodes matching this label selector")
	fl.StringVar(&o.podSelector, "pod-selector", "", "only evict the pods matching this label selector")
	return cmd
}

func controllerOf(p *corev1.Pod) *metav1.OwnerReference {
	for _, ref := range p.GetMetadata().GetOwnerReferences() {
		if ref.GetController() {
			return ref
		}
	}
	return nil
}

func (o *drainOptions) drain(ctx context.Context, f *factory, c *client.Client, node string) error {
	if err := setUnschedulable(ctx, f, c, node, true); err != nil {
		return err
	}
	pods, _, err := c.Pods().List(ctx, &metav1.ListOptions{FieldSelector: "spec.nodeName=" + node, LabelSelector: o.podSelector})
	if err != nil {
		return err
	}
	var evict, daemon, unmanaged, emptyDir []*corev1.Pod
	for _, p := range pods {
		if ph := p.GetStatus().GetPhase(); ph == "Succeeded" || ph == "Failed" {
			evict = append(evict, p) // finished pods go without ado
			continue
		}
		if _, mirror := p.GetMetadata().GetAnnotations()[MirrorPodAnnotation]; mirror {
			continue
		}
		ctrl := controllerOf(p)
		switch {
		case ctrl != nil && ctrl.GetKind() == "DaemonSet":
			daemon = append(daemon, p)
			continue
		case ctrl == nil:
			unmanaged = append(unmanaged, p)
		}
		for _, v := range p.GetSpec().GetVolumes() {
			if v.GetEmptyDir() != nil {
				emptyDir = append(emptyDir, p)
				break
			}
		}
		evict = append(evict, p)
	}
	names := func(ps []*corev1.Pod) string {
		var s []string
		for _, p := range ps {
			s = append(s, p.GetMetadata().GetNamespace()+"/"+p.GetMetadata().GetName())
		}
		return strings.Join(s, ", ")
	}
	var problems []string
	if len(daemon) > 0 && !o.ignoreDaemonSets {
		problems = append(problems, "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): "+names(daemon))
	}
	if len(unmanaged) > 0 && !o.force {
		problems = append(problems, "cannot delete Pods that declare no controller (use --force to override): "+names(unmanaged))
	}
	if len(emptyDir) > 0 && !o.deleteEmptyDirData {
		problems = append(problems, "cannot delete Pods with local storage (use --delete-emptydir-data to override): "+names(emptyDir))
	}
	if len(problems) > 0 {
		return fmt.Errorf("unable to drain node %q due to error: %s", node, strings.Join(problems, ", "))
	}
	if len(daemon) > 0 {
		fmt.Fprintf(f.streams.ErrOut, "Warning: ignoring DaemonSet-managed Pods: %s\n", names(daemon))
	}
	if len(unmanaged) > 0 {
		fmt.Fprintf(f.streams.ErrOut, "Warning: deleting Pods that declare no controller: %s\n", names(unmanaged))
	}
	wctx := ctx
	if o.timeout > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	type gone struct {
		p   *corev1.Pod
		err error
	}
	results := make(chan gone, len(evict))
	for _, p := range evict {
		m := p.GetMetadata()
		fmt.Fprintf(f.streams.Out, "evicting pod %s/%s\n", m.GetNamespace(), m.GetName())
		req := &metav1.DeleteRequest{Namespace: m.GetNamespace(), Name: m.GetName(),
			Preconditions: &metav1.Preconditions{Uid: proto.String(m.GetUid())}}
		if o.gracePeriod >= 0 {
			req.GracePeriodSeconds = proto.Int64(int64(o.gracePeriod))
		}
		if _, err := c.Pods().Delete(ctx, req); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("error when evicting pods/%q -n %q (will retry after 5s): %w", m.GetName(), m.GetNamespace(), err)
		}
		go func() {
			results <- gone{p, waitGone(wctx, c, api.Pods, m.GetNamespace(), m.GetName(), m.GetUid())}
		}()
	}
	var errs []string
	for range evict {
		g := <-results
		if g.err != nil {
			errs = append(errs, g.err.Error())
			continue
		}
		fmt.Fprintf(f.streams.Out, "pod/%s evicted\n", g.p.GetMetadata().GetName())
	}
	if len(errs) > 0 {
		return fmt.Errorf("unable to drain node %q: %s", node, strings.Join(errs, "; "))
	}
	fmt.Fprintf(f.streams.Out, "node/%s drained\n", node)
	return nil
}
