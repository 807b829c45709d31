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
package storage
