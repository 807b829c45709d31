package proxy

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the proxy process's own metrics. The sync metrics
// (kubeproxy_sync_proxy_rules_duration_seconds,
// kubeproxy_sync_proxy_rules_last_timestamp_seconds,
// coxswain_proxy_rules_programmed) are the data plane's, registered on the
// same registry.
type metrics struct {
	networkProgramming prometheus.Histogram
	syncs              *prometheus.CounterVec
	pendingChanges     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		networkProgramming: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "kubeproxy_network_programming_duration_seconds",
			Help: "Time from a Service or Endpoints change (the Endpoints' last-change-trigger-time annotation when present, " +
				"else when the proxy saw the change) to the data plane programming it.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 18),
		}),
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coxswain_proxy_syncs_total",
			Help: "Data plane syncs run by the proxy, by result (success, error).",
		}, []string{"result"}),
		pendingChanges: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "coxswain_proxy_pending_changes",
			Help: "Service and Endpoints changes seen but not yet programmed.",
		}),
	}
	for _, c := range []prometheus.Collector{m.networkProgramming, m.syncs, m.pendingChanges} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("proxy: register metrics: %w", err)
		}
	}
	return m, nil
}
