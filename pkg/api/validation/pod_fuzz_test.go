package validation

import (
	"math"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/api/validation/field"
	coordinationv1 "github.com/coxswain/coxswain/proto/coxswain/coordination/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// byteReader hands out the fuzzer's bytes as choices; it returns zeros once exhausted.
type byteReader struct{ b []byte }

func (r *byteReader) next() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *byteReader) n(max int) int { return int(r.next()) % max }

// fuzzStrings are values that exercise the validators' branches.
var fuzzStrings = []string{"", "a", "app", "Foo_", "-", "a.b", "example.com/x", "a/b/c", "..", "../x", "/data", "/data/",
	"TCP", "UDP", "ICMP", "None", "Exists", "Equal", "In", "NotIn", "Gt", "DoesNotExist", "NoSchedule", "NoExecute",
	"Always", "Never", "OnFailure", "ClusterFirst", "HTTP", "http", "v1", "v2", "metadata.name", "metadata.labels['app']",
	"metadata.annotations['a/b']", "status.podIP", "spec.nodeName['x']", "limits.cpu", "requests.memory", "1m", "1Mi",
	"100m", "-1", "1e3", "1.5", "25%", "101%", "x%", "10.0.0.1", "::1", "fe80::1", "10.0.0.0/24", "1Gi", "cpu", "memory",
	"pods", "example.com/gpu", "hugepages-2Mi", "kubernetes", "orphan", "foregroundDeletion", strings.Repeat("a", 64),
	strings.Repeat("b.", 130), "\xff\xfe", "é", " x ", "metadata.labels['", "[']"}

var fuzzInts = []int64{0, 1, -1, 2, 80, 65535, 65536, 0o777, 0o1000, 86400, 86401, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64}

// mutateMessage makes a few random changes to m, steered by r: clear or set fields, add or drop list and
// map entries, and recurse into nested messages.
func mutateMessage(m protoreflect.Message, r *byteReader, depth int) {
	fields := m.Descriptor().Fields()
	if fields.Len() == 0 || depth > 8 {
		return
	}
	for range r.n(3) + 1 {
		fd := fields.Get(r.n(fields.Len()))
		switch {
		case r.n(8) == 0:
			m.Clear(fd)
		case fd.IsList():
			l := m.Mutable(fd).List()
			switch op := r.n(4); {
			case op == 0 || l.Len() == 0:
				v := l.NewElement()
				if fd.Message() == nil {
					v = scalarValue(fd, r)
				} else if r.n(4) != 0 {
					mutateMessage(v.Message(), r, depth+1)
				}
				l.Append(v)
			case op == 1:
				l.Truncate(l.Len() - 1)
			default:
				i := r.n(l.Len())
				if fd.Message() != nil {
					mutateMessage(l.Get(i).Message(), r, depth+1)
				} else {
					l.Set(i, scalarValue(fd, r))
				}
			}
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			key := protoreflect.ValueOfString(fuzzStrings[r.n(len(fuzzStrings))]).MapKey()
			if r.n(4) == 0 {
				mp.Clear(key)
				break
			}
			if fd.MapValue().Message() != nil {
				v := mp.NewValue()
				mutateMessage(v.Message(), r, depth+1)
				mp.Set(key, v)
			} else {
				mp.Set(key, scalarValue(fd.MapValue(), r))
			}
		case fd.Message() != nil:
			mutateMessage(m.Mutable(fd).Message(), r, depth+1)
		default:
			m.Set(fd, scalarValue(fd, r))
		}
	}
}

func scalarValue(fd protoreflect.FieldDescriptor, r *byteReader) protoreflect.Value {
	i := fuzzInts[r.n(len(fuzzInts))]
	if r.n(2) == 0 {
		i = int64(int8(r.next()))
	}
	switch fd.Kind() {
	case protoreflect.StringKind:
		if r.n(4) == 0 {
			n := min(len(r.b), r.n(16))
			return protoreflect.ValueOfString(string(r.b[:n]))
		}
		return protoreflect.ValueOfString(fuzzStrings[r.n(len(fuzzStrings))])
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte(fuzzStrings[r.n(len(fuzzStrings))]))
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(r.n(2) == 0)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(i))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(i)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(i))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(i))
	case protoreflect.EnumKind:
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(i))
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(i))
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(float64(i))
	}
	return fd.Default()
}

var knownErrorTypes = []field.ErrorType{field.ErrorTypeNotFound, field.ErrorTypeRequired, field.ErrorTypeDuplicate,
	field.ErrorTypeInvalid, field.ErrorTypeNotSupported, field.ErrorTypeForbidden, field.ErrorTypeTooLong, field.ErrorTypeTooMany}

// checkFuzzErrors checks every error names a field under one of roots and renders.
func checkFuzzErrors(t *testing.T, what string, errs field.ErrorList, roots ...string) {
	t.Helper()
	for _, e := range errs {
		if e == nil {
			t.Fatalf("%s: nil error in list", what)
		}
		if !slices.Contains(knownErrorTypes, e.Type) {
			t.Fatalf("%s: unexpected error type: %v", what, e)
		}
		ok := false
		for _, r := range roots {
			ok = ok || e.Field == r || strings.HasPrefix(e.Field, r+".") || strings.HasPrefix(e.Field, r+"[")
		}
		if !ok {
			t.Fatalf("%s: error %q is not under %v", what, e.Error(), roots)
		}
		if !strings.HasPrefix(e.Error(), e.Field+": ") {
			t.Fatalf("%s: error %q does not start with its field", what, e.Error())
		}
	}
}

// fuzzObject mutates a copy of valid (proto bytes merged in, then reflective changes) and checks the
// validators' invariants on it.
func fuzzObject(t *testing.T, valid api.Object, program, raw []byte, specRoots ...string) {
	obj := api.Clone(valid)
	_ = proto.UnmarshalOptions{Merge: true, DiscardUnknown: true}.Unmarshal(raw, obj)
	mutateMessage(obj.ProtoReflect(), &byteReader{b: program}, 0)
	snapshot := api.Clone(obj)

	errs := ValidateObject(obj)
	checkFuzzErrors(t, "create", errs, append([]string{"metadata"}, specRoots...)...)
	if again := ValidateObject(obj); !slices.Equal(messages(again), messages(errs)) {
		t.Fatalf("validation is not deterministic:\n%q\n%q", messages(errs), messages(again))
	}
	// An unchanged object updates exactly as it creates (bar the finalizer conflict an update tolerates).
	same := ValidateObjectUpdate(obj, api.Clone(obj))
	fins := obj.GetMetadata().GetFinalizers()
	if !(slices.Contains(fins, "orphan") && slices.Contains(fins, "foregroundDeletion")) && !slices.Equal(messages(same), messages(errs)) {
		t.Fatalf("no-op update:\n%q\ncreate:\n%q", messages(same), messages(errs))
	}
	checkFuzzErrors(t, "update from valid", ValidateObjectUpdate(obj, valid), append([]string{"metadata"}, specRoots...)...)
	checkFuzzErrors(t, "update to valid", ValidateObjectUpdate(api.Clone(valid), obj), append([]string{"metadata"}, specRoots...)...)
	checkFuzzErrors(t, "status update", ValidateStatusUpdate(obj, valid), append([]string{"metadata", "status"}, specRoots...)...)
	checkFuzzErrors(t, "status update from fuzzed", ValidateStatusUpdate(api.Clone(valid), obj), append([]string{"metadata", "status"}, specRoots...)...)
	if !proto.Equal(obj, snapshot) {
		t.Fatalf("validation modified the object")
	}
}

func addSeeds(f *testing.F, valid api.Object) {
	raw, err := proto.Marshal(valid)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{}, []byte{})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, []byte{})
	f.Add([]byte{0, 9, 0, 2, 3, 1, 0, 4, 200, 17, 33}, raw[:len(raw)/2])
	f.Add([]byte{7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7}, []byte{0x12, 0x02, 0x1a, 0x00})
	f.Add([]byte{255, 254, 3, 2, 1, 0, 128, 64, 32, 16, 8, 4, 2, 1}, raw)
}

// FuzzValidatePod: random mutations of a valid pod never make the validators panic, errors always name a
// field, validation is deterministic and does not modify the pod, and a no-op update is judged like a
// create.
func FuzzValidatePod(f *testing.F) {
	addSeeds(f, validPod())
	f.Fuzz(func(t *testing.T, program, raw []byte) {
		fuzzObject(t, validPod(), program, raw, "spec")
	})
}

// FuzzValidateObject does the same for every other kind.
func FuzzValidateObject(f *testing.F) {
	valids := []struct {
		obj   api.Object
		roots []string
	}{
		{validService(), []string{"spec"}},
		{validDeployment(), []string{"spec"}},
		{validReplicaSet(), []string{"spec"}},
		{validNode(), []string{"spec", "status"}},
		{&corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "ns"}, Spec: &corev1.NamespaceSpec{Finalizers: []string{"kubernetes"}}}, []string{"spec", "status"}},
		{&corev1.ConfigMap{Metadata: meta("c"), Data: map[string]string{"a": "b"}}, []string{"data", "binaryData"}},
		{&corev1.Secret{Metadata: meta("s"), Type: "Opaque", Data: map[string][]byte{"a": nil}}, []string{"data", "stringData", "type", "immutable"}},
		{&corev1.Endpoints{Metadata: meta("e"), Subsets: []*corev1.EndpointSubset{{Addresses: []*corev1.EndpointAddress{{Ip: "10.0.0.1"}},
			Ports: []*corev1.EndpointPort{{Port: 80, Protocol: "TCP"}}}}}, []string{"subsets"}},
		{&coordinationv1.Lease{Metadata: meta("l"), Spec: &coordinationv1.LeaseSpec{LeaseDurationSeconds: proto.Int32(10)}}, []string{"spec"}},
		{&corev1.Event{Metadata: meta("ev"), InvolvedObject: &corev1.ObjectReference{Kind: "Pod", Name: "p", Namespace: "default"}}, []string{"involvedObject", "type", "count"}},
	}
	for i := range valids {
		f.Add(byte(i), []byte{byte(i), 1, 2, 3}, []byte{})
	}
	f.Fuzz(func(t *testing.T, kind byte, program, raw []byte) {
		v := valids[int(kind)%len(valids)]
		roots := v.roots
		if _, ok := v.obj.(*corev1.ConfigMap); ok {
			roots = append(roots, "immutable")
		}
		fuzzObject(t, v.obj, program, raw, roots...)
	})
}
