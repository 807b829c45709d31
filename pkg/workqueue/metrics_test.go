package workqueue

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// findMetric gathers reg and returns the sample of family name whose
// "name" label is queue, or nil.
func findMetric(t *testing.T, reg *prometheus.Registry, name, queue string) *dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "name" && l.GetValue() == queue {
					return m
				}
			}
		}
	}
	return nil
}

// scalar returns the value of a gauge or counter sample.
func scalar(t *testing.T, reg *prometheus.Registry, name, queue string) float64 {
	t.Helper()
	m := findMetric(t, reg, name, queue)
	switch {
	case m == nil:
		t.Fatalf("metric %s{name=%q} not found", name, queue)
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	}
	t.Fatalf("metric %s{name=%q} is neither gauge nor counter", name, queue)
	return 0
}

// histogram returns the sample count and sum of a histogram sample.
func histogram(t *testing.T, reg *prometheus.Registry, name, queue string) (uint64, float64) {
	t.Helper()
	m := findMetric(t, reg, name, queue)
	if m == nil || m.Histogram == nil {
		t.Fatalf("histogram %s{name=%q} not found", name, queue)
	}
	return m.Histogram.GetSampleCount(), m.Histogram.GetSampleSum()
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	clk := newFakeClock()
	q := newTestQueue(t, Config[string]{Name: "pods", Registerer: reg, Clock: clk})

	type want struct {
		depth, adds, retries    float64
		queueCount, workCount   uint64
		queueSum, workSum       float64
		unfinished, longestProc float64
	}
	check := func(step string, w want) {
		t.Helper()
		for _, c := range []struct {
			name      string
			got, want float64
		}{
			{"workqueue_depth", scalar(t, reg, "workqueue_depth", "pods"), w.depth},
			{"workqueue_adds_total", scalar(t, reg, "workqueue_adds_total", "pods"), w.adds},
			{"workqueue_retries_total", scalar(t, reg, "workqueue_retries_total", "pods"), w.retries},
		} {
			if c.got != c.want {
				t.Errorf("%s: %s = %v, want %v", step, c.name, c.got, c.want)
			}
		}
		for _, h := range []struct {
			name    string
			wantCnt uint64
			wantSum float64
		}{
			{name: "workqueue_queue_duration_seconds", wantCnt: w.queueCount, wantSum: w.queueSum},
			{name: "workqueue_work_duration_seconds", wantCnt: w.workCount, wantSum: w.workSum},
		} {
			count, sum := histogram(t, reg, h.name, "pods")
			if count != h.wantCnt || sum != h.wantSum {
				t.Errorf("%s: %s count=%d sum=%v, want count=%d sum=%v", step, h.name, count, sum, h.wantCnt, h.wantSum)
			}
		}
		// The in-progress gauges are refreshed by a background loop.
		eventually(t, fmt.Sprintf("%s: unfinished=%v longest=%v", step, w.unfinished, w.longestProc), func() bool {
			return scalar(t, reg, "workqueue_unfinished_work_seconds", "pods") == w.unfinished &&
				scalar(t, reg, "workqueue_longest_running_processor_seconds", "pods") == w.longestProc
		})
		if t.Failed() {
			t.FailNow()
		}
	}

	// workqueue_unfinished_work_seconds and
	// workqueue_longest_running_processor_seconds are refreshed every
	// 500ms of (fake) time by a background loop.
	check("new queue", want{})
	q.Add("a")
	q.Add("b")
	q.Add("a") // coalesced: not an add
	check("after adds", want{depth: 2, adds: 2})

	clk.Step(time.Second)
	if item, _ := q.Get(); item != "a" {
		t.Fatalf("Get() = %q, want a", item)
	}
	check("a waited 1s", want{depth: 1, adds: 2, queueCount: 1, queueSum: 1})

	// Each Step fires the refresh timer once; waiting for the refreshed
	// values before acting keeps the test deterministic.
	clk.Step(2 * time.Second)
	check("a running 2s", want{depth: 1, adds: 2, queueCount: 1, queueSum: 1, unfinished: 2, longestProc: 2})
	q.Done("a")
	// The in-progress gauges keep their last value until the next refresh.
	check("a took 2s", want{depth: 1, adds: 2, queueCount: 1, queueSum: 1, workCount: 1, workSum: 2, unfinished: 2, longestProc: 2})

	if item, _ := q.Get(); item != "b" { // b waited 3s
		t.Fatalf("Get() = %q, want b", item)
	}
	clk.Step(1500 * time.Millisecond)
	check("b running 1.5s", want{adds: 2, queueCount: 2, queueSum: 4, workCount: 1, workSum: 2, unfinished: 1.5, longestProc: 1.5})

	q.Add("c")
	if item, _ := q.Get(); item != "c" {
		t.Fatalf("Get() = %q, want c", item)
	}
	clk.Step(500 * time.Millisecond)
	check("b running 2s, c 0.5s", want{adds: 3, queueCount: 3, queueSum: 4, workCount: 1, workSum: 2, unfinished: 2.5, longestProc: 2})

	q.Add("b") // re-added while processing: counted, depth includes it
	check("b re-added while processing", want{depth: 1, adds: 4, queueCount: 3, queueSum: 4, workCount: 1, workSum: 2, unfinished: 2.5, longestProc: 2})

	q.Done("b") // b is queued again
	q.Done("c")
	q.AddAfter("d", time.Second)
	q.AddAfter("e", 0)    // added at once
	q.AddRateLimited("d") // the default limiter's 5ms beats the pending 1s
	clk.Step(500 * time.Millisecond)
	eventually(t, "d to become ready", func() bool { return q.Len() == 3 })
	check("done; three retries", want{depth: 3, adds: 6, retries: 3, queueCount: 3, queueSum: 4, workCount: 3, workSum: 4.5})
}

func TestMetricsSharedRegisterer(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := newTestQueue(t, Config[string]{Name: "a", Registerer: reg})
	b := newTestQueue(t, Config[int]{Name: "b", Registerer: reg}) // a different item type
	c := newTestQueue(t, Config[string]{Name: "c", Registerer: reg})
	a.Add("x")
	b.Add(1)
	b.Add(2)
	b.AddAfter(3, time.Hour)
	c.Add("x")
	c.Add("y")
	c.Add("z")

	want := `
# HELP workqueue_adds_total Total number of adds handled by workqueue
# TYPE workqueue_adds_total counter
workqueue_adds_total{name="a"} 1
workqueue_adds_total{name="b"} 2
workqueue_adds_total{name="c"} 3
# HELP workqueue_depth Current depth of workqueue
# TYPE workqueue_depth gauge
workqueue_depth{name="a"} 1
workqueue_depth{name="b"} 2
workqueue_depth{name="c"} 3
# HELP workqueue_retries_total Total number of retries handled by workqueue
# TYPE workqueue_retries_total counter
workqueue_retries_total{name="a"} 0
workqueue_retries_total{name="b"} 1
workqueue_retries_total{name="c"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"workqueue_adds_total", "workqueue_depth", "workqueue_retries_total"); err != nil {
		t.Fatal(err)
	}
	// Every workqueue metric exists once per queue.
	for _, name := range []string{
		"workqueue_depth", "workqueue_adds_total", "workqueue_queue_duration_seconds",
		"workqueue_work_duration_seconds", "workqueue_retries_total",
		"workqueue_unfinished_work_seconds", "workqueue_longest_running_processor_seconds",
	} {
		n, err := testutil.GatherAndCount(reg, name)
		if err != nil {
			t.Fatalf("GatherAndCount(%s): %v", name, err)
		}
		if n != 3 {
			t.Errorf("%s has %d series, want 3 (one per queue)", name, n)
		}
	}
	if probs, err := testutil.GatherAndLint(reg); err != nil || len(probs) != 0 {
		t.Errorf("lint: err=%v problems=%v", err, probs)
	}
}

func TestNewErrors(t *testing.T) {
	conflicting := prometheus.NewRegistry()
	conflicting.MustRegister(prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "workqueue_depth", Help: "Current depth of workqueue",
	}, []string{"queue"}))
	wrongType := prometheus.NewRegistry()
	wrongType.MustRegister(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "workqueue_depth", Help: "Current depth of workqueue",
	}, []string{"name"}))

	tests := []struct {
		name    string
		cfg     Config[string]
		wantErr string
	}{
		{"registerer without name", Config[string]{Registerer: prometheus.NewRegistry()}, "Config.Name"},
		{"conflicting labels", Config[string]{Name: "q", Registerer: conflicting}, "workqueue_depth"},
		{"conflicting type", Config[string]{Name: "q", Registerer: wrongType}, "workqueue_depth"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := New(tc.cfg)
			if err == nil {
				q.ShutDown()
				t.Fatalf("New succeeded, want an error mentioning %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New error %q does not mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestNilRegistererDisablesMetrics(t *testing.T) {
	q := newTestQueue(t, Config[string]{Name: "unused"})
	if q.metrics != nil {
		t.Fatal("metrics enabled without a Registerer")
	}
	q.Add("a")
	q.AddAfter("b", 0)
	item, _ := q.Get()
	q.Done(item)
	if q.Len() != 1 {
		t.Fatalf("Len() = %d, want 1", q.Len())
	}
}
