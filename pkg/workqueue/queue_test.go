package workqueue

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// op is one step of a scripted, single-goroutine queue scenario.
type op struct {
	kind string // add, get, done, len, shutdown, getShutdown
	item string
	n    int
}

func add(item string) op  { return op{kind: "add", item: item} }
func get(item string) op  { return op{kind: "get", item: item} }
func done(item string) op { return op{kind: "done", item: item} }
func length(n int) op     { return op{kind: "len", n: n} }

var (
	shutdown    = op{kind: "shutdown"}
	getShutdown = op{kind: "getShutdown"}
)

func TestQueueScenarios(t *testing.T) {
	tests := []struct {
		name string
		ops  []op
	}{
		{"fifo order", []op{add("a"), add("b"), add("c"), length(3), get("a"), get("b"), get("c"), length(0)}},
		{"duplicates while queued are coalesced", []op{
			add("a"), add("b"), add("a"), add("b"), add("a"), length(2),
			get("a"), get("b"), length(0),
		}},
		{"coalesced item keeps its first position", []op{add("a"), add("b"), add("a"), get("a"), get("b")}},
		{"re-add during processing waits for Done", []op{
			add("a"), get("a"), add("a"), length(0), add("a"), length(0),
			done("a"), length(1), get("a"), done("a"), length(0),
		}},
		{"re-added item goes behind items queued meanwhile", []op{
			add("a"), get("a"), add("a"), add("b"), done("a"), get("b"), get("a"),
		}},
		{"item done without re-add is gone", []op{add("a"), get("a"), done("a"), length(0), add("a"), length(1), get("a")}},
		{"done for an item not being processed is ignored", []op{add("a"), done("a"), length(1), done("zz"), length(1), get("a")}},
		{"done twice does not queue twice", []op{add("a"), get("a"), add("a"), done("a"), done("a"), length(1)}},
		{"shutdown ignores adds but hands out queued items", []op{
			add("a"), add("b"), shutdown, add("c"), length(2),
			get("a"), get("b"), getShutdown, getShutdown,
		}},
		{"shutdown drops re-adds of processed items", []op{add("a"), get("a"), shutdown, add("a"), done("a"), length(0), getShutdown}},
		{"re-add before shutdown is still handed out", []op{add("a"), get("a"), add("a"), shutdown, done("a"), get("a"), done("a"), getShutdown}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := newTestQueue(t, Config[string]{})
			for i, o := range tc.ops {
				step := fmt.Sprintf("op %d (%s %q)", i, o.kind, o.item)
				switch o.kind {
				case "add":
					q.Add(o.item)
				case "get":
					r := mustReceive(t, asyncGet(q), step)
					if r.shutdown || r.item != o.item {
						t.Fatalf("%s: Get() = %q, shutdown=%v; want %q, false", step, r.item, r.shutdown, o.item)
					}
				case "getShutdown":
					r := mustReceive(t, asyncGet(q), step)
					if !r.shutdown || r.item != "" {
						t.Fatalf("%s: Get() = %q, shutdown=%v; want zero item, true", step, r.item, r.shutdown)
					}
				case "done":
					q.Done(o.item)
				case "len":
					if got := q.Len(); got != o.n {
						t.Fatalf("%s: Len() = %d, want %d", step, got, o.n)
					}
				case "shutdown":
					q.ShutDown()
					if !q.ShuttingDown() {
						t.Fatalf("%s: ShuttingDown() = false after ShutDown", step)
					}
				default:
					t.Fatalf("unknown op %q", o.kind)
				}
			}
		})
	}
}

func TestGetBlocksUntilAdd(t *testing.T) {
	q := newTestQueue(t, Config[int]{})
	ch := asyncGet(q)
	mustNotReceive(t, ch, "Get on an empty queue")
	q.Add(7)
	if r := mustReceive(t, ch, "Get after Add"); r.item != 7 || r.shutdown {
		t.Fatalf("Get() = %d, %v; want 7, false", r.item, r.shutdown)
	}
}

func TestReAddedItemIsNotHandedToSecondWorker(t *testing.T) {
	q := newTestQueue(t, Config[string]{})
	q.Add("a")
	first := mustReceive(t, asyncGet(q), "first Get")
	if first.item != "a" {
		t.Fatalf("first Get = %q, want a", first.item)
	}
	q.Add("a")
	second := asyncGet(q)
	mustNotReceive(t, second, "second Get of an item still being processed")
	q.Done("a")
	if r := mustReceive(t, second, "second Get after Done"); r.item != "a" || r.shutdown {
		t.Fatalf("second Get = %q, %v; want a, false", r.item, r.shutdown)
	}
}

func TestShutDownWakesBlockedGetters(t *testing.T) {
	q := newTestQueue(t, Config[int]{})
	const getters = 5
	chs := make([]<-chan getResult[int], getters)
	for i := range chs {
		chs[i] = asyncGet(q)
	}
	mustNotReceive(t, chs[0], "Get on an empty queue")
	q.ShutDown()
	for i, ch := range chs {
		if r := mustReceive(t, ch, fmt.Sprintf("getter %d after ShutDown", i)); !r.shutdown {
			t.Fatalf("getter %d: shutdown = false, want true", i)
		}
	}
}

func TestShutDownWithDrain(t *testing.T) {
	tests := []struct {
		name  string
		readd bool // add "a" again while it is being processed
	}{
		{name: "waits for queued and in-flight items"},
		{name: "processes items re-added before the drain", readd: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := newTestQueue(t, Config[string]{})
			q.Add("a")
			q.Add("b")
			if r := mustReceive(t, asyncGet(q), "Get a"); r.item != "a" {
				t.Fatalf("Get = %q, want a", r.item)
			}
			if tc.readd {
				q.Add("a")
			}
			drained := make(chan struct{})
			go func() {
				q.ShutDownWithDrain()
				close(drained)
			}()
			eventually(t, "ShuttingDown", q.ShuttingDown)
			q.Add("c") // ignored: shutting down
			mustNotReceive(t, drained, "drain with a and b pending")

			var processed []string
			q.Done("a")
			for {
				r := mustReceive(t, asyncGet(q), "Get while draining")
				if r.shutdown {
					break
				}
				processed = append(processed, r.item)
				if len(processed) == 1 {
					mustNotReceive(t, drained, "drain with an item in flight")
				}
				q.Done(r.item)
			}
			mustReceive(t, drained, "ShutDownWithDrain to return")
			want := "b"
			if tc.readd {
				want = "b,a"
			}
			if got := strings.Join(processed, ","); got != want {
				t.Fatalf("processed while draining = %q, want %q", got, want)
			}
		})
	}
}

func TestShutDownReleasesShutDownWithDrain(t *testing.T) {
	q := newTestQueue(t, Config[string]{})
	q.Add("stuck")
	if r := mustReceive(t, asyncGet(q), "Get"); r.item != "stuck" {
		t.Fatalf("Get = %q, want stuck", r.item)
	}
	drained := make(chan struct{})
	go func() {
		q.ShutDownWithDrain()
		close(drained)
	}()
	mustNotReceive(t, drained, "drain with an item in flight")
	q.ShutDown()
	mustReceive(t, drained, "ShutDownWithDrain to return after ShutDown")
}

// TestConcurrentProducersConsumers checks that under contention every
// added item is processed, that no item is processed by two workers at
// once, and that an item added while it is processed is processed again.
func TestConcurrentProducersConsumers(t *testing.T) {
	tests := []struct {
		name                 string
		producers, consumers int
		items, addsPerItem   int
	}{
		{"one producer many consumers", 1, 8, 2000, 1},
		{"many producers one consumer", 8, 1, 500, 3},
		{"many producers many consumers", 4, 4, 1000, 4},
		{"hot items re-added while being processed", 4, 4, 10, 500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := newTestQueue(t, Config[int]{})
			var (
				mu        sync.Mutex
				inFlight  = map[int]bool{}
				processed = map[int]int{}
				// pendingAdd[i] is set when i was added and cleared by a
				// Get that started after that Add returned.
				pendingAdd = map[int]bool{}
				overlaps   atomic.Int64
			)
			var consumers sync.WaitGroup
			for range tc.consumers {
				consumers.Go(func() {
					for {
						item, shutdown := q.Get()
						if shutdown {
							return
						}
						mu.Lock()
						if inFlight[item] {
							overlaps.Add(1)
						}
						inFlight[item] = true
						processed[item]++
						delete(pendingAdd, item)
						mu.Unlock()
						for range 3 { // "process": widen the window for overlaps
							runtime.Gosched()
						}
						mu.Lock()
						inFlight[item] = false
						mu.Unlock()
						q.Done(item)
					}
				})
			}
			var producers sync.WaitGroup
			for p := range tc.producers {
				producers.Go(func() {
					for round := range tc.addsPerItem {
						for i := range tc.items {
							item := (i*7 + p + round) % tc.items
							mu.Lock()
							pendingAdd[item] = true
							mu.Unlock()
							q.Add(item)
						}
					}
				})
			}
			producers.Wait()
			q.ShutDownWithDrain()
			consumers.Wait()

			if n := overlaps.Load(); n != 0 {
				t.Errorf("%d times an item was processed by two workers at once", n)
			}
			if len(processed) != tc.items {
				t.Errorf("processed %d distinct items, want %d", len(processed), tc.items)
			}
			total := 0
			for _, n := range processed {
				total += n
			}
			if maxAdds := tc.items * tc.producers * tc.addsPerItem; total > maxAdds {
				t.Errorf("processed %d times, more than the %d adds", total, maxAdds)
			}
			if len(pendingAdd) != 0 {
				t.Errorf("%d items were added and never processed afterwards", len(pendingAdd))
			}
			if q.Len() != 0 {
				t.Errorf("Len() = %d after drain, want 0", q.Len())
			}
		})
	}
}
