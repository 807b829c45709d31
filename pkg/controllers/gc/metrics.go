package gc

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	deleted     *prometheus.CounterVec
	refsRemoved *prometheus.CounterVec
	finalizers  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		deleted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coxswain_garbagecollector_deleted_total",
			Help: "Dependents deleted because their owners are gone or being deleted in the foreground, by resource and propagation policy."},
			[]string{"resource", "propagation"}),
		refsRemoved: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coxswain_garbagecollector_owner_references_removed_total",
			Help: "Objects whose owner references were removed (orphaned, or dangling next to live owners), by resource."},
			[]string{"resource"}),
		finalizers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coxswain_garbagecollector_finalizers_removed_total",
			Help: "Orphan and foregroundDeletion finalizers removed once their work was done."}, []string{"finalizer"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.deleted, m.refsRemoved, m.finalizers} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, errors.New("gc: metrics already registered: one garbage collector per Registerer")
			}
			return nil, err
		}
	}
	return m, nil
}
