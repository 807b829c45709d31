package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/client/informer"
	"github.com/coxswain/coxswain/pkg/proxy/dataplane"
	"github.com/coxswain/coxswain/pkg/proxy/dataplane/nftables"
	"github.com/coxswain/coxswain/pkg/proxy/dataplane/userspace"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// Mode selects the data plane.
type Mode string

// Data plane modes.
const (
	ModeNFTables  Mode = "nftables"
	ModeUserspace Mode = "userspace"
)

// DefaultMode is nftables when the process is root on Linux, userspace
// otherwise.
func DefaultMode() Mode {
	if runtime.GOOS == "linux" && os.Geteuid() == 0 {
		return ModeNFTables
	}
	return ModeUserspace
}

// TriggerTimeAnnotation is set on Endpoints by the endpoints controller to
// the time of the change (pod or service) that caused the update; network
// programming latency is measured from it.
const TriggerTimeAnnotation = "endpoints.kubernetes.io/last-change-trigger-time"

// Config configures the proxy.
type Config struct {
	// Client talks to the apiserver; when nil, New connects to APIServer.
	Client *client.Client
	// APIServer is the apiserver's address (host:port), used when Client
	// is nil.
	APIServer string
	// NodeName is this node's name (logs, hairpin: only this node's
	// endpoints can hairpin).
	NodeName string
	// Mode is the data plane; "" means DefaultMode().
	Mode Mode

	// Table is the nf_tables table (nftables mode); default "coxswain".
	Table string
	// NodeIPs are the local addresses that accept NodePorts (nftables
	// mode); empty means every local address.
	NodeIPs []string
	// ClusterCIDR is the pod network: ClusterIP traffic from outside it is
	// masqueraded (nftables mode).
	ClusterCIDR string
	// MasqueradeAll masquerades all ClusterIP traffic (nftables mode).
	MasqueradeAll bool
	// LocalhostNodePorts also accepts NodePorts on 127.0.0.0/8 from the
	// node itself (nftables mode).
	LocalhostNodePorts bool
	// NetNSPath programs the nftables data plane in the network namespace
	// bound at this path (e.g. /run/netns/node1) instead of the process's
	// own, so that several proxies (one per simulated node) can share a
	// host.
	NetNSPath string
	// CleanupOnExit removes the nftables table when Run returns; by default
	// the rules stay in place so that traffic flows while the proxy
	// restarts. (The userspace data plane always stops with the process.)
	CleanupOnExit bool

	// NodePortAddress is the address NodePorts listen on (userspace mode);
	// default 0.0.0.0.
	NodePortAddress string

	// MinSyncPeriod is the least time between two syncs: changes arriving
	// meanwhile are programmed together in one atomic Sync. Default 50ms.
	MinSyncPeriod time.Duration
	// HealthzTimeout: /healthz fails when a change has waited longer than
	// this to be programmed. Default 60s.
	HealthzTimeout time.Duration
	// HTTPAddr serves /metrics, /healthz and /debug/pprof; "" disables.
	HTTPAddr string
	// Registry receives the proxy's and the data plane's metrics and is
	// served on /metrics; nil creates one.
	Registry *prometheus.Registry
	// DataPlane, when set, is used instead of creating one for Mode.
	DataPlane dataplane.DataPlane
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Proxy watches Services and Endpoints and keeps a data plane programmed
// with them.
type Proxy struct {
	cfg        Config
	log        *slog.Logger
	client     *client.Client
	ownsClient bool
	dp         dataplane.DataPlane
	registry   *prometheus.Registry
	metrics    *metrics
	factory    *informer.Factory
	services   *informer.Informer[*corev1.Service]
	endpoints  *informer.Informer[*corev1.Endpoints]
	builder    *stateBuilder
	httpLis    net.Listener
	kick       chan struct{}
	synced     chan struct{}

	mu       sync.Mutex
	pending  []pendingChange
	lastSync time.Time
	lastErr  error
}

// pendingChange is a change waiting to be programmed.
type pendingChange struct {
	trigger time.Time // what network programming latency is measured from
	seen    time.Time // when the proxy saw it
}

// New checks cfg, connects to the apiserver (lazily), creates the data
// plane and opens the HTTP listener.
func New(cfg Config) (*Proxy, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Mode == "" {
		cfg.Mode = DefaultMode()
	}
	if cfg.Mode != ModeNFTables && cfg.Mode != ModeUserspace {
		return nil, fmt.Errorf("proxy config: mode %q: must be nftables or userspace", cfg.Mode)
	}
	if cfg.MinSyncPeriod <= 0 {
		cfg.MinSyncPeriod = 50 * time.Millisecond
	}
	if cfg.HealthzTimeout <= 0 {
		cfg.HealthzTimeout = time.Minute
	}
	for i, ip := range cfg.NodeIPs {
		if a, err := netip.ParseAddr(ip); err != nil || !a.Is4() {
			return nil, fmt.Errorf("proxy config: nodeIPs[%d] %q: not an IPv4 address", i, ip)
		}
	}
	if cfg.ClusterCIDR != "" {
		if p, err := netip.ParsePrefix(cfg.ClusterCIDR); err != nil || !p.Addr().Is4() {
			return nil, fmt.Errorf("proxy config: clusterCIDR %q: not an IPv4 CIDR", cfg.ClusterCIDR)
		}
	}
	if cfg.Mode == ModeUserspace && cfg.NetNSPath != "" && cfg.DataPlane == nil {
		return nil, errors.New("proxy config: netNSPath: only the nftables mode can program another network namespace")
	}
	p := &Proxy{cfg: cfg, log: cfg.Logger.With("component", "proxy", "node", cfg.NodeName, "mode", cfg.Mode),
		registry: cfg.Registry, kick: make(chan struct{}, 1), synced: make(chan struct{})}
	if p.registry == nil {
		p.registry = prometheus.NewRegistry()
	}
	var err error
	if p.metrics, err = newMetrics(p.registry); err != nil {
		return nil, err
	}
	p.client = cfg.Client
	if p.client == nil {
		if cfg.APIServer == "" {
			return nil, errors.New("proxy config: apiServer: required when no client is given")
		}
		p.client, err = client.New(client.Config{Server: cfg.APIServer, UserAgent: "proxy/" + cfg.NodeName, WaitForReady: true})
		if err != nil {
			return nil, fmt.Errorf("proxy: apiserver client: %w", err)
		}
		p.ownsClient = true
	}
	p.dp = cfg.DataPlane
	if p.dp == nil {
		if p.dp, err = newDataPlane(cfg, p.registry, p.log); err != nil {
			p.closeClient()
			return nil, err
		}
	}
	if cfg.HTTPAddr != "" {
		if p.httpLis, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			p.closeDataPlane()
			p.closeClient()
			return nil, fmt.Errorf("proxy: listen %s: %w", cfg.HTTPAddr, err)
		}
	}
	p.builder = newStateBuilder(p.log)
	p.factory = informer.NewFactory(p.client, 0, p.log)
	p.services = p.factory.Services()
	p.endpoints = p.factory.Endpoints()
	p.services.AddHandler(informer.Handler[*corev1.Service]{
		OnAdd: func(*corev1.Service) { p.changed(time.Time{}) },
		OnUpdate: func(old, cur *corev1.Service) {
			if old.GetMetadata().GetResourceVersion() != cur.GetMetadata().GetResourceVersion() {
				p.changed(time.Time{})
			}
		},
		OnDelete: func(*corev1.Service) { p.changed(time.Time{}) },
	})
	p.endpoints.AddHandler(informer.Handler[*corev1.Endpoints]{
		OnAdd: func(cur *corev1.Endpoints) { p.changed(triggerTime(nil, cur)) },
		OnUpdate: func(old, cur *corev1.Endpoints) {
			if old.GetMetadata().GetResourceVersion() != cur.GetMetadata().GetResourceVersion() {
				p.changed(triggerTime(old, cur))
			}
		},
		OnDelete: func(*corev1.Endpoints) { p.changed(time.Time{}) },
	})
	return p, nil
}

func newDataPlane(cfg Config, reg prometheus.Registerer, log *slog.Logger) (dataplane.DataPlane, error) {
	switch cfg.Mode {
	case ModeNFTables:
		dp, err := nftables.New(nftables.Config{
			Table: cfg.Table, NodeName: cfg.NodeName, NodeIPs: cfg.NodeIPs, ClusterCIDR: cfg.ClusterCIDR,
			MasqueradeAll: cfg.MasqueradeAll, LocalhostNodePorts: cfg.LocalhostNodePorts, NetNSPath: cfg.NetNSPath,
			Registerer: reg, Logger: log,
		})
		if err != nil {
			return nil, fmt.Errorf("proxy: nftables data plane: %w", err)
		}
		return dp, nil
	default:
		dp, err := userspace.New(userspace.Config{NodePortAddress: cfg.NodePortAddress, Registerer: reg, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("proxy: userspace data plane: %w", err)
		}
		return dp, nil
	}
}

// triggerTime is when the change from old to cur happened, according to
// the endpoints controller's annotation; zero (meaning "now") when cur has
// none, or the same as old (the update was not a new trigger).
func triggerTime(old, cur *corev1.Endpoints) time.Time {
	v := cur.GetMetadata().GetAnnotations()[TriggerTimeAnnotation]
	if v == "" || (old != nil && old.GetMetadata().GetAnnotations()[TriggerTimeAnnotation] == v) {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}
	}
	return t
}

// changed records a change (trigger zero: now) and asks for a sync.
func (p *Proxy) changed(trigger time.Time) {
	now := time.Now()
	if trigger.IsZero() || trigger.After(now) {
		trigger = now
	}
	p.mu.Lock()
	p.pending = append(p.pending, pendingChange{trigger: trigger, seen: now})
	n := len(p.pending)
	p.mu.Unlock()
	p.metrics.pendingChanges.Set(float64(n))
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// HTTPAddr is the address of the metrics/health listener ("" when
// disabled).
func (p *Proxy) HTTPAddr() string {
	if p.httpLis == nil {
		return ""
	}
	return p.httpLis.Addr().String()
}

// DataPlane returns the data plane the proxy programs.
func (p *Proxy) DataPlane() dataplane.DataPlane { return p.dp }

// Synced is closed after the first successful sync.
func (p *Proxy) Synced() <-chan struct{} { return p.synced }

// Run programs the data plane until ctx ends: a full sync once the caches
// are loaded, then one sync per batch of changes, at most one every
// MinSyncPeriod, retried with backoff after a failure.
func (p *Proxy) Run(ctx context.Context) error {
	defer p.closeClient()
	defer p.closeDataPlane()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	if p.httpLis != nil {
		srv := &http.Server{Handler: p.httpHandler(), ReadHeaderTimeout: 10 * time.Second}
		wg.Go(func() {
			if err := srv.Serve(p.httpLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
				p.log.Error("http server stopped", "err", err)
			}
		})
		wg.Go(func() {
			<-ctx.Done()
			sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer scancel()
			_ = srv.Shutdown(sctx)
		})
	}
	if r, ok := p.dp.(interface{ Run(context.Context) error }); ok {
		wg.Go(func() {
			if err := r.Run(ctx); err != nil && ctx.Err() == nil {
				p.log.Error("data plane stopped", "err", err)
			}
		})
	}
	p.factory.Start(ctx)
	p.log.Info("proxy starting", "apiserver", p.cfg.APIServer, "http", p.HTTPAddr())
	if !p.factory.WaitForSync(ctx) {
		return p.exit(ctx)
	}
	p.changed(time.Time{}) // the first, full sync
	p.loop(ctx)
	return p.exit(ctx)
}

// exit runs when Run's context ends.
func (p *Proxy) exit(ctx context.Context) error {
	if p.cfg.CleanupOnExit {
		if err := p.dp.Cleanup(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("proxy: clean up the data plane: %w", err)
		}
	}
	p.log.Info("proxy stopped")
	return nil
}

func (p *Proxy) loop(ctx context.Context) {
	var lastStart time.Time
	var retry <-chan time.Time
	backoff := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.kick:
		case <-retry:
		}
		if wait := p.cfg.MinSyncPeriod - time.Since(lastStart); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		select { // changes seen while waiting are part of this sync
		case <-p.kick:
		default:
		}
		lastStart = time.Now()
		if err := p.syncOnce(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			backoff = min(max(2*backoff, p.cfg.MinSyncPeriod, 100*time.Millisecond), 30*time.Second)
			p.log.Error("sync failed", "err", err, "retryIn", backoff)
			retry = time.After(backoff)
			continue
		}
		backoff, retry = 0, nil
	}
}

// syncOnce programs the full desired state built from the caches.
func (p *Proxy) syncOnce(ctx context.Context) error {
	p.mu.Lock()
	batch := p.pending
	p.pending = nil
	p.mu.Unlock()

	state := p.builder.build(p.services.List(), p.endpoints.Get)
	err := p.dp.Sync(ctx, state)
	now := time.Now()
	p.mu.Lock()
	p.lastErr = err
	if err != nil {
		p.pending = append(batch, p.pending...)
	} else {
		p.lastSync = now
	}
	n := len(p.pending)
	p.mu.Unlock()
	p.metrics.pendingChanges.Set(float64(n))
	if err != nil {
		p.metrics.syncs.WithLabelValues("error").Inc()
		return err
	}
	p.metrics.syncs.WithLabelValues("success").Inc()
	for _, c := range batch {
		p.metrics.networkProgramming.Observe(now.Sub(c.trigger).Seconds())
	}
	select {
	case <-p.synced:
	default:
		close(p.synced)
		p.log.Info("first sync done", "servicePorts", len(state))
	}
	p.log.Debug("synced", "servicePorts", len(state), "changes", len(batch))
	return nil
}

// healthy reports whether the data plane is in sync: it has been synced
// once and no change has waited longer than HealthzTimeout.
func (p *Proxy) healthy() (bool, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lastSync.IsZero() {
		return false, "not synced yet"
	}
	for _, c := range p.pending {
		if d := time.Since(c.seen); d > p.cfg.HealthzTimeout {
			msg := fmt.Sprintf("a change has waited %v to be programmed", d.Round(time.Second))
			if p.lastErr != nil {
				msg += ": " + p.lastErr.Error()
			}
			return false, msg
		}
	}
	return true, "ok"
}

func (p *Proxy) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(p.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		ok, msg := p.healthy()
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(w, msg)
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

func (p *Proxy) closeClient() {
	if p.ownsClient {
		p.client.Close()
	}
}

// closeDataPlane releases a data plane the proxy created (netlink
// sockets); the rules stay.
func (p *Proxy) closeDataPlane() {
	if p.cfg.DataPlane != nil {
		return
	}
	if c, ok := p.dp.(io.Closer); ok {
		_ = c.Close()
	}
}

// Cleanup removes everything the data plane programmed (the nftables
// table) without running the proxy.
func (p *Proxy) Cleanup(ctx context.Context) error {
	defer p.closeClient()
	defer p.closeDataPlane()
	return p.dp.Cleanup(ctx)
}
