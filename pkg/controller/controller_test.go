package controller_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/coxswain/coxswain/pkg/controller"
	"github.com/coxswain/coxswain/pkg/testutil"
	"github.com/coxswain/coxswain/pkg/workqueue"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// start builds and runs a controller; it is stopped (and must stop) when the test ends.
func start(t *testing.T, cfg controller.Config) *controller.Controller {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testutil.Logger()
	}
	c, err := controller.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("controller %s did not stop", cfg.Name)
		}
	})
	return c
}

// calls records when Sync ran for each key.
type calls struct {
	mu sync.Mutex
	at map[string][]time.Time
}

func (c *calls) record(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at == nil {
		c.at = map[string][]time.Time{}
	}
	c.at[key] = append(c.at[key], time.Now())
	return len(c.at[key])
}

func (c *calls) of(key string) []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.at[key]...)
}

func (c *calls) wait(t *testing.T, key string, n int) []time.Time {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, func() bool { return len(c.of(key)) >= n }, "%s synced %d times, want %d", key, len(c.of(key)), n)
	return c.of(key)
}

func gaps(ts []time.Time) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(ts); i++ {
		out = append(out, ts[i].Sub(ts[i-1]))
	}
	return out
}

// value reads a counter or gauge with exactly these labels from reg (0 when absent).
func value(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue metrics
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

func TestFailingSyncIsRetriedWithGrowingDelays(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	const base = 40 * time.Millisecond
	var c calls
	var failuresLeft atomic.Int32
	failuresLeft.Store(4)
	ctl := start(t, controller.Config{Name: "retry", Workers: 2, Registerer: reg,
		RateLimiter: workqueue.NewItemExponentialFailureRateLimiter[string](base, 10*time.Second),
		Sync: func(ctx context.Context, key string) error {
			c.record(key)
			if failuresLeft.Add(-1) >= 0 {
				return errors.New("not yet")
			}
			return nil
		}})
	ctl.Enqueue("ns/a")
	ts := c.wait(t, "ns/a", 5)
	for i, g := range gaps(ts) {
		if want := base << i; g < want-2*time.Millisecond || g > want+5*time.Second {
			t.Errorf("retry %d came %v after the previous attempt, want about %v", i+1, g, want)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(c.of("ns/a")); n != 5 {
		t.Fatalf("%d syncs after success, want 5", n)
	}
	want := `
# HELP controller_runtime_reconcile_total Reconciliations per controller and result (success, error, requeue_after).
# TYPE controller_runtime_reconcile_total counter
controller_runtime_reconcile_total{controller="retry",result="error"} 4
controller_runtime_reconcile_total{controller="retry",result="success"} 1
`
	if err := promtest.GatherAndCompare(reg, strings.NewReader(want), "controller_runtime_reconcile_total"); err != nil {
		t.Fatal(err)
	}
	if v := value(t, reg, "controller_runtime_reconcile_errors_total", map[string]string{"controller": "retry"}); v != 4 {
		t.Errorf("controller_runtime_reconcile_errors_total %v, want 4", v)
	}
	if v := value(t, reg, "workqueue_retries_total", map[string]string{"name": "retry"}); v != 4 {
		t.Errorf("workqueue_retries_total %v, want 4", v)
	}
	if n, err := promtest.GatherAndCount(reg, "controller_runtime_reconcile_time_seconds"); err != nil || n != 1 {
		t.Errorf("controller_runtime_reconcile_time_seconds: %d series, %v", n, err)
	}

	// Success forgot the failures: the next failure waits the base delay again, not 16 times it.
	failuresLeft.Store(1)
	ctl.Enqueue("ns/a")
	ts = c.wait(t, "ns/a", 7)[5:]
	if g := ts[1].Sub(ts[0]); g < base-2*time.Millisecond || g >= 8*base {
		t.Errorf("retry after a success came %v later, want about %v", g, base)
	}
}

func TestRequeueAfterIsNotAnError(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	const after = 150 * time.Millisecond
	var c calls
	ctl := start(t, controller.Config{Name: "requeue", Registerer: reg,
		Sync: func(ctx context.Context, key string) error {
			if c.record(key) <= 2 {
				return controller.RequeueAfter(after)
			}
			return nil
		}})
	ctl.EnqueueObject(&corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Namespace: "ns", Name: "cm"}})
	ts := c.wait(t, "ns/cm", 3)
	for i, g := range gaps(ts) {
		if g < after-2*time.Millisecond {
			t.Errorf("requeue %d after %v, want at least %v", i+1, g, after)
		}
	}
	time.Sleep(2 * after)
	if n := len(c.of("ns/cm")); n != 3 {
		t.Fatalf("%d syncs, want 3", n)
	}
	want := `
# HELP controller_runtime_reconcile_total Reconciliations per controller and result (success, error, requeue_after).
# TYPE controller_runtime_reconcile_total counter
controller_runtime_reconcile_total{controller="requeue",result="requeue_after"} 2
controller_runtime_reconcile_total{controller="requeue",result="success"} 1
`
	if err := promtest.GatherAndCompare(reg, strings.NewReader(want), "controller_runtime_reconcile_total"); err != nil {
		t.Fatal(err)
	}
	if v := value(t, reg, "controller_runtime_reconcile_errors_total", map[string]string{"controller": "requeue"}); v != 0 {
		t.Errorf("controller_runtime_reconcile_errors_total %v, want 0", v)
	}
}

func TestKeyAddedDuringItsSyncIsSyncedAgainAfter(t *testing.T) {
	t.Parallel()
	var c calls
	var inflight sync.Map // key → *atomic.Bool
	var violations atomic.Int32
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	ctl := start(t, controller.Config{Name: "readd", Workers: 4,
		Sync: func(ctx context.Context, key string) error {
			f, _ := inflight.LoadOrStore(key, new(atomic.Bool))
			if !f.(*atomic.Bool).CompareAndSwap(false, true) {
				violations.Add(1)
			}
			defer f.(*atomic.Bool).Store(false)
			c.record(key)
			if key == "k" {
				once.Do(func() {
					close(started)
					<-release
				})
			}
			return nil
		}})
	ctl.Enqueue("k")
	<-started
	for range 3 {
		ctl.Enqueue("k")
		ctl.EnqueueAfter("k", time.Millisecond)
	}
	// Idle workers are free, yet none of them takes the key while its sync runs.
	time.Sleep(200 * time.Millisecond)
	if n := len(c.of("k")); n != 1 {
		t.Fatalf("%d syncs of k while the first is running, want 1", n)
	}
	close(release)
	c.wait(t, "k", 2)
	time.Sleep(200 * time.Millisecond)
	if n := len(c.of("k")); n != 2 {
		t.Fatalf("%d syncs of k, want 2 (the adds during the first sync fold into one)", n)
	}
	if ctl.Len() != 0 {
		t.Fatalf("queue length %d after the work is done", ctl.Len())
	}

	// Many keys, enqueued concurrently and repeatedly: never two syncs of one key at once, and every
	// key is synced after its last enqueue.
	var lastAdd sync.Map // key → time.Time
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				key := fmt.Sprintf("key-%d", (g*7+i)%10)
				lastAdd.Store(key, time.Now())
				ctl.Enqueue(key)
				if i%20 == 0 {
					time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	lastAdd.Range(func(k, v any) bool {
		key, added := k.(string), v.(time.Time)
		testutil.Eventually(t, 10*time.Second, func() bool {
			ts := c.of(key)
			return len(ts) > 0 && ts[len(ts)-1].After(added)
		}, "%s was not synced after its last enqueue", key)
		return true
	})
	if v := violations.Load(); v != 0 {
		t.Fatalf("%d concurrent syncs of one key", v)
	}
}

func TestRunReturnsAfterCancel(t *testing.T) {
	t.Parallel()
	var finished atomic.Bool
	var c calls
	started := make(chan struct{})
	ctl, err := controller.New(controller.Config{Name: "cancel", Logger: testutil.Logger(),
		Sync: func(ctx context.Context, key string) error {
			if c.record(key) == 1 {
				close(started)
				<-ctx.Done() // work in progress sees the cancellation...
				time.Sleep(100 * time.Millisecond)
				finished.Store(true) // ...and finishes before Run returns
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ctl.Run(ctx) }()
	ctl.Enqueue("a")
	<-started
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if !finished.Load() {
		t.Fatal("Run returned before the sync in progress finished")
	}
	ctl.Enqueue("b")
	time.Sleep(100 * time.Millisecond)
	if n := len(c.of("b")); n != 0 {
		t.Fatalf("synced after shutdown")
	}
}

func TestNewAndSharedRegistry(t *testing.T) {
	t.Parallel()
	noop := func(context.Context, string) error { return nil }
	for _, cfg := range []controller.Config{{Sync: noop}, {Name: "no-sync"}} {
		if _, err := controller.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", cfg)
		}
	}
	// Several controllers report to one registry, each under its own name; no registry is fine too.
	reg := prometheus.NewRegistry()
	var mu sync.Mutex
	seen := map[string]int{}
	for _, name := range []string{"one", "two"} {
		ctl := start(t, controller.Config{Name: name, Registerer: reg, Sync: func(_ context.Context, key string) error {
			mu.Lock()
			defer mu.Unlock()
			seen[name+"/"+key]++
			return nil
		}})
		ctl.Enqueue("x")
	}
	start(t, controller.Config{Name: "unregistered", Sync: noop}).Enqueue("x")
	testutil.Eventually(t, 10*time.Second, func() bool {
		return value(t, reg, "controller_runtime_reconcile_total", map[string]string{"controller": "one", "result": "success"}) == 1 &&
			value(t, reg, "controller_runtime_reconcile_total", map[string]string{"controller": "two", "result": "success"}) == 1
	}, "both controllers should report one success")
	for _, name := range []string{"one", "two"} {
		if v := value(t, reg, "workqueue_adds_total", map[string]string{"name": name}); v != 1 {
			t.Errorf("workqueue_adds_total{name=%q} = %v, want 1", name, v)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if seen["one/x"] != 1 || seen["two/x"] != 1 {
		t.Fatalf("syncs %v", seen)
	}
}
