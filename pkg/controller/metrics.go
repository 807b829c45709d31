package controller

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/coxswain/coxswain/pkg/promreg"
)

type metrics struct {
	total    *prometheus.CounterVec
	errors   *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// newMetrics registers controller-runtime's reconcile metrics once per registerer and shares them.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "controller_runtime_reconcile_total",
			Help: "Reconciliations per controller and result (success, error, requeue_after)."}, []string{"controller", "result"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "controller_runtime_reconcile_errors_total",
			Help: "Reconciliations that failed, per controller."}, []string{"controller"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "controller_runtime_reconcile_time_seconds",
			Help:    "Time per reconciliation, per controller.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"controller"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.total, err = promreg.Register(reg, m.total)
	if err != nil {
		return nil, err
	}
	if m.errors, err = promreg.Register(reg, m.errors); err != nil {
		return nil, err
	}
	if m.duration, err = promreg.Register(reg, m.duration); err != nil {
		return nil, err
	}
	return m, nil
}
