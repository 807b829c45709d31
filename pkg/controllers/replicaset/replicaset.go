package replicaset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/client/informer"
	"github.com/coxswain/coxswain/pkg/client/record"
	"github.com/coxswain/coxswain/pkg/controller"
	"github.com/coxswain/coxswain/pkg/controllers/internal"
	"github.com/coxswain/coxswain/pkg/labels"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Name is the controller's name in logs and metrics.
const Name = "replicaset"

// The ownerReference fields of the pods a ReplicaSet controls.
const (
	APIVersion = "apps/v1"
	Kind       = "ReplicaSet"
)

// Event reasons, as Kubernetes' ReplicaSet controller writes them.
const (
	ReasonSuccessfulCreate = "SuccessfulCreate"
	ReasonFailedCreate     = "FailedCreate"
	ReasonSuccessfulDelete = "SuccessfulDelete"
	ReasonFailedDelete     = "FailedDelete"
)

// ReplicaFailure is the ReplicaSet condition set while creating or deleting pods fails.
const ReplicaFailure = "ReplicaFailure"

// BurstReplicas bounds the pods created or deleted in one sync (Kubernetes' default).
const BurstReplicas = 500

// Config configures the controller.
type Config struct {
	Client *client.Client
	// Factory provides the shared ReplicaSet and Pod informers; the caller starts it after New.
	Factory *informer.Factory
	// Recorder writes SuccessfulCreate/SuccessfulDelete/FailedCreate events (nil: none).
	Recorder   record.Recorder
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Workers is the number of ReplicaSets synced in parallel (default 5).
	Workers int
	// BurstReplicas bounds creations/deletions per sync (default 500).
	BurstReplicas int
}

// Controller keeps every ReplicaSet's pods at spec.replicas.
type Controller struct {
	cfg        Config
	log        *slog.Logger
	rec        record.Recorder
	rsClient   *client.Resource[*appsv1.ReplicaSet]
	podClient  *client.Resource[*corev1.Pod]
	rsInformer *informer.Informer[*appsv1.ReplicaSet]
	pods       *informer.Informer[*corev1.Pod]
	ctrl       *controller.Controller
	exp        *internal.Expectations
	m          *metrics
	now        func() time.Time
}

type nopRecorder struct{}

func (nopRecorder) Eventf(api.Object, string, string, string, ...any) {}

// New builds the controller and registers its informers and handlers on cfg.Factory.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Factory == nil {
		return nil, errors.New("replicaset: Config.Client and Config.Factory are required")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 5
	}
	if cfg.BurstReplicas <= 0 {
		cfg.BurstReplicas = BurstReplicas
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Controller{cfg: cfg, log: cfg.Logger.With("controller", Name), rec: cfg.Recorder,
		rsClient: cfg.Client.ReplicaSets(), podClient: cfg.Client.Pods(),
		rsInformer: cfg.Factory.ReplicaSets(), pods: cfg.Factory.Pods(),
		exp: internal.NewExpectations(), now: time.Now}
	if c.rec == nil {
		c.rec = nopRecorder{}
	}
	var err error
	if c.m, err = newMetrics(cfg.Registerer); err != nil {
		return nil, err
	}
	c.ctrl, err = controller.New(controller.Config{Name: Name, Workers: cfg.Workers, Sync: c.sync,
		Registerer: cfg.Registerer, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	c.rsInformer.AddHandler(informer.Handler[*appsv1.ReplicaSet]{
		OnAdd: func(rs *appsv1.ReplicaSet) { c.ctrl.EnqueueObject(rs) },
		OnUpdate: func(old, cur *appsv1.ReplicaSet) {
			if old.GetMetadata().GetUid() != cur.GetMetadata().GetUid() {
				c.exp.Delete(api.Key(old)) // deleted and recreated under the same name
			}
			c.ctrl.EnqueueObject(cur)
		},
		OnDelete: func(rs *appsv1.ReplicaSet) {
			c.exp.Delete(api.Key(rs))
			c.ctrl.EnqueueObject(rs)
		},
	})
	internal.AddControllerIndex(c.pods)
	c.pods.AddHandler(informer.Handler[*corev1.Pod]{OnAdd: c.addPod, OnUpdate: c.updatePod, OnDelete: c.deletePod})
	return c, nil
}

// Run syncs ReplicaSets until ctx ends. The informer factory must have been started.
func (c *Controller) Run(ctx context.Context) error {
	if !c.rsInformer.WaitForSync(ctx) || !c.pods.WaitForSync(ctx) {
		return ctx.Err()
	}
	c.log.Info("controller started", "workers", c.cfg.Workers)
	return c.ctrl.Run(ctx)
}

// resolveControllerRef returns the cached ReplicaSet ref points at, or nil.
func (c *Controller) resolveControllerRef(namespace string, ref *metav1.OwnerReference) *appsv1.ReplicaSet {
	rs, _ := internal.ResolveControllerRef(c.rsInformer, Kind, namespace, ref)
	return rs
}

// podReplicaSets returns the ReplicaSets whose selector matches an (orphan) pod.
func (c *Controller) podReplicaSets(pod *corev1.Pod) []*appsv1.ReplicaSet {
	return internal.SelectingOwners(c.rsInformer, pod.GetMetadata().GetNamespace(), pod.GetMetadata().GetLabels(),
		func(rs *appsv1.ReplicaSet) *metav1.LabelSelector { return rs.GetSpec().GetSelector() })
}

func (c *Controller) addPod(pod *corev1.Pod) {
	if pod.GetMetadata().GetDeletionTimestamp() != nil {
		// Seen for the first time already being deleted (e.g. after a relist): count it as a deletion.
		c.deletePod(pod)
		return
	}
	if ref := internal.GetControllerOf(pod); ref != nil {
		rs := c.resolveControllerRef(pod.GetMetadata().GetNamespace(), ref)
		if rs == nil {
			return
		}
		c.exp.CreationObserved(api.Key(rs))
		c.ctrl.EnqueueObject(rs)
		return
	}
	for _, rs := range c.podReplicaSets(pod) {
		c.ctrl.EnqueueObject(rs)
	}
}

func (c *Controller) updatePod(old, cur *corev1.Pod) {
	if old.GetMetadata().GetResourceVersion() == cur.GetMetadata().GetResourceVersion() {
		return // periodic resync: nothing changed
	}
	labelChanged := !maps.Equal(old.GetMetadata().GetLabels(), cur.GetMetadata().GetLabels())
	if cur.GetMetadata().GetDeletionTimestamp() != nil {
		// A graceful deletion: the pod no longer counts. Lower the expectations now rather than when it is gone.
		c.deletePod(cur)
		if labelChanged {
			c.deletePod(old)
		}
		return
	}
	curRef, oldRef := internal.GetControllerOf(cur), internal.GetControllerOf(old)
	refChanged := !proto.Equal(curRef, oldRef)
	if refChanged && oldRef != nil {
		if rs := c.resolveControllerRef(old.GetMetadata().GetNamespace(), oldRef); rs != nil {
			c.ctrl.EnqueueObject(rs)
		}
	}
	if curRef != nil {
		if rs := c.resolveControllerRef(cur.GetMetadata().GetNamespace(), curRef); rs != nil {
			c.ctrl.EnqueueObject(rs)
		}
		return
	}
	if labelChanged || refChanged {
		for _, rs := range c.podReplicaSets(cur) {
			c.ctrl.EnqueueObject(rs)
		}
	}
}

func (c *Controller) deletePod(pod *corev1.Pod) {
	ref := internal.GetControllerOf(pod)
	if ref == nil {
		return
	}
	rs := c.resolveControllerRef(pod.GetMetadata().GetNamespace(), ref)
	if rs == nil {
		return
	}
	key := api.Key(rs)
	c.exp.DeletionObserved(key, api.Key(pod))
	c.ctrl.Enqueue(key)
}

// replicas is spec.replicas with its default of 1.
func replicas(rs *appsv1.ReplicaSet) int32 {
	if r := rs.GetSpec().Replicas; r != nil {
		return *r
	}
	return 1
}

func (c *Controller) sync(ctx context.Context, key string) error {
	start := c.now()
	ns, name := api.SplitKey(key)
	rs, ok := c.rsInformer.Get(ns, name)
	if !ok {
		c.exp.Delete(key)
		return nil
	}
	defer func() { c.log.Debug("replicaset synced", "key", key, "duration", c.now().Sub(start)) }()
	needsSync := c.exp.Satisfied(key)
	sel, err := internal.SelectorFor(rs.GetSpec().GetSelector())
	if err != nil {
		c.log.Warn("replicaset has an invalid selector; not syncing it", "key", key, "err", err)
		return nil
	}
	active := internal.FilterActivePods(internal.ControlledOrOrphaned(c.pods, rs))
	rm := &internal.RefManager[*corev1.Pod]{Controller: rs, APIVersion: APIVersion, Kind: Kind, Selector: sel, Client: c.podClient,
		CanAdopt: internal.RecheckDeletionTimestamp(func(ctx context.Context) (api.Object, error) {
			return c.rsClient.Get(ctx, ns, name)
		}, rs.GetMetadata().GetUid())}
	owned, err := rm.Claim(ctx, active)
	if err != nil {
		return err
	}
	var manageErr error
	if needsSync && rs.GetMetadata().GetDeletionTimestamp() == nil {
		manageErr = c.manageReplicas(ctx, owned, rs)
	}
	status, wait := calculateStatus(rs, owned, manageErr, c.now())
	if _, err := c.updateStatus(ctx, rs, status); err != nil {
		return err
	}
	if manageErr == nil && wait > 0 {
		// A Ready pod becomes available minReadySeconds after it turned Ready: look again then.
		c.ctrl.EnqueueAfter(key, wait+10*time.Millisecond)
	}
	return manageErr
}

// manageReplicas creates or deletes pods to reach spec.replicas.
func (c *Controller) manageReplicas(ctx context.Context, pods []*corev1.Pod, rs *appsv1.ReplicaSet) error {
	key := api.Key(rs)
	diff := len(pods) - int(replicas(rs))
	switch {
	case diff < 0:
		diff = min(-diff, c.cfg.BurstReplicas)
		// Expect the creations before making them: the informer may report a pod before Create returns.
		c.exp.ExpectCreations(key, diff)
		c.log.Debug("too few replicas; creating", "key", key, "need", replicas(rs), "creating", diff)
		successes, err := slowStartBatch(diff, 1, func() error { return c.createPod(ctx, rs) })
		// Pods that were never created will never be observed: stop expecting them.
		for range diff - successes {
			c.exp.CreationObserved(key)
		}
		return err
	case diff > 0:
		diff = min(diff, c.cfg.BurstReplicas)
		c.log.Debug("too many replicas; deleting", "key", key, "need", replicas(rs), "deleting", diff)
		victims := podsToDelete(pods, c.relatedPods(rs), diff)
		podKeys := make([]string, len(victims))
		for i, p := range victims {
			podKeys[i] = api.Key(p)
		}
		c.exp.ExpectDeletions(key, podKeys)
		errs := make(chan error, len(victims))
		var wg sync.WaitGroup
		for _, p := range victims {
			wg.Go(func() {
				if err := c.deletePodOf(ctx, rs, p); err != nil {
					// The deletion will not be observed (or already was): stop expecting it.
					c.exp.DeletionObserved(key, api.Key(p))
					if !apierrors.IsNotFound(err) {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		select {
		case err := <-errs:
			return err
		default:
		}
	}
	return nil
}

// slowStartBatch calls fn count times in batches of 1, 2, 4, ... running each batch in parallel, and stops
// after the first batch with an error: when every call fails for the same reason (quota, a bad template) only
// a few calls are wasted. It returns the number of successful calls and the first error.
func slowStartBatch(count, initialBatchSize int, fn func() error) (int, error) {
	remaining := count
	successes := 0
	for batch := min(remaining, initialBatchSize); batch > 0; batch = min(2*batch, remaining) {
		errs := make(chan error, batch)
		var wg sync.WaitGroup
		for range batch {
			wg.Go(func() {
				if err := fn(); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		successes += batch - len(errs)
		if len(errs) > 0 {
			return successes, <-errs
		}
		remaining -= batch
	}
	return successes, nil
}

// podFromTemplate builds a pod of rs: its template's labels, annotations, finalizers and spec, named
// <rs-name>-<random>, controlled by rs.
func podFromTemplate(rs *appsv1.ReplicaSet) (*corev1.Pod, error) {
	t := rs.GetSpec().GetTemplate()
	tm := t.GetMetadata()
	if len(tm.GetLabels()) == 0 {
		return nil, fmt.Errorf("unable to create pods, no labels in spec.template.metadata.labels of ReplicaSet %s", api.Key(rs))
	}
	pod := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{
			Namespace:       rs.GetMetadata().GetNamespace(),
			GenerateName:    rs.GetMetadata().GetName() + "-",
			Labels:          maps.Clone(tm.GetLabels()),
			Annotations:     maps.Clone(tm.GetAnnotations()),
			Finalizers:      slices.Clone(tm.GetFinalizers()),
			OwnerReferences: []*metav1.OwnerReference{internal.NewControllerRef(rs, APIVersion, Kind)},
		},
		Spec: api.Clone(t.GetSpec()),
	}
	if pod.Spec == nil {
		pod.Spec = &corev1.PodSpec{}
	}
	return pod, nil
}

func (c *Controller) createPod(ctx context.Context, rs *appsv1.ReplicaSet) error {
	pod, err := podFromTemplate(rs)
	if err == nil {
		pod, err = c.podClient.Create(ctx, pod)
	}
	c.m.creations.WithLabelValues(result(err)).Inc()
	if err != nil {
		c.rec.Eventf(rs, record.Warning, ReasonFailedCreate, "Error creating: %v", err)
		return err
	}
	c.rec.Eventf(rs, record.Normal, ReasonSuccessfulCreate, "Created pod: %s", pod.GetMetadata().GetName())
	return nil
}

func (c *Controller) deletePodOf(ctx context.Context, rs *appsv1.ReplicaSet, pod *corev1.Pod) error {
	m := pod.GetMetadata()
	uid := m.GetUid()
	_, err := c.podClient.Delete(ctx, &metav1.DeleteRequest{Namespace: m.GetNamespace(), Name: m.GetName(),
		Preconditions: &metav1.Preconditions{Uid: &uid}})
	if apierrors.IsNotFound(err) {
		return err
	}
	c.m.deletions.WithLabelValues(result(err)).Inc()
	if err != nil {
		c.rec.Eventf(rs, record.Warning, ReasonFailedDelete, "Error deleting: %v", err)
		return err
	}
	c.rec.Eventf(rs, record.Normal, ReasonSuccessfulDelete, "Deleted pod: %s", m.GetName())
	return nil
}

// relatedPods are the pods of every ReplicaSet with the same controller as rs (the ReplicaSets of one
// Deployment), or rs's own pods: scale-down prefers pods on nodes crowded with related pods.
func (c *Controller) relatedPods(rs *appsv1.ReplicaSet) []*corev1.Pod {
	ns := rs.GetMetadata().GetNamespace()
	sets := []*appsv1.ReplicaSet{rs}
	if ref := internal.GetControllerOf(rs); ref != nil {
		sets = sets[:0]
		for _, other := range c.rsInformer.ListSelector(ns, labels.Everything()) {
			if internal.IsControlledBy(other, ref.GetUid()) {
				sets = append(sets, other)
			}
		}
	}
	seen := map[string]bool{}
	var out []*corev1.Pod
	for _, s := range sets {
		sel, err := internal.SelectorFor(s.GetSpec().GetSelector())
		if err != nil {
			continue
		}
		for _, p := range c.pods.ListSelector(ns, sel) {
			if uid := p.GetMetadata().GetUid(); !seen[uid] {
				seen[uid] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// podsToDelete picks the diff pods to delete first, in Kubernetes' order (see internal.ActivePodsWithRanks).
func podsToDelete(pods, related []*corev1.Pod, diff int) []*corev1.Pod {
	pods = slices.Clone(pods)
	if diff < len(pods) {
		onNode := map[string]int{}
		for _, p := range related {
			if internal.IsPodActive(p) {
				onNode[p.GetSpec().GetNodeName()]++
			}
		}
		ranks := make([]int, len(pods))
		for i, p := range pods {
			ranks[i] = onNode[p.GetSpec().GetNodeName()]
		}
		sort.Sort(internal.ActivePodsWithRanks{Pods: pods, Rank: ranks})
	}
	return pods[:min(diff, len(pods))]
}

// calculateStatus computes rs's status from its active pods, and how long until the next Ready pod becomes
// available (0 when none is waiting).
func calculateStatus(rs *appsv1.ReplicaSet, pods []*corev1.Pod, manageErr error, now time.Time) (*appsv1.ReplicaSetStatus, time.Duration) {
	st := &appsv1.ReplicaSetStatus{}
	if rs.GetStatus() != nil {
		st = api.Clone(rs.GetStatus())
	}
	templateSel := labels.SelectorFromSet(rs.GetSpec().GetTemplate().GetMetadata().GetLabels())
	minReady := rs.GetSpec().GetMinReadySeconds()
	var fullyLabeled, ready, available int32
	var wait time.Duration
	for _, p := range pods {
		if templateSel.Matches(p.GetMetadata().GetLabels()) {
			fullyLabeled++
		}
		if internal.IsPodReady(p) {
			ready++
			d, ok := internal.AvailableIn(p, minReady, now)
			if ok {
				available++
			} else if d > 0 && (wait == 0 || d < wait) {
				wait = d
			}
		}
	}
	failure := getCondition(st.Conditions, ReplicaFailure)
	switch {
	case manageErr != nil && failure == nil:
		reason := ""
		if diff := len(pods) - int(replicas(rs)); diff < 0 {
			reason = ReasonFailedCreate
		} else if diff > 0 {
			reason = ReasonFailedDelete
		}
		st.Conditions = setCondition(st.Conditions, &metav1.Condition{Type: ReplicaFailure, Status: internal.ConditionTrue,
			Reason: reason, Message: manageErr.Error(), LastTransitionTime: timestamppb.New(now)})
	case manageErr == nil && failure != nil:
		st.Conditions = removeCondition(st.Conditions, ReplicaFailure)
	}
	st.Replicas = int32(len(pods))
	st.FullyLabeledReplicas = fullyLabeled
	st.ReadyReplicas = ready
	st.AvailableReplicas = available
	return st, wait
}

func getCondition(conds []*metav1.Condition, t string) *metav1.Condition {
	for _, c := range conds {
		if c.GetType() == t {
			return c
		}
	}
	return nil
}

// setCondition replaces the condition of c's type unless status and reason are unchanged.
func setCondition(conds []*metav1.Condition, c *metav1.Condition) []*metav1.Condition {
	if cur := getCondition(conds, c.GetType()); cur != nil && cur.GetStatus() == c.GetStatus() && cur.GetReason() == c.GetReason() {
		return conds
	}
	return append(removeCondition(conds, c.GetType()), c)
}

func removeCondition(conds []*metav1.Condition, t string) []*metav1.Condition {
	out := make([]*metav1.Condition, 0, len(conds))
	for _, c := range conds {
		if c.GetType() != t {
			out = append(out, c)
		}
	}
	return out
}

// updateStatus writes status when it differs from rs's, retrying once on a conflict with a fresh read.
func (c *Controller) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet, st *appsv1.ReplicaSetStatus) (*appsv1.ReplicaSet, error) {
	old := rs.GetStatus()
	gen := rs.GetMetadata().GetGeneration()
	if old.GetReplicas() == st.Replicas && old.GetFullyLabeledReplicas() == st.FullyLabeledReplicas &&
		old.GetReadyReplicas() == st.ReadyReplicas && old.GetAvailableReplicas() == st.AvailableReplicas &&
		old.GetObservedGeneration() == gen && conditionsEqual(old.GetConditions(), st.Conditions) {
		return rs, nil
	}
	st.ObservedGeneration = gen
	cur := rs
	for attempt := 0; ; attempt++ {
		next := api.Clone(cur)
		next.Status = st
		out, err := c.rsClient.UpdateStatus(ctx, next)
		if err == nil {
			return out, nil
		}
		if attempt >= 1 || !apierrors.IsConflict(err) {
			return nil, fmt.Errorf("update status of ReplicaSet %s: %w", api.Key(rs), err)
		}
		m := rs.GetMetadata()
		if cur, err = c.rsClient.Get(ctx, m.GetNamespace(), m.GetName()); err != nil {
			return nil, err
		}
	}
}

func conditionsEqual(a, b []*metav1.Condition) bool {
	return slices.EqualFunc(a, b, func(x, y *metav1.Condition) bool { return proto.Equal(x, y) })
}
