// Package describe renders kubectl describe's text for coxswain's kinds: the object's fields in kubectl's
// layout (pods with their containers' state, last state, exit codes, readiness and restart counts and,
// for a pod that is not scheduled, the PodScheduled condition's message; deployments with their strategy,
// replicas line, conditions and old/new ReplicaSets; nodes with conditions, capacity and pods...),
// followed by the object's Events table.
package describe
