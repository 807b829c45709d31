// Package coxctl is coxswain's kubectl: a cobra command line that talks only to the apiserver (through
// pkg/client) and behaves like kubectl for the kinds coxswain serves: apply/create/delete -f with
// client-side three-way merge apply, get with kubectl's tables (and -o yaml|json|name|wide, -w),
// describe, logs, exec, port-forward, scale, rollout, label, annotate, cordon, uncordon, drain, edit,
// explain, version, api-resources, config and completion.
//
// The command is built by NewCommand(IOStreams) so that tests run it in-process against a real apiserver
// and read what it prints; Run returns the process exit code (the remote command's for exec), and Main
// is what cmd/coxctl calls.
package coxctl
