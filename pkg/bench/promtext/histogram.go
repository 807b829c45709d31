package promtext

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Bucket is one cumulative histogram bucket: Count observations were <= UpperBound.
type Bucket struct {
	UpperBound float64 `json:"le"`
	Count      float64 `json:"count"`
}

// Histogram is a cumulative Prometheus histogram; Buckets are sorted by UpperBound and the last one
// is +Inf (its Count equals Count).
type Histogram struct {
	Buckets []Bucket `json:"buckets"`
	Count   float64  `json:"count"`
	Sum     float64  `json:"sum"`
}

// Series is one histogram of a family, identified by the labels it was grouped by.
type Series struct {
	Labels    Labels    `json:"labels"`
	Histogram Histogram `json:"histogram"`
}

// Histograms assembles the histogram family name (its name_bucket, name_count and name_sum series)
// grouped by the labels in by: series differing only in other labels are added together. The
// result is sorted by labels.
func (s Samples) Histograms(name string, by ...string) ([]Series, error) {
	type group struct {
		labels   Labels
		buckets  map[float64]float64
		count    float64
		sum      float64
		hasCount bool
	}
	groups := map[string]*group{}
	get := func(l Labels) *group {
		key := make([]string, len(by))
		sel := make(Labels, 0, len(by))
		for i, b := range by {
			key[i] = l.Get(b)
			sel = append(sel, Label{Name: b, Value: key[i]})
		}
		k := strings.Join(key, "\x00")
		g := groups[k]
		if g == nil {
			slices.SortFunc(sel, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
			g = &group{labels: sel, buckets: map[float64]float64{}}
			groups[k] = g
		}
		return g
	}
	for _, x := range s {
		switch x.Name {
		case name + "_bucket":
			le, err := parseLE(x.Labels.Get("le"))
			if err != nil {
				return nil, fmt.Errorf("histogram %s%s: le %q is not a number", name, x.Labels, x.Labels.Get("le"))
			}
			get(x.Labels).buckets[le] += x.Value
		case name + "_count":
			g := get(x.Labels)
			g.count += x.Value
			g.hasCount = true
		case name + "_sum":
			get(x.Labels).sum += x.Value
		}
	}
	out := make([]Series, 0, len(groups))
	for _, g := range groups {
		h := Histogram{Count: g.count, Sum: g.sum}
		for le, c := range g.buckets {
			h.Buckets = append(h.Buckets, Bucket{UpperBound: le, Count: c})
		}
		slices.SortFunc(h.Buckets, func(a, b Bucket) int { return cmpFloat(a.UpperBound, b.UpperBound) })
		if n := len(h.Buckets); n == 0 || !math.IsInf(h.Buckets[n-1].UpperBound, 1) {
			if !g.hasCount {
				return nil, fmt.Errorf("histogram %s%s: no +Inf bucket and no _count", name, g.labels)
			}
			h.Buckets = append(h.Buckets, Bucket{UpperBound: math.Inf(1), Count: g.count})
		}
		if !g.hasCount {
			h.Count = h.Buckets[len(h.Buckets)-1].Count
		}
		for i := 1; i < len(h.Buckets); i++ {
			if h.Buckets[i].Count < h.Buckets[i-1].Count {
				return nil, fmt.Errorf("histogram %s%s: bucket le=%g has fewer observations (%g) than le=%g (%g): buckets must be cumulative",
					name, g.labels, h.Buckets[i].UpperBound, h.Buckets[i].Count, h.Buckets[i-1].UpperBound, h.Buckets[i-1].Count)
			}
		}
		out = append(out, Series{Labels: g.labels, Histogram: h})
	}
	slices.SortFunc(out, func(a, b Series) int { return strings.Compare(a.Labels.String(), b.Labels.String()) })
	return out, nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func sameBounds(a, b []Bucket) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].UpperBound != b[i].UpperBound {
			return false
		}
	}
	return true
}

// Sub returns h - prev: the observations made between two scrapes. An empty prev counts as zero; the
// bucket layouts must match, and a decrease (the process restarted) is an error.
func (h Histogram) Sub(prev Histogram) (Histogram, error) {
	if len(prev.Buckets) == 0 {
		return h.clone(), nil
	}
	if !sameBounds(h.Buckets, prev.Buckets) {
		return Histogram{}, fmt.Errorf("histogram diff: bucket layouts differ (%d vs %d buckets)", len(h.Buckets), len(prev.Buckets))
	}
	out := Histogram{Count: h.Count - prev.Count, Sum: h.Sum - prev.Sum, Buckets: make([]Bucket, len(h.Buckets))}
	for i := range h.Buckets {
		c := h.Buckets[i].Count - prev.Buckets[i].Count
		if c < 0 {
			return Histogram{}, fmt.Errorf("histogram diff: bucket le=%g went down from %g to %g (counter reset: did the process restart?)",
				h.Buckets[i].UpperBound, prev.Buckets[i].Count, h.Buckets[i].Count)
		}
		out.Buckets[i] = Bucket{UpperBound: h.Buckets[i].UpperBound, Count: c}
	}
	if out.Count < 0 {
		return Histogram{}, fmt.Errorf("histogram diff: count went down from %g to %g (counter reset: did the process restart?)", prev.Count, h.Count)
	}
	return out, nil
}

// Add returns h + o (an empty operand counts as zero); the bucket layouts must match.
func (h Histogram) Add(o Histogram) (Histogram, error) {
	if len(o.Buckets) == 0 {
		return h.clone(), nil
	}
	if len(h.Buckets) == 0 {
		return o.clone(), nil
	}
	if !sameBounds(h.Buckets, o.Buckets) {
		return Histogram{}, fmt.Errorf("histogram add: bucket layouts differ (%d vs %d buckets)", len(h.Buckets), len(o.Buckets))
	}
	out := Histogram{Count: h.Count + o.Count, Sum: h.Sum + o.Sum, Buckets: make([]Bucket, len(h.Buckets))}
	for i := range h.Buckets {
		out.Buckets[i] = Bucket{UpperBound: h.Buckets[i].UpperBound, Count: h.Buckets[i].Count + o.Buckets[i].Count}
	}
	return out, nil
}

func (h Histogram) clone() Histogram {
	h.Buckets = slices.Clone(h.Buckets)
	return h
}

// total is the number of observations (the +Inf bucket).
func (h Histogram) total() float64 {
	if len(h.Buckets) == 0 {
		return 0
	}
	return h.Buckets[len(h.Buckets)-1].Count
}

// Quantile estimates the q-quantile (0 <= q <= 1) like PromQL's histogram_quantile: it finds the
// bucket holding the rank q*count and interpolates linearly inside it (the first bucket starts at
// 0; a rank in the +Inf bucket gives the highest finite bound). NaN without observations.
func (h Histogram) Quantile(q float64) float64 {
	total := h.total()
	switch {
	case total == 0 || math.IsNaN(q):
		return math.NaN()
	case q < 0:
		return math.Inf(-1)
	case q > 1:
		return math.Inf(1)
	}
	rank := q * total
	b := 0
	for b < len(h.Buckets)-1 && h.Buckets[b].Count < rank {
		b++
	}
	if math.IsInf(h.Buckets[b].UpperBound, 1) {
		if b == 0 {
			return math.NaN()
		}
		return h.Buckets[b-1].UpperBound
	}
	upper := h.Buckets[b].UpperBound
	start, prev := 0.0, 0.0
	if b > 0 {
		start, prev = h.Buckets[b-1].UpperBound, h.Buckets[b-1].Count
	} else if upper <= 0 {
		return upper
	}
	inBucket := h.Buckets[b].Count - prev
	if inBucket <= 0 {
		return upper
	}
	return start + (upper-start)*(rank-prev)/inBucket
}

// FractionAtMost is the fraction of observations in buckets whose upper bound is <= v: exact when v is
// a bucket bound, a lower bound otherwise. NaN without observations.
func (h Histogram) FractionAtMost(v float64) float64 {
	total := h.total()
	if total == 0 {
		return math.NaN()
	}
	n := 0.0
	for _, b := range h.Buckets {
		if b.UpperBound <= v {
			n = b.Count
		}
	}
	return n / total
}

// Mean is Sum/Count (NaN without observations).
func (h Histogram) Mean() float64 {
	if h.Count == 0 {
		return math.NaN()
	}
	return h.Sum / h.Count
}

// DiffSeries subtracts before from after series by series (matched on labels; a series missing from
// before counts from zero).
func DiffSeries(after, before []Series) ([]Series, error) {
	prev := make(map[string]Histogram, len(before))
	for _, s := range before {
		prev[s.Labels.String()] = s.Histogram
	}
	out := make([]Series, 0, len(after))
	for _, s := range after {
		d, err := s.Histogram.Sub(prev[s.Labels.String()])
		if err != nil {
			return nil, fmt.Errorf("series %s: %w", s.Labels, err)
		}
		out = append(out, Series{Labels: s.Labels, Histogram: d})
	}
	return out, nil
}

// Merge adds the histograms of series.
func Merge(series []Series) (Histogram, error) {
	var h Histogram
	for _, s := range series {
		var err error
		if h, err = h.Add(s.Histogram); err != nil {
			return Histogram{}, fmt.Errorf("series %s: %w", s.Labels, err)
		}
	}
	return h, nil
}
