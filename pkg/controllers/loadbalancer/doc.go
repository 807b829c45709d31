// Package loadbalancer is a MetalLB-style load-balancer address allocator: every Service of type
// LoadBalancer (without a spec.loadBalancerClass, which would name another implementation) gets an
// address from a configured pool, recorded in status.loadBalancer.ingress[0].ip.
//
// The pool is a comma-separated list of ranges ("172.18.255.200-172.18.255.250") and CIDRs
// ("172.18.255.0/28", "fd00::/120"); every address in them can be handed out. spec.loadBalancerIP is
// honoured when it is in the pool and free; otherwise the service stays pending with a Warning event.
// Addresses are never given to two services; one is released when its service is deleted or stops being
// of type LoadBalancer (its status is then cleared), and services left pending by an exhausted pool get
// it. Run rebuilds the assignments from a consistent list of the services' status, so they survive
// restarts and leader changes. Without a pool every LoadBalancer service stays pending with a Warning
// event "no address pool configured".
//
// This controller only allocates: announcing the address (ARP/NDP or BGP) and forwarding its traffic is
// the proxy's business.
package loadbalancer
