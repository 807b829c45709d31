package proxy

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/coxswain/coxswain/pkg/proxy/dataplane"
	"github.com/coxswain/coxswain/pkg/testutil"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

func ptr[T any](v T) *T { return &v }

func service(name string, mutate func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		Metadata: &metav1.ObjectMeta{Namespace: "ns", Name: name, ResourceVersion: "1",
			CreationTimestamp: timestamppb.New(time.Unix(1000, 0))},
		Spec: &corev1.ServiceSpec{ClusterIp: "10.96.0.10", Type: "ClusterIP",
			Ports: []*corev1.ServicePort{{Name: "http", Port: 80, Protocol: "TCP"}}},
	}
	if mutate != nil {
		mutate(s)
	}
	return s
}

func endpoints(name string, subsets ...*corev1.EndpointSubset) *corev1.Endpoints {
	return &corev1.Endpoints{Metadata: &metav1.ObjectMeta{Namespace: "ns", Name: name, ResourceVersion: "1"}, Subsets: subsets}
}

func addrs(ips ...string) []*corev1.EndpointAddress {
	var out []*corev1.EndpointAddress
	for _, ip := range ips {
		out = append(out, &corev1.EndpointAddress{Ip: ip, NodeName: ptr("n1")})
	}
	return out
}

func TestServicePorts(t *testing.T) {
	ready := func(ips ...string) []dataplane.Endpoint {
		var out []dataplane.Endpoint
		for _, ip := range ips {
			out = append(out, dataplane.Endpoint{IP: ip, Port: 8080, Ready: true, NodeName: "n1"})
		}
		return out
	}
	httpSubset := &corev1.EndpointSubset{
		Addresses:         addrs("10.244.1.2", "10.244.2.2"),
		NotReadyAddresses: addrs("10.244.3.2"),
		Ports:             []*corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: "TCP"}},
	}
	for _, tc := range []struct {
		name string
		svc  *corev1.Service
		eps  *corev1.Endpoints
		want []*dataplane.ServicePort
	}{
		{
			name: "ready addresses of the named port",
			svc:  service("web", nil),
			eps:  endpoints("web", httpSubset),
			want: []*dataplane.ServicePort{{Namespace: "ns", Name: "web", PortName: "http", ClusterIP: "10.96.0.10",
				Port: 80, Protocol: "TCP", Endpoints: ready("10.244.1.2", "10.244.2.2")}},
		},
		{
			name: "no Endpoints object",
			svc:  service("web", nil),
			want: []*dataplane.ServicePort{{Namespace: "ns", Name: "web", PortName: "http", ClusterIP: "10.96.0.10", Port: 80, Protocol: "TCP"}},
		},
		{
			name: "unnamed port takes the only subset port",
			svc: service("web", func(s *corev1.Service) {
				s.Spec.Ports = []*corev1.ServicePort{{Port: 80}}
			}),
			eps: endpoints("web", &corev1.EndpointSubset{Addresses: addrs("10.244.1.2"),
				Ports: []*corev1.EndpointPort{{Port: 8080}}}),
			want: []*dataplane.ServicePort{{Namespace: "ns", Name: "web", ClusterIP: "10.96.0.10", Port: 80, Protocol: "TCP",
				Endpoints: ready("10.244.1.2")}},
		},
		{
			name: "two ports, each its subset port, other protocol ignored",
			svc: service("dns", func(s *corev1.Service) {
				s.Spec.Ports = []*corev1.ServicePort{{Name: "dns", Port: 53, Protocol: "UDP"}, {Name: "dns-tcp", Port: 53, Protocol: "TCP"}}
			}),
			eps: endpoints("dns", &corev1.EndpointSubset{Addresses: addrs("10.244.1.2"), Ports: []*corev1.EndpointPort{
				{Name: "dns", Port: 5353, Protocol: "UDP"}, {Name: "dns-tcp", Port: 5354, Protocol: "TCP"}, {Name: "dns", Port: 9999, Protocol: "TCP"},
			}}),
			want: []*dataplane.ServicePort{
				{Namespace: "ns", Name: "dns", PortName: "dns", ClusterIP: "10.96.0.10", Port: 53, Protocol: "UDP",
					Endpoints: []dataplane.Endpoint{{IP: "10.244.1.2", Port: 5353, Ready: true, NodeName: "n1"}}},
				{Namespace: "ns", Name: "dns", PortName: "dns-tcp", ClusterIP: "10.96.0.10", Port: 53, Protocol: "TCP",
					Endpoints: []dataplane.Endpoint{{IP: "10.244.1.2", Port: 5354, Ready: true, NodeName: "n1"}}},
			},
		},
		{
			name: "nodePort, externalIPs, load balancer ingress and affinity",
			svc: service("lb", func(s *corev1.Service) {
				s.Spec.Type = "LoadBalancer"
				s.Spec.Ports[0].NodePort = 30080
				s.Spec.ExternalIps = []string{"192.0.2.1", "2001:db8::1"}
				s.Spec.SessionAffinity = "ClientIP"
				s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIp: &corev1.ClientIPConfig{TimeoutSeconds: ptr(int32(60))}}
				s.Status = &corev1.ServiceStatus{LoadBalancer: &corev1.LoadBalancerStatus{Ingress: []*corev1.LoadBalancerIngress{
					{Ip: "192.0.2.10"}, {Hostname: "lb.example"}, {Ip: "192.0.2.1"},
				}}}
			}),
			eps: endpoints("lb", httpSubset),
			want: []*dataplane.ServicePort{{Namespace: "ns", Name: "lb", PortName: "http", ClusterIP: "10.96.0.10", Port: 80,
				Protocol: "TCP", NodePort: 30080, ExternalIPs: []string{"192.0.2.1", "192.0.2.10"},
				SessionAffinityClientIP: true, AffinityTimeoutSeconds: 60, Endpoints: ready("10.244.1.2", "10.244.2.2")}},
		},
		{
			name: "headless",
			svc:  service("h", func(s *corev1.Service) { s.Spec.ClusterIp = "None" }),
			eps:  endpoints("h", httpSubset),
		},
		{
			name: "ExternalName",
			svc: service("x", func(s *corev1.Service) {
				s.Spec.Type, s.Spec.ClusterIp, s.Spec.ExternalName = "ExternalName", "", "example.com"
			}),
		},
		{
			name: "SCTP port and IPv6 endpoint left out",
			svc: service("web", func(s *corev1.Service) {
				s.Spec.Ports = append(s.Spec.Ports, &corev1.ServicePort{Name: "sctp", Port: 99, Protocol: "SCTP"})
			}),
			eps: endpoints("web", &corev1.EndpointSubset{Addresses: addrs("10.244.1.2", "fd00::2"),
				Ports: []*corev1.EndpointPort{{Name: "http", Port: 8080}}}),
			want: []*dataplane.ServicePort{{Namespace: "ns", Name: "web", PortName: "http", ClusterIP: "10.96.0.10", Port: 80,
				Protocol: "TCP", Endpoints: ready("10.244.1.2")}},
		},
		{
			name: "IPv6 clusterIP without other addresses",
			svc:  service("v6", func(s *corev1.Service) { s.Spec.ClusterIp = "fd00::10" }),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := servicePorts(tc.svc, tc.eps)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d service ports %+v, want %d", len(got), got, len(tc.want))
			}
			for i := range got {
				if !equalPort(got[i], tc.want[i]) {
					t.Errorf("port %d:\n got %+v\nwant %+v", i, got[i], tc.want[i])
				}
				if err := got[i].Validate(dataplane.Key(got[i])); err != nil {
					t.Errorf("port %d invalid: %v", i, err)
				}
			}
		})
	}
}

// equalPort compares everything, endpoint order and node names included.
func equalPort(a, b *dataplane.ServicePort) bool {
	if !dataplane.Equal(a, b) || len(a.Endpoints) != len(b.Endpoints) || a.AffinityTimeoutSeconds != b.AffinityTimeoutSeconds {
		return false
	}
	for i := range a.Endpoints {
		if a.Endpoints[i] != b.Endpoints[i] {
			return false
		}
	}
	return true
}

func TestBuildResolvesConflictsAndReusesPorts(t *testing.T) {
	b := newStateBuilder(testutil.Logger())
	old := service("old", func(s *corev1.Service) {
		s.Spec.ExternalIps = []string{"192.0.2.1"}
		s.Spec.Ports[0].NodePort = 30080
	})
	young := service("young", func(s *corev1.Service) {
		s.Metadata.CreationTimestamp = timestamppb.New(time.Unix(2000, 0))
		s.Spec.ClusterIp = "10.96.0.11"
		s.Spec.ExternalIps = []string{"192.0.2.1", "192.0.2.2"}
		s.Spec.Ports[0].NodePort = 30080
	})
	clash := service("clash", func(s *corev1.Service) {
		s.Metadata.CreationTimestamp = timestamppb.New(time.Unix(3000, 0))
	}) // same clusterIP as old, nothing else
	eps := map[string]*corev1.Endpoints{"old": endpoints("old", &corev1.EndpointSubset{
		Addresses: addrs("10.244.1.2"), Ports: []*corev1.EndpointPort{{Name: "http", Port: 8080}}})}
	get := func(_, name string) (*corev1.Endpoints, bool) { e, ok := eps[name]; return e, ok }

	// Given in any order, the older service wins every address.
	s1 := b.build([]*corev1.Service{clash, young, old}, get)
	if len(s1) != 2 {
		t.Fatalf("state has %d ports, want 2 (clash loses its only address)", len(s1))
	}
	o, y := s1["ns/old:http/TCP"], s1["ns/young:http/TCP"]
	if o == nil || y == nil {
		t.Fatalf("state %v: want old and young", s1)
	}
	if o.NodePort != 30080 || len(o.ExternalIPs) != 1 || len(o.Endpoints) != 1 {
		t.Errorf("old = %+v: want it to keep its nodePort, external IP and endpoint", o)
	}
	if y.NodePort != 0 || len(y.ExternalIPs) != 1 || y.ExternalIPs[0] != "192.0.2.2" || y.ClusterIP != "10.96.0.11" {
		t.Errorf("young = %+v: want only its clusterIP and 192.0.2.2", y)
	}
	if err := s1.Validate(); err != nil {
		t.Fatal(err)
	}

	// Nothing changed: the same pointers. An Endpoints change: a new one.
	s2 := b.build([]*corev1.Service{old, young, clash}, get)
	if s2["ns/old:http/TCP"] != o {
		t.Error("unchanged service got a new service port")
	}
	eps["old"] = endpoints("old", &corev1.EndpointSubset{Addresses: addrs("10.244.1.3"), Ports: []*corev1.EndpointPort{{Name: "http", Port: 8080}}})
	eps["old"].Metadata.ResourceVersion = "2"
	s3 := b.build([]*corev1.Service{old, young, clash}, get)
	if s3["ns/old:http/TCP"] == o || s3["ns/old:http/TCP"].Endpoints[0].IP != "10.244.1.3" {
		t.Errorf("endpoints change not picked up: %+v", s3["ns/old:http/TCP"])
	}
	// A deleted service leaves the cache.
	b.build([]*corev1.Service{young}, get)
	if len(b.cache) != 1 {
		t.Errorf("cache has %d services after all but one were deleted, want 1", len(b.cache))
	}
}

func TestTriggerTime(t *testing.T) {
	at := func(v string) *corev1.Endpoints {
		e := endpoints("e")
		if v != "" {
			e.Metadata.Annotations = map[string]string{TriggerTimeAnnotation: v}
		}
		return e
	}
	ts := "2026-01-02T03:04:05.123456789Z"
	want, _ := time.Parse(time.RFC3339Nano, ts)
	for _, tc := range []struct {
		name     string
		old, cur *corev1.Endpoints
		want     time.Time
	}{
		{"added with annotation", nil, at(ts), want},
		{"changed annotation", at("2026-01-02T03:00:00Z"), at(ts), want},
		{"same annotation: not a new trigger", at(ts), at(ts), time.Time{}},
		{"no annotation", nil, at(""), time.Time{}},
		{"garbage", nil, at("yesterday"), time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := triggerTime(tc.old, tc.cur); !got.Equal(tc.want) {
				t.Fatalf("triggerTime = %v, want %v", got, tc.want)
			}
		})
	}
}

// FuzzServicePorts: whatever the objects hold, the built service ports are
// valid for the data planes.
func FuzzServicePorts(f *testing.F) {
	f.Add("10.96.0.1", "TCP", int32(80), int32(30080), "192.0.2.1", "10.244.1.2", int32(8080), "http", "http", "ClientIP", int32(10))
	f.Add("None", "UDP", int32(53), int32(0), "", "fd00::1", int32(53), "", "", "None", int32(0))
	f.Add("", "SCTP", int32(-1), int32(70000), "x", "10.0.0.1", int32(0), "a", "b", "ClientIP", int32(-5))
	f.Fuzz(func(t *testing.T, cip, proto string, port, nodePort int32, ext, epIP string, epPort int32, portName, epPortName, affinity string, timeout int32) {
		svc := service("f", func(s *corev1.Service) {
			s.Spec.ClusterIp = cip
			s.Spec.Ports = []*corev1.ServicePort{{Name: portName, Port: port, Protocol: proto, NodePort: nodePort}}
			s.Spec.ExternalIps = []string{ext}
			s.Spec.SessionAffinity = affinity
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIp: &corev1.ClientIPConfig{TimeoutSeconds: &timeout}}
		})
		eps := endpoints("f", &corev1.EndpointSubset{Addresses: addrs(epIP),
			Ports: []*corev1.EndpointPort{{Name: epPortName, Port: epPort, Protocol: proto}}})
		state := newStateBuilder(testutil.Logger()).build([]*corev1.Service{svc}, func(string, string) (*corev1.Endpoints, bool) { return eps, true })
		if err := state.Validate(); err != nil {
			t.Fatalf("invalid state from %+v: %v", svc, err)
		}
	})
}
