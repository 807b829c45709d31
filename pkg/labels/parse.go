package labels

import (
	"fmt"
	"strings"

	"github.com/coxswain/coxswain/pkg/api/validation"
	"github.com/coxswain/coxswain/pkg/api/validation/field"
)

// ParseError is the error of Parse: the reason and the byte offset (0-based)
// in the input where parsing failed.
type ParseError struct {
	Input  string
	Pos    int
	Reason string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s at position %d", e.Reason, e.Pos)
}

type tokenKind int

const (
	tokEnd tokenKind = iota
	tokIdent
	tokComma
	tokOpenPar
	tokClosePar
	tokNot         // !
	tokEquals      // =
	tokDoubleEq    // ==
	tokNotEquals   // !=
	tokGreaterThan // >
	tokLessThan    // <
	tokIn          // in
	tokNotIn       // notin
)

type token struct {
	kind tokenKind
	lit  string
	pos  int
}

// String quotes the token for error messages.
func (t token) String() string {
	if t.kind == tokEnd {
		return "'end of string'"
	}
	return "'" + t.lit + "'"
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func isSpecial(c byte) bool {
	switch c {
	case '=', '!', '(', ')', ',', '>', '<':
		return true
	}
	return false
}

// lex splits s into tokens. Identifiers are maximal runs of bytes that are
// neither whitespace nor special symbols; "in" and "notin" are returned as
// keywords and turned back into identifiers by the parser where a key or
// value is expected.
func lex(s string) []token {
	var toks []token
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return append(toks, token{kind: tokEnd, pos: i})
		}
		start := i
		c := s[i]
		if isSpecial(c) {
			kind := tokEnd
			n := 1
			switch c {
			case ',':
				kind = tokComma
			case '(':
				kind = tokOpenPar
			case ')':
				kind = tokClosePar
			case '>':
				kind = tokGreaterThan
			case '<':
				kind = tokLessThan
			case '=':
				kind = tokEquals
				if i+1 < len(s) && s[i+1] == '=' {
					kind, n = tokDoubleEq, 2
				}
			case '!':
				kind = tokNot
				if i+1 < len(s) && s[i+1] == '=' {
					kind, n = tokNotEquals, 2
				}
			}
			i += n
			toks = append(toks, token{kind: kind, lit: s[start:i], pos: start})
			continue
		}
		for i < len(s) && !isSpace(s[i]) && !isSpecial(s[i]) {
			i++
		}
		lit := s[start:i]
		kind := tokIdent
		switch lit {
		case "in":
			kind = tokIn
		case "notin":
			kind = tokNotIn
		}
		toks = append(toks, token{kind: kind, lit: lit, pos: start})
	}
}

type parser struct {
	input string
	toks  []token
	i     int
}

// peek returns the next token; in value context keywords are identifiers.
func (p *parser) peek(value bool) token {
	t := p.toks[p.i]
	if value && (t.kind == tokIn || t.kind == tokNotIn) {
		t.kind = tokIdent
	}
	return t
}

func (p *parser) next(value bool) token {
	t := p.peek(value)
	if t.kind != tokEnd {
		p.i++
	}
	return t
}

func (p *parser) errorf(pos int, format string, args ...any) error {
	return &ParseError{Input: p.input, Pos: pos, Reason: fmt.Sprintf(format, args...)}
}

func (p *parser) reqErrorf(pos int, format string, args ...any) error {
	return p.errorf(pos, "unable to parse requirement: "+format, args...)
}

// Parse parses a label selector such as
//
//	app=web,tier in (a,b),!canary,env!=prod,x==y,key,tier notin (c)
//
// Whitespace between tokens is ignored. The empty string yields the selector
// that matches everything. Errors are *ParseError values naming the position
// and the reason, e.g.
// "unable to parse requirement: found '(', expected: identifier at position 12".
func Parse(s string) (Selector, error) {
	p := &parser{input: s, toks: lex(s)}
	var reqs []Requirement
	for {
		t := p.peek(true)
		switch t.kind {
		case tokEnd:
			return NewSelector(reqs...), nil
		case tokIdent, tokNot:
		default:
			return Selector{}, p.errorf(t.pos, "found %s, expected: !, identifier, or 'end of string'", t)
		}
		r, err := p.parseRequirement()
		if err != nil {
			return Selector{}, err
		}
		reqs = append(reqs, r)
		switch t := p.next(true); t.kind {
		case tokEnd:
			return NewSelector(reqs...), nil
		case tokComma:
			if t2 := p.peek(true); t2.kind != tokIdent && t2.kind != tokNot {
				return Selector{}, p.errorf(t2.pos, "found %s, expected: identifier after ','", t2)
			}
		default:
			return Selector{}, p.errorf(t.pos, "found %s, expected: ',' or 'end of string'", t)
		}
	}
}

func (p *parser) parseRequirement() (Requirement, error) {
	t := p.next(true)
	keyPos := t.pos
	negated := false
	if t.kind == tokNot {
		negated = true
		t = p.next(true)
	}
	if t.kind != tokIdent {
		return Requirement{}, p.reqErrorf(t.pos, "found %s, expected: identifier", t)
	}
	key := t.lit
	if msgs := validation.IsQualifiedName(key); len(msgs) != 0 {
		return Requirement{}, p.reqErrorf(t.pos, "%v", field.Invalid(field.NewPath("key"), key, strings.Join(msgs, "; ")))
	}
	if negated {
		return p.newRequirement(keyPos, key, DoesNotExist, nil)
	}
	if la := p.peek(true); la.kind == tokEnd || la.kind == tokComma {
		return p.newRequirement(keyPos, key, Exists, nil)
	}

	opTok := p.next(false)
	var op Operator
	switch opTok.kind {
	case tokIn:
		op = In
	case tokNotIn:
		op = NotIn
	case tokEquals:
		op = Equals
	case tokDoubleEq:
		op = DoubleEquals
	case tokNotEquals:
		op = NotEquals
	case tokGreaterThan:
		op = GreaterThan
	case tokLessThan:
		op = LessThan
	default:
		return Requirement{}, p.reqErrorf(opTok.pos, "found %s, expected: in, notin, =, ==, !=, >, <", opTok)
	}

	var values []string
	var err error
	if op == In || op == NotIn {
		values, err = p.parseValues()
	} else {
		values, err = p.parseExactValue()
	}
	if err != nil {
		return Requirement{}, err
	}
	return p.newRequirement(opTok.pos, key, op, values)
}

func (p *parser) newRequirement(pos int, key string, op Operator, values []string) (Requirement, error) {
	r, err := buildRequirement(key, op, values, nil, true)
	if err != nil {
		return Requirement{}, p.reqErrorf(pos, "%v", err)
	}
	return r, nil
}

// value checks and returns the identifier t as a label value.
func (p *parser) value(t token) (string, error) {
	if msgs := validation.IsValidLabelValue(t.lit); len(msgs) != 0 {
		return "", p.reqErrorf(t.pos, "%v", field.Invalid(field.NewPath("values"), t.lit, strings.Join(msgs, "; ")))
	}
	return t.lit, nil
}

// parseValues parses "(v1,v2,...)". Empty elements, as in "()" or "(a,,b)",
// stand for the empty value.
func (p *parser) parseValues() ([]string, error) {
	t := p.next(true)
	if t.kind != tokOpenPar {
		return nil, p.reqErrorf(t.pos, "found %s, expected: '('", t)
	}
	var values []string
	expectValue := true // at the start or after a comma
	for {
		t := p.next(true)
		switch t.kind {
		case tokIdent:
			if !expectValue {
				return nil, p.reqErrorf(t.pos, "found %s, expected: ',' or ')'", t)
			}
			v, err := p.value(t)
			if err != nil {
				return nil, err
			}
			values = append(values, v)
			expectValue = false
		case tokComma:
			if expectValue {
				values = append(values, "")
			}
			expectValue = true
		case tokClosePar:
			if expectValue {
				values = append(values, "")
			}
			return values, nil
		default:
			if expectValue {
				return nil, p.reqErrorf(t.pos, "found %s, expected: ',', ')' or identifier", t)
			}
			return nil, p.reqErrorf(t.pos, "found %s, expected: ',' or ')'", t)
		}
	}
}

// parseExactValue parses the single value after =, ==, !=, > or <; it may be
// empty ("a=" selects labels a with the empty value).
func (p *parser) parseExactValue() ([]string, error) {
	if la := p.peek(true); la.kind == tokEnd || la.kind == tokComma {
		return []string{""}, nil
	}
	t := p.next(true)
	if t.kind != tokIdent {
		return nil, p.reqErrorf(t.pos, "found %s, expected: identifier", t)
	}
	v, err := p.value(t)
	if err != nil {
		return nil, err
	}
	return []string{v}, nil
}
