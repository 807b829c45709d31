// Package merge is the three-way merge of kubectl's client-side apply, over the plain-map form of objects
// (manifest.ToMap and manifest.Document.Raw): given the configuration applied last time (original), the one
// being applied now (modified) and the live object (current), it computes the object to write:
//
//   - fields of modified are set (a null value deletes the field);
//   - fields of original that modified no longer has are removed from the live object (the user deleted
//     them from the manifest);
//   - every other field of the live object is kept (set by the server or a controller: clusterIP,
//     nodePort, uid, status, defaults...).
//
// Lists of objects that have a merge key, as Kubernetes' strategic merge patch defines them (containers
// and env by name, container ports by containerPort and protocol, service ports by port and protocol,
// volumeMounts by mountPath...), are merged element by element, so that server-set fields inside an
// element (a service port's nodePort) survive; other lists are replaced.
package merge
