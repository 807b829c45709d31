package internal

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/labels"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// GetControllerOf returns the ownerReference of obj with controller=true, or nil.
func GetControllerOf(obj api.Object) *metav1.OwnerReference {
	for _, r := range obj.GetMetadata().GetOwnerReferences() {
		if r.GetController() {
			return r
		}
	}
	return nil
}

// IsControlledBy reports whether obj's controller reference points at the object with uid.
func IsControlledBy(obj api.Object, uid string) bool {
	r := GetControllerOf(obj)
	return r != nil && r.GetUid() == uid
}

// NewControllerRef is the ownerReference that makes owner (of apiVersion/kind) the controller of an object:
// controller and blockOwnerDeletion true.
func NewControllerRef(owner api.Object, apiVersion, kind string) *metav1.OwnerReference {
	m := owner.GetMetadata()
	return &metav1.OwnerReference{ApiVersion: apiVersion, Kind: kind, Name: m.GetName(), Uid: m.GetUid(),
		Controller: proto.Bool(true), BlockOwnerDeletion: proto.Bool(true)}
}

// SelectorFor converts an API label selector to a labels.Selector. A nil selector selects nothing (and is
// reported as an error, since controllers require one); an empty one selects everything.
func SelectorFor(sel *metav1.LabelSelector) (labels.Selector, error) {
	if sel == nil {
		return labels.Selector{}, errors.New("selector: required")
	}
	exprs := make([]labels.LabelSelectorRequirement, 0, len(sel.GetMatchExpressions()))
	for _, e := range sel.GetMatchExpressions() {
		exprs = append(exprs, labels.LabelSelectorRequirement{Key: e.GetKey(), Operator: e.GetOperator(), Values: e.GetValues()})
	}
	s, err := labels.SelectorFromMatch(sel.GetMatchLabels(), exprs)
	if err != nil {
		return labels.Selector{}, fmt.Errorf("selector: %w", err)
	}
	return s, nil
}

// UpdateWithRetry applies mutate to a clone of obj and writes it with Update. On a conflict it reads the
// object again and re-applies mutate (up to 5 attempts). mutate returns false when nothing needs to change;
// then nothing is written and updated is false.
func UpdateWithRetry[T api.Object](ctx context.Context, r *client.Resource[T], obj T, mutate func(T) bool) (out T, updated bool, err error) {
	var zero T
	cur := obj
	for attempt := 0; ; attempt++ {
		next := api.Clone(cur)
		if !mutate(next) {
			return zero, false, nil
		}
		out, err := r.Update(ctx, next)
		if err == nil {
			return out, true, nil
		}
		if !apierrors.IsConflict(err) || attempt >= 4 {
			return zero, false, err
		}
		m := cur.GetMetadata()
		if cur, err = r.Get(ctx, m.GetNamespace(), m.GetName()); err != nil {
			return zero, false, err
		}
	}
}

// RefManager claims objects (pods for a ReplicaSet, ReplicaSets for a Deployment) for a controller, like
// Kubernetes' ControllerRefManager: it adopts orphans that match the selector and releases owned objects
// that no longer match.
type RefManager[T api.Object] struct {
	// Controller is the owner; APIVersion and Kind describe it in ownerReferences.
	Controller       api.Object
	APIVersion, Kind string
	Selector         labels.Selector
	// Client writes the claimed objects.
	Client *client.Resource[T]
	// CanAdopt is checked once, before the first adoption: it re-reads the controller from the API to make sure
	// it still exists and is not being deleted (see RecheckDeletionTimestamp).
	CanAdopt func(ctx context.Context) error

	canAdoptErr  error
	canAdoptDone bool
}

// Claim returns the objects the controller owns after adopting and releasing. Objects owned by another
// controller are ignored. Errors of individual adoptions/releases are joined; the caller should retry.
func (m *RefManager[T]) Claim(ctx context.Context, objs []T) ([]T, error) {
	var claimed []T
	var errs []error
	uid := m.Controller.GetMetadata().GetUid()
	ctrlDeleting := m.Controller.GetMetadata().GetDeletionTimestamp() != nil
	for _, obj := range objs {
		ref := GetControllerOf(obj)
		matches := m.Selector.Matches(obj.GetMetadata().GetLabels())
		switch {
		case ref != nil && ref.GetUid() != uid:
			continue // owned by another controller
		case ref != nil:
			if matches {
				claimed = append(claimed, obj)
				continue
			}
			if ctrlDeleting {
				continue // do not release while being deleted: the garbage collector handles it
			}
			if err := m.release(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
		default:
			if ctrlDeleting || !matches || obj.GetMetadata().GetDeletionTimestamp() != nil {
				continue
			}
			adopted, ok, err := m.adopt(ctx, obj)
			switch {
			case err != nil && apierrors.IsNotFound(err):
			case err != nil:
				errs = append(errs, err)
			case ok:
				claimed = append(claimed, adopted)
			}
		}
	}
	return claimed, errors.Join(errs...)
}

func (m *RefManager[T]) adopt(ctx context.Context, obj T) (T, bool, error) {
	var zero T
	if !m.canAdoptDone {
		m.canAdoptDone = true
		if m.CanAdopt != nil {
			m.canAdoptErr = m.CanAdopt(ctx)
		}
	}
	om := obj.GetMetadata()
	if m.canAdoptErr != nil {
		return zero, false, fmt.Errorf("can't adopt %s/%s: %w", om.GetNamespace(), om.GetName(), m.canAdoptErr)
	}
	ref := NewControllerRef(m.Controller, m.APIVersion, m.Kind)
	out, ok, err := UpdateWithRetry(ctx, m.Client, obj, func(o T) bool {
		meta := o.GetMetadata()
		if GetControllerOf(o) != nil || meta.GetDeletionTimestamp() != nil || !m.Selector.Matches(meta.GetLabels()) {
			return false // someone else claimed it, it is going away, or it changed
		}
		meta.OwnerReferences = append(meta.OwnerReferences, ref)
		return true
	})
	if err != nil {
		return zero, false, fmt.Errorf("adopt %s/%s: %w", om.GetNamespace(), om.GetName(), err)
	}
	return out, ok, nil
}

func (m *RefManager[T]) release(ctx context.Context, obj T) error {
	uid := m.Controller.GetMetadata().GetUid()
	_, _, err := UpdateWithRetry(ctx, m.Client, obj, func(o T) bool {
		meta := o.GetMetadata()
		kept := meta.OwnerReferences[:0]
		for _, r := range meta.OwnerReferences {
			if r.GetUid() != uid {
				kept = append(kept, r)
			}
		}
		if len(kept) == len(meta.OwnerReferences) {
			return false
		}
		meta.OwnerReferences = kept
		return true
	})
	if err != nil {
		om := obj.GetMetadata()
		return fmt.Errorf("release %s/%s: %w", om.GetNamespace(), om.GetName(), err)
	}
	return nil
}

// RecheckDeletionTimestamp returns a CanAdopt function that reads the controller fresh from the API (get)
// and refuses adoption when it is gone, was replaced (another uid), or is being deleted.
func RecheckDeletionTimestamp(get func(ctx context.Context) (api.Object, error), uid string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		fresh, err := get(ctx)
		if err != nil {
			return err
		}
		m := fresh.GetMetadata()
		if m.GetUid() != uid {
			return fmt.Errorf("original %s/%s is gone: got uid %s, wanted %s", m.GetNamespace(), m.GetName(), m.GetUid(), uid)
		}
		if m.GetDeletionTimestamp() != nil {
			return fmt.Errorf("%s/%s has just been deleted at %s", m.GetNamespace(), m.GetName(), m.GetDeletionTimestamp().AsTime())
		}
		return nil
	}
}
