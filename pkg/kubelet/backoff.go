package kubelet

import (
	"sync"
	"time"
)

// backoff is Kubernetes' per-container restart back-off (client-go's
// flowcontrol.Backoff as the kubelet uses it). After a container exits at
// time t, restart is held until t + the entry's delay; the first exit of a
// container sets the delay to initial but restarts at once, every later
// one doubles it up to max. An exit more than reset after the previous one
// (the container ran that long) starts over.
type backoff struct {
	initial, max, reset time.Duration
	now                 func() time.Time

	mu      sync.Mutex
	entries map[string]*backoffEntry
}

type backoffEntry struct {
	delay      time.Duration
	lastUpdate time.Time // finish time of the exit that set delay
}

func newBackoff(initial, max, reset time.Duration) *backoff {
	return &backoff{initial: initial, max: max, reset: reset, now: time.Now, entries: map[string]*backoffEntry{}}
}

// wait returns how much longer a container that exited at finished must
// wait before its next start, and the current delay; 0 means it may start
// now, in which case the start is recorded (Next).
func (b *backoff) wait(key string, finished time.Time) (remaining, delay time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if ok && finished.Sub(e.lastUpdate) <= b.reset {
		if left := e.delay - b.now().Sub(finished); left > 0 {
			return left, e.delay
		}
	}
	// Not in back-off: the restart happens now; the next exit waits longer.
	switch {
	case !ok || finished.Sub(e.lastUpdate) > b.reset:
		b.entries[key] = &backoffEntry{delay: b.initial, lastUpdate: finished}
	case !finished.Equal(e.lastUpdate):
		e.delay = min(e.delay*2, b.max)
		e.lastUpdate = finished
	}
	return 0, b.entries[key].delay
}

// peek returns the remaining wait and the delay without recording a start.
func (b *backoff) peek(key string, finished time.Time) (remaining, delay time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok || finished.Sub(e.lastUpdate) > b.reset {
		return 0, 0
	}
	return max(0, e.delay-b.now().Sub(finished)), e.delay
}

// forget drops every entry whose key starts with prefix.
func (b *backoff) forget(prefix string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.entries {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			delete(b.entries, k)
		}
	}
}

// gc drops entries untouched for longer than reset.
func (b *backoff) gc() {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	for k, e := range b.entries {
		if now.Sub(e.lastUpdate) > b.reset+b.max {
			delete(b.entries, k)
		}
	}
}
