package storage

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the storage layer and the watch cache.
type Metrics struct {
	etcdDuration   *prometheus.HistogramVec
	cacheSize      *prometheus.GaugeVec
	cacheRevision  *prometheus.GaugeVec
	cacheEvents    *prometheus.CounterVec
	dispatchDelay  *prometheus.HistogramVec
	watchers       *prometheus.GaugeVec
	terminated     *prometheus.CounterVec
	initialization *prometheus.CounterVec
}

// NewMetrics registers the storage metrics on reg (nil: unregistered, still usable).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		etcdDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "etcd_request_duration_seconds",
			Help:    "Latency of etcd requests made by the apiserver, by operation and resource.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"operation", "type"}),
		cacheSize: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "apiserver_watch_cache_size",
			Help: "Objects held by the watch cache, by resource.",
		}, []string{"resource"}),
		cacheRevision: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "coxswain_apiserver_watch_cache_revision",
			Help: "The etcd revision the watch cache has caught up with, by resource.",
		}, []string{"resource"}),
		cacheEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiserver_watch_cache_events_received_total",
			Help: "Events the watch cache received from etcd, by resource.",
		}, []string{"resource"}),
		dispatchDelay: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "coxswain_apiserver_watch_cache_lag_seconds",
			Help:    "Time from receiving an etcd watch response to having fanned it out to every watcher.",
			Buckets: []float64{.00005, .0001, .0005, .001, .005, .01, .05, .1, .5},
		}, []string{"resource"}),
		watchers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "apiserver_registered_watchers",
			Help: "Client watches open against the watch cache, by resource.",
		}, []string{"resource"}),
		terminated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiserver_terminated_watchers_total",
			Help: "Watches closed because the client could not keep up, by resource.",
		}, []string{"resource"}),
		initialization: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiserver_watch_cache_initializations_total",
			Help: "Times the watch cache (re)listed from etcd, by resource.",
		}, []string{"resource"}),
	}
	if reg != nil {
		reg.MustRegister(m.etcdDuration, m.cacheSize, m.cacheRevision, m.cacheEvents, m.dispatchDelay,
			m.watchers, m.terminated, m.initialization)
	}
	return m
}
