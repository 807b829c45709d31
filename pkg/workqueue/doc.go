// Package workqueue provides a typed, generic, rate-limited, de-duplicating
// work queue modelled on client-go's workqueue (typed variant). It is the
// queue behind every coxswain controller, the scheduler and the kubelet.
//
// A [Queue] combines three layers, each described by an interface:
//
//   - [Interface]: a FIFO that coalesces duplicates and guarantees an item is
//     never handed to two workers at once. An item added while it is being
//     processed is remembered ("dirty") and re-queued when [Queue.Done] is
//     called for it.
//   - [DelayingInterface]: [Queue.AddAfter] adds an item once a delay has
//     elapsed. Delayed items are ordered by their ready time; adding an item
//     that is already waiting keeps the earlier ready time.
//   - [RateLimitingInterface]: [Queue.AddRateLimited] asks a [RateLimiter]
//     how long to wait before re-adding the item; [Queue.Forget] resets the
//     item's failure history once it has been processed successfully.
//
// A typical worker loop:
//
//	q, err := workqueue.New(workqueue.Config[string]{Name: "pods", Registerer: reg})
//	if err != nil {
//		return err
//	}
//	go func() { <-ctx.Done(); q.ShutDown() }()
//	for {
//		key, shutdown := q.Get()
//		if shutdown {
//			return nil
//		}
//		if err := sync(ctx, key); err != nil {
//			q.AddRateLimited(key)
//		} else {
//			q.Forget(key)
//		}
//		q.Done(key)
//	}
//
// Rate limiters: [NewItemExponentialFailureRateLimiter] (per-item
// exponential backoff), [NewBucketRateLimiter] (an overall token bucket
// built on golang.org/x/time/rate), [NewMaxOfRateLimiter] (the slowest of
// several) and [DefaultControllerRateLimiter], which is client-go's default:
// max(exponential 5ms..1000s per item, 10 qps / 100 burst overall).
//
// Metrics use the Kubernetes names (workqueue_depth, workqueue_adds_total,
// workqueue_queue_duration_seconds, workqueue_work_duration_seconds,
// workqueue_retries_total, workqueue_unfinished_work_seconds,
// workqueue_longest_running_processor_seconds), each with a "name" label set
// to [Config.Name]. Any number of queues may share one
// prometheus.Registerer; a nil Registerer disables metrics.
//
// Time is read through a [Clock] so tests can drive the queue with a fake
// clock; the zero Config uses the real clock.
package workqueue
