// Package bench is coxbench, the density and load benchmark of the whole coxswain control plane, in
// the spirit of Kubernetes' ClusterLoader2 on kubemark.
//
// It starts the real components as separate processes from the binaries `make build` produces: etcd
// (or the apiserver's embedded etcd), the apiserver, the scheduler, the controller-manager, and
// hollow nodes (kubelets on the fake runtime, many nodes per process with --hollow-nodes). Each
// component gets its own free loopback ports and a log file. Then a Workload runs:
//
//   - Density: Deployments totalling N pods; end-to-end pods/s until all are Running, time to all
//     bound and Running, and the created/bound/Running counts over time (a PodTracker watches pods
//     and timestamps each state at observation).
//   - Startup: pods created at a fixed rate; startup latency from the create call to Running.
//   - Churn: Deployments created, scaled, rolled out and deleted at a rate, then convergence (all
//     complete, no orphan ReplicaSets or pods).
//   - Watch: many watchers while pods are written at a rate; delivery latency and events/s.
//
// Around every workload the runner scrapes the apiserver's apiserver_request_duration_seconds and
// apiserver_request_total and the scheduler's scheduler_schedule_attempts_total before and after
// (package promtext diffs the histograms and estimates quantiles), samples every process's RSS and
// CPU from /proc every 200ms (package procstat), records the idle control plane's RSS before the
// workload, and measures, as the reference of the same run, raw etcd puts of the mean encoded pod
// size at the workload's write concurrency against the same etcd. Results go to a table on stdout,
// result.json and pods.png; with several runs every figure is reported with its median, and the
// issue's targets are checked against the medians.
package bench
