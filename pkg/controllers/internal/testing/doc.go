// Package testing helps test controllers against a real apiserver (import it as ctesting):
//
//   - HollowKubelet binds every pod to a fake node and reports it Running, with a pod IP, Ready and ready
//     container statuses, and removes pods marked for deletion: controller tests have no scheduler or kubelet.
//   - TrackPods follows pods through a watch of its own and checks every state it observes.
//   - LaggingWatches is a dial option that delays watch events, to make an informer cache lag on purpose.
//   - Retry retries the transient errors a loaded test machine causes (etcd timeouts).
package testing
