package testing

import (
	gotesting "testing"
	"time"

	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
)

// Transient reports an error a loaded test machine can cause on any call (an etcd request timing out, the
// apiserver unavailable for a moment), as opposed to an answer about the request.
func Transient(err error) bool {
	switch apierrors.ReasonOf(err) {
	case apierrors.ReasonInternal, apierrors.ReasonTimeout, apierrors.ReasonServiceUnavailable, "":
		return err != nil
	}
	return false
}

// Retry calls fn until it returns nil, retrying transient errors for up to 30 seconds; any other error fails
// the test at once. what names the call in the failure.
func Retry(t gotesting.TB, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := fn()
		if err == nil {
			return
		}
		if !Transient(err) || time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
