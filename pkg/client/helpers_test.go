package client_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/testutil"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

func configMap(ns, name string, labels map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Data: map[string]string{"k": "v"}}
}

func pod(ns, name string) *corev1.Pod {
	return &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": name}},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app", Image: "nginx:1.25"}}}}
}

func createNamespace(t *testing.T, ctx context.Context, c *client.Client, name string) {
	t.Helper()
	if _, err := c.Namespaces().Create(ctx, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

// compactEtcd compacts the apiserver's etcd at its current revision and returns that revision.
func compactEtcd(t *testing.T, ctx context.Context, a *testutil.APIServer) int64 {
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
	rev := resp.Header.Revision
	if _, err := cli.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil {
		t.Fatalf("etcd compact at %d: %v", rev, err)
	}
	return rev
}

// events pumps a watch into a channel; the channel closes when the watch ends, and Err tells why.
type events[T api.Object] struct {
	ch  chan client.Event[T]
	mu  sync.Mutex
	err error
}

func pump[T api.Object](w *client.Watch[T]) *events[T] {
	e := &events[T]{ch: make(chan client.Event[T], 1024)}
	go func() {
		defer close(e.ch)
		for {
			ev, err := w.Next()
			if err != nil {
				e.mu.Lock()
				e.err = err
				e.mu.Unlock()
				return
			}
			e.ch <- ev
		}
	}()
	return e
}

func (e *events[T]) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// next returns the next event that is not a bookmark (unless bookmarks is set).
func (e *events[T]) next(t *testing.T, timeout time.Duration, bookmarks bool) client.Event[T] {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-e.ch:
			if !ok {
				t.Fatalf("watch ended: %v", e.Err())
			}
			if ev.Type == client.Bookmark && !bookmarks {
				continue
			}
			return ev
		case <-deadline:
			t.Fatalf("no watch event within %v", timeout)
		}
	}
}

// expect reads len(want) events ("TYPE name") and compares them in order.
func (e *events[T]) expect(t *testing.T, want ...string) []client.Event[T] {
	t.Helper()
	var got []string
	var evs []client.Event[T]
	for range want {
		ev := e.next(t, 10*time.Second, false)
		evs = append(evs, ev)
		got = append(got, fmt.Sprintf("%s %s", ev.Type, ev.Object.GetMetadata().GetName()))
	}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("watch events\n  got  %q\n  want %q", got, want)
	}
	return evs
}

// expectNone fails if a non-bookmark event arrives within d.
func (e *events[T]) expectNone(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev, ok := <-e.ch:
			if !ok {
				t.Fatalf("watch ended: %v", e.Err())
			}
			if ev.Type != client.Bookmark {
				t.Fatalf("unexpected event %s %s", ev.Type, ev.Object.GetMetadata().GetName())
			}
		case <-deadline:
			return
		}
	}
}
