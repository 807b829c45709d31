package storage_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/apiserver/storage"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

func nodeOf(o api.Object) string { return o.(*corev1.Pod).GetSpec().GetNodeName() }

func pod(ns, name, node, app string) *corev1.Pod {
	return &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": app}},
		Spec: &corev1.PodSpec{NodeName: node}}
}

func keys(objs []api.Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = api.Key(o) + "@" + nodeOf(o)
	}
	return out
}

// TestCacherStoredForm: the cache keeps objects in their stored form and decodes on demand. Lists by
// namespace, label and index value (including the empty one: unbound pods) and a watch's initial state
// return exactly what etcd holds, as fresh copies; events carry the previous state whether the key's
// last event is still in the (tiny) window or not.
func TestCacherStoredForm(t *testing.T) {
	cli := startEtcd(t)
	res, _ := api.Lookup("pods")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, window := range []int{2, 1000} {
		t.Run(fmt.Sprintf("window=%d", window), func(t *testing.T) {
			ns := fmt.Sprintf("w%d", window)
			st := storage.NewStore(cli, res, nil)
			// Objects written before the first list, and after it.
			if _, err := st.Create(ctx, pod(ns, "a", "n1", "web"), nil); err != nil {
				t.Fatal(err)
			}
			c := storage.NewCacher(storage.CacherConfig{Store: st, WindowSize: window, IndexFunc: nodeOf})
			go func() { _ = c.Run(ctx) }()
			<-c.Ready()
			// An unfiltered watch from now on sees every event with its previous state.
			all, err := c.Watch(ctx, mustRev(t, c), &storage.Predicate{Namespace: ns}, false)
			if err != nil {
				t.Fatal(err)
			}
			defer all.Stop()
			// A watch of node n2 by index.
			n2, err := c.Watch(ctx, mustRev(t, c), &storage.Predicate{Namespace: ns, IndexValue: "n2", HasIndex: true,
				Matches: func(o api.Object) bool { return nodeOf(o) == "n2" }}, false)
			if err != nil {
				t.Fatal(err)
			}
			defer n2.Stop()

			for _, p := range []*corev1.Pod{pod(ns, "b", "", "web"), pod(ns, "c", "n2", "db"), pod(ns, "d", "", "db"), pod("other", "e-"+ns, "n2", "web")} {
				if _, err := st.Create(ctx, p, nil); err != nil {
					t.Fatal(err)
				}
			}
			// Bind b to n2 (moves between index values), relabel c, delete a.
			update := func(name string, f func(*corev1.Pod)) {
				if _, err := st.GuaranteedUpdate(ctx, ns, name, func(cur api.Object) (api.Object, *storage.Txn, error) {
					next := api.Clone(cur).(*corev1.Pod)
					f(next)
					return next, nil, nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			update("b", func(p *corev1.Pod) { p.Spec.NodeName = "n2" })
			update("c", func(p *corev1.Pod) { p.Metadata.Labels["app"] = "web" })
			del, err := st.GuaranteedUpdate(ctx, ns, "a", func(api.Object) (api.Object, *storage.Txn, error) { return nil, nil, nil })
			if err != nil {
				t.Fatal(err)
			}
			waitRev(t, c, del)

			type ev struct{ typ, key, node, prevNode string }
			var got []ev
			for range 6 { // 3 creates in ns, 2 updates, 1 delete (none from "other")
				e, typ, err := nextWithin(ctx, all)
				if err != nil {
					break
				}
				pn := "-"
				if e.Prev != nil {
					pn = nodeOf(e.Prev)
				}
				checkEncoded(t, res, e, typ)
				got = append(got, ev{typ, e.Key, nodeOf(e.Object), pn})
			}
			want := []ev{{"ADDED", ns + "/b", "", "-"}, {"ADDED", ns + "/c", "n2", "-"}, {"ADDED", ns + "/d", "", "-"},
				{"MODIFIED", ns + "/b", "n2", ""}, {"MODIFIED", ns + "/c", "n2", "n2"}, {"DELETED", ns + "/a", "n1", "n1"}}
			if !slices.Equal(got, want) {
				t.Errorf("events\n got %v\nwant %v", got, want)
			}
			var n2got []string
			for range 3 {
				e, typ, err := nextWithin(ctx, n2)
				if err != nil {
					break
				}
				n2got = append(n2got, typ+" "+e.Key)
			}
			if w := []string{"ADDED " + ns + "/c", "ADDED " + ns + "/b", "MODIFIED " + ns + "/c"}; !slices.Equal(n2got, w) {
				t.Errorf("node n2 watch: got %v, want %v", n2got, w)
			}

			for _, tc := range []struct {
				name string
				p    *storage.Predicate
				want []string
			}{
				{"namespace", &storage.Predicate{Namespace: ns}, []string{ns + "/b@n2", ns + "/c@n2", ns + "/d@"}},
				{"label", &storage.Predicate{Namespace: ns, Matches: func(o api.Object) bool { return o.GetMetadata().GetLabels()["app"] == "web" }},
					[]string{ns + "/b@n2", ns + "/c@n2"}},
				{"index n2, all namespaces", &storage.Predicate{IndexValue: "n2", HasIndex: true, Matches: func(o api.Object) bool { return o.GetMetadata().GetNamespace() == ns || api.Key(o) == "other/e-"+ns }}, []string{"other/e-" + ns + "@n2", ns + "/b@n2", ns + "/c@n2"}},
				{"index n2 alone (a field selector spec.nodeName=n2)", &storage.Predicate{Namespace: ns, IndexValue: "n2", HasIndex: true, IndexOnly: true,
					Matches: func(o api.Object) bool { return nodeOf(o) == "n2" }}, []string{ns + "/b@n2", ns + "/c@n2"}},
				{"index unbound", &storage.Predicate{Namespace: ns, IndexValue: "", HasIndex: true}, []string{ns + "/d@"}},
				{"index n1 (deleted)", &storage.Predicate{IndexValue: "n1", HasIndex: true}, nil},
			} {
				objs, rev := c.Snapshot(tc.p)
				if g := keys(objs); !slices.Equal(g, tc.want) && !(len(g) == 0 && len(tc.want) == 0) {
					t.Errorf("snapshot %s = %v, want %v", tc.name, g, tc.want)
				}
				// The spliced wire form, where the cache can decide alone, decodes to the same list.
				if data, erev, ok := c.EncodedList(tc.p); ok != (tc.p.Matches == nil || tc.p.IndexOnly) {
					t.Errorf("EncodedList %s: ok = %v", tc.name, ok)
				} else if ok {
					var list corev1.PodList
					if err := proto.Unmarshal(data, &list); err != nil {
						t.Fatalf("EncodedList %s: %v", tc.name, err)
					}
					if list.GetMetadata().GetResourceVersion() != strconv.FormatInt(erev, 10) || erev < rev {
						t.Errorf("EncodedList %s: list resourceVersion %q (rev %d), snapshot at %d", tc.name, list.GetMetadata().GetResourceVersion(), erev, rev)
					}
					if len(list.Items) != len(objs) {
						t.Fatalf("EncodedList %s: %d items, snapshot %d", tc.name, len(list.Items), len(objs))
					}
					for i := range objs {
						if !proto.Equal(list.Items[i], objs[i]) || list.Items[i].GetMetadata().GetResourceVersion() == "" {
							t.Errorf("EncodedList %s item %d = %v, want %v", tc.name, i, list.Items[i], objs[i])
						}
					}
				}
				// A watch from "now" starts with the same objects as ADDED events.
				w, err := c.Watch(ctx, -1, tc.p, false)
				if err != nil {
					t.Fatal(err)
				}
				var initial []string
				for range len(tc.want) {
					e, typ, err := nextWithin(ctx, w)
					if err != nil || typ != storage.Added {
						break
					}
					checkEncoded(t, res, e, typ)
					initial = append(initial, api.Key(e.Object)+"@"+nodeOf(e.Object))
				}
				w.Stop()
				if !slices.Equal(initial, tc.want) && !(len(initial) == 0 && len(tc.want) == 0) {
					t.Errorf("initial state of a watch %s = %v, want %v", tc.name, initial, tc.want)
				}
			}
			// Snapshot and Get hand out copies: changing them changes nothing in the cache.
			objs, _ := c.Snapshot(&storage.Predicate{Namespace: ns})
			objs[0].(*corev1.Pod).Spec.NodeName = "mutated"
			g, ok := c.Get(ns + "/b")
			if !ok || nodeOf(g) != "n2" {
				t.Errorf("Get after mutating a snapshot = %v", g)
			}
			g.(*corev1.Pod).Spec.NodeName = "mutated"
			if g2, _ := c.Get(ns + "/b"); nodeOf(g2) != "n2" {
				t.Error("mutating what Get returned changed the cache")
			}
		})
	}
}

// checkEncoded: the wire form sent for e (spliced from the stored form) is the event of type typ with
// e.Object, resourceVersion included.
func checkEncoded(t *testing.T, res *api.Resource, e *storage.Event, typ string) {
	t.Helper()
	data, err := e.Encoded(res, typ)
	if err != nil {
		t.Fatal(err)
	}
	var got corev1.PodWatchEvent
	if err := proto.Unmarshal(data, &got); err != nil {
		t.Fatalf("wire form of %s %s: %v", typ, e.Key, err)
	}
	want, err := storage.EncodeWatchEvent(res, typ, e.Object)
	if err != nil {
		t.Fatal(err)
	}
	var w corev1.PodWatchEvent
	if err := proto.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&got, &w) || got.GetObject().GetMetadata().GetResourceVersion() == "" {
		t.Errorf("wire form of %s %s = %v, want %v", typ, e.Key, &got, &w)
	}
}

func mustRev(t *testing.T, c *storage.Cacher) int64 {
	t.Helper()
	_, rev := c.Snapshot(&storage.Predicate{Namespace: "none"})
	return rev
}

func waitRev(t *testing.T, c *storage.Cacher, o api.Object) {
	t.Helper()
	want, _ := api.ResourceVersion(o)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitFresh(ctx, want); err != nil {
		t.Fatalf("cache never reached revision %d: %v", want, err)
	}
}

func nextWithin(ctx context.Context, w *storage.Watch) (*storage.Event, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return w.Next(ctx)
}
