package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"math"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/coxswain/coxswain/pkg/bench/stats"
)

// EtcdResult is the raw etcd put throughput measured as the reference of a run.
type EtcdResult struct {
	Endpoint    string `json:"endpoint"`
	Embedded    bool   `json:"embedded"`
	ValueBytes  int    `json:"value_bytes"`
	Concurrency int    `json:"concurrency"`
	Puts        int    `json:"puts"`
	// Seconds is the measured duration; PutsPerSecond = Puts / Seconds.
	Seconds       float64       `json:"seconds"`
	PutsPerSecond float64       `json:"puts_per_second"`
	LatencyMs     stats.Summary `json:"latency_ms"`
}

// etcdRefPrefix holds the reference's keys; they are deleted afterwards.
const etcdRefPrefix = "/coxbench-etcd-reference/"

// EtcdPutBenchmark writes distinct keys with values of valueBytes random bytes from concurrency
// goroutines against endpoint for duration d, then deletes them.
func EtcdPutBenchmark(ctx context.Context, endpoint string, valueBytes, concurrency int, d time.Duration) (*EtcdResult, error) {
	if valueBytes <= 0 || concurrency <= 0 || d <= 0 {
		return nil, fmt.Errorf("etcd reference: value size %d, concurrency %d and duration %v must be positive", valueBytes, concurrency, d)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 10 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("etcd reference: connect %s: %w", endpoint, err)
	}
	defer cli.Close()
	value := make([]byte, valueBytes)
	_, _ = rand.Read(value)
	val := string(value)

	rctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	lat := make([][]float64, concurrency)
	errs := make([]error, concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; rctx.Err() == nil; i++ {
				t0 := time.Now()
				_, err := cli.Put(ctx, fmt.Sprintf("%s%d/%d", etcdRefPrefix, w, i), val)
				if err != nil {
					errs[w] = err
					return
				}
				lat[w] = append(lat[w], ms(time.Since(t0)))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	_, derr := cli.Delete(dctx, etcdRefPrefix, clientv3.WithPrefix())
	dcancel()
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("etcd reference: put: %w", err)
		}
	}
	if derr != nil {
		return nil, fmt.Errorf("etcd reference: delete %s*: %w", etcdRefPrefix, derr)
	}
	var all []float64
	for _, l := range lat {
		all = append(all, l...)
	}
	r := &EtcdResult{Endpoint: endpoint, ValueBytes: valueBytes, Concurrency: concurrency, Puts: len(all), Seconds: elapsed.Seconds(),
		LatencyMs: stats.Summarize(all), PutsPerSecond: math.NaN()}
	if elapsed > 0 {
		r.PutsPerSecond = float64(len(all)) / elapsed.Seconds()
	}
	return r, nil
}
