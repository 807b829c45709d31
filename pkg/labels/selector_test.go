package labels

import (
	"errors"
	"strings"
	"testing"

	"github.com/coxswain/coxswain/pkg/api/validation/field"
)

func TestParseAndMatch(t *testing.T) {
	tests := []struct {
		selector  string
		canonical string
		match     []map[string]string
		noMatch   []map[string]string
	}{
		{"", "", []map[string]string{nil, {}, {"a": "b"}}, nil},
		{"  ", "", []map[string]string{nil}, nil},
		{"app=web", "app=web", []map[string]string{{"app": "web"}, {"app": "web", "x": "y"}},
			[]map[string]string{nil, {"app": "db"}, {"app": ""}}},
		{"x==y", "x==y", []map[string]string{{"x": "y"}}, []map[string]string{{"x": "z"}, {}}},
		{"env!=prod", "env!=prod", []map[string]string{{}, {"env": "dev"}, {"env": ""}}, []map[string]string{{"env": "prod"}}},
		{"key", "key", []map[string]string{{"key": ""}, {"key": "v"}}, []map[string]string{{}, {"other": "v"}}},
		{"!canary", "!canary", []map[string]string{{}, {"x": "y"}}, []map[string]string{{"canary": ""}, {"canary": "true"}}},
		{"tier in (a,b)", "tier in (a,b)", []map[string]string{{"tier": "a"}, {"tier": "b"}},
			[]map[string]string{{}, {"tier": "c"}, {"tier": ""}}},
		{"tier notin (c)", "tier notin (c)", []map[string]string{{}, {"tier": "a"}}, []map[string]string{{"tier": "c"}}},
		{"tier in (b, a, b)", "tier in (a,b)", []map[string]string{{"tier": "a"}}, nil},
		{"x in ()", "x in ()", []map[string]string{{"x": ""}}, []map[string]string{{}, {"x": "a"}}},
		{"x in (,a)", "x in (,a)", []map[string]string{{"x": ""}, {"x": "a"}}, []map[string]string{{"x": "b"}}},
		{"x in (a,)", "x in (,a)", []map[string]string{{"x": ""}, {"x": "a"}}, nil},
		{"x in (a,,b)", "x in (,a,b)", []map[string]string{{"x": ""}, {"x": "b"}}, nil},
		{"a=", "a=", []map[string]string{{"a": ""}}, []map[string]string{{}, {"a": "x"}}},
		{"a!=", "a!=", []map[string]string{{}, {"a": "x"}}, []map[string]string{{"a": ""}}},
		{"n>5", "n>5", []map[string]string{{"n": "6"}, {"n": "100"}}, []map[string]string{{}, {"n": "5"}, {"n": "x"}, {"n": "-1"}}},
		{"n<5", "n<5", []map[string]string{{"n": "4"}, {"n": "-6"}}, []map[string]string{{}, {"n": "5"}, {"n": "9"}, {"n": "4.5"}}},
		{
			"app=web,tier in (a,b),!canary,env!=prod,x==y,key,tier notin (c)",
			"app=web,!canary,env!=prod,key,tier in (a,b),tier notin (c),x==y",
			[]map[string]string{{"app": "web", "tier": "a", "env": "dev", "x": "y", "key": "1"}},
			[]map[string]string{
				{"app": "web", "tier": "a", "env": "dev", "x": "y"},                              // no key
				{"app": "web", "tier": "a", "env": "prod", "x": "y", "key": "1"},                 // env=prod
				{"app": "web", "tier": "a", "env": "dev", "x": "y", "key": "1", "canary": "yes"}, // canary
				{"app": "web", "tier": "c", "env": "dev", "x": "y", "key": "1"},                  // tier c
			},
		},
		{" app = web , tier\tin\n( a , b ) ", "app=web,tier in (a,b)", []map[string]string{{"app": "web", "tier": "b"}}, nil},
		{"in in (in),notin", "in in (in),notin", []map[string]string{{"in": "in", "notin": ""}}, []map[string]string{{"in": "in"}}},
		{"a=in,b=notin", "a=in,b=notin", []map[string]string{{"a": "in", "b": "notin"}}, nil},
		{"example.com/tier=front_end.v1", "example.com/tier=front_end.v1", []map[string]string{{"example.com/tier": "front_end.v1"}}, nil},
		{"b=1,a=2,b!=3", "a=2,b!=3,b=1", []map[string]string{{"a": "2", "b": "1"}}, nil},
		{"a,a", "a,a", []map[string]string{{"a": ""}}, nil},
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
			if sel.Empty() != (tt.canonical == "") {
				t.Errorf("Empty() = %v", sel.Empty())
			}
			for _, l := range tt.match {
				if !sel.Matches(l) {
					t.Errorf("does not match %v", l)
				}
			}
			for _, l := range tt.noMatch {
				if sel.Matches(l) {
					t.Errorf("matches %v", l)
				}
			}
			again, err := Parse(sel.String())
			if err != nil || !again.Equal(sel) {
				t.Errorf("re-parse of %q: %v, %v", sel.String(), again, err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		selector string
		want     string
	}{
		{"app=web,tier in ((a)", "unable to parse requirement: found '(', expected: ',', ')' or identifier at position 17"},
		{"x=a||y=b", "unable to parse requirement: values: Invalid value: \"a||y\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?') at position 2"},
		{"x=a==b", "found '==', expected: ',' or 'end of string' at position 3"},
		{"!x=a", "found '=', expected: ',' or 'end of string' at position 2"},
		{"x in a", "unable to parse requirement: found 'a', expected: '(' at position 5"},
		{"x in (a", "unable to parse requirement: found 'end of string', expected: ',' or ')' at position 7"},
		{"x in (a b)", "unable to parse requirement: found 'b', expected: ',' or ')' at position 8"},
		{"x in (a) y", "found 'y', expected: ',' or 'end of string' at position 9"},
		{"a,", "found 'end of string', expected: identifier after ',' at position 2"},
		{"a,,b", "found ',', expected: identifier after ',' at position 2"},
		{",a", "found ',', expected: !, identifier, or 'end of string' at position 0"},
		{"=a", "found '=', expected: !, identifier, or 'end of string' at position 0"},
		{"!", "unable to parse requirement: found 'end of string', expected: identifier at position 1"},
		{"!!a", "unable to parse requirement: found '!', expected: identifier at position 1"},
		{"a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, >, < at position 2"},
		{"a (b)", "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, >, < at position 2"},
		{"a=(b)", "unable to parse requirement: found '(', expected: identifier at position 2"},
		{"a>b", "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer at position 1"},
		{"a<", "unable to parse requirement: values[0]: Invalid value: \"\": for 'Gt', 'Lt' operators, the value must be an integer at position 1"},
		{"Foo_=x", "unable to parse requirement: key: Invalid value: \"Foo_\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') at position 0"},
		{"app=web,tier in (a,b),-x", "unable to parse requirement: key: Invalid value: \"-x\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') at position 22"},
		{"n<-5", "unable to parse requirement: values: Invalid value: \"-5\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?') at position 2"},
		{"a in (" + strings.Repeat("v", 64) + ")", "unable to parse requirement: values: Invalid value: \"" + strings.Repeat("v", 64) + "\": must be no more than 63 characters at position 6"},
	}
	for _, tt := range tests {
		t.Run(tt.selector, func(t *testing.T) {
			sel, err := Parse(tt.selector)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want error", tt.selector, sel)
			}
			if err.Error() != tt.want {
				t.Errorf("error =\n  %s\nwant\n  %s", err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Input != tt.selector {
				t.Errorf("not a *ParseError for the input: %#v", err)
			}
		})
	}
}

func TestNewRequirement(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		op      Operator
		values  []string
		wantErr string
		str     string
	}{
		{"in", "tier", In, []string{"b", "a", "a"}, "", "tier in (a,b)"},
		{"notin", "tier", NotIn, []string{"c"}, "", "tier notin (c)"},
		{"equals", "a", Equals, []string{"b"}, "", "a=b"},
		{"double equals", "a", DoubleEquals, []string{"b"}, "", "a==b"},
		{"not equals", "a", NotEquals, []string{""}, "", "a!="},
		{"exists", "a", Exists, nil, "", "a"},
		{"does not exist", "a", DoesNotExist, []string{}, "", "!a"},
		{"gt", "a", GreaterThan, []string{"10"}, "", "a>10"},
		{"lt", "a", LessThan, []string{"3"}, "", "a<3"},
		{"in empty", "a", In, nil, `values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty`, ""},
		{"equals two", "a", Equals, []string{"x", "y"}, `values: Invalid value: []string{"x", "y"}: exact-match compatibility requires one single value`, ""},
		{"exists with values", "a", Exists, []string{"x"}, `values: Invalid value: []string{"x"}: values set must be empty for exists and does not exist`, ""},
		{"gt two", "a", GreaterThan, []string{"1", "2"}, `values: Invalid value: []string{"1", "2"}: for 'Gt', 'Lt' operators, exactly one value is required`, ""},
		{"gt not int", "a", GreaterThan, []string{"x"}, `values[0]: Invalid value: "x": for 'Gt', 'Lt' operators, the value must be an integer`, ""},
		{"unknown op", "a", Operator("~"), nil, `operator: Unsupported value: "~": supported values: "!", "=", "==", "in", "!=", "notin", "exists", "gt", "lt"`, ""},
		{"bad key and value", "a b", Equals, []string{"-"}, `[key: Invalid value: "a b": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]'), values[0]: Invalid value: "-": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')]`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRequirement(tt.key, tt.op, tt.values)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err =\n  %v\nwant\n  %s", err, tt.wantErr)
				}
				var fe *field.Error
				if !errors.As(err, &fe) {
					t.Errorf("error carries no *field.Error: %T", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.String() != tt.str || r.Key() != tt.key || r.Operator() != tt.op {
				t.Errorf("got %q key=%q op=%q", r.String(), r.Key(), r.Operator())
			}
		})
	}
	r, _ := NewRequirement("a", In, []string{"x"})
	r.Values()[0] = "changed"
	if r.Values()[0] != "x" {
		t.Error("Values() exposes internal state")
	}
}

func TestSelectorFromSet(t *testing.T) {
	sel := SelectorFromSet(map[string]string{"b": "2", "a": "1"})
	if got := sel.String(); got != "a=1,b=2" {
		t.Errorf("String() = %q", got)
	}
	if !sel.Matches(map[string]string{"a": "1", "b": "2", "c": "3"}) || sel.Matches(map[string]string{"a": "1"}) {
		t.Error("wrong matching")
	}
	if !SelectorFromSet(nil).Empty() || !SelectorFromSet(nil).Matches(nil) {
		t.Error("nil set must match everything")
	}
	if _, err := ValidatedSelectorFromSet(map[string]string{"a": "-x"}); err == nil ||
		!strings.HasPrefix(err.Error(), `matchLabels[a].values[0]: Invalid value: "-x"`) {
		t.Errorf("ValidatedSelectorFromSet error: %v", err)
	}
	v, err := ValidatedSelectorFromSet(map[string]string{"a": "1", "b": "2"})
	if err != nil || !v.Equal(sel) {
		t.Errorf("ValidatedSelectorFromSet = %v, %v", v, err)
	}
}

func TestSelectorFromMatch(t *testing.T) {
	sel, err := SelectorFromMatch(
		map[string]string{"app": "web"},
		[]LabelSelectorRequirement{
			{Key: "tier", Operator: "In", Values: []string{"front", "back"}},
			{Key: "env", Operator: "NotIn", Values: []string{"prod"}},
			{Key: "team", Operator: "Exists"},
			{Key: "canary", Operator: "DoesNotExist"},
		})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sel.String(), "app=web,!canary,env notin (prod),team,tier in (back,front)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if !sel.Matches(map[string]string{"app": "web", "tier": "front", "team": "x"}) {
		t.Error("should match")
	}
	if sel.Matches(map[string]string{"app": "web", "tier": "front", "team": "x", "env": "prod"}) {
		t.Error("should not match env=prod")
	}

	empty, err := SelectorFromMatch(nil, nil)
	if err != nil || !empty.Empty() {
		t.Errorf("empty LabelSelector: %v %v", empty, err)
	}

	errTests := []struct {
		name   string
		labels map[string]string
		exprs  []LabelSelectorRequirement
		want   string
	}{
		{"bad operator", nil, []LabelSelectorRequirement{{Key: "a", Operator: "Exists"}, {Key: "a", Operator: "Gt", Values: []string{"1"}}},
			`matchExpressions[1].operator: Unsupported value: "Gt": supported values: "DoesNotExist", "Exists", "In", "NotIn"`},
		{"in without values", nil, []LabelSelectorRequirement{{Key: "a", Operator: "In"}},
			`matchExpressions[0].values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty`},
		{"exists with values", nil, []LabelSelectorRequirement{{Key: "a", Operator: "Exists", Values: []string{"x"}}},
			`matchExpressions[0].values: Invalid value: []string{"x"}: values set must be empty for exists and does not exist`},
		{"bad value", nil, []LabelSelectorRequirement{{Key: "a", Operator: "In", Values: []string{"ok", "not ok"}}},
			`matchExpressions[0].values[1]: Invalid value: "not ok": a valid label must`},
		{"bad key", nil, []LabelSelectorRequirement{{Key: "", Operator: "Exists"}},
			`matchExpressions[0].key: Invalid value: "": name part must be non-empty`},
		{"bad match label", map[string]string{"a/b/c": "x"}, nil, `matchLabels[a/b/c].key: Invalid value: "a/b/c": a qualified name`},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := SelectorFromMatch(tt.labels, tt.exprs)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("err =\n  %v\nwant prefix\n  %s", err, tt.want)
			}
		})
	}
}

func TestRequiresExactMatch(t *testing.T) {
	tests := []struct {
		selector, label, value string
		found                  bool
	}{
		{"a=b", "a", "b", true},
		{"a==b", "a", "b", true},
		{"a in (b)", "a", "b", true},
		{"a in (b,c)", "a", "", false},
		{"a!=b", "a", "", false},
		{"a", "a", "", false},
		{"x=y,a=b", "a", "b", true},
		{"x=y", "a", "", false},
		{"", "a", "", false},
	}
	for _, tt := range tests {
		v, found := MustParse(tt.selector).RequiresExactMatch(tt.label)
		if v != tt.value || found != tt.found {
			t.Errorf("%q.RequiresExactMatch(%q) = %q, %v", tt.selector, tt.label, v, found)
		}
	}
}

func TestSelectorImmutable(t *testing.T) {
	sel := MustParse("a=1")
	r, _ := NewRequirement("b", Exists, nil)
	sel2 := sel.Add(r)
	if sel.String() != "a=1" || sel2.String() != "a=1,b" {
		t.Errorf("Add changed receiver: %q %q", sel, sel2)
	}
	reqs := sel2.Requirements()
	reqs[0] = r
	if sel2.String() != "a=1,b" {
		t.Error("Requirements() exposes internal state")
	}
	if len(Everything().Requirements()) != 0 || !Everything().Matches(map[string]string{"x": "y"}) {
		t.Error("Everything")
	}
	defer func() {
		if recover() == nil {
			t.Error("MustParse did not panic")
		}
	}()
	MustParse("a in")
}

func BenchmarkParse(b *testing.B) {
	const s = "app=web,tier in (a,b),!canary,env!=prod,x==y,key,tier notin (c)"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMatches(b *testing.B) {
	sel := MustParse("app=web,tier in (a,b),!canary,env!=prod,key")
	labels := map[string]string{"app": "web", "tier": "b", "env": "dev", "key": "", "pod-template-hash": "abc"}
	b.ReportAllocs()
	for b.Loop() {
		if !sel.Matches(labels) {
			b.Fatal("no match")
		}
	}
}
