package namespace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/client/informer"
	"github.com/coxswain/coxswain/pkg/client/record"
	"github.com/coxswain/coxswain/pkg/controller"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Name is the controller's name in metrics, logs and the manager's --controllers flag.
const Name = "namespace"

// Finalizer is the spec.finalizers entry the apiserver puts on every namespace and this controller removes.
const Finalizer = "kubernetes"

// DefaultRecheckPeriod is how often a terminating namespace with content left is looked at again.
const DefaultRecheckPeriod = 2 * time.Second

// Config configures the controller.
type Config struct {
	Client   *client.Client
	Factory  *informer.Factory
	Recorder record.Recorder
	// Registerer receives the controller's metrics (nil: not registered).
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Workers is the number of namespaces emptied in parallel (default 2).
	Workers int
	// RecheckPeriod is how often a namespace still holding objects is emptied again (default 2s).
	RecheckPeriod time.Duration
	// Resources are the kinds deleted (default: every namespaced kind in api.All()).
	Resources []*api.Resource
}

// Controller deletes the content of terminating namespaces.
type Controller struct {
	cfg        Config
	c          *client.Client
	namespaces *informer.Informer[*corev1.Namespace]
	factory    *informer.Factory
	recorder   record.Recorder
	log        *slog.Logger
	ctrl       *controller.Controller
	m          *metrics
}

// New builds the controller and registers its informer handlers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Factory == nil || cfg.Recorder == nil {
		return nil, errors.New("namespace: Config.Client, Config.Factory and Config.Recorder are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.RecheckPeriod <= 0 {
		cfg.RecheckPeriod = DefaultRecheckPeriod
	}
	if cfg.Resources == nil {
		for _, r := range api.All() {
			if r.Namespaced {
				cfg.Resources = append(cfg.Resources, r)
			}
		}
	}
	for _, r := range cfg.Resources {
		if !r.Namespaced {
			return nil, fmt.Errorf("namespace: Config.Resources: %s is not namespaced", r.GroupResource())
		}
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	c := &Controller{cfg: cfg, c: cfg.Client, namespaces: cfg.Factory.Namespaces(), factory: cfg.Factory, recorder: cfg.Recorder,
		log: cfg.Logger.With("controller", Name), m: m}
	c.ctrl, err = controller.New(controller.Config{Name: Name, Workers: cfg.Workers, Sync: c.sync, Registerer: cfg.Registerer, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	enqueue := func(ns *corev1.Namespace) {
		if ns.GetMetadata().GetDeletionTimestamp() != nil {
			c.ctrl.EnqueueObject(ns)
		}
	}
	c.namespaces.AddHandler(informer.Handler[*corev1.Namespace]{
		OnAdd:    enqueue,
		OnUpdate: func(_, ns *corev1.Namespace) { enqueue(ns) },
	})
	return c, nil
}

// Run waits for the cache and empties terminating namespaces until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	if !c.factory.WaitForSync(ctx) {
		return ctx.Err()
	}
	c.log.Info("controller started")
	return c.ctrl.Run(ctx)
}

func (c *Controller) sync(ctx context.Context, name string) error {
	ns, ok := c.namespaces.Get("", name)
	if !ok || ns.GetMetadata().GetDeletionTimestamp() == nil || !slices.Contains(ns.GetSpec().GetFinalizers(), Finalizer) {
		return nil
	}
	remaining, err := c.deleteContent(ctx, name)
	if err != nil {
		c.recorder.Eventf(ns, record.Warning, "NamespaceDeletionContentFailure", "Failed to delete the content of namespace %s: %v", name, err)
		return err
	}
	if remaining > 0 {
		c.log.Debug("namespace still has content", "namespace", name, "remaining", remaining)
		return controller.RequeueAfter(c.cfg.RecheckPeriod)
	}
	if err := c.finalize(ctx, ns); err != nil {
		c.recorder.Eventf(ns, record.Warning, "NamespaceFinalizeFailure", "Failed to remove finalizer %q of namespace %s: %v", Finalizer, name, err)
		return err
	}
	return nil
}

// deleteContent deletes every object in namespace and returns how many are still there (marked for
// deletion, waiting for a grace period or finalizers).
func (c *Controller) deleteContent(ctx context.Context, namespace string) (int, error) {
	remaining := 0
	var errs []error
	for _, r := range c.cfg.Resources {
		cl := client.For[api.Object](c.c, r)
		items, _, err := cl.ListAll(ctx, &metav1.ListOptions{Namespace: namespace}, 500)
		if err != nil {
			errs = append(errs, fmt.Errorf("list %s: %w", r.GroupResource(), err))
			continue
		}
		for _, obj := range items {
			m := obj.GetMetadata()
			if m.GetDeletionTimestamp() != nil {
				remaining++
				continue
			}
			uid := m.GetUid()
			out, err := cl.Delete(ctx, &metav1.DeleteRequest{Namespace: namespace, Name: m.GetName(), Preconditions: &metav1.Preconditions{Uid: &uid}})
			switch {
			case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
				// gone already (or replaced: the next pass sees the new one)
			case err != nil:
				errs = append(errs, fmt.Errorf("delete %s %s: %w", r.GroupResource(), m.GetName(), err))
				remaining++
			default:
				c.m.deleted.WithLabelValues(r.GroupResource()).Inc()
				if out.GetMetadata().GetDeletionTimestamp() != nil {
					remaining++ // only marked
				}
			}
		}
	}
	return remaining, errors.Join(errs...)
}

// finalize removes Finalizer from the namespace's spec.finalizers; the apiserver then deletes it.
func (c *Controller) finalize(ctx context.Context, ns *corev1.Namespace) error {
	name := ns.GetMetadata().GetName()
	for attempt := 0; ; attempt++ {
		cur, err := c.c.Namespaces().Get(ctx, "", name)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if cur.GetMetadata().GetUid() != ns.GetMetadata().GetUid() || !slices.Contains(cur.GetSpec().GetFinalizers(), Finalizer) {
			return nil
		}
		cur.Spec.Finalizers = slices.DeleteFunc(cur.Spec.Finalizers, func(f string) bool { return f == Finalizer })
		_, err = c.c.Namespaces().Update(ctx, cur)
		switch {
		case err == nil:
			c.m.finalized.Inc()
			c.log.Info("namespace emptied and finalized", "namespace", name)
			return nil
		case apierrors.IsNotFound(err):
			return nil
		case apierrors.IsConflict(err) && attempt < 5:
			continue
		default:
			return err
		}
	}
}
