package kubelet

import (
	"context"
	"fmt"
	"net/netip"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/coxswain/coxswain/pkg/testutil"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

func hollowConfig(t testing.TB, addr string, n int) Config {
	return Config{
		APIServer: addr, NodeIP: "127.0.0.1", ListenAddr: "127.0.0.1:0", HTTPAddr: "-", RootDir: t.TempDir(),
		Runtime: RuntimeFake, HollowNodes: n, HollowNodePrefix: "hollow", Logger: testutil.Logger(),
	}
}

// readyNodes counts the nodes whose Ready condition is True.
func readyNodes(ctx context.Context, t testing.TB, a *testutil.APIServer) int {
	nodes, _, err := a.Client.Nodes().List(ctx, &metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, node := range nodes {
		if conditionStatus(node.GetStatus().GetConditions(), condReady) == "True" {
			n++
		}
	}
	return n
}

func TestHollowNodes(t *testing.T) {
	const n = 1000
	if testing.Short() {
		t.Skip("1000 hollow nodes take a while; not in -short")
	}
	a := testutil.StartAPIServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	k, _ := runKubelet(t, hollowConfig(t, a.Addr, n))
	testutil.Eventually(t, 5*time.Minute, func() bool { return readyNodes(ctx, t, a) == n }, "%d hollow nodes Ready", n)
	t.Logf("%d hollow nodes registered Ready in %v", n, time.Since(start))
	leases, _, err := a.Client.Leases().List(ctx, &metav1.ListOptions{Namespace: NodeLeaseNamespace})
	if err != nil {
		t.Fatal(err)
	}
	// Leases are spread over the first heartbeat interval.
	testutil.Eventually(t, 60*time.Second, func() bool {
		leases, _, err = a.Client.Leases().List(ctx, &metav1.ListOptions{Namespace: NodeLeaseNamespace})
		return err == nil && len(leases) == n
	}, "%d leases", n)

	// Pods bound to hollow nodes run there, each node seeing only its own.
	targets := []int{0, 1, 999}
	for _, i := range targets {
		for j := range 2 {
			createPod(t, a.Client, &corev1.Pod{
				Metadata: &metav1.ObjectMeta{Name: fmt.Sprintf("p-%d-%d", i, j)},
				Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "pause"}}},
			}, fmt.Sprintf("hollow-%d", i))
		}
	}
	for _, i := range targets {
		a0 := k.agents[fmt.Sprintf("hollow-%d", i)]
		for j := range 2 {
			p := waitPod(t, a.Client, fmt.Sprintf("p-%d-%d", i, j), 60*time.Second, "running", podRunning)
			ip := netip.MustParseAddr(p.GetStatus().GetPodIp())
			want := hollowCIDR("hollow", i)
			if !want.Contains(ip) {
				t.Errorf("pod on hollow-%d got IP %s, want one of its %s", i, ip, want)
			}
		}
		if got := a0.workerCount(); got != 2 {
			t.Errorf("hollow-%d tracks %d pods, want 2", i, got)
		}
	}
	if got := k.agents["hollow-2"].workerCount(); got != 0 {
		t.Errorf("hollow-2 tracks %d pods, want 0", got)
	}
}

// BenchmarkHollowNodeMemory measures the heap and goroutine stacks one
// hollow node costs: the kubelet's retained memory with 1000 Ready nodes,
// minus what remains once it is stopped (the apiserver in the same
// process keeps its own caches either way). Run with -benchtime=1x.
func BenchmarkHollowNodeMemory(b *testing.B) {
	const n = 1000
	a := testutil.StartAPIServer(b)
	ctx := context.Background()
	for i := range b.N {
		cfg := hollowConfig(b, a.Addr, n)
		cfg.HollowNodePrefix = fmt.Sprintf("bench%d", i)
		k, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		kctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { _ = k.Run(kctx); close(done) }()
		deadline := time.Now().Add(3 * time.Minute)
		for {
			nodes, _, err := a.Client.Nodes().List(ctx, &metav1.ListOptions{})
			if err != nil {
				b.Fatal(err)
			}
			ready := 0
			for _, node := range nodes {
				if conditionStatus(node.GetStatus().GetConditions(), condReady) == "True" && node.GetMetadata().GetLabels()["kubernetes.io/hostname"] != "" &&
					len(node.GetMetadata().GetName()) > len(cfg.HollowNodePrefix) && node.GetMetadata().GetName()[:len(cfg.HollowNodePrefix)] == cfg.HollowNodePrefix {
					ready++
				}
			}
			if ready == n {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("only %d/%d hollow nodes Ready", ready, n)
			}
			time.Sleep(200 * time.Millisecond)
		}
		time.Sleep(12 * time.Second) // every lease created and renewed at least once
		with := heapAndStacks()
		cancel()
		<-done
		k = nil
		without := heapAndStacks()
		per := float64(int64(with.heap+with.stack)-int64(without.heap+without.stack)) / n
		b.ReportMetric(per, "B/node")
		b.ReportMetric(float64(int64(with.heap)-int64(without.heap))/n, "heapB/node")
		b.ReportMetric(float64(with.goroutines-without.goroutines)/n, "goroutines/node")
	}
}

type memSample struct {
	heap, stack uint64
	goroutines  int
}

func heapAndStacks() memSample {
	for range 3 {
		goruntime.GC()
	}
	time.Sleep(100 * time.Millisecond)
	goruntime.GC()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	return memSample{heap: ms.HeapAlloc, stack: ms.StackInuse, goroutines: goruntime.NumGoroutine()}
}
