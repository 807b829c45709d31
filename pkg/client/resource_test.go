package client_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/apiserver"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/testutil"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// kind describes how to exercise one resource through the generic typed client.
type kind[T api.Object] struct {
	r         *client.Resource[T]
	namespace string
	newObj    func(name string) T
	// mutateSpec changes the spec (the generation must grow); setStatus/status write and read a status value.
	mutateSpec func(T)
	setStatus  func(T, string)
	status     func(T) string
}

func names[T api.Object](objs []T) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.GetMetadata().GetName()
	}
	return out
}

func exerciseVerbs[T api.Object](t *testing.T, k kind[T]) {
	ctx := testutil.Context(t)
	const name = "verbs"
	sel := &metav1.ListOptions{Namespace: k.namespace, LabelSelector: "suite=verbs"}
	_, lm, err := k.r.List(ctx, sel)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	w, err := k.r.Watch(ctx, &metav1.ListOptions{Namespace: k.namespace, LabelSelector: "suite=verbs", ResourceVersion: lm.GetResourceVersion()})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer w.Stop()
	evs := pump(w)

	// Create fills the server-owned metadata.
	obj := k.newObj(name)
	api.Meta(obj).Labels = map[string]string{"suite": "verbs"}
	created, err := k.r.Create(ctx, obj)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	m := created.GetMetadata()
	if m.GetUid() == "" || m.GetResourceVersion() == "" || m.GetCreationTimestamp() == nil || m.GetGeneration() != 1 {
		t.Fatalf("create did not fill uid/resourceVersion/creationTimestamp/generation: %v", m)
	}
	if m.GetNamespace() != k.namespace {
		t.Fatalf("namespace %q, want %q", m.GetNamespace(), k.namespace)
	}
	if _, err := k.r.Create(ctx, k.newObj(name)); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("second create: want AlreadyExists, got %v", err)
	}

	// Get and List return what was stored.
	got, err := k.r.Get(ctx, k.namespace, name)
	if err != nil || !proto.Equal(got, created) {
		t.Fatalf("get = %v, %v; want %v", got, err, created)
	}
	items, lm2, err := k.r.List(ctx, sel)
	if err != nil || len(items) != 1 || !proto.Equal(items[0], created) {
		t.Fatalf("list = %v, %v; want [%v]", items, err, created)
	}
	if rv, _ := strconv.ParseInt(lm2.GetResourceVersion(), 10, 64); rv < mustRV(t, created) {
		t.Fatalf("list resourceVersion %s is older than the created object's %s", lm2.GetResourceVersion(), m.GetResourceVersion())
	}

	// Update changes metadata, ignores status, keeps the generation for metadata-only changes.
	u := api.Clone(got)
	api.Meta(u).Labels["changed"] = "yes"
	k.setStatus(u, "7")
	updated, err := k.r.Update(ctx, u)
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if updated.GetMetadata().GetResourceVersion() == m.GetResourceVersion() || updated.GetMetadata().GetLabels()["changed"] != "yes" {
		t.Fatalf("update: resourceVersion %s (was %s), labels %v", updated.GetMetadata().GetResourceVersion(), m.GetResourceVersion(), updated.GetMetadata().GetLabels())
	}
	if k.status(updated) != k.status(created) {
		t.Fatalf("update wrote the status: %q", k.status(updated))
	}
	if updated.GetMetadata().GetGeneration() != 1 || updated.GetMetadata().GetUid() != m.GetUid() {
		t.Fatalf("metadata-only update: generation %d uid %s", updated.GetMetadata().GetGeneration(), updated.GetMetadata().GetUid())
	}
	// A spec change bumps the generation.
	s := api.Clone(updated)
	k.mutateSpec(s)
	specced, err := k.r.Update(ctx, s)
	if err != nil {
		t.Fatalf("spec update: %v", err)
	}
	if specced.GetMetadata().GetGeneration() != 2 {
		t.Fatalf("spec update: generation %d, want 2", specced.GetMetadata().GetGeneration())
	}
	// The stale copy conflicts.
	api.Meta(u).Labels["stale"] = "yes"
	if _, err := k.r.Update(ctx, u); !apierrors.IsConflict(err) {
		t.Fatalf("stale update: want Conflict, got %v", err)
	}

	// UpdateStatus writes the status only.
	st := api.Clone(specced)
	k.setStatus(st, "42")
	api.Meta(st).Labels["ignored"] = "yes"
	statused, err := k.r.UpdateStatus(ctx, st)
	if err != nil {
		t.Fatalf("update status: %v", err)
	}
	if k.status(statused) != "42" {
		t.Fatalf("status %q not written", k.status(statused))
	}
	if _, ok := statused.GetMetadata().GetLabels()["ignored"]; ok {
		t.Fatalf("UpdateStatus changed labels: %v", statused.GetMetadata().GetLabels())
	}
	if _, err := k.r.UpdateStatus(ctx, st); !apierrors.IsConflict(err) {
		t.Fatalf("stale update status: want Conflict, got %v", err)
	}

	// Delete removes it; a second delete and a get are NotFound.
	if _, err := k.r.Delete(ctx, &metav1.DeleteRequest{Namespace: k.namespace, Name: name}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := k.r.Get(ctx, k.namespace, name); !apierrors.IsNotFound(err) {
		t.Fatalf("get after delete: want NotFound, got %v", err)
	}
	if _, err := k.r.Delete(ctx, &metav1.DeleteRequest{Namespace: k.namespace, Name: name}); !apierrors.IsNotFound(err) {
		t.Fatalf("second delete: want NotFound, got %v", err)
	}
	if _, err := k.r.Update(ctx, statused); !apierrors.IsNotFound(err) {
		t.Fatalf("update of a deleted object: want NotFound, got %v", err)
	}

	// The watch saw every change, in order, with the versions the writes returned.
	got2 := evs.expect(t, "ADDED "+name, "MODIFIED "+name, "MODIFIED "+name, "MODIFIED "+name, "DELETED "+name)
	for i, want := range []T{created, updated, specced, statused} {
		if !proto.Equal(got2[i].Object, want) {
			t.Errorf("watch event %d: %v, want %v", i, got2[i].Object, want)
		}
	}
	if mustRV(t, got2[4].Object) <= mustRV(t, statused) {
		t.Errorf("DELETED event carries version %s, not the deletion's", got2[4].Object.GetMetadata().GetResourceVersion())
	}
}

func mustRV(t *testing.T, o api.Object) int64 {
	t.Helper()
	rv, err := api.ResourceVersion(o)
	if err != nil {
		t.Fatalf("resourceVersion of %s: %v", api.Key(o), err)
	}
	return rv
}

func TestEveryVerb(t *testing.T) {
	t.Parallel()
	a := testutil.StartAPIServer(t)
	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"namespaced pods", func(t *testing.T) {
			exerciseVerbs(t, kind[*corev1.Pod]{r: a.Client.Pods(), namespace: "default",
				newObj:     func(name string) *corev1.Pod { return pod("default", name) },
				mutateSpec: func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:1.26" },
				setStatus: func(p *corev1.Pod, s string) {
					if p.Status == nil {
						p.Status = &corev1.PodStatus{}
					}
					p.Status.Message = s
				},
				status: func(p *corev1.Pod) string { return p.GetStatus().GetMessage() }})
		}},
		{"cluster-scoped nodes", func(t *testing.T) {
			exerciseVerbs(t, kind[*corev1.Node]{r: a.Client.Nodes(), namespace: "",
				newObj: func(name string) *corev1.Node {
					return &corev1.Node{Metadata: &metav1.ObjectMeta{Name: name}, Spec: &corev1.NodeSpec{}}
				},
				mutateSpec: func(n *corev1.Node) { n.Spec.Unschedulable = true },
				setStatus: func(n *corev1.Node, s string) {
					if n.Status == nil {
						n.Status = &corev1.NodeStatus{}
					}
					n.Status.Capacity = map[string]string{"example.com/marker": s}
				},
				status: func(n *corev1.Node) string { return n.GetStatus().GetCapacity()["example.com/marker"] }})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.run)
	}
}

func TestListPagination(t *testing.T) {
	t.Parallel()
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)
	cms := a.Client.ConfigMaps()
	createNamespace(t, ctx, a.Client, "paging")
	var all []string
	for i := range 10 {
		parity := "even"
		if i%2 == 1 {
			parity = "odd"
		}
		name := "cm-" + strconv.Itoa(i)
		all = append(all, name)
		if _, err := cms.Create(ctx, configMap("paging", name, map[string]string{"parity": parity, "idx": strconv.Itoa(i)})); err != nil {
			t.Fatal(err)
		}
	}
	// Objects in another namespace must never show up.
	for _, n := range []string{"cm-0", "cm-1"} {
		if _, err := cms.Create(ctx, configMap("default", n, map[string]string{"parity": "even"})); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("pages are consistent snapshots", func(t *testing.T) {
		opts := &metav1.ListOptions{Namespace: "paging", Limit: 3}
		var got []string
		var sizes []int
		var rv string
		for page := 0; ; page++ {
			items, lm, err := cms.List(ctx, opts)
			if err != nil {
				t.Fatalf("page %d: %v", page, err)
			}
			if page == 0 {
				rv = lm.GetResourceVersion()
				// Created after the first page: not part of this list.
				if _, err := cms.Create(ctx, configMap("paging", "cm-99", nil)); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { cms.Delete(ctx, &metav1.DeleteRequest{Namespace: "paging", Name: "cm-99"}) })
			} else if lm.GetResourceVersion() != rv {
				t.Errorf("page %d at resourceVersion %s, first page at %s", page, lm.GetResourceVersion(), rv)
			}
			got = append(got, names(items)...)
			sizes = append(sizes, len(items))
			if lm.GetContinue() == "" {
				break
			}
			opts.Continue = lm.GetContinue()
		}
		if !slices.Equal(sizes, []int{3, 3, 3, 1}) || !slices.Equal(got, all) {
			t.Fatalf("pages of sizes %v with %v; want [3 3 3 1] with %v", sizes, got, all)
		}
	})

	tests := []struct {
		name   string
		opts   *metav1.ListOptions
		page   int64
		want   []string
		errFn  func(error) bool
		reason apierrors.Reason
	}{
		{name: "all in pages of 3", opts: &metav1.ListOptions{Namespace: "paging", LabelSelector: "idx"}, page: 3, want: all},
		{name: "unpaginated", opts: &metav1.ListOptions{Namespace: "paging", LabelSelector: "idx"}, page: 0, want: all},
		{name: "label selector over pages", opts: &metav1.ListOptions{Namespace: "paging", LabelSelector: "parity=even"}, page: 3,
			want: []string{"cm-0", "cm-2", "cm-4", "cm-6", "cm-8"}},
		{name: "set-based label selector", opts: &metav1.ListOptions{Namespace: "paging", LabelSelector: "idx in (1,3,9),parity!=even"}, page: 2,
			want: []string{"cm-1", "cm-3", "cm-9"}},
		{name: "field selector", opts: &metav1.ListOptions{Namespace: "paging", FieldSelector: "metadata.name=cm-7"}, page: 3,
			want: []string{"cm-7"}},
		{name: "label and field selectors", opts: &metav1.ListOptions{Namespace: "paging", LabelSelector: "parity=odd", FieldSelector: "metadata.name!=cm-3"}, page: 3,
			want: []string{"cm-1", "cm-5", "cm-7", "cm-9"}},
		{name: "all namespaces", opts: &metav1.ListOptions{LabelSelector: "parity=even", FieldSelector: "metadata.name=cm-0"}, page: 1,
			want: []string{"cm-0", "cm-0"}},
		{name: "nothing matches", opts: &metav1.ListOptions{Namespace: "paging", LabelSelector: "parity=none"}, page: 3, want: nil},
		{name: "bad label selector", opts: &metav1.ListOptions{LabelSelector: "a in (b"}, page: 3, reason: apierrors.ReasonBadRequest},
		{name: "unknown field", opts: &metav1.ListOptions{FieldSelector: "spec.nope=1"}, page: 3, reason: apierrors.ReasonBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			items, lm, err := cms.ListAll(ctx, tc.opts, tc.page)
			if tc.reason != "" {
				if apierrors.ReasonOf(err) != tc.reason {
					t.Fatalf("err %v (reason %q), want reason %q", err, apierrors.ReasonOf(err), tc.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := names(items); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			if lm.GetContinue() != "" || lm.GetResourceVersion() == "" {
				t.Fatalf("last page metadata %v", lm)
			}
		})
	}
}

func TestWatchSelectors(t *testing.T) {
	t.Parallel()
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)

	t.Run("label selector", func(t *testing.T) {
		cms := a.Client.ConfigMaps()
		w, err := cms.Watch(ctx, &metav1.ListOptions{Namespace: "default", LabelSelector: "app=web"})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		evs := pump(w)
		x, err := cms.Create(ctx, configMap("default", "x", map[string]string{"app": "other"}))
		if err != nil {
			t.Fatal(err)
		}
		step := func(f func(*corev1.ConfigMap)) {
			t.Helper()
			f(x)
			if x, err = cms.Update(ctx, x); err != nil {
				t.Fatal(err)
			}
		}
		step(func(c *corev1.ConfigMap) { c.Data["k"] = "outside" })          // not selected: nothing
		step(func(c *corev1.ConfigMap) { c.Metadata.Labels["app"] = "web" }) // moves in: ADDED
		step(func(c *corev1.ConfigMap) { c.Data["k"] = "inside" })           // MODIFIED
		step(func(c *corev1.ConfigMap) { c.Metadata.Labels["app"] = "db" })  // moves out: DELETED
		step(func(c *corev1.ConfigMap) { c.Data["k"] = "outside again" })    // nothing
		if _, err := cms.Create(ctx, configMap("default", "y", map[string]string{"app": "web"})); err != nil {
			t.Fatal(err)
		}
		if _, err := cms.Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: "x"}); err != nil {
			t.Fatal(err)
		}
		if _, err := cms.Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: "y"}); err != nil {
			t.Fatal(err)
		}
		got := evs.expect(t, "ADDED x", "MODIFIED x", "DELETED x", "ADDED y", "DELETED y")
		if got[0].Object.Data["k"] != "outside" || got[1].Object.Data["k"] != "inside" {
			t.Errorf("event objects: %v, %v", got[0].Object, got[1].Object)
		}
		if l := got[2].Object.GetMetadata().GetLabels()["app"]; l != "db" {
			t.Errorf("DELETED on moving out carries the new state: label app=%q, want db", l)
		}
		evs.expectNone(t, 300*time.Millisecond)
	})

	t.Run("field selector on the node index", func(t *testing.T) {
		pods := a.Client.Pods()
		w, err := pods.Watch(ctx, &metav1.ListOptions{FieldSelector: "spec.nodeName=node-1"})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		evs := pump(w)
		p1, err := pods.Create(ctx, pod("default", "p1"))
		if err != nil {
			t.Fatal(err)
		}
		p2, err := pods.Create(ctx, pod("default", "p2"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Client.Bind(ctx, "default", "p2", p2.Metadata.Uid, "node-2"); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Client.Bind(ctx, "default", "p1", p1.Metadata.Uid, "node-1"); err != nil {
			t.Fatal(err)
		}
		zero := int64(0)
		for _, n := range []string{"p2", "p1"} {
			if _, err := pods.Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: n, GracePeriodSeconds: &zero}); err != nil {
				t.Fatal(err)
			}
		}
		got := evs.expect(t, "ADDED p1", "DELETED p1")
		if got[0].Object.GetSpec().GetNodeName() != "node-1" {
			t.Errorf("ADDED p1 on node %q", got[0].Object.GetSpec().GetNodeName())
		}
		evs.expectNone(t, 300*time.Millisecond)
	})
}

func TestWatchBookmarks(t *testing.T) {
	t.Parallel()
	const interval = 100 * time.Millisecond
	a := testutil.StartAPIServer(t, func(c *apiserver.Config) { c.BookmarkInterval = interval })
	ctx := testutil.Context(t)
	cms := a.Client.ConfigMaps()
	_, lm, err := cms.List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	listRV, _ := strconv.ParseInt(lm.GetResourceVersion(), 10, 64)

	t.Run("when allowed", func(t *testing.T) {
		w, err := cms.Watch(ctx, &metav1.ListOptions{ResourceVersion: lm.GetResourceVersion(), AllowWatchBookmarks: true})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		evs := pump(w)
		var last int64
		for range 3 {
			ev := evs.next(t, 5*time.Second, true)
			if ev.Type != client.Bookmark {
				t.Fatalf("got %s, want BOOKMARK", ev.Type)
			}
			bm := api.Clone(ev.Object)
			rv := mustRV(t, bm)
			bm.Metadata.ResourceVersion = ""
			if !proto.Equal(bm, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{}}) {
				t.Fatalf("bookmark carries more than a resourceVersion: %v", ev.Object)
			}
			if rv < listRV || rv < last {
				t.Fatalf("bookmark at %d; list was at %d, previous bookmark at %d", rv, listRV, last)
			}
			last = rv
		}
		created, err := cms.Create(ctx, configMap("default", "bm", nil))
		if err != nil {
			t.Fatal(err)
		}
		if ev := evs.next(t, 5*time.Second, false); ev.Type != client.Added || ev.Object.Metadata.Name != "bm" {
			t.Fatalf("got %s %s, want ADDED bm", ev.Type, ev.Object.GetMetadata().GetName())
		}
		if ev := evs.next(t, 5*time.Second, true); ev.Type != client.Bookmark || mustRV(t, ev.Object) < mustRV(t, created) {
			t.Fatalf("after the write: %s at %s, want a BOOKMARK at or after %s", ev.Type, ev.Object.GetMetadata().GetResourceVersion(), created.Metadata.ResourceVersion)
		}
	})

	t.Run("when not asked for", func(t *testing.T) {
		_, lm, err := cms.List(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		w, err := cms.Watch(ctx, &metav1.ListOptions{ResourceVersion: lm.GetResourceVersion()})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		evs := pump(w)
		time.Sleep(10 * interval)
		if _, err := cms.Create(ctx, configMap("default", "no-bm", nil)); err != nil {
			t.Fatal(err)
		}
		if ev := evs.next(t, 5*time.Second, true); ev.Type != client.Added {
			t.Fatalf("first event %s, want ADDED (no bookmarks without AllowWatchBookmarks)", ev.Type)
		}
	})
}

func TestErrors(t *testing.T) {
	t.Parallel()
	a := testutil.StartAPIServer(t, func(c *apiserver.Config) { c.WatchCacheWindow = 3 })
	ctx := testutil.Context(t)
	cms := a.Client.ConfigMaps()
	base, err := cms.Create(ctx, configMap("default", "base", nil))
	if err != nil {
		t.Fatal(err)
	}
	stale := api.Clone(base)
	base.Data["k"] = "new"
	if _, err := cms.Update(ctx, base); err != nil {
		t.Fatal(err)
	}
	neg := int64(-1)
	causes := func(err error) []apierrors.Cause {
		se, _ := err.(*apierrors.StatusError)
		if se == nil {
			return nil
		}
		return se.Causes
	}
	tests := []struct {
		name   string
		call   func() error
		is     func(error) bool
		causes []string // fields of the Invalid causes
	}{
		{"get missing", func() error { _, err := cms.Get(ctx, "default", "missing"); return err }, apierrors.IsNotFound, nil},
		{"delete missing", func() error {
			_, err := cms.Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: "missing"})
			return err
		}, apierrors.IsNotFound, nil},
		{"create in a missing namespace", func() error { _, err := cms.Create(ctx, configMap("nowhere", "x", nil)); return err }, apierrors.IsNotFound, nil},
		{"create twice", func() error { _, err := cms.Create(ctx, configMap("default", "base", nil)); return err }, apierrors.IsAlreadyExists, nil},
		{"stale update", func() error { _, err := cms.Update(ctx, stale); return err }, apierrors.IsConflict, nil},
		{"delete with a stale precondition", func() error {
			_, err := cms.Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: "base",
				Preconditions: &metav1.Preconditions{ResourceVersion: proto.String(stale.Metadata.ResourceVersion)}})
			return err
		}, apierrors.IsConflict, nil},
		{"invalid name", func() error { _, err := cms.Create(ctx, configMap("default", "Bad_Name", nil)); return err },
			apierrors.IsInvalid, []string{"metadata.name"}},
		{"namespace on a cluster-scoped kind", func() error {
			_, err := a.Client.Nodes().Create(ctx, &corev1.Node{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "n"}})
			return err
		}, apierrors.IsInvalid, []string{"metadata.namespace"}},
		{"bad delete options", func() error {
			_, err := cms.Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: "base", GracePeriodSeconds: &neg})
			return err
		}, apierrors.IsInvalid, []string{"gracePeriodSeconds"}},
		{"bad propagation policy", func() error {
			_, err := cms.Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: "base", PropagationPolicy: "Sideways"})
			return err
		}, apierrors.IsInvalid, []string{"propagationPolicy"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !tc.is(err) {
				t.Fatalf("err %v (reason %q)", err, apierrors.ReasonOf(err))
			}
			var fields []string
			for _, c := range causes(err) {
				fields = append(fields, c.Field)
				if c.Message == "" {
					t.Errorf("cause of %s without a message", c.Field)
				}
			}
			if !slices.Equal(fields, tc.causes) {
				t.Errorf("cause fields %q, want %q (%v)", fields, tc.causes, err)
			}
		})
	}
	if _, err := cms.Get(ctx, "default", "Bad_Name"); !apierrors.IsNotFound(err) {
		t.Errorf("the invalid object was stored: %v", err)
	}

	t.Run("expired after compaction", func(t *testing.T) {
		_, lm, err := cms.List(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		old := lm.GetResourceVersion()
		if _, err := cms.Create(ctx, configMap("default", "second", nil)); err != nil {
			t.Fatal(err)
		}
		first, fl, err := cms.List(ctx, &metav1.ListOptions{Limit: 1})
		if err != nil || len(first) != 1 || fl.GetContinue() == "" {
			t.Fatalf("first page: %v %v %v", first, fl, err)
		}
		// Push the old version out of the watch cache's window of 3 events.
		for i := range 5 {
			if _, err := cms.Create(ctx, configMap("default", "fill-"+strconv.Itoa(i), nil)); err != nil {
				t.Fatal(err)
			}
		}
		// Before compaction the old version is served from etcd's history.
		w, err := cms.Watch(ctx, &metav1.ListOptions{ResourceVersion: old})
		if err != nil {
			t.Fatal(err)
		}
		pump(w).expect(t, "ADDED second", "ADDED fill-0", "ADDED fill-1")
		w.Stop()

		compactEtcd(t, ctx, a)
		w, err = cms.Watch(ctx, &metav1.ListOptions{ResourceVersion: old})
		if err == nil {
			_, err = w.Next()
			w.Stop()
		}
		if !apierrors.IsExpired(err) {
			t.Fatalf("watch from compacted version %s: want Expired, got %v", old, err)
		}
		if _, _, err := cms.List(ctx, &metav1.ListOptions{Limit: 1, Continue: fl.GetContinue()}); !apierrors.IsExpired(err) {
			t.Fatalf("continue token from before the compaction: want Expired, got %v", err)
		}
		// Relisting and watching from the new version works.
		_, lm, err = cms.List(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		w, err = cms.Watch(ctx, &metav1.ListOptions{ResourceVersion: lm.GetResourceVersion()})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		evs := pump(w)
		if _, err := cms.Create(ctx, configMap("default", "after", nil)); err != nil {
			t.Fatal(err)
		}
		evs.expect(t, "ADDED after")
	})
}

func TestBindAndGracefulPodDeletion(t *testing.T) {
	t.Parallel()
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)
	pods := a.Client.Pods()
	zero := int64(0)

	p := pod("default", "bound")
	grace := int64(45)
	p.Spec.TerminationGracePeriodSeconds = &grace
	p, err := pods.Create(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Client.Bind(ctx, "default", "bound", "not-its-uid", "node-1"); !apierrors.IsConflict(err) {
		t.Fatalf("bind with another uid: want Conflict, got %v", err)
	}
	bound, err := a.Client.Bind(ctx, "default", "bound", p.Metadata.Uid, "node-1")
	if err != nil {
		t.Fatalf("bind: %v", err)
	}
	if bound.GetSpec().GetNodeName() != "node-1" {
		t.Fatalf("bound to %q", bound.GetSpec().GetNodeName())
	}
	if _, err := a.Client.Bind(ctx, "default", "bound", p.Metadata.Uid, "node-2"); !apierrors.IsPrecondition(err) {
		t.Fatalf("second bind: want Precondition, got %v", err)
	}
	if _, err := a.Client.Bind(ctx, "default", "missing", "", "node-1"); !apierrors.IsNotFound(err) {
		t.Fatalf("bind of a missing pod: want NotFound, got %v", err)
	}

	// A bound pod is only marked, with its grace period; a shorter grace period shortens it.
	marked, err := pods.Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: "bound"})
	if err != nil {
		t.Fatal(err)
	}
	if marked.GetMetadata().GetDeletionTimestamp() == nil || marked.GetMetadata().GetDeletionGracePeriodSeconds() != 45 {
		t.Fatalf("graceful delete: deletionTimestamp %v grace %d, want set and 45",
			marked.GetMetadata().GetDeletionTimestamp(), marked.GetMetadata().GetDeletionGracePeriodSeconds())
	}
	ten := int64(10)
	shorter, err := pods.Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: "bound", GracePeriodSeconds: &ten})
	if err != nil || shorter.GetMetadata().GetDeletionGracePeriodSeconds() != 10 ||
		!shorter.GetMetadata().GetDeletionTimestamp().AsTime().Before(marked.GetMetadata().GetDeletionTimestamp().AsTime()) {
		t.Fatalf("shorter grace: %v, %v", shorter.GetMetadata(), err)
	}
	still, err := pods.Get(ctx, "default", "bound")
	if err != nil || still.GetMetadata().GetDeletionTimestamp() == nil {
		t.Fatalf("a bound pod in its grace period: %v, %v", still, err)
	}
	if _, err := a.Client.Bind(ctx, "default", "bound", "", "node-3"); !apierrors.IsPrecondition(err) {
		t.Fatalf("bind of a terminating pod: want Precondition, got %v", err)
	}
	if _, err := pods.Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: "bound", GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "default", "bound"); !apierrors.IsNotFound(err) {
		t.Fatalf("after a delete with grace 0: want NotFound, got %v", err)
	}

	// An unbound pod has nothing to stop: it goes at once.
	if _, err := pods.Create(ctx, pod("default", "unbound")); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: "unbound"}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "default", "unbound"); !apierrors.IsNotFound(err) {
		t.Fatalf("unbound pod after delete: want NotFound, got %v", err)
	}
}

func TestFinalizers(t *testing.T) {
	t.Parallel()
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)
	cms := a.Client.ConfigMaps()
	tests := []struct {
		name       string
		finalizers []string
		policy     string
		want       []string // finalizers once marked
	}{
		{name: "user finalizer", finalizers: []string{"example.com/hold"}, want: []string{"example.com/hold"}},
		{name: "two finalizers", finalizers: []string{"example.com/a", "example.com/b"}, want: []string{"example.com/a", "example.com/b"}},
		{name: "orphan policy", policy: "Orphan", want: []string{"orphan"}},
		{name: "foreground policy", policy: "Foreground", want: []string{"foregroundDeletion"}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := "fin-" + strconv.Itoa(i)
			w, err := cms.Watch(ctx, &metav1.ListOptions{Namespace: "default", FieldSelector: "metadata.name=" + name})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Stop()
			evs := pump(w)
			obj := configMap("default", name, nil)
			obj.Metadata.Finalizers = tc.finalizers
			if _, err := cms.Create(ctx, obj); err != nil {
				t.Fatal(err)
			}
			marked, err := cms.Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: name, PropagationPolicy: tc.policy})
			if err != nil {
				t.Fatal(err)
			}
			if marked.GetMetadata().GetDeletionTimestamp() == nil || !slices.Equal(marked.GetMetadata().GetFinalizers(), tc.want) {
				t.Fatalf("marked: deletionTimestamp %v finalizers %q, want set and %q",
					marked.GetMetadata().GetDeletionTimestamp(), marked.GetMetadata().GetFinalizers(), tc.want)
			}
			// Remove the finalizers one at a time: the object stays until the last one goes.
			cur := marked
			for j := range tc.want {
				got, err := cms.Get(ctx, "default", name)
				if err != nil {
					t.Fatalf("with finalizers %q left: %v", cur.Metadata.Finalizers, err)
				}
				next := api.Clone(got)
				next.Metadata.Finalizers = tc.want[j+1:]
				next.Data["touched"] = strconv.Itoa(j)
				if cur, err = cms.Update(ctx, next); err != nil {
					t.Fatalf("remove finalizer %d: %v", j, err)
				}
			}
			if _, err := cms.Get(ctx, "default", name); !apierrors.IsNotFound(err) {
				t.Fatalf("after the last finalizer: want NotFound, got %v", err)
			}
			want := []string{"ADDED " + name, "MODIFIED " + name}
			for range len(tc.want) - 1 {
				want = append(want, "MODIFIED "+name)
			}
			evs.expect(t, append(want, "DELETED "+name)...)
		})
	}
}

func TestWaitForReadyAcrossRestart(t *testing.T) {
	t.Parallel()
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)
	if _, err := a.Client.ConfigMaps().Create(ctx, configMap("default", "survivor", nil)); err != nil {
		t.Fatal(err)
	}
	failFast, err := client.New(client.Config{Server: a.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer failFast.Close()
	if _, err := failFast.ConfigMaps().Get(ctx, "default", "survivor"); err != nil {
		t.Fatal(err)
	}
	a.Stop()

	// Without WaitForReady a call fails at once while the apiserver is away.
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = failFast.ConfigMaps().Get(cctx, "default", "survivor")
	cancel()
	if apierrors.ReasonOf(err) != apierrors.ReasonServiceUnavailable || time.Since(start) > 5*time.Second {
		t.Fatalf("fail-fast call while down: %v (reason %q) after %v, want ServiceUnavailable at once", err, apierrors.ReasonOf(err), time.Since(start))
	}

	// With WaitForReady it waits for the apiserver to come back.
	type result struct {
		cm  *corev1.ConfigMap
		err error
	}
	res := make(chan result, 1)
	go func() {
		cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		cm, err := a.Client.ConfigMaps().Get(cctx, "default", "survivor")
		res <- result{cm, err}
	}()
	select {
	case r := <-res:
		t.Fatalf("WaitForReady call returned while the apiserver is down: %v, %v", r.cm, r.err)
	case <-time.After(500 * time.Millisecond):
	}
	a.Restart()
	select {
	case r := <-res:
		if r.err != nil || r.cm.GetMetadata().GetName() != "survivor" {
			t.Fatalf("after restart: %v, %v", r.cm, r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("WaitForReady call did not complete after the restart")
	}
	// The fail-fast client reconnects too.
	testutil.Eventually(t, 10*time.Second, func() bool {
		_, err := failFast.ConfigMaps().Get(ctx, "default", "survivor")
		return err == nil
	}, "fail-fast client did not reconnect")
}
