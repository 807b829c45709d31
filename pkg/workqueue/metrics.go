package workqueue

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names, identical to Kubernetes' workqueue metrics.
const (
	metricsSubsystem   = "workqueue"
	depthName          = "depth"
	addsName           = "adds_total"
	queueLatencyName   = "queue_duration_seconds"
	workDurationName   = "work_duration_seconds"
	unfinishedWorkName = "unfinished_work_seconds"
	longestRunningName = "longest_running_processor_seconds"
	retriesName        = "retries_total"
	nameLabel          = "name"

	// unfinishedWorkUpdatePeriod is how often the unfinished-work gauges
	// are refreshed, as in client-go.
	unfinishedWorkUpdatePeriod = 500 * time.Millisecond
)

// durationBuckets are client-go's buckets: 10ns to 10s.
var durationBuckets = prometheus.ExponentialBuckets(10e-9, 10, 10)

// metricVecs are the collectors shared by every queue registered on the
// same Registerer; each queue uses its own "name" label value.
type metricVecs struct {
	depth          *prometheus.GaugeVec
	adds           *prometheus.CounterVec
	latency        *prometheus.HistogramVec
	workDuration   *prometheus.HistogramVec
	unfinishedWork *prometheus.GaugeVec
	longestRunning *prometheus.GaugeVec
	retries        *prometheus.CounterVec
}

// registerMetricVecs registers the workqueue collectors on reg, reusing
// collectors a previous queue already registered there.
func registerMetricVecs(reg prometheus.Registerer) (*metricVecs, error) {
	labels := []string{nameLabel}
	v := &metricVecs{}
	var err error
	if v.depth, err = registerOrReuse(reg, fq(depthName), prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Subsystem: metricsSubsystem, Name: depthName,
		Help: "Current depth of workqueue",
	}, labels)); err != nil {
		return nil, err
	}
	if v.adds, err = registerOrReuse(reg, fq(addsName), prometheus.NewCounterVec(prometheus.CounterOpts{
		Subsystem: metricsSubsystem, Name: addsName,
		Help: "Total number of adds handled by workqueue",
	}, labels)); err != nil {
		return nil, err
	}
	if v.latency, err = registerOrReuse(reg, fq(queueLatencyName), prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Subsystem: metricsSubsystem, Name: queueLatencyName,
		Help:    "How long in seconds an item stays in workqueue before being requested.",
		Buckets: durationBuckets,
	}, labels)); err != nil {
		return nil, err
	}
	if v.workDuration, err = registerOrReuse(reg, fq(workDurationName), prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Subsystem: metricsSubsystem, Name: workDurationName,
		Help:    "How long in seconds processing an item from workqueue takes.",
		Buckets: durationBuckets,
	}, labels)); err != nil {
		return nil, err
	}
	if v.unfinishedWork, err = registerOrReuse(reg, fq(unfinishedWorkName), prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Subsystem: metricsSubsystem, Name: unfinishedWorkName,
		Help: "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. " +
			"Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases.",
	}, labels)); err != nil {
		return nil, err
	}
	if v.longestRunning, err = registerOrReuse(reg, fq(longestRunningName), prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Subsystem: metricsSubsystem, Name: longestRunningName,
		Help: "How many seconds has the longest running processor for workqueue been running.",
	}, labels)); err != nil {
		return nil, err
	}
	if v.retries, err = registerOrReuse(reg, fq(retriesName), prometheus.NewCounterVec(prometheus.CounterOpts{
		Subsystem: metricsSubsystem, Name: retriesName,
		Help: "Total number of retries handled by workqueue",
	}, labels)); err != nil {
		return nil, err
	}
	return v, nil
}

// fq returns the fully-qualified name of a workqueue metric.
func fq(name string) string { return metricsSubsystem + "_" + name }

// registerOrReuse registers c, or returns the equal collector that is
// already registered on reg.
func registerOrReuse[C prometheus.Collector](reg prometheus.Registerer, name string, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var zero C
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		existing, ok := are.ExistingCollector.(C)
		if !ok {
			return zero, fmt.Errorf("workqueue: metric %s: already registered as %T, want %T",
				name, are.ExistingCollector, c)
		}
		return existing, nil
	}
	return zero, fmt.Errorf("workqueue: registering metric %s: %w", name, err)
}

// queueMetrics are one queue's metrics. A nil *queueMetrics records
// nothing. Its maps are guarded by the queue's mutex.
type queueMetrics[T comparable] struct {
	clock Clock

	depth          prometheus.Gauge
	adds           prometheus.Counter
	latency        prometheus.Observer
	workDuration   prometheus.Observer
	unfinishedWork prometheus.Gauge
	longestRunning prometheus.Gauge
	retries        prometheus.Counter

	addTimes             map[T]time.Time
	processingStartTimes map[T]time.Time
}

func newQueueMetrics[T comparable](v *metricVecs, name string, clock Clock) *queueMetrics[T] {
	return &queueMetrics[T]{
		clock:                clock,
		depth:                v.depth.WithLabelValues(name),
		adds:                 v.adds.WithLabelValues(name),
		latency:              v.latency.WithLabelValues(name),
		workDuration:         v.workDuration.WithLabelValues(name),
		unfinishedWork:       v.unfinishedWork.WithLabelValues(name),
		longestRunning:       v.longestRunning.WithLabelValues(name),
		retries:              v.retries.WithLabelValues(name),
		addTimes:             map[T]time.Time{},
		processingStartTimes: map[T]time.Time{},
	}
}

// add records that item became dirty.
func (m *queueMetrics[T]) add(item T) {
	if m == nil {
		return
	}
	m.adds.Inc()
	m.depth.Inc()
	if _, ok := m.addTimes[item]; !ok {
		m.addTimes[item] = m.clock.Now()
	}
}

// get records that item was handed to a worker.
func (m *queueMetrics[T]) get(item T) {
	if m == nil {
		return
	}
	now := m.clock.Now()
	m.depth.Dec()
	m.processingStartTimes[item] = now
	if start, ok := m.addTimes[item]; ok {
		m.latency.Observe(now.Sub(start).Seconds())
		delete(m.addTimes, item)
	}
}

// done records that a worker finished item.
func (m *queueMetrics[T]) done(item T) {
	if m == nil {
		return
	}
	if start, ok := m.processingStartTimes[item]; ok {
		m.workDuration.Observe(m.clock.Now().Sub(start).Seconds())
		delete(m.processingStartTimes, item)
	}
}

// retry records a delayed (re-)add.
func (m *queueMetrics[T]) retry() {
	if m == nil {
		return
	}
	m.retries.Inc()
}

// updateUnfinishedWork refreshes the in-progress gauges as of now.
func (m *queueMetrics[T]) updateUnfinishedWork(now time.Time) {
	if m == nil {
		return
	}
	var total, longest float64
	for _, start := range m.processingStartTimes {
		s := now.Sub(start).Seconds()
		total += s
		if s > longest {
			longest = s
		}
	}
	m.unfinishedWork.Set(total)
	m.longestRunning.Set(longest)
}
