package apiserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/apiserver/registry"
	"github.com/coxswain/coxswain/pkg/apiserver/storage"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Config configures an apiserver.
type Config struct {
	// GRPCAddr is the API's listen address (default 127.0.0.1:6443; ":0" picks a free port).
	GRPCAddr string
	// HTTPAddr serves /metrics, /healthz, /readyz and /debug/pprof ("" disables it; the command line defaults
	// to 127.0.0.1:8080).
	HTTPAddr string
	// EtcdServers are external etcd endpoints; empty starts an embedded etcd in DataDir.
	EtcdServers []string
	// DataDir holds the embedded etcd's data.
	DataDir string
	// ServiceClusterIPRange is the ClusterIP CIDR (default 10.96.0.0/16).
	ServiceClusterIPRange string
	// ServiceNodePortRange is the NodePort range (default 30000-32767).
	ServiceNodePortRange string
	// WatchCacheWindow is the number of recent events each resource keeps for resuming watches.
	WatchCacheWindow int
	// BookmarkInterval between BOOKMARK events (default 5s).
	BookmarkInterval time.Duration
	// KubeletToken is sent to kubelets when proxying logs/exec/port-forward (they accept only it).
	KubeletToken string
	// Authenticator and Authorizer default to TLS-or-anonymous and allow-all.
	Authenticator Authenticator
	Authorizer    Authorizer
	// ExtraAdmission runs after the built-in admission steps.
	ExtraAdmission []registry.Admitter
	Registry       *prometheus.Registry
	Logger         *slog.Logger
}

// Server is a running (or runnable) apiserver.
type Server struct {
	cfg     Config
	log     *slog.Logger
	reg     *prometheus.Registry
	metrics *metrics
	smet    *storage.Metrics
	authn   Authenticator
	authz   Authorizer

	etcd     *embeddedEtcd
	etcdCli  *clientv3.Client
	rests    map[*api.Resource]*registry.REST
	alloc    *registry.ServiceAllocator
	grpc     *grpc.Server
	health   *health.Server
	grpcLis  net.Listener
	httpLis  net.Listener
	ready    chan struct{}
	readyErr error
	kubelets *kubeletDialer
}

// New validates cfg and binds the listeners (so Addr is known before Run).
func New(cfg Config) (*Server, error) {
	if cfg.GRPCAddr == "" {
		cfg.GRPCAddr = "127.0.0.1:6443"
	}
	if cfg.ServiceClusterIPRange == "" {
		cfg.ServiceClusterIPRange = "10.96.0.0/16"
	}
	if cfg.ServiceNodePortRange == "" {
		cfg.ServiceNodePortRange = "30000-32767"
	}
	if len(cfg.EtcdServers) == 0 && cfg.DataDir == "" {
		return nil, errors.New("apiserver: --data-dir is required for the embedded etcd (or give --etcd-servers)")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
		cfg.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	s := &Server{cfg: cfg, log: cfg.Logger, reg: cfg.Registry,
		authn: cfg.Authenticator, authz: cfg.Authorizer, rests: map[*api.Resource]*registry.REST{}, ready: make(chan struct{})}
	if s.authn == nil {
		s.authn = defaultAuthenticator{}
	}
	if s.authz == nil {
		s.authz = AlwaysAllow{}
	}
	s.metrics = newMetrics(s.reg)
	s.smet = storage.NewMetrics(s.reg)
	var err error
	if s.grpcLis, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
		return nil, fmt.Errorf("apiserver: listen %s: %w", cfg.GRPCAddr, err)
	}
	if cfg.HTTPAddr != "" {
		if s.httpLis, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			s.grpcLis.Close()
			return nil, fmt.Errorf("apiserver: listen %s: %w", cfg.HTTPAddr, err)
		}
	}
	s.kubelets = newKubeletDialer(cfg.KubeletToken)
	return s, nil
}

// Addr is the gRPC address clients dial.
func (s *Server) Addr() string { return s.grpcLis.Addr().String() }

// HTTPAddr is the metrics/health address ("" when disabled).
func (s *Server) HTTPAddr() string {
	if s.httpLis == nil {
		return ""
	}
	return s.httpLis.Addr().String()
}

// EtcdEndpoint is the etcd client endpoint in use (the embedded one's loopback address, or the first
// external endpoint); empty before Run has connected.
func (s *Server) EtcdEndpoint() string {
	if s.etcd != nil {
		return s.etcd.endpoint
	}
	if len(s.cfg.EtcdServers) > 0 {
		return s.cfg.EtcdServers[0]
	}
	return ""
}

// Ready is closed when every watch cache is filled and the API serves.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Registry is the Prometheus registry the server reports to.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Run starts etcd (embedded) or connects to it, fills the watch caches and serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	defer s.grpcLis.Close()
	endpoints := s.cfg.EtcdServers
	if len(endpoints) == 0 {
		e, err := startEmbeddedEtcd(ctx, s.cfg.DataDir, s.log)
		if err != nil {
			return err
		}
		s.etcd = e
		defer e.Close()
		endpoints = []string{e.endpoint}
	}
	cli, err := newEtcdClient(endpoints)
	if err != nil {
		return fmt.Errorf("apiserver: etcd client: %w", err)
	}
	defer cli.Close()
	s.etcdCli = cli
	if s.alloc, err = registry.NewServiceAllocator(cli, s.cfg.ServiceClusterIPRange, s.cfg.ServiceNodePortRange); err != nil {
		return fmt.Errorf("apiserver: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	s.buildRegistry()
	for _, r := range s.rests {
		wg.Add(1)
		go func() { defer wg.Done(); _ = r.Cache.Run(ctx) }()
	}

	s.grpc = grpc.NewServer(
		grpc.ForceServerCodec(rawCodec{}),
		// Requests run on a pool of goroutines whose stacks have already grown, instead of a new
		// goroutine per request growing its stack again (runtime.newstack was ~7% of the write path).
		grpc.NumStreamWorkers(uint32(4*runtime.GOMAXPROCS(0))),
		grpc.MaxRecvMsgSize(64<<20), grpc.MaxSendMsgSize(1<<30),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.ChainUnaryInterceptor(s.unaryInterceptor),
		grpc.ChainStreamInterceptor(s.streamInterceptor),
	)
	for _, r := range api.All() {
		s.grpc.RegisterService(s.serviceDesc(r), s)
	}
	s.health = health.NewServer()
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)

	errc := make(chan error, 2)
	go func() { errc <- s.grpc.Serve(s.grpcLis) }()
	var httpSrv *http.Server
	if s.httpLis != nil {
		httpSrv = &http.Server{Handler: s.httpHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- httpSrv.Serve(s.httpLis) }()
	}

	for _, r := range s.rests {
		select {
		case <-r.Cache.Ready():
		case <-ctx.Done():
			return s.shutdown(httpSrv)
		}
	}
	if err := s.bootstrap(ctx); err != nil {
		s.log.Error("bootstrap failed", "err", err)
	}
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	close(s.ready)
	s.log.Info("apiserver ready", "grpc", s.Addr(), "http", s.HTTPAddr(), "etcd", strings.Join(endpoints, ","))

	select {
	case <-ctx.Done():
	case err := <-errc:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("server failed", "err", err)
			cancel()
			_ = s.shutdown(httpSrv)
			return err
		}
	}
	return s.shutdown(httpSrv)
}

func (s *Server) shutdown(httpSrv *http.Server) error {
	if s.health != nil {
		s.health.Shutdown()
	}
	done := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.grpc.Stop()
	}
	if httpSrv != nil {
		sctx, c := context.WithTimeout(context.Background(), 2*time.Second)
		defer c()
		_ = httpSrv.Shutdown(sctx)
	}
	s.log.Info("apiserver stopped")
	return nil
}

func (s *Server) buildRegistry() {
	nsREST := (*registry.REST)(nil)
	for _, r := range api.All() {
		st := storage.NewStore(s.etcdCli, r, s.smet)
		cc := storage.CacherConfig{Store: st, WindowSize: s.cfg.WatchCacheWindow, BookmarkInterval: s.cfg.BookmarkInterval,
			Metrics: s.smet, Logger: s.log}
		var hooks registry.Hooks
		switch r {
		case api.Pods:
			cc.IndexFunc = registry.PodIndex
			hooks = registry.PodHooks()
		case api.Services:
			hooks = s.alloc.Hooks()
		case api.Namespaces:
			hooks = registry.NamespaceHooks()
		}
		rest := &registry.REST{Res: r, Store: st, Cache: storage.NewCacher(cc), Hooks: hooks, Log: s.log}
		s.rests[r] = rest
		if r == api.Namespaces {
			nsREST = rest
		}
	}
	chain := registry.Chain{admitDefaults{}, &registry.NamespaceLifecycle{Namespaces: nsREST}, admitValidation{}}
	for _, a := range s.cfg.ExtraAdmission {
		chain = append(chain, a)
	}
	for _, r := range s.rests {
		r.Admission = chain
	}
}

// bootstrap creates the namespaces every cluster has.
func (s *Server) bootstrap(ctx context.Context) error {
	for _, name := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		ns := &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: name}}
		if _, err := s.rests[api.Namespaces].Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	return nil
}

func (s *Server) httpHandler() http.Handler {
	mux := http.NewServeMux()
	// The embedded etcd registers its own metrics (etcd_server_*, etcd_mvcc_*) in the default registry.
	var gatherer prometheus.Gatherer = s.reg
	if s.etcd != nil {
		gatherer = prometheus.Gatherers{s.reg, prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
			mfs, err := prometheus.DefaultGatherer.Gather()
			out := mfs[:0]
			for _, mf := range mfs {
				if strings.HasPrefix(mf.GetName(), "etcd_") {
					out = append(out, mf)
				}
			}
			return out, err
		})}
	}
	mux.Handle("/metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{Registry: s.reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if s.etcdCli != nil {
			if _, err := s.etcdCli.Get(ctx, "health", clientv3.WithCountOnly()); err != nil {
				http.Error(w, "etcd: "+err.Error(), http.StatusInternalServerError)
				return
			}
		}
		_, _ = w.Write([]byte("ok"))
	})
	mux.HandleFunc("/livez", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-s.ready:
			_, _ = w.Write([]byte("ok"))
		default:
			http.Error(w, "watch caches are still filling", http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
