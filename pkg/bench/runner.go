package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/coxswain/coxswain/pkg/bench/procstat"
	"github.com/coxswain/coxswain/pkg/bench/promtext"
)

// Config configures a benchmark: the workload, the cluster it runs on, and the outputs.
type Config struct {
	Workload Workload
	// BinDir holds the component binaries (`make build` puts them in bin/).
	BinDir string
	// OutDir receives result.json (or ResultPath), pods.png and the components' logs.
	OutDir     string
	ResultPath string
	// DataDir holds etcd's data and the kubelets' state ("" = a temporary directory); removed after
	// each run unless KeepData.
	DataDir  string
	KeepData bool
	// The cluster (see ClusterConfig).
	ExternalEtcd      bool
	KubeletMode       string
	NodesPerKubelet   int
	NodeCPU           string
	NodeMemory        string
	MaxPods           int
	ComponentLogLevel string
	// Runs repeats the whole benchmark on a fresh cluster; figures are reported with their median.
	Runs int
	// IdleSettle is how long the idle cluster is watched before the workload (its RSS is the idle RSS).
	IdleSettle time.Duration
	// SampleInterval is the /proc sampling period.
	SampleInterval time.Duration
	// EtcdRefDuration is the length of the raw etcd put reference; EtcdRefConcurrency its writers
	// (0: the measured mean in-flight mutating requests of the workload, at least 1).
	EtcdRefDuration    time.Duration
	EtcdRefConcurrency int
	// CPUProfile, when positive, collects a CPU profile of this length from every component (etcd when
	// external, apiserver, scheduler, controller-manager, hollow kubelets) from the workload's start,
	// into <OutDir>/profiles/run-<n>/<component>.pprof.
	CPUProfile time.Duration
	// HeapProfile collects every component's heap profile when the workload ends, into
	// <OutDir>/profiles/run-<n>/<component>.heap.pprof.
	HeapProfile bool
	// RunTimeout bounds each run (start, workload, reference, stop).
	RunTimeout time.Duration
	// Params are the command line's settings, recorded in the report.
	Params map[string]string
	Out    io.Writer
	Logger *slog.Logger
}

// Runner runs a benchmark.
type Runner struct {
	cfg Config
	log *slog.Logger
}

// New validates the configuration.
func New(cfg Config) (*Runner, error) {
	if cfg.Workload == nil {
		return nil, errors.New("bench: no workload")
	}
	if err := cfg.Workload.Validate(); err != nil {
		return nil, err
	}
	if cfg.Workload.Nodes() <= 0 {
		return nil, fmt.Errorf("bench: --nodes %d: must be positive", cfg.Workload.Nodes())
	}
	if cfg.OutDir == "" {
		return nil, errors.New("bench: --out is required")
	}
	if cfg.ResultPath == "" {
		cfg.ResultPath = filepath.Join(cfg.OutDir, "result.json")
	}
	if cfg.Runs <= 0 {
		cfg.Runs = 1
	}
	if cfg.MaxPods <= 0 {
		cfg.MaxPods = 110
	}
	if cfg.SampleInterval <= 0 {
		cfg.SampleInterval = 200 * time.Millisecond
	}
	if cfg.IdleSettle < 0 {
		return nil, fmt.Errorf("bench: --idle-settle %v: must not be negative", cfg.IdleSettle)
	}
	if cfg.EtcdRefDuration <= 0 {
		cfg.EtcdRefDuration = 5 * time.Second
	}
	if cfg.RunTimeout <= 0 {
		cfg.RunTimeout = time.Hour
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	for _, b := range []string{"apiserver", "scheduler", "controller-manager", "kubelet"} {
		if _, err := os.Stat(filepath.Join(cfg.BinDir, b)); err != nil {
			return nil, fmt.Errorf("bench: %s not found in --bin-dir %s: run `make build` first", b, cfg.BinDir)
		}
	}
	if cfg.ExternalEtcd {
		if _, err := os.Stat(filepath.Join(cfg.BinDir, "etcd")); err != nil {
			return nil, fmt.Errorf("bench: etcd not found in --bin-dir %s: run `make build`, or pass --etcd=false for the apiserver's embedded etcd", cfg.BinDir)
		}
	}
	if d, ok := cfg.Workload.(*Density); ok && d.Pods > d.NodeCount*cfg.MaxPods {
		return nil, fmt.Errorf("bench: --pods %d do not fit on %d nodes of --max-pods %d", d.Pods, d.NodeCount, cfg.MaxPods)
	}
	if s, ok := cfg.Workload.(*Startup); ok && s.Pods > s.NodeCount*cfg.MaxPods {
		return nil, fmt.Errorf("bench: --pods %d do not fit on %d nodes of --max-pods %d", s.Pods, s.NodeCount, cfg.MaxPods)
	}
	return &Runner{cfg: cfg, log: cfg.Logger}, nil
}

// Run runs the benchmark Runs times, writes the JSON result and the plot, prints the table, and
// returns the report. A run that failed to start or broke returns an error; workload failures (a
// timeout, no convergence) are reported and returned as an error after the outputs are written.
func (r *Runner) Run(ctx context.Context) (*Report, error) {
	if err := os.MkdirAll(r.cfg.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: --out: %w", err)
	}
	rep := &Report{Workload: r.cfg.Workload.Name(), Params: r.cfg.Params, StartedAt: time.Now().UTC(), Host: hostInfo()}
	for i := 1; i <= r.cfg.Runs; i++ {
		r.log.Info("run starting", "run", i, "of", r.cfg.Runs, "workload", rep.Workload, "nodes", r.cfg.Workload.Nodes())
		rr, err := r.runOnce(ctx, i)
		if err != nil {
			return nil, fmt.Errorf("run %d: %w", i, err)
		}
		rep.Runs = append(rep.Runs, *rr)
		for _, f := range rr.Failures {
			rep.Failures = append(rep.Failures, fmt.Sprintf("run %d: %s", i, f))
		}
	}
	rep.summarize(r.cfg.Workload)
	if err := rep.writeJSON(r.cfg.ResultPath); err != nil {
		return nil, err
	}
	rep.Files = append(rep.Files, r.cfg.ResultPath)
	rr := rep.Runs[rep.Representative]
	if len(rr.Series) > 0 { // the watch workload's pods never run: it has no pod curve
		plotPath := filepath.Join(r.cfg.OutDir, "pods.png")
		title := fmt.Sprintf("coxbench %s: %d nodes (run %d of %d)", rep.Workload, rr.Nodes, rr.Run, len(rep.Runs))
		if err := plotSeries(plotPath, title, rr.Series); err != nil {
			return nil, err
		}
		rep.Files = append(rep.Files, plotPath)
	}
	if err := rep.writeJSON(r.cfg.ResultPath); err != nil { // now with the files
		return nil, err
	}
	rep.PrintTable(r.cfg.Out)
	if len(rep.Failures) > 0 {
		return rep, fmt.Errorf("bench: the workload did not complete: %s", strings.Join(rep.Failures, "; "))
	}
	return rep, nil
}

func (r *Runner) runOnce(ctx context.Context, run int) (_ *RunResult, err error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.RunTimeout)
	defer cancel()
	base := r.cfg.DataDir
	if base == "" {
		if base, err = os.MkdirTemp("", "coxbench-"); err != nil {
			return nil, err
		}
		if !r.cfg.KeepData {
			defer os.RemoveAll(base)
		}
	}
	dataDir := filepath.Join(base, fmt.Sprintf("run-%d", run))
	if !r.cfg.KeepData {
		defer os.RemoveAll(dataDir)
	}
	logDir := filepath.Join(r.cfg.OutDir, "logs", fmt.Sprintf("run-%d", run))
	w := r.cfg.Workload
	cl, err := StartCluster(ctx, ClusterConfig{BinDir: r.cfg.BinDir, DataDir: dataDir, LogDir: logDir, Nodes: w.Nodes(),
		ExternalEtcd: r.cfg.ExternalEtcd, KubeletMode: r.cfg.KubeletMode, NodesPerKubelet: r.cfg.NodesPerKubelet,
		NodeCPU: r.cfg.NodeCPU, NodeMemory: r.cfg.NodeMemory, MaxPods: r.cfg.MaxPods, ComponentLogLevel: r.cfg.ComponentLogLevel,
		Logger: r.log})
	if err != nil {
		return nil, err
	}
	defer func() {
		r.log.Info("stopping the cluster", "run", run)
		cl.Stop()
	}()

	sampler := procstat.NewSampler(r.cfg.SampleInterval)
	procs := cl.Processes()
	for _, p := range procs {
		if err := sampler.Add(p.Name, p.PID, p.Group); err != nil {
			return nil, err
		}
	}
	if err := sampler.Add("coxbench", os.Getpid(), "bench"); err != nil {
		return nil, err
	}
	sctx, stopSampler := context.WithCancel(ctx)
	defer stopSampler()
	go sampler.Run(sctx)

	// Idle: the settled cluster before the workload.
	sampler.Sample()
	sampler.Reset()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(r.cfg.IdleSettle):
	}
	sampler.Sample()
	idle, idleCP := sampler.Usage(), sampler.GroupUsage(GroupControlPlane)
	if err := cl.CheckAlive(); err != nil {
		return nil, err
	}

	// The workload, between two scrapes.
	sampler.Reset()
	apiBefore, schedBefore, err := scrapeBoth(ctx, cl)
	if err != nil {
		return nil, err
	}
	var profiles func() ([]string, []string)
	if r.cfg.CPUProfile > 0 {
		profiles = profileCPU(ctx, cl.Debug, r.cfg.CPUProfile, filepath.Join(r.cfg.OutDir, "profiles", fmt.Sprintf("run-%d", run)))
	}
	poller := pollInflight(ctx, cl.APIServerMetrics, 250*time.Millisecond)
	wres, err := w.Run(ctx, &Env{Cluster: cl, Client: cl.Client, Log: r.log})
	inflight := poller.stop()
	if r.cfg.HeapProfile && err == nil {
		files, failed := profileHeap(ctx, cl.Debug, filepath.Join(r.cfg.OutDir, "profiles", fmt.Sprintf("run-%d", run)))
		r.log.Info("heap profiles written", "run", run, "files", files)
		for _, f := range failed {
			r.log.Warn("heap profile not collected", "run", run, "err", f)
		}
	}
	if profiles != nil {
		files, failed := profiles()
		r.log.Info("cpu profiles written", "run", run, "files", files)
		for _, f := range failed {
			r.log.Warn("cpu profile not collected", "run", run, "err", f)
		}
	}
	if err != nil {
		if aerr := cl.CheckAlive(); aerr != nil {
			return nil, fmt.Errorf("%w (%v)", err, aerr)
		}
		return nil, err
	}
	sampler.Sample()
	usage := sampler.Usage()
	cp, nodes, self := sampler.GroupUsage(GroupControlPlane), sampler.GroupUsage(GroupNodes), sampler.GroupUsage("bench")
	apiAfter, schedAfter, err := scrapeBoth(ctx, cl)
	if err != nil {
		return nil, err
	}
	if err := cl.CheckAlive(); err != nil {
		return nil, err
	}
	rr := &RunResult{Run: run, Nodes: w.Nodes(), KubeletMode: cl.KubeletMode, Etcd: map[bool]string{true: "embedded", false: "external"}[cl.EtcdEmbedded],
		ReadySeconds: cl.ReadyAfter.Seconds(), WorkloadSeconds: wres.Seconds, AvgPodBytes: wres.AvgPodBytes, Failures: wres.Failures,
		Workload: wres.Detail, Series: wres.Series, IdleControlPlaneRSSBytes: idleCP.PeakRSSBytes,
		ControlPlanePeakRSSBytes: cp.PeakRSSBytes, ControlPlaneCPUSeconds: cp.CPUSeconds}
	for _, p := range procs {
		if p.Group == GroupControlPlane {
			rr.Processes = append(rr.Processes, processResult(p.Name, p.Group, idle[p.Name], usage[p.Name], wres.Seconds))
		}
	}
	nk := len(procs) - len(rr.Processes)
	rr.Processes = append(rr.Processes,
		processResult(fmt.Sprintf("kubelets (%d processes)", nk), GroupNodes, procstat.Usage{}, nodes, wres.Seconds),
		processResult("coxbench", "bench", procstat.Usage{}, self, wres.Seconds))
	if rr.API, err = apiLatencies(apiBefore, apiAfter, wres.Seconds); err != nil {
		return nil, fmt.Errorf("apiserver metrics: %w", err)
	}
	rr.API.MeanInflightMutating = inflight
	rr.Scheduler = schedulerAttempts(schedBefore, schedAfter, wres.Seconds)

	// The reference: raw etcd puts of a pod's size at the writers' concurrency, against the same etcd.
	conc := r.cfg.EtcdRefConcurrency
	if conc <= 0 {
		conc = 1
		if !math.IsNaN(inflight) {
			conc = max(1, int(math.Round(inflight)))
		}
	}
	size := wres.AvgPodBytes
	if size <= 0 {
		size = 1024
	}
	r.log.Info("etcd reference", "endpoint", cl.EtcdEndpoint, "value_bytes", size, "concurrency", conc, "duration", r.cfg.EtcdRefDuration)
	if rr.EtcdReference, err = EtcdPutBenchmark(ctx, cl.EtcdEndpoint, size, conc, r.cfg.EtcdRefDuration); err != nil {
		return nil, err
	}
	rr.EtcdReference.Embedded = cl.EtcdEmbedded
	rr.WriteRatio = rr.API.WritesPerSecond / rr.EtcdReference.PutsPerSecond
	rr.Figures = append(r.commonFigures(rr), wres.Figures...)
	return rr, nil
}

func scrapeBoth(ctx context.Context, cl *Cluster) (api, sched promtext.Samples, err error) {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if api, err = promtext.Fetch(sctx, nil, cl.APIServerMetrics); err != nil {
		return nil, nil, err
	}
	if sched, err = promtext.Fetch(sctx, nil, cl.SchedulerMetrics); err != nil {
		return nil, nil, err
	}
	return api, sched, nil
}

func processResult(name, group string, idle, u procstat.Usage, seconds float64) ProcessResult {
	p := ProcessResult{Name: name, Group: group, IdleRSSBytes: idle.PeakRSSBytes, PeakRSSBytes: u.PeakRSSBytes, CPUSeconds: u.CPUSeconds, CPUCores: math.NaN()}
	if seconds > 0 {
		p.CPUCores = u.CPUSeconds / seconds
	}
	return p
}

const mib = 1 << 20

func (r *Runner) commonFigures(rr *RunResult) []Figure {
	f := []Figure{
		{"cluster.ready", "cluster: start to all nodes Ready", "s", rr.ReadySeconds},
		{"rss.idle_control_plane", "idle control-plane RSS (etcd+apiserver+scheduler+controller-manager)", "MiB", float64(rr.IdleControlPlaneRSSBytes) / mib},
		{"rss.peak_control_plane", "peak control-plane RSS during the workload", "MiB", float64(rr.ControlPlanePeakRSSBytes) / mib},
		{"cpu.control_plane", "control-plane CPU during the workload", "s", rr.ControlPlaneCPUSeconds},
	}
	for _, p := range rr.Processes {
		key := strings.Fields(p.Name)[0]
		if p.Group == GroupControlPlane {
			f = append(f, Figure{"proc." + key + ".idle_rss", key + ": idle RSS", "MiB", float64(p.IdleRSSBytes) / mib})
		}
		f = append(f,
			Figure{"proc." + key + ".peak_rss", p.Name + ": peak RSS", "MiB", float64(p.PeakRSSBytes) / mib},
			Figure{"proc." + key + ".cpu", p.Name + ": CPU during the workload", "s", p.CPUSeconds})
	}
	f = append(f,
		Figure{"workload.seconds", "workload window (rates are per second of it)", "s", rr.WorkloadSeconds},
		Figure{"api.mutating_p50", "API mutating calls p50 (apiserver histogram)", "ms", rr.API.Mutating.P50Ms},
		Figure{"api.mutating_p99", "API mutating calls p99 (apiserver histogram)", "ms", rr.API.Mutating.P99Ms},
		Figure{"api.mutating_within_50ms", "API mutating calls within 50 ms", "%", rr.API.MutatingWithin50ms * 100},
		Figure{"api.readonly_p99", "API read-only calls p99 (GET, LIST)", "ms", rr.API.ReadOnly.P99Ms},
		Figure{"api.writes_per_second", "apiserver successful writes per second", "writes/s", rr.API.WritesPerSecond},
		Figure{"api.inflight_mutating", "apiserver mean in-flight mutating requests", "requests", rr.API.MeanInflightMutating},
		Figure{"scheduler.scheduled_per_second", "scheduler: pods scheduled per second", "pods/s", rr.Scheduler.ScheduledPerSecond},
		Figure{"scheduler.attempts", "scheduler: scheduling attempts", "attempts", rr.Scheduler.Attempts},
		Figure{"scheduler.failed_attempts", "scheduler: unschedulable + error attempts", "attempts", rr.Scheduler.Unschedulable + rr.Scheduler.Error},
		Figure{"etcd.puts_per_second", "etcd reference: raw puts per second", "puts/s", rr.EtcdReference.PutsPerSecond},
		Figure{"etcd.put_p99", "etcd reference: put latency p99", "ms", rr.EtcdReference.LatencyMs.P99},
		Figure{"etcd.value_bytes", "etcd reference: value size (mean encoded pod)", "bytes", float64(rr.EtcdReference.ValueBytes)},
		Figure{"etcd.concurrency", "etcd reference: concurrent writers", "writers", float64(rr.EtcdReference.Concurrency)},
		Figure{"ratio.writes_per_put", "apiserver writes/s ÷ etcd puts/s", "ratio", rr.WriteRatio},
	)
	return f
}

// hostInfo describes the machine.
func hostInfo() Host {
	h := Host{CPUs: runtime.NumCPU(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb uint64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			h.MemoryBytes = kb * 1024
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				h.CPUModel = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return h
}
