package manifesttest

import (
	"math"
	"math/rand/v2"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/coxswain/coxswain/pkg/api"
)

// Object returns a random object of r's kind. Its metadata is always set; every other field is set with
// probability one half.
func Object(rng *rand.Rand, r *api.Resource) api.Object {
	obj := r.New()
	Fill(rng, obj.ProtoReflect())
	api.Meta(obj)
	return obj
}

// Fill sets random values on a random half of m's fields, recursively.
func Fill(rng *rand.Rand, m protoreflect.Message) {
	fill(rng, m, 0)
}

const maxDepth = 12

func fill(rng *rand.Rand, m protoreflect.Message, depth int) {
	switch m.Descriptor().FullName() {
	case "google.protobuf.Timestamp":
		fillTimestamp(rng, m)
		return
	case "coxswain.meta.v1.IntOrString":
		fillIntOrString(rng, m)
		return
	}
	fds := m.Descriptor().Fields()
	for i := 0; i < fds.Len(); i++ {
		fd := fds.Get(i)
		if rng.IntN(2) == 0 {
			continue
		}
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() && m.WhichOneof(od) != nil {
			continue
		}
		switch {
		case fd.IsList():
			l := m.Mutable(fd).List()
			for n := rng.IntN(4); n > 0; n-- {
				l.Append(value(rng, fd, l.NewElement, depth))
			}
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for n := rng.IntN(4); n > 0; n-- {
				k := value(rng, fd.MapKey(), nil, depth).MapKey()
				mp.Set(k, value(rng, fd.MapValue(), mp.NewValue, depth))
			}
		default:
			if fd.Message() != nil && depth >= maxDepth {
				continue
			}
			m.Set(fd, value(rng, fd, func() protoreflect.Value { return m.NewField(fd) }, depth))
		}
	}
}

func value(rng *rand.Rand, fd protoreflect.FieldDescriptor, newMsg func() protoreflect.Value, depth int) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		v := newMsg()
		if depth < maxDepth {
			fill(rng, v.Message(), depth+1)
		} else if name := v.Message().Descriptor().FullName(); name == "google.protobuf.Timestamp" || name == "coxswain.meta.v1.IntOrString" {
			fill(rng, v.Message(), depth+1)
		}
		return v
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(String(rng))
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(rng.IntN(2) == 0)
	case protoreflect.BytesKind:
		b := make([]byte, rng.IntN(24))
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return protoreflect.ValueOfBytes(b)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(Int(rng, math.MinInt32, math.MaxInt32)))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(Int(rng, math.MinInt64, math.MaxInt64))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(Int(rng, 0, math.MaxUint32)))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(rng.Uint64())
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(rng.NormFloat64() * 1e3))
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(rng.NormFloat64() * 1e6)
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		return protoreflect.ValueOfEnum(vals.Get(rng.IntN(vals.Len())).Number())
	}
	panic("manifesttest: unsupported field kind " + fd.Kind().String())
}

func fillTimestamp(rng *rand.Rand, m protoreflect.Message) {
	const maxSeconds = 253402300799 // 9999-12-31T23:59:59Z
	fds := m.Descriptor().Fields()
	secs := rng.Int64N(maxSeconds + 1)
	var nanos int32
	switch rng.IntN(3) {
	case 1:
		nanos = rng.Int32N(1000) * 1e6
	case 2:
		nanos = rng.Int32N(1e9)
	}
	m.Set(fds.ByName("seconds"), protoreflect.ValueOfInt64(secs))
	m.Set(fds.ByName("nanos"), protoreflect.ValueOfInt32(nanos))
}

func fillIntOrString(rng *rand.Rand, m protoreflect.Message) {
	fds := m.Descriptor().Fields()
	if rng.IntN(2) == 0 {
		m.Set(fds.ByName("int_val"), protoreflect.ValueOfInt32(int32(Int(rng, math.MinInt32, math.MaxInt32))))
		return
	}
	m.Set(fds.ByName("str_val"), protoreflect.ValueOfString(String(rng)))
}

// Int returns a random integer in [lo, hi], often one of the edges, zero or a small number.
func Int(rng *rand.Rand, lo, hi int64) int64 {
	switch rng.IntN(6) {
	case 0:
		return lo
	case 1:
		return hi
	case 2:
		if lo <= 0 && hi >= 0 {
			return 0
		}
		return lo
	case 3:
		v := rng.Int64N(1000)
		if v > hi {
			return hi
		}
		return v
	}
	if lo == math.MinInt64 && hi == math.MaxInt64 {
		return int64(rng.Uint64())
	}
	return lo + int64(rng.Uint64N(uint64(hi-lo)+1))
}

// tricky strings look like other YAML types, contain YAML syntax, or need escaping.
var tricky = []string{
	"", " ", "80", "-1", "0x1F", "0o17", "017", "1_000", "1e3", "1.5", ".5", ".inf", "-.Inf", ".nan", "true", "False",
	"yes", "no", "on", "off", "y", "n", "null", "Null", "~", "2024-01-01", "2024-01-01T10:00:00Z", "25%", "<<",
	"=", "-", "--", "---", "...", "- a", "a: b", "a:b", "#c", "a #c", "&a", "*a", "!tag", "!!str", "|", ">", "?",
	"? x", "@", "`", "%", "{", "}", "[", "]", "{}", "[]", ",", "'", "\"", "''", "\\", "\\n", "\n", "\n\n", "a\n",
	"a\n\n", "\na", "  a\nb", "a\n  b", "a \nb", "a\t\nb", "\t", "a\tb", " a", "a ", "\r", "a\r\nb", "\x00",
	"\x01\x7f", "\u0085", "\u00a0", "\u2028", "\u2029", "\ufeff", "\ufffd", "é", "日本語", "🚀", "a\u200bb",
	"http://x:80/path?q=1#f", "/dev/termination-log", "nginx:1.25", "100m", "128Mi", "kubernetes.io/hostname",
	strings.Repeat("long ", 40), "line one\nline two\n", "# heading\n- item: 1\n  key: [a, b]\n",
}

// String returns a random valid UTF-8 string: a tricky one, a short word, or random runes.
func String(rng *rand.Rand) string {
	switch rng.IntN(4) {
	case 0, 1:
		return tricky[rng.IntN(len(tricky))]
	case 2:
		const letters = "abcdefghijklmnopqrstuvwxyz0123456789-."
		b := make([]byte, 1+rng.IntN(12))
		for i := range b {
			b[i] = letters[rng.IntN(len(letters))]
		}
		return string(b)
	}
	var b strings.Builder
	for n := rng.IntN(10); n > 0; n-- {
		var r rune
		switch rng.IntN(4) {
		case 0:
			r = rune(rng.IntN(0x80))
		case 1:
			r = rune(0x80 + rng.IntN(0x780))
		case 2:
			r = rune(0x800 + rng.IntN(0xd800-0x800))
		default:
			r = rune(0x10000 + rng.IntN(0x100000))
		}
		b.WriteRune(r)
	}
	return b.String()
}
