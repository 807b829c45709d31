package internal

import (
	"sync"
	"time"
)

// ExpectationsTimeout is how long unmet expectations hold back a controller before it syncs anyway (a missed
// watch event must not block it forever).
const ExpectationsTimeout = 5 * time.Minute

// Expectations records, per controller key, how many creations and deletions the controller has issued and
// not yet seen in its informer cache, like Kubernetes' UIDTrackingControllerExpectations. A controller only
// acts on its cache when its expectations are satisfied, so a lagging cache never makes it create or delete
// twice. Deletions are tracked per pod key so that the several events of one deletion (marked, then removed)
// lower the count once.
type Expectations struct {
	mu  sync.Mutex
	m   map[string]*expectation
	ttl time.Duration
	now func() time.Time
}

type expectation struct {
	add, del int64
	at       time.Time
	deleting map[string]struct{} // pod keys whose deletion is expected
}

// NewExpectations returns an empty store with the 5 minute timeout.
func NewExpectations() *Expectations {
	return &Expectations{m: map[string]*expectation{}, ttl: ExpectationsTimeout, now: time.Now}
}

// NewExpectationsWithClock is NewExpectations with another timeout and clock (for tests).
func NewExpectationsWithClock(ttl time.Duration, now func() time.Time) *Expectations {
	return &Expectations{m: map[string]*expectation{}, ttl: ttl, now: now}
}

// Satisfied reports whether the controller key may act on its cache: it has no record, every expected
// event was observed, or the record expired.
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.m[key]
	if !ok {
		return true
	}
	if x.add <= 0 && x.del <= 0 {
		return true
	}
	return e.now().Sub(x.at) > e.ttl
}

// ExpectCreations replaces key's record with n expected creations.
func (e *Expectations) ExpectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[key] = &expectation{add: int64(n), at: e.now()}
}

// ExpectDeletions replaces key's record with the deletions of podKeys.
func (e *Expectations) ExpectDeletions(key string, podKeys []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{del: int64(len(podKeys)), at: e.now(), deleting: make(map[string]struct{}, len(podKeys))}
	for _, k := range podKeys {
		x.deleting[k] = struct{}{}
	}
	e.m[key] = x
}

// CreationObserved lowers key's expected creations by one (an informer add, or a creation that failed).
func (e *Expectations) CreationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		x.add--
	}
}

// DeletionObserved lowers key's expected deletions by one if the deletion of podKey was expected and not yet
// observed.
func (e *Expectations) DeletionObserved(key, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.m[key]
	if !ok {
		return
	}
	if _, expected := x.deleting[podKey]; expected {
		delete(x.deleting, podKey)
		x.del--
	}
}

// Delete forgets key (its controller was deleted).
func (e *Expectations) Delete(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}

// Pending returns key's outstanding creations and deletions (for logs and tests).
func (e *Expectations) Pending(key string) (adds, dels int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		return x.add, x.del
	}
	return 0, 0
}
