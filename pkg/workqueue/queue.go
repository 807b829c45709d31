package workqueue

import (
	"container/heap"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Interface is a de-duplicating FIFO work queue.
type Interface[T comparable] interface {
	// Add queues item unless it is already queued. An item added while it
	// is being processed is queued again once Done is called for it.
	Add(item T)
	// Len returns the number of items waiting to be handed out.
	Len() int
	// Get blocks until an item is available and returns it; shutdown is
	// true once the queue is shutting down and empty.
	Get() (item T, shutdown bool)
	// Done marks item as processed.
	Done(item T)
	// ShutDown makes the queue ignore new items and wakes all Get callers
	// once the queue is empty.
	ShutDown()
	// ShutDownWithDrain is ShutDown, then waits until every queued item has
	// been handed out and marked Done.
	ShutDownWithDrain()
	// ShuttingDown reports whether ShutDown or ShutDownWithDrain was called.
	ShuttingDown() bool
}

// DelayingInterface is an [Interface] that can add items later.
type DelayingInterface[T comparable] interface {
	Interface[T]
	// AddAfter adds item once d has elapsed (immediately if d <= 0).
	AddAfter(item T, d time.Duration)
}

// RateLimitingInterface is a [DelayingInterface] that delays re-adds with
// a [RateLimiter].
type RateLimitingInterface[T comparable] interface {
	DelayingInterface[T]
	// AddRateLimited adds item after the delay the rate limiter chooses.
	AddRateLimited(item T)
	// Forget tells the rate limiter item succeeded, resetting its backoff.
	Forget(item T)
	// NumRequeues returns how often item has been rate-limited since it
	// was last forgotten.
	NumRequeues(item T) int
}

var _ RateLimitingInterface[string] = (*Queue[string])(nil)

// Config configures a [Queue].
type Config[T comparable] struct {
	// Name identifies the queue in metrics (the "name" label). Required
	// when Registerer is set.
	Name string
	// Registerer receives the workqueue metrics. Several queues may share
	// one Registerer. Nil disables metrics.
	Registerer prometheus.Registerer
	// RateLimiter is used by AddRateLimited, Forget and NumRequeues. Nil
	// means [DefaultControllerRateLimiter].
	RateLimiter RateLimiter[T]
	// Clock is the source of time. Nil means [RealClock].
	Clock Clock
}

// Queue is a rate-limited, delaying, de-duplicating work queue. It
// implements [RateLimitingInterface]. Create it with [New]; it runs
// background goroutines until ShutDown or ShutDownWithDrain is called.
type Queue[T comparable] struct {
	clock   Clock
	limiter RateLimiter[T]
	metrics *queueMetrics[T] // nil when metrics are disabled

	mu sync.Mutex
	// itemCond wakes Get callers; drainCond wakes ShutDownWithDrain.
	itemCond  *sync.Cond
	drainCond *sync.Cond

	queue        fifo[T]        // items ready to be handed out
	dirty        map[T]struct{} // items that need processing (queued or re-added while processing)
	processing   map[T]struct{} // items handed out and not yet Done
	shuttingDown bool
	drain        bool

	waiting    waitHeap[T]         // delayed items by ready time
	waitingFor map[T]*waitEntry[T] // item -> its entry in waiting
	waitSeq    uint64              // tie-breaker keeping equal ready times FIFO
	wake       chan struct{}       // a new earliest delayed item (capacity 1)
	stop       chan struct{}       // closed on shutdown
	stopOnce   sync.Once
	background sync.WaitGroup
}

// New returns a running queue configured by cfg.
func New[T comparable](cfg Config[T]) (*Queue[T], error) {
	q := &Queue[T]{
		clock:      cfg.Clock,
		limiter:    cfg.RateLimiter,
		dirty:      map[T]struct{}{},
		processing: map[T]struct{}{},
		waitingFor: map[T]*waitEntry[T]{},
		wake:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
	}
	if q.clock == nil {
		q.clock = RealClock{}
	}
	if q.limiter == nil {
		q.limiter = DefaultControllerRateLimiter[T]()
	}
	q.itemCond = sync.NewCond(&q.mu)
	q.drainCond = sync.NewCond(&q.mu)
	if cfg.Registerer != nil {
		if cfg.Name == "" {
			return nil, errors.New("workqueue: Config.Name: required when Config.Registerer is set")
		}
		vecs, err := registerMetricVecs(cfg.Registerer)
		if err != nil {
			return nil, err
		}
		q.metrics = newQueueMetrics[T](vecs, cfg.Name, q.clock)
		// The first deadline is fixed here, not in the goroutine, so a
		// fake clock stepped right after New cannot skip the first update.
		first := q.clock.Now().Add(unfinishedWorkUpdatePeriod)
		q.background.Add(1)
		go q.metricsLoop(first)
	}
	q.background.Add(1)
	go q.waitingLoop()
	return q, nil
}

// Add queues item unless it is already queued or the queue is shutting
// down. An item that is being processed is queued again when it is Done.
func (q *Queue[T]) Add(item T) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(item)
}

func (q *Queue[T]) addLocked(item T) {
	if q.shuttingDown {
		return
	}
	if _, ok := q.dirty[item]; ok {
		return
	}
	q.metrics.add(item)
	q.dirty[item] = struct{}{}
	if _, ok := q.processing[item]; ok {
		return
	}
	q.queue.push(item)
	q.itemCond.Signal()
}

// Len returns the number of items ready to be handed out by Get.
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.queue.len()
}

// Get blocks until an item is ready and returns it, marking it as being
// processed; the caller must call Done with it. Items still queued at
// shutdown are handed out; shutdown is true once the queue is shutting
// down and empty.
func (q *Queue[T]) Get() (item T, shutdown bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.queue.len() == 0 && !q.shuttingDown {
		q.itemCond.Wait()
	}
	if q.queue.len() == 0 {
		return item, true
	}
	item = q.queue.pop()
	q.metrics.get(item)
	q.processing[item] = struct{}{}
	delete(q.dirty, item)
	return item, false
}

// Done marks item as processed. If it was added again meanwhile, it is
// queued again. Done for an item that is not being processed does nothing.
func (q *Queue[T]) Done(item T) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.processing[item]; !ok {
		return
	}
	q.metrics.done(item)
	delete(q.processing, item)
	if _, ok := q.dirty[item]; ok {
		q.queue.push(item)
		q.itemCond.Signal()
	}
	if q.drain && q.queue.len() == 0 && len(q.processing) == 0 {
		q.drainCond.Broadcast()
	}
}

// ShutDown makes the queue ignore new items, discards delayed items and
// makes Get return shutdown=true once the queue is empty. It does not wait
// for workers; it releases a concurrent ShutDownWithDrain.
func (q *Queue[T]) ShutDown() {
	q.mu.Lock()
	q.shuttingDown = true
	q.drain = false
	q.itemCond.Broadcast()
	q.drainCond.Broadcast()
	q.mu.Unlock()
	q.stopBackground()
}

// ShutDownWithDrain is ShutDown, but first waits until every item already
// queued has been handed out by Get and marked Done (including items that
// were re-added while processing). Workers must keep calling Get and Done,
// or it blocks forever. A concurrent ShutDown stops the wait.
func (q *Queue[T]) ShutDownWithDrain() {
	q.mu.Lock()
	q.shuttingDown = true
	q.drain = true
	q.itemCond.Broadcast()
	for q.drain && (q.queue.len() > 0 || len(q.processing) > 0) {
		q.drainCond.Wait()
	}
	q.drain = false
	q.itemCond.Broadcast()
	q.mu.Unlock()
	q.stopBackground()
}

// ShuttingDown reports whether ShutDown or ShutDownWithDrain was called.
func (q *Queue[T]) ShuttingDown() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.shuttingDown
}

func (q *Queue[T]) stopBackground() {
	q.stopOnce.Do(func() { close(q.stop) })
	q.background.Wait()
}

// AddAfter adds item once d has elapsed, or immediately if d <= 0. If item
// is already waiting, the earlier ready time wins. Each call counts as a
// retry in the workqueue_retries_total metric, as in client-go.
func (q *Queue[T]) AddAfter(item T, d time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shuttingDown {
		return
	}
	q.metrics.retry()
	if d <= 0 {
		q.addLocked(item)
		return
	}
	readyAt := q.clock.Now().Add(d)
	if e, ok := q.waitingFor[item]; ok {
		if !readyAt.Before(e.readyAt) {
			return
		}
		e.readyAt = readyAt
		heap.Fix(&q.waiting, e.index)
	} else {
		q.waitSeq++
		e = &waitEntry[T]{item: item, readyAt: readyAt, seq: q.waitSeq}
		heap.Push(&q.waiting, e)
		q.waitingFor[item] = e
	}
	if q.waiting[0].item == item {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

// AddRateLimited adds item after the delay chosen by the rate limiter.
func (q *Queue[T]) AddRateLimited(item T) {
	q.AddAfter(item, q.limiter.When(item))
}

// Forget resets item's rate-limiting history.
func (q *Queue[T]) Forget(item T) {
	q.limiter.Forget(item)
}

// NumRequeues returns how often item was rate-limited since it was last
// forgotten.
func (q *Queue[T]) NumRequeues(item T) int {
	return q.limiter.NumRequeues(item)
}

// waitingLoop moves delayed items into the queue when they are ready.
func (q *Queue[T]) waitingLoop() {
	defer q.background.Done()
	for {
		q.mu.Lock()
		now := q.clock.Now()
		for len(q.waiting) > 0 && !q.waiting[0].readyAt.After(now) {
			e := heap.Pop(&q.waiting).(*waitEntry[T])
			delete(q.waitingFor, e.item)
			q.addLocked(e.item)
		}
		var timer Timer
		var fire <-chan time.Time
		if len(q.waiting) > 0 {
			timer = q.clock.NewTimerAt(q.waiting[0].readyAt)
			fire = timer.C()
		}
		q.mu.Unlock()

		select {
		case <-q.stop:
			if timer != nil {
				timer.Stop()
			}
			return
		case <-fire:
		case <-q.wake:
			if timer != nil {
				timer.Stop()
			}
		}
	}
}

// metricsLoop refreshes the unfinished-work gauges periodically.
func (q *Queue[T]) metricsLoop(next time.Time) {
	defer q.background.Done()
	for {
		timer := q.clock.NewTimerAt(next)
		select {
		case <-q.stop:
			timer.Stop()
			return
		case <-timer.C():
		}
		q.mu.Lock()
		now := q.clock.Now()
		q.metrics.updateUnfinishedWork(now)
		q.mu.Unlock()
		for !next.After(now) {
			next = next.Add(unfinishedWorkUpdatePeriod)
		}
	}
}

// waitEntry is a delayed item.
type waitEntry[T comparable] struct {
	item    T
	readyAt time.Time
	seq     uint64
	index   int
}

// waitHeap orders delayed items by ready time, then insertion order.
type waitHeap[T comparable] []*waitEntry[T]

func (h waitHeap[T]) Len() int { return len(h) }

func (h waitHeap[T]) Less(i, j int) bool {
	if h[i].readyAt.Equal(h[j].readyAt) {
		return h[i].seq < h[j].seq
	}
	return h[i].readyAt.Before(h[j].readyAt)
}

func (h waitHeap[T]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *waitHeap[T]) Push(x any) {
	e := x.(*waitEntry[T])
	e.index = len(*h)
	*h = append(*h, e)
}

func (h *waitHeap[T]) Pop() any {
	old := *h
	n := len(old)
	e := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return e
}

// fifo is a slice-backed queue that reuses its storage.
type fifo[T any] struct {
	items []T
	head  int // index of the first item
}

func (f *fifo[T]) len() int { return len(f.items) - f.head }

func (f *fifo[T]) push(item T) {
	// Reclaim the consumed prefix instead of growing when it is at least
	// half of the storage.
	if len(f.items) == cap(f.items) && f.head > 0 && f.head >= len(f.items)/2 {
		n := copy(f.items, f.items[f.head:])
		clear(f.items[n:])
		f.items = f.items[:n]
		f.head = 0
	}
	f.items = append(f.items, item)
}

// pop removes and returns the first item; the fifo must not be empty.
func (f *fifo[T]) pop() T {
	item := f.items[f.head]
	var zero T
	f.items[f.head] = zero // let the garbage collector reclaim it
	f.head++
	if f.head == len(f.items) {
		f.items = f.items[:0]
		f.head = 0
	}
	return item
}
