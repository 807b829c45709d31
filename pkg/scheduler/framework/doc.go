// Package framework is the scheduler's pure decision logic: given a pod and a [Snapshot] of the nodes
// with the pods placed on them, it picks a node (or explains why none fits) by running a
// filter-then-score pipeline modelled on kube-scheduler's default plugins.
//
// It makes no API calls and starts no background goroutines; [Framework.Schedule] may filter nodes in
// parallel chunks (Config.Parallelism) and returns once done. A Snapshot is a plain data structure: the
// caller serialises mutations and scheduling (pkg/scheduler holds one lock around both).
//
// Filters, in order (a node failing one filter is not checked further; its reasons count once per node):
//
//	NodeReady          "node(s) were not ready"                      (Ready condition not True)
//	NodeUnschedulable  "node(s) were unschedulable"                  (spec.unschedulable)
//	TaintToleration    "node(s) had untolerated taint {key: value}"  (NoSchedule, NoExecute)
//	NodeAffinity       "node(s) didn't match Pod's node affinity/selector"
//	NodePorts          "node(s) didn't have free ports for the requested pod ports"
//	NodeResourcesFit   "Too many pods", "Insufficient cpu", "Insufficient memory"
//	InterPodAffinity   "node(s) didn't satisfy existing pods anti-affinity rules",
//	                   "node(s) didn't match pod affinity rules", "node(s) didn't match pod anti-affinity rules"
//
// Scores (each 0..100, combined as a weighted sum, see [DefaultScorers]): LeastAllocated,
// BalancedAllocation, OwnerSpread (pods of the same controller spread over nodes), NodeAffinity
// (preferred terms) and TaintToleration (avoid untolerated PreferNoSchedule taints). Ties between the
// best nodes are broken uniformly at random (reservoir sampling).
//
// When no node fits, Schedule returns a [*FitError] whose message is Kubernetes' exact text:
// "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu." —
// "<count> <reason>" entries sorted as strings (as kube-scheduler's sort.Strings does), comma separated,
// ending with a period.
//
// Like kube-scheduler's percentageOfNodesToScore, once a cluster is large only enough feasible nodes are
// searched (adaptive: 50% minus 1% per 125 nodes, at least 5% and at least 100 nodes) starting where the
// previous search stopped, so the load spreads over all nodes.
package framework
