package dns

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"time"

	mdns "github.com/miekg/dns"

	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// maxCNAMEDepth bounds following ExternalName services that point at each
// other.
const maxCNAMEDepth = 8

func (s *Server) serveDNS(w mdns.ResponseWriter, r *mdns.Msg) {
	start := time.Now()
	overTCP := w.LocalAddr().Network() == "tcp"
	resp, source := s.answer(r, overTCP)
	if !overTCP {
		size := mdns.MinMsgSize
		if opt := r.IsEdns0(); opt != nil {
			size = max(int(opt.UDPSize()), mdns.MinMsgSize)
		}
		resp.Truncate(size)
	}
	if err := w.WriteMsg(resp); err != nil {
		s.log.Debug("write answer", "err", err, "client", w.RemoteAddr())
	}
	qtype := uint16(0)
	if len(r.Question) > 0 {
		qtype = r.Question[0].Qtype
	}
	s.metrics.requests.WithLabelValues(typeLabel(qtype), rcodeLabel(resp.Rcode)).Inc()
	s.metrics.duration.WithLabelValues(source).Observe(time.Since(start).Seconds())
}

// answer builds the response to r and says where it came from (cluster,
// upstream, none).
func (s *Server) answer(r *mdns.Msg, overTCP bool) (*mdns.Msg, string) {
	m := new(mdns.Msg)
	m.SetReply(r)
	m.RecursionAvailable = len(s.upstreams) > 0
	if r.Opcode != mdns.OpcodeQuery {
		m.Rcode = mdns.RcodeNotImplemented
		return m, "none"
	}
	if len(r.Question) != 1 {
		m.Rcode = mdns.RcodeFormatError
		return m, "none"
	}
	q := r.Question[0]
	n := parseName(q.Name, s.zone)
	if n.kind == kindOutside {
		if len(s.upstreams) == 0 {
			m.Rcode = mdns.RcodeRefused
			return m, "none"
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.UpstreamTimeout*time.Duration(2*len(s.upstreams)))
		defer cancel()
		resp, err := s.forward(ctx, r, overTCP)
		if err != nil {
			s.log.Debug("forward failed", "name", q.Name, "type", mdns.TypeToString[q.Qtype], "err", err)
			m.Rcode = mdns.RcodeServerFailure
			return m, "upstream"
		}
		resp.Id = r.Id
		return resp, "upstream"
	}
	if q.Qclass != mdns.ClassINET && q.Qclass != mdns.ClassANY {
		m.Rcode = mdns.RcodeRefused
		return m, "none"
	}
	if !s.synced.Load() {
		m.Rcode = mdns.RcodeServerFailure
		return m, "none"
	}
	m.Authoritative = true
	res := s.resolve(q.Name, q.Qtype, n, 0)
	m.Rcode = res.rcode
	m.Answer = res.answer
	m.Extra = res.extra
	if len(m.Answer) == 0 {
		m.Ns = []mdns.RR{s.soa()}
	}
	return m, "cluster"
}

// result is an authoritative answer: NXDOMAIN, or NOERROR with answers
// (none: NODATA).
type result struct {
	rcode  int
	answer []mdns.RR
	extra  []mdns.RR
}

var (
	nxdomain = result{rcode: mdns.RcodeNameError}
	nodata   = result{rcode: mdns.RcodeSuccess}
)

// resolve answers qname (parsed as n) of type qtype from the caches.
func (s *Server) resolve(qname string, qtype uint16, n name, depth int) result {
	switch n.kind {
	case kindApex:
		if qtype == mdns.TypeSOA || qtype == mdns.TypeANY {
			return result{answer: []mdns.RR{s.soa()}}
		}
		return nodata
	case kindEmpty:
		return nodata
	case kindNamespace:
		if len(s.servicesIn(n.ns)) > 0 {
			return nodata
		}
		return nxdomain
	case kindPod:
		if qtype == mdns.TypeA || qtype == mdns.TypeANY {
			return result{answer: []mdns.RR{s.a(qname, n.podIP)}}
		}
		return nodata
	case kindService:
		svc, ok := s.services.Get(n.ns, n.svc)
		if !ok {
			return nxdomain
		}
		return s.service(qname, qtype, svc, depth)
	case kindEndpoint:
		svc, ok := s.services.Get(n.ns, n.svc)
		if !ok || !headless(svc) {
			return nxdomain
		}
		var res result
		found := false
		s.eachAddress(svc, func(a *corev1.EndpointAddress, _ *corev1.EndpointSubset) {
			if a.GetHostname() != n.host && dashed(a.GetIp()) != n.host {
				return
			}
			found = true
			if rr := s.addressRR(qname, qtype, a.GetIp()); rr != nil {
				res.answer = append(res.answer, rr)
			}
		})
		if !found {
			return nxdomain
		}
		return res
	case kindSRV:
		return s.srv(qname, qtype, n)
	}
	return nxdomain
}

// service answers the name of a Service.
func (s *Server) service(qname string, qtype uint16, svc *corev1.Service, depth int) result {
	spec := svc.GetSpec()
	switch {
	case spec.GetType() == "ExternalName":
		target := mdns.Fqdn(spec.GetExternalName())
		res := result{answer: []mdns.RR{&mdns.CNAME{Hdr: s.hdr(qname, mdns.TypeCNAME), Target: target}}}
		if qtype == mdns.TypeCNAME {
			return res
		}
		res.answer = append(res.answer, s.follow(target, qtype, depth)...)
		return res
	case headless(svc):
		var res result
		seen := map[string]bool{}
		s.eachAddress(svc, func(a *corev1.EndpointAddress, _ *corev1.EndpointSubset) {
			if seen[a.GetIp()] {
				return
			}
			seen[a.GetIp()] = true
			if rr := s.addressRR(qname, qtype, a.GetIp()); rr != nil {
				res.answer = append(res.answer, rr)
			}
		})
		return res
	default:
		if rr := s.addressRR(qname, qtype, spec.GetClusterIp()); rr != nil {
			return result{answer: []mdns.RR{rr}}
		}
		return nodata
	}
}

// follow resolves an ExternalName target: from the caches when it is in
// the cluster domain, else through the upstreams (when that fails the
// client is left with the CNAME and resolves the target itself).
func (s *Server) follow(target string, qtype uint16, depth int) []mdns.RR {
	if depth >= maxCNAMEDepth {
		return nil
	}
	if n := parseName(target, s.zone); n.kind != kindOutside {
		return s.resolve(target, qtype, n, depth+1).answer
	}
	if len(s.upstreams) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.UpstreamTimeout*time.Duration(len(s.upstreams)))
	defer cancel()
	q := new(mdns.Msg)
	q.SetQuestion(target, qtype)
	resp, err := s.forward(ctx, q, false)
	if err != nil || resp.Rcode != mdns.RcodeSuccess {
		return nil
	}
	return resp.Answer
}

// srv answers _<port>._<proto>.<svc>.<ns>.svc.<domain>: one record
// targeting the service name, or, for a headless service, one per endpoint
// targeting the endpoint's name (its hostname, else its dashed address).
func (s *Server) srv(qname string, qtype uint16, n name) result {
	svc, ok := s.services.Get(n.ns, n.svc)
	if !ok || svc.GetSpec().GetType() == "ExternalName" {
		return nxdomain
	}
	var port *corev1.ServicePort
	for _, p := range svc.GetSpec().GetPorts() {
		proto := strings.ToLower(p.GetProtocol())
		if proto == "" {
			proto = "tcp"
		}
		if p.GetName() != "" && strings.EqualFold(p.GetName(), n.port) && proto == n.proto {
			port = p
			break
		}
	}
	if port == nil {
		return nxdomain
	}
	if qtype != mdns.TypeSRV && qtype != mdns.TypeANY {
		return nodata
	}
	svcName := n.svc + "." + n.ns + ".svc." + s.zone
	if !headless(svc) {
		var res result
		res.answer = []mdns.RR{&mdns.SRV{Hdr: s.hdr(qname, mdns.TypeSRV), Priority: 0, Weight: 100, Port: uint16(port.GetPort()), Target: svcName}}
		if rr := s.addressRR(svcName, mdns.TypeA, svc.GetSpec().GetClusterIp()); rr != nil {
			res.extra = append(res.extra, rr)
		}
		return res
	}
	var res result
	s.eachAddress(svc, func(a *corev1.EndpointAddress, ss *corev1.EndpointSubset) {
		var epPort int32
		for _, p := range ss.GetPorts() {
			if p.GetName() == port.GetName() {
				epPort = p.GetPort()
			}
		}
		if epPort == 0 {
			return
		}
		host := a.GetHostname()
		if host == "" {
			host = dashed(a.GetIp())
		}
		target := host + "." + svcName
		res.answer = append(res.answer, &mdns.SRV{Hdr: s.hdr(qname, mdns.TypeSRV), Priority: 0, Weight: 100, Port: uint16(epPort), Target: target})
		if rr := s.addressRR(target, mdns.TypeA, a.GetIp()); rr != nil {
			res.extra = append(res.extra, rr)
		}
	})
	return res
}

func headless(svc *corev1.Service) bool {
	return svc.GetSpec().GetClusterIp() == "None" && svc.GetSpec().GetType() != "ExternalName"
}

// eachAddress calls fn for every published address of svc's Endpoints:
// the ready ones, and the not-ready ones too with publishNotReadyAddresses.
func (s *Server) eachAddress(svc *corev1.Service, fn func(*corev1.EndpointAddress, *corev1.EndpointSubset)) {
	eps, ok := s.endpoints.Get(svc.GetMetadata().GetNamespace(), svc.GetMetadata().GetName())
	if !ok {
		return
	}
	for _, ss := range eps.GetSubsets() {
		for _, a := range ss.GetAddresses() {
			fn(a, ss)
		}
		if svc.GetSpec().GetPublishNotReadyAddresses() {
			for _, a := range ss.GetNotReadyAddresses() {
				fn(a, ss)
			}
		}
	}
}

func (s *Server) servicesIn(ns string) []*corev1.Service {
	var out []*corev1.Service
	for _, svc := range s.services.List() {
		if svc.GetMetadata().GetNamespace() == ns {
			out = append(out, svc)
		}
	}
	return out
}

// addressRR is an A (IPv4) or AAAA (IPv6) record for ip when qtype asks
// for it; nil otherwise.
func (s *Server) addressRR(owner string, qtype uint16, ip string) mdns.RR {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return nil
	}
	switch {
	case a.Is4() && (qtype == mdns.TypeA || qtype == mdns.TypeANY):
		return s.a(owner, a)
	case a.Is6() && (qtype == mdns.TypeAAAA || qtype == mdns.TypeANY):
		return &mdns.AAAA{Hdr: s.hdr(owner, mdns.TypeAAAA), AAAA: net.IP(a.AsSlice())}
	}
	return nil
}

func (s *Server) a(owner string, ip netip.Addr) mdns.RR {
	return &mdns.A{Hdr: s.hdr(owner, mdns.TypeA), A: net.IP(ip.AsSlice())}
}

func (s *Server) hdr(owner string, t uint16) mdns.RR_Header {
	return mdns.RR_Header{Name: mdns.Fqdn(owner), Rrtype: t, Class: mdns.ClassINET, Ttl: s.ttl}
}

// soa is the zone's SOA, sent in the authority section of negative
// answers; its minimum (the negative-caching TTL) is the TTL.
func (s *Server) soa() mdns.RR {
	return &mdns.SOA{Hdr: s.hdr(s.zone, mdns.TypeSOA), Ns: "ns.dns." + s.zone, Mbox: "hostmaster." + s.zone,
		Serial: s.serial, Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: s.ttl}
}
