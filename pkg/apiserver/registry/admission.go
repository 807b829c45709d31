package registry

import (
	"context"

	"github.com/coxswain/coxswain/pkg/api"
)

// Operation is the kind of write being admitted.
type Operation string

// Operations.
const (
	OpCreate Operation = "CREATE"
	OpUpdate Operation = "UPDATE"
	OpDelete Operation = "DELETE"
)

// Attributes describe one write for admission.
type Attributes struct {
	Op       Operation
	Resource *api.Resource
	// Object is the object to be written (mutable by mutating admission); Old the stored one on update.
	Object, Old api.Object
	// Subresource is "" or "status".
	Subresource string
}

// Admitter is one admission step; mutating steps change Object, validating steps only return errors.
// Errors should be pkg/api/errors values (Invalid with field causes, Forbidden...).
type Admitter interface {
	Admit(ctx context.Context, a *Attributes) error
}

// AdmitFunc adapts a function to Admitter.
type AdmitFunc func(ctx context.Context, a *Attributes) error

// Admit calls f.
func (f AdmitFunc) Admit(ctx context.Context, a *Attributes) error { return f(ctx, a) }

// Chain runs admitters in order, stopping at the first error.
type Chain []Admitter

// Admit runs the chain.
func (c Chain) Admit(ctx context.Context, a *Attributes) error {
	for _, ad := range c {
		if err := ad.Admit(ctx, a); err != nil {
			return err
		}
	}
	return nil
}
