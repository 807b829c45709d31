package loadbalancer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/client/informer"
	"github.com/coxswain/coxswain/pkg/client/record"
	"github.com/coxswain/coxswain/pkg/controller"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// Name is the controller's name in metrics, logs and the manager's --controllers flag.
const Name = "loadbalancer"

// Event reasons, as MetalLB's.
const (
	ReasonAllocated        = "IPAllocated"
	ReasonAllocationFailed = "AllocationFailed"
)

// Config configures the controller.
type Config struct {
	Client   *client.Client
	Factory  *informer.Factory
	Recorder record.Recorder
	// Registerer receives the controller's metrics (nil: not registered).
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Workers is the number of services synced in parallel (default 2).
	Workers int
	// Pool is the address pool, as ParsePool reads it ("" leaves every LoadBalancer service pending).
	Pool string
}

// Controller assigns load-balancer addresses.
type Controller struct {
	cl       *client.Resource[*corev1.Service]
	services *informer.Informer[*corev1.Service]
	factory  *informer.Factory
	recorder record.Recorder
	log      *slog.Logger
	ctrl     *controller.Controller
	m        *metrics
	pool     *Pool // nil: none configured

	mu    sync.Mutex
	used  map[netip.Addr]string // address -> service key
	bySvc map[string]netip.Addr
}

// New parses the pool, builds the controller and registers its informer handlers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Factory == nil || cfg.Recorder == nil {
		return nil, errors.New("loadbalancer: Config.Client, Config.Factory and Config.Recorder are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	var pool *Pool
	if cfg.Pool != "" {
		var err error
		if pool, err = ParsePool(cfg.Pool); err != nil {
			return nil, fmt.Errorf("loadbalancer: %w", err)
		}
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	if pool != nil {
		m.total.Set(pool.Size())
	}
	c := &Controller{cl: cfg.Client.Services(), services: cfg.Factory.Services(), factory: cfg.Factory, recorder: cfg.Recorder,
		log: cfg.Logger.With("controller", Name), m: m, pool: pool, used: map[netip.Addr]string{}, bySvc: map[string]netip.Addr{}}
	c.ctrl, err = controller.New(controller.Config{Name: Name, Workers: cfg.Workers, Sync: c.sync, Registerer: cfg.Registerer, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	c.services.AddHandler(informer.Handler[*corev1.Service]{
		OnAdd:    func(s *corev1.Service) { c.ctrl.EnqueueObject(s) },
		OnUpdate: func(_, s *corev1.Service) { c.ctrl.EnqueueObject(s) },
		OnDelete: func(s *corev1.Service) { c.ctrl.EnqueueObject(s) },
	})
	return c, nil
}

// ours reports whether svc asks this controller for an address.
func ours(svc *corev1.Service) bool {
	return svc.GetSpec().GetType() == "LoadBalancer" && svc.GetSpec().GetLoadBalancerClass() == ""
}

func ingressIP(svc *corev1.Service) (netip.Addr, bool) {
	ing := svc.GetStatus().GetLoadBalancer().GetIngress()
	if len(ing) == 0 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(ing[0].GetIp())
	return a, err == nil
}

// Run rebuilds the assignments from a consistent list of the services, then syncs until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	if !c.factory.WaitForSync(ctx) {
		return ctx.Err()
	}
	if c.pool != nil {
		for {
			err := c.rebuild(ctx)
			if err == nil {
				break
			}
			c.log.Warn("listing services to rebuild the address assignments failed; retrying", "err", err)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(2 * time.Second):
			}
		}
	}
	c.log.Info("controller started", "pool", c.pool.String(), "assigned", len(c.bySvc))
	return c.ctrl.Run(ctx)
}

func (c *Controller) rebuild(ctx context.Context) error {
	svcs, _, err := c.cl.List(ctx, nil) // resourceVersion "": consistent, not the watch cache
	if err != nil {
		return err
	}
	// The oldest service keeps an address that two claim.
	slices.SortStableFunc(svcs, func(a, b *corev1.Service) int {
		return a.GetMetadata().GetCreationTimestamp().AsTime().Compare(b.GetMetadata().GetCreationTimestamp().AsTime())
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, svc := range svcs {
		a, ok := ingressIP(svc)
		if !ok || !ours(svc) || !c.pool.Contains(a) {
			continue
		}
		if _, taken := c.used[a]; !taken {
			c.assignLocked(api.Key(svc), a)
		}
	}
	return nil
}

func (c *Controller) assignLocked(key string, a netip.Addr) {
	if prev, ok := c.bySvc[key]; ok {
		delete(c.used, prev)
	}
	c.used[a] = key
	c.bySvc[key] = a
	c.m.inUse.Set(float64(len(c.used)))
}

func (c *Controller) releaseLocked(key string) bool {
	a, ok := c.bySvc[key]
	if !ok {
		return false
	}
	delete(c.bySvc, key)
	delete(c.used, a)
	c.m.inUse.Set(float64(len(c.used)))
	return true
}

func (c *Controller) release(key string) {
	c.mu.Lock()
	released := c.releaseLocked(key)
	c.mu.Unlock()
	if released {
		c.log.Info("address released", "service", key)
		// Services left pending by an exhausted pool may get it now.
		for _, s := range c.services.List() {
			if ours(s) && len(s.GetStatus().GetLoadBalancer().GetIngress()) == 0 {
				c.ctrl.EnqueueObject(s)
			}
		}
	}
}

func (c *Controller) sync(ctx context.Context, key string) error {
	svc, ok := c.services.GetByKey(key)
	if !ok {
		c.release(key)
		return nil
	}
	if !ours(svc) {
		c.mu.Lock()
		_, had := c.bySvc[key]
		c.mu.Unlock()
		c.release(key)
		// A former LoadBalancer service loses the status we gave it (another class owns its own status).
		if a, ok := ingressIP(svc); svc.GetSpec().GetType() != "LoadBalancer" && ok && (had || (c.pool != nil && c.pool.Contains(a))) {
			return c.writeIngress(ctx, svc, netip.Addr{})
		}
		return nil
	}
	if c.pool == nil {
		c.m.failures.WithLabelValues("no_pool").Inc()
		c.recorder.Eventf(svc, record.Warning, ReasonAllocationFailed, "Failed to allocate IP for %q: no address pool configured", key)
		return nil
	}
	want, reason, msg := c.choose(key, svc)
	if !want.IsValid() {
		c.m.failures.WithLabelValues(reason).Inc()
		c.recorder.Eventf(svc, record.Warning, ReasonAllocationFailed, "Failed to allocate IP for %q: %s", key, msg)
		c.log.Info("service left pending", "service", key, "reason", msg)
		if _, has := ingressIP(svc); has {
			return c.writeIngress(ctx, svc, netip.Addr{})
		}
		return nil
	}
	if cur, ok := ingressIP(svc); ok && cur == want && len(svc.GetStatus().GetLoadBalancer().GetIngress()) == 1 {
		return nil
	}
	if err := c.writeIngress(ctx, svc, want); err != nil {
		return err // the reservation stays: the retry writes the same address
	}
	c.log.Info("address assigned", "service", key, "ip", want.String())
	c.recorder.Eventf(svc, record.Normal, ReasonAllocated, "Assigned IP [%q]", want.String())
	return nil
}

// choose picks (and reserves) svc's address: the requested spec.loadBalancerIP, else the one it holds,
// else the one in its status if free, else the first free one. An invalid result comes with a reason
// label and a message.
func (c *Controller) choose(key string, svc *corev1.Service) (netip.Addr, string, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	held, has := c.bySvc[key]
	if req := svc.GetSpec().GetLoadBalancerIp(); req != "" {
		a, err := netip.ParseAddr(req)
		switch {
		case err != nil:
			c.releaseLocked(key)
			return netip.Addr{}, "invalid_request", fmt.Sprintf("spec.loadBalancerIP %q is not an IP address", req)
		case !c.pool.Contains(a):
			c.releaseLocked(key)
			return netip.Addr{}, "not_in_pool", fmt.Sprintf("requested IP %s is not in the address pool %s", a, c.pool)
		case c.used[a] != "" && c.used[a] != key:
			c.releaseLocked(key)
			return netip.Addr{}, "in_use", fmt.Sprintf("requested IP %s is already in use by service %s", a, c.used[a])
		}
		c.assignLocked(key, a)
		return a, "", ""
	}
	if has {
		return held, "", ""
	}
	if a, ok := ingressIP(svc); ok && c.pool.Contains(a) && c.used[a] == "" {
		c.assignLocked(key, a)
		return a, "", ""
	}
	a, ok := c.pool.firstFree(func(a netip.Addr) bool { return c.used[a] != "" })
	if !ok {
		return netip.Addr{}, "exhausted", fmt.Sprintf("no available IPs in the address pool %s", c.pool)
	}
	c.assignLocked(key, a)
	return a, "", ""
}

// writeIngress sets status.loadBalancer.ingress to [a] (an invalid a clears it).
func (c *Controller) writeIngress(ctx context.Context, svc *corev1.Service, a netip.Addr) error {
	next := api.Clone(svc)
	if next.Status == nil {
		next.Status = &corev1.ServiceStatus{}
	}
	next.Status.LoadBalancer = &corev1.LoadBalancerStatus{}
	if a.IsValid() {
		next.Status.LoadBalancer.Ingress = []*corev1.LoadBalancerIngress{{Ip: a.String()}}
	}
	if _, err := c.cl.UpdateStatus(ctx, next); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("update status of service %s: %w", api.Key(svc), err)
	}
	return nil
}

// Assigned returns the current assignments, service key to address (for tests and debugging).
func (c *Controller) Assigned() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]string, len(c.bySvc))
	for k, a := range c.bySvc {
		out[k] = a.String()
	}
	return out
}
