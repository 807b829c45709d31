// Package deployment is the Deployment controller, with Kubernetes' semantics.
//
// A Deployment owns ReplicaSets named <deployment>-<pod-template-hash>, where the hash is PodTemplateHash of
// its pod template; the hash is added as the pod-template-hash label to the ReplicaSet's selector, template
// and labels. The ReplicaSet whose template equals the Deployment's (EqualIgnoreHash) is the new one; the
// others are old. Revisions (annotation deployment.kubernetes.io/revision, on the ReplicaSets and the
// Deployment) number the templates: the new ReplicaSet gets max(old revisions)+1, also when an old
// ReplicaSet is re-used because the template was set back to its template (a rollback; see RollbackTarget
// and RollbackTemplate, used by `coxctl rollout undo`). Old ReplicaSets scaled to 0 beyond
// spec.revisionHistoryLimit are deleted.
//
// Strategies: RollingUpdate scales the new ReplicaSet up while the pods of all ReplicaSets stay within
// replicas+maxSurge (rounded up), and old ReplicaSets down while at least replicas-maxUnavailable (rounded
// down) pods stay available, removing unavailable old pods first (see ResolveFenceposts); Recreate scales the
// old ReplicaSets to 0, waits until their pods are gone, then creates the new one. A paused Deployment makes
// no rollout progress, but a change of spec.replicas is applied to its ReplicaSets in proportion to their
// size (the desired-replicas and max-replicas annotations record the size they were scaled for).
//
// Status: observedGeneration, replicas, updatedReplicas, readyReplicas, availableReplicas,
// unavailableReplicas and the conditions Available (MinimumReplicasAvailable/Unavailable) and Progressing
// (NewReplicaSetCreated, ReplicaSetUpdated while pods progress, NewReplicaSetAvailable when complete,
// ProgressDeadlineExceeded when nothing progressed for progressDeadlineSeconds, DeploymentPaused/Resumed).
// RolloutStatus and History give `coxctl rollout status/history` their output.
//
// Two deliberate refinements over Kubernetes keep the bounds exact while caches lag: the surge check counts
// a ReplicaSet's pods as max(spec.replicas, status.replicas), so new pods wait until an old ReplicaSet's
// scale-down is reflected in its status; and a ReplicaSet's available pods count at most its spec.replicas.
package deployment
