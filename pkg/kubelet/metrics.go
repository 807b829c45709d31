package kubelet

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	podStart prometheus.Histogram
	probes   *prometheus.CounterVec
	restarts prometheus.Counter
}

// runningCollector reports kubelet_running_pods and
// kubelet_running_containers from the agents' last relist.
type runningCollector struct {
	k          *Kubelet
	pods       *prometheus.Desc
	containers *prometheus.Desc
}

func (c *runningCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pods
	ch <- c.containers
}

func (c *runningCollector) Collect(ch chan<- prometheus.Metric) {
	pods := 0
	states := map[string]int{"running": 0, "exited": 0, "created": 0, "unknown": 0}
	for _, a := range c.k.agentList {
		a.mu.Lock()
		pods += a.runningPods
		for s, n := range a.running {
			switch s {
			case "Running":
				states["running"] += n
			case "Exited":
				states["exited"] += n
			case "Created":
				states["created"] += n
			default:
				states["unknown"] += n
			}
		}
		a.mu.Unlock()
	}
	ch <- prometheus.MustNewConstMetric(c.pods, prometheus.GaugeValue, float64(pods))
	for s, n := range states {
		ch <- prometheus.MustNewConstMetric(c.containers, prometheus.GaugeValue, float64(n), s)
	}
}

// newMetrics registers the kubelet's metrics (Kubernetes' names) on reg.
func newMetrics(reg prometheus.Registerer, k *Kubelet) (*metrics, error) {
	m := &metrics{
		podStart: prometheus.NewHistogram(prometheus.HistogramOpts{
			Subsystem: "kubelet", Name: "pod_start_sli_duration_seconds",
			Help:    "Duration in seconds to start a pod, excluding time to pull images, from the kubelet seeing it to observing all its containers running.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120},
		}),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "prober_probe_total", Help: "Cumulative number of liveness, readiness and startup probes, by type and result.",
		}, []string{"probe_type", "result"}),
		restarts: prometheus.NewCounter(prometheus.CounterOpts{
			Subsystem: "kubelet", Name: "restart_count_total", Help: "Cumulative number of container restarts.",
		}),
	}
	running := &runningCollector{k: k,
		pods: prometheus.NewDesc("kubelet_running_pods", "Number of pods that have a running pod sandbox.", nil, nil),
		containers: prometheus.NewDesc("kubelet_running_containers", "Number of containers currently known, by state.",
			[]string{"container_state"}, nil),
	}
	for _, c := range []prometheus.Collector{m.podStart, m.probes, m.restarts, running} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register: %w", err)
		}
	}
	return m, nil
}
