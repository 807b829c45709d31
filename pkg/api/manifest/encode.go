package manifest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
	"gopkg.in/yaml.v3"

	"github.com/coxswain/coxswain/pkg/api"
)

// Encode writes obj as a Kubernetes manifest, format "yaml" or "json": apiVersion and kind first, then the
// object's fields in declaration order (metadata, spec, status...), leaving out unset fields and empty
// strings, numbers, lists and maps, like Kubernetes' omitempty. A message field that is set but empty is
// written as {}. IntOrString is a plain number or string, timestamps RFC 3339 strings, bytes base64.
// Decode(Encode(x)) equals x for every object with metadata set (as Resource.New makes them): Decode always
// gives objects metadata, empty when the manifest has none.
func Encode(obj api.Object, format string) ([]byte, error) {
	r, err := api.ForObject(obj)
	if err != nil {
		return nil, err
	}
	tree := document(obj.ProtoReflect(), r)
	switch format {
	case "yaml":
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(tree.yamlNode()); err != nil {
			return nil, fmt.Errorf("encode %s as YAML: %w", r.Kind, err)
		}
		if err := enc.Close(); err != nil {
			return nil, fmt.Errorf("encode %s as YAML: %w", r.Kind, err)
		}
		return buf.Bytes(), nil
	case "json":
		out, err := json.MarshalIndent(tree, "", "    ")
		if err != nil {
			return nil, fmt.Errorf("encode %s as JSON: %w", r.Kind, err)
		}
		return append(escapeForYAML(out), '\n'), nil
	}
	return nil, fmt.Errorf("unsupported output format %q: supported formats: json, yaml", format)
}

// escapeForYAML escapes in JSON text the characters YAML does not allow in a document or reads as line breaks
// or a byte order mark, so that YAML parsers (Decode included) read the JSON as JSON parsers do. Such
// characters only occur inside strings, where \uXXXX means the same to both.
func escapeForYAML(js []byte) []byte {
	out := make([]byte, 0, len(js))
	for _, r := range string(js) {
		if r < 0x7f && (r >= 0x20 || r == '\n' || r == '\t' || r == '\r') ||
			r >= 0xa0 && r <= 0xd7ff && r != 0x2028 && r != 0x2029 ||
			r >= 0xe000 && r <= 0xfffd && r != 0xfeff || r >= 0x10000 {
			out = utf8.AppendRune(out, r)
			continue
		}
		out = fmt.Appendf(out, `\u%04x`, r)
	}
	return out
}

// ToMap returns what Encode writes, as plain Go values: map[string]any, []any, string, int64 (uint64 for
// unsigned 64-bit fields), float64 and bool. apiVersion and kind are included when obj is a served kind.
func ToMap(obj api.Object) map[string]any {
	r, _ := api.ForObject(obj)
	return document(obj.ProtoReflect(), r).plain()
}

// document builds the ordered tree of an object; r may be nil.
func document(m protoreflect.Message, r *api.Resource) *object {
	o := &object{}
	if r != nil {
		o.add("apiVersion", r.APIVersion())
		o.add("kind", r.Kind)
	}
	encodeFields(o, m)
	return o
}

// object is a JSON object that keeps its keys in order.
type object struct {
	keys   []string
	values []any // *object, []any, string, int64, uint64, float64, bool
}

func (o *object) add(k string, v any) {
	o.keys = append(o.keys, k)
	o.values = append(o.values, v)
}

func encodeMessage(m protoreflect.Message) *object {
	o := &object{}
	encodeFields(o, m)
	return o
}

func encodeFields(o *object, m protoreflect.Message) {
	fds := m.Descriptor().Fields()
	for i := 0; i < fds.Len(); i++ {
		fd := fds.Get(i)
		if !m.Has(fd) { // unset, zero (without presence), or an empty list or map
			continue
		}
		v := m.Get(fd)
		switch {
		case fd.IsList():
			l := v.List()
			elems := make([]any, l.Len())
			for j := range elems {
				elems[j], _ = encodeValue(fd, l.Get(j))
			}
			o.add(fd.JSONName(), elems)
		case fd.IsMap():
			entries := &object{}
			v.Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
				e, _ := encodeValue(fd.MapValue(), v)
				entries.add(k.String(), e)
				return true
			})
			entries.sort()
			o.add(fd.JSONName(), entries)
		default:
			if e, ok := encodeValue(fd, v); ok {
				o.add(fd.JSONName(), e)
			}
		}
	}
}

// encodeValue encodes one value of fd's type. It reports false for a value that has no manifest form (an
// IntOrString with neither member set), which is then left out.
func encodeValue(fd protoreflect.FieldDescriptor, v protoreflect.Value) (any, bool) {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		m := v.Message()
		switch m.Descriptor().FullName() {
		case timestampName:
			fds := m.Descriptor().Fields()
			t := time.Unix(m.Get(fds.ByName("seconds")).Int(), m.Get(fds.ByName("nanos")).Int())
			return formatTime(t), true
		case intOrStringName:
			fds := m.Descriptor().Fields()
			if iv := fds.ByName("int_val"); m.Has(iv) {
				return m.Get(iv).Int(), true
			}
			if sv := fds.ByName("str_val"); m.Has(sv) {
				return m.Get(sv).String(), true
			}
			return nil, false
		}
		return encodeMessage(m), true
	case protoreflect.StringKind:
		return v.String(), true
	case protoreflect.BoolKind:
		return v.Bool(), true
	case protoreflect.BytesKind:
		return base64.StdEncoding.EncodeToString(v.Bytes()), true
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return v.Float(), true
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name()), true
		}
		return int64(v.Enum()), true
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return v.Uint(), true
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return int64(v.Uint()), true
	}
	return v.Int(), true
}

// formatTime writes a time as Kubernetes does (RFC 3339 in UTC), with fractional seconds only when present.
func formatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

func (o *object) sort() {
	idx := make([]int, len(o.keys))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case o.keys[a] < o.keys[b]:
			return -1
		case o.keys[a] > o.keys[b]:
			return 1
		}
		return 0
	})
	keys, values := make([]string, len(idx)), make([]any, len(idx))
	for i, j := range idx {
		keys[i], values[i] = o.keys[j], o.values[j]
	}
	o.keys, o.values = keys, values
}

// MarshalJSON writes the object with its keys in order.
func (o *object) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		buf.Write(kb)
		buf.WriteByte(':')
		vb, err := json.Marshal(o.values[i])
		if err != nil {
			return nil, err
		}
		buf.Write(vb)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func (o *object) yamlNode() *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	n.Content = make([]*yaml.Node, 0, 2*len(o.keys))
	for i, k := range o.keys {
		kn := yamlString(k)
		if strings.ContainsAny(k, "\n\r") {
			kn.Style = yaml.DoubleQuotedStyle // never a block scalar as a key
		}
		n.Content = append(n.Content, kn, yamlValue(o.values[i]))
	}
	return n
}

func yamlValue(v any) *yaml.Node {
	switch v := v.(type) {
	case *object:
		return v.yamlNode()
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: make([]*yaml.Node, len(v))}
		for i, e := range v {
			n.Content[i] = yamlValue(e)
		}
		return n
	case string:
		return yamlString(v)
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: boolTag, Value: strconv.FormatBool(v)}
	case int64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: intTag, Value: strconv.FormatInt(v, 10)}
	case uint64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: intTag, Value: strconv.FormatUint(v, 10)}
	case float64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: floatTag, Value: strconv.FormatFloat(v, 'g', -1, 64)}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: nullTag, Value: "null"}
}

// yamlString is a string scalar; the YAML library quotes it when it would read back as another type.
func yamlString(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: strTag, Value: s}
	switch {
	case s == "<<": // the library writes it plain, and a plain << key is a merge key
		n.Style = yaml.DoubleQuotedStyle
	case strings.Contains(s, "\n") && !literalSafe(s):
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// literalSafe reports whether a multi-line string can be written as a literal block scalar (|) and read back
// the same. The YAML library picks that style for every multi-line string but gets some wrong (only line
// breaks, leading spaces); those, and strings with characters a block scalar cannot hold, are double-quoted.
func literalSafe(s string) bool {
	if strings.TrimSpace(s) == "" || s[0] == ' ' || s[0] == '\n' {
		return false
	}
	for _, line := range strings.Split(s, "\n") {
		if strings.HasSuffix(line, " ") || strings.HasSuffix(line, "\t") {
			return false
		}
	}
	for _, r := range s {
		if r == '\n' {
			continue
		}
		if r < 0x20 || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029 || r == 0xfeff || !unicode.IsPrint(r) && r != '\t' {
			return false
		}
	}
	return true
}

// plain converts the ordered tree to plain Go maps and slices.
func (o *object) plain() map[string]any {
	m := make(map[string]any, len(o.keys))
	for i, k := range o.keys {
		m[k] = plainValue(o.values[i])
	}
	return m
}

func plainValue(v any) any {
	switch v := v.(type) {
	case *object:
		return v.plain()
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = plainValue(e)
		}
		return out
	}
	return v
}
