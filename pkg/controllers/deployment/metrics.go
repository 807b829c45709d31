package deployment

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/coxswain/coxswain/pkg/promreg"
)

type metrics struct {
	creations *prometheus.CounterVec
	scales    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		creations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coxswain_deployment_replicaset_creations_total",
			Help: "New ReplicaSets the Deployment controller created, by result (success, error)."}, []string{"result"}),
		scales: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "coxswain_deployment_replicaset_scales_total",
			Help: "ReplicaSet scalings by the Deployment controller (ScalingReplicaSet events), by direction (up, down)."}, []string{"direction"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.creations, err = promreg.Register(reg, m.creations); err != nil {
		return nil, err
	}
	if m.scales, err = promreg.Register(reg, m.scales); err != nil {
		return nil, err
	}
	return m, nil
}
