// Package nodeipam is the node IPAM controller (Kubernetes' range allocator): it gives every node a
// spec.podCIDR (and spec.podCIDRs) carved out of the cluster CIDR with a fixed node mask (default
// 10.244.0.0/16 in /24s), never the same range twice.
//
// The set of ranges in use lives in memory; Run rebuilds it from a consistent (non-cached) list of the
// nodes before handing out anything, so it survives restarts and leader changes. A range is released
// when its node is deleted. Writes are fenced by the node's resourceVersion: a stale cache makes the
// update conflict rather than overwrite a range assigned elsewhere.
package nodeipam
