package manager

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	enabled *prometheus.GaugeVec
	leading prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		enabled: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "coxswain_controller_manager_controller_enabled",
			Help: "1 for each controller this controller-manager runs when it leads."}, []string{"controller"}),
		leading: prometheus.NewGauge(prometheus.GaugeOpts{Name: "coxswain_controller_manager_leading",
			Help: "1 while this replica runs the controllers."}),
	}
	for _, c := range []prometheus.Collector{m.enabled, m.leading} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
