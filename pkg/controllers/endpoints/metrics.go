package endpoints

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	writes *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coxswain_endpoints_syncs_total",
			Help: "Endpoints syncs by outcome: create, update, delete or unchanged (no write)."}, []string{"operation"}),
	}
	if reg == nil {
		return m, nil
	}
	if err := reg.Register(m.writes); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, err
		}
		m.writes = are.ExistingCollector.(*prometheus.CounterVec)
	}
	return m, nil
}
