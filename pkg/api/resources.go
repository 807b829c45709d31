package api

import (
	"fmt"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	coordinationv1 "github.com/coxswain/coxswain/proto/coxswain/coordination/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// Resource describes one kind the apiserver serves.
type Resource struct {
	// Group is the API group ("" for core, "apps", "coordination.k8s.io") and Version its version.
	Group, Version string
	// Kind is the object's kind ("Pod"); Plural the resource name ("pods").
	Kind, Plural string
	// ShortNames are coxctl's abbreviations ("po").
	ShortNames []string
	// Namespaced is false for cluster-scoped kinds (Node, Namespace).
	Namespaced bool
	// HasStatus is true when the kind has a status subresource (UpdateStatus).
	HasStatus bool
	// Service is the full gRPC service name ("coxswain.core.v1.PodService").
	Service string
	// Message is the full protobuf name of the kind ("coxswain.core.v1.Pod").
	Message protoreflect.FullName
}

// APIVersion is the manifest apiVersion: "v1" for core, "apps/v1" otherwise.
func (r *Resource) APIVersion() string {
	if r.Group == "" {
		return r.Version
	}
	return r.Group + "/" + r.Version
}

// GroupResource is "pods" or "deployments.apps", as Kubernetes writes it in messages.
func (r *Resource) GroupResource() string {
	if r.Group == "" {
		return r.Plural
	}
	return r.Plural + "." + r.Group
}

// New returns an empty object of this kind with empty metadata.
func (r *Resource) New() Object {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(r.Message)
	if err != nil {
		panic(fmt.Sprintf("api: message %s not linked: %v", r.Message, err))
	}
	obj := mt.New().Interface().(Object)
	Meta(obj)
	return obj
}

// NewList returns an empty list message ("PodList").
func (r *Resource) NewList() proto.Message { return r.newNamed(r.Message + "List") }

// NewWatchEvent returns an empty watch event message ("PodWatchEvent").
func (r *Resource) NewWatchEvent() proto.Message { return r.newNamed(r.Message + "WatchEvent") }

func (r *Resource) newNamed(name protoreflect.FullName) proto.Message {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(name)
	if err != nil {
		panic(fmt.Sprintf("api: message %s not linked: %v", name, err))
	}
	return mt.New().Interface()
}

// Method is the full gRPC method name for verb ("/coxswain.core.v1.PodService/List").
func (r *Resource) Method(verb string) string { return "/" + r.Service + "/" + verb }

func res(group, kind, plural string, namespaced, status bool, service, msg string, short ...string) *Resource {
	return &Resource{Group: group, Version: "v1", Kind: kind, Plural: plural, ShortNames: short,
		Namespaced: namespaced, HasStatus: status, Service: service, Message: protoreflect.FullName(msg)}
}

// The served resources. Their message types are linked by the imports above.
var (
	Namespaces  = res("", "Namespace", "namespaces", false, true, corev1.NamespaceService_ServiceDesc.ServiceName, "coxswain.core.v1.Namespace", "ns")
	Pods        = res("", "Pod", "pods", true, true, corev1.PodService_ServiceDesc.ServiceName, "coxswain.core.v1.Pod", "po")
	Nodes       = res("", "Node", "nodes", false, true, corev1.NodeService_ServiceDesc.ServiceName, "coxswain.core.v1.Node", "no")
	Services    = res("", "Service", "services", true, true, corev1.ServiceService_ServiceDesc.ServiceName, "coxswain.core.v1.Service", "svc")
	Endpoints   = res("", "Endpoints", "endpoints", true, false, corev1.EndpointsService_ServiceDesc.ServiceName, "coxswain.core.v1.Endpoints", "ep")
	ConfigMaps  = res("", "ConfigMap", "configmaps", true, false, corev1.ConfigMapService_ServiceDesc.ServiceName, "coxswain.core.v1.ConfigMap", "cm")
	Secrets     = res("", "Secret", "secrets", true, false, corev1.SecretService_ServiceDesc.ServiceName, "coxswain.core.v1.Secret")
	Events      = res("", "Event", "events", true, false, corev1.EventService_ServiceDesc.ServiceName, "coxswain.core.v1.Event", "ev")
	ReplicaSets = res("apps", "ReplicaSet", "replicasets", true, true, appsv1.ReplicaSetService_ServiceDesc.ServiceName, "coxswain.apps.v1.ReplicaSet", "rs")
	Deployments = res("apps", "Deployment", "deployments", true, true, appsv1.DeploymentService_ServiceDesc.ServiceName, "coxswain.apps.v1.Deployment", "deploy")
	Leases      = res("coordination.k8s.io", "Lease", "leases", true, false, coordinationv1.LeaseService_ServiceDesc.ServiceName, "coxswain.coordination.v1.Lease")
)

var all = []*Resource{Namespaces, Pods, Nodes, Services, Endpoints, ConfigMaps, Secrets, Events, ReplicaSets, Deployments, Leases}

// All returns every served resource, in a stable order.
func All() []*Resource { return append([]*Resource(nil), all...) }

// ForKind finds a resource by manifest apiVersion and kind.
func ForKind(apiVersion, kind string) (*Resource, error) {
	for _, r := range all {
		if r.Kind == kind {
			if r.APIVersion() != apiVersion {
				return nil, fmt.Errorf("no kind %q is registered for version %q (did you mean %q?)", kind, apiVersion, r.APIVersion())
			}
			return r, nil
		}
	}
	return nil, fmt.Errorf("no kind %q is registered for version %q; supported kinds: %s", kind, apiVersion, kindList())
}

// ForObject finds the resource of a Go object.
func ForObject(obj proto.Message) (*Resource, error) {
	name := obj.ProtoReflect().Descriptor().FullName()
	for _, r := range all {
		if r.Message == name {
			return r, nil
		}
	}
	return nil, fmt.Errorf("%s is not a served kind", name)
}

// Lookup finds a resource by what a user types: plural, singular, kind, short name or "plural.group",
// case-insensitively ("po", "pod", "pods", "Pod", "deployments.apps").
func Lookup(name string) (*Resource, error) {
	n := strings.ToLower(name)
	for _, r := range all {
		if n == r.Plural || n == strings.ToLower(r.Kind) || n == r.GroupResource() ||
			(r.Group != "" && n == strings.ToLower(r.Kind)+"."+r.Group) {
			return r, nil
		}
		for _, s := range r.ShortNames {
			if n == s {
				return r, nil
			}
		}
	}
	return nil, fmt.Errorf("the server doesn't have a resource type %q", name)
}

func kindList() string {
	var ks []string
	for _, r := range all {
		ks = append(ks, r.APIVersion()+"/"+r.Kind)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}
