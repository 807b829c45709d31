package labels

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/coxswain/coxswain/pkg/api/validation"
	"github.com/coxswain/coxswain/pkg/api/validation/field"
)

// Operator is the relation a Requirement expresses between a label and its
// values.
type Operator string

// The operators of label selectors. Equals and DoubleEquals mean the same.
const (
	DoesNotExist Operator = "!"
	Equals       Operator = "="
	DoubleEquals Operator = "=="
	In           Operator = "in"
	NotEquals    Operator = "!="
	NotIn        Operator = "notin"
	Exists       Operator = "exists"
	GreaterThan  Operator = "gt"
	LessThan     Operator = "lt"
)

var validOperators = []Operator{DoesNotExist, Equals, DoubleEquals, In, NotEquals, NotIn, Exists, GreaterThan, LessThan}

// Requirement is one condition of a selector: a key, an operator and, for
// the operators that take them, a sorted set of values.
type Requirement struct {
	key      string
	operator Operator
	values   []string // sorted, de-duplicated
	ints     int64    // the parsed value, for GreaterThan and LessThan
}

// NewRequirement returns the requirement "key operator values" after checking
// that key is a qualified name, every value a valid label value, and that the
// number of values suits the operator: exactly one for Equals, DoubleEquals,
// NotEquals, GreaterThan and LessThan (an integer for the last two), at least
// one for In and NotIn, none for Exists and DoesNotExist. Errors name the
// offending part (key, operator, values[i]).
func NewRequirement(key string, op Operator, values []string) (Requirement, error) {
	return newRequirement(key, op, values, nil)
}

func newRequirement(key string, op Operator, values []string, path *field.Path) (Requirement, error) {
	return buildRequirement(key, op, values, path, false)
}

// buildRequirement implements NewRequirement; the parser, which has already
// validated key and values where it could name their position, sets trusted
// to skip validating them again.
func buildRequirement(key string, op Operator, values []string, path *field.Path, trusted bool) (Requirement, error) {
	var errs field.ErrorList
	if !trusted {
		if msgs := validation.IsQualifiedName(key); len(msgs) != 0 {
			errs = append(errs, field.Invalid(path.Child("key"), key, strings.Join(msgs, "; ")))
		}
	}
	valuesPath := path.Child("values")
	var n int64
	switch op {
	case In, NotIn:
		if len(values) == 0 {
			errs = append(errs, field.Invalid(valuesPath, values, "for 'in', 'notin' operators, values set can't be empty"))
		}
	case Equals, DoubleEquals, NotEquals:
		if len(values) != 1 {
			errs = append(errs, field.Invalid(valuesPath, values, "exact-match compatibility requires one single value"))
		}
	case Exists, DoesNotExist:
		if len(values) != 0 {
			errs = append(errs, field.Invalid(valuesPath, values, "values set must be empty for exists and does not exist"))
		}
	case GreaterThan, LessThan:
		if len(values) != 1 {
			errs = append(errs, field.Invalid(valuesPath, values, "for 'Gt', 'Lt' operators, exactly one value is required"))
			break
		}
		var err error
		if n, err = strconv.ParseInt(values[0], 10, 64); err != nil {
			errs = append(errs, field.Invalid(valuesPath.Index(0), values[0], "for 'Gt', 'Lt' operators, the value must be an integer"))
		}
	default:
		errs = append(errs, field.NotSupported(path.Child("operator"), string(op), validOperators))
	}
	for i, v := range values {
		if trusted {
			break
		}
		if msgs := validation.IsValidLabelValue(v); len(msgs) != 0 {
			errs = append(errs, field.Invalid(valuesPath.Index(i), v, strings.Join(msgs, "; ")))
		}
	}
	if err := errs.ToAggregate(); err != nil {
		return Requirement{}, err
	}
	vals := slices.Clone(values)
	slices.Sort(vals)
	vals = slices.Compact(vals)
	return Requirement{key: key, operator: op, values: vals, ints: n}, nil
}

// Key returns the label key the requirement is about.
func (r Requirement) Key() string { return r.key }

// Operator returns the requirement's operator.
func (r Requirement) Operator() Operator { return r.operator }

// Values returns a copy of the requirement's values, sorted.
func (r Requirement) Values() []string { return slices.Clone(r.values) }

// Matches reports whether labels satisfy the requirement:
//   - Equals, DoubleEquals, In: the label is present with one of the values;
//   - NotEquals, NotIn: the label is absent or has none of the values;
//   - Exists / DoesNotExist: the label is present / absent;
//   - GreaterThan, LessThan: the label is present, an integer, and greater /
//     less than the value.
func (r Requirement) Matches(labels map[string]string) bool {
	v, ok := labels[r.key]
	switch r.operator {
	case In, Equals, DoubleEquals:
		return ok && r.hasValue(v)
	case NotIn, NotEquals:
		return !ok || !r.hasValue(v)
	case Exists:
		return ok
	case DoesNotExist:
		return !ok
	case GreaterThan, LessThan:
		if !ok {
			return false
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return false
		}
		if r.operator == GreaterThan {
			return n > r.ints
		}
		return n < r.ints
	default:
		return false
	}
}

func (r Requirement) hasValue(v string) bool {
	if len(r.values) == 1 {
		return r.values[0] == v
	}
	_, found := slices.BinarySearch(r.values, v)
	return found
}

// String renders the requirement in selector syntax, e.g. "app=web",
// "tier in (a,b)", "!canary".
func (r Requirement) String() string {
	var b strings.Builder
	r.write(&b)
	return b.String()
}

func (r Requirement) write(b *strings.Builder) {
	switch r.operator {
	case DoesNotExist:
		b.WriteByte('!')
		b.WriteString(r.key)
		return
	case Exists:
		b.WriteString(r.key)
		return
	}
	b.WriteString(r.key)
	switch r.operator {
	case In, NotIn:
		b.WriteByte(' ')
		b.WriteString(string(r.operator))
		b.WriteString(" (")
		b.WriteString(strings.Join(r.values, ","))
		b.WriteByte(')')
		return
	case GreaterThan:
		b.WriteByte('>')
	case LessThan:
		b.WriteByte('<')
	default:
		b.WriteString(string(r.operator))
	}
	if len(r.values) > 0 {
		b.WriteString(r.values[0])
	}
}

// Equal reports whether r and o are the same requirement.
func (r Requirement) Equal(o Requirement) bool {
	return r.key == o.key && r.operator == o.operator && slices.Equal(r.values, o.values)
}

func compareRequirements(a, b Requirement) int {
	if c := cmp.Compare(a.key, b.key); c != 0 {
		return c
	}
	if c := cmp.Compare(a.operator, b.operator); c != 0 {
		return c
	}
	return slices.Compare(a.values, b.values)
}

// Selector is a conjunction of requirements. The zero value (and
// Everything()) has no requirements and matches every set of labels.
// Selectors are immutable and safe for concurrent use.
type Selector struct {
	reqs []Requirement // sorted by compareRequirements
}

// Everything returns the selector that matches all labels.
func Everything() Selector { return Selector{} }

// NewSelector returns a selector made of the given requirements.
func NewSelector(reqs ...Requirement) Selector {
	return Selector{}.Add(reqs...)
}

// Add returns a selector with the requirements of s and reqs.
func (s Selector) Add(reqs ...Requirement) Selector {
	if len(reqs) == 0 {
		return s
	}
	out := make([]Requirement, 0, len(s.reqs)+len(reqs))
	out = append(out, s.reqs...)
	out = append(out, reqs...)
	slices.SortStableFunc(out, compareRequirements)
	return Selector{reqs: out}
}

// Matches reports whether labels satisfy every requirement of s.
func (s Selector) Matches(labels map[string]string) bool {
	for _, r := range s.reqs {
		if !r.Matches(labels) {
			return false
		}
	}
	return true
}

// Empty reports whether s has no requirements and so matches everything.
func (s Selector) Empty() bool { return len(s.reqs) == 0 }

// Requirements returns a copy of the requirements of s, sorted by key.
func (s Selector) Requirements() []Requirement { return slices.Clone(s.reqs) }

// String renders s in canonical selector syntax: requirements sorted by key
// and joined by ",". Parse(s.String()) returns an equivalent selector.
func (s Selector) String() string {
	var b strings.Builder
	for i, r := range s.reqs {
		if i > 0 {
			b.WriteByte(',')
		}
		r.write(&b)
	}
	return b.String()
}

// Equal reports whether s and o have the same requirements.
func (s Selector) Equal(o Selector) bool {
	return slices.EqualFunc(s.reqs, o.reqs, Requirement.Equal)
}

// RequiresExactMatch returns the value that label must have for s to match,
// if s pins it with an Equals, DoubleEquals or single-valued In requirement.
// Indexes use it to narrow a list.
func (s Selector) RequiresExactMatch(label string) (value string, found bool) {
	for _, r := range s.reqs {
		if r.key != label {
			continue
		}
		switch r.operator {
		case Equals, DoubleEquals, In:
			if len(r.values) == 1 {
				return r.values[0], true
			}
		}
	}
	return "", false
}

// SelectorFromSet returns the selector that matches labels having every
// key/value of set. It does not validate; use ValidatedSelectorFromSet for
// untrusted input. A nil or empty set matches everything.
func SelectorFromSet(set map[string]string) Selector {
	reqs := make([]Requirement, 0, len(set))
	for k, v := range set {
		reqs = append(reqs, Requirement{key: k, operator: Equals, values: []string{v}})
	}
	return NewSelector(reqs...)
}

// ValidatedSelectorFromSet is SelectorFromSet for untrusted input: every
// key and value is validated.
func ValidatedSelectorFromSet(set map[string]string) (Selector, error) {
	reqs := make([]Requirement, 0, len(set))
	for _, k := range sortedKeys(set) {
		r, err := newRequirement(k, Equals, []string{set[k]}, field.NewPath("matchLabels").Key(k))
		if err != nil {
			return Selector{}, err
		}
		reqs = append(reqs, r)
	}
	return NewSelector(reqs...), nil
}

// The operators of a LabelSelectorRequirement (the API form).
const (
	LabelSelectorOpIn           = "In"
	LabelSelectorOpNotIn        = "NotIn"
	LabelSelectorOpExists       = "Exists"
	LabelSelectorOpDoesNotExist = "DoesNotExist"
)

// LabelSelectorRequirement is the API form of one matchExpressions entry of a
// LabelSelector; Operator is one of In, NotIn, Exists and DoesNotExist.
type LabelSelectorRequirement struct {
	Key      string
	Operator string
	Values   []string
}

// SelectorFromMatch builds the selector of a Kubernetes LabelSelector from
// its matchLabels and matchExpressions, validating both. Errors name the
// offending entry, e.g. matchExpressions[1].operator. With neither labels nor
// expressions the selector matches everything; a nil LabelSelector (which
// matches nothing in Kubernetes) is for the caller to handle.
func SelectorFromMatch(matchLabels map[string]string, exprs []LabelSelectorRequirement) (Selector, error) {
	reqs := make([]Requirement, 0, len(matchLabels)+len(exprs))
	for _, k := range sortedKeys(matchLabels) {
		r, err := newRequirement(k, Equals, []string{matchLabels[k]}, field.NewPath("matchLabels").Key(k))
		if err != nil {
			return Selector{}, err
		}
		reqs = append(reqs, r)
	}
	for i, e := range exprs {
		path := field.NewPath("matchExpressions").Index(i)
		var op Operator
		switch e.Operator {
		case LabelSelectorOpIn:
			op = In
		case LabelSelectorOpNotIn:
			op = NotIn
		case LabelSelectorOpExists:
			op = Exists
		case LabelSelectorOpDoesNotExist:
			op = DoesNotExist
		default:
			return Selector{}, field.NotSupported(path.Child("operator"), e.Operator,
				[]string{LabelSelectorOpDoesNotExist, LabelSelectorOpExists, LabelSelectorOpIn, LabelSelectorOpNotIn})
		}
		r, err := newRequirement(e.Key, op, e.Values, path)
		if err != nil {
			return Selector{}, err
		}
		reqs = append(reqs, r)
	}
	return NewSelector(reqs...), nil
}

// MustParse is Parse for selectors known to be valid; it panics on error.
func MustParse(s string) Selector {
	sel, err := Parse(s)
	if err != nil {
		panic(fmt.Sprintf("labels.MustParse(%q): %v", s, err))
	}
	return sel
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
