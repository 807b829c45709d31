package scheduler

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/coxswain/coxswain/pkg/client"
	h "github.com/coxswain/coxswain/pkg/scheduler/framework/harness"
	"github.com/coxswain/coxswain/pkg/testutil"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// running is a scheduler started by a test.
type running struct {
	*Scheduler
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned err
	err    error
}

// stop cancels the scheduler and waits for Run to return.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		if r.err != nil {
			t.Errorf("scheduler %s: Run: %v", r.Identity(), r.err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("scheduler %s did not stop within 30s", r.Identity())
	}
}

func (r *running) attempts(result string) float64 {
	return promtest.ToFloat64(r.m.attempts.WithLabelValues(result))
}

func startScheduler(t *testing.T, c *client.Client, mutate func(*Config)) *running {
	t.Helper()
	return startSchedulerWith(t, c, mutate, nil)
}

// startSchedulerWith lets prep adjust the Scheduler between New and Run.
func startSchedulerWith(t *testing.T, c *client.Client, mutate func(*Config), prep func(*Scheduler)) *running {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg := Config{Client: c, Registry: reg, Logger: testutil.Logger(), HTTPAddr: "127.0.0.1:0", Parallelism: 2}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("scheduler.New: %v", err)
	}
	if prep != nil {
		prep(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Scheduler: s, reg: reg, cancel: cancel, done: make(chan struct{})}
	go func() { r.err = s.Run(ctx); close(r.done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
		}
	})
	return r
}

func createNode(t *testing.T, c *client.Client, n *h.NodeBuilder) *corev1.Node {
	t.Helper()
	out, err := c.Nodes().Create(testutil.Context(t), n.Obj())
	if err != nil {
		t.Fatalf("create node: %v", err)
	}
	return out
}

func createPod(t *testing.T, c *client.Client, p *h.PodBuilder) *corev1.Pod {
	t.Helper()
	out, err := c.Pods().Create(testutil.Context(t), p.Obj())
	if err != nil {
		t.Fatalf("create pod %s: %v", p.Obj().Metadata.Name, err)
	}
	return out
}

func getPod(t *testing.T, c *client.Client, name string) *corev1.Pod {
	t.Helper()
	p, err := c.Pods().Get(testutil.Context(t), "default", name)
	if err != nil {
		t.Fatalf("get pod %s: %v", name, err)
	}
	return p
}

// waitBound waits until pod default/name has a node and returns it.
func waitBound(t *testing.T, c *client.Client, name string, timeout time.Duration) string {
	t.Helper()
	var node string
	testutil.Eventually(t, timeout, func() bool {
		node = getPod(t, c, name).GetSpec().GetNodeName()
		return node != ""
	}, "pod %s not bound", name)
	return node
}

func podScheduledCondition(p *corev1.Pod) *metav1.Condition {
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == "PodScheduled" {
			return c
		}
	}
	return nil
}

// podEvents lists the events about default/name with reason.
func podEvents(t *testing.T, c *client.Client, name, reason string) []*corev1.Event {
	t.Helper()
	evs, _, err := c.Events().List(testutil.Context(t), &metav1.ListOptions{Namespace: "default"})
	if err != nil {
		t.Fatalf("list events: %v", err)
	}
	var out []*corev1.Event
	for _, e := range evs {
		if e.GetInvolvedObject().GetName() == name && e.GetReason() == reason {
			out = append(out, e)
		}
	}
	return out
}

// waitEvent waits for an event about pod default/name with reason and, unless empty, message.
func waitEvent(t *testing.T, c *client.Client, name, reason, message string) *corev1.Event {
	t.Helper()
	var ev *corev1.Event
	var seen []string
	testutil.Eventually(t, 20*time.Second, func() bool {
		seen = seen[:0]
		for _, e := range podEvents(t, c, name, reason) {
			if message == "" || e.GetMessage() == message {
				ev = e
				return true
			}
			seen = append(seen, e.GetMessage())
		}
		return false
	}, "no %s event %q for pod %s (seen %q)", reason, message, name, &seen)
	return ev
}

// waitNodes waits until the scheduler considers the nodes.
func waitNodes(t *testing.T, s *running, names ...string) {
	t.Helper()
	for _, n := range names {
		testutil.Eventually(t, 10*time.Second, func() bool { return s.cache.isNodeKnown(n) }, "the scheduler never saw node %s", n)
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestPodsSpreadOverNodes(t *testing.T) {
	a := testutil.StartAPIServer(t)
	s := startScheduler(t, a.Client, nil)
	for i := range 3 {
		createNode(t, a.Client, h.Node(fmt.Sprintf("node-%d", i), "4", "8Gi", "110"))
	}
	waitNodes(t, s, "node-0", "node-1", "node-2")
	for i := range 9 {
		createPod(t, a.Client, h.Pod("default", fmt.Sprintf("web-%d", i), "100m", "128Mi").Owner("rs-web").Label("app", "web"))
	}
	perNode := map[string]int{}
	for i := range 9 {
		name := fmt.Sprintf("web-%d", i)
		node := waitBound(t, a.Client, name, 30*time.Second)
		perNode[node]++
		if c := podScheduledCondition(getPod(t, a.Client, name)); c == nil || c.GetStatus() != "True" {
			t.Errorf("pod %s: PodScheduled condition %v, want True", name, c)
		}
		ev := waitEvent(t, a.Client, name, "Scheduled", fmt.Sprintf("Successfully assigned default/%s to %s", name, node))
		if ev.GetType() != "Normal" || ev.GetSource().GetComponent() != "default-scheduler" {
			t.Errorf("event %s from %q, want Normal from default-scheduler", ev.GetType(), ev.GetSource().GetComponent())
		}
	}
	for i := range 3 {
		if n := perNode[fmt.Sprintf("node-%d", i)]; n != 3 {
			t.Fatalf("pods per node %v, want 3 on each", perNode)
		}
	}
	if got := s.attempts(resultScheduled); got != 9 {
		t.Errorf("scheduled attempts %v, want 9", got)
	}
	if code, body := httpGet(t, "http://"+s.HTTPAddr()+"/healthz"); code != 200 || body != "ok" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		code, _ := httpGet(t, "http://"+s.HTTPAddr()+"/readyz")
		return code == 200
	}, "/readyz not ready")
	_, metrics := httpGet(t, "http://"+s.HTTPAddr()+"/metrics")
	for _, want := range []string{
		`scheduler_schedule_attempts_total{result="scheduled"} 9`,
		`scheduler_pending_pods{queue="active"} 0`,
		`scheduler_pending_pods{queue="unschedulable"} 0`,
		`scheduler_pod_scheduling_sli_duration_seconds_count 9`,
		`scheduler_scheduling_attempt_duration_seconds_count{result="scheduled"} 9`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestUnschedulablePodWaitsForABigEnoughNode(t *testing.T) {
	a := testutil.StartAPIServer(t)
	s := startScheduler(t, a.Client, nil)
	for i := range 3 {
		createNode(t, a.Client, h.Node(fmt.Sprintf("node-%d", i), "2", "8Gi", "110"))
	}
	waitNodes(t, s, "node-0", "node-1", "node-2")
	createPod(t, a.Client, h.Pod("default", "big", "3", "1Gi"))
	const want = "0/3 nodes are available: 3 Insufficient cpu."
	var pod *corev1.Pod
	testutil.Eventually(t, 20*time.Second, func() bool {
		pod = getPod(t, a.Client, "big")
		c := podScheduledCondition(pod)
		return c != nil && c.GetStatus() == "False" && c.GetReason() == "Unschedulable" && c.GetMessage() == want
	}, "pod big never got condition PodScheduled=False/Unschedulable %q", want)
	if pod.GetSpec().GetNodeName() != "" || pod.GetStatus().GetPhase() != "" && pod.GetStatus().GetPhase() != "Pending" {
		t.Fatalf("pod big: node %q phase %q, want Pending and unbound", pod.GetSpec().GetNodeName(), pod.GetStatus().GetPhase())
	}
	ev := waitEvent(t, a.Client, "big", "FailedScheduling", want)
	if ev.GetType() != "Warning" || ev.GetSource().GetComponent() != "default-scheduler" {
		t.Fatalf("event %s from %q, want Warning from default-scheduler", ev.GetType(), ev.GetSource().GetComponent())
	}
	if evs := podEvents(t, a.Client, "big", "FailedScheduling"); len(evs) != 1 {
		t.Fatalf("%d FailedScheduling events, want 1", len(evs))
	}

	// A relevant node change retries the pod; the unchanged message is not written again.
	rv := pod.GetMetadata().GetResourceVersion()
	before := s.attempts(resultUnschedulable)
	n0, err := a.Client.Nodes().Get(testutil.Context(t), "", "node-0")
	if err != nil {
		t.Fatal(err)
	}
	n0.Metadata.Labels["touched"] = "yes"
	if _, err := a.Client.Nodes().Update(testutil.Context(t), n0); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, func() bool { return s.attempts(resultUnschedulable) > before },
		"the node update did not trigger a new attempt")
	time.Sleep(500 * time.Millisecond) // let a (wrong) status write land
	if got := getPod(t, a.Client, "big").GetMetadata().GetResourceVersion(); got != rv {
		t.Fatalf("pod rewritten (resourceVersion %s → %s) though its condition message did not change", rv, got)
	}
	if _, _, u := s.queue.Lens(); u != 1 {
		t.Fatalf("unschedulable queue holds %d pods, want 1", u)
	}

	// A node big enough arrives: the pod is scheduled there.
	createNode(t, a.Client, h.Node("node-big", "8", "32Gi", "110"))
	if node := waitBound(t, a.Client, "big", 20*time.Second); node != "node-big" {
		t.Fatalf("big pod bound to %s, want node-big", node)
	}
	waitEvent(t, a.Client, "big", "Scheduled", "Successfully assigned default/big to node-big")
}

func TestNodeSelectorAndTaintsAreHonoured(t *testing.T) {
	a := testutil.StartAPIServer(t)
	s := startScheduler(t, a.Client, nil)
	createNode(t, a.Client, h.Node("n-ssd", "4", "8Gi", "110").Label("disk", "ssd"))
	createNode(t, a.Client, h.Node("n-gpu", "4", "8Gi", "110").Label("gpu", "true").Taint("dedicated", "gpu", "NoSchedule"))
	createNode(t, a.Client, h.Node("n-plain", "4", "8Gi", "110"))
	waitNodes(t, s, "n-ssd", "n-gpu", "n-plain")

	createPod(t, a.Client, h.Pod("default", "wants-ssd", "100m", "").NodeSelector("disk", "ssd"))
	createPod(t, a.Client, h.Pod("default", "gpu-job", "100m", "").NodeSelector("gpu", "true").Toleration("dedicated", "Equal", "gpu", "NoSchedule"))
	createPod(t, a.Client, h.Pod("default", "gpu-intolerant", "100m", "").NodeSelector("gpu", "true"))
	createPod(t, a.Client, h.Pod("default", "affine", "100m", "").RequiredNodeAffinity(h.Req("disk", "NotIn", "ssd"), h.Req("gpu", "DoesNotExist")))
	for i := range 6 {
		createPod(t, a.Client, h.Pod("default", fmt.Sprintf("plain-%d", i), "100m", ""))
	}
	if n := waitBound(t, a.Client, "wants-ssd", 20*time.Second); n != "n-ssd" {
		t.Errorf("wants-ssd on %s, want n-ssd", n)
	}
	if n := waitBound(t, a.Client, "gpu-job", 20*time.Second); n != "n-gpu" {
		t.Errorf("gpu-job on %s, want n-gpu", n)
	}
	if n := waitBound(t, a.Client, "affine", 20*time.Second); n != "n-plain" {
		t.Errorf("affine on %s, want n-plain", n)
	}
	for i := range 6 {
		if n := waitBound(t, a.Client, fmt.Sprintf("plain-%d", i), 20*time.Second); n == "n-gpu" {
			t.Errorf("plain-%d landed on the tainted node", i)
		}
	}
	const want = "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 node(s) didn't match Pod's node affinity/selector."
	testutil.Eventually(t, 20*time.Second, func() bool {
		c := podScheduledCondition(getPod(t, a.Client, "gpu-intolerant"))
		return c != nil && c.GetReason() == "Unschedulable" && c.GetMessage() == want
	}, "gpu-intolerant: condition %v, want %q", podScheduledCondition(getPod(t, a.Client, "gpu-intolerant")), want)
	waitEvent(t, a.Client, "gpu-intolerant", "FailedScheduling", want)
}

func TestPodsBeingDeletedAreSkipped(t *testing.T) {
	a := testutil.StartAPIServer(t)
	s := startScheduler(t, a.Client, nil)
	createNode(t, a.Client, h.Node("n-old", "4", "8Gi", "110"))
	waitNodes(t, s, "n-old")
	doomed := h.Pod("default", "doomed", "100m", "").NodeSelector("pool", "new")
	doomed.Obj().Metadata.Finalizers = []string{"test.coxswain.io/hold"}
	createPod(t, a.Client, doomed)
	testutil.Eventually(t, 20*time.Second, func() bool { return podScheduledCondition(getPod(t, a.Client, "doomed")) != nil },
		"doomed pod never attempted")
	if _, err := a.Client.Pods().Delete(testutil.Context(t), &metav1.DeleteRequest{Namespace: "default", Name: "doomed"}); err != nil {
		t.Fatal(err)
	}
	if getPod(t, a.Client, "doomed").GetMetadata().GetDeletionTimestamp() == nil {
		t.Fatal("the finalizer should hold the pod with a deletionTimestamp")
	}
	createPod(t, a.Client, h.Pod("default", "control", "100m", "").NodeSelector("pool", "new"))
	createNode(t, a.Client, h.Node("n-new", "4", "8Gi", "110").Label("pool", "new"))
	if n := waitBound(t, a.Client, "control", 20*time.Second); n != "n-new" {
		t.Fatalf("control on %s", n)
	}
	time.Sleep(time.Second)
	if n := getPod(t, a.Client, "doomed").GetSpec().GetNodeName(); n != "" {
		t.Fatalf("a pod being deleted was bound to %s", n)
	}
}

// flakyBinder fails the first binding of each pod, then binds through the real client.
type flakyBinder struct {
	inner binder
	mu    sync.Mutex
	seen  map[string]bool
}

func (f *flakyBinder) Bind(ctx context.Context, ns, name, uid, node string) (*corev1.Pod, error) {
	f.mu.Lock()
	first := !f.seen[ns+"/"+name]
	f.seen[ns+"/"+name] = true
	f.mu.Unlock()
	if first {
		return nil, fmt.Errorf("injected failure binding %s/%s to %s", ns, name, node)
	}
	return f.inner.Bind(ctx, ns, name, uid, node)
}

func TestFailedBindingIsForgottenAndRetried(t *testing.T) {
	a := testutil.StartAPIServer(t)
	s := startSchedulerWith(t, a.Client, nil, func(s *Scheduler) { s.binder = &flakyBinder{inner: a.Client, seen: map[string]bool{}} })
	createNode(t, a.Client, h.Node("n1", "4", "8Gi", "110"))
	waitNodes(t, s, "n1")
	createPod(t, a.Client, h.Pod("default", "p", "1500m", "1Gi"))
	node := waitBound(t, a.Client, "p", 30*time.Second)
	if ev := waitEvent(t, a.Client, "p", "FailedScheduling", "Binding rejected: injected failure binding default/p to n1"); ev.GetType() != "Warning" {
		t.Errorf("event type %s, want Warning", ev.GetType())
	}
	if e, ok := s.attempts(resultError), s.attempts(resultScheduled); e != 1 || ok != 1 {
		t.Errorf("attempts error=%v scheduled=%v, want 1 and 1", e, ok)
	}
	// The failed assumption was forgotten: the node accounts the pod once.
	testutil.Eventually(t, 10*time.Second, func() bool {
		_, assumed, ok := s.cache.placed("default/p")
		return ok && !assumed
	}, "the bound pod was not confirmed in the cache")
	if r, n := s.cache.nodeRequested(node); r.MilliCPU != 1500 || n != 1 {
		t.Fatalf("node %s accounts %dm cpu in %d pods, want 1500m in 1", node, r.MilliCPU, n)
	}
}

func TestCommandRuns(t *testing.T) {
	a := testutil.StartAPIServer(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := l.Addr().String()
	l.Close()
	cmd := NewCommand()
	cmd.SetArgs([]string{"--apiserver", a.Addr, "--http-listen", httpAddr, "--identity", "cmd-test",
		"--leader-elect-lease-duration", "3s", "--leader-elect-renew-deadline", "2s", "--leader-elect-retry-period", "200ms",
		"--log-level", "error", "--workers", "4", "--parallelism", "2"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("command: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("command did not stop")
		}
	}()
	createNode(t, a.Client, h.Node("n1", "4", "8Gi", "110"))
	createPod(t, a.Client, h.Pod("default", "p", "100m", ""))
	if n := waitBound(t, a.Client, "p", 30*time.Second); n != "n1" {
		t.Fatalf("bound to %s", n)
	}
	lease, err := a.Client.Leases().Get(testutil.Context(t), "kube-system", "coxswain-scheduler")
	if err != nil || lease.GetSpec().GetHolderIdentity() != "cmd-test" {
		t.Fatalf("lease %v holder %q, want cmd-test", err, lease.GetSpec().GetHolderIdentity())
	}
	_, metrics := httpGet(t, "http://"+httpAddr+"/metrics")
	for _, want := range []string{`scheduler_schedule_attempts_total{result="scheduled"} 1`, `leader_election_master_status{name="coxswain-scheduler"} 1`, "go_goroutines"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestNewValidatesConfig(t *testing.T) {
	c, err := client.New(client.Config{Server: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "scheduler: Config.Client is required"},
		{Config{Client: c, LeaderElect: true, LeaseDuration: 2 * time.Second, RenewDeadline: 2 * time.Second},
			"scheduler: RenewDeadline 2s must be shorter than LeaseDuration 2s"},
		{Config{Client: c, PodInitialBackoff: 5 * time.Second, PodMaxBackoff: time.Second},
			"scheduler: PodMaxBackoff 1s must not be shorter than PodInitialBackoff 5s"},
		{Config{Client: c, PercentageOfNodesToScore: 200}, "scheduler: framework: PercentageOfNodesToScore 200: must be between 0 and 100"},
	}
	for _, tc := range cases {
		if _, err := New(tc.cfg); err == nil || err.Error() != tc.want {
			t.Errorf("New(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
