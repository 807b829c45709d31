package informer_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/client/informer"
	"github.com/coxswain/coxswain/pkg/testutil"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// registeredWatchers reads the apiserver's apiserver_registered_watchers gauge for resource.
func registeredWatchers(t *testing.T, a *testutil.APIServer, resource string) float64 {
	t.Helper()
	mfs, err := a.Server.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "apiserver_registered_watchers" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "resource" && l.GetValue() == resource {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}

func TestFactorySharesAndStartsInformers(t *testing.T) {
	t.Parallel()
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)
	pods := a.Client.Pods()
	for _, n := range []string{"p1", "p2"} {
		p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: n},
			Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app", Image: "nginx:1.25"}}}}
		created, err := pods.Create(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if n == "p1" {
			if _, err := a.Client.Bind(ctx, "default", n, created.Metadata.Uid, "node-1"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := a.Client.ConfigMaps().Create(ctx, configMap("late", nil, nil)); err != nil {
		t.Fatal(err)
	}

	f := informer.NewFactory(a.Client, 100*time.Millisecond, testutil.Logger())
	all := f.Pods()
	onNode := informer.For[*corev1.Pod](f, api.Pods, informer.Config{FieldSelector: "spec.nodeName=node-1"})
	// The same resource and config is one informer; another config is another.
	if f.Pods() != all || informer.For[*corev1.Pod](f, api.Pods, informer.Config{}) != all {
		t.Fatal("f.Pods() returned different informers")
	}
	if informer.For[*corev1.Pod](f, api.Pods, informer.Config{FieldSelector: "spec.nodeName=node-1"}) != onNode || onNode == all {
		t.Fatal("informers with a field selector are not shared per config")
	}
	var resyncs atomic.Int32
	all.AddHandler(informer.Handler[*corev1.Pod]{OnUpdate: func(old, cur *corev1.Pod) {
		if old == cur {
			resyncs.Add(1)
		}
	}})

	// Not started: not synced.
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	if f.WaitForSync(cctx) {
		t.Fatal("WaitForSync true before Start")
	}
	cancel()

	fctx, stop := context.WithCancel(ctx)
	defer stop()
	f.Start(fctx)
	f.Start(fctx) // starting twice runs nothing twice
	sctx, scancel := context.WithTimeout(ctx, 20*time.Second)
	defer scancel()
	if !f.WaitForSync(sctx) {
		t.Fatal("factory did not sync")
	}
	if got := keysOf(all.List()); !slices.Equal(got, []string{"default/p1", "default/p2"}) {
		t.Fatalf("all pods: %v", got)
	}
	if got := keysOf(onNode.List()); !slices.Equal(got, []string{"default/p1"}) {
		t.Fatalf("pods on node-1: %v", got)
	}
	// One watch per informer reaches the apiserver, however many times it was asked for or started.
	testutil.Eventually(t, 10*time.Second, func() bool { return registeredWatchers(t, a, "pods") == 2 },
		"apiserver has %v pod watchers, want 2", registeredWatchers(t, a, "pods"))

	// An informer created after Start starts by itself, and the factory waits for it too.
	late := f.ConfigMaps()
	if !late.WaitForSync(sctx) || !f.WaitForSync(sctx) {
		t.Fatal("late informer did not sync")
	}
	if got := keysOf(late.List()); !slices.Equal(got, []string{"default/late"}) {
		t.Fatalf("late informer: %v", got)
	}
	// The factory's resync period reaches its informers.
	testutil.Eventually(t, 10*time.Second, func() bool { return resyncs.Load() >= 4 }, "no resyncs from the factory's period")

	time.Sleep(300 * time.Millisecond) // let resync ticks pass: the watch count must not grow
	if n := registeredWatchers(t, a, "pods"); n != 2 {
		t.Fatalf("apiserver has %v pod watchers, want 2", n)
	}
	if n := registeredWatchers(t, a, "configmaps"); n != 1 {
		t.Fatalf("apiserver has %v configmap watchers, want 1", n)
	}
	stop()
	testutil.Eventually(t, 10*time.Second, func() bool { return registeredWatchers(t, a, "pods") == 0 },
		"pod watches still open after the factory's context ended")
}
