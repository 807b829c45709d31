// Package api describes the resources coxswain serves: the Object interface every stored kind satisfies, and
// one table of resources (group, version, kind, plural, short names, scope, gRPC service) that the apiserver,
// the client library and coxctl all read, so that adding a kind means adding one row.
package api
