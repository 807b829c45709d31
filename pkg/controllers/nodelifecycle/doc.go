// Package nodelifecycle is the node lifecycle controller: it watches node heartbeats, taints nodes that
// stopped posting status, evicts the pods from NoExecute-tainted nodes once their toleration runs out and
// removes the pods of nodes that no longer exist.
//
// Node health. Kubelets renew a Lease named after their node in kube-node-lease and post the Ready
// condition. The controller notes, on its own clock, when either last changed; a node silent for longer
// than the grace period (default 40s) gets every condition set to Unknown (Ready: reason
// NodeStatusUnknown, "Kubelet stopped posting node status."), and its pods' Ready condition set to False
// (Kubernetes' MarkPodsNotReady), so endpoints stop sending them traffic.
//
// Taints follow the Ready condition: False gives node.kubernetes.io/not-ready, Unknown
// node.kubernetes.io/unreachable, each with effects NoSchedule and NoExecute; True removes them. As in
// Kubernetes, when no node at all is Ready (the controller is probably the one cut off) the NoExecute
// taints are withheld, and removed, so nothing is evicted.
//
// Eviction (the taint manager). A pod on a node with NoExecute taints is deleted, with a
// TaintManagerEviction event, at the earliest time one of the taints is no longer tolerated: the taint's
// timeAdded plus the matching toleration's tolerationSeconds (no tolerationSeconds: forever). A pod without
// a matching toleration is evicted at once, except for the not-ready and unreachable taints, for which it
// gets the default tolerations (300s each, configurable) that Kubernetes' DefaultTolerationSeconds
// admission would have added. The pod's owner then recreates it elsewhere.
//
// Orphaned pods. A pod bound to a node that does not exist (checked with a live read, and again after a
// quarantine of 40s against races with node registration) is deleted at once (grace period 0).
package nodelifecycle
