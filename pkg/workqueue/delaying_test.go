package workqueue

import (
	"fmt"
	"testing"
	"time"
)

func TestAddAfterOrdering(t *testing.T) {
	type delayed struct {
		item  string
		delay time.Duration
	}
	type step struct {
		advance time.Duration
		want    []string // items that must become ready, in order
	}
	tests := []struct {
		name      string
		adds      []delayed
		immediate []string // items that must be ready before any step
		steps     []step
	}{
		{
			name:  "ordered by ready time, not by add order",
			adds:  []delayed{{"a", 3 * time.Second}, {"b", time.Second}, {"c", 2 * time.Second}},
			steps: []step{{5 * time.Second, []string{"b", "c", "a"}}},
		},
		{
			name: "released one at a time as the clock advances",
			adds: []delayed{{"a", 3 * time.Second}, {"b", time.Second}, {"c", 2 * time.Second}},
			steps: []step{
				{999 * time.Millisecond, nil},
				{time.Millisecond, []string{"b"}},
				{time.Second, []string{"c"}},
				{500 * time.Millisecond, nil},
				{500 * time.Millisecond, []string{"a"}},
			},
		},
		{
			name:  "equal ready times keep add order",
			adds:  []delayed{{"a", time.Second}, {"b", time.Second}, {"c", time.Second}},
			steps: []step{{time.Second, []string{"a", "b", "c"}}},
		},
		{
			name:  "re-adding a waiting item keeps the earlier time",
			adds:  []delayed{{"a", time.Second}, {"b", 2 * time.Second}, {"a", 3 * time.Second}},
			steps: []step{{time.Second, []string{"a"}}, {5 * time.Second, []string{"b"}}},
		},
		{
			name:  "re-adding a waiting item with an earlier time moves it forward",
			adds:  []delayed{{"a", 3 * time.Second}, {"b", 2 * time.Second}, {"a", time.Second}},
			steps: []step{{time.Second, []string{"a"}}, {time.Second, []string{"b"}}, {5 * time.Second, nil}},
		},
		{
			name:      "non-positive delay adds immediately",
			adds:      []delayed{{"a", 0}, {"b", -time.Second}, {"c", time.Second}},
			immediate: []string{"a", "b"},
			steps:     []step{{time.Second, []string{"c"}}},
		},
		{
			name:      "delayed copy of a processed item is added again",
			adds:      []delayed{{"a", 0}, {"a", time.Second}},
			immediate: []string{"a"},
			steps:     []step{{time.Second, []string{"a"}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			q := newTestQueue(t, Config[string]{Clock: clk})
			for _, d := range tc.adds {
				q.AddAfter(d.item, d.delay)
			}
			expectReady := func(what string, want []string) {
				t.Helper()
				eventually(t, fmt.Sprintf("%s: %d ready items", what, len(want)), func() bool { return q.Len() >= len(want) })
				// Give the waiting loop a chance to release too much.
				time.Sleep(20 * time.Millisecond)
				if got := q.Len(); got != len(want) {
					t.Fatalf("%s: Len() = %d, want %d (%v)", what, got, len(want), want)
				}
				for _, w := range want {
					item, shutdown := q.Get()
					if shutdown || item != w {
						t.Fatalf("%s: Get() = %q, %v; want %q", what, item, shutdown, w)
					}
					q.Done(item)
				}
			}
			expectReady("before stepping", tc.immediate)
			for i, s := range tc.steps {
				clk.Step(s.advance)
				expectReady(fmt.Sprintf("after step %d (+%v)", i, s.advance), s.want)
			}
		})
	}
}

func TestAddAfterRealClock(t *testing.T) {
	q := newTestQueue(t, Config[string]{})
	const delay = 50 * time.Millisecond
	start := time.Now()
	q.AddAfter("late", 2*delay)
	q.AddAfter("early", delay)
	for _, want := range []string{"early", "late"} {
		r := mustReceive(t, asyncGet(q), "Get of "+want)
		if r.item != want {
			t.Fatalf("Get() = %q, want %q", r.item, want)
		}
		q.Done(r.item)
	}
	if elapsed := time.Since(start); elapsed < 2*delay {
		t.Fatalf("both items ready after %v, want at least %v", elapsed, 2*delay)
	}
}

func TestAddAfterAndShutDown(t *testing.T) {
	clk := newFakeClock()
	q := newTestQueue(t, Config[string]{Clock: clk})
	q.AddAfter("pending", time.Second)
	q.ShutDown()
	q.AddAfter("after-shutdown", 0)
	clk.Step(time.Hour)
	if r := mustReceive(t, asyncGet(q), "Get after ShutDown"); !r.shutdown {
		t.Fatalf("Get() = %q, shutdown=false; delayed items must be discarded at shutdown", r.item)
	}
}

func TestAddAfterCoalescesWithQueuedItem(t *testing.T) {
	clk := newFakeClock()
	q := newTestQueue(t, Config[string]{Clock: clk})
	q.Add("a")
	q.AddAfter("a", time.Second)
	q.AddAfter("b", 2*time.Second)
	clk.Step(2 * time.Second)
	eventually(t, "b to become ready", func() bool { return q.Len() >= 2 })
	for _, want := range []string{"a", "b"} {
		if item, _ := q.Get(); item != want {
			t.Fatalf("Get() = %q, want %q", item, want)
		}
	}
	if n := q.Len(); n != 0 {
		t.Fatalf("Len() = %d after getting a and b, want 0: the delayed a was not coalesced", n)
	}
}
