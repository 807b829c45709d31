package proxy

import (
	"cmp"
	"log/slog"
	"net/netip"
	"slices"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/proxy/dataplane"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// servicePorts turns one Service and its Endpoints (nil when there is none)
// into data plane service ports. ExternalName and headless services have
// none; ports or addresses a data plane cannot program (SCTP, IPv6, out of
// range) are left out, so that one odd object never blocks the others.
func servicePorts(svc *corev1.Service, eps *corev1.Endpoints) []*dataplane.ServicePort {
	spec := svc.GetSpec()
	if spec == nil || spec.GetType() == "ExternalName" || spec.GetClusterIp() == "None" {
		return nil
	}
	ns, name := svc.GetMetadata().GetNamespace(), svc.GetMetadata().GetName()
	clusterIP := ""
	if isIPv4(spec.GetClusterIp()) {
		clusterIP = spec.GetClusterIp()
	}
	var external []string
	addExternal := func(ip string) {
		if isIPv4(ip) && !slices.Contains(external, ip) {
			external = append(external, ip)
		}
	}
	for _, ip := range spec.GetExternalIps() {
		addExternal(ip)
	}
	for _, ing := range svc.GetStatus().GetLoadBalancer().GetIngress() {
		addExternal(ing.GetIp())
	}
	affinity := spec.GetSessionAffinity() == "ClientIP"
	var timeout int32
	if affinity {
		timeout = spec.GetSessionAffinityConfig().GetClientIp().GetTimeoutSeconds()
	}

	var out []*dataplane.ServicePort
	for _, p := range spec.GetPorts() {
		proto := dataplane.Protocol(cmp.Or(p.GetProtocol(), "TCP"))
		if proto != dataplane.ProtocolTCP && proto != dataplane.ProtocolUDP {
			continue
		}
		if p.GetPort() < 1 || p.GetPort() > 65535 {
			continue
		}
		nodePort := p.GetNodePort()
		if nodePort < 0 || nodePort > 65535 {
			nodePort = 0
		}
		if clusterIP == "" && nodePort == 0 && len(external) == 0 {
			continue // nothing to reach it by
		}
		sp := &dataplane.ServicePort{
			Namespace: ns, Name: name, PortName: p.GetName(),
			ClusterIP: clusterIP, Port: p.GetPort(), Protocol: proto, NodePort: nodePort,
			ExternalIPs:             slices.Clone(external),
			SessionAffinityClientIP: affinity, AffinityTimeoutSeconds: max(timeout, 0),
			Endpoints: endpointsFor(eps, p.GetName(), proto),
		}
		out = append(out, sp)
	}
	return out
}

// endpointsFor collects the ready addresses of eps for the service port
// named portName: in every subset, the port with that name (or the only
// port, for an unnamed service port) and protocol.
func endpointsFor(eps *corev1.Endpoints, portName string, proto dataplane.Protocol) []dataplane.Endpoint {
	var out []dataplane.Endpoint
	for _, ss := range eps.GetSubsets() {
		var port int32
		for _, ep := range ss.GetPorts() {
			if dataplane.Protocol(cmp.Or(ep.GetProtocol(), "TCP")) != proto {
				continue
			}
			if ep.GetName() == portName || (portName == "" && len(ss.GetPorts()) == 1) {
				port = ep.GetPort()
				break
			}
		}
		if port < 1 || port > 65535 {
			continue
		}
		for _, a := range ss.GetAddresses() {
			if !isIPv4(a.GetIp()) {
				continue
			}
			out = append(out, dataplane.Endpoint{IP: a.GetIp(), Port: port, Ready: true, NodeName: a.GetNodeName()})
		}
	}
	return out
}

func isIPv4(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4()
}

// stateBuilder builds the desired State from the informer caches. It keeps
// the service ports of every Service whose Service and Endpoints objects
// did not change (same resourceVersions), so that the data planes get the
// same pointers for them and skip comparing them.
type stateBuilder struct {
	log   *slog.Logger
	cache map[string]builtService
}

type builtService struct {
	svcRV, epRV string
	ports       []*dataplane.ServicePort
}

func newStateBuilder(log *slog.Logger) *stateBuilder {
	return &stateBuilder{log: log, cache: map[string]builtService{}}
}

// build returns the State of services, with their Endpoints from
// endpoints. Two service ports claiming the same address (ip:port/proto
// or NodePort) are resolved in favour of the older Service (then the
// smaller key): the younger one loses that address.
func (b *stateBuilder) build(services []*corev1.Service, endpoints func(ns, name string) (*corev1.Endpoints, bool)) dataplane.State {
	slices.SortFunc(services, func(x, y *corev1.Service) int {
		tx, ty := x.GetMetadata().GetCreationTimestamp().AsTime(), y.GetMetadata().GetCreationTimestamp().AsTime()
		if c := tx.Compare(ty); c != 0 {
			return c
		}
		return cmp.Compare(api.Key(x), api.Key(y))
	})
	seen := make(map[string]bool, len(services))
	state := make(dataplane.State, len(services))
	claims := map[claim]string{}
	for _, svc := range services {
		key := api.Key(svc)
		seen[key] = true
		eps, _ := endpoints(svc.GetMetadata().GetNamespace(), svc.GetMetadata().GetName())
		svcRV, epRV := svc.GetMetadata().GetResourceVersion(), eps.GetMetadata().GetResourceVersion()
		c, ok := b.cache[key]
		if !ok || c.svcRV != svcRV || c.epRV != epRV || svcRV == "" {
			c = builtService{svcRV: svcRV, epRV: epRV, ports: servicePorts(svc, eps)}
			b.cache[key] = c
		}
		for _, sp := range c.ports {
			sp = b.resolve(sp, claims)
			if sp != nil {
				state[dataplane.Key(sp)] = sp
			}
		}
	}
	for key := range b.cache {
		if !seen[key] {
			delete(b.cache, key)
		}
	}
	return state
}

// claim is an address taken by a service port.
type claim struct {
	ip    string // "" for a NodePort
	port  int32
	proto dataplane.Protocol
}

// resolve records sp's claims and returns sp, or a copy without the
// addresses already taken (nil when it is left with none).
func (b *stateBuilder) resolve(sp *dataplane.ServicePort, claims map[claim]string) *dataplane.ServicePort {
	key := dataplane.Key(sp)
	taken := func(c claim) bool {
		o, ok := claims[c]
		if ok && o != key {
			b.log.Warn("service address already taken by another service", "service", key, "owner", o,
				"ip", c.ip, "port", c.port, "protocol", c.proto)
			return true
		}
		return false
	}
	out := sp
	copied := false
	cp := func() {
		if !copied {
			out, copied = sp.Clone(), true
		}
	}
	if sp.HasClusterIP() && taken(claim{sp.ClusterIP, sp.Port, sp.Protocol}) {
		cp()
		out.ClusterIP = ""
	}
	if sp.NodePort != 0 && taken(claim{"", sp.NodePort, sp.Protocol}) {
		cp()
		out.NodePort = 0
	}
	var ext []string
	dropped := false
	for _, ip := range sp.ExternalIPs {
		if taken(claim{ip, sp.Port, sp.Protocol}) {
			dropped = true
			continue
		}
		ext = append(ext, ip)
	}
	if dropped {
		cp()
		out.ExternalIPs = ext
	}
	if !out.HasClusterIP() && out.NodePort == 0 && len(out.ExternalIPs) == 0 {
		return nil
	}
	if out.HasClusterIP() {
		claims[claim{out.ClusterIP, out.Port, out.Protocol}] = key
	}
	if out.NodePort != 0 {
		claims[claim{"", out.NodePort, out.Protocol}] = key
	}
	for _, ip := range out.ExternalIPs {
		claims[claim{ip, out.Port, out.Protocol}] = key
	}
	return out
}
