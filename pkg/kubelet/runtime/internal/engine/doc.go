// Package engine implements the bookkeeping and semantics of runtime.Runtime
// once, for the runtimes whose containers are real processes (process,
// native): sandbox and container stores, state transitions, graceful stop
// with SIGKILL escalation, wait/exit handling, container stdio (append-only
// log file, optional stdin pipe, pseudo-terminal) and exec stream plumbing.
// A Backend supplies what differs: networking, how a process is started
// (plain fork/exec or namespaced re-exec), OOM detection and cleanup.
package engine
