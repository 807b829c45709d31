package workqueue

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimiter decides how long an item must wait before it is re-queued.
type RateLimiter[T comparable] interface {
	// When records a failure for item and returns how long to wait before
	// re-adding it.
	When(item T) time.Duration
	// Forget clears the failure history of item. The item may still be
	// subject to limits that are not per item (a token bucket).
	Forget(item T)
	// NumRequeues returns how many failures are recorded for item.
	NumRequeues(item T) int
}

// Default backoff bounds and bucket parameters of
// [DefaultControllerRateLimiter], identical to client-go's.
const (
	DefaultBaseDelay = 5 * time.Millisecond
	DefaultMaxDelay  = 1000 * time.Second
	DefaultQPS       = 10
	DefaultBurst     = 100
)

// DefaultControllerRateLimiter returns client-go's default controller rate
// limiter: the maximum of a per-item exponential backoff from 5ms to 1000s
// and an overall token bucket of 10 qps with a burst of 100.
func DefaultControllerRateLimiter[T comparable]() RateLimiter[T] {
	return NewControllerRateLimiter[T](DefaultBaseDelay, DefaultMaxDelay, DefaultQPS, DefaultBurst)
}

// NewControllerRateLimiter is [DefaultControllerRateLimiter] with explicit
// parameters: max(exponential base..maxDelay per item, bucket qps/burst).
func NewControllerRateLimiter[T comparable](base, maxDelay time.Duration, qps float64, burst int) RateLimiter[T] {
	return NewMaxOfRateLimiter(
		NewItemExponentialFailureRateLimiter[T](base, maxDelay),
		NewBucketRateLimiter[T](qps, burst),
	)
}

// ItemExponentialFailureRateLimiter delays an item by base*2^failures,
// capped at maxDelay, where failures counts the item's When calls since it
// was last forgotten.
type ItemExponentialFailureRateLimiter[T comparable] struct {
	mu       sync.Mutex
	failures map[T]int
	base     time.Duration
	maxDelay time.Duration
}

var _ RateLimiter[string] = (*ItemExponentialFailureRateLimiter[string])(nil)

// NewItemExponentialFailureRateLimiter returns a per-item exponential
// backoff starting at base and never exceeding maxDelay. A base <= 0 never
// delays.
func NewItemExponentialFailureRateLimiter[T comparable](base, maxDelay time.Duration) *ItemExponentialFailureRateLimiter[T] {
	return &ItemExponentialFailureRateLimiter[T]{failures: map[T]int{}, base: base, maxDelay: maxDelay}
}

// When records a failure and returns base*2^(previous failures), capped at
// the maximum delay.
func (r *ItemExponentialFailureRateLimiter[T]) When(item T) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	exp := r.failures[item]
	r.failures[item] = exp + 1
	if r.base <= 0 {
		return 0
	}
	backoff := float64(r.base.Nanoseconds()) * math.Pow(2, float64(exp))
	if backoff >= math.MaxInt64 || time.Duration(backoff) > r.maxDelay {
		return r.maxDelay
	}
	return time.Duration(backoff)
}

// Forget resets the failure count of item.
func (r *ItemExponentialFailureRateLimiter[T]) Forget(item T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.failures, item)
}

// NumRequeues returns the failure count of item.
func (r *ItemExponentialFailureRateLimiter[T]) NumRequeues(item T) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failures[item]
}

// BucketRateLimiter limits the overall rate of re-queues with a token
// bucket; it does not track individual items.
type BucketRateLimiter[T comparable] struct {
	limiter *rate.Limiter
}

var _ RateLimiter[string] = (*BucketRateLimiter[string])(nil)

// NewBucketRateLimiter returns a token bucket refilled at qps tokens per
// second holding at most burst tokens.
func NewBucketRateLimiter[T comparable](qps float64, burst int) *BucketRateLimiter[T] {
	return &BucketRateLimiter[T]{limiter: rate.NewLimiter(rate.Limit(qps), burst)}
}

// When reserves a token and returns how long until it is available.
func (r *BucketRateLimiter[T]) When(T) time.Duration {
	return r.limiter.Reserve().Delay()
}

// Forget does nothing: the bucket has no per-item state.
func (r *BucketRateLimiter[T]) Forget(T) {}

// NumRequeues always returns 0: the bucket has no per-item state.
func (r *BucketRateLimiter[T]) NumRequeues(T) int { return 0 }

// MaxOfRateLimiter returns the longest delay of its limiters.
type MaxOfRateLimiter[T comparable] struct {
	limiters []RateLimiter[T]
}

var _ RateLimiter[string] = (*MaxOfRateLimiter[string])(nil)

// NewMaxOfRateLimiter combines limiters: When and NumRequeues return the
// maximum over all of them and Forget is forwarded to each.
func NewMaxOfRateLimiter[T comparable](limiters ...RateLimiter[T]) *MaxOfRateLimiter[T] {
	return &MaxOfRateLimiter[T]{limiters: limiters}
}

// When calls When on every limiter (so each records the failure) and
// returns the longest delay.
func (r *MaxOfRateLimiter[T]) When(item T) time.Duration {
	var longest time.Duration
	for _, l := range r.limiters {
		if d := l.When(item); d > longest {
			longest = d
		}
	}
	return longest
}

// Forget forwards to every limiter.
func (r *MaxOfRateLimiter[T]) Forget(item T) {
	for _, l := range r.limiters {
		l.Forget(item)
	}
}

// NumRequeues returns the largest NumRequeues of the limiters.
func (r *MaxOfRateLimiter[T]) NumRequeues(item T) int {
	var most int
	for _, l := range r.limiters {
		if n := l.NumRequeues(item); n > most {
			most = n
		}
	}
	return most
}
