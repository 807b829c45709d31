package promtext

import (
	"context"
	"fmt"
	"math"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Samples
		wantErr string
	}{
		{name: "comments and blank lines", in: "# HELP x help\n# TYPE x counter\n\nx 3\n",
			want: Samples{{Name: "x", Value: 3}}},
		{name: "labels sorted", in: `m{verb="GET",resource="pods"} 1.5`,
			want: Samples{{Name: "m", Labels: Labels{{"resource", "pods"}, {"verb", "GET"}}, Value: 1.5}}},
		{name: "escapes", in: `m{a="q\"uo\\te\n"} 1`,
			want: Samples{{Name: "m", Labels: Labels{{"a", "q\"uo\\te\n"}}, Value: 1}}},
		{name: "comma and spaces inside value", in: `m{a="x, y} z",b="2"} 1`,
			want: Samples{{Name: "m", Labels: Labels{{"a", "x, y} z"}, {"b", "2"}}, Value: 1}}},
		{name: "trailing comma", in: `m{a="1",} 2`, want: Samples{{Name: "m", Labels: Labels{{"a", "1"}}, Value: 2}}},
		{name: "empty label set", in: `m{} 2`, want: Samples{{Name: "m", Value: 2}}},
		{name: "timestamp", in: "m 2 1700000000000", want: Samples{{Name: "m", Value: 2}}},
		{name: "special values", in: "a +Inf\nb -Inf\nc 1e-3",
			want: Samples{{Name: "a", Value: math.Inf(1)}, {Name: "b", Value: math.Inf(-1)}, {Name: "c", Value: 0.001}}},
		{name: "colon in name", in: "job:rate 4", want: Samples{{Name: "job:rate", Value: 4}}},
		{name: "no value", in: "m", wantErr: "line 1: value of m"},
		{name: "bad value", in: "m abc", wantErr: `"abc" is not a number`},
		{name: "bad timestamp", in: "m 1 x", wantErr: "timestamp of m"},
		{name: "three fields", in: "m 1 2 3", wantErr: "expected `value [timestamp]`"},
		{name: "unterminated labels", in: `m{a="1" 2`, wantErr: "expected ',' or '}'"},
		{name: "unterminated value", in: `m{a="1} 2`, wantErr: "unterminated value"},
		{name: "missing quote", in: `m{a=1} 2`, wantErr: "expected a quoted value"},
		{name: "bad escape", in: `m{a="\t"} 2`, wantErr: `invalid escape`},
		{name: "repeated label", in: `m{a="1",a="2"} 2`, wantErr: "repeated"},
		{name: "digit first", in: "1m 2", wantErr: "metric name"},
		{name: "error names the line", in: "ok 1\n\nbad{ 2", wantErr: "line 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("Parse = %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i].Name != tt.want[i].Name || got[i].Labels.String() != tt.want[i].Labels.String() || got[i].Value != tt.want[i].Value {
					t.Fatalf("sample %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

const apiHist = `# TYPE apiserver_request_duration_seconds histogram
apiserver_request_duration_seconds_bucket{resource="pods",verb="CREATE",le="0.01"} 50
apiserver_request_duration_seconds_bucket{resource="pods",verb="CREATE",le="0.05"} 90
apiserver_request_duration_seconds_bucket{resource="pods",verb="CREATE",le="0.1"} 100
apiserver_request_duration_seconds_bucket{resource="pods",verb="CREATE",le="+Inf"} 100
apiserver_request_duration_seconds_sum{resource="pods",verb="CREATE"} 2
apiserver_request_duration_seconds_count{resource="pods",verb="CREATE"} 100
apiserver_request_duration_seconds_bucket{resource="pods",verb="LIST",le="0.01"} 4
apiserver_request_duration_seconds_bucket{resource="pods",verb="LIST",le="0.05"} 4
apiserver_request_duration_seconds_bucket{resource="pods",verb="LIST",le="0.1"} 4
apiserver_request_duration_seconds_bucket{resource="pods",verb="LIST",le="+Inf"} 4
apiserver_request_duration_seconds_sum{resource="pods",verb="LIST"} 0.01
apiserver_request_duration_seconds_count{resource="pods",verb="LIST"} 4
apiserver_request_duration_seconds_bucket{resource="nodes",verb="UPDATE",le="0.01"} 0
apiserver_request_duration_seconds_bucket{resource="nodes",verb="UPDATE",le="0.05"} 0
apiserver_request_duration_seconds_bucket{resource="nodes",verb="UPDATE",le="0.1"} 10
apiserver_request_duration_seconds_bucket{resource="nodes",verb="UPDATE",le="+Inf"} 20
apiserver_request_duration_seconds_sum{resource="nodes",verb="UPDATE"} 30
apiserver_request_duration_seconds_count{resource="nodes",verb="UPDATE"} 20
`

func mustHist(t *testing.T, text, name string, by ...string) []Series {
	t.Helper()
	s, err := Parse(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Histograms(name, by...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func find(t *testing.T, ss []Series, labels string) Histogram {
	t.Helper()
	for _, s := range ss {
		if s.Labels.String() == labels {
			return s.Histogram
		}
	}
	t.Fatalf("no series %s in %+v", labels, ss)
	return Histogram{}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestHistogramsAndQuantile(t *testing.T) {
	ss := mustHist(t, apiHist, "apiserver_request_duration_seconds", "resource", "verb")
	if len(ss) != 3 {
		t.Fatalf("got %d series, want 3: %+v", len(ss), ss)
	}
	create := find(t, ss, `{resource="pods",verb="CREATE"}`)
	upd := find(t, ss, `{resource="nodes",verb="UPDATE"}`)
	tests := []struct {
		name string
		h    Histogram
		q    float64
		want float64
	}{
		// rank 50 is exactly the top of the first bucket [0, 0.01].
		{"p50 first bucket", create, 0.5, 0.01},
		// rank 25 of 50 in [0, 0.01] -> halfway.
		{"p25 interpolated in first bucket", create, 0.25, 0.005},
		// rank 70: 20 of the 40 in (0.01, 0.05] -> 0.03.
		{"p70 interpolated", create, 0.7, 0.03},
		// rank 99: 9 of the 10 in (0.05, 0.1] -> 0.095.
		{"p99", create, 0.99, 0.095},
		{"p100", create, 1, 0.1},
		// rank 19.8 falls in the +Inf bucket -> highest finite bound.
		{"p99 in +Inf bucket", upd, 0.99, 0.1},
		// rank 5 in (0.05, 0.1] with nothing below -> 0.05 + 0.05*5/10.
		{"p25 skips empty buckets", upd, 0.25, 0.075},
		{"q<0", create, -1, math.Inf(-1)},
		{"q>1", create, 2, math.Inf(1)},
	}
	for _, tt := range tests {
		if got := tt.h.Quantile(tt.q); !near(got, tt.want) && got != tt.want {
			t.Errorf("%s: Quantile(%v) = %v, want %v", tt.name, tt.q, got, tt.want)
		}
	}
	if got := (Histogram{}).Quantile(0.5); !math.IsNaN(got) {
		t.Errorf("empty Quantile = %v, want NaN", got)
	}
	if got := create.FractionAtMost(0.05); got != 0.9 {
		t.Errorf("FractionAtMost(0.05) = %v, want 0.9", got)
	}
	if got := upd.FractionAtMost(0.1); got != 0.5 {
		t.Errorf("FractionAtMost(0.1) = %v, want 0.5", got)
	}
	if got := create.Mean(); got != 0.02 {
		t.Errorf("Mean = %v, want 0.02", got)
	}

	// Grouping by resource only adds CREATE and LIST of pods together.
	byRes := mustHist(t, apiHist, "apiserver_request_duration_seconds", "resource")
	pods := find(t, byRes, `{resource="pods"}`)
	if pods.Count != 104 || pods.Buckets[0].Count != 54 || pods.Buckets[3].Count != 104 {
		t.Fatalf("pods by resource = %+v, want count 104 and first bucket 54", pods)
	}
}

func TestDiffAndMerge(t *testing.T) {
	before := mustHist(t, apiHist, "apiserver_request_duration_seconds", "resource", "verb")
	later := strings.NewReplacer(
		`verb="CREATE",le="0.01"} 50`, `verb="CREATE",le="0.01"} 60`,
		`verb="CREATE",le="0.05"} 90`, `verb="CREATE",le="0.05"} 110`,
		`verb="CREATE",le="0.1"} 100`, `verb="CREATE",le="0.1"} 130`,
		`verb="CREATE",le="+Inf"} 100`, `verb="CREATE",le="+Inf"} 140`,
		`verb="CREATE"} 100`, `verb="CREATE"} 140`,
	).Replace(apiHist) + `apiserver_request_duration_seconds_bucket{resource="pods",verb="DELETE",le="0.01"} 1
apiserver_request_duration_seconds_bucket{resource="pods",verb="DELETE",le="0.05"} 1
apiserver_request_duration_seconds_bucket{resource="pods",verb="DELETE",le="0.1"} 1
apiserver_request_duration_seconds_bucket{resource="pods",verb="DELETE",le="+Inf"} 1
apiserver_request_duration_seconds_count{resource="pods",verb="DELETE"} 1
`
	after := mustHist(t, later, "apiserver_request_duration_seconds", "resource", "verb")
	d, err := DiffSeries(after, before)
	if err != nil {
		t.Fatal(err)
	}
	c := find(t, d, `{resource="pods",verb="CREATE"}`)
	want := []float64{10, 20, 30, 40}
	for i, b := range c.Buckets {
		if b.Count != want[i] {
			t.Fatalf("diff CREATE buckets = %+v, want counts %v", c.Buckets, want)
		}
	}
	if c.Count != 40 {
		t.Fatalf("diff CREATE count = %v, want 40", c.Count)
	}
	if l := find(t, d, `{resource="pods",verb="LIST"}`); l.Count != 0 || !math.IsNaN(l.Quantile(0.99)) {
		t.Fatalf("unchanged LIST diff = %+v, want empty", l)
	}
	if del := find(t, d, `{resource="pods",verb="DELETE"}`); del.Count != 1 {
		t.Fatalf("new DELETE series diff = %+v, want count 1", del)
	}
	// 40 new CREATE observations: 10 in [0,.01], 10 in (.01,.05], 10 in (.05,.1], 10 in +Inf.
	if got := c.Quantile(0.5); !near(got, 0.05) {
		t.Fatalf("diff p50 = %v, want 0.05", got)
	}
	m, err := Merge(d)
	if err != nil {
		t.Fatal(err)
	}
	if m.Count != 41 || m.Buckets[0].Count != 11 {
		t.Fatalf("Merge = %+v, want count 41 and first bucket 11", m)
	}

	// A counter that went down is a restart, not a negative rate.
	if _, err := DiffSeries(before, after); err == nil || !strings.Contains(err.Error(), "counter reset") {
		t.Fatalf("reverse diff error = %v, want a counter reset", err)
	}
	// Different layouts cannot be diffed.
	odd := Histogram{Buckets: []Bucket{{1, 1}, {math.Inf(1), 1}}, Count: 1}
	if _, err := c.Sub(odd); err == nil {
		t.Fatal("Sub with a different layout succeeded")
	}
	if _, err := c.Add(odd); err == nil {
		t.Fatal("Add with a different layout succeeded")
	}
}

func TestHistogramErrors(t *testing.T) {
	s, err := Parse(strings.NewReader("h_bucket{le=\"1\"} 5\nh_bucket{le=\"2\"} 3\nh_bucket{le=\"+Inf\"} 5\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Histograms("h"); err == nil || !strings.Contains(err.Error(), "cumulative") {
		t.Fatalf("non-cumulative buckets: err = %v", err)
	}
	s, _ = Parse(strings.NewReader("h_bucket{le=\"x\"} 5\n"))
	if _, err := s.Histograms("h"); err == nil || !strings.Contains(err.Error(), "le") {
		t.Fatalf("bad le: err = %v", err)
	}
	s, _ = Parse(strings.NewReader("h_bucket{le=\"1\"} 5\n"))
	if _, err := s.Histograms("h"); err == nil || !strings.Contains(err.Error(), "+Inf") {
		t.Fatalf("no +Inf and no count: err = %v", err)
	}
}

func TestParseNames(t *testing.T) {
	in := "# HELP g x\ng{kind=\"mutating\"} 3\ng_other 9\ngx 1\nbroken{{{ 1\ng 4\n"
	s, err := ParseNames(strings.NewReader(in), "g")
	if err != nil {
		t.Fatalf("ParseNames parsed a line it should skip: %v", err)
	}
	if len(s) != 2 || s.Sum("g", nil) != 7 {
		t.Fatalf("ParseNames = %+v, want the two g samples", s)
	}
	if _, err := Parse(strings.NewReader(in)); err == nil {
		t.Fatal("Parse accepted the broken line")
	}
}

func TestSums(t *testing.T) {
	s, err := Parse(strings.NewReader(`scheduler_schedule_attempts_total{result="scheduled"} 10
scheduler_schedule_attempts_total{result="error"} 1
scheduler_schedule_attempts_total{result="unschedulable"} 2
other 5
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Sum("scheduler_schedule_attempts_total", nil); got != 13 {
		t.Errorf("Sum = %v, want 13", got)
	}
	if got := s.Sum("scheduler_schedule_attempts_total", map[string]string{"result": "scheduled"}); got != 10 {
		t.Errorf("Sum scheduled = %v, want 10", got)
	}
	by := s.SumBy("scheduler_schedule_attempts_total", "result")
	if by["error"] != 1 || by["unschedulable"] != 2 || len(by) != 3 {
		t.Errorf("SumBy = %v", by)
	}
	if !s.Has("other") || s.Has("missing") {
		t.Error("Has is wrong")
	}
}

// TestFetchRealRegistry scrapes a real client_golang registry over HTTP and checks that the quantile
// computed from the diff of two scrapes reflects only the observations made in between.
func TestFetchRealRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "apiserver_request_duration_seconds",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"resource", "verb"})
	reg.MustRegister(h)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	for range 1000 {
		h.WithLabelValues("pods", "CREATE").Observe(2) // slow, before the window
	}
	ctx := context.Background()
	before, err := Fetch(ctx, srv.Client(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		v := 0.002 // 99 fast ones in (.001, .0025]
		if i == 99 {
			v = 0.3 // one in (.25, .5]
		}
		h.WithLabelValues("pods", "CREATE").Observe(v)
	}
	after, err := Fetch(ctx, srv.Client(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := after.Histograms("apiserver_request_duration_seconds", "resource", "verb")
	b, _ := before.Histograms("apiserver_request_duration_seconds", "resource", "verb")
	d, err := DiffSeries(a, b)
	if err != nil {
		t.Fatal(err)
	}
	c := find(t, d, `{resource="pods",verb="CREATE"}`)
	if c.Count != 100 {
		t.Fatalf("window count = %v, want 100", c.Count)
	}
	if p99 := c.Quantile(0.99); p99 < 0.001 || p99 > 0.0025 {
		t.Fatalf("window p99 = %v, want within (0.001, 0.0025]", p99)
	}
	if p100 := c.Quantile(1); p100 <= 0.25 || p100 > 0.5 {
		t.Fatalf("window max = %v, want within (0.25, 0.5]", p100)
	}
	if _, err := Fetch(ctx, srv.Client(), srv.URL+"/nope\x00"); err == nil {
		t.Fatal("Fetch of a bad URL succeeded")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(apiHist)
	f.Add(`m{a="x\"y",b="2"} 1 17`)
	f.Add("m{")
	f.Add("# only a comment")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, x := range s {
			if x.Name == "" {
				t.Fatalf("sample without a name from %q", in)
			}
			for i := 1; i < len(x.Labels); i++ {
				if x.Labels[i-1].Name >= x.Labels[i].Name {
					t.Fatalf("labels not sorted/unique: %v", x.Labels)
				}
			}
		}
		// Grouping never panics, and any histogram it accepts is cumulative with a +Inf bucket.
		for _, x := range s {
			name := strings.TrimSuffix(x.Name, "_bucket")
			hs, err := s.Histograms(name, "le")
			if err != nil {
				continue
			}
			for _, h := range hs {
				bs := h.Histogram.Buckets
				if len(bs) == 0 || !math.IsInf(bs[len(bs)-1].UpperBound, 1) {
					t.Fatalf("histogram %s without +Inf bucket: %+v", name, bs)
				}
				_ = h.Histogram.Quantile(0.99)
			}
		}
	})
}

// bigScrape is an apiserver-sized exposition: 20 resources x 8 verbs x 15 buckets.
func bigScrape() string {
	var b strings.Builder
	les := []string{"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"}
	for r := range 20 {
		for _, v := range []string{"CREATE", "GET", "LIST", "UPDATE", "UPDATESTATUS", "DELETE", "BIND", "WATCH"} {
			for i, le := range les {
				fmt.Fprintf(&b, "apiserver_request_duration_seconds_bucket{resource=\"r%d\",verb=\"%s\",le=\"%s\"} %d\n", r, v, le, (i+1)*100)
			}
			fmt.Fprintf(&b, "apiserver_request_duration_seconds_count{resource=\"r%d\",verb=\"%s\"} 1500\n", r, v)
			fmt.Fprintf(&b, "apiserver_request_duration_seconds_sum{resource=\"r%d\",verb=\"%s\"} 12.5\n", r, v)
		}
	}
	return b.String()
}

func BenchmarkParseAndDiff(b *testing.B) {
	text := bigScrape()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		s, err := Parse(strings.NewReader(text))
		if err != nil {
			b.Fatal(err)
		}
		h, err := s.Histograms("apiserver_request_duration_seconds", "resource", "verb")
		if err != nil {
			b.Fatal(err)
		}
		d, err := DiffSeries(h, h)
		if err != nil || len(d) != 160 {
			b.Fatal(err, len(d))
		}
	}
}
