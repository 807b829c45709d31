package nodelifecycle_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/coxswain/coxswain/pkg/controllers/nodelifecycle"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

func TestToleratesTaint(t *testing.T) {
	unreachable := &corev1.Taint{Key: nodelifecycle.TaintUnreachable, Effect: "NoExecute"}
	valued := &corev1.Taint{Key: "dedicated", Value: "gpu", Effect: "NoSchedule"}
	tests := []struct {
		tol   *corev1.Toleration
		taint *corev1.Taint
		want  bool
	}{
		{&corev1.Toleration{Key: nodelifecycle.TaintUnreachable, Operator: "Exists", Effect: "NoExecute"}, unreachable, true},
		{&corev1.Toleration{Key: nodelifecycle.TaintUnreachable, Operator: "Exists"}, unreachable, true},
		{&corev1.Toleration{Key: nodelifecycle.TaintUnreachable, Operator: "Exists", Effect: "NoSchedule"}, unreachable, false},
		{&corev1.Toleration{Operator: "Exists"}, unreachable, true},
		{&corev1.Toleration{Key: nodelifecycle.TaintNotReady, Operator: "Exists"}, unreachable, false},
		{&corev1.Toleration{Key: "dedicated", Value: "gpu"}, valued, true},
		{&corev1.Toleration{Key: "dedicated", Operator: "Equal", Value: "gpu", Effect: "NoSchedule"}, valued, true},
		{&corev1.Toleration{Key: "dedicated", Operator: "Equal", Value: "cpu"}, valued, false},
		{&corev1.Toleration{Key: "dedicated", Operator: "Exists"}, valued, true},
		{&corev1.Toleration{Key: "dedicated", Operator: "Bogus", Value: "gpu"}, valued, false},
	}
	for _, tt := range tests {
		if got := nodelifecycle.ToleratesTaint(tt.tol, tt.taint); got != tt.want {
			t.Errorf("ToleratesTaint(%v, %v) = %v, want %v", tt.tol, tt.taint, got, tt.want)
		}
	}
}

func TestEvictionTime(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	added := func(*corev1.Taint) time.Time { return t0 }
	unreachable := &corev1.Taint{Key: nodelifecycle.TaintUnreachable, Effect: "NoExecute"}
	notReady := &corev1.Taint{Key: nodelifecycle.TaintNotReady, Effect: "NoExecute"}
	custom := &corev1.Taint{Key: "maintenance", Effect: "NoExecute"}
	tol := func(key string, secs *int64) *corev1.Toleration {
		return &corev1.Toleration{Key: key, Operator: "Exists", Effect: "NoExecute", TolerationSeconds: secs}
	}
	tests := []struct {
		name   string
		tols   []*corev1.Toleration
		taints []*corev1.Taint
		after  time.Duration
		ok     bool
	}{
		{"no toleration: default for unreachable", nil, []*corev1.Taint{unreachable}, 300 * time.Second, true},
		{"no toleration: default for not-ready", nil, []*corev1.Taint{notReady}, 60 * time.Second, true},
		{"no toleration: other taint evicts at once", nil, []*corev1.Taint{custom}, 0, true},
		{"own tolerationSeconds", []*corev1.Toleration{tol(nodelifecycle.TaintUnreachable, proto.Int64(5))}, []*corev1.Taint{unreachable}, 5 * time.Second, true},
		{"toleration forever", []*corev1.Toleration{tol(nodelifecycle.TaintUnreachable, nil)}, []*corev1.Taint{unreachable}, 0, false},
		{"tolerate everything forever", []*corev1.Toleration{{Operator: "Exists"}}, []*corev1.Taint{unreachable, custom}, 0, false},
		{"shortest matching toleration wins", []*corev1.Toleration{{Operator: "Exists"}, tol(nodelifecycle.TaintUnreachable, proto.Int64(7)), tol(nodelifecycle.TaintUnreachable, proto.Int64(9))},
			[]*corev1.Taint{unreachable}, 7 * time.Second, true},
		{"earliest taint wins", []*corev1.Toleration{tol(nodelifecycle.TaintUnreachable, proto.Int64(100))}, []*corev1.Taint{unreachable, notReady}, 60 * time.Second, true},
		{"negative seconds mean now", []*corev1.Toleration{tol(nodelifecycle.TaintUnreachable, proto.Int64(-3))}, []*corev1.Taint{unreachable}, 0, true},
		{"untolerated custom taint beside a tolerated one", []*corev1.Toleration{tol(nodelifecycle.TaintUnreachable, nil)}, []*corev1.Taint{unreachable, custom}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, ok := nodelifecycle.EvictionTime(tt.tols, tt.taints, added, 60, 300)
			if ok != tt.ok || (ok && !at.Equal(t0.Add(tt.after))) {
				t.Fatalf("EvictionTime = %v (+%v), %v; want +%v, %v", at, at.Sub(t0), ok, tt.after, tt.ok)
			}
		})
	}
}
