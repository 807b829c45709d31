package deployutil

import (
	"sort"

	"github.com/coxswain/coxswain/pkg/controllers/deployment"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// The annotations and labels of the Deployment controller (defined there; repeated here for coxctl's callers).
const (
	RevisionAnnotation    = deployment.RevisionAnnotation
	ChangeCauseAnnotation = deployment.ChangeCauseAnnotation
	PodTemplateHashLabel  = deployment.PodTemplateHashLabel
	// RestartedAtAnnotation is set on the pod template by `rollout restart`, as kubectl does.
	RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"
)

// Revision is the revision of a ReplicaSet (0 when unset or malformed).
func Revision(rs *appsv1.ReplicaSet) int64 {
	v, err := deployment.Revision(rs)
	if err != nil {
		return 0
	}
	return v
}

// ControlledBy reports whether rs has a controller owner reference to the deployment.
func ControlledBy(rs *appsv1.ReplicaSet, d *appsv1.Deployment) bool {
	return len(deployment.ControlledReplicaSets(d, []*appsv1.ReplicaSet{rs})) == 1
}

// Owned returns the ReplicaSets of all that the deployment controls, sorted by revision.
func Owned(d *appsv1.Deployment, all []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	out := deployment.ControlledReplicaSets(d, all)
	sort.SliceStable(out, func(i, j int) bool { return Revision(out[i]) < Revision(out[j]) })
	return out
}

// TemplateWithoutHash returns a copy of a pod template without the pod-template-hash label.
func TemplateWithoutHash(t *corev1.PodTemplateSpec) *corev1.PodTemplateSpec {
	if t == nil {
		return nil
	}
	c := deployment.RollbackTemplate(&appsv1.ReplicaSet{Spec: &appsv1.ReplicaSetSpec{Template: t}})
	if c.Metadata != nil && len(c.Metadata.Labels) == 0 {
		c.Metadata.Labels = nil
	}
	return c
}

// EqualIgnoreHash compares pod templates like the Deployment controller does, ignoring the hash label.
func EqualIgnoreHash(a, b *corev1.PodTemplateSpec) bool { return deployment.EqualIgnoreHash(a, b) }

// NewAndOld splits the deployment's ReplicaSets (from Owned) into the new one (running the deployment's
// template; nil when none) and the old ones, in the order given.
func NewAndOld(d *appsv1.Deployment, owned []*appsv1.ReplicaSet) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet) {
	newRS := deployment.FindNewReplicaSet(d, owned)
	var old []*appsv1.ReplicaSet
	for _, rs := range owned {
		if rs != newRS {
			old = append(old, rs)
		}
	}
	return newRS, old
}
