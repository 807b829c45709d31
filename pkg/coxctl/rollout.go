package coxctl

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/api/manifest"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/coxctl/deployutil"
	"github.com/coxswain/coxswain/pkg/coxctl/printers"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

func newRolloutCommand(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout SUBCOMMAND",
		Short: "Manage the rollout of a deployment",
		Example: `  coxctl rollout status deploy/web
  coxctl rollout history deploy/web
  coxctl rollout undo deploy/web --to-revision=1
  coxctl rollout restart deploy/web`,
	}
	cmd.AddCommand(newRolloutStatusCommand(f), newRolloutHistoryCommand(f), newRolloutUndoCommand(f),
		newRolloutPauseCommand(f, true), newRolloutPauseCommand(f, false), newRolloutRestartCommand(f))
	return cmd
}

// deploymentArg reads "deploy/NAME", "deployment NAME" or a bare NAME.
func deploymentArg(args []string) (string, error) {
	r, name, err := parseTypeName(args, api.Deployments)
	if err != nil {
		return "", err
	}
	if r != api.Deployments {
		return "", fmt.Errorf("no rollout support for %s: only deployments", typeName(r))
	}
	return name, nil
}

// rolloutStatus is kubectl's DeploymentStatusViewer: the message for the deployment's state and whether
// the rollout is complete.
func rolloutStatus(d *appsv1.Deployment) (string, bool, error) {
	name := d.GetMetadata().GetName()
	st := d.GetStatus()
	if d.GetMetadata().GetGeneration() <= st.GetObservedGeneration() {
		for _, c := range st.GetConditions() {
			if c.GetType() == "Progressing" && c.GetReason() == "ProgressDeadlineExceeded" {
				return "", false, fmt.Errorf("deployment %q exceeded its progress deadline", name)
			}
		}
		want := int32(1)
		if d.GetSpec().Replicas != nil {
			want = d.GetSpec().GetReplicas()
		}
		if st.GetUpdatedReplicas() < want {
			return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d out of %d new replicas have been updated...", name, st.GetUpdatedReplicas(), want), false, nil
		}
		if st.GetReplicas() > st.GetUpdatedReplicas() {
			return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d old replicas are pending termination...", name, st.GetReplicas()-st.GetUpdatedReplicas()), false, nil
		}
		if st.GetAvailableReplicas() < st.GetUpdatedReplicas() {
			return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d of %d updated replicas are available...", name, st.GetAvailableReplicas(), st.GetUpdatedReplicas()), false, nil
		}
		return fmt.Sprintf("deployment %q successfully rolled out", name), true, nil
	}
	return "Waiting for deployment spec update to be observed...", false, nil
}

func newRolloutStatusCommand(f *factory) *cobra.Command {
	var timeout time.Duration
	var watch bool
	cmd := &cobra.Command{
		Use:               "status (TYPE NAME | TYPE/NAME)",
		Short:             "Show the status of a rollout, waiting until it completes",
		ValidArgsFunction: f.completeFirstName(api.Deployments),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, c, ns, name, err := f.rolloutTarget(cmd, args)
			if err != nil {
				return err
			}
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			return watchRollout(ctx, c, ns, name, watch, func(msg string) { fmt.Fprintln(f.streams.Out, msg) })
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "how long to wait before giving up (0: no limit)")
	cmd.Flags().BoolVarP(&watch, "watch", "w", true, "watch the status until the rollout finishes")
	return cmd
}

// watchRollout prints each new status message until the rollout completes (or, without wait, once).
func watchRollout(ctx context.Context, c *client.Client, ns, name string, wait bool, say func(string)) error {
	res := c.Deployments()
	opts := &metav1.ListOptions{Namespace: ns, FieldSelector: "metadata.name=" + name}
	last := ""
	for {
		items, lm, err := res.List(ctx, opts)
		if err != nil {
			if timedOut(ctx, err) {
				return errors.New("timed out waiting for the condition")
			}
			return err
		}
		if len(items) == 0 {
			return notFound(api.Deployments, name)
		}
		check := func(d *appsv1.Deployment) (bool, error) {
			msg, done, err := rolloutStatus(d)
			if err != nil {
				return false, err
			}
			if msg != last {
				say(msg)
				last = msg
			}
			return done, nil
		}
		if done, err := check(items[0]); err != nil || done || !wait {
			return err
		}
		wo := &metav1.ListOptions{Namespace: ns, FieldSelector: opts.FieldSelector, ResourceVersion: lm.GetResourceVersion()}
		w, err := res.Watch(ctx, wo)
		if err != nil {
			if timedOut(ctx, err) {
				return errors.New("timed out waiting for the condition")
			}
			return err
		}
		for {
			ev, err := w.Next()
			if err != nil {
				w.Stop()
				if timedOut(ctx, err) {
					return errors.New("timed out waiting for the condition")
				}
				break // relist and watch again
			}
			switch ev.Type {
			case client.Deleted:
				w.Stop()
				return fmt.Errorf("deployment %q was deleted", name)
			case client.Added, client.Modified:
				if done, err := check(ev.Object); err != nil || done {
					w.Stop()
					return err
				}
			}
		}
	}
}

// timedOut reports whether err comes from ctx's end (gRPC may see the deadline before ctx.Err does).
func timedOut(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return true
	}
	_, hasDeadline := ctx.Deadline()
	return hasDeadline && apierrors.ReasonOf(err) == apierrors.ReasonTimeout
}

// ownedReplicaSets lists the ReplicaSets a deployment controls, by revision.
func ownedReplicaSets(ctx context.Context, c *client.Client, d *appsv1.Deployment) ([]*appsv1.ReplicaSet, error) {
	all, _, err := c.ReplicaSets().List(ctx, &metav1.ListOptions{Namespace: d.GetMetadata().GetNamespace()})
	if err != nil {
		return nil, err
	}
	return deployutil.Owned(d, all), nil
}

func newRolloutHistoryCommand(f *factory) *cobra.Command {
	var revision int64
	cmd := &cobra.Command{
		Use:               "history (TYPE NAME | TYPE/NAME)",
		Short:             "Show the revisions of a deployment",
		ValidArgsFunction: f.completeFirstName(api.Deployments),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, c, ns, name, err := f.rolloutTarget(cmd, args)
			if err != nil {
				return err
			}
			d, err := c.Deployments().Get(ctx, ns, name)
			if err != nil {
				return err
			}
			rss, err := ownedReplicaSets(ctx, c, d)
			if err != nil {
				return err
			}
			out := f.streams.Out
			if revision > 0 {
				for _, rs := range rss {
					if deployutil.Revision(rs) == revision {
						fmt.Fprintf(out, "deployment.apps/%s with revision #%d\n", name, revision)
						t := deployutil.TemplateWithoutHash(rs.GetSpec().GetTemplate())
						tmpl := &corev1.Pod{Metadata: t.GetMetadata(), Spec: t.GetSpec()}
						api.Meta(tmpl)
						b, err := manifest.Encode(tmpl, "yaml")
						if err != nil {
							return err
						}
						fmt.Fprintln(out, "Pod Template:")
						for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n")[2:] {
							fmt.Fprintln(out, "  "+l)
						}
						return nil
					}
				}
				return fmt.Errorf("unable to find the specified revision")
			}
			fmt.Fprintf(out, "deployment.apps/%s \n", name)
			t := &printers.Table{Header: []string{"REVISION", "CHANGE-CAUSE"}}
			for _, rs := range rss {
				rev := deployutil.Revision(rs)
				if rev == 0 {
					continue
				}
				cause := rs.GetMetadata().GetAnnotations()[deployutil.ChangeCauseAnnotation]
				if cause == "" {
					cause = "<none>"
				}
				t.Rows = append(t.Rows, []string{strconv.FormatInt(rev, 10), cause})
			}
			if err := t.Write(out, false); err != nil {
				return err
			}
			fmt.Fprintln(out)
			return nil
		},
	}
	cmd.Flags().Int64Var(&revision, "revision", 0, "show the pod template of this revision")
	return cmd
}

func newRolloutUndoCommand(f *factory) *cobra.Command {
	var toRevision int64
	cmd := &cobra.Command{
		Use:               "undo (TYPE NAME | TYPE/NAME) [--to-revision=N]",
		Short:             "Roll back to a previous revision",
		ValidArgsFunction: f.completeFirstName(api.Deployments),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, c, ns, name, err := f.rolloutTarget(cmd, args)
			if err != nil {
				return err
			}
			var skipped int64
			err = updateWithRetry(ctx, c, api.Deployments, ns, name, func(obj api.Object) error {
				d := obj.(*appsv1.Deployment)
				if d.GetSpec().GetPaused() {
					return fmt.Errorf("you cannot rollback a paused deployment; resume it first with 'coxctl rollout resume deployment/%s' and try again", name)
				}
				rss, err := ownedReplicaSets(ctx, c, d)
				if err != nil {
					return err
				}
				var target *appsv1.ReplicaSet
				if toRevision > 0 {
					for _, rs := range rss {
						if deployutil.Revision(rs) == toRevision {
							target = rs
						}
					}
					if target == nil {
						return fmt.Errorf("unable to find specified revision %d in history", toRevision)
					}
				} else {
					// The previous revision: the highest below the current (the deployment's) one.
					newRS, _ := deployutil.NewAndOld(d, rss)
					current := int64(-1)
					if newRS != nil {
						current = deployutil.Revision(newRS)
					}
					for _, rs := range rss {
						if rev := deployutil.Revision(rs); rev > 0 && rev != current && (target == nil || rev > deployutil.Revision(target)) {
							target = rs
						}
					}
					if target == nil {
						return fmt.Errorf("no rollout history found for deployment %q", name)
					}
				}
				if deployutil.EqualIgnoreHash(target.GetSpec().GetTemplate(), d.GetSpec().GetTemplate()) {
					skipped = deployutil.Revision(target)
					return errNoChange
				}
				d.Spec.Template = deployutil.TemplateWithoutHash(target.GetSpec().GetTemplate())
				return nil
			})
			if errors.Is(err, errNoChange) {
				fmt.Fprintf(f.streams.Out, "deployment.apps/%s skipped rollback (current template already matches revision %d)\n", name, skipped)
				return nil
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(f.streams.Out, "deployment.apps/%s rolled back\n", name)
			return nil
		},
	}
	cmd.Flags().Int64Var(&toRevision, "to-revision", 0, "the revision to roll back to (0: the previous one)")
	return cmd
}

func newRolloutPauseCommand(f *factory, pause bool) *cobra.Command {
	verb, done := "resume", "resumed"
	short := "Resume a paused deployment"
	if pause {
		verb, done = "pause", "paused"
		short = "Pause a deployment: changes to its template do not roll out until it is resumed"
	}
	return &cobra.Command{
		Use:               verb + " (TYPE NAME | TYPE/NAME)",
		Short:             short,
		ValidArgsFunction: f.completeFirstName(api.Deployments),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, c, ns, name, err := f.rolloutTarget(cmd, args)
			if err != nil {
				return err
			}
			err = updateWithRetry(ctx, c, api.Deployments, ns, name, func(obj api.Object) error {
				d := obj.(*appsv1.Deployment)
				if d.Spec == nil {
					d.Spec = &appsv1.DeploymentSpec{}
				}
				if d.Spec.Paused == pause {
					return errNoChange
				}
				d.Spec.Paused = pause
				return nil
			})
			if errors.Is(err, errNoChange) {
				if pause {
					return fmt.Errorf("deployments.apps %q is already paused", name)
				}
				return fmt.Errorf("deployments.apps %q is not paused", name)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(f.streams.Out, "deployment.apps/%s %s\n", name, done)
			return nil
		},
	}
}

func newRolloutRestartCommand(f *factory) *cobra.Command {
	return &cobra.Command{
		Use:               "restart (TYPE NAME | TYPE/NAME)",
		Short:             "Restart a deployment's pods with a new rollout",
		ValidArgsFunction: f.completeFirstName(api.Deployments),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, c, ns, name, err := f.rolloutTarget(cmd, args)
			if err != nil {
				return err
			}
			err = updateWithRetry(ctx, c, api.Deployments, ns, name, func(obj api.Object) error {
				d := obj.(*appsv1.Deployment)
				if d.GetSpec().GetPaused() {
					return fmt.Errorf("can't restart paused deployment (run rollout resume first)")
				}
				if d.Spec.Template == nil {
					d.Spec.Template = &corev1.PodTemplateSpec{}
				}
				m := api.Meta(d.Spec.Template)
				if m.Annotations == nil {
					m.Annotations = map[string]string{}
				}
				m.Annotations[deployutil.RestartedAtAnnotation] = time.Now().Format(time.RFC3339)
				return nil
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(f.streams.Out, "deployment.apps/%s restarted\n", name)
			return nil
		},
	}
}

// rolloutTarget resolves what every rollout subcommand starts with: the deployment named by args, the
// namespace, and a client.
func (f *factory) rolloutTarget(cmd *cobra.Command, args []string) (context.Context, *client.Client, string, string, error) {
	name, err := deploymentArg(args)
	if err != nil {
		return nil, nil, "", "", err
	}
	ctx := cmd.Context()
	ns, _, err := f.Namespace()
	if err != nil {
		return nil, nil, "", "", err
	}
	c, err := f.Client(ctx)
	if err != nil {
		return nil, nil, "", "", err
	}
	return ctx, c, ns, name, nil
}
