package manifest

import (
	"sync"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Message types with a manifest shape of their own.
const (
	timestampName   protoreflect.FullName = "google.protobuf.Timestamp"
	intOrStringName protoreflect.FullName = "coxswain.meta.v1.IntOrString"
)

// quantityFields are string fields (or map<string, string> fields) holding Kubernetes resource quantities,
// which manifests may write as numbers ("cpu: 1", "cpu: 0.5"). The text is kept as written.
var quantityFields = map[protoreflect.FullName]bool{
	"coxswain.core.v1.ResourceRequirements.limits":     true,
	"coxswain.core.v1.ResourceRequirements.requests":   true,
	"coxswain.core.v1.NodeStatus.capacity":             true,
	"coxswain.core.v1.NodeStatus.allocatable":          true,
	"coxswain.core.v1.ResourceFieldSelector.divisor":   true,
	"coxswain.core.v1.EmptyDirVolumeSource.size_limit": true,
}

// fieldsByJSONName indexes a message's fields by JSON name, cached per message type.
var fieldIndex sync.Map // protoreflect.FullName -> map[string]protoreflect.FieldDescriptor

func fieldsByJSONName(md protoreflect.MessageDescriptor) map[string]protoreflect.FieldDescriptor {
	if v, ok := fieldIndex.Load(md.FullName()); ok {
		return v.(map[string]protoreflect.FieldDescriptor)
	}
	fds := md.Fields()
	idx := make(map[string]protoreflect.FieldDescriptor, fds.Len())
	for i := 0; i < fds.Len(); i++ {
		fd := fds.Get(i)
		idx[fd.JSONName()] = fd
	}
	fieldIndex.Store(md.FullName(), idx)
	return idx
}
