package nodelifecycle_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/client/informer"
	"github.com/coxswain/coxswain/pkg/client/record"
	ctesting "github.com/coxswain/coxswain/pkg/controllers/internal/testing"
	"github.com/coxswain/coxswain/pkg/controllers/nodelifecycle"
	"github.com/coxswain/coxswain/pkg/controllers/replicaset"
	cxtest "github.com/coxswain/coxswain/pkg/testutil"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	coordinationv1 "github.com/coxswain/coxswain/proto/coxswain/coordination/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// heartbeat plays a kubelet's heartbeat: it renews the node's Lease every 200ms until stopped.
type heartbeat struct {
	stop func()
	done chan struct{}
}

func startHeartbeat(t *testing.T, c *client.Client, node string) *heartbeat {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := &heartbeat{done: make(chan struct{})}
	var once sync.Once
	h.stop = func() { once.Do(func() { cancel(); <-h.done }) }
	t.Cleanup(h.stop)
	renew := func() {
		now := timestamppb.Now()
		l, err := c.Leases().Get(ctx, nodelifecycle.NodeLeaseNamespace, node)
		if apierrors.IsNotFound(err) {
			_, _ = c.Leases().Create(ctx, &coordinationv1.Lease{Metadata: &metav1.ObjectMeta{Namespace: nodelifecycle.NodeLeaseNamespace, Name: node},
				Spec: &coordinationv1.LeaseSpec{HolderIdentity: proto.String(node), LeaseDurationSeconds: proto.Int32(40), RenewTime: now}})
			return
		}
		if err == nil {
			l.Spec.RenewTime = now
			_, _ = c.Leases().Update(ctx, l)
		}
	}
	renew()
	go func() {
		defer close(h.done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				renew()
			}
		}
	}()
	return h
}

func readyCondition(status string) *metav1.Condition {
	now := timestamppb.Now()
	return &metav1.Condition{Type: "Ready", Status: status, Reason: "KubeletReady", LastHeartbeatTime: now, LastTransitionTime: now}
}

func createNode(t *testing.T, ctx context.Context, c *client.Client, name string) {
	t.Helper()
	if _, err := c.Nodes().Create(ctx, &corev1.Node{Metadata: &metav1.ObjectMeta{Name: name},
		Status: &corev1.NodeStatus{Conditions: []*metav1.Condition{readyCondition("True")}}}); err != nil {
		t.Fatal(err)
	}
}

// postReady writes the node's Ready condition, as a kubelet coming back would.
func postReady(t *testing.T, ctx context.Context, c *client.Client, name string) {
	t.Helper()
	for {
		n, err := c.Nodes().Get(ctx, "", name)
		if err != nil {
			t.Fatal(err)
		}
		n.Status.Conditions = []*metav1.Condition{readyCondition("True")}
		if _, err = c.Nodes().UpdateStatus(ctx, n); err == nil {
			return
		} else if !apierrors.IsConflict(err) {
			t.Fatal(err)
		}
	}
}

func createPod(t *testing.T, ctx context.Context, c *client.Client, name, node string, tols ...*corev1.Toleration) {
	t.Helper()
	p, err := c.Pods().Create(ctx, &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: &corev1.PodSpec{NodeName: node, Tolerations: tols, Containers: []*corev1.Container{{Name: "c", Image: "img"}}}})
	if err != nil {
		t.Fatal(err)
	}
	p.Status = &corev1.PodStatus{Phase: "Running", PodIp: "10.244.0.9", Conditions: []*metav1.Condition{{Type: "Ready", Status: "True"}}}
	if _, err := c.Pods().UpdateStatus(ctx, p); err != nil {
		t.Fatal(err)
	}
}

func startController(t *testing.T, c *client.Client, rec record.Recorder, cfg nodelifecycle.Config) *informer.Factory {
	t.Helper()
	f := informer.NewFactory(c, 0, cxtest.Logger())
	cfg.Client, cfg.Factory, cfg.Recorder, cfg.Registerer, cfg.Logger = c, f, rec, prometheus.NewRegistry(), cxtest.Logger()
	ctrl, err := nodelifecycle.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	t.Cleanup(func() { cancel(); <-done })
	f.Start(ctx)
	go func() { done <- ctrl.Run(ctx) }()
	return f
}

func taintKeys(n *corev1.Node) []string {
	var out []string
	for _, t := range n.GetSpec().GetTaints() {
		out = append(out, t.GetKey()+":"+t.GetEffect())
	}
	slices.Sort(out)
	return out
}

func podReady(p *corev1.Pod) string {
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			return c.GetStatus()
		}
	}
	return ""
}

func TestHeartbeatLossTaintsAndEvicts(t *testing.T) {
	a := cxtest.StartAPIServer(t)
	ctx, c := cxtest.Context(t), a.Client
	createNode(t, ctx, c, "healthy")
	createNode(t, ctx, c, "doomed")
	startHeartbeat(t, c, "healthy")
	doomed := startHeartbeat(t, c, "doomed")
	createPod(t, ctx, c, "defaulted", "doomed") // gets the default unreachable toleration (2s here)
	createPod(t, ctx, c, "patient", "doomed", &corev1.Toleration{Key: nodelifecycle.TaintUnreachable, Operator: "Exists", Effect: "NoExecute", TolerationSeconds: proto.Int64(3600)})
	createPod(t, ctx, c, "forever", "doomed", &corev1.Toleration{Operator: "Exists"})
	createPod(t, ctx, c, "elsewhere", "healthy")
	rec := &record.FakeRecorder{}
	startController(t, c, rec, nodelifecycle.Config{GracePeriod: 2 * time.Second, MonitorPeriod: 300 * time.Millisecond,
		DefaultUnreachableTolerationSeconds: proto.Int64(2), OrphanedPodQuarantine: time.Second})

	// While both heartbeat, nothing happens for longer than the grace period.
	time.Sleep(3 * time.Second)
	for _, n := range []string{"healthy", "doomed"} {
		node, err := c.Nodes().Get(ctx, "", n)
		if err != nil {
			t.Fatal(err)
		}
		if s := node.GetStatus().GetConditions()[0].GetStatus(); s != "True" || len(node.GetSpec().GetTaints()) != 0 {
			t.Fatalf("heartbeating node %s: Ready=%s taints %v", n, s, taintKeys(node))
		}
	}

	doomed.stop()
	stoppedAt := time.Now()
	cxtest.Eventually(t, 30*time.Second, func() bool {
		n, err := c.Nodes().Get(ctx, "", "doomed")
		if err != nil {
			return false
		}
		ready := n.GetStatus().GetConditions()[0]
		return ready.GetStatus() == "Unknown" && ready.GetReason() == "NodeStatusUnknown" && ready.GetMessage() == "Kubelet stopped posting node status." &&
			slices.Equal(taintKeys(n), []string{nodelifecycle.TaintUnreachable + ":NoExecute", nodelifecycle.TaintUnreachable + ":NoSchedule"})
	}, "the silent node was not marked Unknown and tainted unreachable")
	// (The last renewal may precede the stop by up to 200ms.)
	if d := time.Since(stoppedAt); d < 1500*time.Millisecond {
		t.Fatalf("node marked Unknown %v after its heartbeat stopped, before the 2s grace period", d)
	}
	// Its pods are marked not ready.
	cxtest.Eventually(t, 30*time.Second, func() bool {
		for _, n := range []string{"patient", "forever"} {
			if p, err := c.Pods().Get(ctx, "default", n); err != nil || podReady(p) != "False" {
				return false
			}
		}
		return true
	}, "pods on the unreachable node were not marked not ready")
	// The pod without toleration is evicted after the (short) default toleration.
	cxtest.Eventually(t, 30*time.Second, func() bool {
		p, err := c.Pods().Get(ctx, "default", "defaulted")
		return err == nil && p.GetMetadata().GetDeletionTimestamp() != nil
	}, "pod defaulted was not evicted")
	evictedAt := time.Now()
	// The event is recorded right after the delete call: wait for it rather than race it.
	found := false
	for deadline := time.Now().Add(10 * time.Second); !found && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		found = slices.Contains(rec.Recorded(), "Normal TaintManagerEviction Marking for deletion Pod default/defaulted")
	}
	for _, e := range rec.Recorded() {
		if strings.Contains(e, "patient") || strings.Contains(e, "forever") || strings.Contains(e, "elsewhere") {
			if strings.Contains(e, "TaintManagerEviction") {
				t.Errorf("unexpected eviction event %q", e)
			}
		}
	}
	if !found {
		t.Errorf("no TaintManagerEviction event: %v", rec.Recorded())
	}
	if evictedAt.Sub(stoppedAt) < 3500*time.Millisecond {
		t.Errorf("evicted %v after the heartbeat stopped: before grace (2s) + toleration (2s)", evictedAt.Sub(stoppedAt))
	}
	// The tolerating pods stay; the healthy node is untouched.
	time.Sleep(time.Second)
	for _, n := range []string{"patient", "forever", "elsewhere"} {
		p, err := c.Pods().Get(ctx, "default", n)
		if err != nil || p.GetMetadata().GetDeletionTimestamp() != nil {
			t.Fatalf("pod %s: %v, deletionTimestamp %v", n, err, p.GetMetadata().GetDeletionTimestamp())
		}
	}
	if p, _ := c.Pods().Get(ctx, "default", "elsewhere"); podReady(p) != "True" {
		t.Fatalf("pod on the healthy node lost its readiness")
	}
	if n, _ := c.Nodes().Get(ctx, "", "healthy"); len(n.GetSpec().GetTaints()) != 0 || n.GetStatus().GetConditions()[0].GetStatus() != "True" {
		t.Fatalf("healthy node was changed: %v", n)
	}

	// The kubelet comes back: the taints go.
	startHeartbeat(t, c, "doomed")
	postReady(t, ctx, c, "doomed")
	cxtest.Eventually(t, 30*time.Second, func() bool {
		n, err := c.Nodes().Get(ctx, "", "doomed")
		return err == nil && len(n.GetSpec().GetTaints()) == 0 && n.GetStatus().GetConditions()[0].GetStatus() == "True"
	}, "taints not removed after the node came back")

	// The node is deleted: its pods are orphans and go, at once (grace period 0), after the quarantine.
	if _, err := c.Nodes().Delete(ctx, &metav1.DeleteRequest{Name: "doomed"}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"defaulted", "patient", "forever"} {
		cxtest.Eventually(t, 30*time.Second, func() bool {
			_, err := c.Pods().Get(ctx, "default", n)
			return apierrors.IsNotFound(err)
		}, "orphaned pod %s not deleted", n)
	}
	if _, err := c.Pods().Get(ctx, "default", "elsewhere"); err != nil {
		t.Fatalf("pod on the healthy node: %v", err)
	}
}

func TestNotReadyNodeAndFullDisruption(t *testing.T) {
	a := cxtest.StartAPIServer(t)
	ctx, c := cxtest.Context(t), a.Client
	createNode(t, ctx, c, "solo")
	startHeartbeat(t, c, "solo") // the kubelet lives on, reporting NotReady
	createPod(t, ctx, c, "p", "solo")
	startController(t, c, &record.FakeRecorder{}, nodelifecycle.Config{GracePeriod: 2 * time.Second, MonitorPeriod: 300 * time.Millisecond,
		DefaultNotReadyTolerationSeconds: proto.Int64(0), DefaultUnreachableTolerationSeconds: proto.Int64(0)})

	// The kubelet reports NotReady (still heartbeating). It is the only node, so no node is Ready: the
	// controller withholds the NoExecute taint (full disruption) and evicts nothing.
	n, err := c.Nodes().Get(ctx, "", "solo")
	if err != nil {
		t.Fatal(err)
	}
	n.Status.Conditions = []*metav1.Condition{readyCondition("False")}
	if _, err := c.Nodes().UpdateStatus(ctx, n); err != nil {
		t.Fatal(err)
	}
	cxtest.Eventually(t, 30*time.Second, func() bool {
		n, err := c.Nodes().Get(ctx, "", "solo")
		return err == nil && slices.Equal(taintKeys(n), []string{nodelifecycle.TaintNotReady + ":NoSchedule"})
	}, "not-ready node did not get exactly the NoSchedule taint")
	time.Sleep(3 * time.Second)
	if p, err := c.Pods().Get(ctx, "default", "p"); err != nil || p.GetMetadata().GetDeletionTimestamp() != nil {
		t.Fatalf("pod evicted during a full disruption: %v", err)
	}

	// A second, Ready node ends the full disruption: the NoExecute taint comes and the pod goes.
	createNode(t, ctx, c, "other")
	startHeartbeat(t, c, "other")
	cxtest.Eventually(t, 30*time.Second, func() bool {
		n, err := c.Nodes().Get(ctx, "", "solo")
		return err == nil && slices.Contains(taintKeys(n), nodelifecycle.TaintNotReady+":NoExecute")
	}, "NoExecute taint not added once another node is Ready")
	cxtest.Eventually(t, 30*time.Second, func() bool {
		p, err := c.Pods().Get(ctx, "default", "p")
		return err == nil && p.GetMetadata().GetDeletionTimestamp() != nil
	}, "pod not evicted from the not-ready node")
}

// TestEvictedPodsAreRecreated: the ReplicaSet controller replaces the pods evicted from a dead node.
func TestEvictedPodsAreRecreated(t *testing.T) {
	a := cxtest.StartAPIServer(t)
	ctx, c := cxtest.Context(t), a.Client
	createNode(t, ctx, c, "healthy")
	createNode(t, ctx, c, "doomed")
	startHeartbeat(t, c, "healthy")
	doomed := startHeartbeat(t, c, "doomed")
	// The doomed node's kubelet runs the first pods.
	kubelet, err := ctesting.NewHollowKubelet(ctesting.KubeletConfig{Client: c, Nodes: []string{"doomed"}, Logger: cxtest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	kctx, kcancel := context.WithCancel(ctx)
	kdone := make(chan error, 1)
	go func() { kdone <- kubelet.Run(kctx) }()
	var once sync.Once
	stopKubelet := func() { once.Do(func() { kcancel(); <-kdone }) }
	defer stopKubelet()

	f := startController(t, c, &record.FakeRecorder{}, nodelifecycle.Config{GracePeriod: 2 * time.Second, MonitorPeriod: 300 * time.Millisecond,
		DefaultUnreachableTolerationSeconds: proto.Int64(1)})
	rs, err := replicaset.New(replicaset.Config{Client: c, Factory: f, Recorder: &record.FakeRecorder{}, Registerer: prometheus.NewRegistry(), Logger: cxtest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithCancel(ctx)
	rdone := make(chan error, 1)
	go func() { rdone <- rs.Run(rctx) }()
	defer func() { rcancel(); <-rdone }()

	if _, err := c.ReplicaSets().Create(ctx, &appsv1.ReplicaSet{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: &appsv1.ReplicaSetSpec{Replicas: proto.Int32(2), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "img"}}}}}}); err != nil {
		t.Fatal(err)
	}
	var first []string
	cxtest.Eventually(t, 30*time.Second, func() bool {
		pods, _, err := c.Pods().List(ctx, &metav1.ListOptions{Namespace: "default", LabelSelector: "app=web"})
		first = first[:0]
		for _, p := range pods {
			if p.GetSpec().GetNodeName() == "doomed" && podReady(p) == "True" {
				first = append(first, p.GetMetadata().GetName())
			}
		}
		return err == nil && len(first) == 2
	}, "the ReplicaSet's pods did not run on the doomed node")

	// The node dies: kubelet and heartbeat stop.
	stopKubelet()
	doomed.stop()
	cxtest.Eventually(t, 60*time.Second, func() bool {
		pods, _, err := c.Pods().List(ctx, &metav1.ListOptions{Namespace: "default", LabelSelector: "app=web"})
		if err != nil {
			return false
		}
		evicted, replacements := 0, 0
		for _, p := range pods {
			switch {
			case slices.Contains(first, p.GetMetadata().GetName()) && p.GetMetadata().GetDeletionTimestamp() != nil:
				evicted++
			case !slices.Contains(first, p.GetMetadata().GetName()) && p.GetMetadata().GetDeletionTimestamp() == nil:
				replacements++
			}
		}
		return evicted == 2 && replacements == 2
	}, "the pods on the dead node were not evicted and replaced")
}
