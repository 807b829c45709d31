package loadbalancer_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/client/informer"
	"github.com/coxswain/coxswain/pkg/client/record"
	"github.com/coxswain/coxswain/pkg/controllers/loadbalancer"
	cxtest "github.com/coxswain/coxswain/pkg/testutil"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

func run(t *testing.T, c *client.Client, rec record.Recorder, pool string) (*loadbalancer.Controller, func()) {
	t.Helper()
	f := informer.NewFactory(c, 0, cxtest.Logger())
	ctrl, err := loadbalancer.New(loadbalancer.Config{Client: c, Factory: f, Recorder: rec, Registerer: prometheus.NewRegistry(), Logger: cxtest.Logger(), Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.Start(ctx)
	done := make(chan error, 1)
	go func() { done <- ctrl.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return ctrl, stop
}

func createLB(t *testing.T, ctx context.Context, c *client.Client, name, typ, requested string) {
	t.Helper()
	if _, err := c.Services().Create(ctx, &corev1.Service{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: &corev1.ServiceSpec{Type: typ, LoadBalancerIp: requested, Selector: map[string]string{"app": name},
			Ports: []*corev1.ServicePort{{Port: 80, Protocol: "TCP"}}}}); err != nil {
		t.Fatalf("create service %s: %v", name, err)
	}
}

func ingress(ctx context.Context, c *client.Client, name string) string {
	s, err := c.Services().Get(ctx, "default", name)
	if err != nil {
		return "error: " + err.Error()
	}
	var ips []string
	for _, i := range s.GetStatus().GetLoadBalancer().GetIngress() {
		ips = append(ips, i.GetIp())
	}
	return strings.Join(ips, ",")
}

func waitIngress(t *testing.T, ctx context.Context, c *client.Client, name, want string) {
	t.Helper()
	cxtest.Eventually(t, 30*time.Second, func() bool { return ingress(ctx, c, name) == want },
		"service %s: ingress %q, want %q", name, ingress(ctx, c, name), want)
}

func hasEvent(rec *record.FakeRecorder, prefix string) bool {
	for _, e := range rec.Recorded() {
		if strings.HasPrefix(e, prefix) {
			return true
		}
	}
	return false
}

func TestAssignExhaustReleaseRestart(t *testing.T) {
	a := cxtest.StartAPIServer(t)
	ctx, c := cxtest.Context(t), a.Client
	rec := &record.FakeRecorder{}
	const pool = "172.18.255.200-172.18.255.202"
	_, stop := run(t, c, rec, pool)

	createLB(t, ctx, c, "first", "LoadBalancer", "")
	waitIngress(t, ctx, c, "first", "172.18.255.200")
	createLB(t, ctx, c, "asks", "LoadBalancer", "172.18.255.202") // a free address in the pool: honoured
	waitIngress(t, ctx, c, "asks", "172.18.255.202")
	createLB(t, ctx, c, "third", "LoadBalancer", "")
	waitIngress(t, ctx, c, "third", "172.18.255.201")
	createLB(t, ctx, c, "cluster", "ClusterIP", "")
	// Exhausted: pending, with a warning.
	createLB(t, ctx, c, "pending", "LoadBalancer", "")
	cxtest.Eventually(t, 30*time.Second, func() bool { return hasEvent(rec, "Warning AllocationFailed") },
		"no AllocationFailed event for the exhausted pool: %v", rec.Recorded())
	// Requests for a used or outside address stay pending too.
	createLB(t, ctx, c, "taken", "LoadBalancer", "172.18.255.200")
	createLB(t, ctx, c, "outside", "LoadBalancer", "10.1.2.3")
	cxtest.Eventually(t, 30*time.Second, func() bool {
		return hasEvent(rec, `Warning AllocationFailed Failed to allocate IP for "default/taken": requested IP 172.18.255.200 is already in use`) &&
			hasEvent(rec, `Warning AllocationFailed Failed to allocate IP for "default/outside": requested IP 10.1.2.3 is not in the address pool`)
	}, "missing warnings for bad requests: %v", rec.Recorded())
	for _, n := range []string{"pending", "taken", "outside", "cluster"} {
		if got := ingress(ctx, c, n); got != "" {
			t.Fatalf("service %s got %q", n, got)
		}
	}

	// Deleting "first" releases .200, which goes to the waiting service.
	for _, n := range []string{"taken", "outside", "first"} {
		if _, err := c.Services().Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	waitIngress(t, ctx, c, "pending", "172.18.255.200")
	// Turning "third" into a ClusterIP service clears its status and frees .201, which can be requested.
	svc, err := c.Services().Get(ctx, "default", "third")
	if err != nil {
		t.Fatal(err)
	}
	svc.Spec.Type = "ClusterIP"
	if _, err := c.Services().Update(ctx, svc); err != nil {
		t.Fatal(err)
	}
	waitIngress(t, ctx, c, "third", "")
	createLB(t, ctx, c, "taken", "LoadBalancer", "172.18.255.201")
	waitIngress(t, ctx, c, "taken", "172.18.255.201")

	// Restart: the new controller rebuilds the assignments and hands out no duplicate.
	stop()
	before := map[string]string{}
	for _, n := range []string{"asks", "taken", "pending"} {
		before[n] = ingress(ctx, c, n)
	}
	if _, err := c.Services().Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: "asks"}); err != nil {
		t.Fatal(err)
	}
	second, _ := run(t, c, &record.FakeRecorder{}, pool)
	createLB(t, ctx, c, "after", "LoadBalancer", "")
	waitIngress(t, ctx, c, "after", "172.18.255.202") // the only free one: .200/.201 are still held
	for _, n := range []string{"taken", "pending"} {
		if got := ingress(ctx, c, n); got != before[n] {
			t.Fatalf("service %s: %q after the restart, was %q", n, got, before[n])
		}
	}
	want := map[string]string{"default/taken": before["taken"], "default/pending": before["pending"], "default/after": "172.18.255.202"}
	cxtest.Eventually(t, 30*time.Second, func() bool {
		got := second.Assigned()
		if len(got) != len(want) {
			return false
		}
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return true
	}, "assignments after restart %v, want %v", second.Assigned(), want)
}

func TestNoPool(t *testing.T) {
	a := cxtest.StartAPIServer(t)
	ctx, c := cxtest.Context(t), a.Client
	rec := &record.FakeRecorder{}
	run(t, c, rec, "")
	createLB(t, ctx, c, "lb", "LoadBalancer", "")
	cxtest.Eventually(t, 30*time.Second, func() bool {
		return hasEvent(rec, `Warning AllocationFailed Failed to allocate IP for "default/lb": no address pool configured`)
	}, "no warning without a pool: %v", rec.Recorded())
	if got := ingress(ctx, c, "lb"); got != "" {
		t.Fatalf("got ingress %q without a pool", got)
	}
}

func TestInvalidPool(t *testing.T) {
	a := cxtest.StartAPIServer(t)
	f := informer.NewFactory(a.Client, 0, cxtest.Logger())
	_, err := loadbalancer.New(loadbalancer.Config{Client: a.Client, Factory: f, Recorder: &record.FakeRecorder{}, Pool: "10.0.0.9-10.0.0.1"})
	if err == nil || !strings.Contains(err.Error(), "end is before start") {
		t.Fatalf("New with an invalid pool: %v", err)
	}
}
