// Package scheduler is coxswain's scheduler, a separate process like kube-scheduler: it watches pods
// and nodes, and binds each pending pod (spec.nodeName empty, spec.schedulerName "default-scheduler"
// or empty, not being deleted) to the node the framework package picks.
//
// Pipeline: informer events feed a scheduling queue (activeQ ordered by priority then age; backoffQ
// with per-pod exponential backoff 1 s..10 s; unschedulableQ, emptied back into the others when a node
// is added or changes, an assigned pod is deleted or finishes, or after 60 s). One loop pops a pod,
// runs framework.Schedule over the cache's snapshot and assumes the pod on the chosen node at once (the
// next pod sees the space taken); the Bind call runs in the background (at most Workers API writes at
// a time). A failed binding forgets the assumption and requeues the pod; the informer showing the pod
// bound confirms it; an assumption never confirmed expires after AssumedPodTTL.
//
// A pod that fits nowhere stays Pending: its PodScheduled condition becomes False/Unschedulable with
// Kubernetes' message ("0/3 nodes are available: 3 Insufficient cpu.", written only when it changed)
// and a Warning FailedScheduling event carries the same message. A bound pod gets a Normal Scheduled
// event "Successfully assigned ns/name to node".
//
// With LeaderElect, only the holder of the Lease kube-system/coxswain-scheduler schedules; standbys
// keep warm caches and take over when the lease expires (a crashed leader) or is released (a clean
// shutdown). Metrics (metrics.go) use kube-scheduler's names. See docs/scheduler.md.
package scheduler
