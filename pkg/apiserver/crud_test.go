package apiserver_test

import (
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/testutil"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

func cm(name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: name}, Data: data}
}

func TestCreateGetUpdateDelete(t *testing.T) {
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)
	cms := a.Client.ConfigMaps()
	created, err := cms.Create(ctx, cm("one", map[string]string{"a": "1"}))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.Metadata.Uid == "" || created.Metadata.ResourceVersion == "" || created.Metadata.CreationTimestamp == nil {
		t.Fatalf("create did not fill metadata: %v", created.Metadata)
	}
	if _, err := cms.Create(ctx, cm("one", nil)); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("second create: want AlreadyExists, got %v", err)
	}
	got, err := cms.Get(ctx, "default", "one")
	if err != nil || !proto.Equal(got, created) {
		t.Fatalf("get = %v, %v; want %v", got, err, created)
	}
	got.Data["b"] = "2"
	updated, err := cms.Update(ctx, got)
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if updated.Metadata.ResourceVersion == created.Metadata.ResourceVersion {
		t.Fatalf("update kept the resourceVersion")
	}
	// created is now stale: a conflict.
	created.Data["c"] = "3"
	if _, err := cms.Update(ctx, created); !apierrors.IsConflict(err) {
		t.Fatalf("stale update: want Conflict, got %v", err)
	}
	if _, err := cms.Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: "one"}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := cms.Get(ctx, "default", "one"); !apierrors.IsNotFound(err) {
		t.Fatalf("get after delete: want NotFound, got %v", err)
	}
	if _, err := cms.Create(ctx, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Namespace: "nope", Name: "x"}}); !apierrors.IsNotFound(err) {
		t.Fatalf("create in a missing namespace: want NotFound, got %v", err)
	}
}

func TestConcurrentUpdatesExactlyOneWins(t *testing.T) {
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)
	cms := a.Client.ConfigMaps()
	base, err := cms.Create(ctx, cm("race", map[string]string{"v": "0"}))
	if err != nil {
		t.Fatal(err)
	}
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := proto.Clone(base).(*corev1.ConfigMap)
			mine.Data["v"] = string(rune('a' + i))
			_, errs[i] = cms.Update(ctx, mine)
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case apierrors.IsConflict(err):
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d concurrent updates succeeded, want exactly 1 (errors: %v)", wins, errs)
	}
}

func TestWatchDeliversInOrder(t *testing.T) {
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)
	cms := a.Client.ConfigMaps()
	_, lm, err := cms.List(ctx, &metav1.ListOptions{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	w, err := cms.Watch(ctx, &metav1.ListOptions{Namespace: "default", ResourceVersion: lm.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	c, _ := cms.Create(ctx, cm("w", map[string]string{"k": "1"}))
	c.Data["k"] = "2"
	u, err := cms.Update(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: "w"}); err != nil {
		t.Fatal(err)
	}
	want := []client.EventType{client.Added, client.Modified, client.Deleted}
	for i, typ := range want {
		ev, err := w.Next()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if ev.Type != typ {
			t.Fatalf("event %d: type %s, want %s", i, ev.Type, typ)
		}
		if typ == client.Modified && ev.Object.Metadata.ResourceVersion != u.Metadata.ResourceVersion {
			t.Fatalf("modified event rv %s, want %s", ev.Object.Metadata.ResourceVersion, u.Metadata.ResourceVersion)
		}
	}
	_ = time.Second
}
