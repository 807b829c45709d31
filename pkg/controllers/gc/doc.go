// Package gc is the garbage collector: it deletes objects whose owners are gone and carries out the
// Orphan and Foreground deletion policies, like Kubernetes' garbage collector controller.
//
// It watches every kind that can carry ownerReferences (all served kinds but Events) through the shared
// informers, indexed by owner uid, so "the dependents of X" is an index lookup across kinds.
//
//   - Background: an object none of whose owners exists any more (an owner reference whose owner is
//     missing, or exists with another uid, is dangling) is deleted. Absence is confirmed with a live
//     read before anything is deleted, because caches lag. An object with some live owners only loses
//     its references to the dangling ones.
//   - Orphan: an owner marked for deletion with the "orphan" finalizer has its references removed from
//     every dependent, then the finalizer is removed, which lets the apiserver delete it.
//   - Foreground: an owner marked for deletion with the "foregroundDeletion" finalizer has its
//     dependents deleted (in the foreground too when they block it with blockOwnerDeletion and have
//     dependents of their own); once no dependent blocking it (blockOwnerDeletion) is left, the finalizer
//     is removed. Dependents that have other, live owners only lose the reference.
//
// Every write is fenced: deletes carry a uid precondition and updates re-read the object and retry on
// conflicts.
package gc
