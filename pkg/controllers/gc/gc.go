package gc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/client/informer"
	"github.com/coxswain/coxswain/pkg/client/record"
	"github.com/coxswain/coxswain/pkg/controller"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Name is the manager's --controllers name; ControllerName labels the metrics and logs.
const (
	Name           = "gc"
	ControllerName = "garbagecollector"
)

// The finalizers the apiserver adds for the Orphan and Foreground propagation policies.
const (
	FinalizerOrphan     = "orphan"
	FinalizerForeground = "foregroundDeletion"
)

// ownerIndex indexes every watched kind by the uids of its owners.
const ownerIndex = "gc-owner-uid"

// foregroundRecheck re-examines an owner waiting for its dependents even without events.
const foregroundRecheck = 10 * time.Second

// Config configures the garbage collector.
type Config struct {
	Client   *client.Client
	Factory  *informer.Factory
	Recorder record.Recorder
	// Registerer receives the controller's metrics (nil: not registered).
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Workers is the number of objects processed in parallel (default 10).
	Workers int
	// Resources are the kinds watched, as owners and dependents (default: every served kind but Events).
	Resources []*api.Resource
}

// kind is one watched resource, type-erased.
type kind struct {
	res     *api.Resource
	get     func(ns, name string) (api.Object, bool)
	byOwner func(uid string) []api.Object
	cl      *client.Resource[api.Object]
}

// GarbageCollector is the garbage collector.
type GarbageCollector struct {
	c        *client.Client
	factory  *informer.Factory
	recorder record.Recorder
	log      *slog.Logger
	ctrl     *controller.Controller
	m        *metrics
	kinds    map[*api.Resource]*kind
	byName   map[string]*kind // GroupResource -> kind
}

// DefaultResources is every served kind but Events.
func DefaultResources() []*api.Resource {
	var out []*api.Resource
	for _, r := range api.All() {
		if r != api.Events {
			out = append(out, r)
		}
	}
	return out
}

// New builds the garbage collector and registers its informers, indexes and handlers; call it before
// the factory starts.
func New(cfg Config) (*GarbageCollector, error) {
	if cfg.Client == nil || cfg.Factory == nil || cfg.Recorder == nil {
		return nil, errors.New("gc: Config.Client, Config.Factory and Config.Recorder are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 10
	}
	if cfg.Resources == nil {
		cfg.Resources = DefaultResources()
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	g := &GarbageCollector{c: cfg.Client, factory: cfg.Factory, recorder: cfg.Recorder, log: cfg.Logger.With("controller", ControllerName),
		m: m, kinds: map[*api.Resource]*kind{}, byName: map[string]*kind{}}
	g.ctrl, err = controller.New(controller.Config{Name: ControllerName, Workers: cfg.Workers, Sync: g.sync,
		Registerer: cfg.Registerer, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	f := cfg.Factory
	for _, r := range cfg.Resources {
		switch r {
		case api.Namespaces:
			watch(g, r, f.Namespaces())
		case api.Pods:
			watch(g, r, f.Pods())
		case api.Nodes:
			watch(g, r, f.Nodes())
		case api.Services:
			watch(g, r, f.Services())
		case api.Endpoints:
			watch(g, r, f.Endpoints())
		case api.ConfigMaps:
			watch(g, r, f.ConfigMaps())
		case api.Secrets:
			watch(g, r, f.Secrets())
		case api.ReplicaSets:
			watch(g, r, f.ReplicaSets())
		case api.Deployments:
			watch(g, r, f.Deployments())
		case api.Leases:
			watch(g, r, f.Leases())
		default:
			return nil, fmt.Errorf("gc: Config.Resources: %s cannot be watched by the garbage collector", r.GroupResource())
		}
	}
	return g, nil
}

// watch adds resource r, served by informer inf, to the graph.
func watch[T api.Object](g *GarbageCollector, r *api.Resource, inf *informer.Informer[T]) {
	inf.AddIndex(ownerIndex, func(o T) []string {
		refs := o.GetMetadata().GetOwnerReferences()
		out := make([]string, 0, len(refs))
		for _, ref := range refs {
			out = append(out, ref.GetUid())
		}
		return out
	})
	k := &kind{
		res: r,
		get: func(ns, name string) (api.Object, bool) {
			o, ok := inf.Get(ns, name)
			return o, ok
		},
		byOwner: func(uid string) []api.Object {
			objs := inf.ByIndex(ownerIndex, uid)
			out := make([]api.Object, len(objs))
			for i, o := range objs {
				out[i] = o
			}
			return out
		},
		cl: client.For[api.Object](g.c, r),
	}
	g.kinds[r] = k
	g.byName[r.GroupResource()] = k
	inf.AddHandler(informer.Handler[T]{
		OnAdd: func(o T) {
			if len(o.GetMetadata().GetOwnerReferences()) > 0 || pendingFinalizer(o) {
				g.enqueue(k, o)
			}
		},
		OnUpdate: func(old, cur T) {
			om, cm := old.GetMetadata(), cur.GetMetadata()
			if pendingFinalizer(cur) || !sameRefs(om.GetOwnerReferences(), cm.GetOwnerReferences()) {
				g.enqueue(k, cur)
				g.enqueueOwners(old) // an owner waiting in the foreground may be unblocked
			}
		},
		OnDelete: func(o T) {
			g.enqueueDependents(o.GetMetadata().GetUid())
			g.enqueueOwners(o)
		},
	})
}

func sameRefs(a, b []*metav1.OwnerReference) bool {
	return slices.EqualFunc(a, b, func(x, y *metav1.OwnerReference) bool { return proto.Equal(x, y) })
}

func hasFinalizer(o api.Object, f string) bool {
	return slices.Contains(o.GetMetadata().GetFinalizers(), f)
}

// pendingFinalizer: o is being deleted and waits for the garbage collector.
func pendingFinalizer(o api.Object) bool {
	return o.GetMetadata().GetDeletionTimestamp() != nil && (hasFinalizer(o, FinalizerOrphan) || hasFinalizer(o, FinalizerForeground))
}

func key(k *kind, o api.Object) string { return k.res.GroupResource() + "|" + api.Key(o) }

func (g *GarbageCollector) enqueue(k *kind, o api.Object) { g.ctrl.Enqueue(key(k, o)) }

func (g *GarbageCollector) enqueueDependents(uid string) {
	for _, k := range g.kinds {
		for _, d := range k.byOwner(uid) {
			g.enqueue(k, d)
		}
	}
}

// enqueueOwners enqueues the cached owners of o that are being deleted.
func (g *GarbageCollector) enqueueOwners(o api.Object) {
	for _, ref := range o.GetMetadata().GetOwnerReferences() {
		r, err := api.ForKind(ref.GetApiVersion(), ref.GetKind())
		if err != nil {
			continue
		}
		k := g.kinds[r]
		if k == nil {
			continue
		}
		ns := ""
		if r.Namespaced {
			ns = o.GetMetadata().GetNamespace()
		}
		if owner, ok := k.get(ns, ref.GetName()); ok && owner.GetMetadata().GetDeletionTimestamp() != nil {
			g.enqueue(k, owner)
		}
	}
}

// Run waits for the caches and collects garbage until ctx ends.
func (g *GarbageCollector) Run(ctx context.Context) error {
	if !g.factory.WaitForSync(ctx) {
		return ctx.Err()
	}
	names := make([]string, 0, len(g.byName))
	for n := range g.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	g.log.Info("controller started", "resources", strings.Join(names, ","))
	return g.ctrl.Run(ctx)
}

func (g *GarbageCollector) sync(ctx context.Context, qkey string) error {
	res, objKey, ok := strings.Cut(qkey, "|")
	k := g.byName[res]
	if !ok || k == nil {
		return nil
	}
	ns, name := api.SplitKey(objKey)
	obj, ok := k.get(ns, name)
	if !ok {
		return nil
	}
	if obj.GetMetadata().GetDeletionTimestamp() != nil {
		switch {
		case hasFinalizer(obj, FinalizerOrphan):
			return g.orphanDependents(ctx, k, obj)
		case hasFinalizer(obj, FinalizerForeground):
			return g.deleteDependentsInForeground(ctx, k, obj)
		}
		return nil // being deleted without the garbage collector's help
	}
	if len(obj.GetMetadata().GetOwnerReferences()) == 0 {
		return nil
	}
	return g.attemptToDelete(ctx, k, obj)
}

type ownerState int

const (
	solid    ownerState = iota // exists and is not being deleted in the foreground
	dangling                   // does not exist (or with another uid)
	waiting                    // exists, being deleted in the foreground: waits for its dependents
)

// classify tells what became of the owner behind ref of dependent dep: from the cache when it is there
// with the right uid, otherwise from a live read (caches lag: never delete on the cache's word).
func (g *GarbageCollector) classify(ctx context.Context, dep api.Object, ref *metav1.OwnerReference) (ownerState, error) {
	r, err := api.ForKind(ref.GetApiVersion(), ref.GetKind())
	if err != nil {
		// A kind this apiserver does not serve: it cannot be checked, so it is not ours to judge.
		g.log.Debug("owner reference to an unknown kind ignored", "dependent", api.Key(dep), "ownerKind", ref.GetKind(), "err", err)
		return solid, nil
	}
	ns := ""
	if r.Namespaced {
		ns = dep.GetMetadata().GetNamespace()
		if ns == "" {
			// A cluster-scoped dependent cannot have a namespaced owner: the reference is invalid.
			g.recorder.Eventf(dep, record.Warning, "OwnerRefInvalidNamespace",
				"ownerRef [%s/%s, namespace: , name: %s, uid: %s] does not exist in namespace \"\"", ref.GetApiVersion(), ref.GetKind(), ref.GetName(), ref.GetUid())
			return dangling, nil
		}
	}
	state := func(o api.Object) ownerState {
		if o.GetMetadata().GetDeletionTimestamp() != nil && hasFinalizer(o, FinalizerForeground) {
			return waiting
		}
		return solid
	}
	if k := g.kinds[r]; k != nil {
		if o, ok := k.get(ns, ref.GetName()); ok && o.GetMetadata().GetUid() == ref.GetUid() {
			return state(o), nil
		}
	}
	live, err := client.For[api.Object](g.c, r).Get(ctx, ns, ref.GetName())
	if apierrors.IsNotFound(err) {
		return dangling, nil
	}
	if err != nil {
		return solid, fmt.Errorf("look up owner %s %s/%s: %w", ref.GetKind(), ns, ref.GetName(), err)
	}
	if live.GetMetadata().GetUid() != ref.GetUid() {
		return dangling, nil
	}
	return state(live), nil
}

// attemptToDelete deletes obj when none of its owners is left, or drops its references to the owners
// that are gone (or waiting for their dependents) when some owner is still there.
func (g *GarbageCollector) attemptToDelete(ctx context.Context, k *kind, obj api.Object) error {
	var solids, gone, waitingRefs []*metav1.OwnerReference
	for _, ref := range obj.GetMetadata().GetOwnerReferences() {
		st, err := g.classify(ctx, obj, ref)
		if err != nil {
			return err
		}
		switch st {
		case solid:
			solids = append(solids, ref)
		case dangling:
			gone = append(gone, ref)
		case waiting:
			waitingRefs = append(waitingRefs, ref)
		}
	}
	switch {
	case len(solids) > 0 && len(gone)+len(waitingRefs) == 0:
		return nil
	case len(solids) > 0:
		var uids []string
		for _, ref := range append(gone, waitingRefs...) {
			uids = append(uids, ref.GetUid())
		}
		return g.removeOwnerRefs(ctx, k, obj, uids)
	}
	policy := "Background"
	if len(waitingRefs) > 0 && slices.ContainsFunc(waitingRefs, func(r *metav1.OwnerReference) bool { return r.GetBlockOwnerDeletion() }) &&
		g.hasDependents(obj.GetMetadata().GetUid()) {
		// The owner waits for obj: obj must in turn wait for its own dependents.
		policy = "Foreground"
	}
	m := obj.GetMetadata()
	uid := m.GetUid()
	_, err := k.cl.Delete(ctx, &metav1.DeleteRequest{Namespace: m.GetNamespace(), Name: m.GetName(),
		PropagationPolicy: policy, Preconditions: &metav1.Preconditions{Uid: &uid}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone already, or another object by that name now
	}
	if err != nil {
		g.recorder.Eventf(obj, record.Warning, "FailedDelete", "Garbage collector failed to delete %s %s: %v", k.res.Kind, api.Key(obj), err)
		return fmt.Errorf("delete %s %s: %w", k.res.Kind, api.Key(obj), err)
	}
	g.m.deleted.WithLabelValues(k.res.GroupResource(), policy).Inc()
	g.log.Info("dependent deleted: its owners are gone", "resource", k.res.GroupResource(), "object", api.Key(obj), "propagation", policy)
	return nil
}

func (g *GarbageCollector) hasDependents(uid string) bool {
	for _, k := range g.kinds {
		if len(k.byOwner(uid)) > 0 {
			return true
		}
	}
	return false
}

type dependent struct {
	k   *kind
	obj api.Object
}

func (g *GarbageCollector) dependents(uid string) []dependent {
	var out []dependent
	for _, k := range g.kinds {
		for _, o := range k.byOwner(uid) {
			out = append(out, dependent{k, o})
		}
	}
	return out
}

// orphanDependents removes owner's references from all its dependents, then the orphan finalizer.
func (g *GarbageCollector) orphanDependents(ctx context.Context, k *kind, owner api.Object) error {
	uid := owner.GetMetadata().GetUid()
	var errs []error
	for _, d := range g.dependents(uid) {
		if err := g.removeOwnerRefs(ctx, d.k, d.obj, []string{uid}); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		g.recorder.Eventf(owner, record.Warning, "OrphanDependentsFailed", "Failed to orphan the dependents of %s %s: %v", k.res.Kind, api.Key(owner), err)
		return err
	}
	return g.removeFinalizer(ctx, k, owner, FinalizerOrphan)
}

// deleteDependentsInForeground has the dependents of owner deleted (each through its own sync, which
// sees the owner waiting) and removes the foreground finalizer once none blocks the owner any more.
func (g *GarbageCollector) deleteDependentsInForeground(ctx context.Context, k *kind, owner api.Object) error {
	uid := owner.GetMetadata().GetUid()
	blocking := 0
	for _, d := range g.dependents(uid) {
		if d.obj.GetMetadata().GetDeletionTimestamp() == nil || pendingFinalizer(d.obj) {
			g.enqueue(d.k, d.obj)
		}
		for _, ref := range d.obj.GetMetadata().GetOwnerReferences() {
			if ref.GetUid() == uid && ref.GetBlockOwnerDeletion() {
				blocking++
				break
			}
		}
	}
	if blocking > 0 {
		g.log.Debug("owner waits for its dependents", "resource", k.res.GroupResource(), "object", api.Key(owner), "blocking", blocking)
		return controller.RequeueAfter(foregroundRecheck)
	}
	return g.removeFinalizer(ctx, k, owner, FinalizerForeground)
}

// update re-reads obj, applies change and writes it back, retrying on conflicts. change returns false
// when there is nothing to write.
func update(ctx context.Context, k *kind, obj api.Object, change func(api.Object) bool) (bool, error) {
	m := obj.GetMetadata()
	for attempt := 0; ; attempt++ {
		cur, err := k.cl.Get(ctx, m.GetNamespace(), m.GetName())
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if cur.GetMetadata().GetUid() != m.GetUid() || !change(cur) {
			return false, nil
		}
		_, err = k.cl.Update(ctx, cur)
		switch {
		case err == nil:
			return true, nil
		case apierrors.IsNotFound(err):
			return false, nil
		case apierrors.IsConflict(err) && attempt < 5:
			continue
		default:
			return false, err
		}
	}
}

func (g *GarbageCollector) removeOwnerRefs(ctx context.Context, k *kind, obj api.Object, uids []string) error {
	changed, err := update(ctx, k, obj, func(cur api.Object) bool {
		m := api.Meta(cur)
		n := len(m.OwnerReferences)
		m.OwnerReferences = slices.DeleteFunc(m.OwnerReferences, func(r *metav1.OwnerReference) bool { return slices.Contains(uids, r.GetUid()) })
		return len(m.OwnerReferences) != n
	})
	if err != nil {
		return fmt.Errorf("remove owner references %v from %s %s: %w", uids, k.res.Kind, api.Key(obj), err)
	}
	if changed {
		g.m.refsRemoved.WithLabelValues(k.res.GroupResource()).Inc()
		g.log.Info("owner references removed", "resource", k.res.GroupResource(), "object", api.Key(obj), "owners", uids)
	}
	return nil
}

func (g *GarbageCollector) removeFinalizer(ctx context.Context, k *kind, obj api.Object, fin string) error {
	changed, err := update(ctx, k, obj, func(cur api.Object) bool {
		m := api.Meta(cur)
		n := len(m.Finalizers)
		m.Finalizers = slices.DeleteFunc(m.Finalizers, func(f string) bool { return f == fin })
		return len(m.Finalizers) != n
	})
	if err != nil {
		return fmt.Errorf("remove finalizer %s from %s %s: %w", fin, k.res.Kind, api.Key(obj), err)
	}
	if changed {
		g.m.finalizers.WithLabelValues(fin).Inc()
		g.log.Info("finalizer removed", "resource", k.res.GroupResource(), "object", api.Key(obj), "finalizer", fin)
	}
	return nil
}
