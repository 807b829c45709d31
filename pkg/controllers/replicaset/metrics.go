package replicaset

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/coxswain/coxswain/pkg/promreg"
)

type metrics struct {
	creations *prometheus.CounterVec
	deletions *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		creations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coxswain_replicaset_pod_creations_total",
			Help: "Pods the ReplicaSet controller created, by result (success, error)."}, []string{"result"}),
		deletions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coxswain_replicaset_pod_deletions_total",
			Help: "Pods the ReplicaSet controller deleted to scale down, by result (success, error)."}, []string{"result"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.creations, err = promreg.Register(reg, m.creations); err != nil {
		return nil, err
	}
	if m.deletions, err = promreg.Register(reg, m.deletions); err != nil {
		return nil, err
	}
	return m, nil
}

func result(err error) string {
	if err != nil {
		return "error"
	}
	return "success"
}
