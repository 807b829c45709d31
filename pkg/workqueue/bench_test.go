package workqueue

import (
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func benchConfigs() []struct {
	name string
	cfg  Config[int]
} {
	return []struct {
		name string
		cfg  Config[int]
	}{
		{"no metrics", Config[int]{}},
		{"metrics", Config[int]{Name: "bench", Registerer: prometheus.NewRegistry()}},
	}
}

// BenchmarkAddGetDone measures one Add/Get/Done cycle on one goroutine.
func BenchmarkAddGetDone(b *testing.B) {
	for _, bc := range benchConfigs() {
		b.Run(bc.name, func(b *testing.B) {
			q := newTestQueue(b, bc.cfg)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				q.Add(i)
				item, _ := q.Get()
				q.Done(item)
				i++
			}
		})
	}
}

// BenchmarkAddGetDoneParallel measures Add/Get/Done cycles on distinct
// items from GOMAXPROCS goroutines contending for the queue.
func BenchmarkAddGetDoneParallel(b *testing.B) {
	for _, bc := range benchConfigs() {
		b.Run(bc.name, func(b *testing.B) {
			q := newTestQueue(b, bc.cfg)
			var next atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					q.Add(int(next.Add(1)))
					item, _ := q.Get()
					q.Done(item)
				}
			})
		})
	}
}

// BenchmarkAddDuplicate measures Add of an item that is already queued.
func BenchmarkAddDuplicate(b *testing.B) {
	q := newTestQueue(b, Config[int]{Name: "bench", Registerer: prometheus.NewRegistry()})
	q.Add(1)
	b.ReportAllocs()
	for b.Loop() {
		q.Add(1)
	}
}
