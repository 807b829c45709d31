// Package client is the typed gRPC client every coxswain component and coxctl uses to talk to the
// apiserver. One generic Resource[T] serves every kind through the resource table in pkg/api, so there is
// no per-kind client code; errors come back as pkg/api/errors values (IsNotFound, IsConflict, ...).
package client
