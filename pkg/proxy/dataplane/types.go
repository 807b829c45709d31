package dataplane

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Protocol is a transport protocol of a service port.
type Protocol string

// Supported protocols.
const (
	ProtocolTCP Protocol = "TCP"
	ProtocolUDP Protocol = "UDP"
)

// DefaultAffinityTimeoutSeconds is used when ClientIP affinity is on and no
// timeout is given (the Kubernetes default, 3 hours).
const DefaultAffinityTimeoutSeconds = 10800

// Endpoint is one backend of a service port.
type Endpoint struct {
	IP       string
	Port     int32
	Ready    bool
	NodeName string
}

// ServicePort is one port of one service, the unit a data plane programs.
type ServicePort struct {
	Namespace, Name, PortName string // identity: ns/name:portname
	ClusterIP                 string // "" or "None" = no virtual IP
	Port                      int32
	Protocol                  Protocol
	NodePort                  int32    // 0 = none
	ExternalIPs               []string // LoadBalancer ingress IPs and externalIPs

	SessionAffinityClientIP bool
	AffinityTimeoutSeconds  int32 // 0 means DefaultAffinityTimeoutSeconds

	// Endpoints are already resolved to numeric target ports; only Ready
	// ones get traffic.
	Endpoints []Endpoint
}

// State is the full desired state, keyed by [Key].
type State map[string]*ServicePort

// DataPlane programs a State. Sync is given the full desired state each time
// and applies only the difference, atomically; Cleanup removes everything the
// data plane ever programmed.
//
// A ServicePort handed to Sync must not be modified afterwards: callers
// build a new one when a service changes and pass the same pointer while it
// does not, which lets a data plane skip comparing it.
type DataPlane interface {
	Sync(ctx context.Context, desired State) error
	Cleanup(ctx context.Context) error
}

// Key returns the State key of a service port: "ns/name:portname/protocol".
func Key(sp *ServicePort) string {
	return sp.Namespace + "/" + sp.Name + ":" + sp.PortName + "/" + string(sp.Protocol)
}

// HasClusterIP reports whether the service port has a virtual IP.
func (sp *ServicePort) HasClusterIP() bool {
	return sp.ClusterIP != "" && sp.ClusterIP != "None"
}

// AffinityTimeout returns the ClientIP affinity timeout in seconds, applying
// the default.
func (sp *ServicePort) AffinityTimeout() int32 {
	if sp.AffinityTimeoutSeconds <= 0 {
		return DefaultAffinityTimeoutSeconds
	}
	return sp.AffinityTimeoutSeconds
}

// ReadyEndpoints returns the ready endpoints, de-duplicated by ip:port and
// sorted, so that equal sets of endpoints always program the same rules.
func (sp *ServicePort) ReadyEndpoints() []Endpoint {
	out := make([]Endpoint, 0, len(sp.Endpoints))
	for _, ep := range sp.Endpoints {
		if ep.Ready {
			out = append(out, ep)
		}
	}
	slices.SortStableFunc(out, func(a, b Endpoint) int {
		if c := strings.Compare(a.IP, b.IP); c != 0 {
			return c
		}
		return cmp.Compare(a.Port, b.Port)
	})
	return slices.CompactFunc(out, func(a, b Endpoint) bool { return a.IP == b.IP && a.Port == b.Port })
}

// Validate checks the fields a data plane relies on. key is the State key the
// port was stored under and must equal Key(sp).
func (sp *ServicePort) Validate(key string) error {
	if sp == nil {
		return fmt.Errorf("service port %q: nil", key)
	}
	if k := Key(sp); k != key {
		return fmt.Errorf("service port %q: key does not match its identity %q", key, k)
	}
	if sp.Protocol != ProtocolTCP && sp.Protocol != ProtocolUDP {
		return fmt.Errorf("service port %q: protocol %q: must be TCP or UDP", key, sp.Protocol)
	}
	if sp.Port < 1 || sp.Port > 65535 {
		return fmt.Errorf("service port %q: port %d: must be in 1..65535", key, sp.Port)
	}
	if sp.NodePort < 0 || sp.NodePort > 65535 {
		return fmt.Errorf("service port %q: nodePort %d: must be in 0..65535", key, sp.NodePort)
	}
	if sp.HasClusterIP() {
		if _, err := parseIPv4(sp.ClusterIP); err != nil {
			return fmt.Errorf("service port %q: clusterIP: %w", key, err)
		}
	}
	for _, ip := range sp.ExternalIPs {
		if _, err := parseIPv4(ip); err != nil {
			return fmt.Errorf("service port %q: externalIP: %w", key, err)
		}
	}
	if sp.AffinityTimeoutSeconds < 0 {
		return fmt.Errorf("service port %q: affinityTimeoutSeconds %d: must not be negative", key, sp.AffinityTimeoutSeconds)
	}
	for i, ep := range sp.Endpoints {
		if _, err := parseIPv4(ep.IP); err != nil {
			return fmt.Errorf("service port %q: endpoints[%d].ip: %w", key, i, err)
		}
		if ep.Port < 1 || ep.Port > 65535 {
			return fmt.Errorf("service port %q: endpoints[%d].port %d: must be in 1..65535", key, i, ep.Port)
		}
	}
	return nil
}

// Validate checks every service port of the state.
func (s State) Validate() error {
	for k, sp := range s {
		if err := sp.Validate(k); err != nil {
			return err
		}
	}
	return nil
}

func parseIPv4(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
	}
	if !a.Is4() {
		return netip.Addr{}, fmt.Errorf("%q is not an IPv4 address", s)
	}
	return a, nil
}

// Equal reports whether two service ports would be programmed identically.
// Endpoint order, not-ready endpoints and duplicates are ignored.
func Equal(a, b *ServicePort) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Namespace != b.Namespace || a.Name != b.Name || a.PortName != b.PortName ||
		a.ClusterIP != b.ClusterIP || a.Port != b.Port || a.Protocol != b.Protocol ||
		a.NodePort != b.NodePort || a.SessionAffinityClientIP != b.SessionAffinityClientIP ||
		len(a.ExternalIPs) != len(b.ExternalIPs) {
		return false
	}
	if a.SessionAffinityClientIP && a.AffinityTimeout() != b.AffinityTimeout() {
		return false
	}
	for i := range a.ExternalIPs {
		if a.ExternalIPs[i] != b.ExternalIPs[i] {
			return false
		}
	}
	// Fast path: the same endpoints in the same order.
	if len(a.Endpoints) == len(b.Endpoints) {
		same := true
		for i := range a.Endpoints {
			x, y := &a.Endpoints[i], &b.Endpoints[i]
			if x.IP != y.IP || x.Port != y.Port || x.Ready != y.Ready {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	ea, eb := a.ReadyEndpoints(), b.ReadyEndpoints()
	if len(ea) != len(eb) {
		return false
	}
	for i := range ea {
		if ea[i].IP != eb[i].IP || ea[i].Port != eb[i].Port {
			return false
		}
	}
	return true
}

// Clone returns a deep copy.
func (sp *ServicePort) Clone() *ServicePort {
	c := *sp
	c.ExternalIPs = append([]string(nil), sp.ExternalIPs...)
	c.Endpoints = append([]Endpoint(nil), sp.Endpoints...)
	return &c
}
