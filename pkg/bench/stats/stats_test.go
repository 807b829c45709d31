package stats

import (
	"math"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[i] = float64(i + 1) // 1..100
	}
	tests := []struct {
		name   string
		sorted []float64
		p      float64
		want   float64
	}{
		{"empty", nil, 50, math.NaN()},
		{"single p50", []float64{7}, 50, 7},
		{"single p99", []float64{7}, 99, 7},
		{"p0 is min", []float64{1, 2, 3}, 0, 1},
		{"p100 is max", []float64{1, 2, 3}, 100, 3},
		{"p50 of 1..100", hundred, 50, 50},
		{"p90 of 1..100", hundred, 90, 90},
		{"p99 of 1..100", hundred, 99, 99},
		{"p99.9 of 1..100", hundred, 99.9, 100},
		{"p50 of 4 values is the 2nd", []float64{10, 20, 30, 40}, 50, 20},
		{"p51 of 4 values is the 3rd", []float64{10, 20, 30, 40}, 51, 30},
		{"p99 of 10 values is the max", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 1000}, 99, 1000},
		{"p90 of 10 values", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 1000}, 90, 9},
		{"NaN p", []float64{1}, math.NaN(), math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Percentile(tt.sorted, tt.p)
			if math.IsNaN(tt.want) {
				if !math.IsNaN(got) {
					t.Fatalf("Percentile = %v, want NaN", got)
				}
				return
			}
			if got != tt.want {
				t.Fatalf("Percentile(%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	in := []float64{5, 1, 4, 2, 3}
	s := Summarize(in)
	want := Summary{Count: 5, Min: 1, Mean: 3, P50: 3, P90: 5, P99: 5, Max: 5}
	if s != want {
		t.Fatalf("Summarize = %+v, want %+v", s, want)
	}
	if in[0] != 5 || in[1] != 1 {
		t.Fatalf("Summarize sorted its input in place: %v", in)
	}
	e := Summarize(nil)
	if e.Count != 0 || !math.IsNaN(e.P99) || !math.IsNaN(e.Mean) {
		t.Fatalf("Summarize(nil) = %+v, want zero count and NaNs", e)
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{9}, 9},
		{[]float64{math.NaN(), 5, 1}, 3},
		{[]float64{1500, 1700, 1600}, 1600},
	}
	for _, tt := range tests {
		if got := Median(tt.in); got != tt.want {
			t.Errorf("Median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
	if got := Median(nil); !math.IsNaN(got) {
		t.Errorf("Median(nil) = %v, want NaN", got)
	}
	if got := Median([]float64{math.NaN()}); !math.IsNaN(got) {
		t.Errorf("Median(NaN) = %v, want NaN", got)
	}
}

func TestMillis(t *testing.T) {
	got := Millis([]time.Duration{1500 * time.Microsecond, 2 * time.Second})
	if got[0] != 1.5 || got[1] != 2000 {
		t.Fatalf("Millis = %v, want [1.5 2000]", got)
	}
}

func FuzzPercentile(f *testing.F) {
	f.Add(3, 50.0)
	f.Add(100, 99.0)
	f.Add(1, 0.0)
	f.Fuzz(func(t *testing.T, n int, p float64) {
		if n < 1 || n > 10000 || math.IsNaN(p) {
			return
		}
		s := make([]float64, n)
		for i := range s {
			s[i] = float64(i)
		}
		got := Percentile(s, p)
		if got < 0 || got > float64(n-1) {
			t.Fatalf("Percentile(%d values, %v) = %v: outside the values", n, p, got)
		}
		// Nearest rank: at least p% of the values are <= got.
		if p > 0 && p < 100 && (got+1)/float64(n)*100 < p-1e-9 {
			t.Fatalf("Percentile(%d values, %v) = %v: only %v%% of the values are <= it", n, p, got, (got+1)/float64(n)*100)
		}
	})
}

func TestHistogramMatchesExactPercentiles(t *testing.T) {
	tests := []struct {
		name   string
		values func(i int) float64
		n      int
	}{
		{"uniform 1..10000", func(i int) float64 { return float64(i + 1) }, 10000},
		{"sub-millisecond", func(i int) float64 { return 0.01 + float64(i)*0.0007 }, 5000},
		{"long tail", func(i int) float64 {
			if i%100 == 0 {
				return 2000 + float64(i)
			}
			return 3 + float64(i%17)
		}, 20000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Histogram
			vals := make([]float64, tt.n)
			for i := range vals {
				vals[i] = tt.values(i)
				h.Add(vals[i])
			}
			exact := Summarize(vals)
			got := h.Summary()
			if got.Count != exact.Count || got.Min != exact.Min || got.Max != exact.Max || math.Abs(got.Mean-exact.Mean) > 1e-6*exact.Mean {
				t.Fatalf("summary %+v, exact %+v", got, exact)
			}
			for _, pair := range [][2]float64{{got.P50, exact.P50}, {got.P90, exact.P90}, {got.P99, exact.P99}} {
				if pair[0] < pair[1] || pair[0] > pair[1]*1.0101 {
					t.Fatalf("histogram percentile %v not within 1%% above the exact %v (summary %+v vs %+v)", pair[0], pair[1], got, exact)
				}
			}
		})
	}
}

func TestHistogramMergeAndEdges(t *testing.T) {
	var a, b Histogram
	for i := 1; i <= 50; i++ {
		a.Add(float64(i))
	}
	for i := 51; i <= 100; i++ {
		b.Add(float64(i))
	}
	b.Add(math.NaN())
	a.Merge(&b)
	a.Merge(&Histogram{})
	if a.Count() != 100 || a.Percentile(0) != 1 || a.Percentile(100) != 100 {
		t.Fatalf("merged: count %d min %v max %v", a.Count(), a.Percentile(0), a.Percentile(100))
	}
	if p := a.Percentile(99); p < 99 || p > 99*1.0101 {
		t.Fatalf("merged p99 = %v, want ~99", p)
	}
	var e Histogram
	if !math.IsNaN(e.Percentile(50)) || e.Summary().Count != 0 {
		t.Fatal("empty histogram has percentiles")
	}
	e.Add(-5)
	e.Add(0)
	if e.Percentile(50) != 0 || e.Count() != 2 {
		t.Fatalf("non-positive values: p50 %v count %d", e.Percentile(50), e.Count())
	}
}
