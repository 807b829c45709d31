package framework_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/coxswain/coxswain/pkg/scheduler/framework"
	h "github.com/coxswain/coxswain/pkg/scheduler/framework/harness"
)

// BenchmarkFrameworkSchedule schedules 10,000 pods onto 5,000 nodes, each pod assumed on its node
// before the next is scheduled (as the scheduler does), and reports pods/s.
func BenchmarkFrameworkSchedule(b *testing.B) {
	const numNodes, numPods = 5000, 10000
	nodes, pods := h.BenchNodes(numNodes), h.BenchPods(numPods)
	for _, par := range []int{1, 2} {
		b.Run(fmt.Sprintf("nodes=%d/pods=%d/parallelism=%d", numNodes, numPods, par), func(b *testing.B) {
			var elapsed time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				c, err := h.NewCluster(framework.Config{Parallelism: par, Seed: uint64(i + 1)}, nodes...)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				for _, p := range pods {
					if _, err := c.Schedule(framework.NewPodInfo(p)); err != nil {
						b.Fatalf("%s: %v", p.Metadata.Name, err)
					}
				}
				elapsed += time.Since(start)
			}
			b.ReportMetric(float64(numPods*b.N)/elapsed.Seconds(), "pods/s")
		})
	}
}

// BenchmarkFilterNode is the cost of running every filter on one node that fits.
func BenchmarkFilterNode(b *testing.B) {
	snap := framework.NewSnapshot()
	ni := snap.SetNode(h.BenchNodes(1)[0])
	pi := framework.NewPodInfo(h.BenchPods(1)[0])
	st := framework.NewCycleState(pi, snap)
	filters := framework.DefaultFilters()
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range filters {
			if s := f.Filter(st, pi, ni); !s.Fits() {
				b.Fatal(s.Reasons())
			}
		}
	}
}
