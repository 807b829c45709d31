package namespace

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	deleted   *prometheus.CounterVec
	finalized prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		deleted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coxswain_namespace_objects_deleted_total",
			Help: "Objects deleted from terminating namespaces, by resource."}, []string{"resource"}),
		finalized: prometheus.NewCounter(prometheus.CounterOpts{Name: "coxswain_namespace_finalized_total",
			Help: "Namespaces emptied and released for deletion."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.deleted, m.finalized} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, errors.New("namespace: metrics already registered: one controller per Registerer")
			}
			return nil, err
		}
	}
	return m, nil
}
