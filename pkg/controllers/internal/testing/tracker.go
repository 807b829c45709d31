package testing

import (
	"context"
	"errors"
	"sync"
	gotesting "testing"

	"github.com/coxswain/coxswain/pkg/client"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// PodTracker follows the pods of a namespace and label selector through a watch of its own (it never lags
// behind a controller's cache in a way the test cannot see) and checks every state it observes: each watch
// event is one state of the store, in order.
type PodTracker struct {
	mu     sync.Mutex
	pods   map[string]*corev1.Pod // name → pod
	added  int
	marked map[string]bool // uids seen with a deletionTimestamp
	check  func(pods map[string]*corev1.Pod) error
	errs   []error
}

// TrackPods lists and then watches the pods of namespace matching selector until the test ends. check (may be
// nil) runs on every observed state, with the tracker's lock held; its errors fail the test at cleanup and
// are returned by Err.
func TrackPods(t gotesting.TB, c *client.Client, namespace, selector string, check func(pods map[string]*corev1.Pod) error) *PodTracker {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pt := &PodTracker{pods: map[string]*corev1.Pod{}, marked: map[string]bool{}, check: check}
	opts := &metav1.ListOptions{Namespace: namespace, LabelSelector: selector}
	items, lm, err := c.Pods().List(ctx, opts)
	if err != nil {
		cancel()
		t.Fatalf("track pods: list: %v", err)
	}
	for _, p := range items {
		pt.pods[p.GetMetadata().GetName()] = p
	}
	pt.runCheck()
	wopts := &metav1.ListOptions{Namespace: namespace, LabelSelector: selector, ResourceVersion: lm.GetResourceVersion()}
	w, err := c.Pods().Watch(ctx, wopts)
	if err != nil {
		cancel()
		t.Fatalf("track pods: watch: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			ev, err := w.Next()
			if err != nil {
				if ctx.Err() == nil {
					pt.fail(errors.New("track pods: watch ended: " + err.Error()))
				}
				return
			}
			pt.apply(ev)
		}
	}()
	t.Cleanup(func() {
		cancel()
		w.Stop()
		<-done
		if err := pt.Err(); err != nil {
			t.Errorf("pod tracker: %v", err)
		}
	})
	return pt
}

func (pt *PodTracker) apply(ev client.Event[*corev1.Pod]) {
	if ev.Type == client.Bookmark {
		return
	}
	pt.mu.Lock()
	name := ev.Object.GetMetadata().GetName()
	switch ev.Type {
	case client.Added:
		pt.added++
		pt.pods[name] = ev.Object
	case client.Modified:
		pt.pods[name] = ev.Object
	case client.Deleted:
		delete(pt.pods, name)
	}
	if ev.Type != client.Deleted && ev.Object.GetMetadata().GetDeletionTimestamp() != nil {
		pt.marked[ev.Object.GetMetadata().GetUid()] = true
	}
	pt.runCheck()
	pt.mu.Unlock()
}

func (pt *PodTracker) runCheck() {
	if pt.check == nil {
		return
	}
	if err := pt.check(pt.pods); err != nil && len(pt.errs) < 20 {
		pt.errs = append(pt.errs, err)
	}
}

func (pt *PodTracker) fail(err error) {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	pt.errs = append(pt.errs, err)
}

// Err returns the check failures so far, joined.
func (pt *PodTracker) Err() error {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	return errors.Join(pt.errs...)
}

// Pods returns the current pods (shared: do not mutate).
func (pt *PodTracker) Pods() []*corev1.Pod {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(pt.pods))
	for _, p := range pt.pods {
		out = append(out, p)
	}
	return out
}

// Added is the number of ADDED events since the watch started (pods created, or relabeled into the selector).
func (pt *PodTracker) Added() int {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	return pt.added
}

// Marked is the number of distinct pods seen marked for deletion.
func (pt *PodTracker) Marked() int {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	return len(pt.marked)
}

// IsAvailable reports a pod that serves: Ready and not being deleted.
func IsAvailable(p *corev1.Pod) bool {
	if p.GetMetadata().GetDeletionTimestamp() != nil {
		return false
	}
	return isReady(p)
}
