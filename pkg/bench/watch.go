package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/bench/stats"
	"github.com/coxswain/coxswain/pkg/client"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Watch opens Watchers watches on pods while Rate writes per second (creates, then updates of a pool
// of pods) happen for Duration, and measures the delivery latency (write issued -> event received)
// and the events delivered per second. The pods name a scheduler that does not exist, so the writes
// are the only events.
type Watch struct {
	NodeCount int
	Watchers  int
	Rate      float64
	Duration  time.Duration
	Workers   int
	// Pool is how many pods the writes cycle through (0: enough that a pod is rewritten about once a
	// second, at least 100).
	Pool int
	// Connections spreads the watchers over this many gRPC connections (0: one per 10 watchers, at
	// most 16).
	Connections int
}

// WatchResult is the watch workload's detail.
type WatchResult struct {
	Watchers     int     `json:"watchers"`
	Rate         float64 `json:"rate"`
	Writes       int     `json:"writes"`
	AchievedRate float64 `json:"achieved_rate"`
	// Delivered counts events received over all watchers; Expected is Writes x Watchers.
	Delivered       int64         `json:"delivered"`
	Expected        int64         `json:"expected"`
	EventsPerSecond float64       `json:"events_per_second"`
	DeliveryMs      stats.Summary `json:"delivery_ms"`
	WriteCallMs     stats.Summary `json:"write_call_ms"`
	WatchErrors     int64         `json:"watch_errors"`
}

const (
	watchNamespace     = "coxbench-watch"
	annotationWritten  = "coxbench.io/written-at"
	unscheduledSched   = "coxbench-no-scheduler"
	watchMarkerPodName = "watch-marker"
)

// Name implements Workload.
func (w *Watch) Name() string { return "watch" }

// Nodes implements Workload.
func (w *Watch) Nodes() int { return w.NodeCount }

// Validate implements Workload.
func (w *Watch) Validate() error {
	switch {
	case w.Watchers <= 0:
		return fmt.Errorf("watch: --watchers %d: must be positive", w.Watchers)
	case w.Rate <= 0:
		return fmt.Errorf("watch: --rate %v: must be positive", w.Rate)
	case w.Duration <= 0:
		return fmt.Errorf("watch: --duration %v: must be positive", w.Duration)
	}
	return nil
}

// watcher is one watch stream and what it received.
type watcher struct {
	hist     stats.Histogram
	mu       sync.Mutex
	events   int64
	last     time.Time
	marker   atomic.Bool
	failures atomic.Int64
}

func (w *watcher) run(ctx context.Context, c *client.Client, rv string) {
	for ctx.Err() == nil {
		wt, err := c.Pods().Watch(ctx, &metav1.ListOptions{Namespace: watchNamespace, LabelSelector: "coxbench=watch", ResourceVersion: rv})
		if err == nil {
			rv, err = w.consume(wt)
			wt.Stop()
		}
		if ctx.Err() != nil {
			return
		}
		w.failures.Add(1)
		if apierrors.IsExpired(err) {
			rv = "" // start over from the current state
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (w *watcher) consume(wt *client.Watch[*corev1.Pod]) (string, error) {
	rv := ""
	for {
		ev, err := wt.Next()
		if err != nil {
			return rv, err
		}
		now := time.Now()
		rv = ev.Object.GetMetadata().GetResourceVersion()
		if ev.Type != client.Added && ev.Type != client.Modified {
			continue
		}
		if ev.Object.GetMetadata().GetName() == watchMarkerPodName {
			w.marker.Store(true)
			continue
		}
		ts, err := strconv.ParseInt(ev.Object.GetMetadata().GetAnnotations()[annotationWritten], 10, 64)
		if err != nil {
			continue
		}
		w.mu.Lock()
		w.hist.Add(sinceMs(ts, now.UnixNano()))
		w.events++
		w.last = now
		w.mu.Unlock()
	}
}

// Run implements Workload.
func (w *Watch) Run(ctx context.Context, env *Env) (*WorkloadResult, error) {
	if err := ensureNamespace(ctx, env.Client, watchNamespace); err != nil {
		return nil, err
	}
	conns := w.Connections
	if conns <= 0 {
		conns = min(16, (w.Watchers+9)/10)
	}
	clients := make([]*client.Client, conns)
	for i := range clients {
		c, err := client.New(client.Config{Server: env.Cluster.APIServer, UserAgent: "coxbench-watcher"})
		if err != nil {
			return nil, err
		}
		defer c.Close()
		clients[i] = c
	}
	_, lm, err := env.Client.Pods().List(ctx, &metav1.ListOptions{Namespace: watchNamespace, LabelSelector: "coxbench=watch"})
	if err != nil {
		return nil, fmt.Errorf("watch: list pods: %w", err)
	}
	wctx, stopWatchers := context.WithCancel(ctx)
	defer stopWatchers()
	watchers := make([]*watcher, w.Watchers)
	var wg sync.WaitGroup
	for i := range watchers {
		watchers[i] = &watcher{}
		wg.Add(1)
		go func() { defer wg.Done(); watchers[i].run(wctx, clients[i%conns], lm.GetResourceVersion()) }()
	}
	defer wg.Wait()
	defer stopWatchers()

	// Every watcher must be delivering before the measured writes start.
	marker := &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: watchNamespace, Name: watchMarkerPodName,
		Labels: map[string]string{"coxbench": "watch"}}, Spec: unscheduledSpec()}
	if _, err := createOnce(ctx, env.Client.Pods(), marker); err != nil {
		return nil, fmt.Errorf("watch: create marker pod: %w", err)
	}
	mctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	err = waitUntil(mctx, 10*time.Millisecond, func() bool {
		for _, x := range watchers {
			if !x.marker.Load() {
				return false
			}
		}
		return true
	})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("watch: not every watcher saw the marker pod within 60s: %w", err)
	}

	n := int(w.Rate * w.Duration.Seconds())
	pool := w.Pool
	if pool <= 0 {
		pool = max(100, int(math.Ceil(w.Rate)))
	}
	pool = min(pool, max(n, 1))
	slots := make([]struct {
		mu  sync.Mutex
		pod *corev1.Pod
	}, pool)
	callMs := make([]float64, n)
	env.Log.Info("watch: writing", "writes", n, "rate", w.Rate, "pool", pool, "watchers", w.Watchers)
	start := time.Now()
	var lastWrite atomic.Int64
	err = pace(ctx, n, w.Rate, w.Workers, func(ctx context.Context, i int) error {
		s := &slots[i%pool]
		s.mu.Lock()
		defer s.mu.Unlock()
		t0 := time.Now()
		err := w.write(ctx, env.Client, i, i%pool, &s.pod)
		callMs[i] = ms(time.Since(t0))
		lastWrite.Store(time.Now().UnixNano())
		return err
	})
	writesEnd := time.Now()
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	expected := int64(n) * int64(w.Watchers)
	// Let the watchers drain (bounded).
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_ = waitUntil(dctx, 20*time.Millisecond, func() bool { return delivered(watchers) >= expected })
	cancel()
	stopWatchers()
	wg.Wait()

	det := &WatchResult{Watchers: w.Watchers, Rate: w.Rate, Writes: n, Expected: expected}
	var all stats.Histogram
	var last time.Time
	for _, x := range watchers {
		all.Merge(&x.hist)
		det.Delivered += x.events
		det.WatchErrors += x.failures.Load()
		last = later(last, x.last)
	}
	if n > 1 {
		det.AchievedRate = float64(n) / writesEnd.Sub(start).Seconds()
	}
	det.DeliveryMs, det.WriteCallMs = all.Summary(), stats.Summarize(callMs)
	window := last.Sub(start).Seconds()
	det.EventsPerSecond = math.NaN()
	if window > 0 {
		det.EventsPerSecond = float64(det.Delivered) / window
	}
	res := &WorkloadResult{Seconds: writesEnd.Sub(start).Seconds(), Detail: det, AvgPodBytes: avgBytes(slots)}
	if det.Delivered < expected {
		res.Failures = append(res.Failures, fmt.Sprintf("watch: %d of %d events delivered within 30s of the last write", det.Delivered, expected))
	}
	res.Figures = []Figure{
		{"watch.delivery_p50", "watch: event delivery latency p50 (write -> received)", "ms", det.DeliveryMs.P50},
		{"watch.delivery_p99", "watch: event delivery latency p99", "ms", det.DeliveryMs.P99},
		{"watch.events_per_second", "watch: events delivered per second (all watchers)", "events/s", det.EventsPerSecond},
		{"watch.delivered_fraction", "watch: delivered / expected events", "ratio", float64(det.Delivered) / float64(max(expected, 1))},
		{"watch.achieved_rate", "watch: writes per second issued", "writes/s", det.AchievedRate},
		{"watch.write_call_p99", "watch: write call round trip p99", "ms", det.WriteCallMs.P99},
	}
	return res, nil
}

func delivered(ws []*watcher) int64 {
	var n int64
	for _, x := range ws {
		x.mu.Lock()
		n += x.events
		x.mu.Unlock()
	}
	return n
}

func unscheduledSpec() *corev1.PodSpec {
	s := podSpec(Image)
	s.SchedulerName = unscheduledSched
	return s
}

// write creates pod slot (the first pass over the pool) or updates its annotation.
func (w *Watch) write(ctx context.Context, c *client.Client, i, slot int, cur **corev1.Pod) error {
	stamp := func() string { return strconv.FormatInt(time.Now().UnixNano(), 10) }
	if *cur == nil {
		p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: watchNamespace, Name: fmt.Sprintf("watch-%d", slot),
			Labels: map[string]string{"coxbench": "watch"}, Annotations: map[string]string{annotationWritten: stamp()}}, Spec: unscheduledSpec()}
		out, err := c.Pods().Create(ctx, p)
		if err != nil {
			return fmt.Errorf("write %d: create %s: %w", i, p.Metadata.Name, err)
		}
		*cur = out
		return nil
	}
	for range 5 {
		p := *cur
		p.Metadata.Annotations[annotationWritten] = stamp()
		out, err := c.Pods().Update(ctx, p)
		if err == nil {
			*cur = out
			return nil
		}
		if !apierrors.IsConflict(err) && !transient(err) {
			return fmt.Errorf("write %d: update %s: %w", i, p.Metadata.Name, err)
		}
		if got, gerr := c.Pods().Get(ctx, watchNamespace, p.Metadata.Name); gerr == nil {
			*cur = got
		}
	}
	return fmt.Errorf("write %d: update watch-%d: %w", i, slot, errors.New("conflicts or errors on 5 attempts"))
}

func avgBytes(slots []struct {
	mu  sync.Mutex
	pod *corev1.Pod
}) int {
	sum, n := 0, 0
	for i := range slots {
		if p := slots[i].pod; p != nil {
			sum += protoSize(p)
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / n
}

// waitUntil polls cond every interval until it holds or ctx ends.
func waitUntil(ctx context.Context, interval time.Duration, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
	return nil
}
