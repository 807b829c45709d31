// Package apiserver is coxswain's API server as a library: New(Config) then Run(ctx). It is the only
// etcd client in a cluster. It serves every resource over gRPC (one generic service implementation per
// kind, registered under the generated service names so grpcurl and reflection see typed APIs), keeps a
// watch cache per resource, and exposes /metrics, /healthz and /readyz over HTTP.
//
// The request path is an interceptor chain: authentication (who), authorization (may they), then the
// registry's admission chain (defaults, namespace lifecycle, validation) before storage.
// See docs/api.md for the contract.
package apiserver
