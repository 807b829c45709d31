package image

import (
	"errors"
	"fmt"
)

// PullPolicy is a container's imagePullPolicy.
type PullPolicy string

// The Kubernetes pull policies. The empty policy means PullAlways for a
// ":latest" or untagged reference and PullIfNotPresent otherwise.
const (
	PullAlways       PullPolicy = "Always"
	PullIfNotPresent PullPolicy = "IfNotPresent"
	PullNever        PullPolicy = "Never"
)

// Reasons carried by *Error, as the kubelet reports them in container status.
const (
	ReasonErrImagePull      = "ErrImagePull"
	ReasonErrImageNeverPull = "ErrImageNeverPull"
	ReasonInvalidImageName  = "InvalidImageName"
)

// Error is an image error with a Kubernetes reason.
type Error struct {
	Reason string // one of the Reason* constants
	Image  string // the reference as given
	Err    error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Reason returns the Kubernetes reason of err, or "" when err is not an *Error.
func Reason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// PlainHTTPError reports a registry that answered an HTTPS request over plain
// HTTP while it is not listed as insecure.
type PlainHTTPError struct {
	Registry string
}

func (e *PlainHTTPError) Error() string {
	return fmt.Sprintf("registry %s answered over plain http; add it to --insecure-registries", e.Registry)
}

// refusedHTTPError is returned for a plain HTTP request that the transport
// refused to send because the registry is not insecure.
type refusedHTTPError struct {
	host string
}

func (e *refusedHTTPError) Error() string {
	return fmt.Sprintf("plain http to %s refused: it is not in --insecure-registries", e.host)
}
