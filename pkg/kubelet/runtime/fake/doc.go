// Package fake is a runtime.Runtime without processes, for hollow nodes in
// scale tests and for kubelet unit tests.
//
// Containers go Running as soon as StartContainer returns and stay Running
// until stopped, unless a Behavior says otherwise (start delay, exit after a
// while with a given code, start failure). Sandboxes get unique IPs from a
// configurable prefix. State is kept compactly (no goroutines or timers per
// container: timed exits are evaluated lazily when status is read), so a
// sandbox with one container costs well under a kilobyte or two; see
// BenchmarkMemoryPerPod.
package fake
