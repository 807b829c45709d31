package registry

import (
	"context"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/apiserver/storage"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// NamespaceFinalizer holds a namespace until the namespace controller has deleted its contents.
const NamespaceFinalizer = "kubernetes"

// NamespaceHooks: a new namespace is Active and carries the "kubernetes" finalizer; deleting marks it
// Terminating; it disappears when the namespace controller has emptied spec.finalizers.
func NamespaceHooks() Hooks {
	return Hooks{
		OnCreate: func(_ context.Context, obj api.Object) (*storage.Txn, error) {
			ns := obj.(*corev1.Namespace)
			if ns.Spec == nil {
				ns.Spec = &corev1.NamespaceSpec{}
			}
			if len(ns.Spec.Finalizers) == 0 {
				ns.Spec.Finalizers = []string{NamespaceFinalizer}
			}
			ns.Status = &corev1.NamespaceStatus{Phase: "Active"}
			return nil, nil
		},
		OnDeleteMark: func(obj api.Object) {
			ns := obj.(*corev1.Namespace)
			if ns.Status == nil {
				ns.Status = &corev1.NamespaceStatus{}
			}
			ns.Status.Phase = "Terminating"
		},
		Finalize: func(obj api.Object) bool {
			return len(obj.(*corev1.Namespace).GetSpec().GetFinalizers()) == 0
		},
	}
}

// NamespaceLifecycle is the admission step that refuses objects in namespaces that do not exist or are
// terminating. Events may still be written into a terminating namespace.
type NamespaceLifecycle struct {
	Namespaces *REST
}

// Admit implements Admitter.
func (n *NamespaceLifecycle) Admit(ctx context.Context, a *Attributes) error {
	if a.Op != OpCreate || !a.Resource.Namespaced {
		return nil
	}
	name := a.Object.GetMetadata().GetNamespace()
	var ns *corev1.Namespace
	if obj, ok := n.Namespaces.Cache.Get(name); ok {
		ns = obj.(*corev1.Namespace)
	} else {
		obj, err := n.Namespaces.Store.Get(ctx, "", name) // the cache may not have a namespace just created
		if apierrors.IsNotFound(err) {
			return apierrors.NotFound("namespaces", name)
		}
		if err != nil {
			return err
		}
		ns = obj.(*corev1.Namespace)
	}
	if ns.GetMetadata().GetDeletionTimestamp() != nil && a.Resource != api.Events {
		return apierrors.Forbidden("%s %q is forbidden: unable to create new content in namespace %s because it is being terminated",
			a.Resource.GroupResource(), a.Object.GetMetadata().GetName(), name)
	}
	return nil
}
