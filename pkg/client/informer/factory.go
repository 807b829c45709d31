package informer

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/client"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	coordinationv1 "github.com/coxswain/coxswain/proto/coxswain/coordination/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// Factory shares one informer per resource (and config) among all the controllers of a process.
type Factory struct {
	c      *client.Client
	resync time.Duration
	log    *slog.Logger

	mu        sync.Mutex
	informers map[factoryKey]runner
	started   map[factoryKey]bool
	ctx       context.Context
}

type factoryKey struct {
	res *api.Resource
	cfg string
}

type runner interface {
	Run(ctx context.Context) error
	WaitForSync(ctx context.Context) bool
}

// NewFactory returns a factory whose informers use c.
func NewFactory(c *client.Client, resync time.Duration, log *slog.Logger) *Factory {
	if log == nil {
		log = slog.Default()
	}
	return &Factory{c: c, resync: resync, log: log, informers: map[factoryKey]runner{}, started: map[factoryKey]bool{}}
}

// For returns the shared informer of resource r with cfg (created on first use; started by Start).
func For[T api.Object](f *Factory, r *api.Resource, cfg Config) *Informer[T] {
	f.mu.Lock()
	defer f.mu.Unlock()
	if cfg.Transform != nil && cfg.TransformName == "" {
		panic("informer.For: a Transform needs a TransformName")
	}
	k := factoryKey{res: r, cfg: cfg.Namespace + "\x00" + cfg.LabelSelector + "\x00" + cfg.FieldSelector + "\x00" + cfg.TransformName}
	if inf, ok := f.informers[k]; ok {
		return inf.(*Informer[T])
	}
	if cfg.ResyncPeriod == 0 {
		cfg.ResyncPeriod = f.resync
	}
	if cfg.Logger == nil {
		cfg.Logger = f.log.With("informer", r.Plural)
	}
	inf := New[T](client.For[T](f.c, r), cfg)
	f.informers[k] = inf
	if f.ctx != nil { // the factory already runs: start late informers at once
		f.started[k] = true
		go func() { _ = inf.Run(f.ctx) }()
	}
	return inf
}

// Start runs every informer created so far (and any created later) until ctx ends.
func (f *Factory) Start(ctx context.Context) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ctx = ctx
	for k, inf := range f.informers {
		if !f.started[k] {
			f.started[k] = true
			go func() { _ = inf.Run(ctx) }()
		}
	}
}

// WaitForSync waits until every informer has synced; false when ctx ended first.
func (f *Factory) WaitForSync(ctx context.Context) bool {
	f.mu.Lock()
	infs := make([]runner, 0, len(f.informers))
	for _, inf := range f.informers {
		infs = append(infs, inf)
	}
	f.mu.Unlock()
	for _, inf := range infs {
		if !inf.WaitForSync(ctx) {
			return false
		}
	}
	return true
}

// Typed shortcuts for the all-objects informers.
func (f *Factory) Pods() *Informer[*corev1.Pod]   { return For[*corev1.Pod](f, api.Pods, Config{}) }
func (f *Factory) Nodes() *Informer[*corev1.Node] { return For[*corev1.Node](f, api.Nodes, Config{}) }
func (f *Factory) Services() *Informer[*corev1.Service] {
	return For[*corev1.Service](f, api.Services, Config{})
}
func (f *Factory) Endpoints() *Informer[*corev1.Endpoints] {
	return For[*corev1.Endpoints](f, api.Endpoints, Config{})
}
func (f *Factory) Namespaces() *Informer[*corev1.Namespace] {
	return For[*corev1.Namespace](f, api.Namespaces, Config{})
}
func (f *Factory) ConfigMaps() *Informer[*corev1.ConfigMap] {
	return For[*corev1.ConfigMap](f, api.ConfigMaps, Config{})
}
func (f *Factory) Secrets() *Informer[*corev1.Secret] {
	return For[*corev1.Secret](f, api.Secrets, Config{})
}
func (f *Factory) ReplicaSets() *Informer[*appsv1.ReplicaSet] {
	return For[*appsv1.ReplicaSet](f, api.ReplicaSets, Config{})
}
func (f *Factory) Deployments() *Informer[*appsv1.Deployment] {
	return For[*appsv1.Deployment](f, api.Deployments, Config{})
}
func (f *Factory) Leases() *Informer[*coordinationv1.Lease] {
	return For[*coordinationv1.Lease](f, api.Leases, Config{})
}
