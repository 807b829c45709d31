package informer

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/labels"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// ListerWatcher is what an informer needs from the API; *client.Resource[T] implements it.
type ListerWatcher[T api.Object] interface {
	List(ctx context.Context, opts *metav1.ListOptions) ([]T, *metav1.ListMeta, error)
	Watch(ctx context.Context, opts *metav1.ListOptions) (*client.Watch[T], error)
}

// Handler receives changes. Any field may be nil. OnDelete gets the last known state.
type Handler[T api.Object] struct {
	OnAdd    func(obj T)
	OnUpdate func(old, cur T)
	OnDelete func(obj T)
}

// Config selects what an informer follows.
type Config struct {
	// Namespace restricts to one namespace ("" = all).
	Namespace string
	// LabelSelector and FieldSelector restrict the objects (e.g. "spec.nodeName=node-1").
	LabelSelector, FieldSelector string
	// ResyncPeriod, when set, re-delivers every cached object to OnUpdate periodically (old == cur).
	ResyncPeriod time.Duration
	// Transform, when set, is applied to every object before it is cached and handed to the handlers
	// (like client-go's SetTransform): it may drop what the process never reads, to save memory. It gets
	// the informer's own decoded copy and may change it in place. In a Factory, TransformName tells
	// informers with different transforms of the same resource apart (it is required with Transform).
	Transform     func(api.Object) api.Object
	TransformName string
	Logger        *slog.Logger
}

// IndexFunc returns the index values of an object.
type IndexFunc[T api.Object] func(obj T) []string

// Informer is a synced cache of one resource with change notifications.
type Informer[T api.Object] struct {
	lw  ListerWatcher[T]
	cfg Config
	log *slog.Logger

	mu       sync.RWMutex
	items    map[string]T
	indexers map[string]IndexFunc[T]
	indices  map[string]map[string]map[string]struct{} // index → value → keys
	// byNamespace is the built-in namespace index: namespace → keys.
	byNamespace map[string]map[string]struct{}
	rv          string
	synced      bool
	syncedCh    chan struct{}

	// dmu serializes each change of the cache together with its delivery to the handlers against
	// AddHandler, so that a handler added while events flow sees each object's history exactly once:
	// either in the replay or as an event, never both and never an update of a state it was not shown.
	dmu      sync.Mutex
	hmu      sync.Mutex
	handlers []Handler[T]
}

// New builds an informer; Run starts it.
func New[T api.Object](lw ListerWatcher[T], cfg Config) *Informer[T] {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Informer[T]{lw: lw, cfg: cfg, log: cfg.Logger, items: map[string]T{},
		indexers: map[string]IndexFunc[T]{}, indices: map[string]map[string]map[string]struct{}{}, byNamespace: map[string]map[string]struct{}{}, syncedCh: make(chan struct{})}
}

// AddHandler registers h. Added after the first sync, h first receives OnAdd for every cached object
// (before AddHandler returns), then the changes that follow. It must not be called from a handler.
func (i *Informer[T]) AddHandler(h Handler[T]) {
	i.dmu.Lock()
	defer i.dmu.Unlock()
	i.hmu.Lock()
	i.handlers = append(i.handlers, h)
	i.hmu.Unlock()
	if i.HasSynced() && h.OnAdd != nil {
		for _, o := range i.List() {
			h.OnAdd(o)
		}
	}
}

// AddIndex adds a named index; call before Run.
func (i *Informer[T]) AddIndex(name string, fn IndexFunc[T]) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.indexers[name] = fn
	idx := map[string]map[string]struct{}{}
	for k, o := range i.items {
		for _, v := range fn(o) {
			if idx[v] == nil {
				idx[v] = map[string]struct{}{}
			}
			idx[v][k] = struct{}{}
		}
	}
	i.indices[name] = idx
}

// HasSynced reports whether the first list has been applied.
func (i *Informer[T]) HasSynced() bool {
	select {
	case <-i.syncedCh:
		return true
	default:
		return false
	}
}

// WaitForSync blocks until synced or ctx ends.
func (i *Informer[T]) WaitForSync(ctx context.Context) bool {
	select {
	case <-i.syncedCh:
		return true
	case <-ctx.Done():
		return false
	}
}

// LastResourceVersion is the version the cache reflects.
func (i *Informer[T]) LastResourceVersion() string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.rv
}

// Get returns the cached object namespace/name. Do not mutate it.
func (i *Informer[T]) Get(namespace, name string) (T, bool) {
	return i.GetByKey(api.KeyOf(namespace, name))
}

// GetByKey returns the cached object with key "namespace/name". Do not mutate it.
func (i *Informer[T]) GetByKey(key string) (T, bool) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	o, ok := i.items[key]
	return o, ok
}

// List returns every cached object, sorted by key.
func (i *Informer[T]) List() []T { return i.ListSelector("", labels.Everything()) }

// ListSelector returns the cached objects of namespace ("" = all) whose labels match sel, sorted by key.
// A namespace is read through the namespace index, so its cost is the namespace's size.
func (i *Informer[T]) ListSelector(namespace string, sel labels.Selector) []T {
	i.mu.RLock()
	var out []keyed[T]
	if namespace == "" {
		out = make([]keyed[T], 0, len(i.items))
		for k, o := range i.items {
			if sel.Matches(o.GetMetadata().GetLabels()) {
				out = append(out, keyed[T]{k, o})
			}
		}
	} else {
		keys := i.byNamespace[namespace]
		out = make([]keyed[T], 0, len(keys))
		for k := range keys {
			if o := i.items[k]; sel.Matches(o.GetMetadata().GetLabels()) {
				out = append(out, keyed[T]{k, o})
			}
		}
	}
	i.mu.RUnlock()
	return sortedByKey(out)
}

// ByIndex returns the cached objects whose index name has value, sorted by key.
func (i *Informer[T]) ByIndex(name, value string) []T {
	i.mu.RLock()
	keys := i.indices[name][value]
	out := make([]keyed[T], 0, len(keys))
	for k := range keys {
		out = append(out, keyed[T]{k, i.items[k]})
	}
	i.mu.RUnlock()
	return sortedByKey(out)
}

type keyed[T any] struct {
	key string
	obj T
}

func sortedByKey[T any](items []keyed[T]) []T {
	slices.SortFunc(items, func(a, b keyed[T]) int { return strings.Compare(a.key, b.key) })
	out := make([]T, len(items))
	for n, it := range items {
		out[n] = it.obj
	}
	return out
}

// Len is the number of cached objects.
func (i *Informer[T]) Len() int {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return len(i.items)
}

// Run lists and watches until ctx ends.
func (i *Informer[T]) Run(ctx context.Context) error {
	backoff := newBackoff()
	var resync <-chan time.Time
	if i.cfg.ResyncPeriod > 0 {
		t := time.NewTicker(i.cfg.ResyncPeriod)
		defer t.Stop()
		resync = t.C
	}
	needList := true
	for ctx.Err() == nil {
		if needList {
			if err := i.relist(ctx); err != nil {
				if ctx.Err() != nil {
					break
				}
				i.log.Warn("informer list failed; retrying", "err", err, "backoff", backoff.cur)
				backoff.wait(ctx)
				continue
			}
			needList = false
		}
		err := i.watch(ctx, resync)
		if ctx.Err() != nil {
			break
		}
		switch {
		case apierrors.IsExpired(err):
			i.log.Info("informer watch expired; relisting", "err", err)
			needList = true
		case errors.Is(err, client.ErrWatchClosed):
			backoff.reset()
		default:
			i.log.Warn("informer watch failed; resuming", "err", err, "backoff", backoff.cur)
			backoff.wait(ctx)
		}
	}
	return ctx.Err()
}

func (i *Informer[T]) transform(o T) T {
	if i.cfg.Transform == nil {
		return o
	}
	return i.cfg.Transform(o).(T)
}

func (i *Informer[T]) listOptions() *metav1.ListOptions {
	return &metav1.ListOptions{Namespace: i.cfg.Namespace, LabelSelector: i.cfg.LabelSelector, FieldSelector: i.cfg.FieldSelector}
}

// relist replaces the cache with a fresh list and emits the differences.
func (i *Informer[T]) relist(ctx context.Context) error {
	opts := i.listOptions()
	// A consistent list (served from the apiserver's watch cache once it has caught up with etcd): once
	// synced, the cache holds at least every object written before the informer started.
	opts.ResourceVersion = ""
	items, lm, err := i.lw.List(ctx, opts)
	if err != nil {
		return err
	}
	fresh := make(map[string]T, len(items))
	for _, o := range items {
		o = i.transform(o)
		fresh[api.Key(o)] = o
	}
	i.dmu.Lock()
	defer i.dmu.Unlock()
	i.mu.Lock()
	old := i.items
	i.items = fresh
	i.rv = lm.GetResourceVersion()
	i.rebuildIndicesLocked()
	i.mu.Unlock()
	for k, o := range fresh {
		if prev, ok := old[k]; ok {
			if prev.GetMetadata().GetResourceVersion() != o.GetMetadata().GetResourceVersion() {
				i.emit(func(h Handler[T]) {
					if h.OnUpdate != nil {
						h.OnUpdate(prev, o)
					}
				})
			}
		} else {
			i.emit(func(h Handler[T]) {
				if h.OnAdd != nil {
					h.OnAdd(o)
				}
			})
		}
	}
	for k, o := range old {
		if _, ok := fresh[k]; !ok {
			i.emit(func(h Handler[T]) {
				if h.OnDelete != nil {
					h.OnDelete(o)
				}
			})
		}
	}
	select {
	case <-i.syncedCh:
	default:
		close(i.syncedCh)
	}
	return nil
}

func (i *Informer[T]) rebuildIndicesLocked() {
	i.byNamespace = map[string]map[string]struct{}{}
	for k, o := range i.items {
		i.namespaceIndexLocked(k, o, true)
	}
	for name, fn := range i.indexers {
		idx := map[string]map[string]struct{}{}
		for k, o := range i.items {
			for _, v := range fn(o) {
				if idx[v] == nil {
					idx[v] = map[string]struct{}{}
				}
				idx[v][k] = struct{}{}
			}
		}
		i.indices[name] = idx
	}
}

// namespaceIndexLocked adds or removes key in its namespace's set.
func (i *Informer[T]) namespaceIndexLocked(key string, o T, add bool) {
	ns := o.GetMetadata().GetNamespace()
	set := i.byNamespace[ns]
	if add {
		if set == nil {
			set = map[string]struct{}{}
			i.byNamespace[ns] = set
		}
		set[key] = struct{}{}
		return
	}
	delete(set, key)
	if len(set) == 0 {
		delete(i.byNamespace, ns)
	}
}

func (i *Informer[T]) indexLocked(key string, old, cur *T) {
	// An object's namespace never changes: only additions and deletions move the namespace index.
	if old == nil && cur != nil {
		i.namespaceIndexLocked(key, *cur, true)
	} else if old != nil && cur == nil {
		i.namespaceIndexLocked(key, *old, false)
	}
	for name, fn := range i.indexers {
		idx := i.indices[name]
		if old != nil {
			for _, v := range fn(*old) {
				delete(idx[v], key)
				if len(idx[v]) == 0 {
					delete(idx, v)
				}
			}
		}
		if cur != nil {
			for _, v := range fn(*cur) {
				if idx[v] == nil {
					idx[v] = map[string]struct{}{}
				}
				idx[v][key] = struct{}{}
			}
		}
	}
}

func (i *Informer[T]) emit(f func(h Handler[T])) {
	i.hmu.Lock()
	hs := i.handlers
	i.hmu.Unlock()
	for _, h := range hs {
		f(h)
	}
}

func (i *Informer[T]) watch(ctx context.Context, resync <-chan time.Time) error {
	opts := i.listOptions()
	opts.ResourceVersion = i.LastResourceVersion()
	opts.AllowWatchBookmarks = true
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := i.lw.Watch(wctx, opts)
	if err != nil {
		return err
	}
	defer w.Stop()
	events := make(chan client.Event[T], 256)
	errc := make(chan error, 1)
	go func() {
		defer close(events)
		for {
			ev, err := w.Next()
			if err != nil {
				errc <- err
				return
			}
			select {
			case events <- ev:
			case <-wctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-resync:
			i.dmu.Lock()
			for _, o := range i.List() {
				i.emit(func(h Handler[T]) {
					if h.OnUpdate != nil {
						h.OnUpdate(o, o)
					}
				})
			}
			i.dmu.Unlock()
		case ev, ok := <-events:
			if !ok {
				return <-errc
			}
			i.apply(ev)
		}
	}
}

func (i *Informer[T]) apply(ev client.Event[T]) {
	i.dmu.Lock()
	defer i.dmu.Unlock()
	rv := ev.Object.GetMetadata().GetResourceVersion()
	if ev.Type == client.Bookmark {
		i.mu.Lock()
		i.rv = rv
		i.mu.Unlock()
		return
	}
	ev.Object = i.transform(ev.Object)
	key := api.Key(ev.Object)
	i.mu.Lock()
	prev, had := i.items[key]
	switch ev.Type {
	case client.Added, client.Modified:
		i.items[key] = ev.Object
		if had {
			i.indexLocked(key, &prev, &ev.Object)
		} else {
			i.indexLocked(key, nil, &ev.Object)
		}
	case client.Deleted:
		delete(i.items, key)
		if had {
			i.indexLocked(key, &prev, nil)
		}
	}
	i.rv = rv
	i.mu.Unlock()
	switch {
	case ev.Type == client.Deleted:
		last := ev.Object
		i.emit(func(h Handler[T]) {
			if h.OnDelete != nil {
				h.OnDelete(last)
			}
		})
	case had:
		i.emit(func(h Handler[T]) {
			if h.OnUpdate != nil {
				h.OnUpdate(prev, ev.Object)
			}
		})
	default:
		i.emit(func(h Handler[T]) {
			if h.OnAdd != nil {
				h.OnAdd(ev.Object)
			}
		})
	}
}

type backoff struct{ cur time.Duration }

func newBackoff() *backoff { return &backoff{cur: 100 * time.Millisecond} }

func (b *backoff) reset() { b.cur = 100 * time.Millisecond }

func (b *backoff) wait(ctx context.Context) {
	d := b.cur/2 + time.Duration(rand.Int64N(int64(b.cur)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	b.cur = min(b.cur*2, 10*time.Second)
}
