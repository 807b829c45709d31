package fields

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Operator is the relation of a Requirement. Parse normalises "==" to Equals.
type Operator string

// The operators of field selectors.
const (
	Equals    Operator = "="
	NotEquals Operator = "!="
)

// Requirement is one term of a field selector.
type Requirement struct {
	Field    string
	Operator Operator
	Value    string
}

// Matches reports whether the value of the field, as returned by get, meets
// the requirement. A field get does not know is treated as the empty string,
// as in Kubernetes: "spec.nodeName=" selects unscheduled pods.
func (r Requirement) Matches(get func(field string) (string, bool)) bool {
	v, _ := get(r.Field)
	if r.Operator == NotEquals {
		return v != r.Value
	}
	return v == r.Value
}

// String renders the term with its value escaped, e.g. "spec.nodeName!=".
func (r Requirement) String() string {
	return r.Field + string(r.Operator) + EscapeValue(r.Value)
}

func compareRequirements(a, b Requirement) int {
	if c := cmp.Compare(a.Field, b.Field); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Operator, b.Operator); c != 0 {
		return c
	}
	return cmp.Compare(a.Value, b.Value)
}

// Selector is a conjunction of field requirements. The zero value (and
// Everything()) matches every object. Selectors are immutable and safe for
// concurrent use.
type Selector struct {
	reqs []Requirement // sorted by compareRequirements
}

// Everything returns the selector that matches every object.
func Everything() Selector { return Selector{} }

// OneTermEqualSelector returns the selector "field=value".
func OneTermEqualSelector(field, value string) Selector {
	return Selector{reqs: []Requirement{{Field: field, Operator: Equals, Value: value}}}
}

// OneTermNotEqualSelector returns the selector "field!=value".
func OneTermNotEqualSelector(field, value string) Selector {
	return Selector{reqs: []Requirement{{Field: field, Operator: NotEquals, Value: value}}}
}

// SelectorFromSet returns the selector requiring every field of set to have
// its value. A nil or empty set matches everything.
func SelectorFromSet(set map[string]string) Selector {
	reqs := make([]Requirement, 0, len(set))
	for f, v := range set {
		reqs = append(reqs, Requirement{Field: f, Operator: Equals, Value: v})
	}
	slices.SortFunc(reqs, compareRequirements)
	return Selector{reqs: reqs}
}

// Matches reports whether every requirement of s holds for the object whose
// fields get returns.
func (s Selector) Matches(get func(field string) (string, bool)) bool {
	for _, r := range s.reqs {
		if !r.Matches(get) {
			return false
		}
	}
	return true
}

// Empty reports whether s has no requirements and so matches everything.
func (s Selector) Empty() bool { return len(s.reqs) == 0 }

// Requirements returns a copy of the requirements of s, sorted by field.
func (s Selector) Requirements() []Requirement { return slices.Clone(s.reqs) }

// RequiresExactMatch returns the value field must have for s to match, if s
// has an Equals requirement on it. Storage uses it to pick an index, e.g. pods
// by spec.nodeName.
func (s Selector) RequiresExactMatch(field string) (value string, found bool) {
	for _, r := range s.reqs {
		if r.Field == field && r.Operator == Equals {
			return r.Value, true
		}
	}
	return "", false
}

// String renders s canonically: terms sorted, joined by ",", values escaped.
// Parse(s.String()) returns an equal selector.
func (s Selector) String() string {
	parts := make([]string, len(s.reqs))
	for i, r := range s.reqs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

// Equal reports whether s and o have the same requirements.
func (s Selector) Equal(o Selector) bool { return slices.Equal(s.reqs, o.reqs) }

// ParseError is the error of Parse: the reason and the byte offset (0-based)
// in the input where parsing failed.
type ParseError struct {
	Input  string
	Pos    int
	Reason string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("invalid field selector %q: %s at position %d", e.Input, e.Reason, e.Pos)
}

func isFieldChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '-' || c == '/'
}

// Parse parses a field selector such as
//
//	metadata.name=x,spec.nodeName!=,status.phase==Running
//
// Field names consist of letters, digits, '.', '_', '-' and '/'; values run to
// the next unescaped ',' and may be empty. The empty string selects
// everything; empty terms (",,") are ignored. Errors are *ParseError values
// naming the position and the reason.
func Parse(s string) (Selector, error) {
	var reqs []Requirement
	for start := 0; start <= len(s); {
		end := termEnd(s, start)
		if end > start {
			r, err := parseTerm(s, start, end)
			if err != nil {
				return Selector{}, err
			}
			reqs = append(reqs, r)
		}
		start = end + 1
	}
	slices.SortFunc(reqs, compareRequirements)
	return Selector{reqs: reqs}, nil
}

// MustParse is Parse for selectors known to be valid; it panics on error.
func MustParse(s string) Selector {
	sel, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return sel
}

// termEnd returns the index of the first unescaped ',' at or after start, or
// len(s).
func termEnd(s string, start int) int {
	for i := start; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case ',':
			return i
		}
	}
	return len(s)
}

func parseTerm(s string, start, end int) (Requirement, error) {
	fail := func(pos int, format string, args ...any) (Requirement, error) {
		return Requirement{}, &ParseError{Input: s, Pos: pos, Reason: fmt.Sprintf(format, args...)}
	}
	i := start
	for i < end && isFieldChar(s[i]) {
		i++
	}
	if i == start {
		if i < end && (s[i] == '=' || s[i] == '!') {
			return fail(i, "missing field name before operator")
		}
		return fail(i, "field name must consist of letters, digits, '.', '_', '-' or '/', found %q", s[i:i+1])
	}
	field := s[start:i]
	var op Operator
	switch rest := s[i:end]; {
	case strings.HasPrefix(rest, "=="):
		op, i = Equals, i+2
	case strings.HasPrefix(rest, "!="):
		op, i = NotEquals, i+2
	case strings.HasPrefix(rest, "="):
		op, i = Equals, i+1
	case rest == "":
		return fail(i, "term %q has no operator: only =, == and != are supported", field)
	default:
		if w := strings.Fields(rest); len(w) > 0 && (w[0] == "in" || w[0] == "notin") {
			return fail(strings.Index(s[i:end], w[0])+i, "unsupported operator %q after field %q: only =, == and != are supported", w[0], field)
		}
		if c := s[i]; c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			return fail(i, "unexpected whitespace after field %q", field)
		}
		opEnd := i + 1
		for opEnd < end && strings.IndexByte("<>=!~:", s[opEnd]) >= 0 {
			opEnd++
		}
		return fail(i, "unsupported operator %q after field %q: only =, == and != are supported", s[i:opEnd], field)
	}
	value, err := UnescapeValue(s[i:end])
	if err != nil {
		return fail(i, "value of field %q: %v", field, err)
	}
	return Requirement{Field: field, Operator: op, Value: value}, nil
}

// EscapeValue escapes '\', ',' and '=' in a value with a backslash so that it
// can be used in a selector string.
func EscapeValue(s string) string {
	if !strings.ContainsAny(s, `\,=`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 4)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', ',', '=':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// UnescapeValue reverses EscapeValue. An unescaped ',' or '=', a backslash
// before any other character, or a trailing backslash is an error.
func UnescapeValue(s string) (string, error) {
	if !strings.ContainsAny(s, `\,=`) {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			if i+1 == len(s) {
				return "", fmt.Errorf("invalid escape sequence: trailing '\\'")
			}
			i++
			switch n := s[i]; n {
			case '\\', ',', '=':
				b.WriteByte(n)
			default:
				return "", fmt.Errorf("invalid escape sequence: %q", s[i-1:i+1])
			}
		case ',', '=':
			return "", fmt.Errorf("unescaped character %q in value", string(c))
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}
