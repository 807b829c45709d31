package apiserver

import (
	"context"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/api/defaults"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/api/validation"
	"github.com/coxswain/coxswain/pkg/api/validation/field"
	"github.com/coxswain/coxswain/pkg/apiserver/registry"
)

// admitDefaults fills Kubernetes' defaults (mutating admission).
type admitDefaults struct{}

func (admitDefaults) Admit(ctx context.Context, a *registry.Attributes) error {
	if a.Object == nil || a.Op == registry.OpDelete {
		return nil
	}
	defaults.Apply(a.Object)
	return nil
}

// admitValidation validates the object and, on update, its changes (immutable fields).
type admitValidation struct{}

func (admitValidation) Admit(ctx context.Context, a *registry.Attributes) error {
	var errs field.ErrorList
	switch {
	case a.Object == nil:
		return nil
	case a.Op == registry.OpCreate:
		errs = validation.ValidateObject(a.Object)
	case a.Op == registry.OpUpdate && a.Subresource == "status":
		errs = validation.ValidateStatusUpdate(a.Object, a.Old)
	case a.Op == registry.OpUpdate:
		errs = validation.ValidateObjectUpdate(a.Object, a.Old)
	default:
		return nil
	}
	return invalidError(a.Resource, a.Object, errs)
}

// invalidError turns field errors into the API's Invalid error (`Deployment.apps "web" is invalid: ...`)
// with one cause per distinct error: the field path and the message after "field: ".
func invalidError(res *api.Resource, obj api.Object, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	if res == nil {
		var err error
		if res, err = api.ForObject(obj); err != nil {
			return apierrors.Internal(err)
		}
	}
	kind := res.Kind
	if res.Group != "" {
		kind += "." + res.Group
	}
	causes := make([]apierrors.Cause, 0, len(errs))
	seen := make(map[apierrors.Cause]bool, len(errs))
	for _, e := range errs {
		if e == nil {
			continue
		}
		if e.Type == field.ErrorTypeInternal {
			return apierrors.Internal(e)
		}
		c := apierrors.Cause{Field: e.Field, Message: e.ErrorBody()}
		if !seen[c] {
			seen[c] = true
			causes = append(causes, c)
		}
	}
	if len(causes) == 0 {
		return nil
	}
	return apierrors.Invalid(kind, obj.GetMetadata().GetName(), causes)
}
