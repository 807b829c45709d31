package workqueue

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is a Clock that only moves when Step is called.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	clk      *fakeClock
	deadline time.Time
	c        chan time.Time
	active   bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimerAt(deadline time.Time) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clk: c, deadline: deadline, c: make(chan time.Time, 1)}
	if !deadline.After(c.now) {
		t.c <- c.now
		return t
	}
	t.active = true
	c.timers = append(c.timers, t)
	return t
}

// Step advances the clock by d and fires every timer that became due.
func (c *fakeClock) Step(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case !t.active:
		case !t.deadline.After(c.now):
			t.active = false
			t.c <- c.now
		default:
			keep = append(keep, t)
		}
	}
	c.timers = keep
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	was := t.active
	t.active = false
	return was
}

// waitTimeout bounds every wait for something that must happen; it is
// generous because the test machine is noisy.
const waitTimeout = 10 * time.Second

// eventually fails the test if cond does not become true in waitTimeout.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitTimeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// newTestQueue returns a queue without metrics that is shut down when the
// test ends.
func newTestQueue[T comparable](t testing.TB, cfg Config[T]) *Queue[T] {
	t.Helper()
	q, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(q.ShutDown)
	return q
}

// getResult is the outcome of a Get call run in a goroutine.
type getResult[T any] struct {
	item     T
	shutdown bool
}

// asyncGet calls q.Get in a goroutine and delivers its result.
func asyncGet[T comparable](q *Queue[T]) <-chan getResult[T] {
	ch := make(chan getResult[T], 1)
	go func() {
		item, shutdown := q.Get()
		ch <- getResult[T]{item, shutdown}
	}()
	return ch
}

// mustReceive waits for a value on ch.
func mustReceive[V any](t *testing.T, ch <-chan V, what string) V {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("timed out after %v waiting for %s", waitTimeout, what)
		panic("unreachable")
	}
}

// mustNotReceive checks that nothing arrives on ch for a short while.
func mustNotReceive[V any](t *testing.T, ch <-chan V, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("%s happened early: %v", what, v)
	case <-time.After(50 * time.Millisecond):
	}
}
