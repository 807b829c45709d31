package dataplane

import (
	"strings"
	"testing"
)

func port(eps ...Endpoint) *ServicePort {
	return &ServicePort{Namespace: "ns", Name: "svc", PortName: "http", Protocol: ProtocolTCP,
		ClusterIP: "10.96.0.1", Port: 80, Endpoints: eps}
}

func TestKeyAndValidate(t *testing.T) {
	ok := port(Endpoint{IP: "10.0.0.1", Port: 8080, Ready: true})
	if got := Key(ok); got != "ns/svc:http/TCP" {
		t.Fatalf("Key = %q", got)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*ServicePort)
		want   string // "" = valid
	}{
		{"valid", func(*ServicePort) {}, ""},
		{"headless", func(s *ServicePort) { s.ClusterIP = "None" }, ""},
		{"no cluster IP", func(s *ServicePort) { s.ClusterIP = "" }, ""},
		{"udp", func(s *ServicePort) { s.Protocol = ProtocolUDP }, "key does not match"},
		{"sctp", func(s *ServicePort) { s.Protocol = "SCTP" }, "key does not match"},
		{"port 0", func(s *ServicePort) { s.Port = 0 }, "port 0"},
		{"port too big", func(s *ServicePort) { s.Port = 70000 }, "port 70000"},
		{"nodeport negative", func(s *ServicePort) { s.NodePort = -1 }, "nodePort -1"},
		{"ipv6 cluster IP", func(s *ServicePort) { s.ClusterIP = "fd00::1" }, "not an IPv4"},
		{"bad external IP", func(s *ServicePort) { s.ExternalIPs = []string{"x"} }, "externalIP"},
		{"bad endpoint IP", func(s *ServicePort) { s.Endpoints[0].IP = "10.0.0" }, "endpoints[0].ip"},
		{"bad endpoint port", func(s *ServicePort) { s.Endpoints[0].Port = 0 }, "endpoints[0].port"},
		{"negative timeout", func(s *ServicePort) { s.AffinityTimeoutSeconds = -5 }, "affinityTimeoutSeconds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ok.Clone()
			tc.mutate(s)
			err := s.Validate("ns/svc:http/TCP")
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want error containing %q", err, tc.want)
			}
		})
	}
	if err := (State{"x": nil}).Validate(); err == nil {
		t.Error("State with a nil port validated")
	}
}

func TestReadyEndpointsAndEqual(t *testing.T) {
	a := port(
		Endpoint{IP: "10.0.0.2", Port: 80, Ready: true},
		Endpoint{IP: "10.0.0.1", Port: 80, Ready: true},
		Endpoint{IP: "10.0.0.1", Port: 80, Ready: true},  // duplicate
		Endpoint{IP: "10.0.0.3", Port: 80, Ready: false}, // not ready
	)
	got := a.ReadyEndpoints()
	if len(got) != 2 || got[0].IP != "10.0.0.1" || got[1].IP != "10.0.0.2" {
		t.Fatalf("ReadyEndpoints = %+v", got)
	}
	b := port(Endpoint{IP: "10.0.0.1", Port: 80, Ready: true}, Endpoint{IP: "10.0.0.2", Port: 80, Ready: true})
	for _, tc := range []struct {
		name   string
		mutate func(*ServicePort)
		equal  bool
	}{
		{"same endpoints, other order and extras", func(*ServicePort) {}, true},
		{"endpoint port", func(s *ServicePort) { s.Endpoints[0].Port = 81 }, false},
		{"endpoint not ready", func(s *ServicePort) { s.Endpoints[0].Ready = false }, false},
		{"node port", func(s *ServicePort) { s.NodePort = 30000 }, false},
		{"external IP", func(s *ServicePort) { s.ExternalIPs = []string{"1.2.3.4"} }, false},
		{"affinity", func(s *ServicePort) { s.SessionAffinityClientIP = true }, false},
		{"timeout without affinity", func(s *ServicePort) { s.AffinityTimeoutSeconds = 5 }, true},
		{"cluster IP", func(s *ServicePort) { s.ClusterIP = "10.96.0.2" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := b.Clone()
			tc.mutate(c)
			if got := Equal(a, c); got != tc.equal {
				t.Fatalf("Equal = %v, want %v", got, tc.equal)
			}
			if Equal(c, a) != Equal(a, c) {
				t.Fatal("Equal is not symmetric")
			}
		})
	}
	x, y := b.Clone(), b.Clone()
	x.SessionAffinityClientIP, y.SessionAffinityClientIP = true, true
	y.AffinityTimeoutSeconds = DefaultAffinityTimeoutSeconds
	if !Equal(x, y) {
		t.Error("default affinity timeout and explicit 10800 differ")
	}
}

// FuzzValidate feeds arbitrary fields to the validator: it must not panic,
// and a port it accepts must have a consistent key, only IPv4 addresses and
// ready endpoints that are a subset of its endpoints.
func FuzzValidate(f *testing.F) {
	f.Add("ns", "svc", "http", "TCP", "10.96.0.1", int32(80), int32(0), "10.0.0.1", int32(8080), true)
	f.Add("", "", "", "UDP", "None", int32(53), int32(30053), "::1", int32(0), false)
	f.Fuzz(func(t *testing.T, ns, name, pn, proto, cip string, p, np int32, epIP string, epPort int32, ready bool) {
		sp := &ServicePort{Namespace: ns, Name: name, PortName: pn, Protocol: Protocol(proto),
			ClusterIP: cip, Port: p, NodePort: np,
			Endpoints: []Endpoint{{IP: epIP, Port: epPort, Ready: ready}}}
		err := sp.Validate(Key(sp))
		if err != nil {
			return
		}
		if sp.Protocol != ProtocolTCP && sp.Protocol != ProtocolUDP {
			t.Fatalf("accepted protocol %q", sp.Protocol)
		}
		if p < 1 || p > 65535 || np < 0 || np > 65535 || epPort < 1 || epPort > 65535 {
			t.Fatalf("accepted out-of-range ports %d %d %d", p, np, epPort)
		}
		if r := sp.ReadyEndpoints(); len(r) > 1 || (len(r) == 1) != ready {
			t.Fatalf("ReadyEndpoints = %+v for ready=%v", r, ready)
		}
		if !Equal(sp, sp.Clone()) {
			t.Fatal("a port differs from its clone")
		}
	})
}
