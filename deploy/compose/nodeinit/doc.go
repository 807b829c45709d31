//go:build linux

// Command nodeinit is the entrypoint of the compose cluster's worker containers: it makes the mounts the
// native runtime writes to writable, then execs its arguments (the kubelet).
//
// Workers cannot be `privileged: true` everywhere: a Docker engine that itself runs without a capability
// (CAP_SYS_RESOURCE, in some CI sandboxes) fails to start privileged containers ("unable to apply caps").
// So they get an explicit cap_add list instead, and then Docker mounts /proc/sys and the cgroup
// hierarchies read-only. With CAP_SYS_ADMIN (and no user namespace) those are ordinary read-only bind
// mounts in the container's own mount namespace: nodeinit remounts them read-write, as kind's node
// entrypoint does. The container still sees only its own cgroup subtree (/sys/fs/cgroup/<controller> is
// its /docker/<id> directory), so pod cgroups stay below the worker's.
//
//	nodeinit kubelet --runtime native ...
package main
