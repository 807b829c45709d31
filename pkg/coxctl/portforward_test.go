package coxctl

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/coxswain/coxswain/pkg/coxctl/podstream"
	"github.com/coxswain/coxswain/pkg/testutil"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// TestResolveForward checks how port-forward finds the pod and port of pod/, svc/ and deploy/ targets
// against a real apiserver.
func TestResolveForward(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	withPort := func(p *corev1.Pod) *corev1.Pod {
		p.Spec.Containers[0].Ports = []*corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: "TCP"}}
		return p
	}
	e.createPod(withPort(newPod("default", "a-not-ready", map[string]string{"app": "web"})), &corev1.PodStatus{Phase: "Running",
		Conditions: []*metav1.Condition{{Type: "Ready", Status: "False"}}})
	e.createPod(withPort(newPod("default", "b-ready", map[string]string{"app": "web"})), runningStatus("10.0.0.2"))
	e.createPod(newPod("default", "pending", map[string]string{"app": "db"}), &corev1.PodStatus{Phase: "Pending"})
	svc := &corev1.Service{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "web"}, Spec: &corev1.ServiceSpec{
		Selector: map[string]string{"app": "web"},
		Ports: []*corev1.ServicePort{
			{Name: "http", Port: 80, TargetPort: &metav1.IntOrString{Value: &metav1.IntOrString_StrVal{StrVal: "http"}}},
			{Name: "admin", Port: 9000, TargetPort: &metav1.IntOrString{Value: &metav1.IntOrString_IntVal{IntVal: 9090}}},
		}}}
	if _, err := e.api.Client.Services().Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	dep := &appsv1.Deployment{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "web"}, Spec: &appsv1.DeploymentSpec{Replicas: proto.Int32(2),
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
			Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "web", Image: "nginx"}}}}}}
	if _, err := e.api.Client.Deployments().Create(ctx, dep); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		target string
		ports  []string
		pod    string
		want   []podstream.PortPair
		err    string
	}{
		{"pod/b-ready", []string{"8080:80"}, "b-ready", []podstream.PortPair{{Local: 8080, Remote: 80}}, ""},
		{"b-ready", []string{"http", ":8080"}, "b-ready", []podstream.PortPair{{Local: 8080, Remote: 8080}, {Local: 0, Remote: 8080}}, ""},
		{"svc/web", []string{"8080:80", "9000"}, "b-ready", []podstream.PortPair{{Local: 8080, Remote: 8080}, {Local: 9000, Remote: 9090}}, ""},
		{"service/web", []string{":admin"}, "b-ready", []podstream.PortPair{{Local: 0, Remote: 9090}}, ""},
		{"deploy/web", []string{"5000:8080"}, "b-ready", []podstream.PortPair{{Local: 5000, Remote: 8080}}, ""},
		{"svc/web", []string{"81"}, "", nil, "service web does not have a service port 81"},
		{"pod/pending", []string{"80"}, "", nil, "unable to forward port because pod is not running. Current status=Pending"},
		{"svc/nope", []string{"80"}, "", nil, `services "nope" not found`},
		{"cm/x", []string{"80"}, "", nil, "cannot attach to configmap"},
	} {
		t.Run(tc.target+" "+strings.Join(tc.ports, " "), func(t *testing.T) {
			pod, pairs, err := resolveForward(ctx, e.api.Client, "default", tc.target, tc.ports)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if pod.Metadata.Name != tc.pod || fmt.Sprint(pairs) != fmt.Sprint(tc.want) {
				t.Errorf("got pod %s ports %v, want %s %v", pod.Metadata.Name, pairs, tc.pod, tc.want)
			}
		})
	}
}
