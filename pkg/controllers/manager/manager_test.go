package manager_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/cli"
	"github.com/coxswain/coxswain/pkg/client"
	ctesting "github.com/coxswain/coxswain/pkg/controllers/internal/testing"
	"github.com/coxswain/coxswain/pkg/controllers/manager"
	cxtest "github.com/coxswain/coxswain/pkg/testutil"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// The test binary doubles as the controller-manager command, so a test can run (and SIGKILL) real
// controller-manager processes.
const childEnv = "COXSWAIN_TEST_CONTROLLER_MANAGER_ARGS"

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(childEnv); ok {
		cmd := manager.NewCommand()
		cmd.SetArgs(strings.Split(args, "\n"))
		cli.Main(cmd)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestEnabled(t *testing.T) {
	all := manager.Controllers()
	without := func(names ...string) []string {
		return slices.DeleteFunc(slices.Clone(all), func(n string) bool { return slices.Contains(names, n) })
	}
	tests := []struct {
		spec    []string
		want    []string
		wantErr string
	}{
		{nil, all, ""},
		{[]string{"*"}, all, ""},
		{[]string{"*", "-gc"}, without("gc"), ""},
		{[]string{"*", "-gc", "-loadbalancer"}, without("gc", "loadbalancer"), ""},
		{[]string{"nodeipam", "endpoints"}, []string{"endpoints", "nodeipam"}, ""},
		{[]string{"-gc"}, nil, ""},
		{[]string{"gc", "-gc"}, nil, "both enabled and disabled"},
		{[]string{"*", "bogus"}, nil, `unknown controller "bogus"`},
		{[]string{"-bogus"}, nil, `unknown controller "-bogus"`},
	}
	for _, tt := range tests {
		got, err := manager.Enabled(tt.spec)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Enabled(%q) error = %v, want %q", tt.spec, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("Enabled(%q) = %v, %v; want %v", tt.spec, got, err, tt.want)
		}
	}
}

type running struct {
	m      *manager.Manager
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// stop cancels the manager and returns what its Run returned.
func (r *running) stop() error {
	r.once.Do(func() {
		r.cancel()
		r.err = <-r.done
	})
	return r.err
}

func startManager(t *testing.T, c *client.Client, cfg manager.Config) *running {
	t.Helper()
	cfg.Client, cfg.Logger, cfg.HTTPAddr = c, cxtest.Logger(), "127.0.0.1:0"
	cfg.Registry = prometheus.NewRegistry()
	m, err := manager.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{m: m, reg: cfg.Registry, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- m.Run(ctx) }()
	t.Cleanup(func() { _ = r.stop() })
	return r
}

// reconciles sums controller_runtime_reconcile_total over every controller and result.
func reconciles(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() == "controller_runtime_reconcile_total" {
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	return string(b)
}

func createNode(t *testing.T, ctx context.Context, c *client.Client, name string) {
	t.Helper()
	now := timestamppb.Now()
	if _, err := c.Nodes().Create(ctx, &corev1.Node{Metadata: &metav1.ObjectMeta{Name: name},
		Status: &corev1.NodeStatus{Conditions: []*metav1.Condition{{Type: "Ready", Status: "True", LastHeartbeatTime: now, LastTransitionTime: now}}}}); err != nil {
		t.Fatal(err)
	}
}

func podCIDR(ctx context.Context, c *client.Client, name string) string {
	n, err := c.Nodes().Get(ctx, "", name)
	if err != nil {
		return ""
	}
	return n.GetSpec().GetPodCidr()
}

func waitPodCIDR(t *testing.T, ctx context.Context, c *client.Client, name string) string {
	t.Helper()
	cxtest.Eventually(t, 30*time.Second, func() bool { return podCIDR(ctx, c, name) != "" }, "node %s got no pod CIDR", name)
	return podCIDR(ctx, c, name)
}

func leaseHolder(ctx context.Context, c *client.Client) string {
	l, err := c.Leases().Get(ctx, manager.LeaseNamespace, manager.LeaseName)
	if err != nil {
		return ""
	}
	return l.GetSpec().GetHolderIdentity()
}

func TestLeaderElection(t *testing.T) {
	a := cxtest.StartAPIServer(t)
	ctx, c := cxtest.Context(t), a.Client
	cfg := manager.Config{LeaderElect: true, LeaseDuration: 2 * time.Second, RenewDeadline: 1500 * time.Millisecond, RetryPeriod: 200 * time.Millisecond,
		LoadBalancerPool: "192.0.2.10-192.0.2.20"}
	cfg.Identity = "one"
	one := startManager(t, c, cfg)
	cfg.Identity = "two"
	two := startManager(t, c, cfg)

	var leader, standby *running
	cxtest.Eventually(t, 30*time.Second, func() bool { return one.m.IsLeader() || two.m.IsLeader() }, "nobody leads")
	leader, standby = one, two
	if two.m.IsLeader() {
		leader, standby = two, one
	}
	if got := leaseHolder(ctx, c); got != leader.m.Identity() {
		t.Fatalf("lease held by %q, leader is %q", got, leader.m.Identity())
	}
	createNode(t, ctx, c, "n1")
	first := waitPodCIDR(t, ctx, c, "n1")
	if _, err := c.Services().Create(ctx, &corev1.Service{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "lb"},
		Spec: &corev1.ServiceSpec{Type: "LoadBalancer", Ports: []*corev1.ServicePort{{Port: 80, Protocol: "TCP"}}}}); err != nil {
		t.Fatal(err)
	}
	cxtest.Eventually(t, 30*time.Second, func() bool {
		s, err := c.Services().Get(ctx, "default", "lb")
		return err == nil && len(s.GetStatus().GetLoadBalancer().GetIngress()) == 1
	}, "the leader did not assign a load-balancer address")

	// Only the leader acts: the standby has not reconciled anything.
	if standby.m.IsLeader() {
		t.Fatalf("both replicas lead")
	}
	if n := reconciles(t, standby.reg); n != 0 {
		t.Fatalf("the standby reconciled %v times", n)
	}
	if n := reconciles(t, leader.reg); n == 0 {
		t.Fatalf("the leader reconciled nothing")
	}
	if got := httpGet(t, "http://"+standby.m.HTTPAddr()+"/healthz"); got != "ok (standby)" {
		t.Fatalf("standby /healthz = %q", got)
	}
	if got := httpGet(t, "http://"+leader.m.HTTPAddr()+"/healthz"); got != "ok (leader)" {
		t.Fatalf("leader /healthz = %q", got)
	}
	if m := httpGet(t, "http://"+leader.m.HTTPAddr()+"/metrics"); !strings.Contains(m, "coxswain_nodeipam_cidr_assignments_total 1") ||
		!strings.Contains(m, `leader_election_master_status{name="coxswain-controller-manager"} 1`) {
		t.Fatalf("leader /metrics lacks the expected series:\n%s", m)
	}
	httpGet(t, "http://"+leader.m.HTTPAddr()+"/debug/pprof/")

	// The leader shuts down (releasing the lease): the standby takes over and carries on, keeping the
	// existing assignments.
	if err := leader.stop(); err != nil && err != context.Canceled {
		t.Fatalf("leader Run: %v", err)
	}
	cxtest.Eventually(t, 30*time.Second, func() bool { return standby.m.IsLeader() }, "the standby did not take over")
	if got := leaseHolder(ctx, c); got != standby.m.Identity() {
		t.Fatalf("lease held by %q after the takeover", got)
	}
	createNode(t, ctx, c, "n2")
	second := waitPodCIDR(t, ctx, c, "n2")
	if second == first || podCIDR(ctx, c, "n1") != first {
		t.Fatalf("after the takeover: n1 %s (was %s), n2 %s", podCIDR(ctx, c, "n1"), first, second)
	}
}

// child is a controller-manager process.
type child struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(args, "\n"))
	if os.Getenv("COXSWAIN_TEST_LOG") != "" {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := &child{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(ch.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-ch.done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-ch.done
		}
	})
	return ch
}

// TestLeaderCrash runs two controller-manager processes and SIGKILLs the leader: it cannot release the
// lease, so the standby takes over once the lease expires.
func TestLeaderCrash(t *testing.T) {
	a := cxtest.StartAPIServer(t)
	ctx, c := cxtest.Context(t), a.Client
	procs := map[string]*child{}
	for _, id := range []string{"cm-a", "cm-b"} {
		procs[id] = startChild(t, "--apiserver="+a.Addr, "--http-listen=127.0.0.1:0", "--leader-elect-identity="+id,
			"--leader-elect-lease-duration=2s", "--leader-elect-renew-deadline=1500ms", "--leader-elect-retry-period=200ms",
			"--controllers=nodeipam,loadbalancer", "--cluster-cidr=10.200.0.0/16", "--log-level=warn")
	}
	cxtest.Eventually(t, 60*time.Second, func() bool { return procs[leaseHolder(ctx, c)] != nil }, "no process took the lease")
	leader := leaseHolder(ctx, c)
	createNode(t, ctx, c, "x1")
	first := waitPodCIDR(t, ctx, c, "x1")

	if err := procs[leader].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	<-procs[leader].done
	var next string
	cxtest.Eventually(t, 30*time.Second, func() bool {
		next = leaseHolder(ctx, c)
		return next != leader && procs[next] != nil
	}, "the standby did not take over from the killed leader")
	if d := time.Since(killed); d < time.Second {
		t.Fatalf("took over %v after the kill, before the 2s lease could expire", d)
	}
	createNode(t, ctx, c, "x2")
	second := waitPodCIDR(t, ctx, c, "x2")
	if second == first || podCIDR(ctx, c, "x1") != first {
		t.Fatalf("after the takeover: x1 %s (was %s), x2 %s", podCIDR(ctx, c, "x1"), first, second)
	}
}

// TestAllControllers runs every controller in one manager with a hollow kubelet: a Deployment's pods
// become a Service's endpoints, deleting it cascades, and deleting a namespace empties it.
func TestAllControllers(t *testing.T) {
	a := cxtest.StartAPIServer(t)
	ctx, c := cxtest.Context(t), a.Client
	for _, n := range []string{"node-1", "node-2", "node-3"} {
		createNode(t, ctx, c, n)
	}
	ctesting.StartHollowKubelet(t, ctesting.KubeletConfig{Client: c, DeleteDelay: 500 * time.Millisecond, Logger: cxtest.Logger()})
	r := startManager(t, c, manager.Config{LoadBalancerPool: "192.0.2.0/30"})
	if got := r.m.Enabled(); !slices.Equal(got, manager.Controllers()) {
		t.Fatalf("enabled %v", got)
	}
	for _, n := range []string{"node-1", "node-2", "node-3"} {
		waitPodCIDR(t, ctx, c, n)
	}
	if _, err := c.Namespaces().Create(ctx, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "shop"}}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "web"}
	if _, err := c.Deployments().Create(ctx, &appsv1.Deployment{Metadata: &metav1.ObjectMeta{Namespace: "shop", Name: "web"},
		Spec: &appsv1.DeploymentSpec{Replicas: proto.Int32(2), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: labels},
				Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "web", Image: "img",
					Ports: []*corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: "TCP"}}}}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Services().Create(ctx, &corev1.Service{Metadata: &metav1.ObjectMeta{Namespace: "shop", Name: "web"},
		Spec: &corev1.ServiceSpec{Type: "LoadBalancer", Selector: labels, Ports: []*corev1.ServicePort{{Port: 80, Protocol: "TCP",
			TargetPort: &metav1.IntOrString{Value: &metav1.IntOrString_StrVal{StrVal: "http"}}}}}}); err != nil {
		t.Fatal(err)
	}
	cxtest.Eventually(t, 60*time.Second, func() bool {
		ep, err := c.Endpoints().Get(ctx, "shop", "web")
		return err == nil && len(ep.GetSubsets()) == 1 && len(ep.GetSubsets()[0].GetAddresses()) == 2 &&
			ep.GetSubsets()[0].GetPorts()[0].GetPort() == 8080
	}, "the Deployment's pods did not become the Service's endpoints")
	cxtest.Eventually(t, 30*time.Second, func() bool {
		s, err := c.Services().Get(ctx, "shop", "web")
		return err == nil && len(s.GetStatus().GetLoadBalancer().GetIngress()) == 1
	}, "no load-balancer address")

	// Deleting the Deployment cascades (background) through its ReplicaSet to the pods.
	if _, err := c.Deployments().Delete(ctx, &metav1.DeleteRequest{Namespace: "shop", Name: "web"}); err != nil {
		t.Fatal(err)
	}
	cxtest.Eventually(t, 60*time.Second, func() bool {
		rss, _, err1 := c.ReplicaSets().List(ctx, &metav1.ListOptions{Namespace: "shop"})
		pods, _, err2 := c.Pods().List(ctx, &metav1.ListOptions{Namespace: "shop"})
		ep, err3 := c.Endpoints().Get(ctx, "shop", "web")
		return err1 == nil && err2 == nil && err3 == nil && len(rss) == 0 && len(pods) == 0 && len(ep.GetSubsets()) == 0
	}, "the Deployment's ReplicaSet and pods were not garbage collected")

	// Deleting the namespace removes the Service (and its Endpoints), then the namespace.
	if _, err := c.Namespaces().Delete(ctx, &metav1.DeleteRequest{Name: "shop"}); err != nil {
		t.Fatal(err)
	}
	cxtest.Eventually(t, 60*time.Second, func() bool {
		_, err := c.Namespaces().Get(ctx, "", "shop")
		return apierrors.IsNotFound(err)
	}, "namespace shop not deleted")
	if svcs, _, err := c.Services().List(ctx, &metav1.ListOptions{Namespace: "shop"}); err != nil || len(svcs) != 0 {
		t.Fatalf("services left in the deleted namespace: %d, %v", len(svcs), err)
	}
}
