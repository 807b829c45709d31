package bench

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coxswain/coxswain/pkg/bench/promtext"
)

// APICall is the latency of one (resource, verb) at the apiserver during the workload, from the
// diff of its apiserver_request_duration_seconds histogram; the percentiles are estimated within the
// buckets like histogram_quantile.
type APICall struct {
	Resource string  `json:"resource"`
	Verb     string  `json:"verb"`
	Count    float64 `json:"count"`
	P50Ms    float64 `json:"p50_ms"`
	P99Ms    float64 `json:"p99_ms"`
	MeanMs   float64 `json:"mean_ms"`
}

// APIResult is the apiserver's view of the workload.
type APIResult struct {
	Calls    []APICall `json:"calls"`
	Mutating APICall   `json:"mutating"`
	ReadOnly APICall   `json:"read_only"`
	// MutatingWithin50ms is the exact fraction of mutating calls that took <= 50ms (a bucket bound).
	MutatingWithin50ms float64 `json:"mutating_within_50ms"`
	// Writes counts the successful mutating calls; WritesPerSecond divides by the workload window.
	Writes          float64 `json:"writes"`
	WritesPerSecond float64 `json:"writes_per_second"`
	// MeanInflightMutating is the mean of apiserver_current_inflight_requests{request_kind="mutating"}
	// sampled during the workload: the concurrency of the writers as the apiserver sees it.
	MeanInflightMutating float64 `json:"mean_inflight_mutating"`
}

// SchedulerResult is the scheduler's view of the workload (scheduler_schedule_attempts_total diff).
type SchedulerResult struct {
	Attempts      float64 `json:"attempts"`
	Scheduled     float64 `json:"scheduled"`
	Unschedulable float64 `json:"unschedulable"`
	Error         float64 `json:"error"`
	// ScheduledPerSecond divides by the workload window.
	ScheduledPerSecond float64 `json:"scheduled_per_second"`
}

func readOnlyVerb(v string) bool { return v == "GET" || v == "LIST" || v == "WATCH" }

const apiDuration = "apiserver_request_duration_seconds"

// apiLatencies diffs two apiserver scrapes.
func apiLatencies(before, after promtext.Samples, seconds float64) (APIResult, error) {
	b, err := before.Histograms(apiDuration, "resource", "verb")
	if err != nil {
		return APIResult{}, err
	}
	a, err := after.Histograms(apiDuration, "resource", "verb")
	if err != nil {
		return APIResult{}, err
	}
	if len(a) == 0 {
		return APIResult{}, fmt.Errorf("the apiserver exports no %s histogram", apiDuration)
	}
	d, err := promtext.DiffSeries(a, b)
	if err != nil {
		return APIResult{}, fmt.Errorf("%s: %w", apiDuration, err)
	}
	var res APIResult
	var mut, ro []promtext.Series
	for _, s := range d {
		if s.Histogram.Count == 0 {
			continue
		}
		verb := s.Labels.Get("verb")
		res.Calls = append(res.Calls, call(s.Labels.Get("resource"), verb, s.Histogram))
		if readOnlyVerb(verb) {
			ro = append(ro, s)
		} else {
			mut = append(mut, s)
		}
	}
	slices.SortFunc(res.Calls, func(x, y APICall) int {
		if c := strings.Compare(x.Resource, y.Resource); c != 0 {
			return c
		}
		return strings.Compare(x.Verb, y.Verb)
	})
	mh, err := promtext.Merge(mut)
	if err != nil {
		return APIResult{}, err
	}
	rh, err := promtext.Merge(ro)
	if err != nil {
		return APIResult{}, err
	}
	res.Mutating, res.ReadOnly = call("*", "mutating", mh), call("*", "read-only", rh)
	res.MutatingWithin50ms = mh.FractionAtMost(0.05)
	okWrite := func(l promtext.Labels) bool { return l.Get("code") == "OK" && !readOnlyVerb(l.Get("verb")) }
	res.Writes = after.SumFunc("apiserver_request_total", okWrite) - before.SumFunc("apiserver_request_total", okWrite)
	res.WritesPerSecond = math.NaN()
	if seconds > 0 {
		res.WritesPerSecond = res.Writes / seconds
	}
	return res, nil
}

func call(resource, verb string, h promtext.Histogram) APICall {
	return APICall{Resource: resource, Verb: verb, Count: h.Count, P50Ms: h.Quantile(0.5) * 1000, P99Ms: h.Quantile(0.99) * 1000, MeanMs: h.Mean() * 1000}
}

// schedulerAttempts diffs two scheduler scrapes.
func schedulerAttempts(before, after promtext.Samples, seconds float64) SchedulerResult {
	const name = "scheduler_schedule_attempts_total"
	a, b := after.SumBy(name, "result"), before.SumBy(name, "result")
	r := SchedulerResult{Scheduled: a["scheduled"] - b["scheduled"], Unschedulable: a["unschedulable"] - b["unschedulable"], Error: a["error"] - b["error"]}
	r.Attempts = r.Scheduled + r.Unschedulable + r.Error
	r.ScheduledPerSecond = math.NaN()
	if seconds > 0 {
		r.ScheduledPerSecond = r.Scheduled / seconds
	}
	return r
}

// inflightPoller samples the apiserver's in-flight mutating requests while the workload runs.
type inflightPoller struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	sum    float64
	n      int
}

func pollInflight(ctx context.Context, url string, every time.Duration) *inflightPoller {
	ctx, cancel := context.WithCancel(ctx)
	p := &inflightPoller{cancel: cancel, done: make(chan struct{})}
	hc := &http.Client{Timeout: 5 * time.Second}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			s, err := promtext.Fetch(ctx, hc, url, "apiserver_current_inflight_requests")
			if err != nil {
				continue
			}
			v := s.Sum("apiserver_current_inflight_requests", map[string]string{"request_kind": "mutating"})
			p.mu.Lock()
			p.sum += v
			p.n++
			p.mu.Unlock()
		}
	}()
	return p
}

// stop returns the mean in-flight mutating requests (NaN without samples).
func (p *inflightPoller) stop() float64 {
	p.cancel()
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n == 0 {
		return math.NaN()
	}
	return p.sum / float64(p.n)
}
