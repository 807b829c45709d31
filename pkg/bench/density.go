package bench

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/coxswain/coxswain/pkg/bench/stats"
)

// Density creates Pods/DeploymentSize Deployments at QPS creations per second and measures how fast
// all their pods get bound and Running.
type Density struct {
	NodeCount      int
	Pods           int
	DeploymentSize int
	// QPS is the rate of Deployment creations; Workers bounds those in flight.
	QPS     float64
	Workers int
	// Namespaces spreads the Deployments round-robin over this many namespaces (0: one per 100
	// nodes, as ClusterLoader2's density test does with NODES_PER_NAMESPACE=100).
	Namespaces int
	// Timeout bounds the wait for all pods Running.
	Timeout time.Duration
}

// DensityResult is the density workload's detail.
type DensityResult struct {
	Pods        int `json:"pods"`
	Deployments int `json:"deployments"`
	Namespaces  int `json:"namespaces"`
	// ThroughputPodsPerSecond is Pods / AllRunningSeconds.
	ThroughputPodsPerSecond float64 `json:"throughput_pods_per_second"`
	// Seconds from the first Deployment creation call until the last Deployment was created, and
	// until the last pod was observed created, bound and Running.
	DeploymentsCreatedSeconds float64 `json:"deployments_created_seconds"`
	AllCreatedSeconds         float64 `json:"all_created_seconds"`
	AllBoundSeconds           float64 `json:"all_bound_seconds"`
	AllRunningSeconds         float64 `json:"all_running_seconds"`
	// Per pod, between observations: created -> bound (scheduling), bound -> Running (kubelet),
	// created -> Running; milliseconds.
	CreatedToBoundMs   stats.Summary `json:"created_to_bound_ms"`
	BoundToRunningMs   stats.Summary `json:"bound_to_running_ms"`
	CreatedToRunningMs stats.Summary `json:"created_to_running_ms"`
	WatchRestarts      int           `json:"watch_restarts"`
}

func (d *Density) namespaces() int {
	if d.Namespaces > 0 {
		return d.Namespaces
	}
	return max(1, (d.NodeCount+99)/100)
}

func densityNamespace(i int) string { return fmt.Sprintf("coxbench-density-%d", i) }

// Name implements Workload.
func (d *Density) Name() string { return "density" }

// Nodes implements Workload.
func (d *Density) Nodes() int { return d.NodeCount }

// Validate implements Workload.
func (d *Density) Validate() error {
	switch {
	case d.Pods <= 0:
		return fmt.Errorf("density: --pods %d: must be positive", d.Pods)
	case d.DeploymentSize <= 0:
		return fmt.Errorf("density: --deployment-size %d: must be positive", d.DeploymentSize)
	case d.QPS < 0:
		return fmt.Errorf("density: --qps %v: must not be negative", d.QPS)
	case d.Namespaces < 0:
		return fmt.Errorf("density: --namespaces %d: must not be negative", d.Namespaces)
	}
	return nil
}

func (d *Density) deployments() int { return (d.Pods + d.DeploymentSize - 1) / d.DeploymentSize }

// Run implements Workload.
func (d *Density) Run(ctx context.Context, env *Env) (*WorkloadResult, error) {
	nss := d.namespaces()
	for i := range nss {
		if err := ensureNamespace(ctx, env.Client, densityNamespace(i)); err != nil {
			return nil, err
		}
	}
	tr := NewPodTracker(env.Client, "", "coxbench=density", env.Log) // all namespaces
	tctx, stopTracker := context.WithCancel(ctx)
	defer stopTracker()
	go func() { _ = tr.Run(tctx) }()
	if err := tr.Wait(ctx, func(Counts) bool { return true }); err != nil {
		return nil, err
	}
	n := d.deployments()
	env.Log.Info("density: creating deployments", "deployments", n, "size", d.DeploymentSize, "pods", d.Pods, "qps", d.QPS, "namespaces", nss)
	start := time.Now()
	series := recordSeries(ctx, tr, start, 200*time.Millisecond)
	labels := map[string]string{"coxbench": "density"}
	err := pace(ctx, n, d.QPS, d.Workers, func(ctx context.Context, i int) error {
		replicas := min(d.DeploymentSize, d.Pods-i*d.DeploymentSize)
		l := maps(labels)
		l[LabelIndex] = idx(i)
		_, err := createOnce(ctx, env.Client.Deployments(), newDeployment(densityNamespace(i%nss), fmt.Sprintf("density-%d", i), replicas, Image, l))
		if err != nil {
			return fmt.Errorf("create deployment density-%d: %w", i, err)
		}
		return nil
	})
	created := time.Since(start)
	if err != nil {
		series.stop()
		return nil, err
	}
	res := &WorkloadResult{}
	wctx, cancel := context.WithTimeout(ctx, d.Timeout)
	err = tr.Wait(wctx, func(c Counts) bool { return c.Running >= d.Pods })
	cancel()
	end := time.Since(start)
	pts := series.stop()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c := tr.Counts()
		res.Failures = append(res.Failures, fmt.Sprintf("density: %d of %d pods Running (%d bound, %d created) after %v",
			c.Running, d.Pods, c.Bound, c.Created, d.Timeout))
	}
	recs := tr.Records()
	det := &DensityResult{Pods: d.Pods, Deployments: n, Namespaces: nss, DeploymentsCreatedSeconds: created.Seconds(), WatchRestarts: tr.WatchRestarts()}
	det.AllCreatedSeconds, det.AllBoundSeconds, det.AllRunningSeconds = math.NaN(), math.NaN(), math.NaN()
	var c2b, b2r, c2r []float64
	var lastC, lastB, lastR time.Time
	nc, nb, nr := 0, 0, 0
	for _, r := range recs {
		lastC = later(lastC, r.Created)
		nc++
		if !r.Bound.IsZero() {
			nb++
			lastB = later(lastB, r.Bound)
			c2b = append(c2b, ms(r.Bound.Sub(r.Created)))
		}
		if !r.Running.IsZero() {
			nr++
			lastR = later(lastR, r.Running)
			c2r = append(c2r, ms(r.Running.Sub(r.Created)))
			if !r.Bound.IsZero() {
				b2r = append(b2r, ms(r.Running.Sub(r.Bound)))
			}
		}
	}
	if nc >= d.Pods {
		det.AllCreatedSeconds = lastC.Sub(start).Seconds()
	}
	if nb >= d.Pods {
		det.AllBoundSeconds = lastB.Sub(start).Seconds()
	}
	det.ThroughputPodsPerSecond = math.NaN()
	if nr >= d.Pods {
		det.AllRunningSeconds = lastR.Sub(start).Seconds()
		det.ThroughputPodsPerSecond = float64(d.Pods) / det.AllRunningSeconds
	}
	det.CreatedToBoundMs, det.BoundToRunningMs, det.CreatedToRunningMs = stats.Summarize(c2b), stats.Summarize(b2r), stats.Summarize(c2r)
	res.Seconds = end.Seconds()
	if !math.IsNaN(det.AllRunningSeconds) {
		res.Seconds = det.AllRunningSeconds
	}
	res.Series, res.AvgPodBytes, res.Detail = pts, tr.AvgPodBytes(), det
	res.Figures = []Figure{
		{"density.throughput", "density: pods Running per second, end to end", "pods/s", det.ThroughputPodsPerSecond},
		{"density.all_bound", "density: time to all pods bound", "s", det.AllBoundSeconds},
		{"density.all_running", "density: time to all pods Running", "s", det.AllRunningSeconds},
		{"density.deployments_created", "density: time to create the Deployments", "s", det.DeploymentsCreatedSeconds},
		{"density.created_to_bound_p99", "density: pod created -> bound p99", "ms", det.CreatedToBoundMs.P99},
		{"density.created_to_running_p50", "density: pod created -> Running p50", "ms", det.CreatedToRunningMs.P50},
		{"density.created_to_running_p99", "density: pod created -> Running p99", "ms", det.CreatedToRunningMs.P99},
	}
	return res, nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
