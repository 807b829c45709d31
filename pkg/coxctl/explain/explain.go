// Package explain documents the fields of coxswain's kinds from their protobuf descriptors, as kubectl
// explain does from the OpenAPI schema: the kind, the field's type and its sub-fields with their types,
// by manifest (JSON) name. The generated descriptors carry no source comments, so descriptions are limited
// to the kinds' one-line summaries.
package explain

import (
	"fmt"
	"io"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/coxswain/coxswain/pkg/api"
)

// kindDescriptions are the one-line summaries of the kinds.
var kindDescriptions = map[string]string{
	"Namespace":  "Namespace provides a scope for Names. Use of multiple namespaces is optional.",
	"Pod":        "Pod is a collection of containers that can run on a host. This resource is created by clients and scheduled onto hosts.",
	"Node":       "Node is a worker node in coxswain. Each node has a unique identifier in the cache (i.e. in etcd).",
	"Service":    "Service is a named abstraction of software service (for example, mysql) consisting of local port (for example 3306) that the proxy listens on, and the selector that determines which pods will answer requests sent through the proxy.",
	"Endpoints":  "Endpoints is a collection of endpoints that implement the actual service.",
	"ConfigMap":  "ConfigMap holds configuration data for pods to consume.",
	"Secret":     "Secret holds secret data of a certain type. The total bytes of the values in the Data field must be less than the maximum message size.",
	"Event":      "Event is a report of an event somewhere in the cluster.",
	"ReplicaSet": "ReplicaSet ensures that a specified number of pod replicas are running at any given time.",
	"Deployment": "Deployment enables declarative updates for Pods and ReplicaSets.",
	"Lease":      "Lease defines a lease concept: node heartbeats and leader election locks.",
}

// Options select what Explain prints.
type Options struct {
	// Recursive prints every nested field, indented, instead of one level.
	Recursive bool
}

// Explain prints the documentation of path, "pods" or "deploy.spec.template.spec.containers".
func Explain(w io.Writer, path string, opts Options) error {
	parts := strings.Split(path, ".")
	// "deployments.apps.spec": the resource may carry its group.
	if len(parts) > 1 {
		if r, err := api.Lookup(parts[0] + "." + parts[1]); err == nil && r.Group == parts[1] {
			parts = append([]string{parts[0] + "." + parts[1]}, parts[2:]...)
		}
	}
	r, err := api.Lookup(parts[0])
	if err != nil {
		return err
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(r.Message)
	if err != nil {
		return fmt.Errorf("no schema for %s: %w", r.Kind, err)
	}
	md := mt.Descriptor()
	fmt.Fprintf(w, "KIND:       %s\n", r.Kind)
	if r.Group != "" {
		fmt.Fprintf(w, "GROUP:      %s\n", r.Group)
	}
	fmt.Fprintf(w, "VERSION:    %s\n\n", r.Version)
	var field protoreflect.FieldDescriptor
	walked := []string{}
	for _, name := range parts[1:] {
		if md == nil {
			return fmt.Errorf("field %q does not exist: %s is not an object", name, strings.Join(walked, "."))
		}
		fd := byJSONName(md, name)
		if fd == nil {
			return fmt.Errorf("field %q does not exist in %s", name, strings.Join(append([]string{r.Kind}, walked...), "."))
		}
		walked = append(walked, name)
		field = fd
		md = objectOf(fd)
	}
	if field == nil {
		fmt.Fprintf(w, "DESCRIPTION:\n    %s\n\n", kindDescriptions[r.Kind])
	} else {
		fmt.Fprintf(w, "FIELD: %s <%s>\n\n", field.JSONName(), TypeName(field))
		fmt.Fprintf(w, "DESCRIPTION:\n    %s\n\n", describeField(field))
	}
	if md == nil {
		return nil
	}
	fmt.Fprintln(w, "FIELDS:")
	if field == nil {
		fmt.Fprintf(w, "  apiVersion\t<string>\n    APIVersion defines the versioned schema of this representation of an object: %s\n\n", r.APIVersion())
		fmt.Fprintf(w, "  kind\t<string>\n    Kind is the type of the object: %s\n\n", r.Kind)
	}
	fields(w, md, 1, opts.Recursive, map[protoreflect.FullName]bool{md.FullName(): true})
	return nil
}

func byJSONName(md protoreflect.MessageDescriptor, name string) protoreflect.FieldDescriptor {
	fds := md.Fields()
	for i := 0; i < fds.Len(); i++ {
		if fds.Get(i).JSONName() == name {
			return fds.Get(i)
		}
	}
	return nil
}

// objectOf returns the message a field holds (its map value's or list element's), nil for scalars and
// the well-known types written as scalars.
func objectOf(fd protoreflect.FieldDescriptor) protoreflect.MessageDescriptor {
	if fd.IsMap() {
		fd = fd.MapValue()
	}
	md := fd.Message()
	if md == nil || scalarMessage(md) != "" {
		return nil
	}
	return md
}

func scalarMessage(md protoreflect.MessageDescriptor) string {
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		return "string"
	case "coxswain.meta.v1.IntOrString":
		return "IntOrString"
	}
	return ""
}

// TypeName is kubectl explain's type of a field: string, integer, boolean, number, Object names
// (ObjectMeta, PodSpec), []T for lists and map[string]T for maps.
func TypeName(fd protoreflect.FieldDescriptor) string {
	if fd.IsMap() {
		return "map[string]" + elemType(fd.MapValue())
	}
	if fd.IsList() {
		return "[]" + elemType(fd)
	}
	return elemType(fd)
}

func elemType(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.EnumKind:
		return "string"
	case protoreflect.BoolKind:
		return "boolean"
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return "number"
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if s := scalarMessage(fd.Message()); s != "" {
			return s
		}
		return string(fd.Message().Name())
	}
	return "integer"
}

func describeField(fd protoreflect.FieldDescriptor) string {
	switch {
	case fd.Message() != nil && fd.Message().FullName() == "google.protobuf.Timestamp":
		return "An RFC 3339 timestamp."
	case fd.Message() != nil && fd.Message().FullName() == "coxswain.meta.v1.IntOrString":
		return "An integer or a string (a port number or name, a count or a percentage)."
	case fd.Kind() == protoreflect.BytesKind || fd.IsMap() && fd.MapValue().Kind() == protoreflect.BytesKind:
		return "Base64-encoded data."
	}
	return fmt.Sprintf("%s (protobuf field %s).", strings.TrimPrefix(TypeName(fd), "[]"), fd.FullName())
}

func fields(w io.Writer, md protoreflect.MessageDescriptor, level int, recursive bool, seen map[protoreflect.FullName]bool) {
	fds := md.Fields()
	indent := strings.Repeat("  ", level)
	for i := 0; i < fds.Len(); i++ {
		fd := fds.Get(i)
		fmt.Fprintf(w, "%s%s\t<%s>\n", indent, fd.JSONName(), TypeName(fd))
		if !recursive {
			fmt.Fprintf(w, "%s  %s\n\n", indent, describeField(fd))
			continue
		}
		if sub := objectOf(fd); sub != nil && !seen[sub.FullName()] {
			seen[sub.FullName()] = true
			fields(w, sub, level+1, true, seen)
			delete(seen, sub.FullName())
		}
	}
}
