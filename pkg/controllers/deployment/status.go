package deployment

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/controllers/internal"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

func (s *syncer) newCondition(t, status, reason, msg string) *metav1.Condition {
	now := timestamppb.New(s.now)
	return &metav1.Condition{Type: t, Status: status, Reason: reason, Message: msg, LastUpdateTime: now, LastTransitionTime: now}
}

// setCondition adds c, replacing the condition of its type unless status and reason are unchanged; the
// transition time is kept when the status is.
func setCondition(st *appsv1.DeploymentStatus, c *metav1.Condition) {
	cur := GetCondition(st, c.GetType())
	if cur != nil && cur.GetStatus() == c.GetStatus() && cur.GetReason() == c.GetReason() {
		return
	}
	if cur != nil && cur.GetStatus() == c.GetStatus() {
		c.LastTransitionTime = cur.GetLastTransitionTime()
	}
	removeCondition(st, c.GetType())
	st.Conditions = append(st.Conditions, c)
}

func removeCondition(st *appsv1.DeploymentStatus, t string) {
	kept := st.Conditions[:0]
	for _, c := range st.Conditions {
		if c.GetType() != t {
			kept = append(kept, c)
		}
	}
	st.Conditions = kept
}

// calculateStatus derives d's status from its ReplicaSets.
func (s *syncer) calculateStatus(allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) *appsv1.DeploymentStatus {
	d := s.d
	allRSs, newRS = s.latestAll(allRSs), s.latest(newRS)
	var available, total, actual, ready int32
	for _, rs := range allRSs {
		if rs == nil {
			continue
		}
		available += rs.GetStatus().GetAvailableReplicas()
		total += rsReplicas(rs)
		actual += rs.GetStatus().GetReplicas()
		ready += rs.GetStatus().GetReadyReplicas()
	}
	st := &appsv1.DeploymentStatus{
		ObservedGeneration:  d.GetMetadata().GetGeneration(),
		Replicas:            actual,
		UpdatedReplicas:     newRS.GetStatus().GetReplicas(),
		ReadyReplicas:       ready,
		AvailableReplicas:   available,
		UnavailableReplicas: max(total-available, 0),
	}
	if cc := collisionCount(d); cc != nil {
		st.CollisionCount = proto.Int32(*cc)
	}
	for _, c := range d.GetStatus().GetConditions() {
		st.Conditions = append(st.Conditions, api.Clone(c))
	}
	if available >= Replicas(d)-MaxUnavailable(d) {
		setCondition(st, s.newCondition(ConditionAvailable, internal.ConditionTrue, ReasonMinimumReplicasAvailable, "Deployment has minimum availability."))
	} else {
		setCondition(st, s.newCondition(ConditionAvailable, internal.ConditionFalse, ReasonMinimumReplicasUnavailable, "Deployment does not have minimum availability."))
	}
	return st
}

// syncDeploymentStatus writes the status computed from the ReplicaSets when it changed.
func (s *syncer) syncDeploymentStatus(ctx context.Context, allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) error {
	st := s.calculateStatus(allRSs, newRS)
	if proto.Equal(s.d.GetStatus(), st) {
		return nil
	}
	s.d.Status = st
	return s.write(ctx, false, true)
}

// deploymentComplete: every replica is updated and available, and the latest spec was observed.
func deploymentComplete(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	r := Replicas(d)
	return st.GetUpdatedReplicas() == r && st.GetReplicas() == r && st.GetAvailableReplicas() == r &&
		st.GetObservedGeneration() >= d.GetMetadata().GetGeneration()
}

// deploymentProgressing: more updated, ready or available pods, or fewer old ones, than in d's status.
func deploymentProgressing(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	old := d.GetStatus()
	oldOld := old.GetReplicas() - old.GetUpdatedReplicas()
	newOld := st.GetReplicas() - st.GetUpdatedReplicas()
	return st.GetUpdatedReplicas() > old.GetUpdatedReplicas() || newOld < oldOld ||
		st.GetReadyReplicas() > old.GetReadyReplicas() || st.GetAvailableReplicas() > old.GetAvailableReplicas()
}

// deploymentTimedOut: no progress was recorded for progressDeadlineSeconds.
func deploymentTimedOut(d *appsv1.Deployment, st *appsv1.DeploymentStatus, now time.Time) bool {
	deadline, ok := progressDeadline(d)
	if !ok {
		return false
	}
	c := GetCondition(st, ConditionProgressing)
	if c == nil {
		return false
	}
	switch c.GetReason() {
	case ReasonNewReplicaSetAvailable:
		return false
	case ReasonProgressDeadlineExceeded:
		return true
	}
	if c.GetLastUpdateTime() == nil {
		return false
	}
	return c.GetLastUpdateTime().AsTime().Add(time.Duration(deadline) * time.Second).Before(now)
}

// syncRolloutStatus updates the status, with the Progressing condition, of a Deployment being rolled out.
func (s *syncer) syncRolloutStatus(ctx context.Context, allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) error {
	d := s.d
	newRS = s.latest(newRS)
	st := s.calculateStatus(allRSs, newRS)
	_, hasDeadline := progressDeadline(d)
	if !hasDeadline {
		removeCondition(st, ConditionProgressing)
	}
	cur := GetCondition(d.GetStatus(), ConditionProgressing)
	complete := st.GetReplicas() == st.GetUpdatedReplicas() && cur != nil && cur.GetReason() == ReasonNewReplicaSetAvailable
	if hasDeadline && !complete {
		name := fmt.Sprintf("Deployment %q", d.GetMetadata().GetName())
		if newRS != nil {
			name = fmt.Sprintf("ReplicaSet %q", newRS.GetMetadata().GetName())
		}
		switch {
		case deploymentComplete(d, st):
			setCondition(st, s.newCondition(ConditionProgressing, internal.ConditionTrue, ReasonNewReplicaSetAvailable,
				name+" has successfully progressed."))
		case deploymentProgressing(d, st):
			// Progress refreshes lastUpdateTime even when the reason stays the same.
			c := s.newCondition(ConditionProgressing, internal.ConditionTrue, ReasonReplicaSetUpdated, name+" is progressing.")
			if cur != nil {
				if cur.GetStatus() == internal.ConditionTrue {
					c.LastTransitionTime = cur.GetLastTransitionTime()
				}
				removeCondition(st, ConditionProgressing)
			}
			setCondition(st, c)
		case deploymentTimedOut(d, st, s.now):
			setCondition(st, s.newCondition(ConditionProgressing, internal.ConditionFalse, ReasonProgressDeadlineExceeded,
				name+" has timed out progressing."))
		}
	}
	if failure := replicaFailure(s.latestAll(allRSs), newRS); failure != nil {
		setCondition(st, failure)
	} else {
		removeCondition(st, ConditionReplicaFailure)
	}
	if proto.Equal(d.GetStatus(), st) {
		s.requeueStuckDeployment(st)
		return nil
	}
	s.d.Status = st
	return s.write(ctx, false, true)
}

// replicaFailure is the ReplicaFailure condition of the new ReplicaSet, else of an old one, as a Deployment
// condition; nil when none fails.
func replicaFailure(allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) *metav1.Condition {
	conv := func(c *metav1.Condition) *metav1.Condition {
		return &metav1.Condition{Type: ConditionReplicaFailure, Status: c.GetStatus(), Reason: c.GetReason(), Message: c.GetMessage(),
			LastTransitionTime: c.GetLastTransitionTime(), LastUpdateTime: c.GetLastTransitionTime()}
	}
	for _, c := range newRS.GetStatus().GetConditions() {
		if c.GetType() == ConditionReplicaFailure {
			return conv(c)
		}
	}
	for _, rs := range allRSs {
		for _, c := range rs.GetStatus().GetConditions() {
			if c.GetType() == ConditionReplicaFailure {
				return conv(c)
			}
		}
	}
	return nil
}

// requeueStuckDeployment syncs a progressing Deployment again right after its progress deadline, to mark it
// ProgressDeadlineExceeded if nothing happened by then.
func (s *syncer) requeueStuckDeployment(st *appsv1.DeploymentStatus) {
	d := s.d
	deadline, ok := progressDeadline(d)
	cur := GetCondition(d.GetStatus(), ConditionProgressing)
	if !ok || cur == nil || cur.GetLastUpdateTime() == nil {
		return
	}
	if deploymentComplete(d, st) || cur.GetReason() == ReasonProgressDeadlineExceeded {
		return
	}
	after := cur.GetLastUpdateTime().AsTime().Add(time.Duration(deadline) * time.Second).Sub(s.now)
	s.c.ctrl.EnqueueAfter(s.key, max(after, 0)+100*time.Millisecond)
}

// checkPausedConditions sets Progressing to Unknown/DeploymentPaused when d is paused, and to
// Unknown/DeploymentResumed when it was resumed, unless the deadline was already exceeded.
func (s *syncer) checkPausedConditions(ctx context.Context) error {
	d := s.d
	if _, ok := progressDeadline(d); !ok {
		return nil
	}
	cond := GetCondition(d.GetStatus(), ConditionProgressing)
	if cond != nil && cond.GetReason() == ReasonProgressDeadlineExceeded {
		return nil
	}
	pausedCond := cond != nil && cond.GetReason() == ReasonDeploymentPaused
	switch {
	case d.GetSpec().GetPaused() && !pausedCond:
		setCondition(s.status(), s.newCondition(ConditionProgressing, internal.ConditionUnknown, ReasonDeploymentPaused, "Deployment is paused"))
	case !d.GetSpec().GetPaused() && pausedCond:
		setCondition(s.status(), s.newCondition(ConditionProgressing, internal.ConditionUnknown, ReasonDeploymentResumed, "Deployment is resumed"))
	default:
		return nil
	}
	return s.write(ctx, false, true)
}
