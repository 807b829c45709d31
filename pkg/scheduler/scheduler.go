package scheduler

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
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/client/informer"
	"github.com/coxswain/coxswain/pkg/client/leaderelection"
	"github.com/coxswain/coxswain/pkg/client/record"
	"github.com/coxswain/coxswain/pkg/scheduler/framework"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// Defaults.
const (
	DefaultSchedulerName  = "default-scheduler"
	DefaultLeaseNamespace = "kube-system"
	DefaultLeaseName      = "coxswain-scheduler"
	// Leader election timing: a standby takes over a crashed leader's lease within about
	// LeaseDuration + 2*RetryPeriod (12 s), and at once (RetryPeriod) after a clean shutdown.
	DefaultLeaseDuration = 10 * time.Second
	DefaultRenewDeadline = 7 * time.Second
	DefaultRetryPeriod   = 1 * time.Second
	// DefaultWorkers bounds concurrent API writes (bindings and status updates).
	DefaultWorkers = 16
	// Queue timing, as kube-scheduler: per-pod backoff doubling from 1 s to 10 s; unschedulable pods
	// retried after at most 60 s even when nothing changed.
	DefaultPodInitialBackoff         = 1 * time.Second
	DefaultPodMaxBackoff             = 10 * time.Second
	DefaultPodMaxInUnschedulablePods = 60 * time.Second
	// DefaultAssumedPodTTL is how long a bound pod stays assumed without the informer confirming it.
	DefaultAssumedPodTTL = 30 * time.Second
)

// Config configures a Scheduler.
type Config struct {
	// Client talks to the apiserver (required).
	Client *client.Client
	// SchedulerName: pods whose spec.schedulerName is this are scheduled (default "default-scheduler",
	// which also takes pods with an empty schedulerName).
	SchedulerName string

	// LeaderElect: only the holder of the Lease LeaseNamespace/LeaseName schedules.
	LeaderElect                               bool
	LeaseNamespace, LeaseName                 string
	Identity                                  string // default hostname_random
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration

	// Parallelism is the number of goroutines filtering and scoring nodes for one pod (default
	// GOMAXPROCS). PercentageOfNodesToScore: see framework.Config.
	Parallelism              int
	PercentageOfNodesToScore int32
	// Framework, when set, overrides the filters and scorers (its Parallelism and
	// PercentageOfNodesToScore are taken from the fields above).
	Framework *framework.Config
	// Workers bounds the concurrent bindings and status updates (default 16).
	Workers int

	PodInitialBackoff, PodMaxBackoff time.Duration
	PodMaxInUnschedulablePods        time.Duration
	AssumedPodTTL                    time.Duration

	// HTTPAddr serves /metrics, /healthz, /readyz and /debug/pprof ("" disables).
	HTTPAddr string
	// Registry receives the metrics and serves /metrics (default: a new registry).
	Registry *prometheus.Registry
	// Recorder writes Events (default: a record.Broadcaster for component SchedulerName).
	Recorder record.Recorder
	Logger   *slog.Logger
}

// binder binds a pod to a node (*client.Client does).
type binder interface {
	Bind(ctx context.Context, namespace, name, uid, node string) (*corev1.Pod, error)
}

// Scheduler assigns pending pods to nodes.
type Scheduler struct {
	cfg         Config
	log         *slog.Logger
	client      *client.Client
	binder      binder
	factory     *informer.Factory
	pods        *informer.Informer[*corev1.Pod]
	nodes       *informer.Informer[*corev1.Node]
	queue       *schedulingQueue
	cache       *schedulerCache
	fw          *framework.Framework
	m           *metrics
	recorder    record.Recorder
	broadcaster *record.Broadcaster
	httpLis     net.Listener

	sem     chan struct{}
	wg      sync.WaitGroup
	leading atomic.Bool
	synced  chan struct{}
}

// New builds a Scheduler; Run starts it.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Client == nil {
		return nil, errors.New("scheduler: Config.Client is required")
	}
	if cfg.SchedulerName == "" {
		cfg.SchedulerName = DefaultSchedulerName
	}
	if cfg.LeaseNamespace == "" {
		cfg.LeaseNamespace = DefaultLeaseNamespace
	}
	if cfg.LeaseName == "" {
		cfg.LeaseName = DefaultLeaseName
	}
	if cfg.Identity == "" {
		cfg.Identity = defaultIdentity()
	}
	setDefault(&cfg.LeaseDuration, DefaultLeaseDuration)
	setDefault(&cfg.RenewDeadline, DefaultRenewDeadline)
	setDefault(&cfg.RetryPeriod, DefaultRetryPeriod)
	setDefault(&cfg.PodInitialBackoff, DefaultPodInitialBackoff)
	setDefault(&cfg.PodMaxBackoff, DefaultPodMaxBackoff)
	setDefault(&cfg.PodMaxInUnschedulablePods, DefaultPodMaxInUnschedulablePods)
	setDefault(&cfg.AssumedPodTTL, DefaultAssumedPodTTL)
	if cfg.LeaderElect && cfg.RenewDeadline >= cfg.LeaseDuration {
		return nil, fmt.Errorf("scheduler: RenewDeadline %v must be shorter than LeaseDuration %v", cfg.RenewDeadline, cfg.LeaseDuration)
	}
	if cfg.PodMaxBackoff < cfg.PodInitialBackoff {
		return nil, fmt.Errorf("scheduler: PodMaxBackoff %v must not be shorter than PodInitialBackoff %v", cfg.PodMaxBackoff, cfg.PodInitialBackoff)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	fwCfg := framework.Config{}
	if cfg.Framework != nil {
		fwCfg = *cfg.Framework
	}
	fwCfg.Parallelism, fwCfg.PercentageOfNodesToScore = cfg.Parallelism, cfg.PercentageOfNodesToScore
	fw, err := framework.New(fwCfg)
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger.With("scheduler", cfg.SchedulerName, "identity", cfg.Identity)
	s := &Scheduler{cfg: cfg, log: log, client: cfg.Client, binder: cfg.Client, fw: fw, m: m, recorder: cfg.Recorder,
		sem: make(chan struct{}, cfg.Workers), synced: make(chan struct{})}
	s.queue = newSchedulingQueue(time.Now, cfg.PodInitialBackoff, cfg.PodMaxBackoff, cfg.PodMaxInUnschedulablePods, m.setPending)
	s.cache = newSchedulerCache(cfg.AssumedPodTTL, time.Now)
	if s.recorder == nil {
		s.broadcaster = record.NewBroadcaster(cfg.Client, cfg.SchedulerName, cfg.Identity, log)
		s.recorder = s.broadcaster
	}
	s.factory = informer.NewFactory(cfg.Client, 0, log)
	s.pods = informer.For[*corev1.Pod](s.factory, api.Pods, informer.Config{Transform: slimBoundPod, TransformName: "slim-bound"})
	s.nodes = s.factory.Nodes()
	s.pods.AddHandler(informer.Handler[*corev1.Pod]{OnAdd: s.onPodAdd, OnUpdate: s.onPodUpdate, OnDelete: s.onPodDelete})
	s.nodes.AddHandler(informer.Handler[*corev1.Node]{OnAdd: s.onNodeAdd, OnUpdate: s.onNodeUpdate, OnDelete: s.onNodeDelete})
	if cfg.HTTPAddr != "" {
		if s.httpLis, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return nil, fmt.Errorf("scheduler: http listen %s: %w", cfg.HTTPAddr, err)
		}
	}
	return s, nil
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d <= 0 {
		*d = v
	}
}

func defaultIdentity() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "scheduler"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return host + "_" + hex.EncodeToString(b)
}

// Identity is this instance's leader election identity (also the Events' reporting instance).
func (s *Scheduler) Identity() string { return s.cfg.Identity }

// HTTPAddr is the address /metrics is served on ("" when disabled).
func (s *Scheduler) HTTPAddr() string {
	if s.httpLis == nil {
		return ""
	}
	return s.httpLis.Addr().String()
}

// IsLeader reports whether this instance is scheduling now.
func (s *Scheduler) IsLeader() bool { return s.leading.Load() }

// Run watches pods and nodes and, once leading (or at once without leader election), schedules until
// ctx ends. It returns nil after ctx ends, and leaderelection.ErrLostLeadership when the lease is lost
// (the process should exit and restart, as kube-scheduler does).
func (s *Scheduler) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var bg sync.WaitGroup
	defer bg.Wait()
	defer cancel()
	if s.httpLis != nil {
		srv := &http.Server{Handler: s.httpHandler(), ReadHeaderTimeout: 10 * time.Second}
		bg.Add(1)
		go func() { defer bg.Done(); _ = srv.Serve(s.httpLis) }()
		bg.Add(1)
		go func() {
			defer bg.Done()
			<-ctx.Done()
			sctx, c := context.WithTimeout(context.Background(), 2*time.Second)
			defer c()
			_ = srv.Shutdown(sctx)
		}()
	}
	if s.broadcaster != nil {
		bg.Add(1)
		go func() { defer bg.Done(); s.broadcaster.Run(ctx) }()
	}
	s.factory.Start(ctx)
	if !s.pods.WaitForSync(ctx) || !s.nodes.WaitForSync(ctx) {
		return nil
	}
	close(s.synced)
	s.log.Info("caches synced", "nodes", s.nodes.Len(), "pods", s.pods.Len())
	bg.Add(1)
	go func() { defer bg.Done(); s.housekeeping(ctx) }()

	if !s.cfg.LeaderElect {
		s.runScheduling(ctx)
		return nil
	}
	err := leaderelection.Run(ctx, leaderelection.Config{
		Client: s.client, Namespace: s.cfg.LeaseNamespace, Name: s.cfg.LeaseName, Identity: s.cfg.Identity,
		LeaseDuration: s.cfg.LeaseDuration, RenewDeadline: s.cfg.RenewDeadline, RetryPeriod: s.cfg.RetryPeriod,
		OnStartedLeading: s.runScheduling, Registerer: s.cfg.Registry, Logger: s.log,
	})
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// housekeeping moves pods out of backoff and the unschedulable queue on time and expires assumed pods.
func (s *Scheduler) housekeeping(ctx context.Context) {
	flush := time.NewTicker(200 * time.Millisecond)
	defer flush.Stop()
	expire := time.NewTicker(time.Second)
	defer expire.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-flush.C:
			s.queue.Flush()
		case <-expire.C:
			for _, key := range s.cache.CleanupExpired() {
				s.log.Warn("assumed pod expired: bound but never confirmed by the informer", "pod", key)
			}
		}
	}
}

// runScheduling is the leader's loop: one pod at a time through the framework, bindings in the
// background.
func (s *Scheduler) runScheduling(ctx context.Context) {
	s.log.Info("scheduling")
	s.leading.Store(true)
	defer s.leading.Store(false)
	stop := context.AfterFunc(ctx, s.queue.Close)
	defer stop()
	for s.scheduleOne(ctx) {
	}
	s.wg.Wait()
}

func (s *Scheduler) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{Registry: s.cfg.Registry}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		select {
		case <-s.synced:
			_, _ = w.Write([]byte("ok"))
		default:
			http.Error(w, "informers are still syncing", http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

func podKey(p *corev1.Pod) string { return api.Key(p) }
