package framework_test

import (
	"fmt"
	"testing"

	"github.com/coxswain/coxswain/pkg/scheduler/framework"
	h "github.com/coxswain/coxswain/pkg/scheduler/framework/harness"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

func cluster(t testing.TB, cfg framework.Config, nodes ...*h.NodeBuilder) *h.Cluster {
	t.Helper()
	objs := make([]*corev1.Node, len(nodes))
	for i, n := range nodes {
		objs[i] = n.Obj()
	}
	c, err := h.NewCluster(cfg, objs...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFitErrorMessages(t *testing.T) {
	cases := []struct {
		name   string
		nodes  []*h.NodeBuilder
		placed []*h.PodBuilder // with NodeName set
		pod    *h.PodBuilder
		want   string
	}{
		{name: "kubernetes example",
			nodes: []*h.NodeBuilder{h.Node("n1", "2", "4Gi", "110"), h.Node("n2", "2", "4Gi", "110"),
				h.Node("n3", "16", "64Gi", "110").Taint("dedicated", "gpu", "NoSchedule")},
			pod:  h.Pod("ns", "p", "4", "1Gi"),
			want: "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu."},
		{name: "one node gives several reasons",
			nodes: []*h.NodeBuilder{h.Node("n1", "2", "4Gi", "110"), h.Node("n2", "2", "4Gi", "110")},
			pod:   h.Pod("ns", "p", "4", "8Gi"),
			want:  "0/2 nodes are available: 2 Insufficient cpu, 2 Insufficient memory."},
		{name: "no nodes", pod: h.Pod("ns", "p", "", ""), want: "no nodes available to schedule pods"},
		{name: "every filter",
			nodes: []*h.NodeBuilder{
				node("notready").NotReady(), node("cordoned").Unschedulable(), node("tainted").Taint("dedicated", "gpu", "NoExecute"),
				node("wrongzone").Label("zone", "b"), node("ports").Label("zone", "a"), node("full").Label("zone", "a"),
				node("anti").Label("zone", "a"), node("anti2").Label("zone", "a")},
			placed: []*h.PodBuilder{
				h.Pod("ns", "web", "", "").HostPort("", "TCP", 80).NodeName("ports"),
				h.Pod("ns", "big", "4", "").NodeName("full"),
				h.Pod("ns", "peer", "", "").Label("app", "p").NodeName("anti"),
				h.Pod("ns", "peer2", "", "").Label("app", "p").NodeName("anti2"),
			},
			pod: h.Pod("ns", "p", "1", "").Label("app", "p").NodeSelector("zone", "a").HostPort("", "TCP", 80).
				PodAntiAffinity("app", "p", framework.LabelHostname),
			want: "0/8 nodes are available: 1 Insufficient cpu, 1 node(s) didn't have free ports for the requested pod ports, " +
				"1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {dedicated: gpu}, " +
				"1 node(s) were not ready, 1 node(s) were unschedulable, 2 node(s) didn't match pod anti-affinity rules."},
		{name: "counts sort as strings, like kube-scheduler",
			nodes: append(nodesN("small", 10, "1"), nodesN("big", 2, "8")...),
			placed: []*h.PodBuilder{h.Pod("ns", "a", "", "").HostPort("", "TCP", 80).NodeName("big0"),
				h.Pod("ns", "b", "", "").HostPort("", "TCP", 80).NodeName("big1")},
			pod:  h.Pod("ns", "p", "2", "").HostPort("", "TCP", 80),
			want: "0/12 nodes are available: 10 Insufficient cpu, 2 node(s) didn't have free ports for the requested pod ports."},
	}
	for _, tc := range cases {
		for _, par := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/parallelism=%d", tc.name, par), func(t *testing.T) {
				c := cluster(t, framework.Config{Parallelism: par}, tc.nodes...)
				for _, p := range tc.placed {
					c.Place(p.Obj())
				}
				node, err := c.Schedule(tc.pod.Info())
				if err == nil {
					t.Fatalf("scheduled on %s, want %q", node, tc.want)
				}
				if _, ok := err.(*framework.FitError); !ok {
					t.Fatalf("error %T %v, want *FitError", err, err)
				}
				if err.Error() != tc.want {
					t.Fatalf("message\n got %q\nwant %q", err.Error(), tc.want)
				}
			})
		}
	}
}

func nodesN(prefix string, n int, cpu string) []*h.NodeBuilder {
	out := make([]*h.NodeBuilder, n)
	for i := range out {
		out[i] = h.Node(fmt.Sprintf("%s%d", prefix, i), cpu, "4Gi", "110")
	}
	return out
}

func nodeNames(n int) []*h.NodeBuilder {
	out := make([]*h.NodeBuilder, n)
	for i := range out {
		out[i] = h.Node(fmt.Sprintf("node-%04d", i), "8", "32Gi", "110")
	}
	return out
}

func TestTiesAreBrokenRandomly(t *testing.T) {
	c := cluster(t, framework.Config{Parallelism: 1, Seed: 42}, nodeNames(4)...)
	counts := map[string]int{}
	pi := h.Pod("ns", "p", "100m", "").Info()
	const runs = 2000
	for range runs {
		res, err := c.Framework.Schedule(pi, c.Snapshot) // not assumed: all four nodes stay equal
		if err != nil {
			t.Fatal(err)
		}
		counts[res.Node]++
	}
	if len(counts) != 4 {
		t.Fatalf("chosen nodes %v, want all 4 equal nodes chosen", counts)
	}
	for n, k := range counts {
		if k < runs/4-150 || k > runs/4+150 {
			t.Errorf("node %s chosen %d/%d times, want about %d (uniform)", n, k, runs, runs/4)
		}
	}
}

func TestSpreadsAnOwnersPods(t *testing.T) {
	c := cluster(t, framework.Config{Parallelism: 1}, node("n1"), node("n2"), node("n3"))
	perNode := map[string]int{}
	for i := range 9 {
		n, err := c.Schedule(h.Pod("ns", fmt.Sprintf("p%d", i), "100m", "100Mi").Owner("rs").Info())
		if err != nil {
			t.Fatal(err)
		}
		perNode[n]++
	}
	for _, n := range []string{"n1", "n2", "n3"} {
		if perNode[n] != 3 {
			t.Fatalf("pods per node %v, want 3 each", perNode)
		}
	}
}

func TestAntiAffinityEndToEnd(t *testing.T) {
	c := cluster(t, framework.Config{Parallelism: 1}, node("n1"), node("n2"), node("n3"))
	used := map[string]bool{}
	for i := range 3 {
		n, err := c.Schedule(h.Pod("ns", fmt.Sprintf("p%d", i), "", "").Label("app", "db").PodAntiAffinity("app", "db", framework.LabelHostname).Info())
		if err != nil {
			t.Fatal(err)
		}
		if used[n] {
			t.Fatalf("two anti-affine pods on %s", n)
		}
		used[n] = true
	}
	// A pod matching the placed pods' anti-affinity terms is kept away by them (checked first).
	_, err := c.Schedule(h.Pod("ns", "p3", "", "").Label("app", "db").PodAntiAffinity("app", "db", framework.LabelHostname).Info())
	want := "0/3 nodes are available: 3 node(s) didn't satisfy existing pods anti-affinity rules."
	if err == nil || err.Error() != want {
		t.Fatalf("4th db pod: %v, want %q", err, want)
	}
	// A pod not matching them but with its own anti-affinity towards them.
	_, err = c.Schedule(h.Pod("ns", "web", "", "").Label("app", "web").PodAntiAffinity("app", "db", framework.LabelHostname).Info())
	want = "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules."
	if err == nil || err.Error() != want {
		t.Fatalf("web pod avoiding db pods: %v, want %q", err, want)
	}
	// Removing one frees its node.
	pi := c.Snapshot.Node("n2").Pods[0]
	c.Snapshot.RemovePod(pi.Key, pi.UID, "n2")
	if n, err := c.Schedule(h.Pod("ns", "p4", "", "").Label("app", "db").PodAntiAffinity("app", "db", framework.LabelHostname).Info()); err != nil || n != "n2" {
		t.Fatalf("after removal: %s %v, want n2", n, err)
	}
}

func TestNumFeasibleNodesToFind(t *testing.T) {
	cases := []struct {
		pct   int32
		nodes int
		want  int
	}{
		{0, 10, 10}, {0, 99, 99}, {0, 100, 100}, {0, 1000, 420}, {0, 5000, 500}, {0, 10000, 500}, {0, 6000, 300},
		{100, 5000, 5000}, {1, 5000, 100}, {30, 1000, 300},
	}
	for _, tc := range cases {
		fw, err := framework.New(framework.Config{PercentageOfNodesToScore: tc.pct})
		if err != nil {
			t.Fatal(err)
		}
		if got := fw.NumFeasibleNodesToFind(tc.nodes); got != tc.want {
			t.Errorf("pct %d, %d nodes: %d, want %d", tc.pct, tc.nodes, got, tc.want)
		}
	}
	if _, err := framework.New(framework.Config{PercentageOfNodesToScore: 101}); err == nil ||
		err.Error() != "framework: PercentageOfNodesToScore 101: must be between 0 and 100" {
		t.Errorf("pct 101: %v", err)
	}
}

func TestSamplingStopsEarlyAndRotates(t *testing.T) {
	for _, par := range []int{1, 2} {
		t.Run(fmt.Sprintf("parallelism=%d", par), func(t *testing.T) {
			c := cluster(t, framework.Config{Parallelism: par, Seed: 7}, nodeNames(1000)...)
			pi := h.Pod("ns", "p", "100m", "").Info()
			seen := map[string]bool{}
			for range 10 {
				res, err := c.Framework.Schedule(pi, c.Snapshot)
				if err != nil {
					t.Fatal(err)
				}
				if res.FeasibleNodes != 420 {
					t.Fatalf("feasible %d, want 420 (42%% of 1000)", res.FeasibleNodes)
				}
				if res.EvaluatedNodes < 420 || res.EvaluatedNodes > 1000 {
					t.Fatalf("evaluated %d, want 420..1000", res.EvaluatedNodes)
				}
				seen[res.Node] = true
			}
			if len(seen) < 5 {
				t.Fatalf("10 pods went to only %d distinct nodes: the search start should rotate", len(seen))
			}
			// An infeasible pod evaluates every node.
			_, err := c.Framework.Schedule(h.Pod("ns", "big", "100", "").Info(), c.Snapshot)
			if err == nil || err.Error() != "0/1000 nodes are available: 1000 Insufficient cpu." {
				t.Fatalf("big pod: %v", err)
			}
		})
	}
}

func TestPriorityFromSpec(t *testing.T) {
	if p := h.Pod("ns", "p", "", "").Priority(1000).Info().Priority; p != 1000 {
		t.Fatalf("priority %d, want 1000", p)
	}
}

func TestSnapshotAccounting(t *testing.T) {
	snap := framework.NewSnapshot()
	snap.SetNode(node("n1").Obj())
	p := h.Pod("ns", "p", "1", "1Gi").HostPort("", "TCP", 80).Owner("rs").NodeName("n1").Info()
	snap.AddPod(p, "n1")
	n := snap.Node("n1")
	if n.Requested != (framework.Resource{MilliCPU: 1000, Memory: 1 << 30}) || len(n.UsedPorts) != 1 || snap.OwnerCount("n1", "rs") != 1 || snap.NumPods() != 1 {
		t.Fatalf("after add: requested %+v ports %v owner %d pods %d", n.Requested, n.UsedPorts, snap.OwnerCount("n1", "rs"), snap.NumPods())
	}
	if snap.RemovePod(p.Key, "other-uid", "n1") {
		t.Fatal("removed a pod by key with another uid")
	}
	if !snap.RemovePod(p.Key, p.UID, "n1") {
		t.Fatal("RemovePod = false")
	}
	if n.Requested != (framework.Resource{}) || len(n.UsedPorts) != 0 || snap.OwnerCount("n1", "rs") != 0 || snap.NumPods() != 0 {
		t.Fatalf("after remove: requested %+v ports %v owner %d", n.Requested, n.UsedPorts, snap.OwnerCount("n1", "rs"))
	}
	// Pods may arrive before their node and outlive it.
	snap.AddPod(h.Pod("ns", "early", "1", "").NodeName("n2").Info(), "n2")
	if snap.NumNodes() != 1 {
		t.Fatalf("a pod's unknown node became schedulable: %d nodes", snap.NumNodes())
	}
	snap.SetNode(node("n2").Obj())
	if snap.NumNodes() != 2 || snap.Node("n2").Requested.MilliCPU != 1000 {
		t.Fatalf("node arriving after its pod: %d nodes, requested %+v", snap.NumNodes(), snap.Node("n2").Requested)
	}
	snap.RemoveNode("n2")
	if snap.NumNodes() != 1 || snap.Node("n2") == nil {
		t.Fatal("removed node with pods should stay known but not schedulable")
	}
	snap.RemovePod("ns/early", "", "n2")
	if snap.Node("n2") != nil {
		t.Fatal("node gone and empty should be forgotten")
	}
}

// TestConstrainedPodSearchesOnInParallel covers the parallel part of the search: a pod only a few
// nodes fit must find all of them, and one a third of the nodes fit must stop once enough were found.
func TestConstrainedPodSearchesOnInParallel(t *testing.T) {
	nodes := make([]*h.NodeBuilder, 3000)
	for i := range nodes {
		nodes[i] = h.Node(fmt.Sprintf("node-%04d", i), "8", "32Gi", "110")
		if i%50 == 0 {
			nodes[i].Label("rare", "yes")
		}
		if i%3 == 0 {
			nodes[i].Label("third", "yes")
		}
	}
	for _, par := range []int{1, 2} {
		t.Run(fmt.Sprintf("parallelism=%d", par), func(t *testing.T) {
			c := cluster(t, framework.Config{Parallelism: par, Seed: 3}, nodes...)
			toFind := c.Framework.NumFeasibleNodesToFind(3000) // 26% → 780
			for range 3 {
				res, err := c.Framework.Schedule(h.Pod("ns", "rare", "", "").NodeSelector("rare", "yes").Info(), c.Snapshot)
				if err != nil {
					t.Fatal(err)
				}
				if res.FeasibleNodes != 60 || res.EvaluatedNodes != 3000 {
					t.Fatalf("rare: feasible %d of %d evaluated, want 60 of 3000", res.FeasibleNodes, res.EvaluatedNodes)
				}
				if c.Snapshot.Node(res.Node).Labels["rare"] != "yes" {
					t.Fatalf("rare pod on %s", res.Node)
				}
				res, err = c.Framework.Schedule(h.Pod("ns", "third", "", "").NodeSelector("third", "yes").Info(), c.Snapshot)
				if err != nil {
					t.Fatal(err)
				}
				if res.FeasibleNodes != toFind || res.EvaluatedNodes >= 3000 {
					t.Fatalf("third: feasible %d of %d evaluated, want %d of fewer than 3000", res.FeasibleNodes, res.EvaluatedNodes, toFind)
				}
				if c.Snapshot.Node(res.Node).Labels["third"] != "yes" {
					t.Fatalf("third pod on %s", res.Node)
				}
			}
		})
	}
}
