package manifest

import (
	"fmt"
	"strings"
)

// FieldError is one problem found while decoding a manifest.
type FieldError struct {
	// Source is the name of the file (or "-" for standard input) given to Decode.
	Source string
	// Document is the 1-based position of the YAML document in Source (0 when unknown).
	Document int
	// Line is the 1-based line of the offending text (0 when unknown).
	Line int
	// Path is the field path, e.g. spec.template.spec.containers[0].image or metadata.labels[app].
	Path string
	// Message says what is wrong, e.g. `expected an integer, got string "http"`.
	Message string
}

// Error renders the error as "source: document N: line L: path: message", leaving out unknown parts.
func (e FieldError) Error() string {
	var b strings.Builder
	if e.Source != "" {
		b.WriteString(e.Source)
		b.WriteString(": ")
	}
	if e.Document > 0 {
		fmt.Fprintf(&b, "document %d: ", e.Document)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// DecodeError is every problem Decode found in its input, in the order of the input.
type DecodeError struct {
	Errors []FieldError
}

// Error renders one error per line.
func (e *DecodeError) Error() string {
	lines := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		lines[i] = fe.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the individual errors, for errors.As and errors.Is.
func (e *DecodeError) Unwrap() []error {
	errs := make([]error, len(e.Errors))
	for i, fe := range e.Errors {
		errs[i] = fe
	}
	return errs
}
