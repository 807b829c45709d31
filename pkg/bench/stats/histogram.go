package stats

import (
	"math"
)

// Histogram counts positive values (e.g. milliseconds) in logarithmic buckets 1% wide, so any
// percentile it reports is within 1% above the exact nearest-rank value, in memory bounded by the
// value range (about 2,300 buckets from 0.001 to 10^7) however many values are added. Not safe for
// concurrent use: give each goroutine its own and Merge them.
type Histogram struct {
	counts   []uint64
	n        uint64
	sum      float64
	min, max float64
}

const (
	histMin    = 0.001 // values at or below it share bucket 0
	histGrowth = 1.01
)

var logGrowth = math.Log(histGrowth)

func bucketOf(v float64) int {
	if v <= histMin {
		return 0
	}
	return int(math.Ceil(math.Log(v/histMin)/logGrowth - 1e-9))
}

func upperBound(i int) float64 { return histMin * math.Pow(histGrowth, float64(i)) }

// Add records v (NaN is ignored; negative values count as 0).
func (h *Histogram) Add(v float64) {
	if math.IsNaN(v) {
		return
	}
	v = max(v, 0)
	i := bucketOf(v)
	if i >= len(h.counts) {
		h.counts = append(h.counts, make([]uint64, i+1-len(h.counts))...)
	}
	h.counts[i]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if h.n == 0 || v > h.max {
		h.max = v
	}
	h.n++
	h.sum += v
}

// Merge adds o's values to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	if len(o.counts) > len(h.counts) {
		h.counts = append(h.counts, make([]uint64, len(o.counts)-len(h.counts))...)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if h.n == 0 || o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Count is the number of values added.
func (h *Histogram) Count() uint64 { return h.n }

// Percentile is the nearest-rank percentile (the upper bound of the bucket holding it, capped at the
// maximum); NaN when empty.
func (h *Histogram) Percentile(p float64) float64 {
	if h.n == 0 || math.IsNaN(p) {
		return math.NaN()
	}
	if p <= 0 {
		return h.min
	}
	if p >= 100 {
		return h.max
	}
	rank := uint64(math.Ceil(p / 100 * float64(h.n)))
	var cum uint64
	for i, c := range h.counts {
		cum += c
		if cum >= rank {
			return max(min(upperBound(i), h.max), h.min)
		}
	}
	return h.max
}

// Summary summarizes the values like Summarize (percentiles within 1%).
func (h *Histogram) Summary() Summary {
	if h.n == 0 {
		return Summarize(nil)
	}
	return Summary{Count: int(h.n), Min: h.min, Max: h.max, Mean: h.sum / float64(h.n),
		P50: h.Percentile(50), P90: h.Percentile(90), P99: h.Percentile(99)}
}
