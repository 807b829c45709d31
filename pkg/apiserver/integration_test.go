package apiserver_test

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/apiserver"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/client/informer"
	"github.com/coxswain/coxswain/pkg/testutil"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// record is what a watcher saw: type and resourceVersion, in order.
type record struct {
	typ  client.EventType
	name string
	rv   string
}

func collect(t *testing.T, w *client.Watch[*corev1.ConfigMap], n int) []record {
	t.Helper()
	var out []record
	for len(out) < n {
		ev, err := w.Next()
		if err != nil {
			t.Fatalf("watch after %d events: %v", len(out), err)
		}
		if ev.Type == client.Bookmark {
			continue
		}
		out = append(out, record{ev.Type, ev.Object.Metadata.Name, ev.Object.Metadata.ResourceVersion})
	}
	return out
}

// writes performs n creates/updates and returns the records every watcher must see.
func writes(t *testing.T, ctx context.Context, c *client.Client, prefix string, n int) []record {
	t.Helper()
	var want []record
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("%s-%d", prefix, i/2)
		if i%2 == 0 {
			o, err := c.ConfigMaps().Create(ctx, cm(name, map[string]string{"i": strconv.Itoa(i)}))
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, record{client.Added, name, o.Metadata.ResourceVersion})
		} else {
			cur, err := c.ConfigMaps().Get(ctx, "default", name)
			if err != nil {
				t.Fatal(err)
			}
			cur.Data["i"] = strconv.Itoa(i)
			o, err := c.ConfigMaps().Update(ctx, cur)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, record{client.Modified, name, o.Metadata.ResourceVersion})
		}
	}
	return want
}

func equalRecords(t *testing.T, what string, got, want []record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d\n got  %v\n want %v", what, len(got), len(want), got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: event %d = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// A watch resumed from a resourceVersion after an apiserver restart delivers every event exactly once,
// in order.
func TestWatchResumesAcrossRestart(t *testing.T) {
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)
	_, lm, err := a.Client.ConfigMaps().List(ctx, &metav1.ListOptions{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	w, err := a.Client.ConfigMaps().Watch(ctx, &metav1.ListOptions{Namespace: "default", ResourceVersion: lm.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	before := writes(t, ctx, a.Client, "before", 10)
	got := collect(t, w, 10)
	w.Stop()
	equalRecords(t, "before restart", got, before)
	last := got[len(got)-1].rv

	a.Restart()
	// Writes after the restart, and writes to another kind that move etcd's revision on.
	after := writes(t, ctx, a.Client, "after", 10)
	if _, err := a.Client.Secrets().Create(ctx, &corev1.Secret{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "s"}}); err != nil {
		t.Fatal(err)
	}
	w2, err := a.Client.ConfigMaps().Watch(ctx, &metav1.ListOptions{Namespace: "default", ResourceVersion: last})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()
	more := writes(t, ctx, a.Client, "later", 4)
	equalRecords(t, "after restart", collect(t, w2, 14), append(after, more...))
}

// A thousand watchers all receive every event, through one etcd watch.
func TestThousandWatchers(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping 1,000 watchers")
	}
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)
	_, lm, err := a.Client.ConfigMaps().List(ctx, &metav1.ListOptions{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	const watchers, events = 1000, 20
	ws := make([]*client.Watch[*corev1.ConfigMap], watchers)
	for i := range ws {
		if ws[i], err = a.Client.ConfigMaps().Watch(ctx, &metav1.ListOptions{Namespace: "default", ResourceVersion: lm.ResourceVersion}); err != nil {
			t.Fatal(err)
		}
		defer ws[i].Stop()
	}
	want := writes(t, ctx, a.Client, "fan", events)
	var wg sync.WaitGroup
	var bad atomic.Int64
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < events; {
				ev, err := w.Next()
				if err != nil {
					bad.Add(1)
					return
				}
				if ev.Type == client.Bookmark {
					continue
				}
				if (record{ev.Type, ev.Object.Metadata.Name, ev.Object.Metadata.ResourceVersion}) != want[i] {
					bad.Add(1)
					return
				}
				i++
			}
		}()
	}
	wg.Wait()
	if n := bad.Load(); n != 0 {
		t.Fatalf("%d of %d watchers missed or reordered events", n, watchers)
	}
}

// An informer survives an apiserver kill and restart, with its cache equal to the truth afterwards.
func TestInformerSurvivesRestart(t *testing.T) {
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)
	f := informer.NewFactory(a.Client, 0, testutil.Logger())
	inf := f.ConfigMaps()
	var adds, updates, deletes atomic.Int64
	inf.AddHandler(informer.Handler[*corev1.ConfigMap]{
		OnAdd:    func(*corev1.ConfigMap) { adds.Add(1) },
		OnUpdate: func(_, _ *corev1.ConfigMap) { updates.Add(1) },
		OnDelete: func(*corev1.ConfigMap) { deletes.Add(1) },
	})
	ictx, cancel := context.WithCancel(ctx)
	defer cancel()
	f.Start(ictx)
	if !f.WaitForSync(ctx) {
		t.Fatal("informer did not sync")
	}
	writes(t, ctx, a.Client, "one", 6)
	a.Stop()
	time.Sleep(300 * time.Millisecond) // the informer sees the apiserver gone and backs off
	a.Restart()
	writes(t, ctx, a.Client, "two", 6)
	if _, err := a.Client.ConfigMaps().Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: "one-0"}); err != nil {
		t.Fatal(err)
	}
	truth := func() map[string]string {
		items, _, err := a.Client.ConfigMaps().List(ctx, &metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, it := range items {
			m[it.Metadata.Namespace+"/"+it.Metadata.Name] = it.Metadata.ResourceVersion
		}
		return m
	}
	cached := func() map[string]string {
		m := map[string]string{}
		for _, it := range inf.List() {
			m[it.Metadata.Namespace+"/"+it.Metadata.Name] = it.Metadata.ResourceVersion
		}
		return m
	}
	testutil.Eventually(t, 20*time.Second, func() bool { return fmt.Sprint(cached()) == fmt.Sprint(truth()) },
		"informer cache %v != truth %v", cached(), truth())
	if adds.Load() != 6 || updates.Load() != 6 || deletes.Load() != 1 {
		t.Fatalf("handlers saw %d adds, %d updates, %d deletes; want 6, 6, 1", adds.Load(), updates.Load(), deletes.Load())
	}
}

// Data survives a restart of the apiserver and its embedded etcd.
func TestDataSurvivesEtcdRestart(t *testing.T) {
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)
	want := writes(t, ctx, a.Client, "keep", 8)
	a.Restart()
	for _, r := range want {
		got, err := a.Client.ConfigMaps().Get(ctx, "default", r.name)
		if err != nil {
			t.Fatalf("after restart: %v", err)
		}
		if r.typ == client.Modified && got.Metadata.ResourceVersion != r.rv {
			t.Fatalf("%s: resourceVersion %s, want %s", r.name, got.Metadata.ResourceVersion, r.rv)
		}
	}
}

// Two apiservers on one etcd see each other's writes and events.
func TestTwoReplicasShareState(t *testing.T) {
	a := testutil.StartAPIServer(t)
	b := testutil.StartAPIServer(t, func(c *apiserver.Config) { c.EtcdServers = []string{a.Server.EtcdEndpoint()}; c.DataDir = "" })
	ctx := testutil.Context(t)
	w, err := b.Client.ConfigMaps().Watch(ctx, &metav1.ListOptions{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	created, err := a.Client.ConfigMaps().Create(ctx, cm("shared", map[string]string{"from": "a"}))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := w.Next()
	if err != nil || ev.Type != client.Added || ev.Object.Metadata.ResourceVersion != created.Metadata.ResourceVersion {
		t.Fatalf("replica b's watch: %v %v, want ADDED at %s", ev, err, created.Metadata.ResourceVersion)
	}
	got, err := b.Client.ConfigMaps().Get(ctx, "default", "shared")
	if err != nil || got.Data["from"] != "a" {
		t.Fatalf("replica b reads %v, %v", got, err)
	}
	// An update through b with a's stale version conflicts: one etcd, one truth.
	got.Data["from"] = "b"
	if _, err := b.Client.ConfigMaps().Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	created.Data["from"] = "stale"
	if _, err := a.Client.ConfigMaps().Update(ctx, created); err == nil {
		t.Fatal("stale update through replica a succeeded")
	}
}

// Concurrent Service creations get distinct ClusterIPs, even through two apiservers.
func TestConcurrentServicesGetDistinctIPs(t *testing.T) {
	a := testutil.StartAPIServer(t, func(c *apiserver.Config) { c.ServiceClusterIPRange = "10.96.0.0/27" })
	b := testutil.StartAPIServer(t, func(c *apiserver.Config) {
		c.EtcdServers = []string{a.Server.EtcdEndpoint()}
		c.DataDir = ""
		c.ServiceClusterIPRange = "10.96.0.0/27"
	})
	ctx := testutil.Context(t)
	const n = 20 // of 29 usable addresses: collisions are likely, duplicates must not happen
	ips := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := a.Client
			if i%2 == 1 {
				c = b.Client
			}
			svc := &corev1.Service{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("svc-%d", i)},
				Spec: &corev1.ServiceSpec{Type: "NodePort", Selector: map[string]string{"app": "x"},
					Ports: []*corev1.ServicePort{{Port: 80, Protocol: "TCP", TargetPort: &metav1.IntOrString{Value: &metav1.IntOrString_IntVal{IntVal: 8080}}}}}}
			out, err := c.Services().Create(ctx, svc)
			if err == nil {
				ips[i] = out.Spec.ClusterIp + fmt.Sprintf(" np=%d", out.Spec.Ports[0].NodePort)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	seenIP, seenPort := map[string]int{}, map[string]int{}
	for i, v := range ips {
		if errs[i] != nil {
			t.Fatalf("service %d: %v", i, errs[i])
		}
		var ip string
		var port int
		fmt.Sscanf(v, "%s np=%d", &ip, &port)
		seenIP[ip]++
		seenPort[strconv.Itoa(port)]++
	}
	if len(seenIP) != n || len(seenPort) != n {
		sorted := append([]string(nil), ips...)
		sort.Strings(sorted)
		t.Fatalf("want %d distinct IPs and node ports, got %d and %d: %v", n, len(seenIP), len(seenPort), sorted)
	}
	// Deleting releases: the freed IP can be requested explicitly.
	freed, _ := a.Client.Services().Get(ctx, "default", "svc-0")
	if _, err := a.Client.Services().Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: "svc-0"}); err != nil {
		t.Fatal(err)
	}
	again := &corev1.Service{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "again"},
		Spec: &corev1.ServiceSpec{ClusterIp: freed.Spec.ClusterIp, Ports: []*corev1.ServicePort{{Port: 80}}}}
	if _, err := b.Client.Services().Create(ctx, again); err != nil {
		t.Fatalf("re-using a released IP: %v", err)
	}
	dup := &corev1.Service{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "dup"},
		Spec: &corev1.ServiceSpec{ClusterIp: freed.Spec.ClusterIp, Ports: []*corev1.ServicePort{{Port: 80}}}}
	_, err := a.Client.Services().Create(ctx, dup)
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.clusterIP") || !strings.Contains(err.Error(), "provided IP is already allocated") {
		t.Fatalf("a second service asking for an allocated IP: got %v, want Invalid spec.clusterIP ... already allocated", err)
	}
}
