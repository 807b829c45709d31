package workqueue

import (
	"fmt"
	"testing"
	"time"
)

// rlOp is one call on a rate limiter: When (want is the expected delay),
// Forget, or a NumRequeues check.
type rlOp struct {
	kind string // when, forget, requeues
	item string
	want time.Duration
	n    int
}

func when(item string, want time.Duration) rlOp { return rlOp{kind: "when", item: item, want: want} }
func forget(item string) rlOp                   { return rlOp{kind: "forget", item: item} }
func requeues(item string, n int) rlOp          { return rlOp{kind: "requeues", item: item, n: n} }

func runRateLimiterOps(t *testing.T, rl RateLimiter[string], ops []rlOp) {
	t.Helper()
	for i, o := range ops {
		switch o.kind {
		case "when":
			if got := rl.When(o.item); got != o.want {
				t.Fatalf("op %d: When(%q) = %v, want %v", i, o.item, got, o.want)
			}
		case "forget":
			rl.Forget(o.item)
		case "requeues":
			if got := rl.NumRequeues(o.item); got != o.n {
				t.Fatalf("op %d: NumRequeues(%q) = %d, want %d", i, o.item, got, o.n)
			}
		default:
			t.Fatalf("unknown op %q", o.kind)
		}
	}
}

func TestItemExponentialFailureRateLimiter(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name      string
		base, max time.Duration
		ops       []rlOp
	}{
		{"doubles per failure", 5 * ms, time.Second, []rlOp{
			requeues("a", 0),
			when("a", 5*ms), when("a", 10*ms), when("a", 20*ms), when("a", 40*ms), when("a", 80*ms),
			requeues("a", 5),
		}},
		{"capped at max", 100 * ms, time.Second, []rlOp{
			when("a", 100*ms), when("a", 200*ms), when("a", 400*ms), when("a", 800*ms),
			when("a", time.Second), when("a", time.Second), requeues("a", 6),
		}},
		{"items are independent", 1 * ms, time.Second, []rlOp{
			when("a", 1*ms), when("a", 2*ms), when("b", 1*ms), when("a", 4*ms), when("b", 2*ms),
			requeues("a", 3), requeues("b", 2),
		}},
		{"forget resets one item", 1 * ms, time.Second, []rlOp{
			when("a", 1*ms), when("a", 2*ms), when("b", 1*ms),
			forget("a"), requeues("a", 0), requeues("b", 1),
			when("a", 1*ms), when("b", 2*ms),
		}},
		{"max below base caps the first delay", time.Second, 10 * ms, []rlOp{when("a", 10*ms), when("a", 10*ms)}},
		{"zero base never delays but counts", 0, time.Second, []rlOp{when("a", 0), when("a", 0), requeues("a", 2)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runRateLimiterOps(t, NewItemExponentialFailureRateLimiter[string](tc.base, tc.max), tc.ops)
		})
	}
}

func TestItemExponentialFailureRateLimiterOverflow(t *testing.T) {
	const maxDelay = 1000 * time.Second
	rl := NewItemExponentialFailureRateLimiter[int](time.Nanosecond, maxDelay)
	prev := time.Duration(0)
	for i := range 2000 {
		d := rl.When(1)
		if d < prev || d > maxDelay {
			t.Fatalf("failure %d: delay %v after %v; want non-decreasing and at most %v", i, d, prev, maxDelay)
		}
		prev = d
	}
	if prev != maxDelay {
		t.Fatalf("delay after 2000 failures = %v, want %v", prev, maxDelay)
	}
}

func TestBucketRateLimiter(t *testing.T) {
	tests := []struct {
		qps   float64
		burst int
	}{
		{qps: 1, burst: 2},
		{qps: 20, burst: 5},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%gqps burst %d", tc.qps, tc.burst), func(t *testing.T) {
			start := time.Now()
			rl := NewBucketRateLimiter[string](tc.qps, tc.burst)
			for i := range tc.burst {
				if d := rl.When(fmt.Sprint(i)); d != 0 {
					t.Fatalf("When #%d within burst = %v, want 0", i, d)
				}
			}
			interval := time.Duration(float64(time.Second) / tc.qps)
			for i := 1; i <= 3; i++ {
				d := rl.When("over")
				// Each reservation past the burst waits one more interval,
				// less the tokens refilled since the bucket was created.
				want := time.Duration(i) * interval
				if low := want - time.Since(start); d > want || d < low {
					t.Fatalf("When #%d past burst = %v, want between %v and %v", i, d, low, want)
				}
			}
			rl.Forget("over")
			if n := rl.NumRequeues("over"); n != 0 {
				t.Fatalf("NumRequeues = %d, want 0", n)
			}
		})
	}
}

func TestMaxOfRateLimiter(t *testing.T) {
	ms := time.Millisecond
	rl := NewMaxOfRateLimiter(
		NewItemExponentialFailureRateLimiter[string](1*ms, 100*ms),
		NewItemExponentialFailureRateLimiter[string](10*ms, 30*ms),
	)
	runRateLimiterOps(t, rl, []rlOp{
		when("a", 10*ms), // max(1, 10)
		when("a", 20*ms), // max(2, 20)
		when("a", 30*ms), // max(4, 40→30)
		when("a", 30*ms), // max(8, 30)
		when("a", 30*ms), // max(16, 30)
		when("a", 32*ms), // max(32, 30)
		when("a", 64*ms), // max(64, 30)
		requeues("a", 7),
		forget("a"), requeues("a", 0),
		when("a", 10*ms),
	})
}

func TestDefaultControllerRateLimiter(t *testing.T) {
	start := time.Now()
	rl := DefaultControllerRateLimiter[int]()
	// The burst of 100 covers the first 100 failures; the per-item backoff
	// starts at 5ms.
	for i := range DefaultBurst {
		if d := rl.When(i); d != DefaultBaseDelay {
			t.Fatalf("When(%d) = %v, want %v", i, d, DefaultBaseDelay)
		}
	}
	// The bucket is empty now: the next token is 1/10s away, which beats
	// the item's 10ms backoff.
	d := rl.When(0)
	const interval = time.Second / DefaultQPS
	if low := max(interval-time.Since(start), 10*time.Millisecond); d < low || d > interval {
		t.Fatalf("When(0) with an empty bucket = %v, want between %v and %v", d, low, interval)
	}
	if n := rl.NumRequeues(0); n != 2 {
		t.Fatalf("NumRequeues(0) = %d, want 2", n)
	}
	rl.Forget(0)
	if n := rl.NumRequeues(0); n != 0 {
		t.Fatalf("NumRequeues(0) after Forget = %d, want 0", n)
	}
}

func TestQueueRateLimited(t *testing.T) {
	clk := newFakeClock()
	const base = 100 * time.Millisecond
	q := newTestQueue(t, Config[string]{
		Clock:       clk,
		RateLimiter: NewItemExponentialFailureRateLimiter[string](base, time.Minute),
	})
	// Fail the item three times: each retry waits twice as long.
	for i, wait := range []time.Duration{base, 2 * base, 4 * base} {
		q.AddRateLimited("a")
		if n := q.NumRequeues("a"); n != i+1 {
			t.Fatalf("NumRequeues after %d failures = %d", i+1, n)
		}
		clk.Step(wait - time.Millisecond)
		time.Sleep(20 * time.Millisecond)
		if n := q.Len(); n != 0 {
			t.Fatalf("failure %d: item ready %v early", i+1, time.Millisecond)
		}
		clk.Step(time.Millisecond)
		r := mustReceive(t, asyncGet(q), fmt.Sprintf("retry %d", i+1))
		if r.item != "a" {
			t.Fatalf("Get() = %q, want a", r.item)
		}
		q.Done("a")
	}
	q.Forget("a")
	if n := q.NumRequeues("a"); n != 0 {
		t.Fatalf("NumRequeues after Forget = %d, want 0", n)
	}
	q.AddRateLimited("a")
	clk.Step(base)
	if r := mustReceive(t, asyncGet(q), "retry after Forget"); r.item != "a" {
		t.Fatalf("Get() = %q, want a", r.item)
	}
}
