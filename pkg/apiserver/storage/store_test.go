package storage_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/apiserver/storage"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// startEtcd runs a single-member embedded etcd for the test and returns a client of it.
func startEtcd(t *testing.T) *clientv3.Client {
	t.Helper()
	cfg := embed.NewConfig()
	cfg.Dir = t.TempDir()
	cfg.Name = "test"
	free, _ := url.Parse("http://127.0.0.1:0")
	adv, _ := url.Parse("http://localhost:2380")
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*free}, []url.URL{*free}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*free}, []url.URL{*adv}
	cfg.InitialCluster = cfg.Name + "=" + adv.String()
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		t.Fatal("etcd not ready after 60s")
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{e.Clients[0].Addr().String()}, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func podWithLabel(v string) *corev1.Pod {
	return &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "p", Labels: map[string]string{"v": v}}}
}

func label(o api.Object) string { return o.GetMetadata().GetLabels()["v"] }

// TestGuaranteedUpdateFromStaleCache: updates start from the watch cache's copy; when that copy lags
// etcd, the update must still apply to the object as it is in etcd, a caller's precondition must be
// judged against etcd, a no-op against the cache must still be written, and a deleted object is NotFound.
func TestGuaranteedUpdateFromStaleCache(t *testing.T) {
	cli := startEtcd(t)
	res, err := api.Lookup("pods")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := storage.NewStore(cli, res, nil)
	c := storage.NewCacher(storage.CacherConfig{Store: st})
	if _, err := st.Create(ctx, podWithLabel("1"), nil); err != nil {
		t.Fatal(err)
	}
	cctx, stopCache := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(cctx) }()
	<-c.Ready()
	if o, ok := c.Get("default/p"); !ok || label(o) != "1" {
		t.Fatalf("cache has %v, want the pod with v=1", o)
	}
	// Freeze the cache at v=1, then move etcd on to v=2 behind its back.
	stopCache()
	<-done
	setLabel := func(v string) storage.UpdateFunc {
		return func(cur api.Object) (api.Object, *storage.Txn, error) {
			next := api.Clone(cur)
			api.Meta(next).Labels = map[string]string{"v": v}
			return next, nil, nil
		}
	}
	v2, err := st.GuaranteedUpdate(ctx, "default", "p", setLabel("2"))
	if err != nil || label(v2) != "2" {
		t.Fatalf("update to v=2: %v %v", v2, err)
	}
	if o, _ := c.Get("default/p"); label(o) != "1" {
		t.Fatalf("the cache moved on (%v): the test needs it stale", o)
	}

	t.Run("applies to the object in etcd", func(t *testing.T) {
		var seen []string
		out, err := st.GuaranteedUpdate(ctx, "default", "p", func(cur api.Object) (api.Object, *storage.Txn, error) {
			seen = append(seen, label(cur)+"@"+cur.GetMetadata().GetResourceVersion())
			next := api.Clone(cur)
			api.Meta(next).Annotations = map[string]string{"seen": label(cur)}
			return next, nil, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(seen) != 2 || seen[1] != "2@"+v2.GetMetadata().GetResourceVersion() {
			t.Errorf("fn saw %v; want the cached v=1 first, then v=2 at %s", seen, v2.GetMetadata().GetResourceVersion())
		}
		if label(out) != "2" || out.GetMetadata().GetAnnotations()["seen"] != "2" {
			t.Errorf("result %v: the update was applied to a stale object", out.GetMetadata())
		}
		got, _ := st.Get(ctx, "default", "p")
		if label(got) != "2" || got.GetMetadata().GetResourceVersion() != out.GetMetadata().GetResourceVersion() {
			t.Errorf("etcd has %v, want what the update returned %v", got.GetMetadata(), out.GetMetadata())
		}
		v2 = got
	})

	t.Run("precondition judged against etcd", func(t *testing.T) {
		want := v2.GetMetadata().GetResourceVersion()
		out, err := st.GuaranteedUpdate(ctx, "default", "p", func(cur api.Object) (api.Object, *storage.Txn, error) {
			if cur.GetMetadata().GetResourceVersion() != want {
				return nil, nil, apierrors.Conflict(res.GroupResource(), "p", apierrors.StaleResourceVersion)
			}
			return setLabel("3")(cur)
		})
		if err != nil || label(out) != "3" {
			t.Fatalf("update with the current resourceVersion failed against a stale cache: %v %v", out, err)
		}
		_, err = st.GuaranteedUpdate(ctx, "default", "p", func(cur api.Object) (api.Object, *storage.Txn, error) {
			return nil, nil, apierrors.Conflict(res.GroupResource(), "p", apierrors.StaleResourceVersion)
		})
		if !apierrors.IsConflict(err) {
			t.Errorf("an error from fn on the object in etcd = %v, want it returned (Conflict)", err)
		}
	})

	t.Run("no-op against the cache is still written", func(t *testing.T) {
		out, err := st.GuaranteedUpdate(ctx, "default", "p", setLabel("1"))
		if err != nil || label(out) != "1" {
			t.Fatalf("update to v=1: %v %v", out, err)
		}
		if got, _ := st.Get(ctx, "default", "p"); label(got) != "1" {
			t.Errorf("etcd has v=%s, want 1: an update equal to the stale cached object was dropped", label(got))
		}
		again, err := st.GuaranteedUpdate(ctx, "default", "p", setLabel("1"))
		if err != nil || again.GetMetadata().GetResourceVersion() != out.GetMetadata().GetResourceVersion() {
			t.Errorf("a real no-op wrote: %v -> %v (%v)", out.GetMetadata().GetResourceVersion(), again.GetMetadata().GetResourceVersion(), err)
		}
	})

	t.Run("deleted in etcd", func(t *testing.T) {
		if _, err := cli.Delete(ctx, st.KeyFor("default", "p")); err != nil {
			t.Fatal(err)
		}
		_, err := st.GuaranteedUpdate(ctx, "default", "p", setLabel("4"))
		if !apierrors.IsNotFound(err) {
			t.Errorf("update of a pod deleted behind the cache = %v, want NotFound", err)
		}
		if resp, _ := cli.Get(ctx, st.KeyFor("default", "p")); len(resp.Kvs) != 0 {
			t.Error("the update recreated the deleted pod")
		}
	})
}

// TestGuaranteedUpdateConcurrent: many writers incrementing one counter through a live cache lose no
// increment.
func TestGuaranteedUpdateConcurrent(t *testing.T) {
	cli := startEtcd(t)
	res, _ := api.Lookup("pods")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st := storage.NewStore(cli, res, nil)
	c := storage.NewCacher(storage.CacherConfig{Store: st})
	go func() { _ = c.Run(ctx) }()
	<-c.Ready()
	if _, err := st.Create(ctx, podWithLabel("0"), nil); err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 25
	errs := make(chan error, writers)
	for range writers {
		go func() {
			for range each {
				_, err := st.GuaranteedUpdate(ctx, "default", "p", func(cur api.Object) (api.Object, *storage.Txn, error) {
					next := api.Clone(cur)
					m := api.Meta(next)
					if m.Annotations == nil {
						m.Annotations = map[string]string{}
					}
					n := len(m.Annotations["n"])
					m.Annotations["n"] = string(make([]byte, n+1))
					return next, nil, nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.Get(ctx, "default", "p")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.GetMetadata().GetAnnotations()["n"]); n != writers*each {
		t.Errorf("counter = %d, want %d: increments were lost", n, writers*each)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Error("timed out")
	}
}
