package internal

import (
	"strconv"
	"time"

	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Pod phases and condition values, as Kubernetes spells them.
const (
	PodPending   = "Pending"
	PodRunning   = "Running"
	PodSucceeded = "Succeeded"
	PodFailed    = "Failed"
	PodUnknown   = "Unknown"

	PodReady         = "Ready"
	ConditionTrue    = "True"
	ConditionFalse   = "False"
	ConditionUnknown = "Unknown"

	// PodDeletionCostAnnotation ranks pods for scale-down: lower cost goes first.
	PodDeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"
)

// IsPodActive reports whether a pod still counts as a replica: not Succeeded or Failed and not being deleted.
func IsPodActive(p *corev1.Pod) bool {
	phase := p.GetStatus().GetPhase()
	return phase != PodSucceeded && phase != PodFailed && p.GetMetadata().GetDeletionTimestamp() == nil
}

// FilterActivePods returns the active pods of pods (see IsPodActive).
func FilterActivePods(pods []*corev1.Pod) []*corev1.Pod {
	out := make([]*corev1.Pod, 0, len(pods))
	for _, p := range pods {
		if IsPodActive(p) {
			out = append(out, p)
		}
	}
	return out
}

// GetPodCondition returns the pod's condition of type t, or nil.
func GetPodCondition(p *corev1.Pod, t string) *metav1.Condition {
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == t {
			return c
		}
	}
	return nil
}

// IsPodReady reports whether the pod's Ready condition is True.
func IsPodReady(p *corev1.Pod) bool {
	c := GetPodCondition(p, PodReady)
	return c != nil && c.GetStatus() == ConditionTrue
}

// IsPodAvailable reports whether the pod has been Ready for at least minReadySeconds at now (Kubernetes'
// podutil.IsPodAvailable).
func IsPodAvailable(p *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	_, ok := AvailableIn(p, minReadySeconds, now)
	return ok
}

// AvailableIn reports whether the pod is available at now and, when it is Ready but not yet available, how
// long until it will be (0 when not Ready at all).
func AvailableIn(p *corev1.Pod, minReadySeconds int32, now time.Time) (time.Duration, bool) {
	c := GetPodCondition(p, PodReady)
	if c == nil || c.GetStatus() != ConditionTrue {
		return 0, false
	}
	if minReadySeconds == 0 {
		return 0, true
	}
	if c.GetLastTransitionTime() == nil {
		return 0, false
	}
	availableAt := c.GetLastTransitionTime().AsTime().Add(time.Duration(minReadySeconds) * time.Second)
	if availableAt.Before(now) {
		return 0, true
	}
	return availableAt.Sub(now), false
}

// podReadyTime is when the pod last became Ready (zero when unknown).
func podReadyTime(p *corev1.Pod) time.Time {
	if c := GetPodCondition(p, PodReady); c != nil && c.GetStatus() == ConditionTrue && c.GetLastTransitionTime() != nil {
		return c.GetLastTransitionTime().AsTime()
	}
	return time.Time{}
}

// maxContainerRestarts is the highest restart count among the pod's containers.
func maxContainerRestarts(p *corev1.Pod) int32 {
	var m int32
	for _, cs := range p.GetStatus().GetContainerStatuses() {
		m = max(m, cs.GetRestartCount())
	}
	return m
}

// PodDeletionCost parses the pod-deletion-cost annotation (0 when absent or invalid).
func PodDeletionCost(p *corev1.Pod) int32 {
	v, ok := p.GetMetadata().GetAnnotations()[PodDeletionCostAnnotation]
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0
	}
	return int32(n)
}

var podPhaseToOrdinal = map[string]int{PodPending: 0, PodUnknown: 1, PodRunning: 2}

// ActivePodsWithRanks sorts pods in Kubernetes' scale-down order: the pods to delete first come first.
// Rank[i] is the number of related pods on the node of Pods[i]; pods on more crowded nodes go first.
type ActivePodsWithRanks struct {
	Pods []*corev1.Pod
	Rank []int
}

func (s ActivePodsWithRanks) Len() int { return len(s.Pods) }

func (s ActivePodsWithRanks) Swap(i, j int) {
	s.Pods[i], s.Pods[j] = s.Pods[j], s.Pods[i]
	s.Rank[i], s.Rank[j] = s.Rank[j], s.Rank[i]
}

// Less orders, like Kubernetes' controller.ActivePodsWithRanks:
//  1. unassigned < assigned;
//  2. Pending < Unknown < Running;
//  3. not ready < ready;
//  4. lower pod-deletion-cost < higher;
//  5. higher rank (doubled up on a node) < lower rank;
//  6. both ready: ready for a shorter time < longer;
//  7. more container restarts < fewer;
//  8. newer (later creationTimestamp) < older.
func (s ActivePodsWithRanks) Less(i, j int) bool {
	pi, pj := s.Pods[i], s.Pods[j]
	ni, nj := pi.GetSpec().GetNodeName(), pj.GetSpec().GetNodeName()
	if ni != nj && (ni == "" || nj == "") {
		return ni == ""
	}
	oi, oj := phaseOrdinal(pi), phaseOrdinal(pj)
	if oi != oj {
		return oi < oj
	}
	ri, rj := IsPodReady(pi), IsPodReady(pj)
	if ri != rj {
		return !ri
	}
	if ci, cj := PodDeletionCost(pi), PodDeletionCost(pj); ci != cj {
		return ci < cj
	}
	if s.Rank[i] != s.Rank[j] {
		return s.Rank[i] > s.Rank[j]
	}
	if ri && rj {
		ti, tj := podReadyTime(pi), podReadyTime(pj)
		if !ti.Equal(tj) {
			return afterOrZero(ti, tj)
		}
	}
	if mi, mj := maxContainerRestarts(pi), maxContainerRestarts(pj); mi != mj {
		return mi > mj
	}
	ti, tj := creationTime(pi), creationTime(pj)
	if !ti.Equal(tj) {
		return afterOrZero(ti, tj)
	}
	return false
}

func phaseOrdinal(p *corev1.Pod) int {
	if o, ok := podPhaseToOrdinal[p.GetStatus().GetPhase()]; ok {
		return o
	}
	return 0 // an empty phase is a pod that has not been reported yet: Pending
}

func creationTime(p *corev1.Pod) time.Time {
	if ts := p.GetMetadata().GetCreationTimestamp(); ts != nil {
		return ts.AsTime()
	}
	return time.Time{}
}

// afterOrZero: a zero time sorts first, then the later time.
func afterOrZero(t1, t2 time.Time) bool {
	if t1.IsZero() || t2.IsZero() {
		return t1.IsZero()
	}
	return t1.After(t2)
}
