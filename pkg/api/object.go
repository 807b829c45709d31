package api

import (
	"strconv"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Object is any top-level stored kind: a protobuf message with ObjectMeta in field "metadata".
type Object interface {
	proto.Message
	GetMetadata() *metav1.ObjectMeta
}

// Meta returns obj's metadata, creating it when absent so callers can always write through it.
func Meta(obj Object) *metav1.ObjectMeta {
	if m := obj.GetMetadata(); m != nil {
		return m
	}
	m := &metav1.ObjectMeta{}
	SetField(obj, "metadata", m)
	return m
}

// Key is the cache and queue key of an object: "namespace/name", or "name" when cluster-scoped.
func Key(obj Object) string {
	m := obj.GetMetadata()
	return KeyOf(m.GetNamespace(), m.GetName())
}

// KeyOf builds a key from a namespace and a name.
func KeyOf(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// SplitKey is the inverse of KeyOf.
func SplitKey(key string) (namespace, name string) {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[:i], key[i+1:]
		}
	}
	return "", key
}

// ResourceVersion parses metadata.resourceVersion; an empty version is 0.
func ResourceVersion(obj Object) (int64, error) {
	rv := obj.GetMetadata().GetResourceVersion()
	if rv == "" {
		return 0, nil
	}
	return strconv.ParseInt(rv, 10, 64)
}

// Clone deep-copies an object. Cached objects are shared and must never be mutated: clone first.
func Clone[T proto.Message](obj T) T {
	return proto.Clone(obj).(T)
}

// GetField returns the message in field name of obj (nil when unset or not a message).
func GetField(obj proto.Message, name protoreflect.Name) proto.Message {
	m := obj.ProtoReflect()
	fd := m.Descriptor().Fields().ByName(name)
	if fd == nil || fd.Message() == nil || !m.Has(fd) {
		return nil
	}
	return m.Get(fd).Message().Interface()
}

// SetField sets message field name of obj to v (nil clears it).
func SetField(obj proto.Message, name protoreflect.Name, v proto.Message) {
	m := obj.ProtoReflect()
	fd := m.Descriptor().Fields().ByName(name)
	if fd == nil {
		return
	}
	if v == nil || !v.ProtoReflect().IsValid() {
		m.Clear(fd)
		return
	}
	m.Set(fd, protoreflect.ValueOfMessage(v.ProtoReflect()))
}

// SplitKeyName returns the name part of a key.
func SplitKeyName(key string) string {
	_, name := SplitKey(key)
	return name
}
