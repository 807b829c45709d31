package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/coxswain/coxswain/pkg/bench/promtext"
	"github.com/coxswain/coxswain/pkg/bench/stats"
	"github.com/coxswain/coxswain/pkg/testutil"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

func parse(t *testing.T, s string) promtext.Samples {
	t.Helper()
	out, err := promtext.Parse(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// hist renders a histogram series with the apiserver's buckets (le in ms -> cumulative count).
func hist(resource, verb string, counts []float64) string {
	les := []string{"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"}
	var b strings.Builder
	for i, le := range les {
		c := counts[len(counts)-1]
		if i < len(counts) {
			c = counts[i]
		}
		b.WriteString("apiserver_request_duration_seconds_bucket{resource=\"" + resource + "\",verb=\"" + verb + "\",le=\"" + le + "\"} " + ftoa(c) + "\n")
	}
	last := counts[len(counts)-1]
	b.WriteString("apiserver_request_duration_seconds_count{resource=\"" + resource + "\",verb=\"" + verb + "\"} " + ftoa(last) + "\n")
	b.WriteString("apiserver_request_duration_seconds_sum{resource=\"" + resource + "\",verb=\"" + verb + "\"} " + ftoa(last*0.01) + "\n")
	return b.String()
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func TestAPILatencies(t *testing.T) {
	before := parse(t, hist("pods", "CREATE", []float64{0, 0, 0, 0, 10})+hist("pods", "LIST", []float64{5})+
		`apiserver_request_total{resource="pods",verb="CREATE",code="OK"} 10
apiserver_request_total{resource="pods",verb="LIST",code="OK"} 5
scheduler_schedule_attempts_total{result="scheduled"} 3
scheduler_schedule_attempts_total{result="error"} 1
`)
	// During the window: 100 pod creates (90 within 10ms, 10 in (50ms, 100ms]), 100 binds all within
	// 5ms, 2 slow lists, 3 failed creates.
	after := parse(t, hist("pods", "CREATE", []float64{0, 0, 0, 0, 100, 100, 100, 110})+
		hist("pods", "BIND", []float64{0, 0, 0, 100})+hist("pods", "LIST", []float64{5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 7})+
		`apiserver_request_total{resource="pods",verb="CREATE",code="OK"} 110
apiserver_request_total{resource="pods",verb="CREATE",code="AlreadyExists"} 3
apiserver_request_total{resource="pods",verb="BIND",code="OK"} 100
apiserver_request_total{resource="pods",verb="LIST",code="OK"} 7
scheduler_schedule_attempts_total{result="scheduled"} 103
scheduler_schedule_attempts_total{result="unschedulable"} 4
scheduler_schedule_attempts_total{result="error"} 1
`)
	res, err := apiLatencies(before, after, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Calls) != 3 {
		t.Fatalf("calls = %+v, want BIND, CREATE and LIST of pods", res.Calls)
	}
	byVerb := map[string]APICall{}
	for _, c := range res.Calls {
		byVerb[c.Verb] = c
	}
	if c := byVerb["CREATE"]; c.Count != 100 || c.P50Ms < 5 || c.P50Ms > 10 || c.P99Ms < 50 || c.P99Ms > 100 {
		t.Errorf("CREATE = %+v, want 100 calls, p50 in (5,10] ms, p99 in (50,100] ms", c)
	}
	if c := byVerb["LIST"]; c.Count != 2 || c.P99Ms <= 500 {
		t.Errorf("LIST = %+v, want 2 calls with p99 > 500ms", c)
	}
	// Mutating = CREATE + BIND (200 calls); LIST is read-only.
	if res.Mutating.Count != 200 || res.ReadOnly.Count != 2 {
		t.Errorf("mutating %v / read-only %v calls, want 200 / 2", res.Mutating.Count, res.ReadOnly.Count)
	}
	if res.MutatingWithin50ms != 0.95 {
		t.Errorf("within 50ms = %v, want 0.95 (190 of 200)", res.MutatingWithin50ms)
	}
	// Successful writes only: 100 creates + 100 binds, over 10s.
	if res.Writes != 200 || res.WritesPerSecond != 20 {
		t.Errorf("writes = %v (%v/s), want 200 (20/s)", res.Writes, res.WritesPerSecond)
	}
	s := schedulerAttempts(before, after, 10)
	if s.Scheduled != 100 || s.Unschedulable != 4 || s.Error != 0 || s.Attempts != 104 || s.ScheduledPerSecond != 10 {
		t.Errorf("scheduler = %+v", s)
	}
	// A restarted apiserver (counters went down) is an error, not a negative latency.
	if _, err := apiLatencies(after, before, 10); err == nil {
		t.Error("diff across a counter reset succeeded")
	}
	if _, err := apiLatencies(before, parse(t, "x 1\n"), 10); err == nil {
		t.Error("a scrape without the histogram was accepted")
	}
}

// TestAPILatenciesRealAPIServer diffs two scrapes of a real apiserver around 20 pod creations.
func TestAPILatenciesRealAPIServer(t *testing.T) {
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)
	url := "http://" + a.Server.HTTPAddr() + "/metrics"
	before, err := promtext.Fetch(ctx, nil, url)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "p" + idx(i)}, Spec: podSpec(Image)}
		if _, err := a.Client.Pods().Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	after, err := promtext.Fetch(ctx, nil, url)
	if err != nil {
		t.Fatal(err)
	}
	res, err := apiLatencies(before, after, 1)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range res.Calls {
		if c.Resource == "pods" && c.Verb == "CREATE" {
			found = true
			if c.Count != 20 || math.IsNaN(c.P99Ms) || c.P99Ms <= 0 {
				t.Errorf("pods CREATE = %+v, want 20 calls with a p99", c)
			}
		}
	}
	if !found {
		t.Fatalf("no pods CREATE in %+v", res.Calls)
	}
	if res.Writes < 20 {
		t.Errorf("writes = %v, want >= 20", res.Writes)
	}
}

// TestPodTracker follows pods through create, bind, Running and delete on a real apiserver, across an
// apiserver restart (the watch breaks and the tracker relists).
func TestPodTracker(t *testing.T) {
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)
	c := a.Client
	if err := ensureNamespace(ctx, c, "trk"); err != nil {
		t.Fatal(err)
	}
	tr := NewPodTracker(c, "trk", "coxbench=t", testutil.Logger())
	tctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- tr.Run(tctx) }()
	defer func() { cancel(); <-done }()
	wait := func(what string, cond func(Counts) bool) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := tr.Wait(wctx, cond); err != nil {
			t.Fatalf("%s: counts %+v: %v", what, tr.Counts(), err)
		}
	}
	mk := func(name string, i int, labels map[string]string) *corev1.Pod {
		p, err := c.Pods().Create(ctx, &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: "trk", Name: name,
			Labels: labels}, Spec: podSpec(Image)})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p0 := mk("p0", 0, map[string]string{"coxbench": "t", LabelIndex: "0"})
	p1 := mk("p1", 1, map[string]string{"coxbench": "t", LabelIndex: "1"})
	mk("other", 2, map[string]string{"coxbench": "no"}) // not selected
	wait("created", func(c Counts) bool { return c.Created == 2 })
	for _, p := range []*corev1.Pod{p0, p1} {
		if _, err := c.Bind(ctx, "trk", p.Metadata.Name, p.Metadata.Uid, "n1"); err != nil {
			t.Fatal(err)
		}
	}
	wait("bound", func(c Counts) bool { return c.Bound == 2 })
	cur, err := c.Pods().Get(ctx, "trk", "p0")
	if err != nil {
		t.Fatal(err)
	}
	cur.Status = &corev1.PodStatus{Phase: "Running"}
	if _, err := c.Pods().UpdateStatus(ctx, cur); err != nil {
		t.Fatal(err)
	}
	wait("running", func(c Counts) bool { return c.Running == 1 })

	// Across a restart: the watch fails, the tracker relists and sees what changed meanwhile.
	a.Restart()
	mk("p2", 2, map[string]string{"coxbench": "t"})
	if _, err := c.Pods().Delete(ctx, &metav1.DeleteRequest{Namespace: "trk", Name: "p1", GracePeriodSeconds: proto64(0)}); err != nil {
		t.Fatal(err)
	}
	wait("after restart", func(c Counts) bool { return c.Created == 3 && c.Deleted == 1 })
	if tr.WatchRestarts() == 0 {
		t.Error("the watch did not restart across the apiserver restart")
	}
	got := tr.Counts()
	if got != (Counts{Created: 3, Bound: 2, Running: 1, Deleted: 1}) {
		t.Fatalf("counts = %+v", got)
	}
	recs := tr.Records()
	byName := map[string]PodRecord{}
	for _, r := range recs {
		byName[r.Name] = r
	}
	r0 := byName["p0"]
	if r0.Index != 0 || r0.Created.IsZero() || r0.Bound.Before(r0.Created) || r0.Running.Before(r0.Bound) || !r0.Deleted.IsZero() || r0.Bytes <= 0 {
		t.Errorf("p0 record = %+v", r0)
	}
	if r := byName["p2"]; r.Index != -1 || !r.Bound.IsZero() {
		t.Errorf("p2 record = %+v, want no index, unbound", r)
	}
	if r := byName["p1"]; r.Deleted.IsZero() {
		t.Errorf("p1 record = %+v, want deleted", r)
	}
	if tr.AvgPodBytes() <= 0 {
		t.Error("no pod size")
	}
	sctx, scancel := context.WithTimeout(ctx, 120*time.Millisecond)
	pts := tr.Series(sctx, time.Now(), 20*time.Millisecond)
	scancel()
	if len(pts) < 3 || pts[len(pts)-1].Created != 3 || pts[len(pts)-1].T < pts[0].T {
		t.Errorf("series = %+v", pts)
	}
}

func proto64(v int64) *int64 { return &v }

func TestEtcdPutBenchmark(t *testing.T) {
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)
	ep := a.Server.EtcdEndpoint()
	r, err := EtcdPutBenchmark(ctx, ep, 700, 4, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if r.Puts == 0 || r.PutsPerSecond <= 0 || r.ValueBytes != 700 || r.Concurrency != 4 || r.LatencyMs.Count != r.Puts || r.Seconds < 0.3 {
		t.Fatalf("result = %+v", r)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	left, err := cli.Get(ctx, etcdRefPrefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if left.Count != 0 {
		t.Fatalf("%d reference keys left in etcd", left.Count)
	}
	if _, err := EtcdPutBenchmark(ctx, ep, 0, 1, time.Second); err == nil {
		t.Fatal("zero value size accepted")
	}
}

func TestPace(t *testing.T) {
	t.Run("rate", func(t *testing.T) {
		start := time.Now()
		var calls atomic.Int64
		if err := pace(context.Background(), 21, 100, 4, func(context.Context, int) error { calls.Add(1); return nil }); err != nil {
			t.Fatal(err)
		}
		// Call 20 starts no earlier than 200ms after the first.
		if d := time.Since(start); d < 195*time.Millisecond || d > 5*time.Second {
			t.Fatalf("21 calls at 100/s took %v, want about 200ms", d)
		}
		if calls.Load() != 21 {
			t.Fatalf("calls = %d", calls.Load())
		}
	})
	t.Run("concurrency bound and every index once", func(t *testing.T) {
		var inflight, peak atomic.Int64
		seen := make([]atomic.Int32, 50)
		err := pace(context.Background(), 50, 0, 3, func(_ context.Context, i int) error {
			n := inflight.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(2 * time.Millisecond)
			inflight.Add(-1)
			seen[i].Add(1)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if peak.Load() > 3 {
			t.Fatalf("peak in flight = %d, want <= 3", peak.Load())
		}
		for i := range seen {
			if seen[i].Load() != 1 {
				t.Fatalf("index %d called %d times", i, seen[i].Load())
			}
		}
	})
	t.Run("first error stops", func(t *testing.T) {
		boom := errors.New("boom")
		var calls atomic.Int64
		err := pace(context.Background(), 1000, 200, 2, func(_ context.Context, i int) error {
			calls.Add(1)
			if i == 3 {
				return boom
			}
			return nil
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v, want boom", err)
		}
		if calls.Load() > 10 {
			t.Fatalf("%d calls after the error, want the rest cancelled", calls.Load())
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		err := pace(ctx, 1000, 10, 2, func(context.Context, int) error { return nil })
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want the deadline", err)
		}
	})
}

func fig(key string, v float64) Figure { return Figure{Key: key, Label: key, Unit: "u", Value: v} }

func TestSummarizeMediansAndTargets(t *testing.T) {
	d := &Density{NodeCount: 1000, Pods: 30000, DeploymentSize: 30}
	r := &Report{Workload: "density", Runs: []RunResult{
		{Run: 1, Figures: []Figure{fig("density.throughput", 1400), fig("api.mutating_p99", 40), fig("rss.idle_control_plane", 100), fig("rss.peak_control_plane", 900)}},
		{Run: 2, Figures: []Figure{fig("density.throughput", 1700), fig("api.mutating_p99", 60), fig("rss.idle_control_plane", 120), fig("rss.peak_control_plane", 1000)}},
		{Run: 3, Figures: []Figure{fig("density.throughput", 1600), fig("api.mutating_p99", math.NaN()), fig("rss.idle_control_plane", 200), fig("rss.peak_control_plane", 950)}},
	}}
	r.summarize(d)
	med := map[string]float64{}
	for _, f := range r.Median {
		med[f.Key] = f.Value
	}
	if med["density.throughput"] != 1600 || med["api.mutating_p99"] != 50 || med["rss.idle_control_plane"] != 120 {
		t.Fatalf("medians = %v", med)
	}
	if r.Representative != 2 {
		t.Fatalf("representative = %d, want index 2 (throughput 1600 is the median)", r.Representative)
	}
	want := map[string]string{
		"density throughput, end to end":             "PASS",
		"mutating API p99 during density":            "PASS",
		"control-plane peak RSS, all pods converged": "pass (below target scale)",
		"idle control-plane RSS":                     "PASS",
	}
	if len(r.Targets) != len(want) {
		t.Fatalf("targets = %+v", r.Targets)
	}
	for _, tg := range r.Targets {
		if tg.Verdict != want[tg.Target] {
			t.Errorf("%s: verdict %q, want %q (%+v)", tg.Target, tg.Verdict, want[tg.Target], tg)
		}
	}

	tests := []struct {
		name   string
		w      Workload
		med    map[string]float64
		failed bool
		want   map[string]string
	}{
		{"startup at rate fails", &Startup{NodeCount: 100, Pods: 1000, Rate: 100},
			map[string]float64{"startup.p99": 700, "rss.idle_control_plane": 200}, false,
			map[string]string{"pod startup latency p99": "FAIL", "idle control-plane RSS": "FAIL"}},
		{"startup below rate", &Startup{NodeCount: 100, Pods: 1000, Rate: 10},
			map[string]float64{"startup.p99": 100, "rss.idle_control_plane": 100}, false,
			map[string]string{"pod startup latency p99": "pass (below target scale)", "idle control-plane RSS": "PASS"}},
		{"startup not measured", &Startup{NodeCount: 100, Pods: 1000, Rate: 100},
			map[string]float64{"startup.p99": math.NaN(), "rss.idle_control_plane": 100}, false,
			map[string]string{"pod startup latency p99": "NOT MEASURED", "idle control-plane RSS": "PASS"}},
		{"large density that did not converge", &Density{NodeCount: 5000, Pods: 150000},
			map[string]float64{"density.throughput": math.NaN(), "api.mutating_p99": 30, "rss.peak_control_plane": 3000, "rss.idle_control_plane": 140}, true,
			map[string]string{"density throughput, end to end": "NOT MEASURED", "mutating API p99 during density": "PASS",
				"control-plane peak RSS, all pods converged": "FAIL", "idle control-plane RSS": "PASS"}},
		{"large density over RSS", &Density{NodeCount: 5000, Pods: 150000},
			map[string]float64{"density.throughput": 2000, "api.mutating_p99": 30, "rss.peak_control_plane": 5000, "rss.idle_control_plane": 140}, false,
			map[string]string{"density throughput, end to end": "PASS", "mutating API p99 during density": "PASS",
				"control-plane peak RSS, all pods converged": "FAIL", "idle control-plane RSS": "PASS"}},
		{"churn has only the idle target", &Churn{NodeCount: 50}, map[string]float64{"rss.idle_control_plane": 144}, false,
			map[string]string{"idle control-plane RSS": "FAIL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := evaluateTargets(tt.w, tt.med, tt.failed)
			if len(got) != len(tt.want) {
				t.Fatalf("targets = %+v, want %d", got, len(tt.want))
			}
			for _, tg := range got {
				if tg.Verdict != tt.want[tg.Target] {
					t.Errorf("%s: verdict %q, want %q", tg.Target, tg.Verdict, tt.want[tg.Target])
				}
			}
		})
	}
}

func TestWriteJSONAndTable(t *testing.T) {
	r := &Report{Workload: "startup", Params: map[string]string{"pods": "10"}, Runs: []RunResult{{
		Run: 1, Nodes: 3, KubeletMode: "hollow", Etcd: "external",
		Figures:       []Figure{fig("startup.p99", math.NaN()), fig("rss.idle_control_plane", 90)},
		API:           APIResult{Mutating: APICall{Resource: "*", Verb: "mutating", P99Ms: math.NaN()}},
		EtcdReference: &EtcdResult{PutsPerSecond: math.Inf(1), LatencyMs: stats.Summarize(nil)},
		Workload:      &StartupResult{StartupMs: stats.Summarize(nil)},
		WriteRatio:    math.NaN(),
	}}}
	r.summarize(&Startup{NodeCount: 3, Pods: 10, Rate: 100})
	path := filepath.Join(t.TempDir(), "sub", "result.json")
	if err := r.writeJSON(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("result.json is not JSON: %v\n%s", err, b)
	}
	run := back["runs"].([]any)[0].(map[string]any)
	if run["apiserver_writes_per_etcd_put"] != nil || run["figures"].([]any)[0].(map[string]any)["value"] != nil {
		t.Fatalf("NaN not written as null: %v", run)
	}
	if run["figures"].([]any)[1].(map[string]any)["value"] != 90.0 {
		t.Fatalf("figure value lost: %v", run["figures"])
	}
	if !bytes.HasPrefix(b, []byte("{\n  \"workload\": \"startup\"")) {
		t.Fatalf("fields not in struct order:\n%.200s", b)
	}
	var out bytes.Buffer
	r.PrintTable(&out)
	for _, want := range []string{"coxbench startup: 3 nodes", "parameters: pods=10", "startup.p99", "NOT MEASURED", "idle control-plane RSS"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestPlotSeries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pods.png")
	pts := []Point{{T: 0}, {T: 1, Created: 10, Bound: 5}, {T: 2, Created: 20, Bound: 20, Running: 15}, {T: 3, Created: 20, Bound: 20, Running: 20, Deleted: 2}}
	if err := plotSeries(path, "test", pts); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("pods.png is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 200 {
		t.Fatalf("image is %v", b)
	}
}

func TestEmbeddedEtcdEndpoint(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		log, want string
	}{
		{`time=x level=INFO msg="embedded etcd started" component=apiserver dir=/d/etcd endpoint=127.0.0.1:43210` + "\n", "http://127.0.0.1:43210"},
		{`time=x level=INFO msg="embedded etcd started" endpoint="http://127.0.0.1:5"` + "\n", "http://127.0.0.1:5"},
		{"nothing here\n", ""},
	}
	for i, tt := range tests {
		p := filepath.Join(dir, idx(i))
		os.WriteFile(p, []byte(tt.log), 0o644)
		got, err := embeddedEtcdEndpoint(p)
		if tt.want == "" {
			if err == nil {
				t.Errorf("%q: no error", tt.log)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: %q, %v; want %q", tt.log, got, err, tt.want)
		}
	}
}

func TestProcessStopAndPorts(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh: ", err)
	}
	dir := t.TempDir()
	// A process ignoring SIGTERM, with a child: the group is killed after the grace period.
	p, err := startProcess("stubborn", GroupNodes, sh, []string{"-c", `trap "" TERM; echo started; sleep 60 & wait`}, dir)
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the trap is set.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, _ := os.ReadFile(filepath.Join(dir, "stubborn.log")); strings.Contains(string(b), "started") {
			break
		}
		if done, err := p.exited(); done || time.Now().After(deadline) {
			t.Fatalf("helper did not start: exited %v (%v)", done, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	p.stop(300 * time.Millisecond)
	if done, err := p.exited(); !done || err == nil {
		t.Fatalf("after stop: exited %v, %v", done, err)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 10*time.Second {
		t.Fatalf("stop took %v, want the 300ms grace then a kill", d)
	}
	if _, err := startProcess("x", GroupNodes, filepath.Join(dir, "missing"), nil, dir); err == nil || !strings.Contains(err.Error(), "make build") {
		t.Fatalf("missing binary: %v", err)
	}
	ports, err := freePorts(20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] || p <= 0 {
			t.Fatalf("ports %v not distinct", ports)
		}
		seen[p] = true
	}
}

func TestChurnConvergence(t *testing.T) {
	tests := []struct {
		name string
		s    ChurnState
		want bool
	}{
		{"converged", ChurnState{Deployments: 2, Pods: 5, WantPods: 5}, true},
		{"missing pods", ChurnState{Pods: 4, WantPods: 5}, false},
		{"orphan rs", ChurnState{Pods: 5, WantPods: 5, OrphanReplicaSets: 1}, false},
		{"orphan pod", ChurnState{Pods: 5, WantPods: 5, OrphanPods: 1}, false},
		{"terminating", ChurnState{Pods: 5, WantPods: 5, TerminatingPods: 1}, false},
		{"incomplete", ChurnState{Pods: 5, WantPods: 5, IncompleteDeployments: 1}, false},
		{"not running", ChurnState{Pods: 5, WantPods: 5, NotRunningPods: 1}, false},
	}
	for _, tt := range tests {
		if got := tt.s.converged(); got != tt.want {
			t.Errorf("%s: converged = %v", tt.name, got)
		}
	}
	tru := true
	m := &metav1.ObjectMeta{OwnerReferences: []*metav1.OwnerReference{{Uid: "a"}, {Uid: "b", Controller: &tru}}}
	if controllerOf(m) != "b" || controllerOf(&metav1.ObjectMeta{}) != "" {
		t.Error("controllerOf")
	}
	st := &churnState{rnd: newRand(1), busy: map[string]bool{}}
	var mu sync.Mutex
	ops := map[string]int{}
	for range 200 {
		op, name := st.pick(10)
		mu.Lock()
		ops[op]++
		mu.Unlock()
		st.release(name, op == "delete")
	}
	if ops["create"] == 0 || ops["scale"] == 0 || ops["rollout"] == 0 || ops["delete"] == 0 {
		t.Fatalf("operation mix %v lacks a kind", ops)
	}
	if n := len(st.live); n < 1 || n >= 20 {
		t.Fatalf("population %d drifted outside [1, 20)", n)
	}
}
