package deployment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/api/defaults"
	"github.com/coxswain/coxswain/pkg/controllers/internal"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Annotations and labels, with Kubernetes' names.
const (
	// RevisionAnnotation is the revision of a ReplicaSet, and the current revision of its Deployment.
	RevisionAnnotation = "deployment.kubernetes.io/revision"
	// RevisionHistoryAnnotation lists the earlier revisions a re-used ReplicaSet had (after rollbacks).
	RevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
	// DesiredReplicasAnnotation is the Deployment's replicas when the ReplicaSet was last scaled.
	DesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
	// MaxReplicasAnnotation is the Deployment's replicas + maxSurge then (for proportional scaling).
	MaxReplicasAnnotation = "deployment.kubernetes.io/max-replicas"
	// ChangeCauseAnnotation explains a revision in `rollout history`.
	ChangeCauseAnnotation = "kubernetes.io/change-cause"
	// LastAppliedConfigAnnotation is not copied from a Deployment to its ReplicaSets.
	LastAppliedConfigAnnotation = "kubectl.kubernetes.io/last-applied-configuration"
	// PodTemplateHashLabel is added to a ReplicaSet's selector, template and labels so that the
	// ReplicaSets of one Deployment never select each other's pods.
	PodTemplateHashLabel = "pod-template-hash"
)

// Deployment condition types and reasons.
const (
	ConditionAvailable      = "Available"
	ConditionProgressing    = "Progressing"
	ConditionReplicaFailure = "ReplicaFailure"

	ReasonNewReplicaSetCreated       = "NewReplicaSetCreated"
	ReasonFoundNewReplicaSet         = "FoundNewReplicaSet"
	ReasonNewReplicaSetAvailable     = "NewReplicaSetAvailable"
	ReasonReplicaSetUpdated          = "ReplicaSetUpdated"
	ReasonProgressDeadlineExceeded   = "ProgressDeadlineExceeded"
	ReasonDeploymentPaused           = "DeploymentPaused"
	ReasonDeploymentResumed          = "DeploymentResumed"
	ReasonReplicaSetCreateError      = "ReplicaSetCreateError"
	ReasonMinimumReplicasAvailable   = "MinimumReplicasAvailable"
	ReasonMinimumReplicasUnavailable = "MinimumReplicasUnavailable"
)

// Strategy types.
const (
	RollingUpdate = "RollingUpdate"
	Recreate      = "Recreate"
)

// noProgressDeadline (MaxInt32) in progressDeadlineSeconds disables the deadline.
const noProgressDeadline = math.MaxInt32

// Revision returns the revision annotation of a ReplicaSet or Deployment (0 when absent).
func Revision(obj api.Object) (int64, error) {
	v, ok := obj.GetMetadata().GetAnnotations()[RevisionAnnotation]
	if !ok {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("annotation %s of %s: invalid revision %q: %w", RevisionAnnotation, api.Key(obj), v, err)
	}
	return n, nil
}

// MaxRevision is the highest revision among rss (invalid annotations are skipped).
func MaxRevision(rss []*appsv1.ReplicaSet) int64 {
	var m int64
	for _, rs := range rss {
		if v, err := Revision(rs); err == nil {
			m = max(m, v)
		}
	}
	return m
}

const safeAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// SafeEncodeString maps every byte of s to a character that cannot form bad words or be confused (vowels
// and 0, 1, 3 are left out), like Kubernetes' rand.SafeEncodeString.
func SafeEncodeString(s string) string {
	r := make([]byte, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = safeAlphabet[int(s[i])%len(safeAlphabet)]
	}
	return string(r)
}

// normalizeTemplate returns a defaulted copy of t (nil-safe) so that templates compare and hash the same
// whether or not the apiserver filled their defaults.
func normalizeTemplate(t *corev1.PodTemplateSpec) *corev1.PodTemplateSpec {
	if t == nil {
		t = &corev1.PodTemplateSpec{}
	} else {
		t = api.Clone(t)
	}
	if t.Metadata == nil {
		t.Metadata = &metav1.ObjectMeta{}
	}
	defaults.Apply(t)
	return t
}

// PodTemplateHash is the pod-template-hash of a Deployment's template: FNV-32a of the deterministic protobuf
// encoding of the (defaulted) template, then of collisionCount when set (4 little-endian bytes padded to 8),
// rendered as its decimal digits through SafeEncodeString. It names the ReplicaSet <deployment>-<hash>.
func PodTemplateHash(template *corev1.PodTemplateSpec, collisionCount *int32) string {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(normalizeTemplate(template))
	if err != nil { // a valid message always marshals
		panic(fmt.Sprintf("deployment: marshal pod template: %v", err))
	}
	h := fnv.New32a()
	h.Write(b)
	if collisionCount != nil {
		buf := make([]byte, 8)
		binary.LittleEndian.PutUint32(buf, uint32(*collisionCount))
		h.Write(buf)
	}
	return SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}

// EqualIgnoreHash reports whether two pod templates are equal once their pod-template-hash labels are
// removed (and defaults filled): whether a ReplicaSet runs a Deployment's template.
func EqualIgnoreHash(a, b *corev1.PodTemplateSpec) bool {
	a, b = normalizeTemplate(a), normalizeTemplate(b)
	delete(a.Metadata.Labels, PodTemplateHashLabel)
	delete(b.Metadata.Labels, PodTemplateHashLabel)
	return proto.Equal(a, b)
}

// byCreation sorts ReplicaSets oldest first, by name when created in the same second.
func byCreation(rss []*appsv1.ReplicaSet) func(i, j int) bool {
	return func(i, j int) bool { return olderThan(rss[i], rss[j]) }
}

func olderThan(a, b *appsv1.ReplicaSet) bool {
	ta, tb := a.GetMetadata().GetCreationTimestamp().AsTime(), b.GetMetadata().GetCreationTimestamp().AsTime()
	if ta.Equal(tb) {
		return a.GetMetadata().GetName() < b.GetMetadata().GetName()
	}
	return ta.Before(tb)
}

// FindNewReplicaSet returns the ReplicaSet of rss that runs d's current template (the oldest, should there
// be several), or nil.
func FindNewReplicaSet(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	sorted := slices.Clone(rss)
	sort.SliceStable(sorted, byCreation(sorted))
	for _, rs := range sorted {
		if EqualIgnoreHash(rs.GetSpec().GetTemplate(), d.GetSpec().GetTemplate()) {
			return rs
		}
	}
	return nil
}

// FindOldReplicaSets splits the ReplicaSets of d other than the new one into those that still have
// replicas (required) and all of them.
func FindOldReplicaSets(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) (required, all []*appsv1.ReplicaSet) {
	newRS := FindNewReplicaSet(d, rss)
	for _, rs := range rss {
		if newRS != nil && rs.GetMetadata().GetUid() == newRS.GetMetadata().GetUid() {
			continue
		}
		all = append(all, rs)
		if rsReplicas(rs) != 0 {
			required = append(required, rs)
		}
	}
	return required, all
}

// ControlledReplicaSets returns the ReplicaSets of rss whose controller is d.
func ControlledReplicaSets(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, rs := range rss {
		if internal.IsControlledBy(rs, d.GetMetadata().GetUid()) {
			out = append(out, rs)
		}
	}
	return out
}

// ScaledValue resolves an IntOrString against total: an integer as is, a percentage ("25%") of total
// rounded up or down.
func ScaledValue(v *metav1.IntOrString, total int, roundUp bool) (int, error) {
	switch x := v.GetValue().(type) {
	case nil:
		return 0, errors.New("nil value for IntOrString")
	case *metav1.IntOrString_IntVal:
		return int(x.IntVal), nil
	case *metav1.IntOrString_StrVal:
		s, ok := strings.CutSuffix(x.StrVal, "%")
		if !ok {
			return 0, fmt.Errorf("invalid value for IntOrString: invalid type: string %q is not a percentage", x.StrVal)
		}
		p, err := strconv.Atoi(s)
		if err != nil {
			return 0, fmt.Errorf("invalid value for IntOrString: invalid value %q: %w", x.StrVal, err)
		}
		if roundUp {
			return int(math.Ceil(float64(p) * float64(total) / 100)), nil
		}
		return int(math.Floor(float64(p) * float64(total) / 100)), nil
	}
	return 0, errors.New("invalid IntOrString")
}

// ResolveFenceposts resolves maxSurge (rounded up) and maxUnavailable (rounded down) against desired
// replicas; unset values count as 0. When both resolve to 0, maxUnavailable becomes 1 so that a rolling
// update can make progress.
func ResolveFenceposts(maxSurge, maxUnavailable *metav1.IntOrString, desired int32) (surge, unavailable int32, err error) {
	zero := &metav1.IntOrString{Value: &metav1.IntOrString_IntVal{IntVal: 0}}
	if maxSurge.GetValue() == nil {
		maxSurge = zero
	}
	if maxUnavailable.GetValue() == nil {
		maxUnavailable = zero
	}
	s, err := ScaledValue(maxSurge, int(desired), true)
	if err != nil {
		return 0, 0, fmt.Errorf("maxSurge: %w", err)
	}
	u, err := ScaledValue(maxUnavailable, int(desired), false)
	if err != nil {
		return 0, 0, fmt.Errorf("maxUnavailable: %w", err)
	}
	if s == 0 && u == 0 {
		u = 1
	}
	return int32(s), int32(u), nil
}

// Replicas is d's spec.replicas with its default of 1.
func Replicas(d *appsv1.Deployment) int32 {
	if r := d.GetSpec().Replicas; r != nil {
		return *r
	}
	return defaults.Replicas
}

func rsReplicas(rs *appsv1.ReplicaSet) int32 {
	if r := rs.GetSpec().Replicas; r != nil {
		return *r
	}
	return defaults.Replicas
}

// IsRollingUpdate reports whether d uses the RollingUpdate strategy (the default).
func IsRollingUpdate(d *appsv1.Deployment) bool {
	t := d.GetSpec().GetStrategy().GetType()
	return t == "" || t == RollingUpdate
}

// rollingParams returns maxSurge and maxUnavailable with their 25% defaults.
func rollingParams(d *appsv1.Deployment) (surge, unavailable *metav1.IntOrString) {
	ru := d.GetSpec().GetStrategy().GetRollingUpdate()
	surge, unavailable = ru.GetMaxSurge(), ru.GetMaxUnavailable()
	if surge == nil {
		surge = &metav1.IntOrString{Value: &metav1.IntOrString_StrVal{StrVal: defaults.MaxSurge}}
	}
	if unavailable == nil {
		unavailable = &metav1.IntOrString{Value: &metav1.IntOrString_StrVal{StrVal: defaults.MaxUnavailable}}
	}
	return surge, unavailable
}

// MaxSurge is how many pods a rolling update of d may run above spec.replicas (0 for Recreate). An invalid
// value counts as 0.
func MaxSurge(d *appsv1.Deployment) int32 {
	if !IsRollingUpdate(d) {
		return 0
	}
	s, u := rollingParams(d)
	surge, _, _ := ResolveFenceposts(s, u, Replicas(d))
	return surge
}

// MaxUnavailable is how many of d's spec.replicas may be unavailable during a rolling update (0 for
// Recreate), at most spec.replicas.
func MaxUnavailable(d *appsv1.Deployment) int32 {
	if !IsRollingUpdate(d) || Replicas(d) == 0 {
		return 0
	}
	s, u := rollingParams(d)
	_, unavailable, _ := ResolveFenceposts(s, u, Replicas(d))
	return min(unavailable, Replicas(d))
}

// revisionHistoryLimit is spec.revisionHistoryLimit with its default of 10.
func revisionHistoryLimit(d *appsv1.Deployment) int32 {
	if l := d.GetSpec().RevisionHistoryLimit; l != nil {
		return *l
	}
	return defaults.RevisionHistoryLimit
}

// progressDeadline returns spec.progressDeadlineSeconds (default 600) and false when it is disabled.
func progressDeadline(d *appsv1.Deployment) (int32, bool) {
	p := defaults.ProgressDeadlineSeconds
	if v := d.GetSpec().ProgressDeadlineSeconds; v != nil {
		p = *v
	}
	return p, p != noProgressDeadline
}

// GetCondition returns the condition of type t in d's status, or nil.
func GetCondition(st *appsv1.DeploymentStatus, t string) *metav1.Condition {
	for _, c := range st.GetConditions() {
		if c.GetType() == t {
			return c
		}
	}
	return nil
}

// RolloutStatus reports the progress of d's rollout as `rollout status` prints it: a message, whether the
// rollout is done, and an error when it exceeded its progress deadline.
func RolloutStatus(d *appsv1.Deployment) (msg string, done bool, err error) {
	name := d.GetMetadata().GetName()
	st := d.GetStatus()
	if d.GetMetadata().GetGeneration() > st.GetObservedGeneration() {
		return "Waiting for deployment spec update to be observed...", false, nil
	}
	if c := GetCondition(st, ConditionProgressing); c != nil && c.GetReason() == ReasonProgressDeadlineExceeded {
		return "", false, fmt.Errorf("deployment %q exceeded its progress deadline", name)
	}
	want := Replicas(d)
	switch {
	case st.GetUpdatedReplicas() < want:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d out of %d new replicas have been updated...",
			name, st.GetUpdatedReplicas(), want), false, nil
	case st.GetReplicas() > st.GetUpdatedReplicas():
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d old replicas are pending termination...",
			name, st.GetReplicas()-st.GetUpdatedReplicas()), false, nil
	case st.GetAvailableReplicas() < st.GetUpdatedReplicas():
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d of %d updated replicas are available...",
			name, st.GetAvailableReplicas(), st.GetUpdatedReplicas()), false, nil
	}
	return fmt.Sprintf("deployment %q successfully rolled out", name), true, nil
}

// HistoryEntry is one revision of a Deployment.
type HistoryEntry struct {
	Revision    int64
	ReplicaSet  *appsv1.ReplicaSet
	ChangeCause string
}

// History lists the revisions of a Deployment's ReplicaSets (see ControlledReplicaSets), oldest first.
func History(rss []*appsv1.ReplicaSet) []HistoryEntry {
	var out []HistoryEntry
	for _, rs := range rss {
		v, err := Revision(rs)
		if err != nil {
			continue
		}
		out = append(out, HistoryEntry{Revision: v, ReplicaSet: rs,
			ChangeCause: rs.GetMetadata().GetAnnotations()[ChangeCauseAnnotation]})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Revision < out[j].Revision })
	return out
}

// RollbackTarget returns the ReplicaSet of revision toRevision among rss (the ReplicaSets d controls), or,
// with toRevision 0, the one of the revision before the latest, like `rollout undo`.
func RollbackTarget(d *appsv1.Deployment, rss []*appsv1.ReplicaSet, toRevision int64) (*appsv1.ReplicaSet, error) {
	var latest, previous *appsv1.ReplicaSet
	latestRev, previousRev := int64(-1), int64(-1)
	for _, rs := range rss {
		v, err := Revision(rs)
		if err != nil {
			continue
		}
		if toRevision > 0 {
			if v == toRevision {
				return rs, nil
			}
			continue
		}
		switch {
		case v > latestRev:
			previous, previousRev = latest, latestRev
			latest, latestRev = rs, v
		case v > previousRev:
			previous, previousRev = rs, v
		}
	}
	if toRevision > 0 {
		return nil, fmt.Errorf("unable to find specified revision %d in history of deployment %q", toRevision, d.GetMetadata().GetName())
	}
	if previous == nil {
		return nil, fmt.Errorf("no rollout history found for deployment %q", d.GetMetadata().GetName())
	}
	return previous, nil
}

// RollbackTemplate is the template to copy into a Deployment to roll back to rs: rs's template without the
// pod-template-hash label. The Deployment controller then finds rs again (EqualIgnoreHash), re-uses it and
// gives it the next revision.
func RollbackTemplate(rs *appsv1.ReplicaSet) *corev1.PodTemplateSpec {
	t := api.Clone(rs.GetSpec().GetTemplate())
	if t == nil {
		return &corev1.PodTemplateSpec{}
	}
	if t.Metadata != nil {
		delete(t.Metadata.Labels, PodTemplateHashLabel)
	}
	return t
}
