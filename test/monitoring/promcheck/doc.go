// Package promcheck checks Grafana dashboards and a Prometheus configuration against a real Prometheus
// server: it reads every panel query of a dashboard directory, rewrites a Prometheus configuration to
// scrape a given set of addresses (failing when a component is not scraped), and calls the HTTP API
// (instant queries, active targets). The monitoring test (local cluster) and the compose end-to-end suite
// share it.
package promcheck
