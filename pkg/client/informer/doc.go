// Package informer keeps a local, indexed, read-only copy of one resource in sync with the apiserver by
// list-then-watch, and tells handlers what changed. It relists when its resourceVersion has expired,
// reconnects with backoff when the apiserver goes away (a restart loses no events: the watch resumes
// from the last version seen, and a relist replaces the cache and emits the differences), and never
// hands out objects that may be mutated: cached objects are shared, clone before changing them.
//
// Handlers run on one goroutine per informer, in event order; following client-go's controller pattern
// they should only enqueue keys into a workqueue.
package informer
