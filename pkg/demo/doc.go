// Package demo is a small static HTTP (and UDP) server used as the test
// workload of coxswain, in the spirit of Kubernetes' agnhost "netexec".
//
// Over HTTP it answers:
//
//	GET  /            "<version> <pod name> <pod IP> <node>\n"
//	GET  /json        the same as a JSON object
//	GET  /healthz     liveness probe: 200 "ok", or 503 after POST /fail/live
//	GET  /readyz      readiness probe: 200 "ok", or 503 after POST /fail/ready
//	POST /fail/live   make /healthz fail
//	POST /fail/ready  make /readyz fail
//	POST /recover     make both probes succeed again
//	GET|POST /exit?code=N  answer, then exit the process with code N
//	GET  /hostname    the kernel host name
//	GET  /echo?msg=M  M
//	GET|POST /alloc?mb=N   allocate and touch N MiB that stay allocated (OOM tests)
//
// On the same port number it also answers every UDP datagram with the pod
// name (for UDP Service tests). A cancelled context (SIGTERM in the command)
// shuts the server down gracefully after logging "shutting down".
//
// WriteImages (the command's "mkimage" subcommand) packs the static demo
// binary into the images coxswain/demo:v1, :v2 (VERSION=v1 and VERSION=v2 in
// their environment) and :latest (= v1), saved as one `docker save` tarball
// that nodes preload.
package demo
