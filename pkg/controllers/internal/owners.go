package internal

import (
	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/client/informer"
	"github.com/coxswain/coxswain/pkg/labels"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// ResolveControllerRef returns the cached owner of kind that ref points at, only when its uid matches
// (a recreated owner of the same name is another object).
func ResolveControllerRef[T api.Object](owners *informer.Informer[T], kind, namespace string, ref *metav1.OwnerReference) (T, bool) {
	var zero T
	if ref == nil || ref.GetKind() != kind {
		return zero, false
	}
	o, ok := owners.Get(namespace, ref.GetName())
	if !ok || o.GetMetadata().GetUid() != ref.GetUid() {
		return zero, false
	}
	return o, true
}

// SelectingOwners returns the cached owners in namespace whose selector matches lbls; a nil or empty
// selector matches nothing here (an orphan is never adopted by a catch-all owner).
func SelectingOwners[T api.Object](owners *informer.Informer[T], namespace string, lbls map[string]string, selectorOf func(T) *metav1.LabelSelector) []T {
	var out []T
	for _, o := range owners.ListSelector(namespace, labels.Everything()) {
		sel, err := SelectorFor(selectorOf(o))
		if err != nil || sel.Empty() {
			continue
		}
		if sel.Matches(lbls) {
			out = append(out, o)
		}
	}
	return out
}
