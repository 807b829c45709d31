// Package proxy is the per-node service proxy process: it watches Services
// and Endpoints through informers and keeps a data plane (package
// dataplane: nftables in the kernel, or userspace forwarding) programmed
// with them.
//
// Every change marks the proxy dirty; a sync then builds the full desired
// dataplane.State from the informer caches and hands it to the data plane,
// which applies only the difference, atomically. Syncs are at least
// Config.MinSyncPeriod apart, so a burst of changes is programmed in one
// transaction; a failed sync is retried with backoff.
//
// The State has one service port per (Service, port): ExternalName and
// headless (clusterIP None) Services have none. A port carries the
// ClusterIP, port, protocol, NodePort, the external IPs (spec.externalIPs
// and status.loadBalancer.ingress[].ip; the controller-manager assigns the
// latter), ClientIP affinity with its timeout, and the ready addresses of
// the Endpoints object of the same name for the subset port whose name
// equals the service port's (or the only one, for an unnamed port);
// notReadyAddresses get no traffic. What a data plane cannot program (SCTP,
// IPv6 addresses) is left out, and when two Services claim the same
// address the older one keeps it, so that one bad object never blocks the
// others. Service ports of unchanged Services are reused from one sync to
// the next (same pointers), which lets the data plane skip comparing them.
//
// Metrics: the data plane's kubeproxy_sync_proxy_rules_duration_seconds,
// kubeproxy_sync_proxy_rules_last_timestamp_seconds and
// coxswain_proxy_rules_programmed{kind}, plus
// kubeproxy_network_programming_duration_seconds (from the Endpoints'
// endpoints.kubernetes.io/last-change-trigger-time annotation, or from when
// the proxy saw the change, to the rules being in place),
// coxswain_proxy_syncs_total{result} and coxswain_proxy_pending_changes.
// /healthz fails until the first sync and while a change has waited more
// than Config.HealthzTimeout.
package proxy
