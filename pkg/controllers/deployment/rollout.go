package deployment

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/coxswain/coxswain/pkg/controllers/internal"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
)

// rolloutRolling advances a RollingUpdate: scale the new ReplicaSet up within maxSurge, else scale old ones
// down within maxUnavailable; clean up the history once complete.
func (s *syncer) rolloutRolling(ctx context.Context) error {
	newRS, oldRSs, err := s.getAllReplicaSetsAndSyncRevision(ctx, true)
	if err != nil {
		return err
	}
	allRSs := append(slices.Clone(oldRSs), newRS)
	scaledUp, err := s.reconcileNewReplicaSet(ctx, allRSs, newRS)
	if err != nil {
		return err
	}
	if scaledUp {
		return s.syncRolloutStatus(ctx, allRSs, newRS)
	}
	scaledDown, err := s.reconcileOldReplicaSets(ctx, allRSs, filterActive(oldRSs), newRS)
	if err != nil {
		return err
	}
	if scaledDown {
		return s.syncRolloutStatus(ctx, allRSs, newRS)
	}
	if deploymentComplete(s.d, s.d.GetStatus()) {
		if err := s.cleanupDeployment(ctx, oldRSs); err != nil {
			return err
		}
	}
	return s.syncRolloutStatus(ctx, allRSs, newRS)
}

func (s *syncer) reconcileNewReplicaSet(ctx context.Context, allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) (bool, error) {
	want := Replicas(s.d)
	switch cur := rsReplicas(newRS); {
	case cur == want:
		return false, nil
	case cur > want:
		scaled, _, err := s.scaleAndRecord(ctx, newRS, want)
		return scaled, err
	}
	n, err := newRSNewReplicas(s.d, s.latestAll(allRSs), s.latest(newRS))
	if err != nil {
		return false, err
	}
	scaled, _, err := s.scaleAndRecord(ctx, newRS, n)
	return scaled, err
}

// reconcileOldReplicaSets scales old ReplicaSets down as far as maxUnavailable allows: first their
// unavailable pods, then available ones while at least replicas-maxUnavailable stay available.
func (s *syncer) reconcileOldReplicaSets(ctx context.Context, allRSs, oldRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) (bool, error) {
	allRSs, oldRSs, newRS = s.latestAll(allRSs), s.latestAll(oldRSs), s.latest(newRS)
	if sumReplicas(oldRSs) == 0 {
		return false, nil
	}
	allPods := sumReplicas(allRSs)
	minAvailable := Replicas(s.d) - MaxUnavailable(s.d)
	newRSUnavailable := rsReplicas(newRS) - availableOf(newRS)
	maxScaledDown := allPods - minAvailable - newRSUnavailable
	if maxScaledDown <= 0 {
		return false, nil
	}
	oldRSs, cleaned, err := s.cleanupUnhealthyReplicas(ctx, oldRSs, maxScaledDown)
	if err != nil {
		return false, err
	}
	allRSs = append(slices.Clone(oldRSs), newRS)
	scaledDown, err := s.scaleDownOldReplicaSetsForRollingUpdate(ctx, allRSs, oldRSs)
	if err != nil {
		return false, err
	}
	return cleaned+scaledDown > 0, nil
}

// cleanupUnhealthyReplicas removes the unavailable replicas of old ReplicaSets (oldest first), at most
// maxCleanup: they serve nothing, so removing them costs no availability.
func (s *syncer) cleanupUnhealthyReplicas(ctx context.Context, oldRSs []*appsv1.ReplicaSet, maxCleanup int32) ([]*appsv1.ReplicaSet, int32, error) {
	oldRSs = slices.Clone(oldRSs)
	sort.SliceStable(oldRSs, byCreation(oldRSs))
	var total int32
	for i, rs := range oldRSs {
		if total >= maxCleanup {
			break
		}
		rs = s.latest(rs)
		if rsReplicas(rs) == 0 || rsReplicas(rs) == availableOf(rs) {
			continue
		}
		n := min(maxCleanup-total, rsReplicas(rs)-availableOf(rs))
		newCount := rsReplicas(rs) - n
		if newCount > rsReplicas(rs) || newCount < 0 {
			return nil, 0, fmt.Errorf("when cleaning up unhealthy replicas, got invalid request to scale down %s %d -> %d",
				rs.GetMetadata().GetName(), rsReplicas(rs), newCount)
		}
		_, updated, err := s.scaleAndRecord(ctx, rs, newCount)
		if err != nil {
			return nil, total, err
		}
		total += n
		oldRSs[i] = updated
	}
	return oldRSs, total, nil
}

// scaleDownOldReplicaSetsForRollingUpdate scales old ReplicaSets down (oldest first) by the available pods
// beyond replicas-maxUnavailable.
func (s *syncer) scaleDownOldReplicaSetsForRollingUpdate(ctx context.Context, allRSs, oldRSs []*appsv1.ReplicaSet) (int32, error) {
	minAvailable := Replicas(s.d) - MaxUnavailable(s.d)
	var available int32
	for _, rs := range s.latestAll(allRSs) {
		available += availableOf(rs)
	}
	if available <= minAvailable {
		return 0, nil
	}
	toScaleDown := available - minAvailable
	oldRSs = slices.Clone(oldRSs)
	sort.SliceStable(oldRSs, byCreation(oldRSs))
	var total int32
	for _, rs := range oldRSs {
		if total >= toScaleDown {
			break
		}
		rs = s.latest(rs)
		if rsReplicas(rs) == 0 {
			continue
		}
		n := min(rsReplicas(rs), toScaleDown-total)
		if _, _, err := s.scaleAndRecord(ctx, rs, rsReplicas(rs)-n); err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// rolloutRecreate scales every old ReplicaSet to 0, waits until their pods are gone, then creates and
// scales up the new one.
func (s *syncer) rolloutRecreate(ctx context.Context) error {
	// Do not create the new ReplicaSet yet, so that nothing scales up before the old pods are gone.
	newRS, oldRSs, err := s.getAllReplicaSetsAndSyncRevision(ctx, false)
	if err != nil {
		return err
	}
	allRSs := append(slices.Clone(oldRSs), newRS)
	scaledDown := false
	for _, rs := range filterActive(oldRSs) {
		scaled, _, err := s.scaleAndRecord(ctx, rs, 0)
		if err != nil {
			return err
		}
		scaledDown = scaledDown || scaled
	}
	if scaledDown {
		return s.syncRolloutStatus(ctx, allRSs, newRS)
	}
	if s.oldPodsRunning(newRS, oldRSs) {
		return s.syncRolloutStatus(ctx, allRSs, newRS)
	}
	if newRS == nil {
		if newRS, oldRSs, err = s.getAllReplicaSetsAndSyncRevision(ctx, true); err != nil {
			return err
		}
		allRSs = append(slices.Clone(oldRSs), newRS)
	}
	if _, _, err := s.scaleAndRecord(ctx, newRS, Replicas(s.d)); err != nil {
		return err
	}
	if deploymentComplete(s.d, s.d.GetStatus()) {
		if err := s.cleanupDeployment(ctx, oldRSs); err != nil {
			return err
		}
	}
	return s.syncRolloutStatus(ctx, allRSs, newRS)
}

// oldPodsRunning reports whether any pod of an old ReplicaSet still exists and has not terminated (pods
// being deleted count: their containers may still run).
func (s *syncer) oldPodsRunning(newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) bool {
	var n int32
	for _, rs := range s.latestAll(oldRSs) {
		n += rs.GetStatus().GetReplicas()
	}
	if n > 0 {
		return true
	}
	for uid, pods := range s.pods {
		if newRS != nil && uid == newRS.GetMetadata().GetUid() {
			continue
		}
		for _, p := range pods {
			switch p.GetStatus().GetPhase() {
			case internal.PodFailed, internal.PodSucceeded:
				continue
			}
			return true
		}
	}
	return false
}
