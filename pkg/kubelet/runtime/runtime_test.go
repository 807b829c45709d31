package runtime_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/coxswain/coxswain/pkg/kubelet/runtime"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime/fake"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime/runtimetest"
)

func newFake(t testing.TB) *fake.Runtime {
	t.Helper()
	f, err := fake.New(fake.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestResolvConf(t *testing.T) {
	tests := []struct {
		name string
		dns  *runtime.DNSConfig
		want string
	}{
		{"nil", nil, ""},
		{"empty", &runtime.DNSConfig{}, ""},
		{"full", &runtime.DNSConfig{Servers: []string{"10.96.0.10", "1.1.1.1"}, Searches: []string{"ns.svc.cluster.local", "svc.cluster.local"}, Options: []string{"ndots:5", "edns0"}},
			"nameserver 10.96.0.10\nnameserver 1.1.1.1\nsearch ns.svc.cluster.local svc.cluster.local\noptions ndots:5 edns0\n"},
		{"servers only", &runtime.DNSConfig{Servers: []string{"8.8.8.8"}}, "nameserver 8.8.8.8\n"},
	}
	for _, tc := range tests {
		if got := string(tc.dns.ResolvConf()); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// The decorator is transparent: it passes the conformance suite.
func TestInstrumentedConformance(t *testing.T) {
	runtimetest.Run(t, runtimetest.Harness{
		New: func(t *testing.T) runtime.Runtime {
			m, err := runtime.NewInstrumented(newFake(t), prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			return m
		},
	})
}

func metric(t *testing.T, reg *prometheus.Registry, name, op string) *dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "operation_type" && l.GetValue() == op {
					return m
				}
			}
		}
	}
	return nil
}

func TestInstrumentedMetrics(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	m, err := runtime.NewInstrumented(newFake(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != "fake" {
		t.Fatalf("Name() = %q", m.Name())
	}
	sb, err := m.RunPodSandbox(ctx, runtime.PodSandboxConfig{Name: "p"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := m.CreateContainer(ctx, sb, runtime.ContainerConfig{Name: "c", Command: []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := m.ContainerStatus(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.ContainerStatus(ctx, "missing"); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("want ErrNotFound through the decorator, got %v", err)
	}
	if err := m.StopContainer(ctx, id, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := m.StartContainer(ctx, id); err == nil {
		t.Fatal("restart of exited container succeeded")
	}
	tests := []struct {
		op          string
		count       uint64
		errors      float64
		errorSeries bool
	}{
		{runtime.OpRunPodSandbox, 1, 0, false},
		{runtime.OpCreateContainer, 1, 0, false},
		{runtime.OpStartContainer, 2, 1, true},
		{runtime.OpContainerStatus, 4, 1, true},
		{runtime.OpStopContainer, 1, 0, false},
	}
	for _, tc := range tests {
		h := metric(t, reg, "kubelet_runtime_operations_duration_seconds", tc.op)
		if h == nil || h.GetHistogram().GetSampleCount() != tc.count {
			t.Errorf("%s: duration samples %v, want %d", tc.op, h, tc.count)
		}
		c := metric(t, reg, "kubelet_runtime_operations_errors_total", tc.op)
		if (c != nil) != tc.errorSeries || (c != nil && c.GetCounter().GetValue() != tc.errors) {
			t.Errorf("%s: errors %v, want %v", tc.op, c, tc.errors)
		}
	}
	if metric(t, reg, "kubelet_runtime_operations_duration_seconds", runtime.OpExec) != nil {
		t.Error("exec observed without any exec call")
	}
}

func TestNewInstrumentedErrors(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := runtime.NewInstrumented(nil, reg); err == nil {
		t.Error("nil runtime accepted")
	}
	if _, err := runtime.NewInstrumented(newFake(t), nil); err == nil {
		t.Error("nil registerer accepted")
	}
	if _, err := runtime.NewInstrumented(newFake(t), reg); err != nil {
		t.Fatal(err)
	}
	if _, err := runtime.NewInstrumented(newFake(t), reg); err == nil {
		t.Error("second registration on the same registry accepted")
	}
}
