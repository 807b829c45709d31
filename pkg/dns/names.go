package dns

import (
	"net/netip"
	"strings"
)

// kind is what a name inside the cluster domain designates.
type kind int

const (
	kindOutside   kind = iota // not in the cluster domain
	kindApex                  // <domain>
	kindEmpty                 // svc.<domain>, pod.<domain>, <ns>.pod.<domain>: exist, hold no record
	kindNamespace             // <ns>.svc.<domain>
	kindService               // <svc>.<ns>.svc.<domain>
	kindEndpoint              // <hostname>.<svc>.<ns>.svc.<domain> (headless)
	kindSRV                   // _<port>._<proto>.<svc>.<ns>.svc.<domain>
	kindPod                   // <a-b-c-d>.<ns>.pod.<domain>
	kindUnknown               // in the domain, designates nothing: NXDOMAIN
)

// name is a parsed query name.
type name struct {
	kind        kind
	ns, svc     string
	host        string     // kindEndpoint
	port, proto string     // kindSRV, without the underscores; proto lower case
	podIP       netip.Addr // kindPod
}

// parseName parses qname (any case, with or without the final dot)
// against zone (lower case, fully qualified: "cluster.local.").
func parseName(qname, zone string) name {
	q := strings.ToLower(qname)
	if !strings.HasSuffix(q, ".") {
		q += "."
	}
	if q == zone {
		return name{kind: kindApex}
	}
	if !strings.HasSuffix(q, "."+zone) {
		return name{kind: kindOutside}
	}
	rest := strings.TrimSuffix(q, "."+zone)
	labels := strings.Split(rest, ".")
	for _, l := range labels {
		if l == "" {
			return name{kind: kindUnknown} // empty label ("a..b")
		}
	}
	n := len(labels)
	switch labels[n-1] {
	case "svc":
		switch n {
		case 1:
			return name{kind: kindEmpty}
		case 2:
			return name{kind: kindNamespace, ns: labels[0]}
		case 3:
			return name{kind: kindService, svc: labels[0], ns: labels[1]}
		case 4:
			return name{kind: kindEndpoint, host: labels[0], svc: labels[1], ns: labels[2]}
		case 5:
			port, proto := labels[0], labels[1]
			if len(port) < 2 || len(proto) < 2 || port[0] != '_' || proto[0] != '_' {
				return name{kind: kindUnknown}
			}
			return name{kind: kindSRV, port: port[1:], proto: proto[1:], svc: labels[2], ns: labels[3]}
		}
	case "pod":
		switch n {
		case 1, 2:
			return name{kind: kindEmpty}
		case 3:
			ip, ok := parseDashedIPv4(labels[0])
			if !ok {
				return name{kind: kindUnknown}
			}
			return name{kind: kindPod, podIP: ip, ns: labels[1]}
		}
	}
	return name{kind: kindUnknown}
}

// parseDashedIPv4 parses "10-244-1-2".
func parseDashedIPv4(s string) (netip.Addr, bool) {
	if strings.Count(s, "-") != 3 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(strings.ReplaceAll(s, "-", "."))
	if err != nil || !a.Is4() {
		return netip.Addr{}, false
	}
	return a, true
}

// dashed writes an IPv4 address as a DNS label: 10.244.1.2 -> 10-244-1-2.
func dashed(ip string) string { return strings.ReplaceAll(ip, ".", "-") }
