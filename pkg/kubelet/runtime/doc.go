// Package runtime defines the small, CRI-shaped container runtime interface the
// kubelet programs against, and an instrumented decorator for it.
//
// A pod is a sandbox (network identity, shared namespaces, pod-level resource
// limits) plus containers created inside it. The life cycle mirrors the CRI:
//
//	RunPodSandbox → CreateContainer → StartContainer → StopContainer → RemoveContainer
//	                                                   StopPodSandbox → RemovePodSandbox
//
// Implementations live in subpackages:
//
//   - fake: hollow nodes for scale tests; no processes, tiny memory footprint.
//   - process: containers are plain host processes; sandboxes get a unique
//     loopback IP. Works as any user on any Unix.
//   - native: Linux, root: network/PID/UTS/IPC/mount namespaces, a node
//     bridge with pod-CIDR IPAM, pivot_root into the image rootfs, cgroup
//     limits and OOM detection, without an external runtime.
//
// Every implementation passes the shared conformance suite in
// runtime/runtimetest (as far as the machine allows).
//
// Conventions shared by all implementations:
//
//   - IDs are opaque strings unique within one Runtime.
//   - Status, Start, Exec and CreateContainer (for the sandbox) return an
//     error wrapping ErrNotFound for unknown IDs; StopPodSandbox,
//     RemovePodSandbox and RemoveContainer are idempotent and return nil for
//     unknown IDs (as the CRI asks); StopContainer returns ErrNotFound.
//   - StopPodSandbox kills every container of the sandbox without grace (the
//     kubelet stops them gracefully first) and releases the sandbox network;
//     the sandbox then reports Ready=false. RemovePodSandbox also removes the
//     containers. RemoveContainer kills a running container first.
//   - Exit codes: a normal exit reports its code, a death by signal n reports
//     128+n. Reason is Completed for exit code 0, Error otherwise, OOMKilled
//     when the kernel OOM killer ended it (exit code 137), StartError when the
//     process could not be started (exit code 128, Message holds the OS error).
package runtime
