// Package deployutil adapts the Deployment controller's helpers (pkg/controllers/deployment) to what coxctl's
// rollout, describe and get commands need — the ReplicaSets a Deployment controls, their revisions, and which
// one is the new one — so the CLI and the controller agree on revisions and templates.
package deployutil
