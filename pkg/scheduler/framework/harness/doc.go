// Package harness builds nodes, pods and in-memory clusters for testing and benchmarking the scheduling
// framework without an apiserver: fluent builders for *corev1.Node and *corev1.Pod, Cluster (a
// Snapshot plus a Framework that places pods as the scheduler does: schedule, then assume), and the
// BenchNodes/BenchPods workload of the throughput benchmarks.
package harness
