package field

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// ErrorType names the kind of a validation failure. The values are stable
// identifiers (the same as Kubernetes') suitable for machine consumption, e.g.
// as the reason of a per-field violation at the gRPC edge; String renders the
// human-readable form used in messages.
type ErrorType string

// The kinds of validation failures.
const (
	// ErrorTypeNotFound: a reference to something that does not exist.
	ErrorTypeNotFound ErrorType = "FieldValueNotFound"
	// ErrorTypeRequired: a required field is missing or empty.
	ErrorTypeRequired ErrorType = "FieldValueRequired"
	// ErrorTypeDuplicate: a value that must be unique appears twice.
	ErrorTypeDuplicate ErrorType = "FieldValueDuplicate"
	// ErrorTypeInvalid: the value is malformed or out of range.
	ErrorTypeInvalid ErrorType = "FieldValueInvalid"
	// ErrorTypeNotSupported: the value is not one of an enumerated set.
	ErrorTypeNotSupported ErrorType = "FieldValueNotSupported"
	// ErrorTypeForbidden: the field may not be set or changed here.
	ErrorTypeForbidden ErrorType = "FieldValueForbidden"
	// ErrorTypeTooLong: the value is longer than allowed.
	ErrorTypeTooLong ErrorType = "FieldValueTooLong"
	// ErrorTypeTooMany: a list has more items than allowed.
	ErrorTypeTooMany ErrorType = "FieldValueTooMany"
	// ErrorTypeInternal: validation could not be completed.
	ErrorTypeInternal ErrorType = "InternalError"
)

// String returns the human-readable form of t used in error messages.
func (t ErrorType) String() string {
	switch t {
	case ErrorTypeNotFound:
		return "Not found"
	case ErrorTypeRequired:
		return "Required value"
	case ErrorTypeDuplicate:
		return "Duplicate value"
	case ErrorTypeInvalid:
		return "Invalid value"
	case ErrorTypeNotSupported:
		return "Unsupported value"
	case ErrorTypeForbidden:
		return "Forbidden"
	case ErrorTypeTooLong:
		return "Too long"
	case ErrorTypeTooMany:
		return "Too many"
	case ErrorTypeInternal:
		return "Internal error"
	default:
		return string(t)
	}
}

// omitValue is the BadValue of errors whose value is not shown.
type omitValue struct{}

// OmitValue is a BadValue that is left out of the rendered message, for
// values that are too large or too sensitive to repeat.
var OmitValue = omitValue{}

// Error is the validation failure of one field.
type Error struct {
	Type     ErrorType
	Field    string // the rendered Path of the field, e.g. spec.containers[0].image
	BadValue any    // the offending value, or OmitValue
	Detail   string // why the value is wrong, e.g. "must be no more than 63 characters"
}

var _ error = (*Error)(nil)

// Error renders e as "<field>: <body>", e.g.
// `metadata.name: Invalid value: "Foo_": a lowercase RFC 1123 label ...`.
func (e *Error) Error() string {
	return e.Field + ": " + e.ErrorBody()
}

// ErrorBody renders e without the field name: the type, the value when it is
// meaningful for the type, and the detail.
func (e *Error) ErrorBody() string {
	var s string
	switch {
	case e.Type == ErrorTypeRequired, e.Type == ErrorTypeForbidden,
		e.Type == ErrorTypeTooLong, e.Type == ErrorTypeInternal,
		e.BadValue == OmitValue:
		s = e.Type.String()
	default:
		s = e.Type.String() + ": " + renderValue(e.BadValue)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// renderValue renders a bad value the way Kubernetes does: strings quoted,
// numbers and booleans bare, Stringers by their String, nil as null and
// anything else in Go syntax.
func renderValue(v any) string {
	if v == nil {
		return "null"
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return "null"
		}
		v = rv.Elem().Interface()
	}
	switch t := v.(type) {
	case string:
		return strconv.Quote(t)
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64,
		float32, float64, bool:
		return fmt.Sprint(t)
	case fmt.Stringer:
		return t.String()
	default:
		return fmt.Sprintf("%#v", t)
	}
}

// NotFound reports that the value at path refers to something that does not exist.
func NotFound(path *Path, value any) *Error {
	return &Error{Type: ErrorTypeNotFound, Field: path.String(), BadValue: value}
}

// Required reports that the field at path must be set. detail may be empty.
func Required(path *Path, detail string) *Error {
	return &Error{Type: ErrorTypeRequired, Field: path.String(), BadValue: "", Detail: detail}
}

// Duplicate reports that value appears more than once where it must be unique.
func Duplicate(path *Path, value any) *Error {
	return &Error{Type: ErrorTypeDuplicate, Field: path.String(), BadValue: value}
}

// Invalid reports that value is not valid for the field at path, and why.
func Invalid(path *Path, value any, detail string) *Error {
	return &Error{Type: ErrorTypeInvalid, Field: path.String(), BadValue: value, Detail: detail}
}

// NotSupported reports that value is not one of validValues. validValues may
// be empty when the set is too large to list.
func NotSupported[T ~string](path *Path, value any, validValues []T) *Error {
	detail := ""
	if len(validValues) > 0 {
		quoted := make([]string, len(validValues))
		for i, v := range validValues {
			quoted[i] = strconv.Quote(string(v))
		}
		detail = "supported values: " + strings.Join(quoted, ", ")
	}
	return &Error{Type: ErrorTypeNotSupported, Field: path.String(), BadValue: value, Detail: detail}
}

// Forbidden reports that the field at path may not be set (or changed), and why.
func Forbidden(path *Path, detail string) *Error {
	return &Error{Type: ErrorTypeForbidden, Field: path.String(), BadValue: "", Detail: detail}
}

// TooLong reports that value is longer than maxLength bytes. A negative
// maxLength means the limit is unknown.
func TooLong(path *Path, value any, maxLength int) *Error {
	detail := "value is too long"
	if maxLength >= 0 {
		detail = fmt.Sprintf("may not be more than %d bytes", maxLength)
	}
	return &Error{Type: ErrorTypeTooLong, Field: path.String(), BadValue: value, Detail: detail}
}

// TooMany reports that the list at path has actual items where at most max
// are allowed. A negative actual omits the count from the message.
func TooMany(path *Path, actual, max int) *Error {
	var value any = actual
	if actual < 0 {
		value = OmitValue
	}
	return &Error{Type: ErrorTypeTooMany, Field: path.String(), BadValue: value,
		Detail: fmt.Sprintf("must have at most %d items", max)}
}

// InternalError reports that validating the field at path failed for a reason
// unrelated to the value.
func InternalError(path *Path, err error) *Error {
	return &Error{Type: ErrorTypeInternal, Field: path.String(), Detail: err.Error()}
}

// ErrorList collects the validation failures of one object.
type ErrorList []*Error

// ToAggregate returns the list as one error, or nil if it is empty. Errors
// with identical messages are reported once. The result is an *Aggregate.
func (l ErrorList) ToAggregate() error {
	if len(l) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(l))
	uniq := make(ErrorList, 0, len(l))
	for _, e := range l {
		if e == nil {
			continue
		}
		msg := e.Error()
		if seen[msg] {
			continue
		}
		seen[msg] = true
		uniq = append(uniq, e)
	}
	if len(uniq) == 0 {
		return nil
	}
	return &Aggregate{errs: uniq}
}

// Filter returns the errors of l for which keep returns true.
func (l ErrorList) Filter(keep func(*Error) bool) ErrorList {
	var out ErrorList
	for _, e := range l {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}

// Aggregate is the error made of a non-empty ErrorList. Use errors.As to
// recover it and Errors to walk the individual field errors.
type Aggregate struct {
	errs ErrorList
}

// Errors returns the individual field errors (a copy).
func (a *Aggregate) Errors() ErrorList {
	return append(ErrorList(nil), a.errs...)
}

// Error renders a single error as itself and several as "[e1, e2, ...]",
// like Kubernetes' aggregate errors.
func (a *Aggregate) Error() string {
	if len(a.errs) == 1 {
		return a.errs[0].Error()
	}
	var b strings.Builder
	b.WriteByte('[')
	for i, e := range a.errs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e.Error())
	}
	b.WriteByte(']')
	return b.String()
}

// Unwrap lets errors.Is and errors.As see the individual *Error values.
func (a *Aggregate) Unwrap() []error {
	out := make([]error, len(a.errs))
	for i, e := range a.errs {
		out[i] = e
	}
	return out
}
