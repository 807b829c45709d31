package scheduler

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Attempt results (the "result" label).
const (
	resultScheduled     = "scheduled"
	resultUnschedulable = "unschedulable"
	resultError         = "error"
)

// metrics are kube-scheduler's, by their Kubernetes names.
type metrics struct {
	attempts        *prometheus.CounterVec   // scheduler_schedule_attempts_total{result}
	attemptDuration *prometheus.HistogramVec // scheduler_scheduling_attempt_duration_seconds{result}
	sli             prometheus.Histogram     // scheduler_pod_scheduling_sli_duration_seconds
	pending         *prometheus.GaugeVec     // scheduler_pending_pods{queue}
	bindDuration    prometheus.Histogram     // scheduler_binding_duration_seconds
	algorithm       prometheus.Histogram     // scheduler_scheduling_algorithm_duration_seconds
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "scheduler_schedule_attempts_total",
			Help: "Number of attempts to schedule pods, by the result: 'unschedulable' means a pod could not be scheduled, while 'error' means an internal scheduler problem (including a failed binding)."},
			[]string{"result"}),
		attemptDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "scheduler_scheduling_attempt_duration_seconds",
			Help:    "Scheduling attempt latency in seconds (scheduling algorithm + binding), by result.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)}, []string{"result"}),
		sli: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "scheduler_pod_scheduling_sli_duration_seconds",
			Help:    "E2e latency for a pod being scheduled, from the time the pod is first seen pending to it being bound, across attempts.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 20)}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "scheduler_pending_pods",
			Help: "Number of pending pods, by the queue type: 'active' means number of pods in activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods."},
			[]string{"queue"}),
		bindDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "scheduler_binding_duration_seconds",
			Help: "Binding latency in seconds.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)}),
		algorithm: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "scheduler_scheduling_algorithm_duration_seconds",
			Help: "Scheduling algorithm (filter and score) latency in seconds.", Buckets: prometheus.ExponentialBuckets(0.00001, 2, 20)}),
	}
	for _, q := range []string{queueActive, queueBackoff, queueUnschedulable} {
		m.pending.WithLabelValues(q)
	}
	for _, r := range []string{resultScheduled, resultUnschedulable, resultError} {
		m.attempts.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.attempts, m.attemptDuration, m.sli, m.pending, m.bindDuration, m.algorithm} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, errors.New("scheduler: metrics already registered on this registerer (one scheduler per registry)")
			}
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) setPending(active, backoff, unschedulable int) {
	m.pending.WithLabelValues(queueActive).Set(float64(active))
	m.pending.WithLabelValues(queueBackoff).Set(float64(backoff))
	m.pending.WithLabelValues(queueUnschedulable).Set(float64(unschedulable))
}
