// Package native is a Linux runtime.Runtime with real isolation and no
// external container runtime. It must run as root.
//
// # Init step
//
// Containers are started by re-executing the kubelet binary
// (/proc/self/exe) in a hidden init role, so Init must be the first call in
// main() (and in TestMain of tests that create a native Runtime); it returns
// at once in the normal role. The init is cloned into new PID, UTS, IPC and
// mount namespaces and placed in the container's cgroup before it runs; it
// then reads its configuration from a pipe, joins the sandbox's network
// namespace, builds the root filesystem, sets the hostname, pivot_roots
// (chroot where pivot_root is impossible), drops every capability from the
// bounding set except Docker's default set, resolves argv[0] and execve's
// it, so the command is PID 1 of its namespace. Failures up to and including
// execve (e.g. "exec format error" for a foreign binary, a missing command)
// come back over a close-on-exec pipe with the real errno text and are
// returned by StartContainer.
//
// # Filesystem
//
// The image directory (RootFS) is the lower layer of an overlay mount with a
// per-container upper layer in StateDir, so containers never write to the
// image (where overlayfs is unavailable, RootFS is bind-mounted and written
// to directly; logged once). On top: /proc (the container's PID namespace),
// a tmpfs /dev with null, zero, full, random, urandom, tty bound from the
// host plus /dev/pts (new instance), /dev/shm and the usual symlinks, a
// read-only /sys, the sandbox's /etc/hosts, /etc/resolv.conf (from
// PodSandboxConfig.DNS, else the host's minus loopback nameservers) and
// /etc/hostname, then Mounts (bind mounts; ReadOnly remounts read-only; the
// target is created and resolved inside the rootfs, symlinks cannot escape
// it).
//
// argv[0] is resolved inside the container like a shell would: a name with a
// "/" as a path (relative to WorkingDir), otherwise each directory of PATH
// from Env (default /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin).
// Env is the complete environment. WorkingDir (default "/") is created if
// missing.
//
// # Network
//
// Each sandbox gets a network namespace, bind-mounted at
// StateDir/sandboxes/ID/netns so it outlives its processes, with lo up and
// eth0, one end of a veth pair whose other end (vcx + 12 ID characters) is
// enslaved to the node bridge (BridgeName, default cox0). The bridge holds
// the first address of PodCIDR, which is the pods' default gateway; pod IPs
// come from the rest of PodCIDR, allocated next-fit and persisted in
// StateDir/ipam.json. Containers of a sandbox share its network namespace and
// reach each other on localhost. IPv4 forwarding is enabled in the node's
// namespace. SyncRoutes programs routes to the other nodes' pod CIDRs via
// their node IPs (the kubelet calls it with what it reads from Node objects),
// so pods reach each other across nodes by pod IP without NAT. Masquerading
// pod traffic that leaves the cluster (iptables/nft) is not done by this
// package: pods reach other nodes and their pods, not the internet, unless
// the node's own setup NATs the pod CIDR.
//
// # Resources
//
// With cgroup v2 (cgroup.controllers listing cpu/memory), each sandbox gets
// CgroupRoot/pod-ID with the pod limits and each container a child cgroup
// with its own: cpu.max ("quota 100000", quota = milliCPU×100) and
// memory.max (swap disabled where memory.swap.max exists). On hybrid hosts
// where cpu and memory are only available as cgroup v1 controllers, the v1
// equivalents are used (cpu.cfs_quota_us/cpu.cfs_period_us,
// memory.limit_in_bytes). Missing controllers mean no limits (logged once).
// A container that dies of SIGKILL while its cgroup's oom_kill counter
// (memory.events, or memory.oom_control on v1) is non-zero is reported as
// OOMKilled with exit code 137.
//
// # Exec
//
// Exec joins the container's IPC, UTS, network, PID and mount namespaces on
// a throw-away OS thread, drops the same capabilities there and forks the
// command from it, then adds it to the container's cgroup.
//
// # Restarts
//
// New adopts the ready sandboxes a previous instance left in StateDir
// (their netns and veth intact, same IP) and kills and forgets that
// instance's containers (verified by PID and start time, and by their
// cgroups); everything else in StateDir is cleaned up and unowned IPs are
// released. The kubelet then starts the pods' containers again.
//
// Not provided: user namespaces, seccomp, LSM profiles, IPv6.
package native
