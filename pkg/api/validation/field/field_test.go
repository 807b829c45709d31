package field

import (
	"errors"
	"fmt"
	"testing"
)

func TestPathString(t *testing.T) {
	tests := []struct {
		name string
		path *Path
		want string
	}{
		{"nil", nil, ""},
		{"root", NewPath("spec"), "spec"},
		{"more names", NewPath("spec", "template", "metadata"), "spec.template.metadata"},
		{"container image", NewPath("spec").Child("containers").Index(0).Child("image"), "spec.containers[0].image"},
		{"label key", NewPath("metadata").Child("labels").Key("k"), "metadata.labels[k]"},
		{"empty key", NewPath("data").Key(""), "data[]"},
		{"nested index", NewPath("a").Index(1).Index(2).Child("b", "c"), "a[1][2].b.c"},
		{"child of nil", (*Path)(nil).Child("key"), "key"},
		{"index of nil", (*Path)(nil).Index(3), "[3]"},
		{"key with dots", NewPath("metadata", "annotations").Key("example.com/x"), "metadata.annotations[example.com/x]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.path.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPathSharing(t *testing.T) {
	base := NewPath("spec").Child("containers")
	a := base.Index(0).Child("name")
	b := base.Index(1).Child("image")
	if a.String() != "spec.containers[0].name" || b.String() != "spec.containers[1].image" {
		t.Fatalf("siblings interfere: %q %q", a, b)
	}
	if base.String() != "spec.containers" {
		t.Fatalf("parent changed: %q", base)
	}
	if got := b.Root().String(); got != "spec" {
		t.Fatalf("Root() = %q", got)
	}
}

type stringer struct{}

func (stringer) String() string { return "custom" }

func TestErrorRendering(t *testing.T) {
	p := NewPath("metadata", "name")
	n := 5
	var nilPtr *int
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"required", Required(NewPath("spec").Child("containers").Index(0).Child("image"), ""), "spec.containers[0].image: Required value"},
		{"required detail", Required(p, "name or generateName is required"), "metadata.name: Required value: name or generateName is required"},
		{"invalid string", Invalid(p, "Foo_", "a lowercase RFC 1123 label must consist of ..."), `metadata.name: Invalid value: "Foo_": a lowercase RFC 1123 label must consist of ...`},
		{"invalid int", Invalid(NewPath("port"), 70000, "must be between 1 and 65535, inclusive"), "port: Invalid value: 70000: must be between 1 and 65535, inclusive"},
		{"invalid bool", Invalid(NewPath("x"), true, "no"), "x: Invalid value: true: no"},
		{"invalid pointer", Invalid(NewPath("x"), &n, "bad"), "x: Invalid value: 5: bad"},
		{"invalid nil pointer", Invalid(NewPath("x"), nilPtr, "bad"), "x: Invalid value: null: bad"},
		{"invalid nil", Invalid(NewPath("x"), nil, "bad"), "x: Invalid value: null: bad"},
		{"invalid stringer", Invalid(NewPath("x"), stringer{}, "bad"), "x: Invalid value: custom: bad"},
		{"invalid slice", Invalid(NewPath("values"), []string{"a"}, "bad"), `values: Invalid value: []string{"a"}: bad`},
		{"invalid omitted", Invalid(NewPath("secret"), OmitValue, "bad"), "secret: Invalid value: bad"},
		{"not supported", NotSupported(NewPath("spec", "restartPolicy"), "Sometimes", []string{"Always", "OnFailure", "Never"}), `spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`},
		{"not supported no list", NotSupported[string](NewPath("op"), "x", nil), `op: Unsupported value: "x"`},
		{"duplicate", Duplicate(NewPath("spec", "containers").Index(1).Child("name"), "web"), `spec.containers[1].name: Duplicate value: "web"`},
		{"forbidden", Forbidden(NewPath("spec", "nodeName"), "may not be changed"), "spec.nodeName: Forbidden: may not be changed"},
		{"too long", TooLong(NewPath("metadata", "annotations"), "", 262144), "metadata.annotations: Too long: may not be more than 262144 bytes"},
		{"too long unknown", TooLong(NewPath("x"), "", -1), "x: Too long: value is too long"},
		{"too many", TooMany(NewPath("spec", "containers"), 20, 10), "spec.containers: Too many: 20: must have at most 10 items"},
		{"too many omitted", TooMany(NewPath("spec", "containers"), -1, 10), "spec.containers: Too many: must have at most 10 items"},
		{"not found", NotFound(NewPath("spec", "volumes"), "data"), `spec.volumes: Not found: "data"`},
		{"internal", InternalError(NewPath("spec"), errors.New("boom")), "spec: Internal error: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() =\n  %s\nwant\n  %s", got, tt.want)
			}
		})
	}
}

func TestErrorTypes(t *testing.T) {
	p := NewPath("f")
	tests := []struct {
		err  *Error
		want ErrorType
	}{
		{Required(p, ""), ErrorTypeRequired},
		{Invalid(p, 1, ""), ErrorTypeInvalid},
		{NotSupported(p, 1, []string{"a"}), ErrorTypeNotSupported},
		{Duplicate(p, 1), ErrorTypeDuplicate},
		{Forbidden(p, ""), ErrorTypeForbidden},
		{TooLong(p, "", 1), ErrorTypeTooLong},
		{TooMany(p, 2, 1), ErrorTypeTooMany},
		{NotFound(p, 1), ErrorTypeNotFound},
		{InternalError(p, errors.New("x")), ErrorTypeInternal},
	}
	for _, tt := range tests {
		if tt.err.Type != tt.want || tt.err.Field != "f" {
			t.Errorf("%v: Type=%q Field=%q, want %q f", tt.err, tt.err.Type, tt.err.Field, tt.want)
		}
	}
	if got := ErrorType("Custom").String(); got != "Custom" {
		t.Errorf("unknown type renders %q", got)
	}
}

func TestToAggregate(t *testing.T) {
	if err := ErrorList(nil).ToAggregate(); err != nil {
		t.Fatalf("nil list: %v", err)
	}
	if err := (ErrorList{}).ToAggregate(); err != nil {
		t.Fatalf("empty list: %v", err)
	}
	if err := (ErrorList{nil}).ToAggregate(); err != nil {
		t.Fatalf("list of nil: %v", err)
	}

	one := ErrorList{Required(NewPath("a"), "")}
	if got := one.ToAggregate().Error(); got != "a: Required value" {
		t.Fatalf("single: %q", got)
	}

	list := ErrorList{
		Required(NewPath("a"), ""),
		Invalid(NewPath("b"), "x", "bad"),
		Required(NewPath("a"), ""), // duplicate message, dropped
	}
	err := list.ToAggregate()
	want := `[a: Required value, b: Invalid value: "x": bad]`
	if err.Error() != want {
		t.Fatalf("Error() = %q, want %q", err.Error(), want)
	}
	var agg *Aggregate
	if !errors.As(err, &agg) {
		t.Fatalf("errors.As(*Aggregate) failed on %T", err)
	}
	errs := agg.Errors()
	if len(errs) != 2 || errs[0].Field != "a" || errs[1].Field != "b" || errs[1].Type != ErrorTypeInvalid {
		t.Fatalf("Errors() = %v", errs)
	}
	errs[0] = nil // the accessor returns a copy
	if agg.Errors()[0] == nil {
		t.Fatal("Errors() exposes internal slice")
	}
	var fe *Error
	if !errors.As(fmt.Errorf("wrapped: %w", err), &fe) || fe.Field != "a" {
		t.Fatalf("errors.As(*Error) through wrapping: %v", fe)
	}
}

func TestFilter(t *testing.T) {
	list := ErrorList{Required(NewPath("a"), ""), Invalid(NewPath("b"), 1, ""), Required(NewPath("c"), "")}
	got := list.Filter(func(e *Error) bool { return e.Type == ErrorTypeRequired })
	if len(got) != 2 || got[0].Field != "a" || got[1].Field != "c" {
		t.Fatalf("Filter = %v", got)
	}
}

func FuzzPath(f *testing.F) {
	f.Add("spec", "containers", 0, "k")
	f.Add("", "", -1, "")
	f.Fuzz(func(t *testing.T, a, b string, i int, k string) {
		p := NewPath(a).Child(b).Index(i).Key(k)
		want := fmt.Sprintf("%s.%s[%d][%s]", a, b, i, k)
		if got := p.String(); got != want {
			t.Fatalf("String() = %q, want %q", got, want)
		}
		e := Invalid(p, k, "d")
		if got := e.Error(); got != want+": Invalid value: "+fmt.Sprintf("%q", k)+": d" {
			t.Fatalf("Error() = %q", got)
		}
	})
}
