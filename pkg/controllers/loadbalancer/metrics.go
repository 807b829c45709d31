package loadbalancer

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	total    prometheus.Gauge
	inUse    prometheus.Gauge
	failures *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		total: prometheus.NewGauge(prometheus.GaugeOpts{Name: "coxswain_loadbalancer_addresses_total",
			Help: "Addresses in the load-balancer pool."}),
		inUse: prometheus.NewGauge(prometheus.GaugeOpts{Name: "coxswain_loadbalancer_addresses_in_use",
			Help: "Load-balancer addresses assigned to services."}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coxswain_loadbalancer_allocation_failures_total",
			Help: "Services left pending, by reason (no_pool, exhausted, in_use, not_in_pool, invalid_request)."}, []string{"reason"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.total, m.inUse, m.failures} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, errors.New("loadbalancer: metrics already registered: one controller per Registerer")
			}
			return nil, err
		}
	}
	return m, nil
}
