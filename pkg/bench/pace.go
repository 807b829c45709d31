package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
)

// pace calls fn(ctx, i) for every i in [0, n): call i starts no earlier than start + i/rate (rate <= 0:
// as fast as possible) with at most workers calls in flight; when calls are slower than the rate, the
// next ones start at once to catch up. The first error cancels the remaining calls and is returned.
func pace(ctx context.Context, n int, rate float64, workers int, fn func(ctx context.Context, i int) error) error {
	if workers <= 0 {
		workers = 1
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range min(workers, max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if rate > 0 {
					due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
					if d := time.Until(due); d > 0 {
						select {
						case <-ctx.Done():
							return
						case <-time.After(d):
						}
					}
				}
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		// The parent context ended.
		return context.Cause(ctx)
	}
	return first
}

// transient reports errors worth retrying: the apiserver unavailable, overloaded or timing out.
func transient(err error) bool {
	switch apierrors.ReasonOf(err) {
	case apierrors.ReasonInternal, apierrors.ReasonTimeout, apierrors.ReasonServiceUnavailable, "":
		return err != nil
	}
	return false
}

// retry calls fn until it succeeds, fails with a non-transient error, or 5 attempts failed.
func retry(ctx context.Context, fn func() error) error {
	var err error
	backoff := 50 * time.Millisecond
	for range 5 {
		if err = fn(); err == nil || !transient(err) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff):
		}
		backoff *= 2
	}
	return err
}
