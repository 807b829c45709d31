package deployment

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/client/record"
	"github.com/coxswain/coxswain/pkg/controllers/internal"
	"github.com/coxswain/coxswain/pkg/labels"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// maxRevisionHistoryChars bounds the revision-history annotation.
const maxRevisionHistoryChars = 2000

// syncer carries one sync of one Deployment: the latest known Deployment and ReplicaSets (replaced by what
// every write returns, so that later writes of the same sync do not conflict with earlier ones).
type syncer struct {
	c    *Controller
	key  string
	now  time.Time
	d    *appsv1.Deployment
	rss  []*appsv1.ReplicaSet
	pods map[string][]*corev1.Pod // ReplicaSet uid → its pods
}

func (s *syncer) status() *appsv1.DeploymentStatus {
	if s.d.Status == nil {
		s.d.Status = &appsv1.DeploymentStatus{}
	}
	return s.d.Status
}

// write persists s.d: Update for metadata (the revision annotation), UpdateStatus for the status.
func (s *syncer) write(ctx context.Context, meta, status bool) error {
	d := s.d
	if meta {
		out, err := s.c.dClient.Update(ctx, d)
		if err != nil {
			return fmt.Errorf("update deployment %s: %w", s.key, err)
		}
		out.Status = d.Status
		d = out
	}
	if status {
		out, err := s.c.dClient.UpdateStatus(ctx, d)
		if err != nil {
			return fmt.Errorf("update status of deployment %s: %w", s.key, err)
		}
		d = out
	}
	s.d = d
	return nil
}

// latest returns the newest known version of rs (nil stays nil).
func (s *syncer) latest(rs *appsv1.ReplicaSet) *appsv1.ReplicaSet {
	if rs == nil {
		return nil
	}
	for _, x := range s.rss {
		if x.GetMetadata().GetUid() == rs.GetMetadata().GetUid() {
			return x
		}
	}
	return rs
}

func (s *syncer) latestAll(rss []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	out := make([]*appsv1.ReplicaSet, len(rss))
	for i, rs := range rss {
		out[i] = s.latest(rs)
	}
	return out
}

// updateRS writes rs and remembers the result.
func (s *syncer) updateRS(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
	out, err := s.c.rsClient.Update(ctx, rs)
	if err != nil {
		return nil, fmt.Errorf("update replica set %s: %w", api.Key(rs), err)
	}
	s.remember(out)
	return out, nil
}

func (s *syncer) remember(rs *appsv1.ReplicaSet) {
	for i, x := range s.rss {
		if x.GetMetadata().GetUid() == rs.GetMetadata().GetUid() {
			s.rss[i] = rs
			return
		}
	}
	s.rss = append(s.rss, rs)
}

// claimReplicaSets adopts and releases ReplicaSets and keeps those d controls.
func (s *syncer) claimReplicaSets(ctx context.Context, sel labels.Selector) error {
	ns, name := s.d.GetMetadata().GetNamespace(), s.d.GetMetadata().GetName()
	rm := &internal.RefManager[*appsv1.ReplicaSet]{Controller: s.d, APIVersion: APIVersion, Kind: Kind, Selector: sel,
		Client: s.c.rsClient,
		CanAdopt: internal.RecheckDeletionTimestamp(func(ctx context.Context) (api.Object, error) {
			return s.c.dClient.Get(ctx, ns, name)
		}, s.d.GetMetadata().GetUid())}
	rss, err := rm.Claim(ctx, s.c.rsInformer.ListSelector(ns, labels.Everything()))
	s.rss = rss
	return err
}

// activeRS: a ReplicaSet with replicas.
func filterActive(rss []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, rs := range rss {
		if rs != nil && rsReplicas(rs) > 0 {
			out = append(out, rs)
		}
	}
	return out
}

func sumReplicas(rss []*appsv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += rsReplicas(rs)
		}
	}
	return n
}

// podCount bounds the active pods of rs: spec.replicas, or status.replicas while a scale-down is not yet
// reflected in it (its pods are not yet marked for deletion).
func podCount(rs *appsv1.ReplicaSet) int32 {
	if rs == nil {
		return 0
	}
	return max(rsReplicas(rs), rs.GetStatus().GetReplicas())
}

// availableOf is rs's available pods as far as a scale-down may rely on them: status.availableReplicas, but
// never more than spec.replicas (pods beyond spec.replicas are about to be deleted, and the ReplicaSet
// deletes unavailable pods first).
func availableOf(rs *appsv1.ReplicaSet) int32 {
	if rs == nil {
		return 0
	}
	return min(rs.GetStatus().GetAvailableReplicas(), rsReplicas(rs))
}

// getAllReplicaSetsAndSyncRevision returns the new ReplicaSet (created when create is set and it does not
// exist) and the old ones, and syncs the revision annotations.
func (s *syncer) getAllReplicaSetsAndSyncRevision(ctx context.Context, create bool) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet, error) {
	_, allOld := FindOldReplicaSets(s.d, s.rss)
	newRS, err := s.getNewReplicaSet(ctx, allOld, create)
	if err != nil {
		return nil, nil, err
	}
	return newRS, allOld, nil
}

func (s *syncer) getNewReplicaSet(ctx context.Context, oldRSs []*appsv1.ReplicaSet, create bool) (*appsv1.ReplicaSet, error) {
	d := s.d
	existing := FindNewReplicaSet(d, s.rss)
	newRevision := strconv.FormatInt(MaxRevision(oldRSs)+1, 10)
	_, hasDeadline := progressDeadline(d)
	if existing != nil {
		rsCopy := api.Clone(existing)
		annotationsUpdated := s.setNewReplicaSetAnnotations(rsCopy, newRevision, true)
		if annotationsUpdated || rsCopy.GetSpec().GetMinReadySeconds() != d.GetSpec().GetMinReadySeconds() {
			rsCopy.Spec.MinReadySeconds = d.GetSpec().GetMinReadySeconds()
			return s.updateRS(ctx, rsCopy)
		}
		meta := setDeploymentRevision(d, rsCopy.GetMetadata().GetAnnotations()[RevisionAnnotation])
		status := false
		if hasDeadline && GetCondition(d.GetStatus(), ConditionProgressing) == nil {
			setCondition(s.status(), s.newCondition(ConditionProgressing, internal.ConditionTrue, ReasonFoundNewReplicaSet,
				fmt.Sprintf("Found new replica set %q", rsCopy.GetMetadata().GetName())))
			status = true
		}
		if meta || status {
			if err := s.write(ctx, meta, status); err != nil {
				return nil, err
			}
		}
		return rsCopy, nil
	}
	if !create {
		return nil, nil
	}

	hash := PodTemplateHash(d.GetSpec().GetTemplate(), collisionCount(d))
	tmpl := api.Clone(d.GetSpec().GetTemplate())
	if tmpl == nil {
		tmpl = &corev1.PodTemplateSpec{}
	}
	if tmpl.Metadata == nil {
		tmpl.Metadata = &metav1.ObjectMeta{}
	}
	tmpl.Metadata.Labels = withLabel(tmpl.Metadata.Labels, PodTemplateHashLabel, hash)
	sel := api.Clone(d.GetSpec().GetSelector())
	sel.MatchLabels = withLabel(sel.MatchLabels, PodTemplateHashLabel, hash)
	newRS := &appsv1.ReplicaSet{
		Metadata: &metav1.ObjectMeta{
			Name:            d.GetMetadata().GetName() + "-" + hash,
			Namespace:       d.GetMetadata().GetNamespace(),
			Labels:          maps.Clone(tmpl.Metadata.Labels),
			OwnerReferences: []*metav1.OwnerReference{internal.NewControllerRef(d, APIVersion, Kind)},
		},
		Spec: &appsv1.ReplicaSetSpec{Replicas: proto.Int32(0), MinReadySeconds: d.GetSpec().GetMinReadySeconds(),
			Selector: sel, Template: tmpl},
	}
	n, err := newRSNewReplicas(d, append(slices.Clone(oldRSs), newRS), newRS)
	if err != nil {
		return nil, err
	}
	newRS.Spec.Replicas = proto.Int32(n)
	s.setNewReplicaSetAnnotations(newRS, newRevision, false)

	created, err := s.c.rsClient.Create(ctx, newRS)
	s.c.m.creations.WithLabelValues(createResult(err)).Inc()
	alreadyExists := false
	switch {
	case apierrors.IsAlreadyExists(err):
		alreadyExists = true
		rs, ok := s.c.rsInformer.Get(newRS.Metadata.Namespace, newRS.Metadata.Name)
		if !ok {
			var getErr error
			if rs, getErr = s.c.rsClient.Get(ctx, newRS.Metadata.Namespace, newRS.Metadata.Name); getErr != nil {
				return nil, getErr
			}
		}
		if internal.IsControlledBy(rs, d.GetMetadata().GetUid()) && EqualIgnoreHash(d.GetSpec().GetTemplate(), rs.GetSpec().GetTemplate()) {
			created, err = rs, nil // ours: the cache had not seen it yet
			break
		}
		// A hash collision: another template (or object) has this name. Bump collisionCount so that the
		// next sync computes another name.
		st := s.status()
		var cc int32
		if st.CollisionCount != nil {
			cc = *st.CollisionCount
		}
		st.CollisionCount = proto.Int32(cc + 1)
		if werr := s.write(ctx, false, true); werr == nil {
			s.c.log.Info("found a hash collision for deployment; bumped collisionCount", "key", s.key, "collisionCount", cc+1)
		}
		return nil, err
	case err != nil:
		msg := fmt.Sprintf("Failed to create new replica set %q: %v", newRS.Metadata.Name, err)
		if hasDeadline {
			setCondition(s.status(), s.newCondition(ConditionProgressing, internal.ConditionFalse, ReasonReplicaSetCreateError, msg))
			_ = s.write(ctx, false, true)
		}
		s.c.rec.Eventf(d, record.Warning, ReasonReplicaSetCreateError, "%s", msg)
		return nil, err
	}
	s.remember(created)
	if !alreadyExists && n > 0 {
		s.c.m.scales.WithLabelValues("up").Inc()
		s.c.rec.Eventf(s.d, record.Normal, ReasonScalingReplicaSet, "Scaled up replica set %s to %d", created.GetMetadata().GetName(), n)
	}
	meta := setDeploymentRevision(s.d, newRevision)
	status := false
	if !alreadyExists && hasDeadline {
		setCondition(s.status(), s.newCondition(ConditionProgressing, internal.ConditionTrue, ReasonNewReplicaSetCreated,
			fmt.Sprintf("Created new replica set %q", created.GetMetadata().GetName())))
		status = true
	}
	if meta || status {
		if err := s.write(ctx, meta, status); err != nil {
			return created, err
		}
	}
	return created, nil
}

func createResult(err error) string {
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return "error"
	}
	return "success"
}

func withLabel(m map[string]string, k, v string) map[string]string {
	out := maps.Clone(m)
	if out == nil {
		out = map[string]string{}
	}
	out[k] = v
	return out
}

// skipCopy are the Deployment annotations not copied to its ReplicaSets.
var skipCopy = map[string]bool{LastAppliedConfigAnnotation: true, RevisionAnnotation: true, RevisionHistoryAnnotation: true,
	DesiredReplicasAnnotation: true, MaxReplicasAnnotation: true, "deprecated.deployment.rollback.to": true}

// setNewReplicaSetAnnotations copies d's annotations to the new ReplicaSet, gives it newRevision when its own
// is lower (keeping the old revision in revision-history: a rollback), and for a ReplicaSet being created sets
// the replicas annotations. It reports whether anything changed.
func (s *syncer) setNewReplicaSetAnnotations(rs *appsv1.ReplicaSet, newRevision string, exists bool) bool {
	m := api.Meta(rs)
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	changed := false
	for k, v := range s.d.GetMetadata().GetAnnotations() {
		if cur, ok := m.Annotations[k]; skipCopy[k] || ok && cur == v {
			continue
		}
		m.Annotations[k] = v
		changed = true
	}
	oldRevision, had := m.Annotations[RevisionAnnotation]
	oldRev, err := strconv.ParseInt(oldRevision, 10, 64)
	if err != nil {
		if oldRevision != "" {
			s.c.log.Warn("replica set has an invalid revision annotation", "replicaset", api.Key(rs), "revision", oldRevision)
			return false
		}
		oldRev = 0
	}
	newRev, err := strconv.ParseInt(newRevision, 10, 64)
	if err != nil {
		return false
	}
	if oldRev < newRev {
		m.Annotations[RevisionAnnotation] = newRevision
		changed = true
		if had {
			appendRevisionHistory(m.Annotations, oldRevision)
		}
	}
	if !exists && setReplicasAnnotations(rs, Replicas(s.d), Replicas(s.d)+MaxSurge(s.d)) {
		changed = true
	}
	return changed
}

// appendRevisionHistory adds oldRevision to the revision-history annotation, dropping the oldest entries
// beyond maxRevisionHistoryChars.
func appendRevisionHistory(ann map[string]string, oldRevision string) {
	history := ann[RevisionHistoryAnnotation]
	if history == "" {
		ann[RevisionHistoryAnnotation] = oldRevision
		return
	}
	revs := strings.Split(history, ",")
	total := len(history) + len(oldRevision) + 1
	start := 0
	for total > maxRevisionHistoryChars && start < len(revs) {
		total -= len(revs[start]) + 1
		start++
	}
	if total <= maxRevisionHistoryChars {
		ann[RevisionHistoryAnnotation] = strings.Join(append(revs[start:], oldRevision), ",")
	}
}

func setDeploymentRevision(d *appsv1.Deployment, revision string) bool {
	m := api.Meta(d)
	if m.Annotations[RevisionAnnotation] == revision {
		return false
	}
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[RevisionAnnotation] = revision
	return true
}

func replicasAnnotationsNeedUpdate(rs *appsv1.ReplicaSet, desired, maxReplicas int32) bool {
	a := rs.GetMetadata().GetAnnotations()
	return a[DesiredReplicasAnnotation] != strconv.Itoa(int(desired)) || a[MaxReplicasAnnotation] != strconv.Itoa(int(maxReplicas))
}

func setReplicasAnnotations(rs *appsv1.ReplicaSet, desired, maxReplicas int32) bool {
	if !replicasAnnotationsNeedUpdate(rs, desired, maxReplicas) {
		return false
	}
	m := api.Meta(rs)
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[DesiredReplicasAnnotation] = strconv.Itoa(int(desired))
	m.Annotations[MaxReplicasAnnotation] = strconv.Itoa(int(maxReplicas))
	return true
}

func intAnnotation(rs *appsv1.ReplicaSet, key string) (int32, bool) {
	v, ok := rs.GetMetadata().GetAnnotations()[key]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(n), true
}

// newRSNewReplicas is how many replicas the new ReplicaSet may have now: for a rolling update, as many as
// fit under replicas+maxSurge counting every ReplicaSet's pods; for Recreate, all of them.
func newRSNewReplicas(d *appsv1.Deployment, allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) (int32, error) {
	switch t := d.GetSpec().GetStrategy().GetType(); t {
	case RollingUpdate, "":
		surgeParam, _ := rollingParams(d)
		surge, err := ScaledValue(surgeParam, int(Replicas(d)), true)
		if err != nil {
			return 0, fmt.Errorf("deployment %s: spec.strategy.rollingUpdate.maxSurge: %w", api.Key(d), err)
		}
		var current int32
		for _, rs := range allRSs {
			current += podCount(rs)
		}
		maxTotal := Replicas(d) + int32(surge)
		if current >= maxTotal {
			return rsReplicas(newRS), nil // cannot scale up
		}
		up := min(maxTotal-current, Replicas(d)-rsReplicas(newRS))
		return rsReplicas(newRS) + up, nil
	case Recreate:
		return Replicas(d), nil
	default:
		return 0, fmt.Errorf("deployment %s: unexpected strategy type %q", api.Key(d), t)
	}
}

// scaleAndRecord scales rs to newScale (recording an event) unless it already has that size.
func (s *syncer) scaleAndRecord(ctx context.Context, rs *appsv1.ReplicaSet, newScale int32) (bool, *appsv1.ReplicaSet, error) {
	if rsReplicas(rs) == newScale {
		return false, rs, nil
	}
	op := "down"
	if rsReplicas(rs) < newScale {
		op = "up"
	}
	return s.scaleReplicaSet(ctx, rs, newScale, op)
}

// scaleReplicaSet sets rs's replicas and its replicas annotations.
func (s *syncer) scaleReplicaSet(ctx context.Context, rs *appsv1.ReplicaSet, newScale int32, op string) (bool, *appsv1.ReplicaSet, error) {
	rs = s.latest(rs)
	sizeChanged := rsReplicas(rs) != newScale
	desired, maxReplicas := Replicas(s.d), Replicas(s.d)+MaxSurge(s.d)
	if !sizeChanged && !replicasAnnotationsNeedUpdate(rs, desired, maxReplicas) {
		return false, rs, nil
	}
	cp := api.Clone(rs)
	cp.Spec.Replicas = proto.Int32(newScale)
	setReplicasAnnotations(cp, desired, maxReplicas)
	out, err := s.updateRS(ctx, cp)
	if err != nil {
		return false, rs, err
	}
	if sizeChanged {
		s.c.m.scales.WithLabelValues(op).Inc()
		s.c.rec.Eventf(s.d, record.Normal, ReasonScalingReplicaSet, "Scaled %s replica set %s to %d", op, out.GetMetadata().GetName(), newScale)
		s.c.log.Debug("scaled replica set", "deployment", s.key, "replicaset", out.GetMetadata().GetName(), "direction", op, "replicas", newScale)
	}
	return sizeChanged, out, nil
}

// isScalingEvent reports whether spec.replicas changed since the active ReplicaSets were last scaled (their
// desired-replicas annotation differs).
func (s *syncer) isScalingEvent(ctx context.Context) (bool, error) {
	newRS, oldRSs, err := s.getAllReplicaSetsAndSyncRevision(ctx, false)
	if err != nil {
		return false, err
	}
	for _, rs := range filterActive(append(oldRSs, newRS)) {
		desired, ok := intAnnotation(rs, DesiredReplicasAnnotation)
		if ok && desired != Replicas(s.d) {
			return true, nil
		}
	}
	return false, nil
}

// syncScale handles a paused Deployment or a change of replicas: it scales the ReplicaSets (proportionally
// during a rollout) without making rollout progress.
func (s *syncer) syncScale(ctx context.Context) error {
	newRS, oldRSs, err := s.getAllReplicaSetsAndSyncRevision(ctx, false)
	if err != nil {
		return err
	}
	if err := s.scale(ctx, newRS, oldRSs); err != nil {
		return err
	}
	if s.d.GetSpec().GetPaused() {
		if err := s.cleanupDeployment(ctx, oldRSs); err != nil {
			return err
		}
	}
	return s.syncDeploymentStatus(ctx, append(oldRSs, newRS), newRS)
}

func (s *syncer) syncStatusOnly(ctx context.Context) error {
	newRS, oldRSs, err := s.getAllReplicaSetsAndSyncRevision(ctx, false)
	if err != nil {
		return err
	}
	return s.syncDeploymentStatus(ctx, append(oldRSs, newRS), newRS)
}

// findActiveOrLatest returns the only ReplicaSet with replicas, or, when none has any, the new one or else
// the newest old one; nil when several have replicas.
func findActiveOrLatest(newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	if newRS == nil && len(oldRSs) == 0 {
		return nil
	}
	old := slices.Clone(oldRSs)
	sort.SliceStable(old, func(i, j int) bool { return olderThan(old[j], old[i]) })
	all := filterActive(append(old, newRS))
	switch len(all) {
	case 0:
		if newRS != nil {
			return newRS
		}
		return old[0]
	case 1:
		return all[0]
	}
	return nil
}

// isSaturated: the new ReplicaSet runs all of d's replicas, all available.
func isSaturated(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	if rs == nil {
		return false
	}
	desired, ok := intAnnotation(rs, DesiredReplicasAnnotation)
	return ok && rsReplicas(rs) == Replicas(d) && desired == Replicas(d) && rs.GetStatus().GetAvailableReplicas() == Replicas(d)
}

// scale brings the ReplicaSets to d's size: the only active one gets all replicas; a saturated new one makes
// the old ones go; otherwise, during a rolling update, the difference to replicas+maxSurge is spread over the
// active ReplicaSets in proportion to their size.
func (s *syncer) scale(ctx context.Context, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) error {
	d := s.d
	if active := findActiveOrLatest(newRS, oldRSs); active != nil {
		_, _, err := s.scaleAndRecord(ctx, active, Replicas(d))
		return err
	}
	if isSaturated(d, newRS) {
		for _, old := range filterActive(oldRSs) {
			if _, _, err := s.scaleAndRecord(ctx, old, 0); err != nil {
				return err
			}
		}
		return nil
	}
	if !IsRollingUpdate(d) {
		return nil
	}
	sizes, op := proportionalSizes(d, filterActive(append(slices.Clone(oldRSs), newRS)))
	for _, sz := range sizes {
		if _, _, err := s.scaleReplicaSet(ctx, sz.rs, sz.replicas, op); err != nil {
			return err
		}
	}
	return nil
}

type rsSize struct {
	rs       *appsv1.ReplicaSet
	replicas int32
}

// proportionalSizes spreads replicas+maxSurge minus the active ReplicaSets' replicas over them, in
// proportion to their share of the max-replicas annotation (Kubernetes' proportional scaling). Growth goes
// to the biggest (then newest) first, shrinkage to the biggest (then oldest); the rounding leftover goes to
// the first.
func proportionalSizes(d *appsv1.Deployment, active []*appsv1.ReplicaSet) ([]rsSize, string) {
	allowed := int32(0)
	if Replicas(d) > 0 {
		allowed = Replicas(d) + MaxSurge(d)
	}
	toAdd := allowed - sumReplicas(active)
	sorted := slices.Clone(active)
	op := ""
	switch {
	case toAdd > 0:
		sort.SliceStable(sorted, func(i, j int) bool {
			if rsReplicas(sorted[i]) == rsReplicas(sorted[j]) {
				return olderThan(sorted[j], sorted[i])
			}
			return rsReplicas(sorted[i]) > rsReplicas(sorted[j])
		})
		op = "up"
	case toAdd < 0:
		sort.SliceStable(sorted, func(i, j int) bool {
			if rsReplicas(sorted[i]) == rsReplicas(sorted[j]) {
				return olderThan(sorted[i], sorted[j])
			}
			return rsReplicas(sorted[i]) > rsReplicas(sorted[j])
		})
		op = "down"
	}
	out := make([]rsSize, len(sorted))
	var added int32
	for i, rs := range sorted {
		out[i] = rsSize{rs: rs, replicas: rsReplicas(rs)}
		if toAdd != 0 {
			p := proportion(rs, d, toAdd, added)
			out[i].replicas += p
			added += p
		}
	}
	if toAdd != 0 && len(out) > 0 {
		out[0].replicas = max(out[0].replicas+toAdd-added, 0)
	}
	return out, op
}

// proportion is how many replicas rs gains (or loses, negative) of toAdd, given added so far.
func proportion(rs *appsv1.ReplicaSet, d *appsv1.Deployment, toAdd, added int32) int32 {
	if rs == nil || rsReplicas(rs) == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	fraction := replicaSetFraction(rs, d)
	allowed := toAdd - added
	if toAdd > 0 {
		return min(fraction, allowed)
	}
	return max(fraction, allowed)
}

func replicaSetFraction(rs *appsv1.ReplicaSet, d *appsv1.Deployment) int32 {
	if Replicas(d) == 0 {
		return -rsReplicas(rs)
	}
	deploymentReplicas := Replicas(d) + MaxSurge(d)
	annotated, ok := intAnnotation(rs, MaxReplicasAnnotation)
	if !ok || annotated == 0 {
		annotated = d.GetStatus().GetReplicas()
	}
	if annotated == 0 {
		return 0
	}
	size := float64(rsReplicas(rs)*deploymentReplicas) / float64(annotated)
	return int32(math.Round(size)) - rsReplicas(rs)
}

// cleanupDeployment deletes the oldest old ReplicaSets beyond revisionHistoryLimit, only those fully
// scaled down (no pods, status up to date).
func (s *syncer) cleanupDeployment(ctx context.Context, oldRSs []*appsv1.ReplicaSet) error {
	if l := s.d.GetSpec().RevisionHistoryLimit; l != nil && *l == math.MaxInt32 {
		return nil
	}
	var alive []*appsv1.ReplicaSet
	for _, rs := range s.latestAll(oldRSs) {
		if rs != nil && rs.GetMetadata().GetDeletionTimestamp() == nil {
			alive = append(alive, rs)
		}
	}
	diff := len(alive) - int(revisionHistoryLimit(s.d))
	if diff <= 0 {
		return nil
	}
	sort.SliceStable(alive, func(i, j int) bool {
		ri, erri := Revision(alive[i])
		rj, errj := Revision(alive[j])
		if erri != nil || errj != nil || ri == rj {
			return olderThan(alive[i], alive[j])
		}
		return ri < rj
	})
	for _, rs := range alive[:diff] {
		m := rs.GetMetadata()
		if rs.GetStatus().GetReplicas() != 0 || rsReplicas(rs) != 0 || m.GetGeneration() > rs.GetStatus().GetObservedGeneration() {
			continue
		}
		uid := m.GetUid()
		_, err := s.c.rsClient.Delete(ctx, &metav1.DeleteRequest{Namespace: m.GetNamespace(), Name: m.GetName(),
			Preconditions: &metav1.Preconditions{Uid: &uid}})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete old replica set %s: %w", api.Key(rs), err)
		}
		s.c.log.Debug("deleted old replica set beyond the revision history limit", "deployment", s.key, "replicaset", m.GetName())
	}
	return nil
}

// collisionCount is status.collisionCount (nil when unset).
func collisionCount(d *appsv1.Deployment) *int32 {
	if st := d.GetStatus(); st != nil {
		return st.CollisionCount
	}
	return nil
}
