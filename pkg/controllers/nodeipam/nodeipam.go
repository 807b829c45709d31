package nodeipam

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
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
const Name = "nodeipam"

// Defaults.
const (
	DefaultClusterCIDR = "10.244.0.0/16"
	DefaultMaskSizeV4  = 24
	DefaultMaskSizeV6  = 64
)

// retryFull is how often a node waits for a range when the cluster CIDR is exhausted (a release also
// wakes it up).
const retryFull = 30 * time.Second

// Config configures the controller.
type Config struct {
	Client   *client.Client
	Factory  *informer.Factory
	Recorder record.Recorder
	// Registerer receives the controller's metrics (nil: not registered).
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Workers is the number of nodes synced in parallel (default 1).
	Workers int
	// ClusterCIDR is the range pod CIDRs are carved from (default 10.244.0.0/16).
	ClusterCIDR string
	// NodeMaskSize is the prefix length of each node's range (default 24 for IPv4, 64 for IPv6).
	NodeMaskSize int
}

// Controller assigns pod CIDRs to nodes.
type Controller struct {
	nodes    *informer.Informer[*corev1.Node]
	cl       *client.Resource[*corev1.Node]
	factory  *informer.Factory
	recorder record.Recorder
	log      *slog.Logger
	ctrl     *controller.Controller
	m        *metrics

	mu     sync.Mutex
	set    *cidrSet
	owner  map[netip.Prefix]string // range -> node name
	byNode map[string]netip.Prefix // node name -> range
}

// New validates the configuration, builds the controller and registers its informer handlers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Factory == nil || cfg.Recorder == nil {
		return nil, errors.New("nodeipam: Config.Client, Config.Factory and Config.Recorder are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.ClusterCIDR == "" {
		cfg.ClusterCIDR = DefaultClusterCIDR
	}
	if cfg.NodeMaskSize == 0 {
		cfg.NodeMaskSize = DefaultMaskSizeV4
		if p, err := netip.ParsePrefix(cfg.ClusterCIDR); err == nil && p.Addr().Is6() {
			cfg.NodeMaskSize = DefaultMaskSizeV6
		}
	}
	set, err := newCIDRSet(cfg.ClusterCIDR, cfg.NodeMaskSize)
	if err != nil {
		return nil, fmt.Errorf("nodeipam: %w", err)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	m.total.Set(float64(set.n))
	c := &Controller{nodes: cfg.Factory.Nodes(), cl: cfg.Client.Nodes(), factory: cfg.Factory, recorder: cfg.Recorder,
		log: cfg.Logger.With("controller", Name), m: m, set: set, owner: map[netip.Prefix]string{}, byNode: map[string]netip.Prefix{}}
	c.ctrl, err = controller.New(controller.Config{Name: Name, Workers: cfg.Workers, Sync: c.sync, Registerer: cfg.Registerer, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	c.nodes.AddHandler(informer.Handler[*corev1.Node]{
		OnAdd: func(n *corev1.Node) { c.ctrl.EnqueueObject(n) },
		OnUpdate: func(old, cur *corev1.Node) {
			if old.GetSpec().GetPodCidr() != cur.GetSpec().GetPodCidr() || cur.GetSpec().GetPodCidr() == "" {
				c.ctrl.EnqueueObject(cur)
			}
		},
		OnDelete: func(n *corev1.Node) { c.ctrl.EnqueueObject(n) },
	})
	return c, nil
}

// Run rebuilds the used ranges from a consistent list of the nodes, then assigns ranges until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	if !c.factory.WaitForSync(ctx) {
		return ctx.Err()
	}
	for {
		err := c.rebuild(ctx)
		if err == nil {
			break
		}
		c.log.Warn("listing nodes to rebuild the allocated ranges failed; retrying", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
	c.log.Info("controller started", "allocated", c.set.count, "free", c.set.free())
	return c.ctrl.Run(ctx)
}

func (c *Controller) rebuild(ctx context.Context) error {
	nodes, _, err := c.cl.List(ctx, nil) // resourceVersion "": a consistent read, not the watch cache
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range nodes {
		c.occupyLocked(n)
	}
	c.m.allocated.Set(float64(c.set.count))
	return nil
}

// occupyLocked records the node's existing range; false when it conflicts or is outside the cluster CIDR.
func (c *Controller) occupyLocked(n *corev1.Node) bool {
	name := n.GetMetadata().GetName()
	p, err := netip.ParsePrefix(n.GetSpec().GetPodCidr())
	if err != nil {
		return false
	}
	if prev, ok := c.byNode[name]; ok && prev != p {
		c.releaseLocked(name)
	}
	if o, ok := c.owner[p]; ok {
		return o == name
	}
	if _, err := c.set.occupy(p); err != nil {
		return false
	}
	c.owner[p] = name
	c.byNode[name] = p
	return true
}

func (c *Controller) releaseLocked(name string) bool {
	p, ok := c.byNode[name]
	if !ok {
		return false
	}
	delete(c.byNode, name)
	delete(c.owner, p)
	c.set.release(p)
	return true
}

func (c *Controller) sync(ctx context.Context, name string) error {
	node, ok := c.nodes.Get("", name)
	if !ok {
		c.mu.Lock()
		released := c.releaseLocked(name)
		c.m.allocated.Set(float64(c.set.count))
		c.mu.Unlock()
		if released {
			c.log.Info("pod CIDR released", "node", name)
			c.enqueueWaiting()
		}
		return nil
	}
	if cidr := node.GetSpec().GetPodCidr(); cidr != "" {
		c.mu.Lock()
		ok := c.occupyLocked(node)
		c.m.allocated.Set(float64(c.set.count))
		var owner string
		if p, err := netip.ParsePrefix(cidr); err == nil {
			owner = c.owner[p]
		}
		c.mu.Unlock()
		switch {
		case ok:
		case owner != "":
			c.recorder.Eventf(node, record.Warning, "CIDRAssignmentFailed", "Node %s has pod CIDR %s, which is assigned to node %s", name, cidr, owner)
		default:
			c.recorder.Eventf(node, record.Warning, "CIDRAssignmentFailed", "Node %s has pod CIDR %q, which is not a node range of the cluster CIDR %s", name, cidr, c.set.cluster)
		}
		return nil
	}

	c.mu.Lock()
	p, reserved := c.byNode[name] // a reservation from an update that failed: reuse it
	if !reserved {
		var free bool
		if p, free = c.set.allocate(); free {
			c.owner[p] = name
			c.byNode[name] = p
		}
		reserved = free
	}
	c.m.allocated.Set(float64(c.set.count))
	c.mu.Unlock()
	if !reserved {
		c.recorder.Eventf(node, record.Warning, "CIDRNotAvailable", "Node %s status is now: CIDRNotAvailable (no free range of /%d in %s)", name, c.set.mask, c.set.cluster)
		return controller.RequeueAfter(retryFull)
	}

	next := api.Clone(node)
	if next.Spec == nil {
		next.Spec = &corev1.NodeSpec{}
	}
	next.Spec.PodCidr = p.String()
	next.Spec.PodCidrs = []string{p.String()}
	if _, err := c.cl.Update(ctx, next); err != nil {
		if apierrors.IsNotFound(err) {
			c.mu.Lock()
			c.releaseLocked(name)
			c.mu.Unlock()
			return nil
		}
		if !apierrors.IsConflict(err) {
			c.recorder.Eventf(node, record.Warning, "CIDRAssignmentFailed", "Failed to set pod CIDR %s on node %s: %v", p, name, err)
		}
		return fmt.Errorf("set pod CIDR %s on node %s: %w", p, name, err)
	}
	c.m.assigned.Inc()
	c.log.Info("pod CIDR assigned", "node", name, "podCIDR", p.String())
	return nil
}

// enqueueWaiting wakes the nodes still without a range after one was released.
func (c *Controller) enqueueWaiting() {
	for _, n := range c.nodes.List() {
		if n.GetSpec().GetPodCidr() == "" {
			c.ctrl.EnqueueObject(n)
		}
	}
}

// Allocated returns the ranges currently assigned, by node name (for tests and debugging).
func (c *Controller) Allocated() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]string, len(c.byNode))
	for n, p := range c.byNode {
		out[n] = p.String()
	}
	return out
}
