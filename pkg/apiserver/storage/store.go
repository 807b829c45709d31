package storage

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
)

// Prefix is the root of every key coxswain writes.
const Prefix = "/registry/"

// Store reads and writes one resource's objects in etcd.
type Store struct {
	cli     *clientv3.Client
	res     *api.Resource
	prefix  string // "/registry/core/pods/"
	metrics *Metrics
	cache   *Cacher // set by NewCacher: updates start from the cached object
}

// NewStore returns the store of resource res.
func NewStore(cli *clientv3.Client, res *api.Resource, m *Metrics) *Store {
	group := res.Group
	if group == "" {
		group = "core"
	}
	return &Store{cli: cli, res: res, prefix: Prefix + group + "/" + res.Plural + "/", metrics: m}
}

// Resource is the kind this store holds.
func (s *Store) Resource() *api.Resource { return s.res }

// Client is the etcd client (for allocations that must share a transaction with a write).
func (s *Store) Client() *clientv3.Client { return s.cli }

// KeyFor returns the etcd key of namespace/name.
func (s *Store) KeyFor(namespace, name string) string {
	if s.res.Namespaced {
		return s.prefix + namespace + "/" + name
	}
	return s.prefix + name
}

// PrefixFor is the key prefix of a namespace ("" = every namespace).
func (s *Store) PrefixFor(namespace string) string {
	if s.res.Namespaced && namespace != "" {
		return s.prefix + namespace + "/"
	}
	return s.prefix
}

func (s *Store) encode(obj api.Object) ([]byte, error) {
	m := obj.GetMetadata()
	rv := m.GetResourceVersion()
	m.ResourceVersion = ""
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(obj)
	m.ResourceVersion = rv
	return data, err
}

func (s *Store) decode(data []byte, rev int64) (api.Object, error) {
	obj := s.res.New()
	if err := proto.Unmarshal(data, obj); err != nil {
		return nil, fmt.Errorf("decode %s at revision %d: %w", s.res.Kind, rev, err)
	}
	api.Meta(obj).ResourceVersion = strconv.FormatInt(rev, 10)
	return obj, nil
}

func (s *Store) observe(op string, start time.Time) {
	if s.metrics != nil {
		s.metrics.etcdDuration.WithLabelValues(op, s.res.Plural).Observe(time.Since(start).Seconds())
	}
}

// Txn is extra work done atomically with a write: compares that must hold and operations to run.
type Txn struct {
	If   []clientv3.Cmp
	Then []clientv3.Op
	// OnFailed explains a failed extra compare (e.g. "provided IP is already allocated").
	OnFailed func(resp *clientv3.TxnResponse) error
}

// Create stores a new object; it fails with AlreadyExists when the key exists. On success obj itself is
// returned with its resourceVersion set, so callers pass a copy they own.
func (s *Store) Create(ctx context.Context, obj api.Object, extra *Txn) (api.Object, error) {
	defer s.observe("create", time.Now())
	m := obj.GetMetadata()
	key := s.KeyFor(m.GetNamespace(), m.GetName())
	data, err := s.encode(obj)
	if err != nil {
		return nil, apierrors.Internal(err)
	}
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(key), "=", 0)}
	ops := []clientv3.Op{clientv3.OpPut(key, string(data))}
	if extra != nil {
		cmps = append(cmps, extra.If...)
		ops = append(ops, extra.Then...)
	}
	resp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Else(clientv3.OpGet(key, clientv3.WithCountOnly())).Commit()
	if err != nil {
		return nil, etcdError(err)
	}
	if !resp.Succeeded {
		if resp.Responses[0].GetResponseRange().GetCount() > 0 {
			return nil, apierrors.AlreadyExists(s.res.GroupResource(), m.GetName())
		}
		if extra != nil && extra.OnFailed != nil {
			return nil, extra.OnFailed(resp)
		}
		return nil, apierrors.Conflict(s.res.GroupResource(), m.GetName(), "a concurrent write changed a related allocation; try again")
	}
	// obj is the caller's private copy (the registry clones its input): hand it back with its version.
	api.Meta(obj).ResourceVersion = strconv.FormatInt(resp.Header.Revision, 10)
	return obj, nil
}

// Get reads one object (a linearizable read).
func (s *Store) Get(ctx context.Context, namespace, name string) (api.Object, error) {
	defer s.observe("get", time.Now())
	resp, err := s.cli.Get(ctx, s.KeyFor(namespace, name))
	if err != nil {
		return nil, etcdError(err)
	}
	if len(resp.Kvs) == 0 {
		return nil, apierrors.NotFound(s.res.GroupResource(), name)
	}
	kv := resp.Kvs[0]
	return s.decode(kv.Value, kv.ModRevision)
}

// UpdateFunc computes the new object from the current one (a private copy). Returning a nil object with a
// nil error deletes the object (used when the last finalizer goes). extra runs in the same transaction.
type UpdateFunc func(cur api.Object) (next api.Object, extra *Txn, err error)

// GuaranteedUpdate applies fn to the current object and writes the result if nobody wrote in between;
// on a race it re-applies fn to the newer object (fn decides whether a stale caller version is a conflict).
//
// When the store has a watch cache, the first attempt starts from the cached object instead of reading
// etcd, so the common update is one etcd transaction. The transaction's else branch returns the object
// as it is in etcd, so a stale cache costs one more transaction and no extra read. Starting from a cached
// object that may lag etcd, an error from fn or a no-op result is only trusted once confirmed against etcd.
func (s *Store) GuaranteedUpdate(ctx context.Context, namespace, name string, fn UpdateFunc) (api.Object, error) {
	defer s.observe("update", time.Now())
	key := s.KeyFor(namespace, name)
	var (
		cur     api.Object
		curRev  int64
		curData []byte // cur's encoding, when read from etcd
		fresh   bool   // cur was read from etcd, not the cache
	)
	if c := s.cache; c != nil && c.IsReady() {
		if o, ok := c.Get(api.KeyOf(namespace, name)); ok { // a fresh copy
			cur, curData, fresh = o, nil, false
			curRev, _ = strconv.ParseInt(o.GetMetadata().GetResourceVersion(), 10, 64)
		}
	}
	refresh := func() error {
		resp, err := s.cli.Get(ctx, key)
		if err != nil {
			return etcdError(err)
		}
		if len(resp.Kvs) == 0 {
			return apierrors.NotFound(s.res.GroupResource(), name)
		}
		return s.takeCurrent(resp.Kvs[0], &cur, &curRev, &curData, &fresh)
	}
	if cur == nil || curRev == 0 {
		if err := refresh(); err != nil {
			return nil, err
		}
	}
	for attempt := 0; ; attempt++ {
		next, extra, err := fn(cur)
		if err != nil {
			if !fresh {
				if err := refresh(); err != nil {
					return nil, err
				}
				continue
			}
			return nil, err
		}
		cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", curRev)}
		var ops []clientv3.Op
		if next == nil {
			ops = append(ops, clientv3.OpDelete(key))
		} else {
			data, err := s.encode(next)
			if err != nil {
				return nil, apierrors.Internal(err)
			}
			if curData == nil {
				if curData, err = s.encode(cur); err != nil {
					return nil, apierrors.Internal(err)
				}
			}
			if string(data) == string(curData) && (extra == nil || len(extra.Then) == 0) {
				if !fresh {
					if err := refresh(); err != nil {
						return nil, err
					}
					continue
				}
				return cur, nil // no-op update: keep the resourceVersion, write nothing
			}
			ops = append(ops, clientv3.OpPut(key, string(data)))
		}
		if extra != nil {
			cmps = append(cmps, extra.If...)
			ops = append(ops, extra.Then...)
		}
		tresp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Else(clientv3.OpGet(key)).Commit()
		if err != nil {
			return nil, etcdError(err)
		}
		if !tresp.Succeeded {
			kvs := tresp.Responses[0].GetResponseRange().GetKvs()
			if len(kvs) == 0 {
				return nil, apierrors.NotFound(s.res.GroupResource(), name)
			}
			if kvs[0].ModRevision == curRev && extra != nil && extra.OnFailed != nil {
				return nil, extra.OnFailed(tresp) // the object was current: an extra compare failed
			}
			if attempt > 100 {
				return nil, apierrors.Conflict(s.res.GroupResource(), name, "too many concurrent writers")
			}
			if err := s.takeCurrent(kvs[0], &cur, &curRev, &curData, &fresh); err != nil {
				return nil, err
			}
			continue
		}
		if next == nil {
			deleted := api.Clone(cur)
			api.Meta(deleted).ResourceVersion = strconv.FormatInt(tresp.Header.Revision, 10)
			return deleted, nil
		}
		out := api.Clone(next)
		api.Meta(out).ResourceVersion = strconv.FormatInt(tresp.Header.Revision, 10)
		return out, nil
	}
}

// takeCurrent makes kv, as read from etcd, the object an update starts from (a private copy: fn may
// keep parts of it in what it returns).
func (s *Store) takeCurrent(kv *mvccpb.KeyValue, cur *api.Object, curRev *int64, curData *[]byte, fresh *bool) error {
	obj, err := s.decode(kv.Value, kv.ModRevision)
	if err != nil {
		return apierrors.Internal(err)
	}
	*cur, *curRev, *curData, *fresh = obj, kv.ModRevision, kv.Value, true
	return nil
}

// List reads every object under prefix at revision rev (0 = now), from startKey (exclusive) on, at most
// limit objects (0 = all). It returns the objects, the revision read, and whether more remain.
func (s *Store) List(ctx context.Context, namespace string, rev int64, startAfter string, limit int64) ([]api.Object, int64, bool, error) {
	defer s.observe("list", time.Now())
	prefix := s.PrefixFor(namespace)
	opts := []clientv3.OpOption{clientv3.WithRange(clientv3.GetPrefixRangeEnd(prefix))}
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	if limit > 0 {
		opts = append(opts, clientv3.WithLimit(limit+1))
	}
	from := prefix
	if startAfter != "" {
		from = startAfter + "\x00"
	}
	resp, err := s.cli.Get(ctx, from, opts...)
	if err != nil {
		return nil, 0, false, etcdError(err)
	}
	kvs := resp.Kvs
	more := false
	if limit > 0 && int64(len(kvs)) > limit {
		kvs, more = kvs[:limit], true
	}
	out := make([]api.Object, 0, len(kvs))
	for _, kv := range kvs {
		obj, err := s.decode(kv.Value, kv.ModRevision)
		if err != nil {
			return nil, 0, false, apierrors.Internal(err)
		}
		out = append(out, obj)
	}
	if rev > 0 {
		return out, rev, more, nil // read at rev: the header carries etcd's current revision instead
	}
	return out, resp.Header.Revision, more, nil
}

// listRaw reads every key of the resource as stored, and the revision read.
func (s *Store) listRaw(ctx context.Context) ([]*mvccpb.KeyValue, int64, error) {
	defer s.observe("list", time.Now())
	resp, err := s.cli.Get(ctx, s.prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, etcdError(err)
	}
	return resp.Kvs, resp.Header.Revision, nil
}

// CurrentRevision is etcd's current revision (one linearizable read).
func (s *Store) CurrentRevision(ctx context.Context) (int64, error) {
	resp, err := s.cli.Get(ctx, s.prefix+"\x00", clientv3.WithCountOnly())
	if err != nil {
		return 0, etcdError(err)
	}
	return resp.Header.Revision, nil
}

// KeyName extracts namespace and name from an etcd key of this store.
func (s *Store) KeyName(key string) (namespace, name string) {
	rest := strings.TrimPrefix(key, s.prefix)
	if s.res.Namespaced {
		return api.SplitKey(rest)
	}
	return "", rest
}

func etcdError(err error) error {
	if strings.Contains(err.Error(), "required revision has been compacted") {
		return apierrors.Expired("the resourceVersion is too old: %v", err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return apierrors.New(apierrors.ReasonServiceUnavailable, "etcd: %v", err)
}

// WatchHistory streams, straight from etcd's history, the events after rev (for watches that resume
// from before the watch cache's window, e.g. after an apiserver restart). It ends when ctx ends; a
// compacted rev yields an Expired error.
func (s *Store) WatchHistory(ctx context.Context, rev int64, out func(*Event) error) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := s.cli.Watch(wctx, s.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithPrevKV())
	for resp := range wch {
		if resp.CompactRevision != 0 {
			return apierrors.Expired("too old resource version: %d (compacted to %d)", rev, resp.CompactRevision)
		}
		if err := resp.Err(); err != nil {
			return etcdError(err)
		}
		for _, ev := range resp.Events {
			ns, name := s.KeyName(string(ev.Kv.Key))
			e := &Event{Key: api.KeyOf(ns, name), Rev: ev.Kv.ModRevision}
			if ev.PrevKv != nil {
				prev, err := s.decode(ev.PrevKv.Value, ev.PrevKv.ModRevision)
				if err != nil {
					return apierrors.Internal(err)
				}
				e.Prev = prev
			}
			if ev.Type == clientv3.EventTypeDelete {
				if e.Prev == nil {
					continue
				}
				e.Type, e.Object = Deleted, api.Clone(e.Prev)
				api.Meta(e.Object).ResourceVersion = strconv.FormatInt(ev.Kv.ModRevision, 10)
			} else {
				obj, err := s.decode(ev.Kv.Value, ev.Kv.ModRevision)
				if err != nil {
					return apierrors.Internal(err)
				}
				e.Type, e.Object = Modified, obj
				if ev.IsCreate() || e.Prev == nil {
					e.Type = Added
				}
			}
			if err := out(e); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}
