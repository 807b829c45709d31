// Package namespace is the namespace controller: it empties namespaces that are being deleted and then
// lets them go, like Kubernetes' namespace lifecycle controller.
//
// Deleting a namespace marks it (deletionTimestamp, phase Terminating) while spec.finalizers holds
// "kubernetes". The controller then deletes every object of every namespaced kind in it (with live,
// consistent lists, not caches), waits (requeueing) until none is left (pods may take their grace period,
// objects with finalizers wait for their controllers), and finally removes "kubernetes" from
// spec.finalizers with an Update, upon which the apiserver deletes the namespace. Failures are reported
// as Warning events on the namespace.
package namespace
