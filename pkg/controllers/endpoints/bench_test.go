package endpoints_test

import (
	"fmt"
	"testing"

	"github.com/coxswain/coxswain/pkg/controllers/endpoints"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// BenchmarkSubsets: one sync's computation and comparison for a service of 1000 pods.
func BenchmarkSubsets(b *testing.B) {
	web := map[string]string{"app": "web"}
	svc := &corev1.Service{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "web"}, Spec: &corev1.ServiceSpec{Selector: web,
		Ports: []*corev1.ServicePort{{Name: "http", Port: 80, TargetPort: strPort("http")}, {Name: "metrics", Port: 9090}}}}
	var pods []*corev1.Pod
	for i := range 1000 {
		opts := []podOpt{ip(fmt.Sprintf("10.%d.%d.%d", i/65536, i/256%256, i%256)), ready(i%10 != 0)}
		if i%3 != 0 {
			opts = append(opts, namedPort("http", 8080))
		}
		pods = append(pods, mkPod(fmt.Sprintf("p-%d", i), web, opts...))
	}
	prev := endpoints.Subsets(svc, pods)
	b.ReportAllocs()
	for b.Loop() {
		if !endpoints.Equal(prev, endpoints.Subsets(svc, pods)) {
			b.Fatal("not equal")
		}
	}
}
