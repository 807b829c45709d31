// Package dns is the cluster DNS server. It answers for the cluster domain
// (default cluster.local) from Service and Endpoints informer caches and
// forwards every other name to upstream servers (by default the
// nameservers of /etc/resolv.conf).
//
// Names, with a 5s TTL:
//
//   - <svc>.<ns>.svc.<domain>: A (or AAAA) of the ClusterIP; for a
//     headless service (clusterIP None), of every ready endpoint (and the
//     not-ready ones with publishNotReadyAddresses); for an ExternalName
//     service a CNAME to the external name, followed (through the cache for
//     names in the domain, else through the upstreams) when the query is
//     not for the CNAME itself.
//   - <host>.<svc>.<ns>.svc.<domain> for a headless service's endpoints,
//     by their hostname or their dashed address (10-244-1-2).
//   - _<port>._<proto>.<svc>.<ns>.svc.<domain>: SRV for a named port,
//     targeting the service name, or each endpoint's name for a headless
//     service (with the addresses in the additional section).
//   - <a-b-c-d>.<ns>.pod.<domain>: A a.b.c.d (any address, like CoreDNS's
//     "pods insecure").
//
// A name in the domain that designates nothing is NXDOMAIN; an existing
// name asked for a type it does not have is NODATA (NOERROR, no answer);
// both carry the zone's SOA in the authority section. Names outside the
// domain are forwarded (SERVFAIL when every upstream fails), or REFUSED
// when there is no upstream. Until the caches are loaded, cluster names
// get SERVFAIL.
//
// Pods resolve short names through the search path the kubelet writes
// (search <ns>.svc.<domain> svc.<domain> <domain>, options ndots:5), so
// "redis" and "redis.other-ns" need no special handling here.
//
// Metrics: coxswain_dns_requests_total{type,rcode} and
// coxswain_dns_request_duration_seconds{source}.
package dns
