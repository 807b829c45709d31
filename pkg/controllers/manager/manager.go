package manager

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/client/informer"
	"github.com/coxswain/coxswain/pkg/client/leaderelection"
	"github.com/coxswain/coxswain/pkg/client/record"
	"github.com/coxswain/coxswain/pkg/controllers/deployment"
	"github.com/coxswain/coxswain/pkg/controllers/endpoints"
	"github.com/coxswain/coxswain/pkg/controllers/gc"
	"github.com/coxswain/coxswain/pkg/controllers/loadbalancer"
	"github.com/coxswain/coxswain/pkg/controllers/namespace"
	"github.com/coxswain/coxswain/pkg/controllers/nodeipam"
	"github.com/coxswain/coxswain/pkg/controllers/nodelifecycle"
	"github.com/coxswain/coxswain/pkg/controllers/replicaset"
)

// Component is the events' source component.
const Component = "controller-manager"

// The leader-election Lease.
const (
	LeaseNamespace = "kube-system"
	LeaseName      = "coxswain-controller-manager"
)

// Config configures a controller-manager.
type Config struct {
	Client *client.Client
	// Controllers selects the controllers: "*" is every one, "name" enables one, "-name" disables one
	// (default ["*"]). See Controllers() for the names.
	Controllers []string
	// Workers, when set, is the number of parallel syncs of every controller (0: each one's default).
	Workers int
	// ResyncPeriod re-delivers every cached object to the controllers periodically (0: never).
	ResyncPeriod time.Duration

	// NodeMonitorGracePeriod (default 40s) and NodeMonitorPeriod (default 5s): see nodelifecycle.
	NodeMonitorGracePeriod, NodeMonitorPeriod time.Duration
	// Default tolerations of the not-ready/unreachable taints, in seconds (nil: 300).
	DefaultNotReadyTolerationSeconds, DefaultUnreachableTolerationSeconds *int64
	// ClusterCIDR (default 10.244.0.0/16) and NodeCIDRMaskSize (default 24 / 64): see nodeipam.
	ClusterCIDR      string
	NodeCIDRMaskSize int
	// LoadBalancerPool is the load-balancer address pool ("": services stay pending).
	LoadBalancerPool string

	// LeaderElect campaigns for the Lease before running the controllers; false runs them at once.
	LeaderElect bool
	// LeaseDuration (default 15s), RenewDeadline (default 10s) and RetryPeriod (default 2s) of the election.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Identity in the election (default hostname_random).
	Identity string

	// HTTPAddr serves /metrics, /healthz and /debug/pprof ("" disables).
	HTTPAddr string
	// Registry receives every metric and is served on /metrics (default: a new registry).
	Registry *prometheus.Registry
	Logger   *slog.Logger
}

// runner is what every controller is.
type runner interface {
	Run(ctx context.Context) error
}

type builder func(cfg *Config, shared shared) (runner, error)

type shared struct {
	factory  *informer.Factory
	recorder record.Recorder
	reg      prometheus.Registerer
	log      *slog.Logger
}

// The controllers, in start order.
var builders = []struct {
	name  string
	build builder
}{
	{replicaset.Name, func(cfg *Config, s shared) (runner, error) {
		return replicaset.New(replicaset.Config{Client: cfg.Client, Factory: s.factory, Recorder: s.recorder, Registerer: s.reg, Logger: s.log, Workers: cfg.Workers})
	}},
	{deployment.Name, func(cfg *Config, s shared) (runner, error) {
		return deployment.New(deployment.Config{Client: cfg.Client, Factory: s.factory, Recorder: s.recorder, Registerer: s.reg, Logger: s.log, Workers: cfg.Workers})
	}},
	{endpoints.Name, func(cfg *Config, s shared) (runner, error) {
		return endpoints.New(endpoints.Config{Client: cfg.Client, Factory: s.factory, Recorder: s.recorder, Registerer: s.reg, Logger: s.log, Workers: cfg.Workers})
	}},
	{nodelifecycle.Name, func(cfg *Config, s shared) (runner, error) {
		return nodelifecycle.New(nodelifecycle.Config{Client: cfg.Client, Factory: s.factory, Recorder: s.recorder, Registerer: s.reg, Logger: s.log, Workers: cfg.Workers,
			GracePeriod: cfg.NodeMonitorGracePeriod, MonitorPeriod: cfg.NodeMonitorPeriod,
			DefaultNotReadyTolerationSeconds: cfg.DefaultNotReadyTolerationSeconds, DefaultUnreachableTolerationSeconds: cfg.DefaultUnreachableTolerationSeconds})
	}},
	{nodeipam.Name, func(cfg *Config, s shared) (runner, error) {
		return nodeipam.New(nodeipam.Config{Client: cfg.Client, Factory: s.factory, Recorder: s.recorder, Registerer: s.reg, Logger: s.log, Workers: cfg.Workers,
			ClusterCIDR: cfg.ClusterCIDR, NodeMaskSize: cfg.NodeCIDRMaskSize})
	}},
	{gc.Name, func(cfg *Config, s shared) (runner, error) {
		return gc.New(gc.Config{Client: cfg.Client, Factory: s.factory, Recorder: s.recorder, Registerer: s.reg, Logger: s.log, Workers: cfg.Workers})
	}},
	{namespace.Name, func(cfg *Config, s shared) (runner, error) {
		return namespace.New(namespace.Config{Client: cfg.Client, Factory: s.factory, Recorder: s.recorder, Registerer: s.reg, Logger: s.log, Workers: cfg.Workers})
	}},
	{loadbalancer.Name, func(cfg *Config, s shared) (runner, error) {
		return loadbalancer.New(loadbalancer.Config{Client: cfg.Client, Factory: s.factory, Recorder: s.recorder, Registerer: s.reg, Logger: s.log, Workers: cfg.Workers,
			Pool: cfg.LoadBalancerPool})
	}},
}

// Controllers returns the names of every controller, in start order.
func Controllers() []string {
	out := make([]string, len(builders))
	for i, b := range builders {
		out[i] = b.name
	}
	return out
}

// Enabled resolves a --controllers list, as Kubernetes does: a name is enabled when it is listed, or
// when "*" is listed and "-name" is not. Unknown names are an error.
func Enabled(spec []string) ([]string, error) {
	if len(spec) == 0 {
		spec = []string{"*"}
	}
	known := Controllers()
	star := false
	on, off := map[string]bool{}, map[string]bool{}
	for _, s := range spec {
		s = strings.TrimSpace(s)
		switch {
		case s == "*":
			star = true
		case strings.HasPrefix(s, "-") && slices.Contains(known, s[1:]):
			off[s[1:]] = true
		case slices.Contains(known, s):
			on[s] = true
		default:
			return nil, fmt.Errorf("--controllers: unknown controller %q; known: *, %s (prefix a name with - to disable it)", s, strings.Join(known, ", "))
		}
	}
	var out []string
	for _, n := range known {
		if on[n] && off[n] {
			return nil, fmt.Errorf("--controllers: %q is both enabled and disabled", n)
		}
		if on[n] || (star && !off[n]) {
			out = append(out, n)
		}
	}
	return out, nil
}

type named struct {
	name string
	r    runner
}

// Manager runs the controllers.
type Manager struct {
	cfg         Config
	log         *slog.Logger
	factory     *informer.Factory
	broadcaster *record.Broadcaster
	controllers []named
	httpLis     net.Listener
	leading     atomic.Bool
	m           *metrics
}

// New builds every enabled controller (which registers the informers they share) and opens the HTTP
// listener; Run starts them.
func New(cfg Config) (*Manager, error) {
	if cfg.Client == nil {
		return nil, errors.New("manager: Config.Client is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	host, _ := os.Hostname()
	if cfg.Identity == "" {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		cfg.Identity = host + "_" + hex.EncodeToString(b)
	}
	enabled, err := Enabled(cfg.Controllers)
	if err != nil {
		return nil, err
	}
	if len(enabled) == 0 {
		return nil, errors.New("manager: --controllers enables no controller")
	}
	m := &Manager{cfg: cfg, log: cfg.Logger}
	if m.m, err = newMetrics(cfg.Registry); err != nil {
		return nil, err
	}
	m.factory = informer.NewFactory(cfg.Client, cfg.ResyncPeriod, cfg.Logger)
	m.broadcaster = record.NewBroadcaster(cfg.Client, Component, host, cfg.Logger)
	s := shared{factory: m.factory, recorder: m.broadcaster, reg: cfg.Registry, log: cfg.Logger}
	for _, b := range builders {
		if !slices.Contains(enabled, b.name) {
			continue
		}
		r, err := b.build(&cfg, s)
		if err != nil {
			return nil, fmt.Errorf("controller %s: %w", b.name, err)
		}
		m.controllers = append(m.controllers, named{b.name, r})
		m.m.enabled.WithLabelValues(b.name).Set(1)
	}
	if cfg.HTTPAddr != "" {
		if m.httpLis, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return nil, fmt.Errorf("manager: listen %s: %w", cfg.HTTPAddr, err)
		}
	}
	return m, nil
}

// HTTPAddr is the address /metrics and /healthz are served on ("" when disabled).
func (m *Manager) HTTPAddr() string {
	if m.httpLis == nil {
		return ""
	}
	return m.httpLis.Addr().String()
}

// Identity is this replica's identity in the leader election.
func (m *Manager) Identity() string { return m.cfg.Identity }

// IsLeader reports whether this replica runs the controllers now.
func (m *Manager) IsLeader() bool { return m.leading.Load() }

// Enabled lists the controllers this manager runs.
func (m *Manager) Enabled() []string {
	out := make([]string, len(m.controllers))
	for i, c := range m.controllers {
		out[i] = c.name
	}
	return out
}

// Run serves HTTP and, once leader (or at once without leader election), runs the controllers until
// ctx ends. A leader that loses its lease returns leaderelection.ErrLostLeadership: the process should
// exit and start over as a candidate.
func (m *Manager) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	if m.httpLis != nil {
		srv := &http.Server{Handler: m.handler(), ReadHeaderTimeout: 10 * time.Second}
		wg.Add(2)
		go func() { defer wg.Done(); _ = srv.Serve(m.httpLis) }()
		go func() {
			defer wg.Done()
			<-ctx.Done()
			sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer scancel()
			_ = srv.Shutdown(sctx)
		}()
	}
	wg.Add(1)
	go func() { defer wg.Done(); m.broadcaster.Run(ctx) }()

	var runErr error
	lead := func(lctx context.Context) { runErr = m.runControllers(lctx) }
	m.log.Info("controller-manager starting", "controllers", strings.Join(m.Enabled(), ","), "leaderElect", m.cfg.LeaderElect, "identity", m.cfg.Identity)
	if !m.cfg.LeaderElect {
		lead(ctx)
	} else {
		err := leaderelection.Run(ctx, leaderelection.Config{Client: m.cfg.Client, Namespace: LeaseNamespace, Name: LeaseName, Identity: m.cfg.Identity,
			LeaseDuration: m.cfg.LeaseDuration, RenewDeadline: m.cfg.RenewDeadline, RetryPeriod: m.cfg.RetryPeriod,
			OnStartedLeading: lead, Registerer: m.cfg.Registry, Logger: m.log,
			OnNewLeader: func(id string) { m.log.Info("leader observed", "leader", id) }})
		if errors.Is(err, leaderelection.ErrLostLeadership) {
			return err
		}
	}
	if runErr != nil && ctx.Err() == nil {
		return runErr
	}
	return ctx.Err()
}

// runControllers starts the informers and every controller, and waits for them.
func (m *Manager) runControllers(ctx context.Context) error {
	m.leading.Store(true)
	defer m.leading.Store(false)
	m.m.leading.Set(1)
	defer m.m.leading.Set(0)
	m.log.Info("leading: starting controllers")
	m.factory.Start(ctx)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(m.controllers))
	for _, c := range m.controllers {
		go func() {
			err := c.r.Run(ctx)
			if err != nil && ctx.Err() == nil {
				err = fmt.Errorf("controller %s: %w", c.name, err)
				m.log.Error("controller stopped", "controller", c.name, "err", err)
				cancel() // one controller failing takes the process down, to be restarted
			}
			errs <- err
		}()
	}
	var first error
	for range m.controllers {
		if err := <-errs; err != nil && first == nil && !errors.Is(err, context.Canceled) {
			first = err
		}
	}
	return first
}

func (m *Manager) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.cfg.Registry, promhttp.HandlerOpts{Registry: m.cfg.Registry}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		role := "standby"
		if m.IsLeader() || !m.cfg.LeaderElect {
			role = "leader"
		}
		_, _ = fmt.Fprintf(w, "ok (%s)", role)
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
