// Package manager is coxswain's controller-manager: one process running the cluster's controllers
// (endpoints, nodelifecycle, nodeipam, gc, namespace, loadbalancer, replicaset, deployment) over one
// shared informer factory and one event broadcaster (component "controller-manager").
//
// Replicas elect a leader through the Lease kube-system/coxswain-controller-manager; only the leader
// starts the informers and the controllers, a standby takes over when the leader's lease expires (or at
// once when the leader shuts down cleanly and releases it), and a leader that loses its lease exits, like
// Kubernetes' kube-controller-manager. --controllers picks the controllers ("*" for all, "-name" to
// leave one out). The process serves /metrics, /healthz and /debug/pprof on --http-listen.
package manager
