package scheduler

import (
	"testing"

	"google.golang.org/protobuf/proto"

	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

func TestSlimBoundPod(t *testing.T) {
	full := func(node string) *corev1.Pod {
		return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p", Labels: map[string]string{"app": "web"}},
			Spec: &corev1.PodSpec{NodeName: node, Containers: []*corev1.Container{{Name: "c", Image: "i"}}},
			Status: &corev1.PodStatus{Phase: "Running", PodIp: "10.0.0.1",
				Conditions:        []*metav1.Condition{{Type: "PodScheduled", Status: "False", Reason: "Unschedulable"}},
				ContainerStatuses: []*corev1.ContainerStatus{{Name: "c", RestartCount: 3}}}}
	}
	for _, tc := range []struct {
		name string
		in   *corev1.Pod
		want *corev1.Pod
	}{
		{"pending pod kept whole (its status is written back)", full(""), full("")},
		{"bound pod keeps only the phase", full("n1"), func() *corev1.Pod {
			p := full("n1")
			p.Status = &corev1.PodStatus{Phase: "Running"}
			return p
		}()},
		{"bound pod without status", &corev1.Pod{Spec: &corev1.PodSpec{NodeName: "n1"}}, &corev1.Pod{Spec: &corev1.PodSpec{NodeName: "n1"}}},
	} {
		got := slimBoundPod(tc.in)
		if !proto.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}
