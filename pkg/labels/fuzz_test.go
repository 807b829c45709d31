package labels

import (
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "app=web,tier in (a,b),!canary,env!=prod,x==y,key,tier notin (c)",
		"x in ()", "x in (,a,,b,)", "a=", "n>5", "n<10", "in in (in)", "!a=b", "a in ((b)",
		"example.com/x notin (a.b,c_d)", " a = b ", "a,,b", "a==b,a=b", "a!=b!=c", "\x00", "a=\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := Parse(s)
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("Parse(%q) error %T is not *ParseError", s, err)
			}
			return
		}
		canonical := sel.String()
		again, err := Parse(canonical)
		if err != nil {
			t.Fatalf("Parse(%q) ok but its String %q does not parse: %v", s, canonical, err)
		}
		if !again.Equal(sel) {
			t.Fatalf("Parse(%q).String() = %q re-parses to %q", s, canonical, again)
		}
		if again.String() != canonical {
			t.Fatalf("String not stable: %q then %q", canonical, again.String())
		}
		for _, r := range sel.Requirements() {
			empty := r.Matches(nil)
			switch r.Operator() {
			case NotIn, NotEquals, DoesNotExist:
				if !empty {
					t.Fatalf("%q does not match empty labels", r)
				}
			default:
				if empty {
					t.Fatalf("%q matches empty labels", r)
				}
			}
			vals := r.Values()
			if len(vals) == 0 {
				continue
			}
			with := map[string]string{r.Key(): vals[0]}
			switch r.Operator() {
			case In, Equals, DoubleEquals:
				if !r.Matches(with) {
					t.Fatalf("%q does not match %v", r, with)
				}
			case NotIn, NotEquals:
				if r.Matches(with) {
					t.Fatalf("%q matches %v", r, with)
				}
			case GreaterThan, LessThan:
				if r.Matches(with) {
					t.Fatalf("%q matches its own bound %v", r, with)
				}
			}
			if !sel.Matches(with) && len(sel.Requirements()) == 1 && (r.Operator() == In || r.Operator() == Equals) {
				t.Fatalf("selector %q does not match %v", sel, with)
			}
		}
	})
}
