package scheduler

import (
	"fmt"
	"testing"
	"time"

	"github.com/coxswain/coxswain/pkg/scheduler/framework"
	h "github.com/coxswain/coxswain/pkg/scheduler/framework/harness"
)

// BenchmarkSchedulerThroughput drives the scheduler's own in-process pipeline — scheduling queue,
// framework (filter + score over a snapshot of 5,000 nodes) and assumed-pod cache — with 10,000
// pending pods, without the apiserver (no informers, no binding calls), and reports pods/s.
func BenchmarkSchedulerThroughput(b *testing.B) {
	const numNodes, numPods = 5000, 10000
	nodes, pods := h.BenchNodes(numNodes), h.BenchPods(numPods)
	for _, par := range []int{1, 2} {
		b.Run(fmt.Sprintf("nodes=%d/pods=%d/parallelism=%d", numNodes, numPods, par), func(b *testing.B) {
			var elapsed time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				fw, err := framework.New(framework.Config{Parallelism: par, Seed: uint64(i + 1)})
				if err != nil {
					b.Fatal(err)
				}
				cache := newSchedulerCache(time.Minute, time.Now)
				for _, n := range nodes {
					cache.SetNode(n)
				}
				q := newSchedulingQueue(time.Now, time.Second, 10*time.Second, time.Minute, nil)
				b.StartTimer()
				start := time.Now()
				for _, p := range pods {
					q.Add(framework.NewPodInfo(p))
				}
				for range numPods {
					a, ok := q.Pop()
					if !ok {
						b.Fatal("queue closed")
					}
					cache.withSnapshot(func(snap *framework.Snapshot) {
						var res framework.Result
						if res, err = fw.Schedule(a.info, snap); err == nil {
							err = cache.assumeLocked(a.info, res.Node)
						}
					})
					if err != nil {
						b.Fatalf("%s: %v", a.info.Key, err)
					}
					q.Done(a)
				}
				elapsed += time.Since(start)
			}
			b.ReportMetric(float64(numPods*b.N)/elapsed.Seconds(), "pods/s")
		})
	}
}
