package validation

import (
	"testing"

	"google.golang.org/protobuf/proto"

	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

func validService() *corev1.Service {
	return &corev1.Service{Metadata: meta("web"), Spec: &corev1.ServiceSpec{
		Type: "ClusterIP", ClusterIp: "10.96.0.10", ClusterIps: []string{"10.96.0.10"}, SessionAffinity: "None",
		Selector: map[string]string{"app": "web"}, InternalTrafficPolicy: "Cluster",
		Ports: []*corev1.ServicePort{
			{Name: "http", Protocol: "TCP", Port: 80, TargetPort: intOrStr("http")},
			{Name: "dns", Protocol: "UDP", Port: 53, TargetPort: intOrStr(5353), AppProtocol: proto.String("dns")},
		}}}
}

func nodePortService() *corev1.Service {
	s := validService()
	s.Spec.Type, s.Spec.ExternalTrafficPolicy = "NodePort", "Local"
	s.Spec.Ports[0].NodePort, s.Spec.Ports[1].NodePort = 30080, 30053
	return s
}

func TestService(t *testing.T) {
	ports := func(s *corev1.Service) []*corev1.ServicePort { return s.Spec.Ports }
	runCreateCases(t, validService, ValidateService, []kindCase[*corev1.Service]{
		{name: "name starts with digit", mutate: func(s *corev1.Service) { s.Metadata.Name = "1web" }, want: []string{"metadata.name: Invalid value"},
			msgs: []string{`metadata.name: Invalid value: "1web": ` + dns1035Msg}},
		{name: "dotted name", mutate: func(s *corev1.Service) { s.Metadata.Name = "web.v1" }, want: []string{"metadata.name: Invalid value"}},
		{name: "allocated later", mutate: func(s *corev1.Service) { s.Spec.ClusterIp, s.Spec.ClusterIps = "", nil }},
		{name: "no ports", mutate: func(s *corev1.Service) { s.Spec.Ports = nil }, want: []string{"spec.ports: Required value"}},
		{name: "headless without ports", mutate: func(s *corev1.Service) {
			s.Spec.Ports, s.Spec.ClusterIp, s.Spec.ClusterIps = nil, "None", []string{"None"}
		}},
		{name: "type", mutate: func(s *corev1.Service) { s.Spec.Type = "Ingress" }, want: []string{"spec.type: Unsupported value"},
			msgs: []string{`spec.type: Unsupported value: "Ingress": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`}},
		{name: "unnamed port among several", mutate: func(s *corev1.Service) { ports(s)[1].Name = "" }, want: []string{"spec.ports[1].name: Required value"}},
		{name: "one unnamed port", mutate: func(s *corev1.Service) { s.Spec.Ports = s.Spec.Ports[:1]; ports(s)[0].Name = "" }},
		{name: "duplicate port name", mutate: func(s *corev1.Service) { ports(s)[1].Name = "http" }, want: []string{"spec.ports[1].name: Duplicate value"}},
		{name: "port name", mutate: func(s *corev1.Service) { ports(s)[1].Name = "DNS" }, want: []string{"spec.ports[1].name: Invalid value"}},
		{name: "port", mutate: func(s *corev1.Service) { ports(s)[0].Port = 0 }, want: []string{"spec.ports[0].port: Invalid value"},
			msgs: []string{"spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"}},
		{name: "duplicate port", mutate: func(s *corev1.Service) { ports(s)[1].Port, ports(s)[1].Protocol = 80, "TCP" }, want: []string{"spec.ports[1]: Duplicate value"},
			msgs: []string{`spec.ports[1]: Duplicate value: "80/TCP"`}},
		{name: "same port other protocol", mutate: func(s *corev1.Service) { ports(s)[1].Port = 80 }},
		{name: "protocol", mutate: func(s *corev1.Service) { ports(s)[0].Protocol = "HTTP" }, want: []string{"spec.ports[0].protocol: Unsupported value"}},
		{name: "target port number", mutate: func(s *corev1.Service) { ports(s)[1].TargetPort = intOrStr(70000) }, want: []string{"spec.ports[1].targetPort: Invalid value"}},
		{name: "target port name", mutate: func(s *corev1.Service) { ports(s)[0].TargetPort = intOrStr("-http") }, want: []string{"spec.ports[0].targetPort: Invalid value"}},
		{name: "no target port", mutate: func(s *corev1.Service) { ports(s)[0].TargetPort = nil }, want: []string{"spec.ports[0].targetPort: Required value"}},
		{name: "app protocol", mutate: func(s *corev1.Service) { ports(s)[1].AppProtocol = proto.String("a b") }, want: []string{"spec.ports[1].appProtocol: Invalid value"}},
		{name: "node port on ClusterIP", mutate: func(s *corev1.Service) { ports(s)[0].NodePort = 30080 }, want: []string{"spec.ports[0].nodePort: Forbidden"},
			msgs: []string{"spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"}},
		{name: "cluster IP", mutate: func(s *corev1.Service) { s.Spec.ClusterIp, s.Spec.ClusterIps = "10.96.0.300", nil }, want: []string{"spec.clusterIP: Invalid value"}},
		{name: "cluster IPs mismatch", mutate: func(s *corev1.Service) { s.Spec.ClusterIps = []string{"10.96.0.11"} }, want: []string{"spec.clusterIPs[0]: Invalid value"}},
		{name: "headless NodePort", mutate: func(s *corev1.Service) { s.Spec.Type, s.Spec.ClusterIp, s.Spec.ClusterIps = "NodePort", "None", nil },
			want: []string{"spec.clusterIP: Invalid value"}, msgs: []string{`spec.clusterIP: Invalid value: "None": may not be set to 'None' for NodePort services`}},
		{name: "ExternalName", mutate: func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ClusterIp, s.Spec.ClusterIps, s.Spec.ExternalName, s.Spec.Ports = "ExternalName", "", nil, "db.example.com.", nil
		}},
		{name: "ExternalName without name", mutate: func(s *corev1.Service) { s.Spec.Type, s.Spec.ClusterIp, s.Spec.ClusterIps = "ExternalName", "", nil },
			want: []string{"spec.externalName: Required value"}},
		{name: "ExternalName with cluster IP", mutate: func(s *corev1.Service) { s.Spec.Type, s.Spec.ExternalName = "ExternalName", "db.example.com" },
			want: []string{"spec.clusterIP: Forbidden", "spec.clusterIPs: Forbidden"}},
		{name: "ExternalName bad name", mutate: func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ClusterIp, s.Spec.ClusterIps, s.Spec.ExternalName = "ExternalName", "", nil, "db_1.example.com"
		}, want: []string{"spec.externalName: Invalid value"}},
		{name: "session affinity", mutate: func(s *corev1.Service) { s.Spec.SessionAffinity = "Sticky" }, want: []string{"spec.sessionAffinity: Unsupported value"}},
		{name: "client IP affinity", mutate: func(s *corev1.Service) {
			s.Spec.SessionAffinity = "ClientIP"
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIp: &corev1.ClientIPConfig{TimeoutSeconds: proto.Int32(86400)}}
		}},
		{name: "client IP affinity timeout", mutate: func(s *corev1.Service) {
			s.Spec.SessionAffinity = "ClientIP"
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIp: &corev1.ClientIPConfig{TimeoutSeconds: proto.Int32(86401)}}
		}, want: []string{"spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value"}},
		{name: "client IP affinity zero timeout", mutate: func(s *corev1.Service) {
			s.Spec.SessionAffinity = "ClientIP"
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIp: &corev1.ClientIPConfig{TimeoutSeconds: proto.Int32(0)}}
		}, want: []string{"spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value"}},
		{name: "client IP affinity without config", mutate: func(s *corev1.Service) { s.Spec.SessionAffinity = "ClientIP" },
			want: []string{"spec.sessionAffinityConfig: Required value"}},
		{name: "affinity config without ClientIP", mutate: func(s *corev1.Service) { s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{} },
			want: []string{"spec.sessionAffinityConfig: Forbidden"}},
		{name: "selector", mutate: func(s *corev1.Service) { s.Spec.Selector["app"] = "web app" }, want: []string{"spec.selector[app]: Invalid value"}},
		{name: "external IP", mutate: func(s *corev1.Service) { s.Spec.ExternalIps = []string{"1.2.3.4", "x"} }, want: []string{"spec.externalIPs[1]: Invalid value"}},
		{name: "traffic policy", mutate: func(s *corev1.Service) { s.Spec.InternalTrafficPolicy = "Nearest" }, want: []string{"spec.internalTrafficPolicy: Unsupported value"}},
	})
	runCreateCases(t, nodePortService, ValidateService, []kindCase[*corev1.Service]{
		{name: "node port range", mutate: func(s *corev1.Service) { ports(s)[0].NodePort = 70000 }, want: []string{"spec.ports[0].nodePort: Invalid value"}},
		{name: "duplicate node port", mutate: func(s *corev1.Service) { ports(s)[1].NodePort, ports(s)[1].Protocol = 30080, "TCP" },
			want: []string{"spec.ports[1].nodePort: Duplicate value"}},
		{name: "LoadBalancer", mutate: func(s *corev1.Service) { s.Spec.Type, s.Spec.LoadBalancerIp = "LoadBalancer", "192.0.2.10" }},
		{name: "load balancer IP", mutate: func(s *corev1.Service) { s.Spec.Type, s.Spec.LoadBalancerIp = "LoadBalancer", "lb" },
			want: []string{"spec.loadBalancerIP: Invalid value"}},
		{name: "external traffic policy", mutate: func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = "Global" },
			want: []string{"spec.externalTrafficPolicy: Unsupported value"}},
	})
}

func TestServiceUpdate(t *testing.T) {
	runUpdateCases(t, validService, ValidateObjectUpdate, []updateCase[*corev1.Service]{
		{name: "ports", mutate: func(s *corev1.Service) { s.Spec.Ports[0].Port = 8080 }},
		{name: "cluster IP kept by the apiserver", mutate: func(s *corev1.Service) { s.Spec.ClusterIp, s.Spec.ClusterIps = "", nil }},
		{name: "cluster IP changed", mutate: func(s *corev1.Service) { s.Spec.ClusterIp, s.Spec.ClusterIps = "10.96.0.11", nil },
			want: []string{"spec.clusterIP: Invalid value"}, msgs: []string{`spec.clusterIP: Invalid value: "10.96.0.11": field is immutable`}},
		{name: "to headless", mutate: func(s *corev1.Service) { s.Spec.ClusterIp, s.Spec.ClusterIps = "None", nil }, want: []string{"spec.clusterIP: Invalid value"}},
		{name: "to ExternalName", mutate: func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ClusterIp, s.Spec.ClusterIps, s.Spec.ExternalName = "ExternalName", "", nil, "db.example.com"
		}},
		{name: "from ExternalName", old: func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ClusterIp, s.Spec.ClusterIps, s.Spec.ExternalName = "ExternalName", "", nil, "db.example.com"
		}, mutate: func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ClusterIp, s.Spec.ExternalName = "ClusterIP", "10.96.0.12", ""
		}},
		{name: "to NodePort", mutate: func(s *corev1.Service) { s.Spec.Type = "NodePort" }},
	})
	runUpdateCases(t, nodePortService, ValidateObjectUpdate, []updateCase[*corev1.Service]{
		// The apiserver releases node ports when the type changes: the stored values are not an error.
		{name: "back to ClusterIP", mutate: func(s *corev1.Service) { s.Spec.Type, s.Spec.ExternalTrafficPolicy = "ClusterIP", "" }},
		{name: "back to ClusterIP with a new node port", mutate: func(s *corev1.Service) { s.Spec.Type, s.Spec.Ports[0].NodePort = "ClusterIP", 30081 },
			want: []string{"spec.ports[0].nodePort: Forbidden"}},
	})
	runUpdateCases(t, validService, ValidateStatusUpdate, []updateCase[*corev1.Service]{
		{name: "ingress", mutate: func(s *corev1.Service) {
			s.Status = &corev1.ServiceStatus{LoadBalancer: &corev1.LoadBalancerStatus{Ingress: []*corev1.LoadBalancerIngress{{Ip: "192.0.2.1"}, {Hostname: "lb.example.com"}}}}
		}},
		{name: "bad ingress", mutate: func(s *corev1.Service) {
			s.Status = &corev1.ServiceStatus{LoadBalancer: &corev1.LoadBalancerStatus{Ingress: []*corev1.LoadBalancerIngress{{Ip: "x"}, {Hostname: "192.0.2.1"}}}}
		}, want: []string{"status.loadBalancer.ingress[0].ip: Invalid value", "status.loadBalancer.ingress[1].hostname: Invalid value"}},
	})
}

func TestEndpoints(t *testing.T) {
	valid := func() *corev1.Endpoints {
		return &corev1.Endpoints{Metadata: meta("web"), Subsets: []*corev1.EndpointSubset{{
			Addresses: []*corev1.EndpointAddress{{Ip: "10.244.1.5", NodeName: proto.String("node-1"),
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "web-1", Namespace: "default"}}, {Ip: "fd00::5", Hostname: "web-2"}},
			NotReadyAddresses: []*corev1.EndpointAddress{{Ip: "10.244.2.7"}},
			Ports:             []*corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: "TCP"}, {Name: "dns", Port: 53, Protocol: "UDP"}},
		}}}
	}
	ss := func(e *corev1.Endpoints) *corev1.EndpointSubset { return e.Subsets[0] }
	runCreateCases(t, valid, ValidateEndpoints, []kindCase[*corev1.Endpoints]{
		{name: "empty", mutate: func(e *corev1.Endpoints) { e.Subsets = nil }},
		{name: "no addresses", mutate: func(e *corev1.Endpoints) { ss(e).Addresses, ss(e).NotReadyAddresses = nil, nil }, want: []string{"subsets[0]: Required value"}},
		{name: "IP", mutate: func(e *corev1.Endpoints) { ss(e).Addresses[0].Ip = "10.244.1" }, want: []string{"subsets[0].addresses[0].ip: Invalid value"}},
		// Loopback is allowed (unlike Kubernetes): the process runtime's pods have 127.x.y.z addresses.
		{name: "loopback allowed", mutate: func(e *corev1.Endpoints) { ss(e).NotReadyAddresses[0].Ip = "127.100.0.5" }},
		{name: "link local", mutate: func(e *corev1.Endpoints) { ss(e).Addresses[1].Ip = "fe80::1" }, want: []string{"subsets[0].addresses[1].ip: Invalid value"}},
		{name: "unspecified", mutate: func(e *corev1.Endpoints) { ss(e).Addresses[1].Ip = "0.0.0.0" }, want: []string{"subsets[0].addresses[1].ip: Invalid value"}},
		{name: "hostname", mutate: func(e *corev1.Endpoints) { ss(e).Addresses[1].Hostname = "web.2" }, want: []string{"subsets[0].addresses[1].hostname: Invalid value"}},
		{name: "node name", mutate: func(e *corev1.Endpoints) { ss(e).Addresses[0].NodeName = proto.String("") }, want: []string{"subsets[0].addresses[0].nodeName: Invalid value"}},
		{name: "port", mutate: func(e *corev1.Endpoints) { ss(e).Ports[0].Port = 0 }, want: []string{"subsets[0].ports[0].port: Invalid value"}},
		{name: "port protocol", mutate: func(e *corev1.Endpoints) { ss(e).Ports[1].Protocol = "" }, want: []string{"subsets[0].ports[1].protocol: Required value"}},
		{name: "port name required", mutate: func(e *corev1.Endpoints) { ss(e).Ports[1].Name = "" }, want: []string{"subsets[0].ports[1].name: Required value"}},
		{name: "duplicate port name", mutate: func(e *corev1.Endpoints) { ss(e).Ports[1].Name = "http" }, want: []string{"subsets[0].ports[1].name: Duplicate value"}},
		{name: "headless without ports", mutate: func(e *corev1.Endpoints) { ss(e).Ports = nil }},
	})
}

// TestLabelSelectorMatches checks the matcher used for workload templates against the selector semantics.
func TestLabelSelectorMatches(t *testing.T) {
	labels := map[string]string{"app": "web", "tier": "front"}
	for _, tc := range []struct {
		sel  *metav1.LabelSelector
		want bool
	}{
		{&metav1.LabelSelector{}, true},
		{&metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, true},
		{&metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}, false},
		{&metav1.LabelSelector{MatchLabels: map[string]string{"env": ""}}, false},
		{&metav1.LabelSelector{MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "tier", Operator: "In", Values: []string{"front", "back"}}}}, true},
		{&metav1.LabelSelector{MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "tier", Operator: "NotIn", Values: []string{"front"}}}}, false},
		{&metav1.LabelSelector{MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "env", Operator: "NotIn", Values: []string{"prod"}}}}, true},
		{&metav1.LabelSelector{MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "env", Operator: "In", Values: []string{"prod"}}}}, false},
		{&metav1.LabelSelector{MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "app", Operator: "Exists"}}}, true},
		{&metav1.LabelSelector{MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "app", Operator: "DoesNotExist"}}}, false},
		{&metav1.LabelSelector{MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "env", Operator: "DoesNotExist"}}}, true},
	} {
		if got := labelSelectorMatches(tc.sel, labels); got != tc.want {
			t.Errorf("%v matches %v = %v, want %v", selectorValue{tc.sel}, labels, got, tc.want)
		}
	}
}
