package scheduler

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/coxswain/coxswain/pkg/scheduler/framework"
	h "github.com/coxswain/coxswain/pkg/scheduler/framework/harness"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Step(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type lens struct{ active, backoff, unschedulable int }

func newTestQueue(clk *fakeClock) (*schedulingQueue, *lens) {
	l := &lens{}
	q := newSchedulingQueue(clk.Now, time.Second, 10*time.Second, 60*time.Second, func(a, b, u int) { *l = lens{a, b, u} })
	return q, l
}

func pinfo(name string, prio int32) *framework.PodInfo {
	return h.Pod("ns", name, "", "").Priority(prio).Info()
}

func mustPop(t *testing.T, q *schedulingQueue) *attempt {
	t.Helper()
	a, ok := q.Pop()
	if !ok {
		t.Fatal("Pop: queue closed")
	}
	return a
}

func TestQueueOrdersByPriorityThenAge(t *testing.T) {
	clk := newFakeClock()
	q, _ := newTestQueue(clk)
	for _, p := range []struct {
		name string
		prio int32
	}{{"low-old", 0}, {"high-old", 100}, {"low-new", 0}, {"high-new", 100}, {"mid", 50}} {
		q.Add(pinfo(p.name, p.prio))
		clk.Step(time.Millisecond)
	}
	var got []string
	for range 5 {
		got = append(got, mustPop(t, q).info.Name)
	}
	want := []string{"high-old", "high-new", "mid", "low-old", "low-new"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

func TestQueueBackoffDoublesToMax(t *testing.T) {
	q, _ := newTestQueue(newFakeClock())
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, w := range want {
		if got := q.backoffDuration(i + 1); got != w {
			t.Errorf("attempt %d: backoff %v, want %v", i+1, got, w)
		}
	}
}

func TestQueueErrorWaitsOutBackoff(t *testing.T) {
	clk := newFakeClock()
	q, l := newTestQueue(clk)
	q.Add(pinfo("p", 0))
	for attempt, backoff := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		a := mustPop(t, q)
		if a.attempts != attempt+1 {
			t.Fatalf("attempts %d, want %d", a.attempts, attempt+1)
		}
		q.Requeue(a, nil, false)
		if *l != (lens{0, 1, 0}) {
			t.Fatalf("after error: %+v, want the pod in backoff", *l)
		}
		clk.Step(backoff - time.Millisecond)
		q.Flush()
		if *l != (lens{0, 1, 0}) {
			t.Fatalf("before backoff %v ended: %+v", backoff, *l)
		}
		clk.Step(time.Millisecond)
		q.Flush()
		if *l != (lens{1, 0, 0}) {
			t.Fatalf("after backoff %v: %+v, want active", backoff, *l)
		}
	}
}

func TestQueueUnschedulableIsParkedUntilMoved(t *testing.T) {
	clk := newFakeClock()
	q, l := newTestQueue(clk)
	q.Add(pinfo("a", 0))
	q.Add(pinfo("b", 0))
	q.Add(pinfo("aff", 0))
	for range 3 {
		q.Requeue(mustPop(t, q), nil, true)
	}
	if *l != (lens{0, 0, 3}) {
		t.Fatalf("after failing: %+v, want 3 unschedulable", *l)
	}
	clk.Step(30 * time.Second)
	q.Flush()
	if *l != (lens{0, 0, 3}) {
		t.Fatalf("30s later: %+v, still parked", *l)
	}
	// A matching event moves only the matching pods; their backoff (1s) is over, so to activeQ.
	q.MoveAll(func(pi *framework.PodInfo) bool { return pi.Name == "aff" })
	if *l != (lens{1, 0, 2}) {
		t.Fatalf("after a move of one pod: %+v", *l)
	}
	// After 60s parked, the rest come back without any event.
	clk.Step(30 * time.Second)
	q.Flush()
	if *l != (lens{3, 0, 0}) {
		t.Fatalf("after 60s: %+v, want all active", *l)
	}
}

func TestQueueMoveDuringAttemptSkipsParking(t *testing.T) {
	clk := newFakeClock()
	q, l := newTestQueue(clk)
	q.Add(pinfo("p", 0))
	a := mustPop(t, q)
	q.MoveAll(nil) // e.g. a node was added while p was being scheduled
	q.Requeue(a, nil, true)
	if *l != (lens{0, 1, 0}) {
		t.Fatalf("%+v: want backoff, not parked (the node added meanwhile may fit)", *l)
	}
	// A later attempt with no event in between is parked.
	clk.Step(time.Second)
	q.Flush()
	a = mustPop(t, q)
	q.Requeue(a, nil, true)
	if *l != (lens{0, 0, 1}) {
		t.Fatalf("%+v: want parked", *l)
	}
	// MoveAll while still backing off (2 s after attempt 2) goes to backoffQ.
	q.MoveAll(nil)
	if *l != (lens{0, 1, 0}) {
		t.Fatalf("%+v: want backoff", *l)
	}
	// A move during an attempt that would not have moved the pod does not keep it from parking.
	clk.Step(2 * time.Second)
	q.Flush()
	a = mustPop(t, q)
	q.MoveAll(func(pi *framework.PodInfo) bool { return pi.Name == "someone-else" })
	q.Requeue(a, nil, true)
	if *l != (lens{0, 0, 1}) {
		t.Fatalf("%+v: want parked (the move did not concern p)", *l)
	}
}

func TestQueueDeleteAndUpdate(t *testing.T) {
	clk := newFakeClock()
	q, l := newTestQueue(clk)
	q.Add(pinfo("active", 0))
	q.Add(pinfo("inflight", 10))
	a := mustPop(t, q)
	if a.info.Name != "inflight" {
		t.Fatalf("popped %s", a.info.Name)
	}
	q.Delete("ns/inflight")
	q.Requeue(a, nil, false)
	if *l != (lens{1, 0, 0}) {
		t.Fatalf("%+v: a pod deleted during its attempt must not come back", *l)
	}
	q.Delete("ns/active")
	if *l != (lens{0, 0, 0}) {
		t.Fatalf("%+v after delete", *l)
	}

	q.Add(pinfo("p", 0))
	q.Requeue(mustPop(t, q), nil, true)
	q.Update(pinfo("p", 0), false) // e.g. our own status update
	if *l != (lens{0, 0, 1}) {
		t.Fatalf("%+v: a status-only update must not unpark", *l)
	}
	clk.Step(time.Second)
	q.Update(h.Pod("ns", "p", "", "").NodeSelector("a", "b").Info(), true)
	if *l != (lens{1, 0, 0}) {
		t.Fatalf("%+v: a spec change must unpark", *l)
	}
	a = mustPop(t, q)
	if a.info.NodeSelector["a"] != "b" {
		t.Fatal("the queue kept the old pod info")
	}
	// A spec change while the pod is being scheduled keeps it from being parked.
	q.Update(h.Pod("ns", "p", "", "").NodeSelector("a", "c").Info(), true)
	q.Requeue(a, nil, true)
	if *l != (lens{0, 1, 0}) {
		t.Fatalf("%+v: a pod changed during its attempt must be retried, not parked", *l)
	}
}

func TestQueuePopBlocksUntilAddOrClose(t *testing.T) {
	q, _ := newTestQueue(newFakeClock())
	got := make(chan string, 1)
	go func() {
		a, ok := q.Pop()
		if !ok {
			got <- "closed"
			return
		}
		got <- a.info.Name
	}()
	select {
	case g := <-got:
		t.Fatalf("Pop returned %q on an empty queue", g)
	case <-time.After(50 * time.Millisecond):
	}
	q.Add(pinfo("p", 0))
	if g := <-got; g != "p" {
		t.Fatalf("Pop = %q", g)
	}
	go func() {
		_, ok := q.Pop()
		got <- fmt.Sprint(ok)
	}()
	time.Sleep(20 * time.Millisecond)
	q.Close()
	select {
	case g := <-got:
		if g != "false" {
			t.Fatalf("Pop after Close ok=%s", g)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake Pop")
	}
}
