package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Event types, as sent to clients.
const (
	Added    = "ADDED"
	Modified = "MODIFIED"
	Deleted  = "DELETED"
	Bookmark = "BOOKMARK"
)

// Event is one change of one object. Events are shared by every watcher and must not be mutated.
type Event struct {
	Type string
	Key  string
	// Object is the new state; for DELETED the last state, carrying the deletion's revision.
	Object api.Object
	// Prev is the state before the change (nil for ADDED).
	Prev api.Object
	Rev  int64

	// raw is the stored form of Object (without resourceVersion; for DELETED, of the last state) when the
	// event came from the cache: the wire form is then spliced from it instead of re-encoding Object.
	raw    []byte
	rawRev int64 // the resourceVersion the wire form carries
	wire   *wireFields

	enc [3]atomic.Pointer[[]byte] // wire encodings of the watch event as ADDED, MODIFIED, DELETED
}

// Encoded returns the protobuf wire form of this event sent as type typ, encoded once and shared.
func (e *Event) Encoded(res *api.Resource, typ string) ([]byte, error) {
	i := map[string]int{Added: 0, Modified: 1, Deleted: 2}[typ]
	if b := e.enc[i].Load(); b != nil {
		return *b, nil
	}
	var b []byte
	if e.raw != nil && e.wire != nil {
		b = e.wire.spliceWatchEvent(typ, e.raw, e.rawRev)
	} else {
		var err error
		if b, err = EncodeWatchEvent(res, typ, e.Object); err != nil {
			return nil, err
		}
	}
	e.enc[i].Store(&b)
	return b, nil
}

// EncodeWatchEvent marshals a <Kind>WatchEvent message.
func EncodeWatchEvent(res *api.Resource, typ string, obj api.Object) ([]byte, error) {
	msg := res.NewWatchEvent().ProtoReflect()
	fields := msg.Descriptor().Fields()
	msg.Set(fields.ByName("type"), protoreflect.ValueOfString(typ))
	if obj != nil {
		msg.Set(fields.ByName("object"), protoreflect.ValueOfMessage(obj.ProtoReflect()))
	}
	return proto.Marshal(msg.Interface())
}

// Predicate selects the objects a list or watch wants.
type Predicate struct {
	// Matches reports whether obj is selected (nil: everything).
	Matches func(obj api.Object) bool
	// Namespace restricts to one namespace ("" = all).
	Namespace string
	// IndexValue, when set, is the exact value of the resource's indexed field (spec.nodeName for pods)
	// that every selected object has: the cache then dispatches only that index bucket's events to it.
	IndexValue string
	HasIndex   bool
	// IndexOnly says the index value is the whole selection (Matches checks nothing more), so a list
	// can be served from the index without decoding.
	IndexOnly bool
}

func (p *Predicate) match(obj api.Object) bool {
	if obj == nil {
		return false
	}
	if p.Namespace != "" && obj.GetMetadata().GetNamespace() != p.Namespace {
		return false
	}
	return p.Matches == nil || p.Matches(obj)
}

// CacherConfig configures a watch cache.
type CacherConfig struct {
	Store *Store
	// WindowSize is how many recent events are kept for watches that resume (default 10,000).
	WindowSize int
	// WatcherBuffer is each watcher's queue; a watcher that falls this far behind is closed (default 4,096).
	WatcherBuffer int
	// BookmarkInterval is how often bookmarks go to watchers that asked for them (default 5 s).
	BookmarkInterval time.Duration
	// IndexField names a field whose exact value indexes watchers (e.g. pods' spec.nodeName) and
	// IndexFunc extracts it.
	IndexFunc func(obj api.Object) string
	Metrics   *Metrics
	Logger    *slog.Logger
}

// Cacher is the watch cache of one resource.
type Cacher struct {
	cfg   CacherConfig
	store *Store
	res   *api.Resource
	log   *slog.Logger

	mu    sync.RWMutex
	fresh *sync.Cond // broadcast when rev advances
	// objects holds every object in its stored form (decoded on demand: a decoded object weighs several
	// times its encoding, and the cache holds every object of the resource).
	objects map[string]cached
	// latest is, per key, its newest event while that event is still in the window: the next event of
	// the key takes its decoded Object as Prev instead of decoding the stored form again.
	latest map[string]*Event
	// byIndex maps an IndexFunc value to the keys that have it (lists by spec.nodeName).
	byIndex  map[string]map[string]struct{}
	wire     wireFields // field numbers for EncodedList
	rev      int64      // the cache reflects etcd at this revision
	startRev int64      // the window holds every event with startRev < rev' <= rev
	window   []*Event
	head     int // index of the oldest event in window when full
	count    int
	watchers map[*watcher]struct{}
	indexed  map[string]map[*watcher]struct{}
	ready    chan struct{}
	readyOne sync.Once
}

// NewCacher builds the watch cache; Run fills and follows it.
func NewCacher(cfg CacherConfig) *Cacher {
	if cfg.WindowSize <= 0 {
		cfg.WindowSize = 10000
	}
	if cfg.WatcherBuffer <= 0 {
		cfg.WatcherBuffer = 4096
	}
	if cfg.BookmarkInterval <= 0 {
		cfg.BookmarkInterval = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	c := &Cacher{cfg: cfg, store: cfg.Store, res: cfg.Store.res, log: cfg.Logger.With("resource", cfg.Store.res.Plural),
		objects: map[string]cached{}, latest: map[string]*Event{}, byIndex: map[string]map[string]struct{}{},
		window: make([]*Event, cfg.WindowSize), wire: wireFieldsOf(cfg.Store.res),
		watchers: map[*watcher]struct{}{}, indexed: map[string]map[*watcher]struct{}{}, ready: make(chan struct{})}
	c.fresh = sync.NewCond(c.mu.RLocker())
	cfg.Store.cache = c
	return c
}

// IsReady reports whether the cache has its first full list.
func (c *Cacher) IsReady() bool {
	select {
	case <-c.ready:
		return true
	default:
		return false
	}
}

// Ready is closed once the cache has its first full list.
func (c *Cacher) Ready() <-chan struct{} { return c.ready }

// Run lists, then follows etcd until ctx ends, relisting when the etcd watch is lost.
func (c *Cacher) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		if c.currentRev() == 0 || !c.canResume() {
			if err := c.relist(ctx); err != nil {
				c.log.Warn("watch cache list failed", "err", err)
				if !sleep(ctx, backoff) {
					break
				}
				backoff = min(backoff*2, 5*time.Second)
				continue
			}
		}
		backoff = 100 * time.Millisecond
		err := c.follow(ctx)
		if ctx.Err() != nil {
			break
		}
		c.log.Warn("watch cache lost its etcd watch; resuming", "err", err, "revision", c.currentRev())
	}
	c.mu.Lock()
	for w := range c.watchers {
		c.removeLocked(w, errors.New("apiserver is shutting down"))
	}
	c.mu.Unlock()
	return ctx.Err()
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (c *Cacher) currentRev() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rev
}

// canResume is false after a compaction made the next events unreachable (set by follow).
func (c *Cacher) canResume() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rev > 0
}

func (c *Cacher) relist(ctx context.Context) error {
	c.cfg.Metrics.initialization.WithLabelValues(c.res.Plural).Inc()
	kvs, rev, err := c.store.listRaw(ctx)
	if err != nil {
		return err
	}
	objects := make(map[string]cached, len(kvs))
	byIndex := map[string]map[string]struct{}{}
	for _, kv := range kvs {
		ns, name := c.store.KeyName(string(kv.Key))
		key := api.KeyOf(ns, name)
		e := cached{raw: kv.Value, rev: kv.ModRevision}
		if c.cfg.IndexFunc != nil {
			obj, err := c.store.decode(kv.Value, kv.ModRevision)
			if err != nil {
				return err
			}
			e.idx = c.cfg.IndexFunc(obj)
			addIndex(byIndex, e.idx, key)
		}
		objects[key] = e
	}
	c.mu.Lock()
	// Watchers cannot be continued across a relist (events may be missing): close them so they resume.
	for w := range c.watchers {
		c.removeLocked(w, apierrors.Expired("the watch cache of %s was reinitialized; relist", c.res.Plural))
	}
	c.objects, c.byIndex, c.rev, c.startRev, c.count, c.head = objects, byIndex, rev, rev, 0, 0
	clear(c.window)
	clear(c.latest)
	c.mu.Unlock()
	c.fresh.Broadcast()
	c.cfg.Metrics.cacheSize.WithLabelValues(c.res.Plural).Set(float64(len(objects)))
	c.cfg.Metrics.cacheRevision.WithLabelValues(c.res.Plural).Set(float64(rev))
	c.readyOne.Do(func() { close(c.ready) })
	c.log.Debug("watch cache listed", "objects", len(objects), "revision", rev)
	return nil
}

func (c *Cacher) follow(ctx context.Context) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	from := c.currentRev() + 1
	wch := c.store.cli.Watch(wctx, c.store.prefix, clientv3.WithPrefix(), clientv3.WithRev(from), clientv3.WithProgressNotify())
	ticker := time.NewTicker(c.cfg.BookmarkInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
			// Ask etcd where it is, so an idle resource still advances and consistent reads are quick.
			_ = c.store.cli.RequestProgress(wctx)
			c.broadcastBookmark()
		case resp, ok := <-wch:
			if !ok {
				return errors.New("etcd watch channel closed")
			}
			if resp.CompactRevision != 0 {
				c.mu.Lock()
				c.rev = 0 // force a relist
				c.mu.Unlock()
				return fmt.Errorf("etcd compacted past revision %d", from)
			}
			if err := resp.Err(); err != nil {
				return err
			}
			if resp.IsProgressNotify() {
				c.log.Debug("progress notify", "rev", resp.Header.Revision)
				c.advance(resp.Header.Revision)
				continue
			}
			start := time.Now()
			for _, ev := range resp.Events {
				if err := c.apply(ev); err != nil {
					c.log.Error("watch cache could not decode an event", "err", err, "key", string(ev.Kv.Key))
				}
			}
			c.advance(resp.Header.Revision)
			c.cfg.Metrics.dispatchDelay.WithLabelValues(c.res.Plural).Observe(time.Since(start).Seconds())
		}
	}
}

func (c *Cacher) advance(rev int64) {
	c.mu.Lock()
	if rev > c.rev {
		c.rev = rev
	}
	c.mu.Unlock()
	c.fresh.Broadcast()
	c.cfg.Metrics.cacheRevision.WithLabelValues(c.res.Plural).Set(float64(rev))
}

func (c *Cacher) apply(ev *clientv3.Event) error {
	ns, name := c.store.KeyName(string(ev.Kv.Key))
	key := api.KeyOf(ns, name)
	e := &Event{Key: key, Rev: ev.Kv.ModRevision}
	// The previous state is the cached object (the cache mirrors etcd up to the event's revision), so
	// the etcd watch does not ask for previous values; it is decoded only when the key's last event has
	// left the window.
	c.mu.RLock()
	prevEntry, had := c.objects[key]
	prevEvent := c.latest[key]
	c.mu.RUnlock()
	if had {
		if prevEvent != nil && prevEvent.Rev == prevEntry.rev && prevEvent.Type != Deleted {
			e.Prev = prevEvent.Object
		} else {
			prev, err := c.store.decode(prevEntry.raw, prevEntry.rev)
			if err != nil {
				return err
			}
			e.Prev = prev
		}
	}
	var entry cached
	switch ev.Type {
	case mvccpb.PUT:
		obj, err := c.store.decode(ev.Kv.Value, ev.Kv.ModRevision)
		if err != nil {
			return err
		}
		e.Object = obj
		e.Type = Modified
		if ev.IsCreate() || e.Prev == nil {
			e.Type = Added
			e.Prev = nil
		}
		entry = cached{raw: ev.Kv.Value, rev: ev.Kv.ModRevision}
		e.raw, e.rawRev, e.wire = ev.Kv.Value, ev.Kv.ModRevision, &c.wire
		if c.cfg.IndexFunc != nil {
			entry.idx = c.cfg.IndexFunc(obj)
		}
	case mvccpb.DELETE:
		if e.Prev == nil {
			return fmt.Errorf("delete event for %s, which the cache does not hold", key)
		}
		e.Type = Deleted
		e.Object = api.Clone(e.Prev)
		api.Meta(e.Object).ResourceVersion = strconv.FormatInt(ev.Kv.ModRevision, 10)
		e.raw, e.rawRev, e.wire = prevEntry.raw, ev.Kv.ModRevision, &c.wire
	}
	c.mu.Lock()
	indexed := c.cfg.IndexFunc != nil
	if had && indexed {
		removeIndex(c.byIndex, prevEntry.idx, key)
	}
	if e.Type == Deleted {
		delete(c.objects, key)
	} else {
		c.objects[key] = entry
		if indexed {
			addIndex(c.byIndex, entry.idx, key)
		}
	}
	c.rev = e.Rev
	c.push(e)
	c.latest[key] = e
	c.dispatchLocked(e)
	size := len(c.objects)
	c.mu.Unlock()
	c.cfg.Metrics.cacheEvents.WithLabelValues(c.res.Plural).Inc()
	c.cfg.Metrics.cacheSize.WithLabelValues(c.res.Plural).Set(float64(size))
	return nil
}

// cached is one object of the cache: its etcd value (the object without resourceVersion), the revision
// that wrote it, and its IndexFunc value.
type cached struct {
	raw []byte
	rev int64
	idx string
}

func addIndex(idx map[string]map[string]struct{}, v, key string) {
	set := idx[v]
	if set == nil {
		set = map[string]struct{}{}
		idx[v] = set
	}
	set[key] = struct{}{}
}

func removeIndex(idx map[string]map[string]struct{}, v, key string) {
	if set := idx[v]; set != nil {
		delete(set, key)
		if len(set) == 0 {
			delete(idx, v)
		}
	}
}

// push appends to the window, dropping the oldest event when full.
func (c *Cacher) push(e *Event) {
	n := len(c.window)
	if c.count < n {
		c.window[(c.head+c.count)%n] = e
		c.count++
		return
	}
	old := c.window[c.head]
	c.startRev = old.Rev
	if c.latest[old.Key] == old {
		delete(c.latest, old.Key)
	}
	c.window[c.head] = e
	c.head = (c.head + 1) % n
}

func (c *Cacher) dispatchLocked(e *Event) {
	if c.cfg.IndexFunc != nil {
		v := c.cfg.IndexFunc(e.Object)
		for w := range c.indexed[v] {
			c.sendLocked(w, e)
		}
		if e.Prev != nil {
			if pv := c.cfg.IndexFunc(e.Prev); pv != v {
				for w := range c.indexed[pv] {
					c.sendLocked(w, e)
				}
			}
		}
	}
	for w := range c.watchers {
		if !w.pred.HasIndex {
			c.sendLocked(w, e)
		}
	}
}

func (c *Cacher) sendLocked(w *watcher, e *Event) {
	select {
	case w.ch <- e:
	default:
		c.cfg.Metrics.terminated.WithLabelValues(c.res.Plural).Inc()
		c.removeLocked(w, apierrors.Expired("watch of %s fell %d events behind and was closed; resume from the last resourceVersion", c.res.Plural, cap(w.ch)))
	}
}

func (c *Cacher) broadcastBookmark() {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := &Event{Type: Bookmark, Rev: c.rev}
	for w := range c.watchers {
		if w.bookmarks {
			select {
			case w.ch <- b:
			default: // a full queue already carries newer state; skip the bookmark
			}
		}
	}
}

// Snapshot returns the selected objects sorted by key (fresh copies the caller owns), and the revision
// they reflect. The stored forms are copied under the lock and decoded after it, so a large list does
// not hold up the cache.
func (c *Cacher) Snapshot(p *Predicate) ([]api.Object, int64) {
	c.mu.RLock()
	entries, rev := c.selectLocked(p), c.rev
	c.mu.RUnlock()
	out := make([]api.Object, 0, len(entries))
	for _, e := range entries {
		if o := c.decodeMatching(e, p); o != nil {
			out = append(out, o)
		}
	}
	return out, rev
}

// EncodedList returns the wire form of the <Kind>List of the objects p selects, spliced from their stored
// forms without decoding them, when p needs no decoding to decide (everything, a namespace, an index
// value alone); ok is false otherwise. Each item is the stored encoding followed by a second
// metadata field holding only resourceVersion, which protobuf merges into the first.
func (c *Cacher) EncodedList(p *Predicate) (data []byte, rev int64, ok bool) {
	if !c.encodable(p) {
		return nil, 0, false
	}
	c.mu.RLock()
	entries, rev := c.selectLocked(p), c.rev
	c.mu.RUnlock()
	size := 0
	for _, e := range entries {
		size += len(e.raw) + 48
	}
	lm, _ := proto.Marshal(&metav1.ListMeta{ResourceVersion: strconv.FormatInt(rev, 10)})
	data = make([]byte, 0, size+len(lm)+16)
	data = protowire.AppendTag(data, c.wire.listMeta, protowire.BytesType)
	data = protowire.AppendBytes(data, lm)
	for _, e := range entries {
		data = c.wire.appendStored(data, c.wire.listItems, e.raw, e.rev)
	}
	return data, rev, true
}

// encodable says whether EncodedList can serve p.
func (c *Cacher) encodable(p *Predicate) bool {
	return p.Matches == nil || (p.IndexOnly && p.HasIndex && c.cfg.IndexFunc != nil)
}

// wireFields are the field numbers EncodedList splices with.
type wireFields struct {
	listMeta, listItems, objectMeta, resourceVersion protowire.Number
	eventType, eventObject                           protowire.Number
}

// appendStored appends, as field num, an object stored as raw at revision rev: raw followed by a second
// metadata field holding only resourceVersion, which protobuf merges into the first.
func (w *wireFields) appendStored(b []byte, num protowire.Number, raw []byte, rev int64) []byte {
	var rv [24]byte
	v := strconv.AppendInt(rv[:0], rev, 10)
	inner := protowire.SizeTag(w.resourceVersion) + protowire.SizeBytes(len(v))
	meta := protowire.SizeTag(w.objectMeta) + protowire.SizeBytes(inner)
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(len(raw)+meta))
	b = append(b, raw...)
	b = protowire.AppendTag(b, w.objectMeta, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(inner))
	b = protowire.AppendTag(b, w.resourceVersion, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// spliceWatchEvent is the wire form of a <Kind>WatchEvent of type typ for an object stored as raw at rev.
func (w *wireFields) spliceWatchEvent(typ string, raw []byte, rev int64) []byte {
	b := make([]byte, 0, len(raw)+len(typ)+48)
	b = protowire.AppendTag(b, w.eventType, protowire.BytesType)
	b = protowire.AppendString(b, typ)
	return w.appendStored(b, w.eventObject, raw, rev)
}

func wireFieldsOf(res *api.Resource) wireFields {
	list := res.NewList().ProtoReflect().Descriptor().Fields()
	obj := res.New().ProtoReflect().Descriptor().Fields()
	meta := (&metav1.ObjectMeta{}).ProtoReflect().Descriptor().Fields()
	ev := res.NewWatchEvent().ProtoReflect().Descriptor().Fields()
	return wireFields{listMeta: list.ByName("metadata").Number(), listItems: list.ByName("items").Number(),
		objectMeta: obj.ByName("metadata").Number(), resourceVersion: meta.ByName("resource_version").Number(),
		eventType: ev.ByName("type").Number(), eventObject: ev.ByName("object").Number()}
}

// keyedEntry is a stored object with its key, as selected for a list or a watch's initial state.
type keyedEntry struct {
	key string
	cached
}

// selectLocked returns, sorted by key, the stored objects that may match p, narrowed by what the
// stored form tells without decoding (namespace from the key, the index value); decodeMatching decides.
func (c *Cacher) selectLocked(p *Predicate) []keyedEntry {
	var out []keyedEntry
	add := func(k string, e cached) {
		if p.Namespace != "" && !strings.HasPrefix(k, p.Namespace+"/") {
			return
		}
		out = append(out, keyedEntry{k, e})
	}
	if p.HasIndex && c.cfg.IndexFunc != nil {
		for k := range c.byIndex[p.IndexValue] {
			add(k, c.objects[k])
		}
	} else {
		out = make([]keyedEntry, 0, len(c.objects))
		for k, e := range c.objects {
			add(k, e)
		}
	}
	slices.SortFunc(out, func(a, b keyedEntry) int { return strings.Compare(a.key, b.key) })
	return out
}

// decodeMatching decodes a stored object and returns it when p selects it (nil otherwise, or when it
// cannot be decoded, which is logged).
func (c *Cacher) decodeMatching(e keyedEntry, p *Predicate) api.Object {
	o, err := c.store.decode(e.raw, e.rev)
	if err != nil {
		c.log.Error("watch cache could not decode an object", "key", e.key, "err", err)
		return nil
	}
	if !p.match(o) {
		return nil
	}
	return o
}

// ErrNotFresh: the cache did not catch up in time; the caller should read from etcd instead.
var ErrNotFresh = errors.New("watch cache is behind etcd")

// WaitFresh waits until the cache reflects at least revision rev, asking etcd for progress reports
// while it waits. It gives up with ErrNotFresh after 3 seconds.
func (c *Cacher) WaitFresh(ctx context.Context, rev int64) error {
	select {
	case <-c.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	deadline := time.Now().Add(3 * time.Second)
	for i := 0; ; i++ {
		if c.currentRev() >= rev {
			return nil
		}
		if time.Now().After(deadline) {
			return ErrNotFresh
		}
		if i%20 == 0 {
			c.RequestProgress(ctx)
		}
		if !c.waitRev(ctx, rev, 10*time.Millisecond) && ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// waitRev waits up to d for the revision to reach rev.
func (c *Cacher) waitRev(ctx context.Context, rev int64, d time.Duration) bool {
	t := time.AfterFunc(d, c.fresh.Broadcast)
	defer t.Stop()
	stop := context.AfterFunc(ctx, c.fresh.Broadcast)
	defer stop()
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.rev < rev {
		c.fresh.Wait()
	}
	return c.rev >= rev
}

// RequestProgress asks etcd to report its revision to the cache's watch (speeds up WaitFresh).
func (c *Cacher) RequestProgress(ctx context.Context) {
	_ = c.store.cli.RequestProgress(clientv3.WithRequireLeader(ctx))
}

// watcher is one client watch fed by the cache.
type watcher struct {
	ch        chan *Event
	pred      *Predicate
	bookmarks bool
	done      chan struct{}
	err       error
	initial   []*Event
	// initialState is the selection at initialRev, sent as ADDED events before initial.
	initialState []keyedEntry
	initialRev   int64
}

// Watch is a client's view of the cache.
type Watch struct {
	c *Cacher
	w *watcher
}

// ErrTooOld means the requested revision is older than the window; the caller may serve it from etcd.
var ErrTooOld = errors.New("resource version older than the watch cache window")

// Watch starts a watch. rev < 0 means "current state first": ADDED events for every selected object,
// then changes. Otherwise events after rev are delivered (ErrTooOld when the window no longer has them).
func (c *Cacher) Watch(ctx context.Context, rev int64, p *Predicate, bookmarks bool) (*Watch, error) {
	select {
	case <-c.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	w := &watcher{ch: make(chan *Event, c.cfg.WatcherBuffer), pred: p, bookmarks: bookmarks, done: make(chan struct{})}
	c.mu.Lock()
	defer c.mu.Unlock()
	if rev < 0 {
		// The current state, decoded as Next sends it.
		w.initialState, w.initialRev = c.selectLocked(p), c.rev
		if bookmarks {
			w.initial = append(w.initial, &Event{Type: Bookmark, Rev: c.rev})
		}
	} else {
		if rev < c.startRev {
			return nil, ErrTooOld
		}
		n := len(c.window)
		for i := 0; i < c.count; i++ {
			if e := c.window[(c.head+i)%n]; e.Rev > rev {
				w.initial = append(w.initial, e)
			}
		}
	}
	c.watchers[w] = struct{}{}
	if p.HasIndex && c.cfg.IndexFunc != nil {
		b := c.indexed[p.IndexValue]
		if b == nil {
			b = map[*watcher]struct{}{}
			c.indexed[p.IndexValue] = b
		}
		b[w] = struct{}{}
	} else {
		p.HasIndex = false
	}
	c.cfg.Metrics.watchers.WithLabelValues(c.res.Plural).Inc()
	return &Watch{c: c, w: w}, nil
}

func (c *Cacher) removeLocked(w *watcher, err error) {
	if _, ok := c.watchers[w]; !ok {
		return
	}
	delete(c.watchers, w)
	if w.pred.HasIndex {
		if b := c.indexed[w.pred.IndexValue]; b != nil {
			delete(b, w)
			if len(b) == 0 {
				delete(c.indexed, w.pred.IndexValue)
			}
		}
	}
	w.err = err
	close(w.done)
	c.cfg.Metrics.watchers.WithLabelValues(c.res.Plural).Dec()
}

// Stop unregisters the watch.
func (w *Watch) Stop() {
	w.c.mu.Lock()
	w.c.removeLocked(w.w, nil)
	w.c.mu.Unlock()
}

// Next returns the next event to send, already filtered and typed for this watcher: an update that moves
// an object into the selection is ADDED, out of it DELETED. It blocks until an event, ctx's end, or the
// watch's termination (then the error says why).
func (w *Watch) Next(ctx context.Context) (*Event, string, error) {
	for {
		var e *Event
		if len(w.w.initialState) > 0 {
			ke := w.w.initialState[0]
			w.w.initialState = w.w.initialState[1:]
			if o := w.c.decodeMatching(ke, w.w.pred); o != nil {
				return &Event{Type: Added, Key: ke.key, Object: o, Rev: w.w.initialRev, raw: ke.raw, rawRev: ke.rev, wire: &w.c.wire}, Added, nil
			}
			continue
		}
		if len(w.w.initial) > 0 {
			e, w.w.initial = w.w.initial[0], w.w.initial[1:]
		} else {
			select {
			case e = <-w.w.ch:
			default:
				select {
				case e = <-w.w.ch:
				case <-w.w.done:
					// drain what was queued before termination
					select {
					case e = <-w.w.ch:
					default:
						if w.w.err == nil {
							return nil, "", context.Canceled
						}
						return nil, "", w.w.err
					}
				case <-ctx.Done():
					return nil, "", ctx.Err()
				}
			}
		}
		if typ := w.typeFor(e); typ != "" {
			return e, typ, nil
		}
	}
}

func (w *Watch) typeFor(e *Event) string { return TypeFor(w.w.pred, e) }

// TypeFor is the event type a watcher with predicate p sees for e ("" = not sent).
func TypeFor(p *Predicate, e *Event) string {
	if e.Type == Bookmark {
		return Bookmark
	}
	if e.Type == Added {
		if p.match(e.Object) {
			return Added
		}
		return ""
	}
	if e.Type == Deleted {
		if p.match(e.Object) {
			return Deleted
		}
		return ""
	}
	cur, prev := p.match(e.Object), e.Prev != nil && p.match(e.Prev)
	switch {
	case cur && prev:
		return Modified
	case cur:
		return Added
	case prev:
		return Deleted
	}
	return ""
}

// Get decodes the cached object with key "namespace/name" (or "name"): a fresh copy the caller owns.
func (c *Cacher) Get(key string) (api.Object, bool) {
	c.mu.RLock()
	e, ok := c.objects[key]
	c.mu.RUnlock()
	if !ok {
		return nil, false
	}
	o := c.decodeMatching(keyedEntry{key, e}, &Predicate{})
	return o, o != nil
}
