// Package localcluster runs a whole coxswain cluster on one machine as separate OS processes — the
// apiserver on an embedded etcd, the scheduler, the controller-manager, cluster DNS, and per node a kubelet
// and a proxy — supervises them, waits until the nodes are Ready, writes coxctl's config, and stops
// everything on Ctrl-C. It is what `make run` starts.
//
// As root on Linux the nodes use the native runtime (network namespaces, a bridge per node, nftables
// services); otherwise the process runtime (a loopback address per pod) and the userspace proxy, with
// ClusterIPs from 127.20.0.0/16 so they can be bound without privileges.
package localcluster
