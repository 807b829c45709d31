package deployment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/coxswain/coxswain/pkg/api"
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
const Name = "deployment"

// The ownerReference fields of the ReplicaSets a Deployment controls.
const (
	APIVersion = "apps/v1"
	Kind       = "Deployment"
)

// Event reasons.
const (
	ReasonScalingReplicaSet = "ScalingReplicaSet"
	ReasonSelectingAll      = "SelectingAll"
)

// Config configures the controller.
type Config struct {
	Client *client.Client
	// Factory provides the shared Deployment, ReplicaSet and Pod informers; the caller starts it after New.
	Factory *informer.Factory
	// Recorder writes ScalingReplicaSet and failure events (nil: none).
	Recorder   record.Recorder
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Workers is the number of Deployments synced in parallel (default 5).
	Workers int
}

// Controller rolls Deployments out through ReplicaSets.
type Controller struct {
	cfg        Config
	log        *slog.Logger
	rec        record.Recorder
	dClient    *client.Resource[*appsv1.Deployment]
	rsClient   *client.Resource[*appsv1.ReplicaSet]
	deploys    *informer.Informer[*appsv1.Deployment]
	rsInformer *informer.Informer[*appsv1.ReplicaSet]
	pods       *informer.Informer[*corev1.Pod]
	ctrl       *controller.Controller
	m          *metrics
	now        func() time.Time
}

type nopRecorder struct{}

func (nopRecorder) Eventf(api.Object, string, string, string, ...any) {}

// New builds the controller and registers its informers and handlers on cfg.Factory.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Factory == nil {
		return nil, errors.New("deployment: Config.Client and Config.Factory are required")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 5
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Controller{cfg: cfg, log: cfg.Logger.With("controller", Name), rec: cfg.Recorder,
		dClient: cfg.Client.Deployments(), rsClient: cfg.Client.ReplicaSets(),
		deploys: cfg.Factory.Deployments(), rsInformer: cfg.Factory.ReplicaSets(), pods: cfg.Factory.Pods(), now: time.Now}
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
	c.deploys.AddHandler(informer.Handler[*appsv1.Deployment]{
		OnAdd:    func(d *appsv1.Deployment) { c.ctrl.EnqueueObject(d) },
		OnUpdate: func(_, d *appsv1.Deployment) { c.ctrl.EnqueueObject(d) },
		OnDelete: func(d *appsv1.Deployment) { c.ctrl.EnqueueObject(d) },
	})
	c.rsInformer.AddHandler(informer.Handler[*appsv1.ReplicaSet]{OnAdd: c.addReplicaSet, OnUpdate: c.updateReplicaSet, OnDelete: c.deleteReplicaSet})
	internal.AddControllerIndex(c.pods)
	c.pods.AddHandler(informer.Handler[*corev1.Pod]{OnDelete: c.deletePod})
	return c, nil
}

// Run syncs Deployments until ctx ends. The informer factory must have been started.
func (c *Controller) Run(ctx context.Context) error {
	if !c.deploys.WaitForSync(ctx) || !c.rsInformer.WaitForSync(ctx) || !c.pods.WaitForSync(ctx) {
		return ctx.Err()
	}
	c.log.Info("controller started", "workers", c.cfg.Workers)
	return c.ctrl.Run(ctx)
}

// resolveControllerRef returns the cached Deployment ref points at, or nil.
func (c *Controller) resolveControllerRef(namespace string, ref *metav1.OwnerReference) *appsv1.Deployment {
	d, _ := internal.ResolveControllerRef(c.deploys, Kind, namespace, ref)
	return d
}

// deploymentsForReplicaSet returns the Deployments whose selector matches an orphan ReplicaSet.
func (c *Controller) deploymentsForReplicaSet(rs *appsv1.ReplicaSet) []*appsv1.Deployment {
	out := internal.SelectingOwners(c.deploys, rs.GetMetadata().GetNamespace(), rs.GetMetadata().GetLabels(),
		func(d *appsv1.Deployment) *metav1.LabelSelector { return d.GetSpec().GetSelector() })
	if len(out) > 1 {
		c.log.Info("more than one deployment selects replica set", "replicaset", api.Key(rs), "deployments", len(out))
	}
	return out
}

func (c *Controller) addReplicaSet(rs *appsv1.ReplicaSet) {
	if rs.GetMetadata().GetDeletionTimestamp() != nil {
		c.deleteReplicaSet(rs)
		return
	}
	if ref := internal.GetControllerOf(rs); ref != nil {
		if d := c.resolveControllerRef(rs.GetMetadata().GetNamespace(), ref); d != nil {
			c.ctrl.EnqueueObject(d)
		}
		return
	}
	for _, d := range c.deploymentsForReplicaSet(rs) {
		c.ctrl.EnqueueObject(d)
	}
}

func (c *Controller) updateReplicaSet(old, cur *appsv1.ReplicaSet) {
	if old.GetMetadata().GetResourceVersion() == cur.GetMetadata().GetResourceVersion() {
		return
	}
	curRef, oldRef := internal.GetControllerOf(cur), internal.GetControllerOf(old)
	refChanged := !proto.Equal(curRef, oldRef)
	if refChanged && oldRef != nil {
		if d := c.resolveControllerRef(old.GetMetadata().GetNamespace(), oldRef); d != nil {
			c.ctrl.EnqueueObject(d)
		}
	}
	if curRef != nil {
		if d := c.resolveControllerRef(cur.GetMetadata().GetNamespace(), curRef); d != nil {
			c.ctrl.EnqueueObject(d)
		}
		return
	}
	if refChanged || !maps.Equal(old.GetMetadata().GetLabels(), cur.GetMetadata().GetLabels()) {
		for _, d := range c.deploymentsForReplicaSet(cur) {
			c.ctrl.EnqueueObject(d)
		}
	}
}

func (c *Controller) deleteReplicaSet(rs *appsv1.ReplicaSet) {
	if d := c.resolveControllerRef(rs.GetMetadata().GetNamespace(), internal.GetControllerOf(rs)); d != nil {
		c.ctrl.EnqueueObject(d)
	}
}

// deletePod wakes a Recreate Deployment up when one of its pods is gone: it waits for all old pods to be
// gone before it creates new ones.
func (c *Controller) deletePod(pod *corev1.Pod) {
	ns := pod.GetMetadata().GetNamespace()
	ref := internal.GetControllerOf(pod)
	if ref == nil || ref.GetKind() != "ReplicaSet" {
		return
	}
	rs, ok := c.rsInformer.Get(ns, ref.GetName())
	if !ok || rs.GetMetadata().GetUid() != ref.GetUid() {
		return
	}
	if d := c.resolveControllerRef(ns, internal.GetControllerOf(rs)); d != nil && !IsRollingUpdate(d) {
		c.ctrl.EnqueueObject(d)
	}
}

// sync reconciles one Deployment (Kubernetes' syncDeployment).
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name := api.SplitKey(key)
	cached, ok := c.deploys.Get(ns, name)
	if !ok {
		return nil
	}
	s := &syncer{c: c, d: api.Clone(cached), key: key, now: c.now()}
	sel, err := internal.SelectorFor(s.d.GetSpec().GetSelector())
	if err != nil {
		c.log.Warn("deployment has an invalid selector; not syncing it", "key", key, "err", err)
		return nil
	}
	if sel.Empty() {
		c.rec.Eventf(s.d, record.Warning, ReasonSelectingAll, "This deployment is selecting all pods. A non-empty selector is required.")
		if s.d.GetStatus().GetObservedGeneration() < s.d.GetMetadata().GetGeneration() {
			s.status().ObservedGeneration = s.d.GetMetadata().GetGeneration()
			return s.write(ctx, false, true)
		}
		return nil
	}
	if err := s.claimReplicaSets(ctx, sel); err != nil {
		return err
	}
	s.pods = c.podMap(s.d, sel, s.rss)
	if s.d.GetMetadata().GetDeletionTimestamp() != nil {
		return s.syncStatusOnly(ctx)
	}
	if err := s.checkPausedConditions(ctx); err != nil {
		return err
	}
	if s.d.GetSpec().GetPaused() {
		return s.syncScale(ctx)
	}
	scaling, err := s.isScalingEvent(ctx)
	if err != nil {
		return err
	}
	if scaling {
		return s.syncScale(ctx)
	}
	switch t := s.d.GetSpec().GetStrategy().GetType(); t {
	case Recreate:
		return s.rolloutRecreate(ctx)
	case RollingUpdate, "":
		return s.rolloutRolling(ctx)
	default:
		return fmt.Errorf("deployment %s: unexpected strategy type %q", key, t)
	}
}

// podMap groups the pods of d's ReplicaSets by ReplicaSet uid (every ReplicaSet has an entry).
func (c *Controller) podMap(d *appsv1.Deployment, sel labels.Selector, rss []*appsv1.ReplicaSet) map[string][]*corev1.Pod {
	m := make(map[string][]*corev1.Pod, len(rss))
	for _, rs := range rss {
		var pods []*corev1.Pod
		for _, p := range internal.ControlledBy(c.pods, rs) {
			if sel.Matches(p.GetMetadata().GetLabels()) {
				pods = append(pods, p)
			}
		}
		m[rs.GetMetadata().GetUid()] = pods
	}
	return m
}
