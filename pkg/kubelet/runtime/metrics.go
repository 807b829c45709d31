package runtime

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Operation types used as the operation_type label (the kubelet's names).
const (
	OpRunPodSandbox    = "run_podsandbox"
	OpStopPodSandbox   = "stop_podsandbox"
	OpRemovePodSandbox = "remove_podsandbox"
	OpPodSandboxStatus = "podsandbox_status"
	OpListPodSandbox   = "list_podsandbox"
	OpCreateContainer  = "create_container"
	OpStartContainer   = "start_container"
	OpStopContainer    = "stop_container"
	OpRemoveContainer  = "remove_container"
	OpContainerStatus  = "container_status"
	OpListContainers   = "list_containers"
	OpExec             = "exec"
)

// Instrumented wraps a Runtime and records the duration and errors of every
// operation in kubelet_runtime_operations_duration_seconds{operation_type} and
// kubelet_runtime_operations_errors_total{operation_type}. Name is not
// instrumented. Exec's duration includes the command's run time; a non-zero
// exit code is not an error.
type Instrumented struct {
	rt       Runtime
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec
}

var _ Runtime = (*Instrumented)(nil)

// NewInstrumented registers the runtime metrics on reg and returns the
// decorator around rt.
func NewInstrumented(rt Runtime, reg prometheus.Registerer) (*Instrumented, error) {
	if rt == nil {
		return nil, fmt.Errorf("runtime metrics: runtime is nil")
	}
	if reg == nil {
		return nil, fmt.Errorf("runtime metrics: registerer is nil")
	}
	m := &Instrumented{
		rt: rt,
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Subsystem: "kubelet",
			Name:      "runtime_operations_duration_seconds",
			Help:      "Duration in seconds of runtime operations, by operation type.",
			Buckets:   prometheus.ExponentialBuckets(0.0005, 2, 15),
		}, []string{"operation_type"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Subsystem: "kubelet",
			Name:      "runtime_operations_errors_total",
			Help:      "Cumulative number of runtime operation errors, by operation type.",
		}, []string{"operation_type"}),
	}
	for _, c := range []prometheus.Collector{m.duration, m.errors} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("runtime metrics: register: %w", err)
		}
	}
	return m, nil
}

// Unwrap returns the decorated runtime.
func (m *Instrumented) Unwrap() Runtime { return m.rt }

func observe[T any](m *Instrumented, op string, f func() (T, error)) (T, error) {
	start := time.Now()
	v, err := f()
	m.duration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err != nil {
		m.errors.WithLabelValues(op).Inc()
	}
	return v, err
}

func observeErr(m *Instrumented, op string, f func() error) error {
	_, err := observe(m, op, func() (struct{}, error) { return struct{}{}, f() })
	return err
}

func (m *Instrumented) RunPodSandbox(ctx context.Context, cfg PodSandboxConfig) (string, error) {
	return observe(m, OpRunPodSandbox, func() (string, error) { return m.rt.RunPodSandbox(ctx, cfg) })
}

func (m *Instrumented) StopPodSandbox(ctx context.Context, id string) error {
	return observeErr(m, OpStopPodSandbox, func() error { return m.rt.StopPodSandbox(ctx, id) })
}

func (m *Instrumented) RemovePodSandbox(ctx context.Context, id string) error {
	return observeErr(m, OpRemovePodSandbox, func() error { return m.rt.RemovePodSandbox(ctx, id) })
}

func (m *Instrumented) PodSandboxStatus(ctx context.Context, id string) (SandboxStatus, error) {
	return observe(m, OpPodSandboxStatus, func() (SandboxStatus, error) { return m.rt.PodSandboxStatus(ctx, id) })
}

func (m *Instrumented) ListPodSandboxes(ctx context.Context) ([]SandboxStatus, error) {
	return observe(m, OpListPodSandbox, func() ([]SandboxStatus, error) { return m.rt.ListPodSandboxes(ctx) })
}

func (m *Instrumented) CreateContainer(ctx context.Context, sandboxID string, cfg ContainerConfig) (string, error) {
	return observe(m, OpCreateContainer, func() (string, error) { return m.rt.CreateContainer(ctx, sandboxID, cfg) })
}

func (m *Instrumented) StartContainer(ctx context.Context, id string) error {
	return observeErr(m, OpStartContainer, func() error { return m.rt.StartContainer(ctx, id) })
}

func (m *Instrumented) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	return observeErr(m, OpStopContainer, func() error { return m.rt.StopContainer(ctx, id, grace) })
}

func (m *Instrumented) RemoveContainer(ctx context.Context, id string) error {
	return observeErr(m, OpRemoveContainer, func() error { return m.rt.RemoveContainer(ctx, id) })
}

func (m *Instrumented) ContainerStatus(ctx context.Context, id string) (ContainerStatus, error) {
	return observe(m, OpContainerStatus, func() (ContainerStatus, error) { return m.rt.ContainerStatus(ctx, id) })
}

func (m *Instrumented) ListContainers(ctx context.Context, sandboxID string) ([]ContainerStatus, error) {
	return observe(m, OpListContainers, func() ([]ContainerStatus, error) { return m.rt.ListContainers(ctx, sandboxID) })
}

func (m *Instrumented) Exec(ctx context.Context, containerID string, cmd []string, streams ExecStreams) (int, error) {
	return observe(m, OpExec, func() (int, error) { return m.rt.Exec(ctx, containerID, cmd, streams) })
}

func (m *Instrumented) Name() string { return m.rt.Name() }
