package scheduler

import (
	"container/heap"
	"sync"
	"time"

	"github.com/coxswain/coxswain/pkg/scheduler/framework"
)

// Queue names (the scheduler_pending_pods "queue" label).
const (
	queueActive        = "active"
	queueBackoff       = "backoff"
	queueUnschedulable = "unschedulable"
)

type moveRequest struct {
	cycle int64
	match func(*framework.PodInfo) bool // nil: every pod
}

// queuedPod is a pending pod in the scheduling queue.
type queuedPod struct {
	info *framework.PodInfo
	// attempts counts scheduling attempts; initialAttempt is when the pod was first seen pending (for
	// the SLI), timestamp when it last entered the queue (activeQ FIFO order among equal priorities).
	attempts       int
	initialAttempt time.Time
	timestamp      time.Time
	// backoffUntil is when a failed pod may be retried; unschedulableSince when it was parked.
	backoffUntil       time.Time
	unschedulableSince time.Time

	where     string // "active", "backoff", "unschedulable", or "" while being scheduled
	heapIndex int
	deleted   bool // removed while being scheduled: do not requeue
}

// schedulingQueue holds pending pods: activeQ (ordered by priority, then time queued), backoffQ (failed
// pods waiting out their exponential backoff) and unschedulableQ (pods no node fits, parked until a
// cluster change may help, or maxUnschedulable passes). It mirrors kube-scheduler's PriorityQueue,
// including the move-request cycle that keeps a pod from being parked after a change it did not see.
type schedulingQueue struct {
	mu   sync.Mutex
	cond *sync.Cond

	active        podHeap
	backoff       podHeap
	unschedulable map[string]*queuedPod
	pods          map[string]*queuedPod // every pending pod known, including those being scheduled

	schedulingCycle int64
	// moveRequests are the MoveAll calls of recent scheduling cycles: a pod found unschedulable is not
	// parked if one of them, made during its attempt, would have moved it.
	moveRequests []moveRequest
	closed       bool

	now                        func() time.Time
	initialBackoff, maxBackoff time.Duration
	maxUnschedulable           time.Duration
	onChange                   func(active, backoff, unschedulable int)
}

func newSchedulingQueue(now func() time.Time, initialBackoff, maxBackoff, maxUnschedulable time.Duration, onChange func(a, b, u int)) *schedulingQueue {
	q := &schedulingQueue{
		active: podHeap{less: func(a, b *queuedPod) bool {
			if a.info.Priority != b.info.Priority {
				return a.info.Priority > b.info.Priority
			}
			return a.timestamp.Before(b.timestamp)
		}},
		backoff:       podHeap{less: func(a, b *queuedPod) bool { return a.backoffUntil.Before(b.backoffUntil) }},
		unschedulable: map[string]*queuedPod{},
		pods:          map[string]*queuedPod{},
		now:           now, initialBackoff: initialBackoff, maxBackoff: maxBackoff, maxUnschedulable: maxUnschedulable,
		onChange: onChange,
	}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func (q *schedulingQueue) changed() {
	if q.onChange != nil {
		q.onChange(q.active.Len(), q.backoff.Len(), len(q.unschedulable))
	}
}

// Add queues a new pending pod, or refreshes a known one (see Update).
func (q *schedulingQueue) Add(pi *framework.PodInfo) { q.Update(pi, false) }

// Update refreshes a pending pod's info. When specChanged and the pod is parked as unschedulable, it
// is moved back to be retried (the change may make it fit).
func (q *schedulingQueue) Update(pi *framework.PodInfo, specChanged bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	now := q.now()
	qp, ok := q.pods[pi.Key]
	if ok && qp.info.UID != pi.UID { // a new pod with the same name
		q.deleteLocked(qp)
		ok = false
	}
	if !ok {
		qp = &queuedPod{info: pi, initialAttempt: now, timestamp: now}
		q.pods[pi.Key] = qp
		q.pushActive(qp)
		q.changed()
		return
	}
	qp.info = pi
	switch qp.where {
	case queueActive:
		heap.Fix(&q.active, qp.heapIndex)
	case queueBackoff:
		heap.Fix(&q.backoff, qp.heapIndex)
	case queueUnschedulable:
		if specChanged {
			delete(q.unschedulable, pi.Key)
			q.requeueLocked(qp, now)
			q.changed()
		}
	case "": // being scheduled: if it turns out unschedulable, the change may still help
		if specChanged {
			key := pi.Key
			q.moveRequests = append(q.moveRequests, moveRequest{cycle: q.schedulingCycle,
				match: func(p *framework.PodInfo) bool { return p.Key == key }})
		}
	}
}

// Delete forgets a pod (deleted, bound, or no longer ours).
func (q *schedulingQueue) Delete(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if qp, ok := q.pods[key]; ok {
		q.deleteLocked(qp)
		q.changed()
	}
}

func (q *schedulingQueue) deleteLocked(qp *queuedPod) {
	switch qp.where {
	case queueActive:
		heap.Remove(&q.active, qp.heapIndex)
	case queueBackoff:
		heap.Remove(&q.backoff, qp.heapIndex)
	case queueUnschedulable:
		delete(q.unschedulable, qp.info.Key)
	default:
		qp.deleted = true // being scheduled
	}
	qp.where = ""
	delete(q.pods, qp.info.Key)
}

// attempt is one pod handed out for scheduling: a copy of what the scheduler may read without the
// queue's lock.
type attempt struct {
	qp             *queuedPod
	info           *framework.PodInfo
	attempts       int
	initialAttempt time.Time
	cycle          int64 // the scheduling cycle the attempt belongs to
}

// Pop blocks until a pod is active (or the queue is closed: ok false) and hands it out for one
// scheduling attempt.
func (q *schedulingQueue) Pop() (*attempt, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.active.Len() == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return nil, false
	}
	qp := heap.Pop(&q.active).(*queuedPod)
	qp.where = ""
	qp.attempts++
	// Requests older than the previous cycle concern no attempt still running (one scheduling loop).
	n := 0
	for _, r := range q.moveRequests {
		if r.cycle >= q.schedulingCycle {
			q.moveRequests[n] = r
			n++
		}
	}
	clear(q.moveRequests[n:])
	q.moveRequests = q.moveRequests[:n]
	q.schedulingCycle++
	q.changed()
	return &attempt{qp: qp, info: qp.info, attempts: qp.attempts, initialAttempt: qp.initialAttempt, cycle: q.schedulingCycle}, true
}

// Done ends an attempt that succeeded: the pod is no longer pending.
func (q *schedulingQueue) Done(a *attempt) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if cur, ok := q.pods[a.info.Key]; ok && cur == a.qp {
		delete(q.pods, a.info.Key)
	}
}

// Requeue returns a pod whose attempt failed. Unschedulable pods are parked unless a cluster change
// was reported during their attempt; pods that erred, or saw such a change, wait out their backoff.
// info, when not nil, is the pod's latest state.
func (q *schedulingQueue) Requeue(a *attempt, info *framework.PodInfo, unschedulable bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	qp, cycle := a.qp, a.cycle
	if qp.deleted || q.closed || q.pods[a.info.Key] != qp {
		return
	}
	if info != nil && info.UID == qp.info.UID {
		qp.info = info
	}
	now := q.now()
	qp.backoffUntil = now.Add(q.backoffDuration(qp.attempts))
	if unschedulable && !q.movedDuring(cycle, qp.info) {
		qp.where, qp.unschedulableSince = queueUnschedulable, now
		q.unschedulable[qp.info.Key] = qp
	} else {
		q.requeueLocked(qp, now)
	}
	q.changed()
}

// movedDuring reports whether a MoveAll that would have moved pi happened during cycle or later.
func (q *schedulingQueue) movedDuring(cycle int64, pi *framework.PodInfo) bool {
	for _, r := range q.moveRequests {
		if r.cycle >= cycle && (r.match == nil || r.match(pi)) {
			return true
		}
	}
	return false
}

// requeueLocked puts a pod in backoffQ while its backoff lasts, else in activeQ.
func (q *schedulingQueue) requeueLocked(qp *queuedPod, now time.Time) {
	if now.Before(qp.backoffUntil) {
		qp.where = queueBackoff
		heap.Push(&q.backoff, qp)
		return
	}
	qp.timestamp = now
	q.pushActive(qp)
}

func (q *schedulingQueue) pushActive(qp *queuedPod) {
	qp.where = queueActive
	heap.Push(&q.active, qp)
	q.cond.Signal()
}

// backoffDuration is initialBackoff doubled per attempt after the first, capped at maxBackoff.
func (q *schedulingQueue) backoffDuration(attempts int) time.Duration {
	d := q.initialBackoff
	for i := 1; i < attempts; i++ {
		d *= 2
		if d >= q.maxBackoff {
			return q.maxBackoff
		}
	}
	return min(d, q.maxBackoff)
}

// MoveAll moves the parked unschedulable pods for which match is true (all when nil) back to
// backoffQ or activeQ: a cluster change may let them fit. It also records the request so that a
// matching pod being scheduled right now is not parked afterwards.
func (q *schedulingQueue) MoveAll(match func(*framework.PodInfo) bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.moveRequests = append(q.moveRequests, moveRequest{cycle: q.schedulingCycle, match: match})
	now := q.now()
	moved := false
	for key, qp := range q.unschedulable {
		if match != nil && !match(qp.info) {
			continue
		}
		delete(q.unschedulable, key)
		q.requeueLocked(qp, now)
		moved = true
	}
	if moved {
		q.changed()
	}
}

// Flush moves pods whose backoff ended to activeQ and pods parked longer than maxUnschedulable back.
func (q *schedulingQueue) Flush() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	moved := false
	for q.backoff.Len() > 0 && !now.Before(q.backoff.items[0].backoffUntil) {
		qp := heap.Pop(&q.backoff).(*queuedPod)
		qp.timestamp = now
		q.pushActive(qp)
		moved = true
	}
	for key, qp := range q.unschedulable {
		if now.Sub(qp.unschedulableSince) >= q.maxUnschedulable {
			delete(q.unschedulable, key)
			q.requeueLocked(qp, now)
			moved = true
		}
	}
	if moved {
		q.changed()
	}
}

// Close wakes Pop callers; the queue hands out nothing more.
func (q *schedulingQueue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}

// Lens reports the sizes of activeQ, backoffQ and unschedulableQ.
func (q *schedulingQueue) Lens() (active, backoff, unschedulable int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.active.Len(), q.backoff.Len(), len(q.unschedulable)
}

// where reports which queue holds key ("" when being scheduled or unknown) and whether it is known.
func (q *schedulingQueue) where(key string) (string, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	qp, ok := q.pods[key]
	if !ok {
		return "", false
	}
	return qp.where, true
}

// podHeap is a binary heap of queued pods ordered by less.
type podHeap struct {
	items []*queuedPod
	less  func(a, b *queuedPod) bool
}

func (h *podHeap) Len() int           { return len(h.items) }
func (h *podHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *podHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].heapIndex, h.items[j].heapIndex = i, j
}
func (h *podHeap) Push(x any) {
	qp := x.(*queuedPod)
	qp.heapIndex = len(h.items)
	h.items = append(h.items, qp)
}
func (h *podHeap) Pop() any {
	last := len(h.items) - 1
	qp := h.items[last]
	h.items[last] = nil
	h.items = h.items[:last]
	qp.heapIndex = -1
	return qp
}
