// Package dataplane defines the API-independent model that the service proxy
// hands to its data planes, and the metrics they share.
//
// The proxy process (package proxy) turns Services and Endpoints into a
// [State]: one [ServicePort] per (namespace, name, port name, protocol), with
// the endpoints already resolved to numeric target ports. A [DataPlane]
// receives the complete desired State on every Sync and applies only the
// difference from what it programmed last. A ServicePort passed to Sync is
// never modified afterwards: an unchanged service is passed as the same
// pointer, which the nftables data plane uses to skip comparing it.
//
// Implementations live in sub-packages:
//
//   - nftables: in-kernel DNAT programmed over netlink (root, Linux).
//   - userspace: Go TCP/UDP forwarding for machines without root.
package dataplane
