package fields

import (
	"errors"
	"testing"
)

func getter(m map[string]string) func(string) (string, bool) {
	return func(f string) (string, bool) {
		v, ok := m[f]
		return v, ok
	}
}

func TestParseAndMatch(t *testing.T) {
	pod := map[string]string{"metadata.name": "x", "metadata.namespace": "default", "spec.nodeName": "node-1", "status.phase": "Running"}
	unscheduled := map[string]string{"metadata.name": "y", "spec.nodeName": "", "status.phase": "Pending"}
	tests := []struct {
		selector  string
		canonical string
		reqs      []Requirement
		match     []map[string]string
		noMatch   []map[string]string
	}{
		{"", "", nil, []map[string]string{pod, unscheduled, nil}, nil},
		{",,", "", nil, []map[string]string{pod}, nil},
		{"metadata.name=x", "metadata.name=x", []Requirement{{"metadata.name", Equals, "x"}}, []map[string]string{pod}, []map[string]string{unscheduled}},
		{"status.phase==Running", "status.phase=Running", []Requirement{{"status.phase", Equals, "Running"}}, []map[string]string{pod}, []map[string]string{unscheduled}},
		{"spec.nodeName!=", "spec.nodeName!=", []Requirement{{"spec.nodeName", NotEquals, ""}}, []map[string]string{pod}, []map[string]string{unscheduled, nil}},
		{"spec.nodeName=", "spec.nodeName=", []Requirement{{"spec.nodeName", Equals, ""}}, []map[string]string{unscheduled, nil}, []map[string]string{pod}},
		{
			"metadata.name=x,spec.nodeName!=,status.phase==Running",
			"metadata.name=x,spec.nodeName!=,status.phase=Running",
			[]Requirement{{"metadata.name", Equals, "x"}, {"spec.nodeName", NotEquals, ""}, {"status.phase", Equals, "Running"}},
			[]map[string]string{pod}, []map[string]string{unscheduled},
		},
		{"status.phase!=Running,metadata.name=y", "metadata.name=y,status.phase!=Running",
			[]Requirement{{"metadata.name", Equals, "y"}, {"status.phase", NotEquals, "Running"}},
			[]map[string]string{unscheduled}, []map[string]string{pod}},
		{`a=x\,y\=z\\`, `a=x\,y\=z\\`, []Requirement{{"a", Equals, `x,y=z\`}}, []map[string]string{{"a": `x,y=z\`}}, []map[string]string{{"a": "x"}}},
		{"a=!b", "a=!b", []Requirement{{"a", Equals, "!b"}}, []map[string]string{{"a": "!b"}}, nil},
		{"a= b ", "a= b ", []Requirement{{"a", Equals, " b "}}, []map[string]string{{"a": " b "}}, []map[string]string{{"a": "b"}}},
		{"a=1,a=1", "a=1,a=1", []Requirement{{"a", Equals, "1"}, {"a", Equals, "1"}}, []map[string]string{{"a": "1"}}, nil},
		{"a/b_c-d.E=é", "a/b_c-d.E=é", []Requirement{{"a/b_c-d.E", Equals, "é"}}, []map[string]string{{"a/b_c-d.E": "é"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.selector, func(t *testing.T) {
			sel, err := Parse(tt.selector)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := sel.String(); got != tt.canonical {
				t.Errorf("String() = %q, want %q", got, tt.canonical)
			}
			got := sel.Requirements()
			if len(got) != len(tt.reqs) {
				t.Fatalf("Requirements() = %v, want %v", got, tt.reqs)
			}
			for i := range got {
				if got[i] != tt.reqs[i] {
					t.Errorf("Requirements()[%d] = %v, want %v", i, got[i], tt.reqs[i])
				}
			}
			if sel.Empty() != (len(tt.reqs) == 0) {
				t.Errorf("Empty() = %v", sel.Empty())
			}
			for _, m := range tt.match {
				if !sel.Matches(getter(m)) {
					t.Errorf("does not match %v", m)
				}
			}
			for _, m := range tt.noMatch {
				if sel.Matches(getter(m)) {
					t.Errorf("matches %v", m)
				}
			}
			again, err := Parse(sel.String())
			if err != nil || !again.Equal(sel) {
				t.Errorf("re-parse: %v, %v", again, err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		selector string
		want     string
	}{
		{"metadata.name", `invalid field selector "metadata.name": term "metadata.name" has no operator: only =, == and != are supported at position 13`},
		{"a=b,status.phase in (Running)", `invalid field selector "a=b,status.phase in (Running)": unsupported operator "in" after field "status.phase": only =, == and != are supported at position 17`},
		{"a notin (b)", `invalid field selector "a notin (b)": unsupported operator "notin" after field "a": only =, == and != are supported at position 2`},
		{"a>5", `invalid field selector "a>5": unsupported operator ">" after field "a": only =, == and != are supported at position 1`},
		{"a<=5", `invalid field selector "a<=5": unsupported operator "<=" after field "a": only =, == and != are supported at position 1`},
		{"a!b", `invalid field selector "a!b": unsupported operator "!" after field "a": only =, == and != are supported at position 1`},
		{"a = b", `invalid field selector "a = b": unexpected whitespace after field "a" at position 1`},
		{"=b", `invalid field selector "=b": missing field name before operator at position 0`},
		{"a=b,!=c", `invalid field selector "a=b,!=c": missing field name before operator at position 4`},
		{" a=b", `invalid field selector " a=b": field name must consist of letters, digits, '.', '_', '-' or '/', found " " at position 0`},
		{"a=b=c", `invalid field selector "a=b=c": value of field "a": unescaped character "=" in value at position 2`},
		{`a=b\`, `invalid field selector "a=b\\": value of field "a": invalid escape sequence: trailing '\' at position 2`},
		{`a=\n`, `invalid field selector "a=\\n": value of field "a": invalid escape sequence: "\\n" at position 2`},
	}
	for _, tt := range tests {
		t.Run(tt.selector, func(t *testing.T) {
			sel, err := Parse(tt.selector)
			if err == nil {
				t.Fatalf("Parse = %q, want error", sel)
			}
			if err.Error() != tt.want {
				t.Errorf("error =\n  %s\nwant\n  %s", err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Input != tt.selector {
				t.Errorf("not a *ParseError: %#v", err)
			}
		})
	}
}

func TestRequiresExactMatch(t *testing.T) {
	tests := []struct {
		selector, field, value string
		found                  bool
	}{
		{"spec.nodeName=node-1", "spec.nodeName", "node-1", true},
		{"spec.nodeName==node-1,status.phase=Running", "spec.nodeName", "node-1", true},
		{"spec.nodeName=", "spec.nodeName", "", true},
		{"spec.nodeName!=node-1", "spec.nodeName", "", false},
		{"status.phase=Running", "spec.nodeName", "", false},
		{"", "spec.nodeName", "", false},
	}
	for _, tt := range tests {
		v, found := MustParse(tt.selector).RequiresExactMatch(tt.field)
		if v != tt.value || found != tt.found {
			t.Errorf("%q.RequiresExactMatch(%q) = %q, %v", tt.selector, tt.field, v, found)
		}
	}
}

func TestConstructors(t *testing.T) {
	if got := OneTermEqualSelector("metadata.name", "a,b").String(); got != `metadata.name=a\,b` {
		t.Errorf("OneTermEqualSelector: %q", got)
	}
	if got := OneTermNotEqualSelector("spec.nodeName", "").String(); got != "spec.nodeName!=" {
		t.Errorf("OneTermNotEqualSelector: %q", got)
	}
	set := SelectorFromSet(map[string]string{"b": "2", "a": "1"})
	if got := set.String(); got != "a=1,b=2" {
		t.Errorf("SelectorFromSet: %q", got)
	}
	if !set.Equal(MustParse("b=2,a==1")) {
		t.Error("SelectorFromSet differs from the parsed equivalent")
	}
	if !Everything().Empty() || !Everything().Matches(getter(nil)) {
		t.Error("Everything")
	}
	reqs := set.Requirements()
	reqs[0].Value = "changed"
	if set.String() != "a=1,b=2" {
		t.Error("Requirements() exposes internal state")
	}
	defer func() {
		if recover() == nil {
			t.Error("MustParse did not panic")
		}
	}()
	MustParse("a>1")
}

func TestEscapeValue(t *testing.T) {
	tests := map[string]string{"": "", "plain": "plain", `a,b`: `a\,b`, `a=b`: `a\=b`, `a\b`: `a\\b`, `\,=`: `\\\,\=`}
	for in, want := range tests {
		if got := EscapeValue(in); got != want {
			t.Errorf("EscapeValue(%q) = %q, want %q", in, got, want)
		}
		back, err := UnescapeValue(want)
		if err != nil || back != in {
			t.Errorf("UnescapeValue(%q) = %q, %v", want, back, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "metadata.name=x,spec.nodeName!=,status.phase==Running", `a=\,\=\\`, "a in (b)",
		"a>1", "a", "=", ",,", "a=b=c", `a=\`, "a= b", "a==", "a!==", "\xff=\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := Parse(s)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Pos < 0 || pe.Pos > len(s) {
				t.Fatalf("Parse(%q): bad error %#v", s, err)
			}
			return
		}
		canonical := sel.String()
		again, err := Parse(canonical)
		if err != nil {
			t.Fatalf("Parse(%q) ok but String %q does not parse: %v", s, canonical, err)
		}
		if !again.Equal(sel) || again.String() != canonical {
			t.Fatalf("round trip of %q: %q then %q", s, canonical, again)
		}
		for _, r := range sel.Requirements() {
			own := getter(map[string]string{r.Field: r.Value})
			switch r.Operator {
			case Equals:
				if _, ok := sel.RequiresExactMatch(r.Field); !ok {
					t.Fatalf("RequiresExactMatch(%q) not found in %q", r.Field, canonical)
				}
				if !r.Matches(own) {
					t.Fatalf("%q does not match its own value", r)
				}
			case NotEquals:
				if r.Matches(own) {
					t.Fatalf("%q matches its excluded value", r)
				}
			default:
				t.Fatalf("operator %q", r.Operator)
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("metadata.name=x,spec.nodeName!=,status.phase==Running"); err != nil {
			b.Fatal(err)
		}
	}
}
