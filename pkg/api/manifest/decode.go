package manifest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
	"gopkg.in/yaml.v3"

	"github.com/coxswain/coxswain/pkg/api"
)

// Document is one object read from a manifest.
type Document struct {
	// Source is the file name given to Decode.
	Source string
	// Index is the 1-based position of the YAML document in Source, as error messages print it. The items of a
	// kind: List share the List's index.
	Index int
	// Line is the line where the object starts.
	Line int
	// Object is the decoded object, of the Go type of Resource.
	Object api.Object
	// Resource is the object's kind.
	Resource *api.Resource
	// Raw holds the fields the user wrote (apiVersion and kind included), for last-applied tracking. Values
	// have the representation ToMap uses (int64 integers, RFC 3339 timestamps, base64 bytes, quantities as
	// strings); a field written as null is present with a nil value.
	Raw map[string]any
}

// Limits that keep hostile input (alias bombs, self-referencing anchors) from taking unbounded time or stack.
const (
	maxDepth      = 64 // nested objects
	maxMergeDepth = 16 // nested << merge keys
	maxAliasChain = 64 // alias of an alias of...
)

// YAML core schema tags, as yaml.Node.ShortTag reports them.
const (
	strTag       = "!!str"
	intTag       = "!!int"
	floatTag     = "!!float"
	boolTag      = "!!bool"
	nullTag      = "!!null"
	timestampTag = "!!timestamp"
	mergeTag     = "!!merge"
	binaryTag    = "!!binary"
)

// Decode reads every object of a manifest: a stream of YAML documents separated by "---", or JSON (one
// object per document). A document of kind List (apiVersion v1) contributes each of its items; empty
// documents are skipped. source names the input in errors.
//
// Decoding is strict and reports every problem of the input, not just the first: the error is a
// *DecodeError. The documents that decoded cleanly are returned along with it.
func Decode(data []byte, source string) ([]Document, error) {
	d := &decoder{source: source, budget: 100_000 + 4*len(data)}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []Document
	for idx := 1; ; idx++ {
		var root yaml.Node
		err := parseNext(dec, &root)
		if errors.Is(err, io.EOF) {
			break
		}
		d.doc = idx
		if err != nil {
			d.errs = append(d.errs, syntaxError(data, source, idx, err))
			break
		}
		docs = append(docs, d.document(&root)...)
		if d.exhausted {
			break
		}
	}
	if len(d.errs) > 0 {
		return docs, &DecodeError{Errors: d.errs}
	}
	return docs, nil
}

// parseNext reads the next YAML document, turning a panic inside the YAML library into an error.
func parseNext(dec *yaml.Decoder, root *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return dec.Decode(root)
}

var (
	yamlLine      = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	unknownAnchor = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced$`)
)

// parserProblems are the YAML library's parser (rather than scanner) errors, whose line it reports 0-based.
var parserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// syntaxError turns a YAML library error into a FieldError with a 1-based line.
func syntaxError(data []byte, source string, idx int, err error) FieldError {
	msg := err.Error()
	fe := FieldError{Source: source, Document: idx, Message: strings.TrimPrefix(msg, "yaml: ")}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		fe.Line, _ = strconv.Atoi(m[1])
		fe.Message = m[2]
		if parserProblems[fe.Message] {
			fe.Line++
		}
		return fe
	}
	if m := unknownAnchor.FindStringSubmatch(msg); m != nil {
		if i := bytes.Index(data, []byte("*"+m[1])); i >= 0 {
			fe.Line = 1 + bytes.Count(data[:i], []byte("\n"))
		}
		return fe
	}
	if i := invalidChar(data); i >= 0 {
		// A reader error: the library reads ahead, so the document is unknown but the place is not.
		fe.Document = 0
		fe.Line = 1 + bytes.Count(data[:i], []byte("\n"))
		return fe
	}
	// The library leaves the line out when the error is on the first line.
	fe.Line = 1
	return fe
}

// invalidChar returns the offset of the first byte that is not valid UTF-8 or not allowed in YAML, or -1.
func invalidChar(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		ok := r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0x7e || r == 0x85 ||
			r >= 0xa0 && r <= 0xd7ff || r >= 0xe000 && r <= 0xfffd || r >= 0x10000 && r <= 0x10ffff
		if r == utf8.RuneError && size <= 1 || !ok {
			return i
		}
		i += size
	}
	return -1
}

type decoder struct {
	source    string
	doc       int
	errs      []FieldError
	budget    int  // nodes left to visit, counting each visit through an alias again
	exhausted bool // the budget ran out; the error has been recorded
}

type pair struct {
	key      string
	keyNode  *yaml.Node
	valueRaw *yaml.Node // unresolved (may be an alias)
}

func (d *decoder) fail(n *yaml.Node, path *fieldPath, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, FieldError{Source: d.source, Document: d.doc, Line: line, Path: path.String(),
		Message: fmt.Sprintf(format, args...)})
}

// visit resolves aliases and charges the node to the budget. It returns false when decoding must stop.
func (d *decoder) visit(n *yaml.Node, path *fieldPath) (*yaml.Node, bool) {
	if d.exhausted {
		return nil, false
	}
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i == maxAliasChain {
			d.fail(n, path, "too many nested aliases")
			return nil, false
		}
		n = n.Alias
	}
	if n == nil {
		return nil, false
	}
	d.budget--
	if d.budget < 0 {
		d.exhausted = true
		d.fail(n, path, "the document is too large after expanding aliases")
		return nil, false
	}
	return n, true
}

// document decodes one YAML document: an object, a List of objects, or nothing.
func (d *decoder) document(root *yaml.Node) []Document {
	n := root
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		n = n.Content[0]
	}
	before := len(d.errs)
	n, ok := d.visit(n, nil)
	if !ok || isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, nil, "expected an object with apiVersion and kind, got %s", describe(n))
		return nil
	}
	pairs, ok := d.pairs(n, nil, false, 0)
	if !ok {
		return nil
	}
	tm, rest, ok := d.typeMeta(n, pairs, nil)
	if !ok {
		return nil
	}
	if tm.kind == "List" && tm.apiVersion == "v1" {
		return d.list(rest)
	}
	if doc, ok := d.object(n, tm, rest, nil, before); ok {
		return []Document{doc}
	}
	return nil
}

// typeMeta extracts apiVersion and kind from an object's fields, returning the other fields.
func (d *decoder) typeMeta(n *yaml.Node, pairs []pair, path *fieldPath) (tm typeMeta, rest []pair, ok bool) {
	ok = true
	var haveVersion, haveKind bool
	for _, p := range pairs {
		if p.key != "apiVersion" && p.key != "kind" {
			rest = append(rest, p)
			continue
		}
		fpath := path.child(p.key)
		v, vok := d.visit(p.valueRaw, fpath)
		if !vok {
			return typeMeta{}, nil, false
		}
		if !isString(v) {
			d.fail(v, fpath, "expected a string, got %s", describe(v))
			ok = false
			continue
		}
		if p.key == "apiVersion" {
			tm.apiVersion, haveVersion = v.Value, true
		} else {
			tm.kind, tm.kindNode, haveKind = v.Value, v, true
		}
	}
	if ok && (!haveVersion || tm.apiVersion == "") {
		d.fail(n, path.child("apiVersion"), "required field is missing")
		ok = false
	}
	if ok && (!haveKind || tm.kind == "") {
		d.fail(n, path.child("kind"), "required field is missing")
		ok = false
	}
	return tm, rest, ok
}

// typeMeta is an object's apiVersion and kind.
type typeMeta struct {
	apiVersion, kind string
	kindNode         *yaml.Node
}

// list decodes the fields of a kind: List other than apiVersion and kind.
func (d *decoder) list(pairs []pair) []Document {
	var docs []Document
	for _, p := range pairs {
		fpath := (*fieldPath)(nil).child(p.key)
		v, ok := d.visit(p.valueRaw, fpath)
		if !ok {
			return docs
		}
		switch p.key {
		case "metadata":
			if !isNull(v) && v.Kind != yaml.MappingNode {
				d.fail(v, fpath, "expected an object, got %s", describe(v))
			}
		case "items":
			if isNull(v) {
				continue
			}
			if v.Kind != yaml.SequenceNode {
				d.fail(v, fpath, "expected an array, got %s", describe(v))
				continue
			}
			for i, item := range v.Content {
				path := fpath.index(i)
				before := len(d.errs)
				item, ok := d.visit(item, path)
				if !ok {
					return docs
				}
				if item.Kind != yaml.MappingNode {
					d.fail(item, path, "expected an object with apiVersion and kind, got %s", describe(item))
					continue
				}
				ipairs, ok := d.pairs(item, path, false, 0)
				if !ok {
					continue
				}
				tm, rest, ok := d.typeMeta(item, ipairs, path)
				if !ok {
					continue
				}
				if tm.kind == "List" {
					d.fail(tm.kindNode, path.child("kind"), "a List cannot contain another List")
					continue
				}
				if doc, ok := d.object(item, tm, rest, path, before); ok {
					docs = append(docs, doc)
				}
			}
		default:
			d.fail(p.keyNode, fpath, "unknown field %q", p.key)
		}
	}
	return docs
}

// object decodes one object of the given apiVersion and kind from its other fields. It reports false when
// anything in the object was wrong, that is when errors were added since there were before.
func (d *decoder) object(n *yaml.Node, tm typeMeta, pairs []pair, path *fieldPath, before int) (Document, bool) {
	r, err := api.ForKind(tm.apiVersion, tm.kind)
	if err != nil {
		d.fail(tm.kindNode, path.child("kind"), "%v", err)
		return Document{}, false
	}
	obj := r.New()
	raw := d.fields(obj.ProtoReflect(), pairs, path, 0)
	if len(d.errs) > before || d.exhausted {
		return Document{}, false
	}
	if raw == nil {
		raw = map[string]any{}
	}
	raw["apiVersion"] = tm.apiVersion
	raw["kind"] = tm.kind
	return Document{Source: d.source, Index: d.doc, Line: n.Line, Object: obj, Resource: r, Raw: raw}, true
}

// pairs lists the key/value pairs of a mapping, applying YAML merge keys (<<) and reporting duplicate keys.
// Keys of a message are fields; isMap says the mapping is a map field, whose keys are paths' subscripts.
func (d *decoder) pairs(n *yaml.Node, path *fieldPath, isMap bool, depth int) ([]pair, bool) {
	what, sub := "field", (*fieldPath).child
	if isMap {
		what, sub = "key", (*fieldPath).key
	}
	out := make([]pair, 0, len(n.Content)/2)
	seen := make(map[string]bool, len(n.Content)/2)
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, ok := d.visit(n.Content[i], path)
		if !ok {
			return nil, false
		}
		if k.Kind == yaml.ScalarNode && k.ShortTag() == mergeTag {
			merges = append(merges, n.Content[i+1])
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "expected a string key, got %s", describe(k))
			continue
		}
		if seen[k.Value] {
			d.fail(k, sub(path, k.Value), "duplicate %s %q", what, k.Value)
			continue
		}
		seen[k.Value] = true
		out = append(out, pair{key: k.Value, keyNode: k, valueRaw: n.Content[i+1]})
	}
	for _, m := range merges {
		m, ok := d.visit(m, path)
		if !ok {
			return nil, false
		}
		var sources []*yaml.Node
		switch m.Kind {
		case yaml.MappingNode:
			sources = []*yaml.Node{m}
		case yaml.SequenceNode:
			for _, s := range m.Content {
				s, ok := d.visit(s, path)
				if !ok {
					return nil, false
				}
				sources = append(sources, s)
			}
		default:
			sources = []*yaml.Node{m}
		}
		for _, s := range sources {
			if s.Kind != yaml.MappingNode {
				d.fail(s, path, "a merge key (<<) needs an object or an array of objects, got %s", describe(s))
				continue
			}
			if depth >= maxMergeDepth {
				d.fail(s, path, "merge keys (<<) are nested too deeply")
				return nil, false
			}
			merged, ok := d.pairs(s, path, isMap, depth+1)
			if !ok {
				return nil, false
			}
			for _, p := range merged {
				if !seen[p.key] {
					seen[p.key] = true
					out = append(out, p)
				}
			}
		}
	}
	return out, true
}

// message decodes a mapping into m. It reports false when n is not a mapping.
func (d *decoder) message(m protoreflect.Message, n *yaml.Node, path *fieldPath, depth int) (map[string]any, bool) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected an object, got %s", describe(n))
		return nil, false
	}
	if depth > maxDepth {
		d.fail(n, path, "objects are nested too deeply")
		return nil, false
	}
	pairs, ok := d.pairs(n, path, false, 0)
	if !ok {
		return nil, false
	}
	return d.fields(m, pairs, path, depth), true
}

// fields decodes the fields of a message.
func (d *decoder) fields(m protoreflect.Message, pairs []pair, path *fieldPath, depth int) map[string]any {
	idx := fieldsByJSONName(m.Descriptor())
	raw := make(map[string]any, len(pairs))
	for _, p := range pairs {
		fpath := path.child(p.key)
		fd := idx[p.key]
		if fd == nil {
			d.fail(p.keyNode, fpath, "unknown field %q", p.key)
			continue
		}
		v, ok := d.visit(p.valueRaw, fpath)
		if !ok {
			return raw
		}
		raw[p.key] = d.field(m, fd, v, fpath, depth)
	}
	return raw
}

// field decodes v (resolved) into field fd of m, returning the raw value.
func (d *decoder) field(m protoreflect.Message, fd protoreflect.FieldDescriptor, v *yaml.Node, path *fieldPath, depth int) any {
	if isNull(v) {
		return nil
	}
	switch {
	case fd.IsMap():
		return d.mapField(m, fd, v, path, depth)
	case fd.IsList():
		return d.listField(m, fd, v, path, depth)
	}
	if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
		if other := m.WhichOneof(od); other != nil && other != fd {
			d.fail(v, path, "only one of %q and %q may be set", other.JSONName(), fd.JSONName())
			return nil
		}
	}
	val, raw, ok := d.value(fd, v, path, depth, func() protoreflect.Value { return m.NewField(fd) }, quantityFields[fd.FullName()])
	if ok {
		m.Set(fd, val)
	}
	return raw
}

func (d *decoder) listField(m protoreflect.Message, fd protoreflect.FieldDescriptor, v *yaml.Node, path *fieldPath, depth int) any {
	if v.Kind != yaml.SequenceNode {
		d.fail(v, path, "expected an array, got %s", describe(v))
		return nil
	}
	l := m.Mutable(fd).List()
	raw := make([]any, 0, len(v.Content))
	for i, e := range v.Content {
		epath := path.index(i)
		e, ok := d.visit(e, epath)
		if !ok {
			return raw
		}
		if isNull(e) {
			l.Append(zero(fd, l.NewElement))
			raw = append(raw, nil)
			continue
		}
		val, r, ok := d.value(fd, e, epath, depth, l.NewElement, quantityFields[fd.FullName()])
		if ok {
			l.Append(val)
		}
		raw = append(raw, r)
	}
	return raw
}

func (d *decoder) mapField(m protoreflect.Message, fd protoreflect.FieldDescriptor, v *yaml.Node, path *fieldPath, depth int) any {
	if v.Kind != yaml.MappingNode {
		d.fail(v, path, "expected an object, got %s", describe(v))
		return nil
	}
	pairs, ok := d.pairs(v, path, true, 0)
	if !ok {
		return nil
	}
	mp := m.Mutable(fd).Map()
	kfd, vfd := fd.MapKey(), fd.MapValue()
	raw := make(map[string]any, len(pairs))
	for _, p := range pairs {
		epath := path.key(p.key)
		mk, ok := mapKey(kfd, p.key)
		if !ok {
			d.fail(p.keyNode, epath, "invalid key %q: expected %s", p.key, want(kfd))
			continue
		}
		e, ok := d.visit(p.valueRaw, epath)
		if !ok {
			return raw
		}
		if isNull(e) {
			mp.Set(mk, zero(vfd, mp.NewValue))
			raw[p.key] = nil
			continue
		}
		val, r, ok := d.value(vfd, e, epath, depth, mp.NewValue, quantityFields[fd.FullName()])
		if ok {
			mp.Set(mk, val)
		}
		raw[p.key] = r
	}
	return raw
}

// zero is the value a null list element or map value decodes to.
func zero(fd protoreflect.FieldDescriptor, newMsg func() protoreflect.Value) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return newMsg()
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(false)
	case protoreflect.StringKind:
		return protoreflect.ValueOfString("")
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes(nil)
	case protoreflect.EnumKind:
		return protoreflect.ValueOfEnum(fd.Enum().Values().Get(0).Number())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(0)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(0)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(0)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(0)
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(0)
	}
	return protoreflect.ValueOfFloat64(0)
}

func mapKey(fd protoreflect.FieldDescriptor, s string) (protoreflect.MapKey, bool) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(s).MapKey(), true
	case protoreflect.BoolKind:
		b, err := strconv.ParseBool(s)
		return protoreflect.ValueOfBool(b).MapKey(), err == nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		i, err := strconv.ParseInt(s, 10, 32)
		return protoreflect.ValueOfInt32(int32(i)).MapKey(), err == nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		i, err := strconv.ParseInt(s, 10, 64)
		return protoreflect.ValueOfInt64(i).MapKey(), err == nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		u, err := strconv.ParseUint(s, 10, 32)
		return protoreflect.ValueOfUint32(uint32(u)).MapKey(), err == nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		u, err := strconv.ParseUint(s, 10, 64)
		return protoreflect.ValueOfUint64(u).MapKey(), err == nil
	}
	return protoreflect.MapKey{}, false
}

// value decodes a non-null value of fd's type: a singular field, a list element or a map value.
func (d *decoder) value(fd protoreflect.FieldDescriptor, v *yaml.Node, path *fieldPath, depth int,
	newMsg func() protoreflect.Value, quantity bool) (protoreflect.Value, any, bool) {
	if md := fd.Message(); md != nil {
		val := newMsg()
		switch md.FullName() {
		case timestampName:
			raw, ok := d.timestamp(val.Message(), v, path)
			return val, raw, ok
		case intOrStringName:
			raw, ok := d.intOrString(val.Message(), v, path)
			return val, raw, ok
		}
		raw, ok := d.message(val.Message(), v, path, depth+1)
		return val, raw, ok
	}
	return d.scalar(fd, v, path, quantity)
}

func (d *decoder) scalar(fd protoreflect.FieldDescriptor, v *yaml.Node, path *fieldPath, quantity bool) (protoreflect.Value, any, bool) {
	bad := func() (protoreflect.Value, any, bool) {
		d.fail(v, path, "expected %s, got %s", want(fd), describe(v))
		return protoreflect.Value{}, nil, false
	}
	if v.Kind != yaml.ScalarNode {
		return bad()
	}
	tag := v.ShortTag()
	switch fd.Kind() {
	case protoreflect.StringKind:
		switch {
		case isString(v) || tag == timestampTag:
		case quantity && (tag == intTag || tag == floatTag):
		default:
			return bad()
		}
		if !utf8.ValidString(v.Value) {
			d.fail(v, path, "invalid UTF-8 in string")
			return protoreflect.Value{}, nil, false
		}
		return protoreflect.ValueOfString(v.Value), v.Value, true
	case protoreflect.BoolKind:
		var b bool
		if tag != boolTag || v.Decode(&b) != nil {
			return bad()
		}
		return protoreflect.ValueOfBool(b), b, true
	case protoreflect.BytesKind:
		if !isString(v) {
			return bad()
		}
		b, err := base64.StdEncoding.DecodeString(v.Value)
		if err != nil {
			d.fail(v, path, "invalid base64 data: %v", err)
			return protoreflect.Value{}, nil, false
		}
		return protoreflect.ValueOfBytes(b), base64.StdEncoding.EncodeToString(b), true
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		var f float64
		if (tag != intTag && tag != floatTag) || v.Decode(&f) != nil {
			return bad()
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			d.fail(v, path, "expected a finite number, got %s", describe(v))
			return protoreflect.Value{}, nil, false
		}
		if fd.Kind() == protoreflect.FloatKind {
			if math.Abs(f) > math.MaxFloat32 {
				d.fail(v, path, "number %s is out of range for float", v.Value)
				return protoreflect.Value{}, nil, false
			}
			return protoreflect.ValueOfFloat32(float32(f)), float64(float32(f)), true
		}
		return protoreflect.ValueOfFloat64(f), f, true
	case protoreflect.EnumKind:
		ed := fd.Enum()
		switch tag {
		case strTag, mergeTag:
			if ev := ed.Values().ByName(protoreflect.Name(v.Value)); ev != nil {
				return protoreflect.ValueOfEnum(ev.Number()), v.Value, true
			}
		case intTag:
			var i int32
			if v.Decode(&i) == nil {
				if ev := ed.Values().ByNumber(protoreflect.EnumNumber(i)); ev != nil {
					return protoreflect.ValueOfEnum(ev.Number()), string(ev.Name()), true
				}
			}
		}
		var names []string
		for i := 0; i < ed.Values().Len(); i++ {
			names = append(names, strconv.Quote(string(ed.Values().Get(i).Name())))
		}
		d.fail(v, path, "unsupported value %s: supported values: %s", describe(v), strings.Join(names, ", "))
		return protoreflect.Value{}, nil, false
	}
	kind := fd.Kind()
	var lo, hi *big.Int
	var name string
	switch kind {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		lo, hi, name = big.NewInt(math.MinInt32), big.NewInt(math.MaxInt32), "int32"
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		lo, hi, name = big.NewInt(math.MinInt64), big.NewInt(math.MaxInt64), "int64"
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		lo, hi, name = big.NewInt(0), big.NewInt(math.MaxUint32), "uint32"
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		lo, hi, name = big.NewInt(0), new(big.Int).SetUint64(math.MaxUint64), "uint64"
	default:
		d.fail(v, path, "unsupported field kind %v", kind)
		return protoreflect.Value{}, nil, false
	}
	i, ok := integer(v)
	if !ok {
		return bad()
	}
	if i.Cmp(lo) < 0 || i.Cmp(hi) > 0 {
		d.fail(v, path, "integer %s is out of range for %s", v.Value, name)
		return protoreflect.Value{}, nil, false
	}
	switch kind {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(i.Int64())), i.Int64(), true
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(i.Int64()), i.Int64(), true
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(i.Uint64())), i.Int64(), true
	default:
		return protoreflect.ValueOfUint64(i.Uint64()), i.Uint64(), true
	}
}

// integer reads an integer: a YAML int, or a float with an integral value (1.0, 1e3).
func integer(v *yaml.Node) (*big.Int, bool) {
	switch v.ShortTag() {
	case intTag:
		var i int64
		if v.Decode(&i) == nil {
			return big.NewInt(i), true
		}
		var u uint64
		if v.Decode(&u) == nil {
			return new(big.Int).SetUint64(u), true
		}
	case floatTag:
		var f float64
		if v.Decode(&f) != nil || math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) {
			return nil, false
		}
		i, _ := big.NewFloat(f).Int(nil)
		return i, true
	}
	return nil, false
}

// timestamp decodes an RFC 3339 string into a google.protobuf.Timestamp.
func (d *decoder) timestamp(m protoreflect.Message, v *yaml.Node, path *fieldPath) (any, bool) {
	if !isString(v) && (v.Kind != yaml.ScalarNode || v.ShortTag() != timestampTag) {
		d.fail(v, path, "expected an RFC 3339 timestamp, got %s", describe(v))
		return nil, false
	}
	t, err := time.Parse(time.RFC3339Nano, v.Value)
	if err != nil {
		d.fail(v, path, "expected an RFC 3339 timestamp, got %s", describe(v))
		return nil, false
	}
	if t.Year() < 1 || t.Year() > 9999 {
		d.fail(v, path, "timestamp %s is out of range", v.Value)
		return nil, false
	}
	fds := m.Descriptor().Fields()
	m.Set(fds.ByName("seconds"), protoreflect.ValueOfInt64(t.Unix()))
	m.Set(fds.ByName("nanos"), protoreflect.ValueOfInt32(int32(t.Nanosecond())))
	return formatTime(t), true
}

// intOrString decodes a plain integer or string into a coxswain.meta.v1.IntOrString.
func (d *decoder) intOrString(m protoreflect.Message, v *yaml.Node, path *fieldPath) (any, bool) {
	fds := m.Descriptor().Fields()
	if v.Kind == yaml.ScalarNode {
		switch v.ShortTag() {
		case strTag, mergeTag:
			if !utf8.ValidString(v.Value) {
				d.fail(v, path, "invalid UTF-8 in string")
				return nil, false
			}
			m.Set(fds.ByName("str_val"), protoreflect.ValueOfString(v.Value))
			return v.Value, true
		case intTag, floatTag:
			i, ok := integer(v)
			if !ok {
				break
			}
			if !i.IsInt64() || i.Int64() < math.MinInt32 || i.Int64() > math.MaxInt32 {
				d.fail(v, path, "integer %s is out of range for int32", v.Value)
				return nil, false
			}
			m.Set(fds.ByName("int_val"), protoreflect.ValueOfInt32(int32(i.Int64())))
			return i.Int64(), true
		}
	}
	d.fail(v, path, "expected an integer or a string, got %s", describe(v))
	return nil, false
}

// isString reports whether n is a string scalar. A plain "<<" is a merge key only where a key is expected;
// as a value it is the string "<<".
func isString(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && (n.ShortTag() == strTag || n.ShortTag() == mergeTag)
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == nullTag
}

// want names what a field of fd's type needs, for "expected ..." messages.
func want(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return "a string"
	case protoreflect.BoolKind:
		return "a boolean"
	case protoreflect.BytesKind:
		return "base64 data (a string)"
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return "a number"
	case protoreflect.EnumKind:
		return "a string"
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return "an object"
	}
	return "an integer"
}

// describe names what a YAML node is, for "got ..." messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "an object"
	case yaml.SequenceNode:
		return "an array"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case strTag, mergeTag:
			return "string " + strconv.Quote(truncate(n.Value))
		case intTag:
			return "integer " + truncate(n.Value)
		case floatTag:
			return "number " + truncate(n.Value)
		case boolTag:
			return "boolean " + truncate(n.Value)
		case nullTag:
			return "null"
		case timestampTag:
			return "timestamp " + truncate(n.Value)
		case binaryTag:
			return "binary data"
		}
		return "a value tagged " + truncate(n.Tag)
	}
	return "an unexpected node"
}

func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// fieldPath is a field path built as decoding descends, rendered only for errors. nil is the root.
type fieldPath struct {
	parent *fieldPath
	name   string // a field name or a map key
	i      int    // a list index
	kind   byte   // '.' field, '[' index, 'k' map key
}

func (p *fieldPath) child(name string) *fieldPath {
	return &fieldPath{parent: p, name: name, kind: '.'}
}
func (p *fieldPath) index(i int) *fieldPath  { return &fieldPath{parent: p, i: i, kind: '['} }
func (p *fieldPath) key(k string) *fieldPath { return &fieldPath{parent: p, name: k, kind: 'k'} }

// String renders the path as spec.containers[0].env[1].name or metadata.labels[app].
func (p *fieldPath) String() string {
	var elems []*fieldPath
	for ; p != nil; p = p.parent {
		elems = append(elems, p)
	}
	var b strings.Builder
	for i := len(elems) - 1; i >= 0; i-- {
		switch e := elems[i]; e.kind {
		case '.':
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(e.name)
		case '[':
			b.WriteString("[" + strconv.Itoa(e.i) + "]")
		default:
			b.WriteString("[" + e.name + "]")
		}
	}
	return b.String()
}
