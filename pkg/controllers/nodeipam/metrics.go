package nodeipam

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	total     prometheus.Gauge
	allocated prometheus.Gauge
	assigned  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		total: prometheus.NewGauge(prometheus.GaugeOpts{Name: "coxswain_nodeipam_cidrs_total",
			Help: "Node ranges in the cluster CIDR."}),
		allocated: prometheus.NewGauge(prometheus.GaugeOpts{Name: "coxswain_nodeipam_cidrs_allocated",
			Help: "Node ranges in use (assigned or reserved)."}),
		assigned: prometheus.NewCounter(prometheus.CounterOpts{Name: "coxswain_nodeipam_cidr_assignments_total",
			Help: "Pod CIDRs written to nodes."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.total, m.allocated, m.assigned} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, errors.New("nodeipam: metrics already registered: one controller per Registerer")
			}
			return nil, err
		}
	}
	return m, nil
}
