package bench

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/coxswain/coxswain/pkg/client"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// LabelIndex is the label carrying a benchmark pod's (or its Deployment's) sequence number.
const LabelIndex = "coxbench-idx"

// PodRecord is when the tracker first observed a pod in each state (zero: not yet).
type PodRecord struct {
	UID, Name string
	// Index is the LabelIndex value (-1 without one).
	Index                            int
	Created, Bound, Running, Deleted time.Time
	// Bytes is the protobuf-encoded size of the last version seen (what etcd stores).
	Bytes int
}

// Counts are how many tracked pods were ever seen created, bound, running and deleted.
type Counts struct {
	Created, Bound, Running, Deleted int
}

// Point is one sample of the counts over time, T seconds after the workload started.
type Point struct {
	T       float64 `json:"t"`
	Created int     `json:"created"`
	Bound   int     `json:"bound"`
	Running int     `json:"running"`
	Deleted int     `json:"deleted"`
}

// PodTracker watches the pods of a namespace matching a selector and timestamps, at observation,
// their creation, binding (spec.nodeName set), phase Running and deletion.
type PodTracker struct {
	c             *client.Client
	ns, selector  string
	log           *slog.Logger
	now           func() time.Time
	mu            sync.Mutex
	pods          map[string]*PodRecord
	counts        Counts
	synced        bool
	watchRestarts int
}

// NewPodTracker returns a tracker; Run starts it.
func NewPodTracker(c *client.Client, namespace, selector string, log *slog.Logger) *PodTracker {
	return &PodTracker{c: c, ns: namespace, selector: selector, log: log, now: time.Now, pods: map[string]*PodRecord{}}
}

// Run lists then watches until ctx ends, relisting whenever the watch fails.
func (t *PodTracker) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		rv, err := t.list(ctx)
		if err == nil {
			err = t.watch(ctx, rv)
		}
		if ctx.Err() != nil {
			break
		}
		t.mu.Lock()
		t.watchRestarts++
		t.mu.Unlock()
		t.log.Warn("pod watch failed; relisting", "namespace", t.ns, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return ctx.Err()
}

func (t *PodTracker) list(ctx context.Context) (string, error) {
	lctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	pods, lm, err := t.c.Pods().List(lctx, &metav1.ListOptions{Namespace: t.ns, LabelSelector: t.selector})
	if err != nil {
		return "", err
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	seen := make(map[string]bool, len(pods))
	for _, p := range pods {
		seen[p.GetMetadata().GetUid()] = true
		t.observeLocked(p, now, false)
	}
	for uid, r := range t.pods {
		if !seen[uid] && r.Deleted.IsZero() {
			r.Deleted = now
			t.counts.Deleted++
		}
	}
	t.synced = true
	return lm.GetResourceVersion(), nil
}

func (t *PodTracker) watch(ctx context.Context, rv string) error {
	w, err := t.c.Pods().Watch(ctx, &metav1.ListOptions{Namespace: t.ns, LabelSelector: t.selector, ResourceVersion: rv, AllowWatchBookmarks: true})
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		ev, err := w.Next()
		if err != nil {
			return err // Expired, closed by the server, or broken: Run relists
		}
		if ev.Type == client.Bookmark {
			continue
		}
		now := t.now()
		t.mu.Lock()
		t.observeLocked(ev.Object, now, ev.Type == client.Deleted)
		t.mu.Unlock()
	}
}

func (t *PodTracker) observeLocked(p *corev1.Pod, now time.Time, deleted bool) {
	uid := p.GetMetadata().GetUid()
	r := t.pods[uid]
	if r == nil {
		idx := -1
		if v, ok := p.GetMetadata().GetLabels()[LabelIndex]; ok {
			if n, err := strconv.Atoi(v); err == nil {
				idx = n
			}
		}
		r = &PodRecord{UID: uid, Name: p.GetMetadata().GetName(), Index: idx, Created: now}
		t.pods[uid] = r
		t.counts.Created++
	}
	running := p.GetStatus().GetPhase() == "Running"
	if r.Bound.IsZero() && (p.GetSpec().GetNodeName() != "" || running) {
		r.Bound = now
		t.counts.Bound++
	}
	if r.Running.IsZero() && running {
		r.Running = now
		t.counts.Running++
	}
	if deleted && r.Deleted.IsZero() {
		r.Deleted = now
		t.counts.Deleted++
	}
	r.Bytes = proto.Size(p)
}

// Counts returns the current counts.
func (t *PodTracker) Counts() Counts {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.counts
}

// WatchRestarts counts the relists after a failed watch.
func (t *PodTracker) WatchRestarts() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.watchRestarts
}

// Wait polls until the tracker listed once and cond holds for the counts, or ctx ends.
func (t *PodTracker) Wait(ctx context.Context, cond func(Counts) bool) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		t.mu.Lock()
		ok := t.synced && cond(t.counts)
		t.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Records returns a copy of every pod's record, sorted by creation.
func (t *PodTracker) Records() []PodRecord {
	t.mu.Lock()
	out := make([]PodRecord, 0, len(t.pods))
	for _, r := range t.pods {
		out = append(out, *r)
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b PodRecord) int { return a.Created.Compare(b.Created) })
	return out
}

// AvgPodBytes is the mean encoded size of the last version of every tracked pod (0 without pods).
func (t *PodTracker) AvgPodBytes() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.pods) == 0 {
		return 0
	}
	sum := 0
	for _, r := range t.pods {
		sum += r.Bytes
	}
	return sum / len(t.pods)
}

// Series samples the counts every interval from start until ctx ends, and returns the samples (a
// last one is taken when ctx ends).
func (t *PodTracker) Series(ctx context.Context, start time.Time, interval time.Duration) []Point {
	var out []Point
	take := func() {
		c := t.Counts()
		out = append(out, Point{T: time.Since(start).Seconds(), Created: c.Created, Bound: c.Bound, Running: c.Running, Deleted: c.Deleted})
	}
	take()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			take()
			return out
		case <-tick.C:
			take()
		}
	}
}

// seriesRecorder runs Series in the background; stop returns the points.
type seriesRecorder struct {
	cancel context.CancelFunc
	done   chan []Point
}

func recordSeries(ctx context.Context, t *PodTracker, start time.Time, interval time.Duration) *seriesRecorder {
	ctx, cancel := context.WithCancel(ctx)
	r := &seriesRecorder{cancel: cancel, done: make(chan []Point, 1)}
	go func() { r.done <- t.Series(ctx, start, interval) }()
	go func() { // progress of long workloads
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				c := t.Counts()
				t.log.Info("pods", "namespace", t.ns, "created", c.Created, "bound", c.Bound, "running", c.Running, "deleted", c.Deleted,
					"elapsed", time.Since(start).Round(time.Second))
			}
		}
	}()
	return r
}

func (r *seriesRecorder) stop() []Point {
	r.cancel()
	return <-r.done
}
