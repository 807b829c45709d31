package internal

import (
	"slices"
	"strings"

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

// ControllerIndex indexes objects by the uid of their controller; objects without a controller are
// indexed under orphanKey(namespace). With it an owner finds what it controls, and the orphans it may
// adopt, without scanning its whole namespace on every sync (as kube-controller-manager's
// podControllerUID index does).
const ControllerIndex = "controller-uid"

func orphanKey(namespace string) string { return "\x00orphans/" + namespace }

// AddControllerIndex adds ControllerIndex to inf (idempotent: every controller sharing inf may call it).
func AddControllerIndex[T api.Object](inf *informer.Informer[T]) {
	inf.AddIndex(ControllerIndex, func(o T) []string {
		if ref := GetControllerOf(o); ref != nil {
			return []string{ref.GetUid()}
		}
		return []string{orphanKey(o.GetMetadata().GetNamespace())}
	})
}

// ControlledBy returns the cached objects whose controller has uid, in owner's namespace, sorted by key.
func ControlledBy[T api.Object](inf *informer.Informer[T], owner api.Object) []T {
	m := owner.GetMetadata()
	objs := inf.ByIndex(ControllerIndex, m.GetUid())
	out := objs[:0]
	for _, o := range objs {
		if o.GetMetadata().GetNamespace() == m.GetNamespace() { // a controller only owns in its namespace
			out = append(out, o)
		}
	}
	return out
}

// ControlledOrOrphaned returns what RefManager.Claim needs for owner: the cached objects it controls and
// the orphans of its namespace, sorted by key. Objects controlled by others are left out: Claim would
// skip them anyway.
func ControlledOrOrphaned[T api.Object](inf *informer.Informer[T], owner api.Object) []T {
	out := ControlledBy(inf, owner)
	orphans := inf.ByIndex(ControllerIndex, orphanKey(owner.GetMetadata().GetNamespace()))
	if len(orphans) == 0 {
		return out
	}
	out = append(out, orphans...)
	slices.SortFunc(out, func(a, b T) int { return strings.Compare(api.Key(a), api.Key(b)) })
	return out
}
