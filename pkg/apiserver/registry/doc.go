// Package registry implements the verbs of every resource once, generically: create (names, uid,
// generateName, admission), update with optimistic concurrency and status/spec separation, graceful and
// finalizer-aware delete with propagation policies, list (served from the watch cache, or paginated from
// etcd at a fixed revision) and watch. Kind-specific behaviour (pod binding and graceful deletion, service
// IP and node-port allocation, namespace termination) plugs in through small hooks.
package registry
