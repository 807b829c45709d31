package endpoints_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/client/informer"
	"github.com/coxswain/coxswain/pkg/client/record"
	"github.com/coxswain/coxswain/pkg/controllers/endpoints"
	cxtest "github.com/coxswain/coxswain/pkg/testutil"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

func strPort(s string) *metav1.IntOrString {
	return &metav1.IntOrString{Value: &metav1.IntOrString_StrVal{StrVal: s}}
}

func intPort(n int32) *metav1.IntOrString {
	return &metav1.IntOrString{Value: &metav1.IntOrString_IntVal{IntVal: n}}
}

type podOpt func(*corev1.Pod)

func ready(b bool) podOpt {
	return func(p *corev1.Pod) {
		s := "False"
		if b {
			s = "True"
		}
		p.Status.Conditions = []*metav1.Condition{{Type: "Ready", Status: s}}
	}
}

func ip(a string) podOpt { return func(p *corev1.Pod) { p.Status.PodIp = a } }

func namedPort(name string, n int32) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, &corev1.ContainerPort{Name: name, ContainerPort: n, Protocol: "TCP"})
	}
}

func phase(ph string) podOpt { return func(p *corev1.Pod) { p.Status.Phase = ph } }

func mkPod(name string, lbls map[string]string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Namespace: "default", Name: name, Labels: lbls, Uid: "uid-" + name},
		Spec:     &corev1.PodSpec{NodeName: "node-1", Containers: []*corev1.Container{{Name: "c", Image: "img"}}},
		Status:   &corev1.PodStatus{Phase: "Running"},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// createPod creates the pod and then writes its status (Create drops the status).
func createPod(t *testing.T, ctx context.Context, c *client.Client, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	status := p.Status
	p.Metadata.Uid = ""
	out, err := c.Pods().Create(ctx, p)
	if err != nil {
		t.Fatalf("create pod %s: %v", p.Metadata.Name, err)
	}
	out.Status = status
	out, err = c.Pods().UpdateStatus(ctx, out)
	if err != nil {
		t.Fatalf("pod %s status: %v", p.Metadata.Name, err)
	}
	return out
}

func TestSubsets(t *testing.T) {
	web := map[string]string{"app": "web"}
	svc := &corev1.Service{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "web"}, Spec: &corev1.ServiceSpec{
		Selector: web,
		Ports: []*corev1.ServicePort{
			{Name: "http", Port: 80, TargetPort: strPort("http")},
			{Name: "metrics", Port: 9090, TargetPort: intPort(9091)},
		}}}
	httpAndMetrics := []*corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: "TCP"}, {Name: "metrics", Port: 9091, Protocol: "TCP"}}
	onlyMetrics := []*corev1.EndpointPort{{Name: "metrics", Port: 9091, Protocol: "TCP"}}
	addr := func(name, a string) *corev1.EndpointAddress {
		return &corev1.EndpointAddress{Ip: a, NodeName: proto.String("node-1"),
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: name, Uid: "uid-" + name}}
	}
	deleting := func(p *corev1.Pod) { p.Metadata.DeletionTimestamp = nowPB() }
	tests := []struct {
		name    string
		publish bool
		pods    []*corev1.Pod
		want    []*corev1.EndpointSubset
	}{
		{name: "no pods", want: []*corev1.EndpointSubset{}},
		{name: "ready and not ready share a subset",
			pods: []*corev1.Pod{
				mkPod("b", web, ip("10.0.0.2"), ready(false), namedPort("http", 8080)),
				mkPod("a", web, ip("10.0.0.1"), ready(true), namedPort("http", 8080)),
			},
			want: []*corev1.EndpointSubset{{Addresses: []*corev1.EndpointAddress{addr("a", "10.0.0.1")},
				NotReadyAddresses: []*corev1.EndpointAddress{addr("b", "10.0.0.2")}, Ports: httpAndMetrics}}},
		{name: "pod lacking the named port gets its own subset",
			pods: []*corev1.Pod{
				mkPod("a", web, ip("10.0.0.1"), ready(true), namedPort("http", 8080)),
				mkPod("c", web, ip("10.0.0.3"), ready(true), namedPort("web", 8080)),
				mkPod("d", web, ip("10.0.0.4"), ready(true)),
			},
			want: []*corev1.EndpointSubset{
				{Addresses: []*corev1.EndpointAddress{addr("a", "10.0.0.1")}, Ports: httpAndMetrics},
				{Addresses: []*corev1.EndpointAddress{addr("c", "10.0.0.3"), addr("d", "10.0.0.4")}, Ports: onlyMetrics},
			}},
		{name: "no IP, terminal and deleting pods are left out",
			pods: []*corev1.Pod{
				mkPod("a", web, ready(true), namedPort("http", 8080)),
				mkPod("b", web, ip("10.0.0.2"), ready(true), phase("Succeeded")),
				mkPod("c", web, ip("10.0.0.3"), ready(true), phase("Failed")),
				mkPod("d", web, ip("10.0.0.4"), ready(true), deleting),
			},
			want: []*corev1.EndpointSubset{}},
		{name: "publishNotReadyAddresses makes every pod ready and keeps terminating ones", publish: true,
			pods: []*corev1.Pod{
				mkPod("a", web, ip("10.0.0.1"), ready(false), namedPort("http", 8080)),
				mkPod("b", web, ip("10.0.0.2"), namedPort("http", 8080), deleting),
			},
			want: []*corev1.EndpointSubset{{Addresses: []*corev1.EndpointAddress{addr("a", "10.0.0.1"), addr("b", "10.0.0.2")}, Ports: httpAndMetrics}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := proto.Clone(svc).(*corev1.Service)
			s.Spec.PublishNotReadyAddresses = tt.publish
			got := endpoints.Subsets(s, tt.pods)
			if !endpoints.Equal(got, tt.want) {
				t.Fatalf("Subsets:\n got %v\nwant %v", got, tt.want)
			}
			// Equal is order-insensitive, but Subsets must also be deterministic: reversing the pods gives
			// the identical (not only equivalent) result.
			rev := append([]*corev1.Pod(nil), tt.pods...)
			for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
				rev[i], rev[j] = rev[j], rev[i]
			}
			again := endpoints.Subsets(s, rev)
			if len(again) != len(got) {
				t.Fatalf("not deterministic: %v vs %v", again, got)
			}
			for i := range got {
				if !proto.Equal(got[i], again[i]) {
					t.Fatalf("not deterministic: %v vs %v", again, got)
				}
			}
		})
	}
}

func TestEqual(t *testing.T) {
	a := []*corev1.EndpointSubset{
		{Addresses: []*corev1.EndpointAddress{{Ip: "10.0.0.2"}, {Ip: "10.0.0.1"}}, Ports: []*corev1.EndpointPort{{Name: "b", Port: 2}, {Name: "a", Port: 1, Protocol: "TCP"}}},
		{Addresses: []*corev1.EndpointAddress{{Ip: "10.0.0.3"}}, Ports: []*corev1.EndpointPort{{Name: "a", Port: 1}}},
	}
	b := []*corev1.EndpointSubset{
		{Addresses: []*corev1.EndpointAddress{{Ip: "10.0.0.3"}}, Ports: []*corev1.EndpointPort{{Name: "a", Port: 1, Protocol: "TCP"}}},
		{Addresses: []*corev1.EndpointAddress{{Ip: "10.0.0.1"}, {Ip: "10.0.0.2"}}, Ports: []*corev1.EndpointPort{{Name: "a", Port: 1}, {Name: "b", Port: 2, Protocol: "TCP"}}},
	}
	if !endpoints.Equal(a, b) {
		t.Fatalf("reordered subsets should be equal")
	}
	b[0].Addresses[0].Ip = "10.0.0.4"
	if endpoints.Equal(a, b) {
		t.Fatalf("different addresses should differ")
	}
	b[0].Addresses[0].Ip = "10.0.0.3"
	b[1].NotReadyAddresses = b[1].Addresses[:1]
	b[1].Addresses = b[1].Addresses[1:]
	if endpoints.Equal(a, b) {
		t.Fatalf("readiness should matter")
	}
}

func TestFindPort(t *testing.T) {
	pod := mkPod("p", nil, namedPort("http", 8080), func(p *corev1.Pod) {
		p.Spec.Containers = append(p.Spec.Containers, &corev1.Container{Name: "dns",
			Ports: []*corev1.ContainerPort{{Name: "dns", ContainerPort: 53, Protocol: "UDP"}}})
	})
	tests := []struct {
		sp     *corev1.ServicePort
		want   int32
		wantOK bool
	}{
		{&corev1.ServicePort{Port: 80}, 80, true},
		{&corev1.ServicePort{Port: 80, TargetPort: intPort(8081)}, 8081, true},
		{&corev1.ServicePort{Port: 80, TargetPort: strPort("http")}, 8080, true},
		{&corev1.ServicePort{Port: 80, TargetPort: strPort("http"), Protocol: "UDP"}, 0, false},
		{&corev1.ServicePort{Port: 53, TargetPort: strPort("dns"), Protocol: "UDP"}, 53, true},
		{&corev1.ServicePort{Port: 53, TargetPort: strPort("dns")}, 0, false},
		{&corev1.ServicePort{Port: 80, TargetPort: strPort("missing")}, 0, false},
	}
	for _, tt := range tests {
		got, ok := endpoints.FindPort(pod, tt.sp)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("FindPort(%v) = %d, %v; want %d, %v", tt.sp, got, ok, tt.want, tt.wantOK)
		}
	}
}

type harness struct {
	c    *client.Client
	rec  *record.FakeRecorder
	reg  *prometheus.Registry
	ctx  context.Context
	stop context.CancelFunc
	done chan error
}

func start(t *testing.T) *harness {
	t.Helper()
	a := cxtest.StartAPIServer(t)
	h := &harness{c: a.Client, rec: &record.FakeRecorder{}, reg: prometheus.NewRegistry(), done: make(chan error, 1)}
	f := informer.NewFactory(a.Client, 0, cxtest.Logger())
	ctrl, err := endpoints.New(endpoints.Config{Client: a.Client, Factory: f, Recorder: h.rec, Registerer: h.reg, Logger: cxtest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	h.ctx, h.stop = context.WithCancel(cxtest.Context(t))
	f.Start(h.ctx)
	go func() { h.done <- ctrl.Run(h.ctx) }()
	t.Cleanup(func() { h.stop(); <-h.done })
	return h
}

// waitEndpoints waits until the Endpoints object ns/name has exactly want (semantically).
func (h *harness) waitEndpoints(t *testing.T, name string, want []*corev1.EndpointSubset) *corev1.Endpoints {
	t.Helper()
	var last *corev1.Endpoints
	var lastErr error
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		last, lastErr = h.c.Endpoints().Get(h.ctx, "default", name)
		if lastErr == nil && endpoints.Equal(last.GetSubsets(), want) {
			return last
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("endpoints %s never became %v; last %v (err %v)", name, want, last.GetSubsets(), lastErr)
	return nil
}

func TestController(t *testing.T) {
	h := start(t)
	ctx, c := h.ctx, h.c
	web := map[string]string{"app": "web"}
	svc, err := c.Services().Create(ctx, &corev1.Service{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "web", Labels: map[string]string{"tier": "front"}},
		Spec: &corev1.ServiceSpec{Selector: web, Ports: []*corev1.ServicePort{
			{Name: "http", Port: 80, TargetPort: strPort("http"), Protocol: "TCP"},
			{Name: "admin", Port: 81, TargetPort: intPort(9000), Protocol: "TCP"},
		}}})
	if err != nil {
		t.Fatal(err)
	}
	// An empty Endpoints object appears for a service without pods.
	ep := h.waitEndpoints(t, "web", nil)
	if ep.GetMetadata().GetLabels()["tier"] != "front" {
		t.Errorf("endpoints labels = %v, want the service's", ep.GetMetadata().GetLabels())
	}

	a := createPod(t, ctx, c, mkPod("a", web, ip("10.1.0.1"), ready(true), namedPort("http", 8080)))
	b := createPod(t, ctx, c, mkPod("b", web, ip("10.1.0.2"), ready(false), namedPort("http", 8080)))
	createPod(t, ctx, c, mkPod("nohttp", web, ip("10.1.0.3"), ready(true)))
	createPod(t, ctx, c, mkPod("other", map[string]string{"app": "db"}, ip("10.1.0.9"), ready(true), namedPort("http", 8080)))
	addr := func(p *corev1.Pod) *corev1.EndpointAddress {
		return &corev1.EndpointAddress{Ip: p.Status.PodIp, NodeName: proto.String("node-1"),
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: p.Metadata.Name, Uid: p.Metadata.Uid}}
	}
	nohttp, err := c.Pods().Get(ctx, "default", "nohttp")
	if err != nil {
		t.Fatal(err)
	}
	both := []*corev1.EndpointPort{{Name: "admin", Port: 9000, Protocol: "TCP"}, {Name: "http", Port: 8080, Protocol: "TCP"}}
	adminOnly := []*corev1.EndpointPort{{Name: "admin", Port: 9000, Protocol: "TCP"}}
	ep = h.waitEndpoints(t, "web", []*corev1.EndpointSubset{
		{Addresses: []*corev1.EndpointAddress{addr(a)}, NotReadyAddresses: []*corev1.EndpointAddress{addr(b)}, Ports: both},
		{Addresses: []*corev1.EndpointAddress{addr(nohttp)}, Ports: adminOnly},
	})

	// A pod change that does not matter (an annotation) causes no write.
	rv := ep.GetMetadata().GetResourceVersion()
	syncsBefore := counter(t, h.reg, "unchanged")
	a.Metadata.Annotations = map[string]string{"note": "x"}
	if a, err = c.Pods().Update(ctx, a); err != nil {
		t.Fatal(err)
	}
	cxtest.Eventually(t, 30*time.Second, func() bool { return counter(t, h.reg, "unchanged") > syncsBefore },
		"the annotation change was not synced")
	if got, _ := c.Endpoints().Get(ctx, "default", "web"); got.GetMetadata().GetResourceVersion() != rv {
		t.Fatalf("endpoints rewritten for an irrelevant pod change: rv %s -> %s", rv, got.GetMetadata().GetResourceVersion())
	}

	// b becomes ready: it moves to addresses.
	b.Status.Conditions = []*metav1.Condition{{Type: "Ready", Status: "True"}}
	if b, err = c.Pods().UpdateStatus(ctx, b); err != nil {
		t.Fatal(err)
	}
	h.waitEndpoints(t, "web", []*corev1.EndpointSubset{
		{Addresses: []*corev1.EndpointAddress{addr(a), addr(b)}, Ports: both},
		{Addresses: []*corev1.EndpointAddress{addr(nohttp)}, Ports: adminOnly},
	})

	// a is being deleted (held by a finalizer): it is dropped. nohttp is relabelled out of the service.
	a.Metadata.Finalizers = []string{"test/hold"}
	if a, err = c.Pods().Update(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pods().Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: "a"}); err != nil {
		t.Fatal(err)
	}
	nohttp.Metadata.Labels = map[string]string{"app": "gone"}
	if _, err := c.Pods().Update(ctx, nohttp); err != nil {
		t.Fatal(err)
	}
	h.waitEndpoints(t, "web", []*corev1.EndpointSubset{{Addresses: []*corev1.EndpointAddress{addr(b)}, Ports: both}})

	// publishNotReadyAddresses: the terminating pod a comes back, as ready.
	svc, err = c.Services().Get(ctx, "default", "web")
	if err != nil {
		t.Fatal(err)
	}
	svc.Spec.PublishNotReadyAddresses = true
	if _, err := c.Services().Update(ctx, svc); err != nil {
		t.Fatal(err)
	}
	h.waitEndpoints(t, "web", []*corev1.EndpointSubset{{Addresses: []*corev1.EndpointAddress{addr(a), addr(b)}, Ports: both}})

	// Endpoints deleted by hand are recreated.
	if _, err := c.Endpoints().Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: "web"}); err != nil {
		t.Fatal(err)
	}
	h.waitEndpoints(t, "web", []*corev1.EndpointSubset{{Addresses: []*corev1.EndpointAddress{addr(a), addr(b)}, Ports: both}})

	// Deleting the service deletes its Endpoints.
	if _, err := c.Services().Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: "web"}); err != nil {
		t.Fatal(err)
	}
	cxtest.Eventually(t, 30*time.Second, func() bool {
		_, err := c.Endpoints().Get(ctx, "default", "web")
		return apierrors.IsNotFound(err)
	}, "endpoints not deleted with the service")
}

func TestSelectorlessServiceIsLeftAlone(t *testing.T) {
	h := start(t)
	ctx, c := h.ctx, h.c
	if _, err := c.Services().Create(ctx, &corev1.Service{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "ext"},
		Spec: &corev1.ServiceSpec{Ports: []*corev1.ServicePort{{Port: 5432, Protocol: "TCP"}}}}); err != nil {
		t.Fatal(err)
	}
	user := []*corev1.EndpointSubset{{Addresses: []*corev1.EndpointAddress{{Ip: "192.0.2.10"}}, Ports: []*corev1.EndpointPort{{Port: 5432, Protocol: "TCP"}}}}
	created, err := c.Endpoints().Create(ctx, &corev1.Endpoints{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "ext"}, Subsets: user})
	if err != nil {
		t.Fatal(err)
	}
	// A selector service next to it, as a witness that the controller is syncing.
	if _, err := c.Services().Create(ctx, &corev1.Service{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "witness"},
		Spec: &corev1.ServiceSpec{Selector: map[string]string{"x": "y"}, Ports: []*corev1.ServicePort{{Port: 1, Protocol: "TCP"}}}}); err != nil {
		t.Fatal(err)
	}
	h.waitEndpoints(t, "witness", nil)
	cxtest.Eventually(t, 30*time.Second, func() bool { return counter(t, h.reg, "create") >= 1 }, "no create counted")
	got, err := c.Endpoints().Get(ctx, "default", "ext")
	if err != nil {
		t.Fatal(err)
	}
	if got.GetMetadata().GetResourceVersion() != created.GetMetadata().GetResourceVersion() || !endpoints.Equal(got.GetSubsets(), user) {
		t.Fatalf("user-managed endpoints were changed: %v", got)
	}
	for _, e := range h.rec.Recorded() {
		t.Errorf("unexpected event %q", e)
	}
}

// counter reads coxswain_endpoints_syncs_total{operation=op} from reg.
func counter(t *testing.T, reg *prometheus.Registry, op string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "coxswain_endpoints_syncs_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "operation" && l.GetValue() == op {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func nowPB() *timestamppb.Timestamp { return timestamppb.Now() }
