package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/client/informer"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// Config configures the cluster DNS server.
type Config struct {
	// Client talks to the apiserver; when nil, New connects to APIServer.
	Client *client.Client
	// APIServer is the apiserver's address (host:port), used when Client
	// is nil.
	APIServer string
	// Listen is the UDP and TCP address to serve on; default 0.0.0.0:53.
	Listen string
	// Domain is the cluster domain; default cluster.local.
	Domain string
	// Upstreams answer names outside Domain (host or host:port, port 53 by
	// default). Nil reads the nameservers of ResolvConf; an empty,
	// non-nil slice (flag value "none") forwards nothing: such queries
	// are REFUSED.
	Upstreams []string
	// ResolvConf is read when Upstreams is nil; default /etc/resolv.conf.
	ResolvConf string
	// TTL of the answers from the cluster; default 5s.
	TTL time.Duration
	// UpstreamTimeout bounds one query to one upstream; default 2s.
	UpstreamTimeout time.Duration
	// HTTPAddr serves /metrics, /healthz and /debug/pprof; "" disables.
	HTTPAddr string
	// Registry receives the metrics and is served on /metrics; nil creates
	// one.
	Registry *prometheus.Registry
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Server answers DNS queries for the cluster domain from informer caches
// and forwards the others.
type Server struct {
	cfg        Config
	log        *slog.Logger
	zone       string // lower case, fully qualified
	ttl        uint32
	serial     uint32 // of the SOA: the start time
	client     *client.Client
	ownsClient bool
	factory    *informer.Factory
	services   *informer.Informer[*corev1.Service]
	endpoints  *informer.Informer[*corev1.Endpoints]
	upstreams  []string
	registry   *prometheus.Registry
	metrics    *metrics
	synced     atomic.Bool
	udp        net.PacketConn
	tcp        net.Listener
	httpLis    net.Listener
}

// New checks cfg, reads the upstreams and opens the listeners; queries are
// answered once Run has loaded the caches (SERVFAIL before).
func New(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Listen == "" {
		cfg.Listen = "0.0.0.0:53"
	}
	if cfg.Domain == "" {
		cfg.Domain = "cluster.local"
	}
	if cfg.ResolvConf == "" {
		cfg.ResolvConf = "/etc/resolv.conf"
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 5 * time.Second
	}
	if cfg.UpstreamTimeout <= 0 {
		cfg.UpstreamTimeout = 2 * time.Second
	}
	zone := strings.ToLower(mdns.Fqdn(cfg.Domain))
	if _, ok := mdns.IsDomainName(zone); !ok || zone == "." {
		return nil, fmt.Errorf("dns config: domain %q: not a domain name", cfg.Domain)
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "clusterdns"), zone: zone,
		ttl: uint32(max(cfg.TTL/time.Second, 1)), serial: uint32(time.Now().Unix()), registry: cfg.Registry}
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
	}
	var err error
	if s.metrics, err = newMetrics(s.registry); err != nil {
		return nil, err
	}
	if s.upstreams, err = upstreams(cfg); err != nil {
		return nil, err
	}

	if s.udp, err = net.ListenPacket("udp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("dns: listen udp %s: %w", cfg.Listen, err)
	}
	// TCP on the same port as UDP (the port may have been 0).
	if s.tcp, err = net.Listen("tcp", s.udp.LocalAddr().String()); err != nil {
		s.udp.Close()
		return nil, fmt.Errorf("dns: listen tcp %s: %w", s.udp.LocalAddr(), err)
	}
	s.upstreams = s.withoutSelf(s.upstreams)
	if cfg.HTTPAddr != "" {
		if s.httpLis, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("dns: listen %s: %w", cfg.HTTPAddr, err)
		}
	}
	s.client = cfg.Client
	if s.client == nil {
		if cfg.APIServer == "" {
			s.closeListeners()
			return nil, errors.New("dns config: apiServer: required when no client is given")
		}
		if s.client, err = client.New(client.Config{Server: cfg.APIServer, UserAgent: "clusterdns", WaitForReady: true}); err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("dns: apiserver client: %w", err)
		}
		s.ownsClient = true
	}
	s.factory = informer.NewFactory(s.client, 0, s.log)
	s.services = s.factory.Services()
	s.endpoints = s.factory.Endpoints()
	return s, nil
}

// withoutSelf drops upstreams that are this server (a forwarding loop).
func (s *Server) withoutSelf(ups []string) []string {
	self := s.udp.LocalAddr().(*net.UDPAddr)
	var out []string
	for _, u := range ups {
		host, port, err := net.SplitHostPort(u)
		if err != nil {
			continue
		}
		ip := net.ParseIP(host)
		if port == fmt.Sprint(self.Port) && ip != nil && (ip.Equal(self.IP) || (self.IP.IsUnspecified() && ip.IsLoopback())) {
			s.log.Warn("upstream is this server, not forwarding to it", "upstream", u)
			continue
		}
		out = append(out, u)
	}
	return out
}

// Addr is the address the server answers on (UDP and TCP).
func (s *Server) Addr() string { return s.udp.LocalAddr().String() }

// HTTPAddr is the metrics/health address ("" when disabled).
func (s *Server) HTTPAddr() string {
	if s.httpLis == nil {
		return ""
	}
	return s.httpLis.Addr().String()
}

// Upstreams are the servers non-cluster names are forwarded to.
func (s *Server) Upstreams() []string { return s.upstreams }

// Run serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	defer func() {
		if s.ownsClient {
			s.client.Close()
		}
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	handler := mdns.HandlerFunc(s.serveDNS)
	servers := []*mdns.Server{
		{PacketConn: s.udp, Handler: handler},
		{Listener: s.tcp, Handler: handler, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second},
	}
	var wg sync.WaitGroup
	errc := make(chan error, len(servers))
	for _, srv := range servers {
		wg.Go(func() {
			if err := srv.ActivateAndServe(); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("dns: serve: %w", err)
				cancel()
			}
		})
	}
	if s.httpLis != nil {
		hs := &http.Server{Handler: s.httpHandler(), ReadHeaderTimeout: 10 * time.Second}
		wg.Go(func() {
			if err := hs.Serve(s.httpLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("http server stopped", "err", err)
			}
		})
		defer func() { _ = hs.Close() }()
	}
	s.factory.Start(ctx)
	s.log.Info("cluster DNS starting", "listen", s.Addr(), "domain", s.zone, "upstreams", s.upstreams, "http", s.HTTPAddr())
	if s.factory.WaitForSync(ctx) {
		s.synced.Store(true)
		s.log.Info("caches synced, answering")
	}
	<-ctx.Done()
	for _, srv := range servers {
		_ = srv.Shutdown()
	}
	if s.httpLis != nil {
		_ = s.httpLis.Close()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

func (s *Server) closeListeners() {
	s.udp.Close()
	if s.tcp != nil {
		s.tcp.Close()
	}
}

func (s *Server) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if !s.synced.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "caches not synced")
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
