package api

import (
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// FieldValue reads a scalar field by its manifest path ("spec.nodeName", "status.phase",
// "metadata.name"), the way field selectors name fields. Unset fields read as their zero value.
func FieldValue(obj proto.Message, path string) (string, bool) {
	m := obj.ProtoReflect()
	parts := strings.Split(path, ".")
	for i, p := range parts {
		fd := fieldByJSONName(m.Descriptor(), p)
		if fd == nil || fd.IsList() || fd.IsMap() {
			return "", false
		}
		if i == len(parts)-1 {
			if fd.Message() != nil {
				return "", false
			}
			return scalarString(m.Get(fd)), true
		}
		if fd.Message() == nil {
			return "", false
		}
		m = m.Get(fd).Message()
	}
	return "", false
}

// CheckFieldPath reports whether path names a scalar field of the resource, for field selectors.
func CheckFieldPath(r *Resource, path string) error {
	if _, ok := FieldValue(r.New(), path); !ok {
		return fmt.Errorf("field label not supported: %s", path)
	}
	return nil
}

func fieldByJSONName(md protoreflect.MessageDescriptor, name string) protoreflect.FieldDescriptor {
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		if fd := fields.Get(i); fd.JSONName() == name {
			return fd
		}
	}
	return nil
}

func scalarString(v protoreflect.Value) string {
	switch x := v.Interface().(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint32:
		return strconv.FormatUint(uint64(x), 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case protoreflect.EnumNumber:
		return strconv.Itoa(int(x))
	default:
		return fmt.Sprint(x)
	}
}
