package informer_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/apiserver"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/client/informer"
	"github.com/coxswain/coxswain/pkg/labels"
	"github.com/coxswain/coxswain/pkg/testutil"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

func configMap(name string, labels, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: name, Labels: labels}, Data: data}
}

// recorder is a handler that logs every call as a string.
type recorder struct {
	mu  sync.Mutex
	log []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, s)
}

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.log)
}

func (r *recorder) handler() informer.Handler[*corev1.ConfigMap] {
	return informer.Handler[*corev1.ConfigMap]{
		OnAdd: func(o *corev1.ConfigMap) { r.add("add " + o.Metadata.Name + " " + o.Data["v"]) },
		OnUpdate: func(old, cur *corev1.ConfigMap) {
			r.add("update " + cur.Metadata.Name + " " + old.Data["v"] + "->" + cur.Data["v"])
		},
		OnDelete: func(o *corev1.ConfigMap) { r.add("delete " + o.Metadata.Name + " " + o.Data["v"]) },
	}
}

// waitFor waits until the recorder has n entries and returns them.
func (r *recorder) waitFor(t *testing.T, n int) []string {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, func() bool { return len(r.get()) >= n }, "handler got %d calls, want %d: %q", len(r.get()), n, r.get())
	return r.get()
}

func run[T api.Object](t *testing.T, ctx context.Context, inf *informer.Informer[T]) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- inf.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("informer did not stop within 10s of its context's end")
		}
	})
	sctx, scancel := context.WithTimeout(ctx, 20*time.Second)
	defer scancel()
	if !inf.WaitForSync(sctx) {
		t.Fatal("informer did not sync")
	}
}

// caughtUp waits until the informer reflects resourceVersion rv.
func caughtUp[T api.Object](t *testing.T, inf *informer.Informer[T], o api.Object) {
	t.Helper()
	want, _ := api.ResourceVersion(o)
	testutil.Eventually(t, 10*time.Second, func() bool {
		got, _ := strconv.ParseInt(inf.LastResourceVersion(), 10, 64)
		return got >= want
	}, "informer at resourceVersion %s, want %d", inf.LastResourceVersion(), want)
}

func TestHandlersSeeChangesInOrder(t *testing.T) {
	t.Parallel()
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)
	cms := a.Client.ConfigMaps()
	sel := map[string]string{"suite": "order"}
	if _, err := cms.Create(ctx, configMap("pre", sel, map[string]string{"v": "0"})); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Create(ctx, configMap("unselected", nil, map[string]string{"v": "0"})); err != nil {
		t.Fatal(err)
	}
	inf := informer.New[*corev1.ConfigMap](cms, informer.Config{Namespace: "default", LabelSelector: "suite=order", Logger: testutil.Logger()})
	var rec recorder
	inf.AddHandler(rec.handler())
	if inf.HasSynced() {
		t.Fatal("synced before Run")
	}
	run(t, ctx, inf)

	x, err := cms.Create(ctx, configMap("a", sel, map[string]string{"v": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	x.Data["v"] = "2"
	if _, err := cms.Update(ctx, x); err != nil {
		t.Fatal(err)
	}
	y, err := cms.Create(ctx, configMap("b", sel, map[string]string{"v": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: "a"}); err != nil {
		t.Fatal(err)
	}
	y.Data["v"] = "2"
	if y, err = cms.Update(ctx, y); err != nil {
		t.Fatal(err)
	}
	y.Metadata.Labels = nil // moves out of the selection: a delete for the informer
	y.Data["v"] = "3"
	if _, err := cms.Update(ctx, y); err != nil {
		t.Fatal(err)
	}
	z, err := cms.Create(ctx, configMap("c", sel, map[string]string{"v": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"add pre 0", "add a 1", "update a 1->2", "add b 1", "delete a 2", "update b 1->2", "delete b 3", "add c 1"}
	got := rec.waitFor(t, len(want))
	if !slices.Equal(got, want) {
		t.Fatalf("handler calls\n  got  %q\n  want %q", got, want)
	}
	caughtUp(t, inf, z)
	if keys := keysOf(inf.List()); !slices.Equal(keys, []string{"default/c", "default/pre"}) {
		t.Fatalf("cache holds %v", keys)
	}
	if o, ok := inf.Get("default", "c"); !ok || o.Metadata.ResourceVersion != z.Metadata.ResourceVersion {
		t.Fatalf("Get(c) = %v, %v", o, ok)
	}
	if _, ok := inf.GetByKey("default/a"); ok {
		t.Fatal("deleted object still cached")
	}
	if inf.Len() != 2 {
		t.Fatalf("Len %d, want 2", inf.Len())
	}
}

func keysOf[T api.Object](objs []T) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = api.Key(o)
	}
	return out
}

func TestIndexesFollowUpdatesAndDeletes(t *testing.T) {
	t.Parallel()
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)
	cms := a.Client.ConfigMaps()
	inf := informer.New[*corev1.ConfigMap](cms, informer.Config{Namespace: "default", Logger: testutil.Logger()})
	byTeam := func(o *corev1.ConfigMap) []string {
		if v, ok := o.Metadata.Labels["team"]; ok {
			return []string{v}
		}
		return nil
	}
	byKey := func(o *corev1.ConfigMap) []string { return slices.Sorted(maps.Keys(o.Data)) }
	indexes := map[string]informer.IndexFunc[*corev1.ConfigMap]{"team": byTeam, "keys": byKey}
	for name, fn := range indexes {
		inf.AddIndex(name, fn)
	}
	// One object exists before the first list.
	if _, err := cms.Create(ctx, configMap("w", map[string]string{"team": "c"}, map[string]string{"k3": ""})); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, inf)

	create := func(name, team string, keys ...string) func() (api.Object, error) {
		return func() (api.Object, error) {
			data := map[string]string{}
			for _, k := range keys {
				data[k] = ""
			}
			var l map[string]string
			if team != "" {
				l = map[string]string{"team": team}
			}
			return cms.Create(ctx, configMap(name, l, data))
		}
	}
	update := func(name string, f func(*corev1.ConfigMap)) func() (api.Object, error) {
		return func() (api.Object, error) {
			cur, err := cms.Get(ctx, "default", name)
			if err != nil {
				return nil, err
			}
			f(cur)
			return cms.Update(ctx, cur)
		}
	}
	del := func(name string) func() (api.Object, error) {
		return func() (api.Object, error) {
			return cms.Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: name})
		}
	}
	type index map[string][]string // value → names
	steps := []struct {
		name string
		do   []func() (api.Object, error)
		team index
		keys index
	}{
		{"initial list", nil, index{"c": {"w"}}, index{"k3": {"w"}}},
		{"creates", []func() (api.Object, error){create("x", "a", "k1"), create("y", "a", "k1", "k2"), create("z", "b")},
			index{"a": {"x", "y"}, "b": {"z"}, "c": {"w"}}, index{"k1": {"x", "y"}, "k2": {"y"}, "k3": {"w"}}},
		{"x changes team", []func() (api.Object, error){update("x", func(c *corev1.ConfigMap) { c.Metadata.Labels["team"] = "b" })},
			index{"a": {"y"}, "b": {"x", "z"}, "c": {"w"}}, index{"k1": {"x", "y"}, "k2": {"y"}, "k3": {"w"}}},
		{"y leaves every team, z gains keys", []func() (api.Object, error){
			update("y", func(c *corev1.ConfigMap) { c.Metadata.Labels = nil }),
			update("z", func(c *corev1.ConfigMap) { c.Data = map[string]string{"k2": "", "k4": ""} })},
			index{"b": {"x", "z"}, "c": {"w"}}, index{"k1": {"x", "y"}, "k2": {"y", "z"}, "k3": {"w"}, "k4": {"z"}}},
		{"deletes", []func() (api.Object, error){del("x"), del("w")},
			index{"b": {"z"}}, index{"k1": {"y"}, "k2": {"y", "z"}, "k4": {"z"}}},
		{"updates that keep the values", []func() (api.Object, error){update("z", func(c *corev1.ConfigMap) { c.Metadata.Annotations = map[string]string{"n": "1"} })},
			index{"b": {"z"}}, index{"k1": {"y"}, "k2": {"y", "z"}, "k4": {"z"}}},
		{"everything deleted", []func() (api.Object, error){del("y"), del("z")}, index{}, index{}},
	}
	seen := map[string]map[string]bool{"team": {}, "keys": {}}
	for _, st := range steps {
		var last api.Object
		for _, f := range st.do {
			o, err := f()
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			last = o
		}
		if last != nil {
			caughtUp(t, inf, last)
		}
		for name, want := range map[string]index{"team": st.team, "keys": st.keys} {
			for v := range want {
				seen[name][v] = true
			}
			// Every value ever used: the expected objects, and nothing for values that are gone.
			for v := range seen[name] {
				got := keysOf(inf.ByIndex(name, v))
				var w []string
				for _, n := range want[v] {
					w = append(w, "default/"+n)
				}
				if !slices.Equal(got, w) && !(len(got) == 0 && len(w) == 0) {
					t.Errorf("%s: ByIndex(%s, %s) = %v, want %v", st.name, name, v, got, w)
				}
			}
			// And the index agrees with the cache.
			computed := map[string][]string{}
			for _, o := range inf.List() {
				for _, v := range indexes[name](o) {
					computed[v] = append(computed[v], api.Key(o))
				}
			}
			for v, keys := range computed {
				if got := keysOf(inf.ByIndex(name, v)); !slices.Equal(got, keys) {
					t.Errorf("%s: ByIndex(%s, %s) = %v, but the cache says %v", st.name, name, v, got, keys)
				}
			}
		}
	}
	if got := inf.ByIndex("no-such-index", "a"); len(got) != 0 {
		t.Errorf("unknown index returned %v", got)
	}
}

// gatedLW is the real typed client with a switch that cuts the informer's watch and holds new ones back,
// as if the apiserver were unreachable for the informer only.
type gatedLW struct {
	r *client.Resource[*corev1.ConfigMap]

	mu      sync.Mutex
	open    chan struct{} // closed while watches may proceed
	cancels []context.CancelFunc
	lists   atomic.Int32
	waiting atomic.Int32
}

func newGatedLW(r *client.Resource[*corev1.ConfigMap]) *gatedLW {
	g := &gatedLW{r: r, open: make(chan struct{})}
	close(g.open)
	return g
}

func (g *gatedLW) List(ctx context.Context, opts *metav1.ListOptions) ([]*corev1.ConfigMap, *metav1.ListMeta, error) {
	g.lists.Add(1)
	return g.r.List(ctx, opts)
}

func (g *gatedLW) Watch(ctx context.Context, opts *metav1.ListOptions) (*client.Watch[*corev1.ConfigMap], error) {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	select {
	case <-open:
	default:
		g.waiting.Add(1)
		select {
		case <-open:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	wctx, cancel := context.WithCancel(ctx)
	g.mu.Lock()
	g.cancels = append(g.cancels, cancel)
	g.mu.Unlock()
	return g.r.Watch(wctx, opts)
}

// cut ends the running watches and holds new ones until resume.
func (g *gatedLW) cut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = make(chan struct{})
	for _, c := range g.cancels {
		c()
	}
	g.cancels = nil
}

func (g *gatedLW) resume() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.open)
}

func TestRelistAfterExpiredEmitsDifferences(t *testing.T) {
	t.Parallel()
	a := testutil.StartAPIServer(t, func(c *apiserver.Config) { c.WatchCacheWindow = 3 })
	ctx := testutil.Context(t)
	cms := a.Client.ConfigMaps()
	for _, n := range []string{"keep", "upd", "del"} {
		if _, err := cms.Create(ctx, configMap(n, nil, map[string]string{"v": "1"})); err != nil {
			t.Fatal(err)
		}
	}
	lw := newGatedLW(cms)
	inf := informer.New[*corev1.ConfigMap](lw, informer.Config{Namespace: "default", Logger: testutil.Logger()})
	var rec recorder
	inf.AddHandler(rec.handler())
	run(t, ctx, inf)
	rec.waitFor(t, 3)

	// Take the informer's watch down and wait until it is trying to come back.
	lw.cut()
	testutil.Eventually(t, 10*time.Second, func() bool { return lw.waiting.Load() > 0 }, "informer did not retry its watch")
	before := len(rec.get())

	// Five changes overflow the watch cache's window of 3; then compact etcd so the history is gone too.
	upd, err := cms.Get(ctx, "default", "upd")
	if err != nil {
		t.Fatal(err)
	}
	upd.Data["v"] = "2"
	if _, err := cms.Update(ctx, upd); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: "del"}); err != nil {
		t.Fatal(err)
	}
	nw, err := cms.Create(ctx, configMap("new", nil, map[string]string{"v": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"2", "3"} {
		nw.Data["v"] = v
		if nw, err = cms.Update(ctx, nw); err != nil {
			t.Fatal(err)
		}
	}
	compactEtcd(t, ctx, a)
	if got := rec.get(); len(got) != before {
		t.Fatalf("handlers called while the watch was down: %q", got[before:])
	}
	lw.resume()

	// The resumed watch is Expired: the informer relists and emits only the differences.
	got := rec.waitFor(t, before+3)[before:]
	sort.Strings(got)
	if want := []string{"add new 3", "delete del 1", "update upd 1->2"}; !slices.Equal(got, want) {
		t.Fatalf("after the relist\n  got  %q\n  want %q", got, want)
	}
	if n := lw.lists.Load(); n != 2 {
		t.Fatalf("%d lists, want 2 (the first and one relist)", n)
	}
	if keys := keysOf(inf.List()); !slices.Equal(keys, []string{"default/keep", "default/new", "default/upd"}) {
		t.Fatalf("cache after relist: %v", keys)
	}
	// And it follows changes again.
	later, err := cms.Create(ctx, configMap("later", nil, map[string]string{"v": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	caughtUp(t, inf, later)
	if got := rec.get()[before+3:]; !slices.Equal(got, []string{"add later 1"}) {
		t.Fatalf("after the relist the informer saw %q, want [add later 1]", got)
	}
}

func compactEtcd(t *testing.T, ctx context.Context, a *testutil.APIServer) {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{a.Server.EtcdEndpoint()}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("etcd client: %v", err)
	}
	defer cli.Close()
	resp, err := cli.Get(ctx, "/compaction-probe")
	if err != nil {
		t.Fatalf("etcd get: %v", err)
	}
	if _, err := cli.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatalf("etcd compact: %v", err)
	}
}

func TestAddHandlerAfterSyncReplaysAdds(t *testing.T) {
	t.Parallel()
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)
	cms := a.Client.ConfigMaps()
	for i := range 3 {
		if _, err := cms.Create(ctx, configMap("cm-"+strconv.Itoa(i), nil, map[string]string{"v": "1"})); err != nil {
			t.Fatal(err)
		}
	}
	inf := informer.New[*corev1.ConfigMap](cms, informer.Config{Namespace: "default", Logger: testutil.Logger()})
	var early recorder
	inf.AddHandler(early.handler())
	run(t, ctx, inf)
	early.waitFor(t, 3)

	var late recorder
	inf.AddHandler(late.handler())
	// The replay happens before AddHandler returns.
	if got, want := late.get(), []string{"add cm-0 1", "add cm-1 1", "add cm-2 1"}; !slices.Equal(got, want) {
		t.Fatalf("late handler got %q, want %q", got, want)
	}
	x, err := cms.Create(ctx, configMap("cm-3", nil, map[string]string{"v": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	caughtUp(t, inf, x)
	if got := late.waitFor(t, 4)[3:]; !slices.Equal(got, []string{"add cm-3 1"}) {
		t.Fatalf("late handler after the replay: %q", got)
	}
	if got := early.waitFor(t, 4)[3:]; !slices.Equal(got, []string{"add cm-3 1"}) {
		t.Fatalf("early handler: %q", got)
	}
}

// view is a handler that rebuilds the informer's state from its calls and records protocol violations
// (an add for a key it already has, an update or delete for one it does not).
type view struct {
	mu         sync.Mutex
	objs       map[string]string // key → resourceVersion
	violations []string
}

func (v *view) handler() informer.Handler[*corev1.ConfigMap] {
	v.objs = map[string]string{}
	return informer.Handler[*corev1.ConfigMap]{
		OnAdd: func(o *corev1.ConfigMap) {
			v.mu.Lock()
			defer v.mu.Unlock()
			if _, ok := v.objs[api.Key(o)]; ok {
				v.violations = append(v.violations, "second add of "+api.Key(o))
			}
			v.objs[api.Key(o)] = o.Metadata.ResourceVersion
		},
		OnUpdate: func(old, cur *corev1.ConfigMap) {
			v.mu.Lock()
			defer v.mu.Unlock()
			if have, ok := v.objs[api.Key(cur)]; !ok {
				v.violations = append(v.violations, "update of unknown "+api.Key(cur))
			} else if have != old.Metadata.ResourceVersion {
				v.violations = append(v.violations, fmt.Sprintf("update of %s from %s, handler has %s", api.Key(cur), old.Metadata.ResourceVersion, have))
			}
			v.objs[api.Key(cur)] = cur.Metadata.ResourceVersion
		},
		OnDelete: func(o *corev1.ConfigMap) {
			v.mu.Lock()
			defer v.mu.Unlock()
			if _, ok := v.objs[api.Key(o)]; !ok {
				v.violations = append(v.violations, "delete of unknown "+api.Key(o))
			}
			delete(v.objs, api.Key(o))
		},
	}
}

func TestHandlersAddedDuringEventsStayConsistent(t *testing.T) {
	t.Parallel()
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)
	cms := a.Client.ConfigMaps()
	inf := informer.New[*corev1.ConfigMap](cms, informer.Config{Namespace: "default", Logger: testutil.Logger()})
	run(t, ctx, inf)

	// A writer churns through creates, updates and deletes while handlers are added.
	wctx, stop := context.WithCancel(ctx)
	writerDone := make(chan api.Object, 1)
	go func() {
		var last api.Object
		defer func() { writerDone <- last }()
		for i := 0; wctx.Err() == nil; i++ {
			name := "churn-" + strconv.Itoa(i%8)
			var err error
			var o api.Object
			switch (i / 8) % 3 {
			case 0:
				o, err = cms.Create(ctx, configMap(name, nil, map[string]string{"v": strconv.Itoa(i)}))
			case 1:
				var cur *corev1.ConfigMap
				if cur, err = cms.Get(ctx, "default", name); err == nil {
					cur.Data["v"] = strconv.Itoa(i)
					o, err = cms.Update(ctx, cur)
				}
			case 2:
				o, err = cms.Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: name})
			}
			if err != nil {
				t.Errorf("writer: %v", err)
				return
			}
			last = o
		}
	}()
	// Many handlers, added while events are applied: each must see a well-formed history.
	var views []*view
	for deadline := time.Now().Add(1500 * time.Millisecond); time.Now().Before(deadline) && len(views) < 1000; {
		for range 10 { // bursts, so that some are added while an event is being applied
			v := &view{}
			inf.AddHandler(v.handler())
			views = append(views, v)
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	last := <-writerDone
	if last == nil {
		t.Fatal("the writer wrote nothing")
	}
	caughtUp(t, inf, last)
	want := map[string]string{}
	for _, o := range inf.List() {
		want[api.Key(o)] = o.Metadata.ResourceVersion
	}
	t.Logf("%d handlers added during %s writes", len(views), last.GetMetadata().GetResourceVersion())
	// The cache is up to date; the handlers catch up once the last event has been delivered to all.
	testutil.Eventually(t, 10*time.Second, func() bool {
		v := views[len(views)-1]
		v.mu.Lock()
		defer v.mu.Unlock()
		return maps.Equal(v.objs, want)
	}, "the last handler never caught up with the cache")
	for i, v := range views {
		v.mu.Lock()
		if len(v.violations) > 0 {
			t.Errorf("handler %d: %q", i, v.violations)
		}
		if !maps.Equal(v.objs, want) {
			t.Errorf("handler %d ends with %v, the cache has %v", i, v.objs, want)
		}
		v.mu.Unlock()
	}
}

func TestResyncRedeliversCachedObjects(t *testing.T) {
	t.Parallel()
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)
	cms := a.Client.ConfigMaps()
	for _, n := range []string{"r1", "r2"} {
		if _, err := cms.Create(ctx, configMap(n, nil, nil)); err != nil {
			t.Fatal(err)
		}
	}
	type counts struct {
		mu              sync.Mutex
		resyncs, others map[string]int
	}
	counter := func(c *counts) informer.Handler[*corev1.ConfigMap] {
		c.resyncs, c.others = map[string]int{}, map[string]int{}
		return informer.Handler[*corev1.ConfigMap]{OnUpdate: func(old, cur *corev1.ConfigMap) {
			c.mu.Lock()
			defer c.mu.Unlock()
			if old == cur {
				c.resyncs[cur.Metadata.Name]++
			} else {
				c.others[cur.Metadata.Name]++
			}
		}}
	}
	var with, without counts
	resyncing := informer.New[*corev1.ConfigMap](cms, informer.Config{Namespace: "default", ResyncPeriod: 100 * time.Millisecond, Logger: testutil.Logger()})
	resyncing.AddHandler(counter(&with))
	plain := informer.New[*corev1.ConfigMap](cms, informer.Config{Namespace: "default", Logger: testutil.Logger()})
	plain.AddHandler(counter(&without))
	run(t, ctx, plain)
	run(t, ctx, resyncing)
	testutil.Eventually(t, 10*time.Second, func() bool {
		with.mu.Lock()
		defer with.mu.Unlock()
		return with.resyncs["r1"] >= 3 && with.resyncs["r2"] >= 3
	}, "objects were not re-delivered 3 times each")
	with.mu.Lock()
	defer with.mu.Unlock()
	without.mu.Lock()
	defer without.mu.Unlock()
	if len(with.others) > 0 || len(without.others) > 0 || len(without.resyncs) > 0 {
		t.Fatalf("unexpected updates: resyncing %v, plain %v/%v", with.others, without.resyncs, without.others)
	}
}

// TestListSelectorByNamespace: listing one namespace (served by the built-in namespace index) returns
// exactly that namespace's matching objects, sorted by key, through creates, label changes and deletes.
func TestListSelectorByNamespace(t *testing.T) {
	t.Parallel()
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)
	for _, ns := range []string{"a", "b"} {
		if _, err := a.Client.Namespaces().Create(ctx, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	cms := a.Client.ConfigMaps()
	mk := func(ns, name, team string) api.Object {
		o, err := cms.Create(ctx, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"team": team}}})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	mk("a", "z", "x")
	inf := informer.New[*corev1.ConfigMap](cms, informer.Config{Logger: testutil.Logger()})
	run(t, ctx, inf)
	mk("b", "y", "x")
	mk("a", "m", "y")
	last := mk("a", "b", "x")
	caughtUp(t, inf, last)
	team := func(v string) labels.Selector { return labels.SelectorFromSet(map[string]string{"team": v}) }
	check := func(step, ns string, sel labels.Selector, want ...string) {
		t.Helper()
		if got := keysOf(inf.ListSelector(ns, sel)); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("%s: ListSelector(%q, %v) = %v, want %v", step, ns, sel, got, want)
		}
	}
	check("created", "a", labels.Everything(), "a/b", "a/m", "a/z")
	check("created", "a", team("x"), "a/b", "a/z")
	check("created", "b", labels.Everything(), "b/y")
	check("created", "", team("x"), "a/b", "a/z", "b/y")
	check("created", "c", labels.Everything())

	cur, _ := cms.Get(ctx, "a", "z")
	cur.Metadata.Labels["team"] = "y"
	if _, err := cms.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	del, err := cms.Delete(ctx, &metav1.DeleteRequest{Namespace: "b", Name: "y"})
	if err != nil {
		t.Fatal(err)
	}
	caughtUp(t, inf, del)
	check("changed", "a", team("y"), "a/m", "a/z")
	check("changed", "a", labels.Everything(), "a/b", "a/m", "a/z")
	check("changed", "b", labels.Everything())
	check("changed", "", labels.Everything(), "a/b", "a/m", "a/z")
}

// TestTransform: what the cache holds and what handlers receive went through Config.Transform, for
// objects from the first list and from the watch alike.
func TestTransform(t *testing.T) {
	t.Parallel()
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)
	cms := a.Client.ConfigMaps()
	if _, err := cms.Create(ctx, configMap("listed", nil, map[string]string{"big": "x", "keep": "y"})); err != nil {
		t.Fatal(err)
	}
	dropBig := func(o api.Object) api.Object {
		delete(o.(*corev1.ConfigMap).Data, "big")
		return o
	}
	inf := informer.New[*corev1.ConfigMap](cms, informer.Config{Namespace: "default", Transform: dropBig, TransformName: "drop-big", Logger: testutil.Logger()})
	var mu sync.Mutex
	handed := map[string]map[string]string{}
	inf.AddHandler(informer.Handler[*corev1.ConfigMap]{
		OnAdd:    func(c *corev1.ConfigMap) { mu.Lock(); handed[c.Metadata.Name] = c.Data; mu.Unlock() },
		OnUpdate: func(_, c *corev1.ConfigMap) { mu.Lock(); handed[c.Metadata.Name] = c.Data; mu.Unlock() },
	})
	run(t, ctx, inf)
	last, err := cms.Create(ctx, configMap("watched", nil, map[string]string{"big": "x", "keep": "z"}))
	if err != nil {
		t.Fatal(err)
	}
	caughtUp(t, inf, last)
	for name, keep := range map[string]string{"listed": "y", "watched": "z"} {
		c, ok := inf.Get("default", name)
		if !ok || !maps.Equal(c.Data, map[string]string{"keep": keep}) {
			t.Errorf("cached %s = %v, want only keep=%s", name, c.GetData(), keep)
		}
		mu.Lock()
		if got := handed[name]; !maps.Equal(got, map[string]string{"keep": keep}) {
			t.Errorf("handler got %s = %v, want only keep=%s", name, got, keep)
		}
		mu.Unlock()
	}
}
