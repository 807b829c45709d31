// Package errors holds the API's domain errors. The storage and registry layers return them; one table
// (grpc.go) turns them into gRPC status codes at the edge, and the client library turns the codes back,
// so callers on both sides ask IsNotFound(err), IsConflict(err)... rather than matching strings.
package errors

import (
	"errors"
	"fmt"
	"strings"
)

// Reason classifies an API error, with Kubernetes' names.
type Reason string

// The reasons.
const (
	ReasonNotFound           Reason = "NotFound"
	ReasonAlreadyExists      Reason = "AlreadyExists"
	ReasonConflict           Reason = "Conflict"
	ReasonInvalid            Reason = "Invalid"
	ReasonExpired            Reason = "Expired"
	ReasonBadRequest         Reason = "BadRequest"
	ReasonForbidden          Reason = "Forbidden"
	ReasonUnauthorized       Reason = "Unauthorized"
	ReasonServiceUnavailable Reason = "ServiceUnavailable"
	ReasonTimeout            Reason = "Timeout"
	ReasonInternal           Reason = "InternalError"
	ReasonPrecondition       Reason = "PreconditionFailed"
)

// Cause is one field-level problem of an Invalid error.
type Cause struct {
	Field   string // "spec.containers[0].image"
	Message string // "Required value"
}

// StatusError is an API error: a reason, a message in Kubernetes' words, and field causes.
type StatusError struct {
	Reason  Reason
	Message string
	Causes  []Cause
}

func (e *StatusError) Error() string { return e.Message }

// New builds a StatusError.
func New(reason Reason, format string, args ...any) *StatusError {
	return &StatusError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// NotFound: `pods "web" not found`.
func NotFound(resource, name string) *StatusError {
	return New(ReasonNotFound, "%s %q not found", resource, name)
}

// AlreadyExists: `pods "web" already exists`.
func AlreadyExists(resource, name string) *StatusError {
	return New(ReasonAlreadyExists, "%s %q already exists", resource, name)
}

// Conflict: an optimistic-concurrency failure.
func Conflict(resource, name, detail string) *StatusError {
	return New(ReasonConflict, "Operation cannot be fulfilled on %s %q: %s", resource, name, detail)
}

// StaleResourceVersion is the conflict message Kubernetes users know.
const StaleResourceVersion = "the object has been modified; please apply your changes to the latest version and try again"

// Invalid: `Deployment.apps "web" is invalid: [spec.replicas: Invalid value: -1: must be >= 0, ...]`.
func Invalid(kind, name string, causes []Cause) *StatusError {
	parts := make([]string, len(causes))
	for i, c := range causes {
		parts[i] = c.Message
		if c.Field != "" && !strings.HasPrefix(c.Message, c.Field+":") {
			parts[i] = c.Field + ": " + c.Message
		}
	}
	msg := fmt.Sprintf("%s %q is invalid: ", kind, name)
	if len(parts) == 1 {
		msg += parts[0]
	} else {
		msg += "[" + strings.Join(parts, ", ") + "]"
	}
	return &StatusError{Reason: ReasonInvalid, Message: msg, Causes: causes}
}

// Expired: a watch or list from a resourceVersion older than the retained history.
func Expired(format string, args ...any) *StatusError {
	return New(ReasonExpired, format, args...)
}

// BadRequest: a malformed request.
func BadRequest(format string, args ...any) *StatusError {
	return New(ReasonBadRequest, format, args...)
}

// Forbidden: the request is not allowed.
func Forbidden(format string, args ...any) *StatusError { return New(ReasonForbidden, format, args...) }

// Internal wraps an unexpected failure.
func Internal(err error) *StatusError {
	return New(ReasonInternal, "Internal error occurred: %v", err)
}

// ReasonOf returns err's reason ("" when err is not a StatusError).
func ReasonOf(err error) Reason {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Reason
	}
	return ""
}

// IsNotFound reports a NotFound error.
func IsNotFound(err error) bool { return ReasonOf(err) == ReasonNotFound }

// IsAlreadyExists reports an AlreadyExists error.
func IsAlreadyExists(err error) bool { return ReasonOf(err) == ReasonAlreadyExists }

// IsConflict reports an optimistic-concurrency conflict.
func IsConflict(err error) bool { return ReasonOf(err) == ReasonConflict }

// IsInvalid reports a validation error.
func IsInvalid(err error) bool { return ReasonOf(err) == ReasonInvalid }

// IsExpired reports a too-old resourceVersion: the client must relist.
func IsExpired(err error) bool { return ReasonOf(err) == ReasonExpired }

// IsPrecondition reports a failed precondition (a bound pod bound again, a delete precondition).
func IsPrecondition(err error) bool { return ReasonOf(err) == ReasonPrecondition }
