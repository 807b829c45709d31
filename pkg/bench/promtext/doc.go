// Package promtext reads the Prometheus text exposition format that every coxswain component serves on
// /metrics, and does the histogram arithmetic coxbench needs: grouping a histogram's series by some
// labels, diffing two scrapes (after - before) and estimating quantiles from the buckets the way
// PromQL's histogram_quantile does.
package promtext
