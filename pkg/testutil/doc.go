// Package testutil starts real coxswain components for tests: an apiserver on an embedded etcd in a
// temporary directory on free loopback ports, with a connected client, that a test can stop and restart
// on the same data.
package testutil
