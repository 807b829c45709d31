package registry

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/apiserver/storage"
	"github.com/coxswain/coxswain/pkg/fields"
	"github.com/coxswain/coxswain/pkg/labels"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Finalizers the garbage collector acts on.
const (
	FinalizerOrphan     = "orphan"
	FinalizerForeground = "foregroundDeletion"
)

// Hooks carry a kind's special behaviour. Every hook is optional.
type Hooks struct {
	// OnCreate may change the object and add work to the create transaction (allocations).
	OnCreate func(ctx context.Context, obj api.Object) (*storage.Txn, error)
	// OnUpdate may change next (given the stored cur) and add work to the update transaction.
	OnUpdate func(ctx context.Context, next, cur api.Object) (*storage.Txn, error)
	// OnDelete adds work to the transaction that removes obj (releasing allocations).
	OnDelete func(obj api.Object) *storage.Txn
	// GracefulDelete decides whether a delete only marks obj (a bound pod): it returns the grace period to
	// record and true, or false for an immediate delete.
	GracefulDelete func(obj api.Object, req *metav1.DeleteRequest) (int64, bool)
	// Finalize reports whether an object marked for deletion can go now (namespaces wait for spec.finalizers).
	Finalize func(obj api.Object) bool
	// OnDeleteMark changes an object that is being marked for deletion (namespace phase Terminating).
	OnDeleteMark func(obj api.Object)
}

// REST serves the verbs of one resource.
type REST struct {
	Res       *api.Resource
	Store     *storage.Store
	Cache     *storage.Cacher
	Admission Admitter
	Hooks     Hooks
	Log       *slog.Logger
	Now       func() time.Time
}

func (r *REST) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *REST) admit(ctx context.Context, a *Attributes) error {
	if r.Admission == nil {
		return nil
	}
	a.Resource = r.Res
	return r.Admission.Admit(ctx, a)
}

// Create stores a new object.
func (r *REST) Create(ctx context.Context, in api.Object) (api.Object, error) {
	obj := api.Clone(in)
	m := api.Meta(obj)
	if r.Res.Namespaced && m.Namespace == "" {
		m.Namespace = "default"
	}
	if !r.Res.Namespaced && m.Namespace != "" {
		return nil, apierrors.Invalid(r.Res.Kind, m.Name, []apierrors.Cause{{Field: "metadata.namespace", Message: "Forbidden: not allowed on this type"}})
	}
	if m.Name == "" && m.GenerateName == "" {
		return nil, apierrors.Invalid(r.Res.Kind, "", []apierrors.Cause{{Field: "metadata.name", Message: "Required value: name or generateName is required"}})
	}
	m.Uid = uuid.NewString()
	m.ResourceVersion = ""
	m.CreationTimestamp = timestamppb.New(r.now().Truncate(time.Second))
	m.DeletionTimestamp, m.DeletionGracePeriodSeconds = nil, nil
	if hasSpec(obj) {
		m.Generation = 1
	}
	if r.Res.HasStatus && r.Res != api.Nodes {
		api.SetField(obj, "status", nil)
	}
	generated := m.Name == ""
	for attempt := 0; ; attempt++ {
		if generated {
			m.Name = m.GenerateName + randomSuffix()
		}
		if err := r.admit(ctx, &Attributes{Op: OpCreate, Object: obj}); err != nil {
			return nil, err
		}
		var txn *storage.Txn
		if r.Hooks.OnCreate != nil {
			var err error
			if txn, err = r.Hooks.OnCreate(ctx, obj); err != nil {
				return nil, err
			}
		}
		out, err := r.Store.Create(ctx, obj, txn)
		if generated && apierrors.IsAlreadyExists(err) && attempt < 8 {
			continue
		}
		return out, err
	}
}

func randomSuffix() string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func hasSpec(obj api.Object) bool {
	return obj.ProtoReflect().Descriptor().Fields().ByName("spec") != nil
}

// Get reads one object from etcd.
func (r *REST) Get(ctx context.Context, req *metav1.GetRequest) (api.Object, error) {
	return r.Store.Get(ctx, r.namespace(req.GetNamespace()), req.GetName())
}

func (r *REST) namespace(ns string) string {
	if !r.Res.Namespaced {
		return ""
	}
	if ns == "" {
		return "default"
	}
	return ns
}

func checkVersion(res *api.Resource, in, cur api.Object) error {
	if rv := in.GetMetadata().GetResourceVersion(); rv != "" && rv != cur.GetMetadata().GetResourceVersion() {
		return apierrors.Conflict(res.GroupResource(), cur.GetMetadata().GetName(), apierrors.StaleResourceVersion)
	}
	if uid := in.GetMetadata().GetUid(); uid != "" && uid != cur.GetMetadata().GetUid() {
		return apierrors.Conflict(res.GroupResource(), cur.GetMetadata().GetName(),
			fmt.Sprintf("Precondition failed: UID in precondition: %s, UID in object meta: %s", uid, cur.GetMetadata().GetUid()))
	}
	return nil
}

// Update replaces an object's spec and metadata (its status is kept: use UpdateStatus).
func (r *REST) Update(ctx context.Context, in api.Object) (api.Object, error) {
	m := in.GetMetadata()
	ns := r.namespace(m.GetNamespace())
	return r.Store.GuaranteedUpdate(ctx, ns, m.GetName(), func(cur api.Object) (api.Object, *storage.Txn, error) {
		if err := checkVersion(r.Res, in, cur); err != nil {
			return nil, nil, err
		}
		next := api.Clone(in)
		nm, cm := api.Meta(next), cur.GetMetadata()
		nm.Namespace, nm.Uid, nm.CreationTimestamp = cm.Namespace, cm.Uid, cm.CreationTimestamp
		nm.DeletionTimestamp, nm.DeletionGracePeriodSeconds = cm.DeletionTimestamp, cm.DeletionGracePeriodSeconds
		nm.GenerateName, nm.ResourceVersion, nm.Generation = cm.GenerateName, "", cm.Generation
		if r.Res.HasStatus {
			api.SetField(next, "status", api.GetField(cur, "status"))
		}
		if err := r.admit(ctx, &Attributes{Op: OpUpdate, Object: next, Old: cur}); err != nil {
			return nil, nil, err
		}
		if hasSpec(next) && !proto.Equal(api.GetField(next, "spec"), api.GetField(cur, "spec")) {
			nm.Generation = cm.Generation + 1
		}
		if cm.DeletionTimestamp != nil && r.finalized(next) {
			return nil, r.onDelete(cur), nil
		}
		var txn *storage.Txn
		if r.Hooks.OnUpdate != nil {
			var err error
			if txn, err = r.Hooks.OnUpdate(ctx, next, cur); err != nil {
				return nil, nil, err
			}
		}
		return next, txn, nil
	})
}

// finalized: an object marked for deletion goes once nothing holds it.
func (r *REST) finalized(obj api.Object) bool {
	m := obj.GetMetadata()
	if len(m.GetFinalizers()) > 0 || m.GetDeletionGracePeriodSeconds() > 0 {
		return false
	}
	if r.Hooks.Finalize != nil {
		return r.Hooks.Finalize(obj)
	}
	return true
}

func (r *REST) onDelete(obj api.Object) *storage.Txn {
	if r.Hooks.OnDelete == nil {
		return nil
	}
	return r.Hooks.OnDelete(obj)
}

// UpdateStatus replaces an object's status only.
func (r *REST) UpdateStatus(ctx context.Context, in api.Object) (api.Object, error) {
	if !r.Res.HasStatus {
		return nil, apierrors.BadRequest("%s has no status subresource", r.Res.GroupResource())
	}
	m := in.GetMetadata()
	return r.Store.GuaranteedUpdate(ctx, r.namespace(m.GetNamespace()), m.GetName(), func(cur api.Object) (api.Object, *storage.Txn, error) {
		if err := checkVersion(r.Res, in, cur); err != nil {
			return nil, nil, err
		}
		next := api.Clone(cur)
		api.Meta(next).ResourceVersion = ""
		api.SetField(next, "status", api.GetField(in, "status"))
		if err := r.admit(ctx, &Attributes{Op: OpUpdate, Subresource: "status", Object: next, Old: cur}); err != nil {
			return nil, nil, err
		}
		return next, nil, nil
	})
}

// Delete removes an object, or marks it for deletion when finalizers, a propagation policy that the
// garbage collector carries out, or a pod's grace period hold it.
func (r *REST) Delete(ctx context.Context, req *metav1.DeleteRequest) (api.Object, error) {
	policy := req.GetPropagationPolicy()
	switch policy {
	case "", "Background", "Orphan", "Foreground":
	default:
		return nil, apierrors.Invalid("DeleteOptions", req.GetName(), []apierrors.Cause{{Field: "propagationPolicy",
			Message: fmt.Sprintf("Unsupported value: %q: supported values: \"Orphan\", \"Background\", \"Foreground\"", policy)}})
	}
	if g := req.GracePeriodSeconds; g != nil && *g < 0 {
		return nil, apierrors.Invalid("DeleteOptions", req.GetName(), []apierrors.Cause{{Field: "gracePeriodSeconds", Message: "Invalid value: must be >= 0"}})
	}
	return r.Store.GuaranteedUpdate(ctx, r.namespace(req.GetNamespace()), req.GetName(), func(cur api.Object) (api.Object, *storage.Txn, error) {
		cm := cur.GetMetadata()
		if pc := req.GetPreconditions(); pc != nil {
			if pc.Uid != nil && pc.GetUid() != cm.GetUid() {
				return nil, nil, apierrors.Conflict(r.Res.GroupResource(), cm.GetName(),
					fmt.Sprintf("Precondition failed: UID in precondition: %s, UID in object meta: %s", pc.GetUid(), cm.GetUid()))
			}
			if pc.ResourceVersion != nil && pc.GetResourceVersion() != cm.GetResourceVersion() {
				return nil, nil, apierrors.Conflict(r.Res.GroupResource(), cm.GetName(),
					fmt.Sprintf("Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in object meta: %s", pc.GetResourceVersion(), cm.GetResourceVersion()))
			}
		}
		next := api.Clone(cur)
		nm := api.Meta(next)
		nm.ResourceVersion = ""
		changed := false
		switch policy {
		case "Orphan":
			changed = addFinalizer(nm, FinalizerOrphan) || changed
		case "Foreground":
			changed = addFinalizer(nm, FinalizerForeground) || changed
		}
		grace, graceful := int64(0), false
		if r.Hooks.GracefulDelete != nil {
			grace, graceful = r.Hooks.GracefulDelete(cur, req)
		}
		if graceful {
			// Shorten, never lengthen, a grace period already running.
			if nm.DeletionGracePeriodSeconds == nil || grace < nm.GetDeletionGracePeriodSeconds() {
				nm.DeletionGracePeriodSeconds = proto.Int64(grace)
				nm.DeletionTimestamp = timestamppb.New(r.now().Add(time.Duration(grace) * time.Second).Truncate(time.Second))
				changed = true
			}
		} else if nm.DeletionGracePeriodSeconds != nil && nm.GetDeletionGracePeriodSeconds() != 0 {
			nm.DeletionGracePeriodSeconds = proto.Int64(0)
			changed = true
		}
		if !graceful && r.finalized(next) {
			return nil, r.onDelete(cur), nil
		}
		if nm.DeletionTimestamp == nil {
			nm.DeletionTimestamp = timestamppb.New(r.now().Truncate(time.Second))
			if nm.DeletionGracePeriodSeconds == nil {
				nm.DeletionGracePeriodSeconds = proto.Int64(0)
			}
			changed = true
		}
		if r.Hooks.OnDeleteMark != nil {
			r.Hooks.OnDeleteMark(next)
		}
		if !changed {
			return cur, nil, nil
		}
		return next, nil, nil
	})
}

func addFinalizer(m *metav1.ObjectMeta, f string) bool {
	for _, x := range m.Finalizers {
		if x == f {
			return false
		}
	}
	m.Finalizers = append(m.Finalizers, f)
	return true
}

// Predicate turns list options into a storage predicate, validating the selectors.
func (r *REST) Predicate(opts *metav1.ListOptions, indexField string) (*storage.Predicate, error) {
	p := &storage.Predicate{}
	if r.Res.Namespaced {
		p.Namespace = opts.GetNamespace()
	}
	var matchers []func(api.Object) bool
	if s := opts.GetLabelSelector(); s != "" {
		sel, err := labels.Parse(s)
		if err != nil {
			return nil, apierrors.BadRequest("unable to parse labelSelector %q: %v", s, err)
		}
		matchers = append(matchers, func(o api.Object) bool { return sel.Matches(o.GetMetadata().GetLabels()) })
	}
	if s := opts.GetFieldSelector(); s != "" {
		sel, err := fields.Parse(s)
		if err != nil {
			return nil, apierrors.BadRequest("unable to parse fieldSelector %q: %v", s, err)
		}
		for _, req := range sel.Requirements() {
			if err := api.CheckFieldPath(r.Res, req.Field); err != nil {
				return nil, apierrors.BadRequest("%s: %v", r.Res.GroupResource(), err)
			}
		}
		if indexField != "" {
			if v, ok := sel.RequiresExactMatch(indexField); ok {
				p.IndexValue, p.HasIndex = v, true
				p.IndexOnly = len(sel.Requirements()) == 1 && opts.GetLabelSelector() == ""
			}
		}
		matchers = append(matchers, func(o api.Object) bool {
			return sel.Matches(func(f string) (string, bool) { return api.FieldValue(o, f) })
		})
	}
	if len(matchers) > 0 {
		p.Matches = func(o api.Object) bool {
			for _, m := range matchers {
				if !m(o) {
					return false
				}
			}
			return true
		}
	}
	return p, nil
}

// ListResult is a List's answer: Encoded, the <Kind>List's wire form spliced from the watch cache's
// stored objects, when the cache could serve it without decoding; otherwise Items and Meta.
type ListResult struct {
	Items   []api.Object
	Meta    *metav1.ListMeta
	Encoded []byte
}

// List returns the selected objects. Without limit/continue it is served from the watch cache: with
// resourceVersion "0" at once, otherwise after the cache has caught up with etcd's current revision
// (a consistent read); a selection the cache decides alone (everything, a namespace, spec.nodeName) comes
// back Encoded, with no object decoded. Pages (limit/continue) are read from etcd at the first page's
// revision.
func (r *REST) List(ctx context.Context, opts *metav1.ListOptions, indexField string) (*ListResult, error) {
	p, err := r.Predicate(opts, indexField)
	if err != nil {
		return nil, err
	}
	if opts.GetLimit() > 0 || opts.GetContinue() != "" {
		items, lm, err := r.listPaged(ctx, opts, p)
		return &ListResult{Items: items, Meta: lm}, err
	}
	if fromEtcd, err := r.waitCache(ctx, opts); err != nil {
		return nil, err
	} else if fromEtcd {
		items, lm, err := r.listFromEtcd(ctx, p)
		return &ListResult{Items: items, Meta: lm}, err
	}
	if data, _, ok := r.Cache.EncodedList(p); ok {
		return &ListResult{Encoded: data}, nil
	}
	items, rev := r.Cache.Snapshot(p)
	return &ListResult{Items: items, Meta: &metav1.ListMeta{ResourceVersion: strconv.FormatInt(rev, 10)}}, nil
}

// waitCache waits until the watch cache is fresh enough for opts' resourceVersion ("0": at once; "": etcd's
// current revision, a consistent read; N: revision N). fromEtcd says it did not catch up in time.
func (r *REST) waitCache(ctx context.Context, opts *metav1.ListOptions) (fromEtcd bool, err error) {
	want := int64(0)
	switch rv := opts.GetResourceVersion(); rv {
	case "0":
		return false, nil
	case "":
		if want, err = r.Store.CurrentRevision(ctx); err != nil {
			return false, err
		}
	default:
		n, err := strconv.ParseInt(rv, 10, 64)
		if err != nil || n < 0 {
			return false, apierrors.BadRequest("invalid resourceVersion %q", rv)
		}
		want = n
	}
	if err := r.Cache.WaitFresh(ctx, want); errors.Is(err, storage.ErrNotFresh) {
		return true, nil
	} else if err != nil {
		return false, err
	}
	return false, nil
}

func (r *REST) listFromEtcd(ctx context.Context, p *storage.Predicate) ([]api.Object, *metav1.ListMeta, error) {
	objs, rev, _, err := r.Store.List(ctx, p.Namespace, 0, "", 0)
	if err != nil {
		return nil, nil, err
	}
	out := objs[:0]
	for _, o := range objs {
		if p.Matches == nil || p.Matches(o) {
			out = append(out, o)
		}
	}
	return out, &metav1.ListMeta{ResourceVersion: strconv.FormatInt(rev, 10)}, nil
}

type continueToken struct {
	rev      int64
	startKey string
}

func (t continueToken) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t.rev, 10) + "\x00" + t.startKey))
}

func decodeContinue(s string) (continueToken, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return continueToken{}, err
	}
	rev, key, ok := strings.Cut(string(b), "\x00")
	if !ok {
		return continueToken{}, errors.New("malformed")
	}
	n, err := strconv.ParseInt(rev, 10, 64)
	if err != nil {
		return continueToken{}, err
	}
	return continueToken{rev: n, startKey: key}, nil
}

func (r *REST) listPaged(ctx context.Context, opts *metav1.ListOptions, p *storage.Predicate) ([]api.Object, *metav1.ListMeta, error) {
	var tok continueToken
	if c := opts.GetContinue(); c != "" {
		var err error
		if tok, err = decodeContinue(c); err != nil {
			return nil, nil, apierrors.BadRequest("invalid continue token: %v", err)
		}
	}
	limit := opts.GetLimit()
	var out []api.Object
	rev, last := tok.rev, tok.startKey
	for {
		batch := limit
		if batch <= 0 {
			batch = 500
		}
		objs, readRev, more, err := r.Store.List(ctx, p.Namespace, rev, last, batch)
		if apierrors.IsExpired(err) {
			return nil, nil, apierrors.Expired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
		}
		if err != nil {
			return nil, nil, err
		}
		rev = readRev
		for _, o := range objs {
			last = r.Store.KeyFor(o.GetMetadata().GetNamespace(), o.GetMetadata().GetName())
			if p.Matches == nil || p.Matches(o) {
				out = append(out, o)
			}
			if limit > 0 && int64(len(out)) == limit {
				lm := &metav1.ListMeta{ResourceVersion: strconv.FormatInt(rev, 10)}
				if more || o != objs[len(objs)-1] {
					lm.Continue = continueToken{rev: rev, startKey: last}.encode()
				}
				return out, lm, nil
			}
		}
		if !more {
			return out, &metav1.ListMeta{ResourceVersion: strconv.FormatInt(rev, 10)}, nil
		}
	}
}
