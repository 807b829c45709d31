// Package storage keeps API objects in etcd and serves watches and lists from a watch cache.
//
// Key layout: /registry/<group>/<plural>/<namespace>/<name> ("core" for the core group, no namespace
// segment for cluster-scoped kinds); values are protobuf-encoded objects with metadata.resourceVersion
// cleared, because the resourceVersion is etcd's mod revision of the key. Writes are etcd transactions:
// create compares the key's create revision with 0, update compares its mod revision with the version
// the caller read, so concurrent writers through any number of apiservers get exactly one winner.
//
// The Cacher keeps, per resource, one etcd watch, the current objects, and a window of recent events; any
// number of client watches are fanned out from it. A watch from a version inside the window is replayed
// from memory; a version older than the window but not compacted is served from etcd's history; a
// compacted version fails with an Expired error so that the client relists.
//
// The cache holds each object in its stored form (the etcd value and its revision), not decoded: a
// decoded protobuf message weighs several times its encoding, and the cache holds every object of the
// resource. Reads decode on demand into copies the caller owns, outside the cache's lock. Events in the
// window hold decoded objects (they are fanned out at once); an event's previous state is the key's
// previous event while that is in the window, else decoded from the stored form, so the etcd watch never
// asks for previous values.
//
// Updates (GuaranteedUpdate) start from the cached object and write with one transaction comparing the
// mod revision; when the cache lagged, the transaction's else branch returns the current value and the
// update is recomputed from it. An error or a no-op computed from a cached object is confirmed against
// etcd before it is returned.
package storage
