// Package userspace is a service-proxy data plane in plain Go, for machines
// where the proxy cannot program the kernel (no root, no nf_tables).
//
// Layout. For every service port the proxy opens real sockets:
//
//   - ClusterIP:Port. In this mode ClusterIPs come from a loopback range such
//     as 127.20.0.0/16: on Linux all of 127.0.0.0/8 is local, so any of these
//     addresses can be bound without privileges.
//   - NodePortAddress:NodePort (default 0.0.0.0), when the port has one.
//   - ExternalIP:Port for external and LoadBalancer IPs, when the address is
//     local; others are logged and skipped.
//
// TCP: each accepted connection is spliced (io.Copy both ways, with
// half-close propagated through CloseWrite) to one ready endpoint chosen at
// random, or the client's previous endpoint when ClientIP affinity is on. If
// an endpoint refuses, the next one is tried; with no endpoint the client is
// reset, like the nftables data plane's reject.
//
// UDP: each client address gets a session, a connected socket to one
// endpoint; replies go back to the client from the service address. Sessions
// end after Config.UDPIdleTimeout without traffic, or at once when their
// endpoint is removed.
//
// Sync: the desired State is compared with the running one. Missing sockets
// are opened first; one that cannot be opened (address in use, privileged
// port without root) leaves that address unserved while everything else is
// applied, and Sync returns an error naming it so that the caller retries.
// Then every socket is pointed at its service port's new runtime
// state with one atomic pointer store (a service's endpoint list is swapped
// as a whole, never half-updated), and sockets no longer wanted are closed.
// A Sync with an unchanged State touches nothing.
package userspace
