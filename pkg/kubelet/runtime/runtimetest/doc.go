// Package runtimetest is the conformance suite every runtime.Runtime
// implementation runs from its own tests (Run), plus helpers to build the
// static test helper binary (runtime/internal/testbin) and a minimal rootfs
// around it.
//
// Checks that need real processes (exit codes, logs, environment, exec,
// signals, start errors) run only when Harness.Processes is set; the life
// cycle, error and bookkeeping checks run for every implementation.
package runtimetest
