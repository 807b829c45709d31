package apiserver_test

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/testutil"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// runParallel runs n operations on workers goroutines and returns operations per second.
func runParallel(n, workers int, op func(i int) error) (float64, error) {
	var next atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := op(i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if e, ok := firstErr.Load().(error); ok {
		return 0, e
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// BenchmarkCreateVsEtcd: creates of ~1 KiB objects through the apiserver with 64 concurrent clients, next
// to raw etcd puts of the same size and concurrency against the same etcd in the same run.
// Run with -benchtime=3x: each iteration measures both; medians and their ratio are reported.
func BenchmarkCreateVsEtcd(b *testing.B) {
	a := testutil.StartAPIServer(b)
	ctx := context.Background()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{a.Server.EtcdEndpoint()}})
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	const n, workers = 10000, 64
	value := strings.Repeat("x", 1024)
	// Several client connections, like several components would have.
	clients := make([]*client.Client, 8)
	for i := range clients {
		clients[i], _ = client.New(client.Config{Server: a.Addr})
		defer clients[i].Close()
	}
	var etcdRates, apiRates []float64
	for it := 0; it < b.N; it++ {
		r, err := runParallel(n, workers, func(i int) error {
			_, err := cli.Put(ctx, fmt.Sprintf("/bench/%d/%d", it, i), value)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		etcdRates = append(etcdRates, r)
		r, err = runParallel(n, workers, func(i int) error {
			c := clients[i%len(clients)]
			_, err := c.ConfigMaps().Create(ctx, &corev1.ConfigMap{
				Metadata: &metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("cm-%d-%d", it, i)},
				Data:     map[string]string{"v": value}})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		apiRates = append(apiRates, r)
	}
	e, api := median(etcdRates), median(apiRates)
	b.ReportMetric(e, "etcd-puts/s")
	b.ReportMetric(api, "apiserver-creates/s")
	b.ReportMetric(api/e, "ratio")
}

// BenchmarkWatchFanout: 1,000 watchers of one resource while a writer updates objects at a fixed rate;
// reports the p50/p99 delivery latency (write acknowledged → event received) and delivered events/s.
func BenchmarkWatchFanout(b *testing.B) {
	a := testutil.StartAPIServer(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const watchers, rate = 1000, 1000
	duration := 5 * time.Second
	conns := make([]*client.Client, 16)
	for i := range conns {
		conns[i], _ = client.New(client.Config{Server: a.Addr})
		defer conns[i].Close()
	}
	for it := 0; it < b.N; it++ {
		_, lm, err := a.Client.ConfigMaps().List(ctx, &metav1.ListOptions{Namespace: "default"})
		if err != nil {
			b.Fatal(err)
		}
		var sent sync.Map // resourceVersion → time the write returned
		var mu sync.Mutex
		var lat []time.Duration
		var delivered atomic.Int64
		wctx, wcancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for w := 0; w < watchers; w++ {
			wt, err := conns[w%len(conns)].ConfigMaps().Watch(wctx, &metav1.ListOptions{Namespace: "default", ResourceVersion: lm.ResourceVersion})
			if err != nil {
				b.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				var local []time.Duration
				for {
					ev, err := wt.Next()
					if err != nil {
						mu.Lock()
						lat = append(lat, local...)
						mu.Unlock()
						return
					}
					now := time.Now()
					delivered.Add(1)
					if t, ok := sent.Load(ev.Object.Metadata.ResourceVersion); ok {
						local = append(local, now.Sub(t.(time.Time)))
					}
				}
			}()
		}
		// Writers pace themselves to `rate` creates per second in total; several run at once so that the
		// latency of one create does not cap the rate.
		start := time.Now()
		tick := time.NewTicker(time.Second / rate)
		var writes int64
		var wwg sync.WaitGroup
		slots := make(chan struct{}, 64)
		for time.Since(start) < duration {
			<-tick.C
			slots <- struct{}{}
			n := writes
			writes++
			wwg.Add(1)
			go func() {
				defer wwg.Done()
				defer func() { <-slots }()
				o, err := a.Client.ConfigMaps().Create(ctx, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Namespace: "default",
					Name: "fan-" + strconv.Itoa(it) + "-" + strconv.FormatInt(n, 10)}})
				if err != nil {
					b.Error(err)
					return
				}
				sent.Store(o.Metadata.ResourceVersion, time.Now())
			}()
		}
		wwg.Wait()
		tick.Stop()
		elapsed := time.Since(start)
		want := writes * watchers
		deadline := time.Now().Add(30 * time.Second)
		for delivered.Load() < want && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		drain := time.Since(start)
		wcancel()
		wg.Wait()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		if len(lat) == 0 {
			b.Fatal("no events delivered")
		}
		b.ReportMetric(float64(writes)/elapsed.Seconds(), "writes/s")
		b.ReportMetric(float64(delivered.Load())/drain.Seconds(), "delivered/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		if got := delivered.Load(); got != want {
			b.Fatalf("delivered %d events, want %d", got, want)
		}
	}
}

// BenchmarkList10kPods: listing 10,000 pods, from the watch cache (resourceVersion "0") and as a
// consistent read (resourceVersion "": the cache catches up with etcd's current revision first).
func BenchmarkList10kPods(b *testing.B) {
	a := testutil.StartAPIServer(b)
	ctx := context.Background()
	_, err := runParallel(10000, 32, func(i int) error {
		_, err := a.Client.Pods().Create(ctx, &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("pod-%05d", i),
			Labels: map[string]string{"app": "bench", "shard": strconv.Itoa(i % 10)}},
			Spec: &corev1.PodSpec{NodeName: fmt.Sprintf("node-%d", i%100), Containers: []*corev1.Container{{Name: "c", Image: "coxswain/demo:v1",
				Ports: []*corev1.ContainerPort{{ContainerPort: 8080}}}}}})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, rv := range []string{"0", ""} {
		name := "cache"
		if rv == "" {
			name = "consistent"
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				items, _, err := a.Client.Pods().List(ctx, &metav1.ListOptions{ResourceVersion: rv})
				if err != nil {
					b.Fatal(err)
				}
				if len(items) != 10000 {
					b.Fatalf("listed %d pods", len(items))
				}
			}
		})
	}
	b.Run("node-field-selector", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			items, _, err := a.Client.Pods().List(ctx, &metav1.ListOptions{ResourceVersion: "0", FieldSelector: "spec.nodeName=node-7"})
			if err != nil || len(items) != 100 {
				b.Fatalf("listed %d pods, %v", len(items), err)
			}
		}
	})
}
