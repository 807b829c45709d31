// Package cgroups creates the per-pod and per-container cgroups of the
// native runtime, sets CPU and memory limits, adds processes, counts OOM
// kills and tears cgroups down.
//
// cgroup v2 (a cgroup2 hierarchy with the cpu and/or memory controllers) is
// preferred: limits go to cpu.max and memory.max, OOM kills are read from
// memory.events. On hosts where these controllers are still bound to cgroup
// v1 hierarchies (hybrid setups) the v1 files are used instead
// (cpu.cfs_quota_us/cpu.cfs_period_us, memory.limit_in_bytes, the oom_kill
// line of memory.oom_control). A missing controller disables its limits
// (logged once); with neither, the Manager is disabled and every call is a
// no-op.
package cgroups
