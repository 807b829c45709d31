// Package stats is the percentile math of coxbench: nearest-rank percentiles of raw samples, summaries
// (count, min, mean, p50, p90, p99, max) and the median of repeated runs.
package stats
