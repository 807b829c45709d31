package nodelifecycle

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	unknown      prometheus.Counter
	taintUpdates prometheus.Counter
	podsNotReady prometheus.Counter
	evictions    prometheus.Counter
	orphans      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		unknown: prometheus.NewCounter(prometheus.CounterOpts{Name: "coxswain_nodelifecycle_nodes_marked_unknown_total",
			Help: "Times a node that stopped posting status was marked Ready=Unknown."}),
		taintUpdates: prometheus.NewCounter(prometheus.CounterOpts{Name: "coxswain_nodelifecycle_taint_updates_total",
			Help: "Writes of nodes' not-ready/unreachable taints."}),
		podsNotReady: prometheus.NewCounter(prometheus.CounterOpts{Name: "coxswain_nodelifecycle_pods_marked_not_ready_total",
			Help: "Pods whose Ready condition was set to False because their node is unreachable."}),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{Name: "coxswain_nodelifecycle_evictions_total",
			Help: "Pods deleted from NoExecute-tainted nodes (taint manager evictions)."}),
		orphans: prometheus.NewCounter(prometheus.CounterOpts{Name: "coxswain_nodelifecycle_orphaned_pods_deleted_total",
			Help: "Pods deleted because their node no longer exists."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.unknown, m.taintUpdates, m.podsNotReady, m.evictions, m.orphans} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, errors.New("nodelifecycle: metrics already registered: one controller per Registerer")
			}
			return nil, err
		}
	}
	return m, nil
}
