package bench

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/coxswain/coxswain/pkg/bench/stats"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Startup creates Pods pods at a fixed Rate (directly, or as Deployments of one) and measures each
// pod's startup latency: from the create call to the watch observing it Running.
type Startup struct {
	NodeCount   int
	Pods        int
	Rate        float64
	Workers     int
	Deployments bool
	Timeout     time.Duration
}

// StartupResult is the startup workload's detail.
type StartupResult struct {
	Pods int     `json:"pods"`
	Rate float64 `json:"rate"`
	// AchievedRate is the creations per second actually issued.
	AchievedRate float64 `json:"achieved_rate"`
	// StartupMs: create call issued -> observed Running. ScheduleMs: create call -> observed bound.
	// RunMs: observed bound -> observed Running. CreateCallMs: the create call's round trip.
	StartupMs     stats.Summary `json:"startup_ms"`
	ScheduleMs    stats.Summary `json:"schedule_ms"`
	RunMs         stats.Summary `json:"run_ms"`
	CreateCallMs  stats.Summary `json:"create_call_ms"`
	NotRunning    int           `json:"not_running"`
	WatchRestarts int           `json:"watch_restarts"`
}

const startupNamespace = "coxbench-startup"

// Name implements Workload.
func (s *Startup) Name() string { return "startup" }

// Nodes implements Workload.
func (s *Startup) Nodes() int { return s.NodeCount }

// Validate implements Workload.
func (s *Startup) Validate() error {
	switch {
	case s.Pods <= 0:
		return fmt.Errorf("startup: --pods %d: must be positive", s.Pods)
	case s.Rate <= 0:
		return fmt.Errorf("startup: --rate %v: must be positive", s.Rate)
	}
	return nil
}

// Run implements Workload.
func (s *Startup) Run(ctx context.Context, env *Env) (*WorkloadResult, error) {
	if err := ensureNamespace(ctx, env.Client, startupNamespace); err != nil {
		return nil, err
	}
	tr := NewPodTracker(env.Client, startupNamespace, "coxbench=startup", env.Log)
	tctx, stopTracker := context.WithCancel(ctx)
	defer stopTracker()
	go func() { _ = tr.Run(tctx) }()
	if err := tr.Wait(ctx, func(Counts) bool { return true }); err != nil {
		return nil, err
	}
	env.Log.Info("startup: creating pods", "pods", s.Pods, "rate", s.Rate, "as_deployments", s.Deployments)
	sent := make([]time.Time, s.Pods)
	callMs := make([]float64, s.Pods)
	var mu sync.Mutex
	start := time.Now()
	series := recordSeries(ctx, tr, start, 200*time.Millisecond)
	err := pace(ctx, s.Pods, s.Rate, s.Workers, func(ctx context.Context, i int) error {
		labels := map[string]string{"coxbench": "startup", LabelIndex: idx(i)}
		name := fmt.Sprintf("startup-%d", i)
		t0 := time.Now()
		var err error
		if s.Deployments {
			_, err = createOnce(ctx, env.Client.Deployments(), newDeployment(startupNamespace, name, 1, Image, labels))
		} else {
			pod := &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: startupNamespace, Name: name, Labels: labels}, Spec: podSpec(Image)}
			_, err = createOnce(ctx, env.Client.Pods(), pod)
		}
		if err != nil {
			return fmt.Errorf("create %s: %w", name, err)
		}
		mu.Lock()
		sent[i], callMs[i] = t0, ms(time.Since(t0))
		mu.Unlock()
		return nil
	})
	createdIn := time.Since(start)
	if err != nil {
		series.stop()
		return nil, err
	}
	res := &WorkloadResult{}
	wctx, cancel := context.WithTimeout(ctx, s.Timeout)
	err = tr.Wait(wctx, func(c Counts) bool { return c.Running >= s.Pods })
	cancel()
	elapsed := time.Since(start)
	pts := series.stop()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c := tr.Counts()
		res.Failures = append(res.Failures, fmt.Sprintf("startup: %d of %d pods Running after %v", c.Running, s.Pods, s.Timeout))
	}
	det := &StartupResult{Pods: s.Pods, Rate: s.Rate, WatchRestarts: tr.WatchRestarts()}
	if s.Pods > 1 {
		det.AchievedRate = float64(s.Pods-1) / sent[s.Pods-1].Sub(sent[0]).Seconds()
	}
	var startup, sched, run []float64
	for _, r := range tr.Records() {
		if r.Index < 0 || r.Index >= s.Pods {
			continue
		}
		t0 := sent[r.Index]
		if !r.Bound.IsZero() {
			sched = append(sched, ms(r.Bound.Sub(t0)))
		}
		if r.Running.IsZero() {
			continue
		}
		startup = append(startup, ms(r.Running.Sub(t0)))
		if !r.Bound.IsZero() {
			run = append(run, ms(r.Running.Sub(r.Bound)))
		}
	}
	det.NotRunning = s.Pods - len(startup)
	det.StartupMs, det.ScheduleMs, det.RunMs, det.CreateCallMs = stats.Summarize(startup), stats.Summarize(sched), stats.Summarize(run), stats.Summarize(callMs)
	p99 := det.StartupMs.P99
	if det.NotRunning > 0 {
		// Pods that never ran are slower than any that did: the percentiles would lie.
		p99 = math.NaN()
	}
	res.Seconds, res.Series, res.AvgPodBytes, res.Detail = elapsed.Seconds(), pts, tr.AvgPodBytes(), det
	res.Figures = []Figure{
		{"startup.p50", "startup: pod startup latency p50 (create -> Running)", "ms", det.StartupMs.P50},
		{"startup.p90", "startup: pod startup latency p90", "ms", det.StartupMs.P90},
		{"startup.p99", "startup: pod startup latency p99", "ms", p99},
		{"startup.schedule_p99", "startup: create -> bound p99", "ms", det.ScheduleMs.P99},
		{"startup.run_p99", "startup: bound -> Running p99", "ms", det.RunMs.P99},
		{"startup.create_call_p99", "startup: create call round trip p99", "ms", det.CreateCallMs.P99},
		{"startup.achieved_rate", "startup: creations issued per second", "pods/s", det.AchievedRate},
		{"startup.create_seconds", "startup: time to issue all creations", "s", createdIn.Seconds()},
	}
	return res, nil
}
