// Package endpoints is the endpoints controller: for every Service with a selector it maintains the
// Endpoints object of the same name, like Kubernetes' endpoint controller.
//
// The pods matching the selector become addresses (pod IP, node name, a targetRef to the pod): Ready pods
// in addresses, the others in notReadyAddresses (spec.publishNotReadyAddresses lists every pod as ready).
// Pods being deleted and terminal pods are left out, unless publishNotReadyAddresses is set (then
// terminating pods stay, as in Kubernetes). Each service port is resolved per pod: a numeric targetPort
// as is, a named one through the pod's container ports (a pod without that port is left out of that
// port). Addresses offering the same set of ports share a subset, and everything is sorted, so an
// unchanged set of pods never causes a write. The Endpoints object is deleted with its Service; Services
// without a selector are left alone (their Endpoints are managed by users).
package endpoints
