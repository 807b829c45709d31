package defaults

import (
	"strings"

	"github.com/coxswain/coxswain/pkg/api"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Kubernetes' default values.
const (
	RestartPolicyAlways           = "Always"
	DNSClusterFirst               = "ClusterFirst"
	TerminationGracePeriodSeconds = int64(30)
	DefaultSchedulerName          = "default-scheduler"
	PullAlways                    = "Always"
	PullIfNotPresent              = "IfNotPresent"
	TerminationMessagePath        = "/dev/termination-log"
	ProtocolTCP                   = "TCP"
	ProbeTimeoutSeconds           = int32(1)
	ProbePeriodSeconds            = int32(10)
	ProbeSuccessThreshold         = int32(1)
	ProbeFailureThreshold         = int32(3)
	URISchemeHTTP                 = "HTTP"
	TolerationOpEqual             = "Equal"
	VolumeDefaultMode             = int32(0o644)
	ServiceTypeClusterIP          = "ClusterIP"
	ServiceTypeNodePort           = "NodePort"
	ServiceTypeLoadBalancer       = "LoadBalancer"
	ServiceTypeExternalName       = "ExternalName"
	ServiceAffinityNone           = "None"
	ServiceAffinityClientIP       = "ClientIP"
	ClientIPTimeoutSeconds        = int32(10800)
	TrafficPolicyCluster          = "Cluster"
	SecretTypeOpaque              = "Opaque"
	NamespaceActive               = "Active"
	EventTypeNormal               = "Normal"
	Replicas                      = int32(1)
	RollingUpdateDeploymentType   = "RollingUpdate"
	MaxSurge                      = "25%"
	MaxUnavailable                = "25%"
	RevisionHistoryLimit          = int32(10)
	ProgressDeadlineSeconds       = int32(600)
)

// Apply fills obj's unset fields with their defaults, in place. Kinds without defaults (ConfigMap, Lease) and
// types it does not know are left alone.
func Apply(obj api.Object) {
	switch o := obj.(type) {
	case *corev1.Pod:
		if o.Spec == nil {
			o.Spec = &corev1.PodSpec{}
		}
		podSpec(o.Spec)
	case *corev1.PodTemplateSpec:
		podTemplate(o)
	case *appsv1.ReplicaSet:
		if o.Spec == nil {
			o.Spec = &appsv1.ReplicaSetSpec{}
		}
		if o.Spec.Replicas == nil {
			o.Spec.Replicas = ptr(Replicas)
		}
		if o.Spec.Template != nil {
			podTemplate(o.Spec.Template)
		}
	case *appsv1.Deployment:
		deployment(o)
	case *corev1.Service:
		service(o)
	case *corev1.Endpoints:
		for _, s := range o.Subsets {
			for _, p := range s.Ports {
				if p.Protocol == "" {
					p.Protocol = ProtocolTCP
				}
			}
		}
	case *corev1.Secret:
		if o.Type == "" {
			o.Type = SecretTypeOpaque
		}
		if len(o.StringData) > 0 {
			if o.Data == nil {
				o.Data = make(map[string][]byte, len(o.StringData))
			}
			for k, v := range o.StringData {
				o.Data[k] = []byte(v)
			}
		}
		o.StringData = nil
	case *corev1.Namespace:
		if o.Status == nil {
			o.Status = &corev1.NamespaceStatus{}
		}
		if o.Status.Phase == "" {
			o.Status.Phase = NamespaceActive
		}
	case *corev1.Node:
		if st := o.Status; st != nil && len(st.Allocatable) == 0 && len(st.Capacity) > 0 {
			st.Allocatable = make(map[string]string, len(st.Capacity))
			for k, v := range st.Capacity {
				st.Allocatable[k] = v
			}
		}
	case *corev1.Event:
		if o.Type == "" {
			o.Type = EventTypeNormal
		}
	}
}

func podTemplate(t *corev1.PodTemplateSpec) {
	if t.Spec == nil {
		t.Spec = &corev1.PodSpec{}
	}
	podSpec(t.Spec)
}

func podSpec(s *corev1.PodSpec) {
	if s.RestartPolicy == "" {
		s.RestartPolicy = RestartPolicyAlways
	}
	if s.DnsPolicy == "" {
		s.DnsPolicy = DNSClusterFirst
	}
	if s.TerminationGracePeriodSeconds == nil {
		s.TerminationGracePeriodSeconds = ptr(TerminationGracePeriodSeconds)
	}
	if s.SchedulerName == "" {
		s.SchedulerName = DefaultSchedulerName
	}
	if s.EnableServiceLinks == nil {
		s.EnableServiceLinks = ptr(true)
	}
	for _, c := range s.InitContainers {
		container(c, s.HostNetwork)
	}
	for _, c := range s.Containers {
		container(c, s.HostNetwork)
	}
	for _, t := range s.Tolerations {
		if t.Operator == "" {
			t.Operator = TolerationOpEqual
		}
	}
	for _, v := range s.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.DefaultMode == nil {
			v.ConfigMap.DefaultMode = ptr(VolumeDefaultMode)
		}
		if v.Secret != nil && v.Secret.DefaultMode == nil {
			v.Secret.DefaultMode = ptr(VolumeDefaultMode)
		}
	}
}

func container(c *corev1.Container, hostNetwork bool) {
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = PullPolicy(c.Image)
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = TerminationMessagePath
	}
	for _, p := range c.Ports {
		if p.Protocol == "" {
			p.Protocol = ProtocolTCP
		}
		if hostNetwork && p.HostPort == 0 {
			p.HostPort = p.ContainerPort
		}
	}
	for _, e := range c.Env {
		if f := e.GetValueFrom().GetFieldRef(); f != nil && f.ApiVersion == "" {
			f.ApiVersion = "v1"
		}
	}
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		probe(p)
	}
	if l := c.Lifecycle; l != nil {
		httpGet(l.PostStart.GetHttpGet())
		httpGet(l.PreStop.GetHttpGet())
	}
}

// PullPolicy is the default imagePullPolicy of an image: Always for a :latest or untagged image (without a
// digest), IfNotPresent otherwise.
func PullPolicy(image string) string {
	if image == "" {
		return PullIfNotPresent
	}
	ref, _, hasDigest := strings.Cut(image, "@")
	tag := ""
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		tag = ref[i+1:]
	}
	if tag == "latest" || tag == "" && !hasDigest {
		return PullAlways
	}
	return PullIfNotPresent
}

func probe(p *corev1.Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = ProbeTimeoutSeconds
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = ProbePeriodSeconds
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = ProbeSuccessThreshold
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = ProbeFailureThreshold
	}
	httpGet(p.HttpGet)
}

func httpGet(h *corev1.HTTPGetAction) {
	if h == nil {
		return
	}
	if h.Path == "" {
		h.Path = "/"
	}
	if h.Scheme == "" {
		h.Scheme = URISchemeHTTP
	}
}

func deployment(d *appsv1.Deployment) {
	if d.Spec == nil {
		d.Spec = &appsv1.DeploymentSpec{}
	}
	s := d.Spec
	if s.Replicas == nil {
		s.Replicas = ptr(Replicas)
	}
	if s.Strategy == nil {
		s.Strategy = &appsv1.DeploymentStrategy{}
	}
	if s.Strategy.Type == "" {
		s.Strategy.Type = RollingUpdateDeploymentType
	}
	if s.Strategy.Type == RollingUpdateDeploymentType {
		if s.Strategy.RollingUpdate == nil {
			s.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		ru := s.Strategy.RollingUpdate
		if ru.MaxUnavailable == nil {
			ru.MaxUnavailable = &metav1.IntOrString{Value: &metav1.IntOrString_StrVal{StrVal: MaxUnavailable}}
		}
		if ru.MaxSurge == nil {
			ru.MaxSurge = &metav1.IntOrString{Value: &metav1.IntOrString_StrVal{StrVal: MaxSurge}}
		}
	}
	if s.RevisionHistoryLimit == nil {
		s.RevisionHistoryLimit = ptr(RevisionHistoryLimit)
	}
	if s.ProgressDeadlineSeconds == nil {
		s.ProgressDeadlineSeconds = ptr(ProgressDeadlineSeconds)
	}
	if s.Template != nil {
		podTemplate(s.Template)
	}
}

func service(svc *corev1.Service) {
	if svc.Spec == nil {
		svc.Spec = &corev1.ServiceSpec{}
	}
	s := svc.Spec
	if s.Type == "" {
		s.Type = ServiceTypeClusterIP
	}
	if s.SessionAffinity == "" {
		s.SessionAffinity = ServiceAffinityNone
	}
	for _, p := range s.Ports {
		if p.Protocol == "" {
			p.Protocol = ProtocolTCP
		}
		if isZero(p.TargetPort) {
			p.TargetPort = &metav1.IntOrString{Value: &metav1.IntOrString_IntVal{IntVal: p.Port}}
		}
	}
	if (s.Type == ServiceTypeNodePort || s.Type == ServiceTypeLoadBalancer) && s.ExternalTrafficPolicy == "" {
		s.ExternalTrafficPolicy = TrafficPolicyCluster
	}
	if s.Type != ServiceTypeExternalName && s.InternalTrafficPolicy == "" {
		s.InternalTrafficPolicy = TrafficPolicyCluster
	}
	if s.Type == ServiceTypeLoadBalancer && s.AllocateLoadBalancerNodePorts == nil {
		s.AllocateLoadBalancerNodePorts = ptr(true)
	}
	if s.SessionAffinity == ServiceAffinityClientIP {
		if s.SessionAffinityConfig == nil {
			s.SessionAffinityConfig = &corev1.SessionAffinityConfig{}
		}
		if s.SessionAffinityConfig.ClientIp == nil {
			s.SessionAffinityConfig.ClientIp = &corev1.ClientIPConfig{}
		}
		if s.SessionAffinityConfig.ClientIp.TimeoutSeconds == nil {
			s.SessionAffinityConfig.ClientIp.TimeoutSeconds = ptr(ClientIPTimeoutSeconds)
		}
	}
}

// isZero reports whether an IntOrString is unset, 0 or "" (Kubernetes' "targetPort not given").
func isZero(v *metav1.IntOrString) bool {
	switch x := v.GetValue().(type) {
	case *metav1.IntOrString_IntVal:
		return x.IntVal == 0
	case *metav1.IntOrString_StrVal:
		return x.StrVal == ""
	}
	return true
}

func ptr[T any](v T) *T { return &v }
