package validation

import (
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/coxswain/coxswain/pkg/api/validation/field"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// Service types and related values.
const (
	ServiceTypeClusterIP    = "ClusterIP"
	ServiceTypeNodePort     = "NodePort"
	ServiceTypeLoadBalancer = "LoadBalancer"
	ServiceTypeExternalName = "ExternalName"
	ClusterIPNone           = "None"
	// MaxClientIPServiceAffinitySeconds bounds sessionAffinityConfig.clientIP.timeoutSeconds (one day).
	MaxClientIPServiceAffinitySeconds = 86400
)

var (
	supportedServiceTypes    = []string{ServiceTypeClusterIP, ServiceTypeExternalName, ServiceTypeLoadBalancer, ServiceTypeNodePort}
	supportedSessionAffinity = []string{"ClientIP", "None"}
	supportedTrafficPolicies = []string{"Cluster", "Local"}
)

// ValidateService validates a new service: a DNS-1035 name; a known type; ports (required unless the
// service is ExternalName or headless, named and unique when there are several, valid numbers, protocols
// and target ports; node ports only for NodePort and LoadBalancer services); clusterIP (an IP, or "None"
// for a headless ClusterIP service, never for ExternalName); externalName (a DNS name, required for
// ExternalName); session affinity; and the selector.
func ValidateService(svc *corev1.Service) field.ErrorList {
	return validateService(svc, nil)
}

// ValidateServiceUpdate: the service is valid and its clusterIP, once allocated, does not change (except
// when the service becomes or stops being ExternalName).
func ValidateServiceUpdate(svc, old *corev1.Service) field.ErrorList {
	errs := ValidateObjectMetaUpdate(svc.GetMetadata(), old.GetMetadata(), metadataPath)
	errs = append(errs, validateService(svc, old)...)
	s, o := svc.GetSpec(), old.GetSpec()
	if o.GetClusterIp() != "" && s.GetClusterIp() != "" && s.GetClusterIp() != o.GetClusterIp() &&
		s.GetType() != ServiceTypeExternalName && o.GetType() != ServiceTypeExternalName {
		errs = append(errs, field.Invalid(field.NewPath("spec", "clusterIP"), s.GetClusterIp(), fieldImmutableErrMsg))
	}
	return errs
}

// ValidateServiceStatusUpdate validates a service status write: load balancer ingress points are IPs or
// DNS names.
func ValidateServiceStatusUpdate(svc, old *corev1.Service) field.ErrorList {
	errs := ValidateObjectMetaUpdate(svc.GetMetadata(), old.GetMetadata(), metadataPath)
	for i, ing := range svc.GetStatus().GetLoadBalancer().GetIngress() {
		p := field.NewPath("status", "loadBalancer", "ingress").Index(i)
		if ing.GetIp() != "" {
			errs = append(errs, validateIP(ing.GetIp(), p.Child("ip"))...)
		}
		if h := ing.GetHostname(); h != "" {
			errs = append(errs, validateDNS1123Subdomain(h, p.Child("hostname"))...)
			if net.ParseIP(h) != nil {
				errs = append(errs, field.Invalid(p.Child("hostname"), h, "must be a DNS name, not an IP address"))
			}
		}
	}
	return errs
}

// validateService validates svc; old is the stored service on update (nil on create): the node ports of
// a NodePort/LoadBalancer service changing to another type are released by the apiserver, so keeping
// them in the update is not an error.
func validateService(svc, old *corev1.Service) field.ErrorList {
	errs := ValidateObjectMeta(svc.GetMetadata(), true, NameIsDNS1035Label, metadataPath)
	spec := svc.GetSpec()
	specPath := field.NewPath("spec")
	typ := spec.GetType()
	headless := spec.GetClusterIp() == ClusterIPNone
	if !slices.Contains(supportedServiceTypes, typ) {
		errs = append(errs, field.NotSupported(specPath.Child("type"), typ, supportedServiceTypes))
	}

	// clusterIP and externalName.
	cipPath := specPath.Child("clusterIP")
	switch {
	case typ == ServiceTypeExternalName:
		if spec.GetClusterIp() != "" {
			errs = append(errs, field.Forbidden(cipPath, "may not be set for ExternalName services"))
		}
		if len(spec.GetClusterIps()) > 0 {
			errs = append(errs, field.Forbidden(specPath.Child("clusterIPs"), "may not be set for ExternalName services"))
		}
		cname := strings.TrimSuffix(spec.GetExternalName(), ".")
		if cname == "" {
			errs = append(errs, field.Required(specPath.Child("externalName"), ""))
		} else {
			errs = append(errs, validateDNS1123Subdomain(cname, specPath.Child("externalName"))...)
		}
	case headless:
		if typ != ServiceTypeClusterIP && slices.Contains(supportedServiceTypes, typ) {
			errs = append(errs, field.Invalid(cipPath, ClusterIPNone, fmt.Sprintf("may not be set to 'None' for %s services", typ)))
		}
	case spec.GetClusterIp() != "":
		errs = append(errs, validateIP(spec.GetClusterIp(), cipPath)...)
	}
	if typ != ServiceTypeExternalName {
		for i, ip := range spec.GetClusterIps() {
			if ip != ClusterIPNone {
				errs = append(errs, validateIP(ip, specPath.Child("clusterIPs").Index(i))...)
			}
		}
		if ips := spec.GetClusterIps(); len(ips) > 0 && spec.GetClusterIp() != "" && ips[0] != spec.GetClusterIp() {
			errs = append(errs, field.Invalid(specPath.Child("clusterIPs").Index(0), ips[0], "must match `clusterIP`"))
		}
	}

	// Ports.
	portsPath := specPath.Child("ports")
	ports := spec.GetPorts()
	if len(ports) == 0 && !headless && typ != ServiceTypeExternalName {
		errs = append(errs, field.Required(portsPath, ""))
	}
	names := map[string]bool{}
	portKeys := map[string]bool{}
	nodePorts := map[string]bool{}
	oldNodePorts := map[string]int32{}
	for _, p := range old.GetSpec().GetPorts() {
		oldNodePorts[fmt.Sprintf("%d/%s", p.GetPort(), p.GetProtocol())] = p.GetNodePort()
	}
	usesNodePorts := typ == ServiceTypeNodePort || typ == ServiceTypeLoadBalancer
	oldType := old.GetSpec().GetType()
	oldUsedNodePorts := oldType == ServiceTypeNodePort || oldType == ServiceTypeLoadBalancer
	for i, port := range ports {
		p := portsPath.Index(i)
		if name := port.GetName(); name == "" && len(ports) > 1 {
			errs = append(errs, field.Required(p.Child("name"), ""))
		} else if name != "" {
			errs = append(errs, validateDNS1123Label(name, p.Child("name"))...)
			if names[name] {
				errs = append(errs, field.Duplicate(p.Child("name"), name))
			}
			names[name] = true
		}
		for _, msg := range IsValidPortNum(int(port.GetPort())) {
			errs = append(errs, field.Invalid(p.Child("port"), port.GetPort(), msg))
		}
		errs = append(errs, validateProtocol(port.GetProtocol(), p.Child("protocol"))...)
		errs = append(errs, ValidatePortNumOrName(port.GetTargetPort(), p.Child("targetPort"))...)
		if port != nil && port.AppProtocol != nil {
			errs = append(errs, validateQualifiedName(port.GetAppProtocol(), p.Child("appProtocol"))...)
		}
		key := fmt.Sprintf("%d/%s", port.GetPort(), port.GetProtocol())
		if portKeys[key] {
			errs = append(errs, field.Duplicate(p, key))
		}
		portKeys[key] = true

		np := port.GetNodePort()
		if np == 0 {
			continue
		}
		if !usesNodePorts && !(oldUsedNodePorts && oldNodePorts[key] == np) {
			errs = append(errs, field.Forbidden(p.Child("nodePort"), fmt.Sprintf("may not be used when `type` is '%s'", typ)))
			continue
		}
		for _, msg := range IsValidPortNum(int(np)) {
			errs = append(errs, field.Invalid(p.Child("nodePort"), np, msg))
		}
		npKey := fmt.Sprintf("%d/%s", np, port.GetProtocol())
		if usesNodePorts && nodePorts[npKey] {
			errs = append(errs, field.Duplicate(p.Child("nodePort"), np))
		}
		nodePorts[npKey] = true
	}

	errs = append(errs, ValidateLabels(spec.GetSelector(), specPath.Child("selector"))...)

	// Session affinity.
	saPath := specPath.Child("sessionAffinityConfig")
	switch sa := spec.GetSessionAffinity(); sa {
	case "ClientIP":
		cfg := spec.GetSessionAffinityConfig()
		switch {
		case cfg == nil:
			errs = append(errs, field.Required(saPath, "when session affinity type is ClientIP"))
		case cfg.GetClientIp() == nil:
			errs = append(errs, field.Required(saPath.Child("clientIP"), "when session affinity type is ClientIP"))
		case cfg.GetClientIp().TimeoutSeconds == nil:
			errs = append(errs, field.Required(saPath.Child("clientIP", "timeoutSeconds"), "when session affinity type is ClientIP"))
		default:
			if t := cfg.GetClientIp().GetTimeoutSeconds(); t <= 0 || t > MaxClientIPServiceAffinitySeconds {
				errs = append(errs, field.Invalid(saPath.Child("clientIP", "timeoutSeconds"), t,
					fmt.Sprintf("must be greater than 0 and less than or equal to %d", MaxClientIPServiceAffinitySeconds)))
			}
		}
	case "None":
		if spec.GetSessionAffinityConfig() != nil {
			errs = append(errs, field.Forbidden(saPath, "must not be set when session affinity is None"))
		}
	default:
		errs = append(errs, field.NotSupported(specPath.Child("sessionAffinity"), sa, supportedSessionAffinity))
	}

	for i, ip := range spec.GetExternalIps() {
		errs = append(errs, validateIP(ip, specPath.Child("externalIPs").Index(i))...)
	}
	if ip := spec.GetLoadBalancerIp(); ip != "" {
		errs = append(errs, validateIP(ip, specPath.Child("loadBalancerIP"))...)
	}
	for _, f := range []struct{ name, value string }{
		{"externalTrafficPolicy", spec.GetExternalTrafficPolicy()},
		{"internalTrafficPolicy", spec.GetInternalTrafficPolicy()},
	} {
		if f.value != "" && !slices.Contains(supportedTrafficPolicies, f.value) {
			errs = append(errs, field.NotSupported(specPath.Child(f.name), f.value, supportedTrafficPolicies))
		}
	}
	return errs
}

// ---------------------------------------------------------------- Endpoints

// ValidateEndpoints: every subset has addresses (ready or not); addresses are IPs that are not
// unspecified or link-local, with optional DNS-label hostnames and DNS-subdomain node names;
// ports are valid, with protocols, and named when there are several.
func ValidateEndpoints(ep *corev1.Endpoints) field.ErrorList {
	errs := ValidateObjectMeta(ep.GetMetadata(), true, NameIsDNSSubdomain, metadataPath)
	for i, ss := range ep.GetSubsets() {
		p := field.NewPath("subsets").Index(i)
		if len(ss.GetAddresses()) == 0 && len(ss.GetNotReadyAddresses()) == 0 {
			errs = append(errs, field.Required(p, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j, a := range ss.GetAddresses() {
			errs = append(errs, validateEndpointAddress(a, p.Child("addresses").Index(j))...)
		}
		for j, a := range ss.GetNotReadyAddresses() {
			errs = append(errs, validateEndpointAddress(a, p.Child("notReadyAddresses").Index(j))...)
		}
		names := map[string]bool{}
		for j, port := range ss.GetPorts() {
			pp := p.Child("ports").Index(j)
			if name := port.GetName(); name == "" && len(ss.GetPorts()) > 1 {
				errs = append(errs, field.Required(pp.Child("name"), ""))
			} else if name != "" {
				errs = append(errs, validateDNS1123Label(name, pp.Child("name"))...)
				if names[name] {
					errs = append(errs, field.Duplicate(pp.Child("name"), name))
				}
				names[name] = true
			}
			for _, msg := range IsValidPortNum(int(port.GetPort())) {
				errs = append(errs, field.Invalid(pp.Child("port"), port.GetPort(), msg))
			}
			errs = append(errs, validateProtocol(port.GetProtocol(), pp.Child("protocol"))...)
		}
	}
	return errs
}

func validateEndpointAddress(a *corev1.EndpointAddress, path *field.Path) field.ErrorList {
	errs := validateIP(a.GetIp(), path.Child("ip"))
	if len(errs) == 0 {
		errs = append(errs, validateNonSpecialIP(a.GetIp(), path.Child("ip"))...)
	}
	if h := a.GetHostname(); h != "" {
		errs = append(errs, validateDNS1123Label(h, path.Child("hostname"))...)
	}
	if a != nil && a.NodeName != nil {
		errs = append(errs, validateDNS1123Subdomain(a.GetNodeName(), path.Child("nodeName"))...)
	}
	return errs
}

// validateNonSpecialIP refuses addresses that cannot be an endpoint: unspecified, link-local. Unlike
// Kubernetes, loopback addresses are allowed: the process runtime gives each pod its own 127.x.y.z address
// and the userspace proxy forwards to it.
func validateNonSpecialIP(s string, path *field.Path) field.ErrorList {
	ip := net.ParseIP(s)
	var msg string
	switch {
	case ip.IsUnspecified():
		msg = fmt.Sprintf("may not be unspecified (%v)", s)
	case ip.IsLinkLocalUnicast():
		msg = "may not be in the link-local range (169.254.0.0/16, fe80::/10)"
	case ip.IsLinkLocalMulticast():
		msg = "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"
	default:
		return nil
	}
	return field.ErrorList{field.Invalid(path, s, msg)}
}

// ValidateEndpointsUpdate validates an endpoints update.
func ValidateEndpointsUpdate(ep, old *corev1.Endpoints) field.ErrorList {
	errs := ValidateObjectMetaUpdate(ep.GetMetadata(), old.GetMetadata(), metadataPath)
	return append(errs, ValidateEndpoints(ep)...)
}
