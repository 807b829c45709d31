package dataplane

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/coxswain/coxswain/pkg/promreg"
)

// Metrics are the sync metrics shared by the data planes. Names follow
// kube-proxy where one exists.
type Metrics struct {
	SyncDuration      prometheus.Histogram
	RulesProgrammed   *prometheus.GaugeVec
	LastSyncTimestamp prometheus.Gauge
}

// NewMetrics creates the metrics and registers them on reg (nil: not
// registered). Registering twice on the same registry reuses the collectors
// already there, so two data planes may share one registry.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		SyncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "kubeproxy_sync_proxy_rules_duration_seconds",
			Help:    "Time taken by one data plane Sync, from receiving the desired state to the rules being in place.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}),
		RulesProgrammed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "coxswain_proxy_rules_programmed",
			Help: "Number of objects programmed by the proxy data plane after the last successful sync, by kind (services, endpoints).",
		}, []string{"kind"}),
		LastSyncTimestamp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kubeproxy_sync_proxy_rules_last_timestamp_seconds",
			Help: "Unix time of the last successful data plane Sync.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.SyncDuration, err = promreg.Register(reg, m.SyncDuration)
	if err != nil {
		return nil, err
	}
	m.RulesProgrammed, err = promreg.Register(reg, m.RulesProgrammed)
	if err != nil {
		return nil, err
	}
	m.LastSyncTimestamp, err = promreg.Register(reg, m.LastSyncTimestamp)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// ObserveSync records one sync that started at start. On success it also
// records the programmed object counts and the last-sync timestamp.
func (m *Metrics) ObserveSync(start time.Time, err error, services, endpoints int) {
	now := time.Now()
	m.SyncDuration.Observe(now.Sub(start).Seconds())
	if err != nil {
		return
	}
	m.RulesProgrammed.WithLabelValues("services").Set(float64(services))
	m.RulesProgrammed.WithLabelValues("endpoints").Set(float64(endpoints))
	m.LastSyncTimestamp.Set(float64(now.UnixNano()) / 1e9)
}
