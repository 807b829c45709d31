// Package replicaset is the ReplicaSet controller, with Kubernetes' semantics: it keeps spec.replicas active
// pods built from spec.template (named <rs-name>-<random>, controlled by the ReplicaSet), adopts orphan pods
// that match the selector and releases owned pods that stopped matching, ignores pods controlled by another
// object, and counts pods that are being deleted or have terminated (Succeeded/Failed) as gone.
//
// Creations go out in slow-start batches (1, 2, 4, ...) and stop at the first failing batch; deletions pick
// pods in Kubernetes' order (unscheduled, Pending, Unknown, not ready, lower deletion cost, crowded nodes,
// recently ready, restarting, newest first). Expectations (internal.Expectations) remember the creations and
// deletions a sync issued until the pod informer reports them, so a lagging cache never creates or deletes
// twice; they expire after 5 minutes.
//
// Status carries replicas, fullyLabeledReplicas, readyReplicas, availableReplicas (Ready for
// minReadySeconds; the ReplicaSet is synced again when the next pod becomes available), observedGeneration
// and a ReplicaFailure condition while creating or deleting fails; it is written only when it changes.
package replicaset
