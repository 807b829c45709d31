package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/client/informer"
	"github.com/coxswain/coxswain/pkg/client/record"
	"github.com/coxswain/coxswain/pkg/controller"
	coordinationv1 "github.com/coxswain/coxswain/proto/coxswain/coordination/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Names of the two loops in metrics and logs; Name is also the manager's --controllers name.
const (
	Name         = "nodelifecycle"
	EvictionName = "taint-eviction"
)

// Taint keys and effects, as in Kubernetes.
const (
	TaintNotReady    = "node.kubernetes.io/not-ready"
	TaintUnreachable = "node.kubernetes.io/unreachable"
	EffectNoSchedule = "NoSchedule"
	EffectNoExecute  = "NoExecute"
)

// NodeLeaseNamespace holds the kubelets' heartbeat Leases, one per node, named after it.
const NodeLeaseNamespace = "kube-node-lease"

// PodNodeIndex is the pod informer index (spec.nodeName) the controller adds.
const PodNodeIndex = "nodeName"

// Defaults.
const (
	DefaultGracePeriod        = 40 * time.Second
	DefaultMonitorPeriod      = 5 * time.Second
	DefaultTolerationSeconds  = int64(300)
	DefaultOrphanedQuarantine = 40 * time.Second
)

// Config configures the controller.
type Config struct {
	Client   *client.Client
	Factory  *informer.Factory
	Recorder record.Recorder
	// Registerer receives the controller's metrics (nil: not registered).
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Workers is the number of nodes, and of pods, synced in parallel (default 5).
	Workers int
	// GracePeriod is how long a node may stay silent before it is marked Unknown (default 40s).
	GracePeriod time.Duration
	// MonitorPeriod is how often each node's health is re-checked (default 5s).
	MonitorPeriod time.Duration
	// DefaultNotReadyTolerationSeconds and DefaultUnreachableTolerationSeconds are the tolerations of
	// pods that do not tolerate the not-ready / unreachable taints themselves (nil: 300).
	DefaultNotReadyTolerationSeconds, DefaultUnreachableTolerationSeconds *int64
	// OrphanedPodQuarantine is how long a pod's node must stay missing before the pod is deleted
	// (default 40s).
	OrphanedPodQuarantine time.Duration
}

// Controller is the node lifecycle controller.
type Controller struct {
	cfg      Config
	cl       *client.Client
	nodes    *informer.Informer[*corev1.Node]
	leases   *informer.Informer[*coordinationv1.Lease]
	pods     *informer.Informer[*corev1.Pod]
	factory  *informer.Factory
	recorder record.Recorder
	log      *slog.Logger
	nodeQ    *controller.Controller
	podQ     *controller.Controller
	m        *metrics

	mu         sync.Mutex
	health     map[string]*nodeHealth
	taintSeen  map[string]time.Time // node/key/effect of a taint without timeAdded -> first seen
	orphanSeen map[string]time.Time // pod key -> when its node was first found missing
	readyMemo  struct {
		at       time.Time
		anyReady bool
		total    int
	}
}

// nodeHealth is what the controller last saw of a node's heartbeats, and when (on its own clock).
type nodeHealth struct {
	probe     time.Time
	heartbeat time.Time
	renew     time.Time
}

// New builds the controller and registers its informer handlers; call it before the factory starts.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Factory == nil || cfg.Recorder == nil {
		return nil, errors.New("nodelifecycle: Config.Client, Config.Factory and Config.Recorder are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 5
	}
	if cfg.GracePeriod <= 0 {
		cfg.GracePeriod = DefaultGracePeriod
	}
	if cfg.MonitorPeriod <= 0 {
		cfg.MonitorPeriod = DefaultMonitorPeriod
	}
	if cfg.OrphanedPodQuarantine <= 0 {
		cfg.OrphanedPodQuarantine = DefaultOrphanedQuarantine
	}
	for _, p := range []**int64{&cfg.DefaultNotReadyTolerationSeconds, &cfg.DefaultUnreachableTolerationSeconds} {
		if *p == nil {
			v := DefaultTolerationSeconds
			*p = &v
		}
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	c := &Controller{cfg: cfg, cl: cfg.Client, factory: cfg.Factory, recorder: cfg.Recorder,
		log: cfg.Logger.With("controller", Name), m: m,
		nodes:  cfg.Factory.Nodes(),
		leases: informer.For[*coordinationv1.Lease](cfg.Factory, api.Leases, informer.Config{Namespace: NodeLeaseNamespace}),
		pods:   cfg.Factory.Pods(),
		health: map[string]*nodeHealth{}, taintSeen: map[string]time.Time{}, orphanSeen: map[string]time.Time{},
	}
	if c.nodeQ, err = controller.New(controller.Config{Name: Name, Workers: cfg.Workers, Sync: c.syncNode,
		Registerer: cfg.Registerer, Logger: cfg.Logger}); err != nil {
		return nil, err
	}
	if c.podQ, err = controller.New(controller.Config{Name: EvictionName, Workers: cfg.Workers, Sync: c.syncPod,
		Registerer: cfg.Registerer, Logger: cfg.Logger}); err != nil {
		return nil, err
	}
	c.pods.AddIndex(PodNodeIndex, func(p *corev1.Pod) []string {
		if n := p.GetSpec().GetNodeName(); n != "" {
			return []string{n}
		}
		return nil
	})
	c.nodes.AddHandler(informer.Handler[*corev1.Node]{
		OnAdd: func(n *corev1.Node) {
			c.invalidateReadyMemo()
			c.nodeQ.EnqueueObject(n)
			if len(noExecuteTaints(n)) > 0 {
				c.enqueuePodsOn(n.GetMetadata().GetName())
			}
		},
		OnUpdate: func(old, cur *corev1.Node) {
			if condition(old.GetStatus().GetConditions(), "Ready").GetStatus() != condition(cur.GetStatus().GetConditions(), "Ready").GetStatus() {
				c.invalidateReadyMemo()
			}
			c.nodeQ.EnqueueObject(cur)
			if !sameTaints(old.GetSpec().GetTaints(), cur.GetSpec().GetTaints()) {
				c.enqueuePodsOn(cur.GetMetadata().GetName())
			}
		},
		OnDelete: func(n *corev1.Node) {
			c.invalidateReadyMemo()
			c.nodeQ.EnqueueObject(n)
			c.enqueuePodsOn(n.GetMetadata().GetName())
		},
	})
	enqueueLease := func(l *coordinationv1.Lease) { c.nodeQ.Enqueue(l.GetMetadata().GetName()) }
	c.leases.AddHandler(informer.Handler[*coordinationv1.Lease]{
		OnAdd:    enqueueLease,
		OnUpdate: func(_, l *coordinationv1.Lease) { enqueueLease(l) },
		OnDelete: enqueueLease,
	})
	c.pods.AddHandler(informer.Handler[*corev1.Pod]{
		OnAdd: func(p *corev1.Pod) {
			if p.GetSpec().GetNodeName() != "" {
				c.podQ.EnqueueObject(p)
			}
		},
		OnUpdate: func(old, cur *corev1.Pod) {
			if old.GetSpec().GetNodeName() != cur.GetSpec().GetNodeName() ||
				!sameTolerations(old.GetSpec().GetTolerations(), cur.GetSpec().GetTolerations()) ||
				(old.GetMetadata().GetDeletionTimestamp() == nil) != (cur.GetMetadata().GetDeletionTimestamp() == nil) {
				c.podQ.EnqueueObject(cur)
			}
		},
		OnDelete: func(p *corev1.Pod) { c.podQ.EnqueueObject(p) },
	})
	return c, nil
}

func (c *Controller) enqueuePodsOn(node string) {
	for _, p := range c.pods.ByIndex(PodNodeIndex, node) {
		c.podQ.EnqueueObject(p)
	}
}

// Run waits for the caches and runs the node and pod loops until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	if !c.factory.WaitForSync(ctx) {
		return ctx.Err()
	}
	c.log.Info("controller started", "gracePeriod", c.cfg.GracePeriod, "monitorPeriod", c.cfg.MonitorPeriod)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = c.nodeQ.Run(ctx) }()
	go func() { defer wg.Done(); _ = c.podQ.Run(ctx) }()
	wg.Wait()
	return ctx.Err()
}

func condition(conds []*metav1.Condition, typ string) *metav1.Condition {
	for _, c := range conds {
		if c.GetType() == typ {
			return c
		}
	}
	return nil
}

func asTime(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

// observe records the node's heartbeats and returns when the controller last saw one change.
func (c *Controller) observe(name string, heartbeat, renew, now time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.health[name]
	switch {
	case h == nil:
		h = &nodeHealth{probe: now, heartbeat: heartbeat, renew: renew}
		c.health[name] = h
	case !h.heartbeat.Equal(heartbeat) || !h.renew.Equal(renew):
		h.probe, h.heartbeat, h.renew = now, heartbeat, renew
	}
	return h.probe
}

func (c *Controller) forget(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.health, name)
	for k := range c.taintSeen {
		if n, _ := api.SplitKey(k); n == name {
			delete(c.taintSeen, k)
		}
	}
}

func (c *Controller) syncNode(ctx context.Context, name string) error {
	node, ok := c.nodes.Get("", name)
	if !ok {
		c.forget(name)
		return nil
	}
	now := time.Now()
	var renew time.Time
	if l, ok := c.leases.Get(NodeLeaseNamespace, name); ok {
		renew = asTime(l.GetSpec().GetRenewTime())
	}
	ready := condition(node.GetStatus().GetConditions(), "Ready")
	probe := c.observe(name, asTime(ready.GetLastHeartbeatTime()), renew, now)
	silentFor := now.Sub(probe)

	if silentFor > c.cfg.GracePeriod && ready.GetStatus() != "Unknown" {
		updated, err := c.markUnknown(ctx, node, now)
		if err != nil {
			return err
		}
		node = updated
	}
	status := condition(node.GetStatus().GetConditions(), "Ready").GetStatus()
	var errs []error
	if status == "Unknown" {
		errs = append(errs, c.markPodsNotReady(ctx, node))
	}
	errs = append(errs, c.reconcileTaints(ctx, node, status, now))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	next := c.cfg.MonitorPeriod
	if left := c.cfg.GracePeriod - silentFor; left > 0 && left < next {
		next = left + 50*time.Millisecond
	}
	return controller.RequeueAfter(next)
}

// markUnknown sets the node's conditions to Unknown (Kubernetes' tryUpdateNodeHealth).
func (c *Controller) markUnknown(ctx context.Context, node *corev1.Node, now time.Time) (*corev1.Node, error) {
	next := api.Clone(node)
	if next.Status == nil {
		next.Status = &corev1.NodeStatus{}
	}
	ts := timestamppb.New(now.Truncate(time.Second))
	if condition(next.Status.Conditions, "Ready") == nil {
		next.Status.Conditions = append(next.Status.Conditions, &metav1.Condition{Type: "Ready", Status: "Unknown",
			Reason: "NodeStatusNeverUpdated", Message: "Kubelet never posted node status.",
			LastHeartbeatTime: node.GetMetadata().GetCreationTimestamp(), LastTransitionTime: ts})
	}
	for _, cond := range next.Status.Conditions {
		switch cond.GetType() {
		case "Ready", "MemoryPressure", "DiskPressure", "PIDPressure":
		default:
			continue
		}
		if cond.Status != "Unknown" {
			cond.Status, cond.LastTransitionTime = "Unknown", ts
			cond.Reason, cond.Message = "NodeStatusUnknown", "Kubelet stopped posting node status."
		}
	}
	out, err := c.cl.Nodes().UpdateStatus(ctx, next)
	if err != nil {
		return nil, fmt.Errorf("mark node %s Unknown: %w", node.GetMetadata().GetName(), err)
	}
	c.m.unknown.Inc()
	c.log.Info("node stopped posting status: marked Unknown", "node", node.GetMetadata().GetName(), "gracePeriod", c.cfg.GracePeriod)
	c.recorder.Eventf(node, record.Normal, "NodeNotReady", "Node %s status is now: NodeNotReady", node.GetMetadata().GetName())
	return out, nil
}

// markPodsNotReady sets the Ready condition of the node's pods to False (Kubernetes' MarkPodsNotReady).
func (c *Controller) markPodsNotReady(ctx context.Context, node *corev1.Node) error {
	var errs []error
	for _, pod := range c.pods.ByIndex(PodNodeIndex, node.GetMetadata().GetName()) {
		if ph := pod.GetStatus().GetPhase(); ph == "Succeeded" || ph == "Failed" {
			continue
		}
		cond := condition(pod.GetStatus().GetConditions(), "Ready")
		if cond == nil || cond.GetStatus() == "False" {
			continue
		}
		next := api.Clone(pod)
		cond = condition(next.Status.Conditions, "Ready")
		cond.Status, cond.Reason, cond.Message = "False", "NodeNotReady", "Node is not ready"
		cond.LastTransitionTime = timestamppb.New(time.Now().Truncate(time.Second))
		if _, err := c.cl.Pods().UpdateStatus(ctx, next); err != nil {
			if !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("mark pod %s not ready: %w", api.Key(pod), err))
			}
			continue
		}
		c.m.podsNotReady.Inc()
		c.recorder.Eventf(pod, record.Warning, "NodeNotReady", "Node is not ready")
	}
	return errors.Join(errs...)
}

type taintID struct{ key, effect string }

var managedTaints = []taintID{
	{TaintNotReady, EffectNoSchedule}, {TaintNotReady, EffectNoExecute},
	{TaintUnreachable, EffectNoSchedule}, {TaintUnreachable, EffectNoExecute},
}

func isManaged(t *corev1.Taint) bool {
	for _, m := range managedTaints {
		if t.GetKey() == m.key && t.GetEffect() == m.effect {
			return true
		}
	}
	return false
}

// noNodeReady reports whether the cluster has nodes and none is Ready (Kubernetes' full disruption: the
// problem is more likely on the control plane's side, so nothing is evicted). It is recomputed at most
// once a second, and whenever a node's Ready status changed.
func (c *Controller) noNodeReady(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.readyMemo.at) > time.Second {
		nodes := c.nodes.List()
		anyReady := false
		for _, n := range nodes {
			if condition(n.GetStatus().GetConditions(), "Ready").GetStatus() == "True" {
				anyReady = true
				break
			}
		}
		c.readyMemo.at, c.readyMemo.anyReady, c.readyMemo.total = now, anyReady, len(nodes)
	}
	return c.readyMemo.total > 0 && !c.readyMemo.anyReady
}

// invalidateReadyMemo makes the next noNodeReady look at the nodes again (a node came, went or changed
// its Ready status).
func (c *Controller) invalidateReadyMemo() {
	c.mu.Lock()
	c.readyMemo.at = time.Time{}
	c.mu.Unlock()
}

// reconcileTaints makes the node's not-ready/unreachable taints follow its Ready condition.
func (c *Controller) reconcileTaints(ctx context.Context, node *corev1.Node, status string, now time.Time) error {
	var want []taintID
	switch status {
	case "True":
	case "False":
		want = []taintID{{TaintNotReady, EffectNoSchedule}, {TaintNotReady, EffectNoExecute}}
	case "Unknown":
		want = []taintID{{TaintUnreachable, EffectNoSchedule}, {TaintUnreachable, EffectNoExecute}}
	default:
		return nil // no Ready condition yet: nothing to go by
	}
	disrupted := c.noNodeReady(now)
	if disrupted && status != "True" {
		want = want[:1] // NoSchedule only
	}
	var taints []*corev1.Taint
	existing := map[taintID]*corev1.Taint{}
	for _, t := range node.GetSpec().GetTaints() {
		if isManaged(t) {
			existing[taintID{t.GetKey(), t.GetEffect()}] = t
			continue
		}
		taints = append(taints, t)
	}
	for _, id := range want {
		if t, ok := existing[id]; ok {
			taints = append(taints, t)
		} else {
			taints = append(taints, &corev1.Taint{Key: id.key, Effect: id.effect, TimeAdded: timestamppb.New(now)})
		}
	}
	if sameTaints(taints, node.GetSpec().GetTaints()) {
		return nil
	}
	next := api.Clone(node)
	if next.Spec == nil {
		next.Spec = &corev1.NodeSpec{}
	}
	next.Spec.Taints = taints
	if _, err := c.cl.Nodes().Update(ctx, next); err != nil {
		return fmt.Errorf("update taints of node %s: %w", node.GetMetadata().GetName(), err)
	}
	c.m.taintUpdates.Inc()
	c.log.Info("node taints updated", "node", node.GetMetadata().GetName(), "ready", status, "taints", taintList(taints), "fullDisruption", disrupted)
	return nil
}

func taintList(ts []*corev1.Taint) []string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.GetKey()+":"+t.GetEffect())
	}
	return out
}

// sameTaints compares taints by key, value and effect, ignoring order and timeAdded.
func sameTaints(a, b []*corev1.Taint) bool {
	if len(a) != len(b) {
		return false
	}
	count := map[[3]string]int{}
	for _, t := range a {
		count[[3]string{t.GetKey(), t.GetValue(), t.GetEffect()}]++
	}
	for _, t := range b {
		k := [3]string{t.GetKey(), t.GetValue(), t.GetEffect()}
		if count[k] == 0 {
			return false
		}
		count[k]--
	}
	return true
}

func sameTolerations(a, b []*corev1.Toleration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].GetKey() != b[i].GetKey() || a[i].GetOperator() != b[i].GetOperator() || a[i].GetValue() != b[i].GetValue() ||
			a[i].GetEffect() != b[i].GetEffect() || (a[i].TolerationSeconds == nil) != (b[i].TolerationSeconds == nil) ||
			a[i].GetTolerationSeconds() != b[i].GetTolerationSeconds() {
			return false
		}
	}
	return true
}

func noExecuteTaints(n *corev1.Node) []*corev1.Taint {
	var out []*corev1.Taint
	for _, t := range n.GetSpec().GetTaints() {
		if t.GetEffect() == EffectNoExecute {
			out = append(out, t)
		}
	}
	return out
}

// ToleratesTaint is Kubernetes' Toleration.ToleratesTaint: effects must match unless the toleration's is
// empty, keys must match unless the toleration's is empty, and the operator Exists ignores the value.
func ToleratesTaint(tol *corev1.Toleration, t *corev1.Taint) bool {
	if tol.GetEffect() != "" && tol.GetEffect() != t.GetEffect() {
		return false
	}
	if tol.GetKey() != "" && tol.GetKey() != t.GetKey() {
		return false
	}
	switch tol.GetOperator() {
	case "", "Equal":
		return tol.GetValue() == t.GetValue()
	case "Exists":
		return true
	}
	return false
}

// EvictionTime returns when a pod with tolerations must leave a node with the given NoExecute taints:
// for each taint, added(taint) plus the shortest tolerationSeconds among the matching tolerations
// (a matching toleration without seconds tolerates forever); a taint nothing tolerates evicts at once,
// except not-ready and unreachable, which get the default tolerations. ok is false when the pod may
// stay forever.
func EvictionTime(tols []*corev1.Toleration, taints []*corev1.Taint, added func(*corev1.Taint) time.Time, defaultNotReady, defaultUnreachable int64) (at time.Time, ok bool) {
	for _, t := range taints {
		var secs int64
		matched, bounded := false, false
		for _, tol := range tols {
			if !ToleratesTaint(tol, t) {
				continue
			}
			matched = true
			if tol.TolerationSeconds != nil {
				if !bounded || tol.GetTolerationSeconds() < secs {
					secs = tol.GetTolerationSeconds()
				}
				bounded = true
			}
		}
		switch {
		case !matched && t.GetKey() == TaintNotReady:
			secs, bounded = defaultNotReady, true
		case !matched && t.GetKey() == TaintUnreachable:
			secs, bounded = defaultUnreachable, true
		case !matched:
			secs, bounded = 0, true
		}
		if !bounded {
			continue
		}
		when := added(t).Add(time.Duration(max(secs, 0)) * time.Second)
		if !ok || when.Before(at) {
			at, ok = when, true
		}
	}
	return at, ok
}

// taintAdded is the taint's timeAdded, or when the controller first saw it.
func (c *Controller) taintAdded(node string, now time.Time) func(*corev1.Taint) time.Time {
	return func(t *corev1.Taint) time.Time {
		if t.TimeAdded != nil {
			return t.TimeAdded.AsTime()
		}
		k := node + "/" + t.GetKey() + "\x00" + t.GetValue() + "\x00" + t.GetEffect()
		c.mu.Lock()
		defer c.mu.Unlock()
		if first, ok := c.taintSeen[k]; ok {
			return first
		}
		c.taintSeen[k] = now
		return now
	}
}

func (c *Controller) syncPod(ctx context.Context, key string) error {
	pod, ok := c.pods.GetByKey(key)
	if !ok {
		c.mu.Lock()
		delete(c.orphanSeen, key)
		c.mu.Unlock()
		return nil
	}
	nodeName := pod.GetSpec().GetNodeName()
	if nodeName == "" {
		return nil
	}
	node, ok := c.nodes.Get("", nodeName)
	if !ok {
		return c.syncOrphan(ctx, key, pod)
	}
	c.mu.Lock()
	delete(c.orphanSeen, key)
	c.mu.Unlock()
	if pod.GetMetadata().GetDeletionTimestamp() != nil {
		return nil
	}
	taints := noExecuteTaints(node)
	if len(taints) == 0 {
		return nil
	}
	now := time.Now()
	at, ok := EvictionTime(pod.GetSpec().GetTolerations(), taints, c.taintAdded(nodeName, now),
		*c.cfg.DefaultNotReadyTolerationSeconds, *c.cfg.DefaultUnreachableTolerationSeconds)
	if !ok {
		return nil
	}
	if wait := at.Sub(now); wait > 0 {
		return controller.RequeueAfter(wait)
	}
	uid := pod.GetMetadata().GetUid()
	_, err := c.cl.Pods().Delete(ctx, &metav1.DeleteRequest{Namespace: pod.GetMetadata().GetNamespace(), Name: pod.GetMetadata().GetName(),
		Preconditions: &metav1.Preconditions{Uid: &uid}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("evict pod %s: %w", key, err)
	}
	c.m.evictions.Inc()
	c.log.Info("pod evicted from tainted node", "pod", key, "node", nodeName, "taints", taintList(taints))
	c.recorder.Eventf(pod, record.Normal, "TaintManagerEviction", "Marking for deletion Pod %s", key)
	return nil
}

// syncOrphan deletes a pod whose node does not exist, after a live check and a quarantine.
func (c *Controller) syncOrphan(ctx context.Context, key string, pod *corev1.Pod) error {
	nodeName := pod.GetSpec().GetNodeName()
	_, err := c.cl.Nodes().Get(ctx, "", nodeName)
	if err == nil {
		return controller.RequeueAfter(time.Second) // the node exists: the cache lags
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("check node %s of pod %s: %w", nodeName, key, err)
	}
	now := time.Now()
	c.mu.Lock()
	first, seen := c.orphanSeen[key]
	if !seen {
		first = now
		c.orphanSeen[key] = now
	}
	c.mu.Unlock()
	if wait := c.cfg.OrphanedPodQuarantine - now.Sub(first); wait > 0 {
		return controller.RequeueAfter(wait)
	}
	uid := pod.GetMetadata().GetUid()
	zero := int64(0)
	_, err = c.cl.Pods().Delete(ctx, &metav1.DeleteRequest{Namespace: pod.GetMetadata().GetNamespace(), Name: pod.GetMetadata().GetName(),
		GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{Uid: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete orphaned pod %s: %w", key, err)
	}
	c.mu.Lock()
	delete(c.orphanSeen, key)
	c.mu.Unlock()
	if err == nil {
		c.m.orphans.Inc()
		c.log.Info("orphaned pod deleted: its node does not exist", "pod", key, "node", nodeName)
		c.recorder.Eventf(pod, record.Normal, "DeletingOrphanedPod", "Node %s no longer exists; deleting the pod", nodeName)
	}
	return nil
}
