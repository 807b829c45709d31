package registry

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/apiserver/storage"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// PodIndexField is the field the pod watch cache indexes watchers on: each kubelet watches its node's pods.
const PodIndexField = "spec.nodeName"

// PodIndex extracts spec.nodeName.
func PodIndex(obj api.Object) string { return obj.(*corev1.Pod).GetSpec().GetNodeName() }

// PodHooks are the pod specifics: graceful deletion of pods that run on a node.
func PodHooks() Hooks {
	return Hooks{GracefulDelete: podGracefulDelete}
}

func podGracefulDelete(obj api.Object, req *metav1.DeleteRequest) (int64, bool) {
	pod := obj.(*corev1.Pod)
	grace := int64(30)
	if g := pod.GetSpec().TerminationGracePeriodSeconds; g != nil {
		grace = *g
	}
	if req.GracePeriodSeconds != nil {
		grace = req.GetGracePeriodSeconds()
	}
	phase := pod.GetStatus().GetPhase()
	if grace <= 0 || pod.GetSpec().GetNodeName() == "" || phase == "Succeeded" || phase == "Failed" {
		return 0, false
	}
	return grace, true
}

// Bind sets a pod's node, once. It fails with a precondition error when the pod is already bound or is
// being deleted, and with a conflict when the binding names another incarnation (uid) of the pod.
func Bind(ctx context.Context, r *REST, b *corev1.Binding) (*corev1.Pod, error) {
	m := b.GetMetadata()
	node := b.GetTarget().GetName()
	if node == "" {
		return nil, apierrors.Invalid("Binding", m.GetName(), []apierrors.Cause{{Field: "target.name", Message: "Required value"}})
	}
	out, err := r.Store.GuaranteedUpdate(ctx, r.namespace(m.GetNamespace()), m.GetName(), func(cur api.Object) (api.Object, *storage.Txn, error) {
		pod := cur.(*corev1.Pod)
		if uid := m.GetUid(); uid != "" && uid != pod.GetMetadata().GetUid() {
			return nil, nil, apierrors.Conflict("pods", pod.GetMetadata().GetName(),
				fmt.Sprintf("Precondition failed: UID in precondition: %s, UID in object meta: %s", uid, pod.GetMetadata().GetUid()))
		}
		if pod.GetMetadata().GetDeletionTimestamp() != nil {
			return nil, nil, apierrors.New(apierrors.ReasonPrecondition, "pod %s is being deleted, cannot be assigned to a host", pod.GetMetadata().GetName())
		}
		if n := pod.GetSpec().GetNodeName(); n != "" {
			return nil, nil, apierrors.New(apierrors.ReasonPrecondition, "pod %s is already assigned to node %q", pod.GetMetadata().GetName(), n)
		}
		next := api.Clone(pod)
		next.Metadata.ResourceVersion = ""
		if next.Spec == nil {
			next.Spec = &corev1.PodSpec{}
		}
		next.Spec.NodeName = node
		if next.Status == nil {
			next.Status = &corev1.PodStatus{}
		}
		SetCondition(&next.Status.Conditions, &metav1.Condition{Type: "PodScheduled", Status: "True"}, time.Now())
		return next, nil, nil
	})
	if err != nil {
		return nil, err
	}
	return out.(*corev1.Pod), nil
}

// SetCondition adds or replaces the condition of c's type, keeping lastTransitionTime when the status
// does not change.
func SetCondition(conds *[]*metav1.Condition, c *metav1.Condition, now time.Time) {
	for i, old := range *conds {
		if old.GetType() == c.GetType() {
			if old.GetStatus() == c.GetStatus() && old.GetLastTransitionTime() != nil {
				c.LastTransitionTime = old.GetLastTransitionTime()
			} else if c.LastTransitionTime == nil {
				c.LastTransitionTime = timestamppb.New(now.Truncate(time.Second))
			}
			(*conds)[i] = c
			return
		}
	}
	if c.LastTransitionTime == nil {
		c.LastTransitionTime = timestamppb.New(now.Truncate(time.Second))
	}
	*conds = append(*conds, c)
}
