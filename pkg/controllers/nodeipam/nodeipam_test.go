package nodeipam_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/client/informer"
	"github.com/coxswain/coxswain/pkg/client/record"
	"github.com/coxswain/coxswain/pkg/controllers/nodeipam"
	cxtest "github.com/coxswain/coxswain/pkg/testutil"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// run starts a controller and returns a function that stops it (and waits for it).
func run(t *testing.T, c *client.Client, rec record.Recorder, cidr string, mask int) (*nodeipam.Controller, func()) {
	t.Helper()
	f := informer.NewFactory(c, 0, cxtest.Logger())
	ctrl, err := nodeipam.New(nodeipam.Config{Client: c, Factory: f, Recorder: rec, Registerer: prometheus.NewRegistry(),
		Logger: cxtest.Logger(), ClusterCIDR: cidr, NodeMaskSize: mask})
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

func createNode(t *testing.T, ctx context.Context, c *client.Client, name string) {
	t.Helper()
	if _, err := c.Nodes().Create(ctx, &corev1.Node{Metadata: &metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
}

// podCIDRs waits until every node in names has a pod CIDR and returns them.
func podCIDRs(t *testing.T, ctx context.Context, c *client.Client, names []string) map[string]string {
	t.Helper()
	var out map[string]string
	cxtest.Eventually(t, 60*time.Second, func() bool {
		nodes, _, err := c.Nodes().List(ctx, nil)
		if err != nil {
			return false
		}
		out = map[string]string{}
		for _, n := range nodes {
			out[n.GetMetadata().GetName()] = n.GetSpec().GetPodCidr()
			if n.GetSpec().GetPodCidr() != "" && (len(n.GetSpec().GetPodCidrs()) != 1 || n.GetSpec().GetPodCidrs()[0] != n.GetSpec().GetPodCidr()) {
				t.Fatalf("node %s: podCIDRs %v does not match podCIDR %s", n.GetMetadata().GetName(), n.GetSpec().GetPodCidrs(), n.GetSpec().GetPodCidr())
			}
		}
		for _, n := range names {
			if out[n] == "" {
				return false
			}
		}
		return true
	}, "nodes %v did not all get a pod CIDR", names)
	return out
}

func assertUnique(t *testing.T, cidrs map[string]string, cluster string) {
	t.Helper()
	cl := netip.MustParsePrefix(cluster)
	seen := map[string]string{}
	for n, c := range cidrs {
		if c == "" {
			continue
		}
		p, err := netip.ParsePrefix(c)
		if err != nil || !cl.Contains(p.Addr()) || p.Bits() != 24 {
			t.Errorf("node %s: pod CIDR %q is not a /24 of %s", n, c, cluster)
		}
		if other, dup := seen[c]; dup {
			t.Errorf("pod CIDR %s assigned to both %s and %s", c, other, n)
		}
		seen[c] = n
	}
}

func TestAssignUniqueAndStableAcrossRestart(t *testing.T) {
	a := cxtest.StartAPIServer(t)
	ctx, c := cxtest.Context(t), a.Client
	// A node registered with a range already (e.g. by an earlier incarnation) keeps it.
	if _, err := c.Nodes().Create(ctx, &corev1.Node{Metadata: &metav1.ObjectMeta{Name: "preset"},
		Spec: &corev1.NodeSpec{PodCidr: "10.244.0.0/24", PodCidrs: []string{"10.244.0.0/24"}}}); err != nil {
		t.Fatal(err)
	}
	_, stop := run(t, c, &record.FakeRecorder{}, "10.244.0.0/16", 24)
	var names []string
	for i := range 20 {
		names = append(names, fmt.Sprintf("node-%02d", i))
		createNode(t, ctx, c, names[i])
	}
	names = append(names, "preset")
	first := podCIDRs(t, ctx, c, names)
	if len(first) != 21 {
		t.Fatalf("got %d nodes", len(first))
	}
	if first["preset"] != "10.244.0.0/24" {
		t.Fatalf("preset node's range changed to %s", first["preset"])
	}
	assertUnique(t, first, "10.244.0.0/16")

	// Restart: the new controller rebuilds the used set; existing ranges stay, new nodes get new ones,
	// including a node created while no controller ran.
	stop()
	createNode(t, ctx, c, "late-0")
	second, _ := run(t, c, &record.FakeRecorder{}, "10.244.0.0/16", 24)
	for i := 1; i <= 5; i++ {
		createNode(t, ctx, c, fmt.Sprintf("late-%d", i))
	}
	all := append(names, "late-0", "late-1", "late-2", "late-3", "late-4", "late-5")
	after := podCIDRs(t, ctx, c, all)
	for _, n := range names {
		if after[n] != first[n] {
			t.Errorf("node %s: range changed across the restart: %s -> %s", n, first[n], after[n])
		}
	}
	assertUnique(t, after, "10.244.0.0/16")
	if got := second.Allocated(); len(got) != len(all) {
		t.Errorf("restarted controller tracks %d ranges, want %d: %v", len(got), len(all), got)
	}
}

func TestExhaustionAndRelease(t *testing.T) {
	a := cxtest.StartAPIServer(t)
	ctx, c := cxtest.Context(t), a.Client
	rec := &record.FakeRecorder{}
	ctrl, _ := run(t, c, rec, "10.9.0.0/23", 24) // two ranges
	createNode(t, ctx, c, "a")
	createNode(t, ctx, c, "b")
	got := podCIDRs(t, ctx, c, []string{"a", "b"})
	assertUnique(t, got, "10.9.0.0/23")
	createNode(t, ctx, c, "c")
	cxtest.Eventually(t, 30*time.Second, func() bool {
		for _, e := range rec.Recorded() {
			if strings.HasPrefix(e, "Warning CIDRNotAvailable") {
				return true
			}
		}
		return false
	}, "no CIDRNotAvailable event for the third node; events %v", rec.Recorded())
	if n, _ := c.Nodes().Get(ctx, "", "c"); n.GetSpec().GetPodCidr() != "" {
		t.Fatalf("node c got %s from an exhausted range", n.GetSpec().GetPodCidr())
	}
	// Deleting a releases its range, which goes to the waiting node c.
	if _, err := c.Nodes().Delete(ctx, &metav1.DeleteRequest{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	final := podCIDRs(t, ctx, c, []string{"b", "c"})
	if final["c"] != got["a"] {
		t.Fatalf("node c got %s, want a's released range %s", final["c"], got["a"])
	}
	if alloc := ctrl.Allocated(); len(alloc) != 2 || alloc["a"] != "" {
		t.Fatalf("allocations after release = %v", alloc)
	}
}

func TestInvalidConfig(t *testing.T) {
	a := cxtest.StartAPIServer(t)
	f := informer.NewFactory(a.Client, 0, cxtest.Logger())
	for _, cfg := range []nodeipam.Config{
		{ClusterCIDR: "10.0.0.0/33"},
		{ClusterCIDR: "10.0.0.0/16", NodeMaskSize: 8},
		{ClusterCIDR: "10.0.0.1/16"},
	} {
		cfg.Client, cfg.Factory, cfg.Recorder = a.Client, f, &record.FakeRecorder{}
		if _, err := nodeipam.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted an invalid configuration", cfg)
		}
	}
}
