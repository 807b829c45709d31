package namespace_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/client/informer"
	"github.com/coxswain/coxswain/pkg/client/record"
	ctesting "github.com/coxswain/coxswain/pkg/controllers/internal/testing"
	"github.com/coxswain/coxswain/pkg/controllers/namespace"
	cxtest "github.com/coxswain/coxswain/pkg/testutil"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

func TestNamespaceDeletion(t *testing.T) {
	a := cxtest.StartAPIServer(t)
	ctx, c := cxtest.Context(t), a.Client
	// A kubelet removes deleted pods 2s after they were marked.
	ctesting.StartHollowKubelet(t, ctesting.KubeletConfig{Client: c, DeleteDelay: 2 * time.Second, Namespace: "team", Logger: cxtest.Logger()})
	f := informer.NewFactory(c, 0, cxtest.Logger())
	ctrl, err := namespace.New(namespace.Config{Client: c, Factory: f, Recorder: &record.FakeRecorder{}, Registerer: prometheus.NewRegistry(),
		Logger: cxtest.Logger(), RecheckPeriod: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	f.Start(runCtx)
	done := make(chan error, 1)
	go func() { done <- ctrl.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })

	for _, ns := range []string{"team", "other"} {
		if _, err := c.Namespaces().Create(ctx, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"one", "two"} {
			if _, err := c.ConfigMaps().Create(ctx, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Held by a finalizer nobody but the test removes.
	if _, err := c.ConfigMaps().Create(ctx, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Namespace: "team", Name: "held", Finalizers: []string{"test/hold"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Secrets().Create(ctx, &corev1.Secret{Metadata: &metav1.ObjectMeta{Namespace: "team", Name: "s"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Services().Create(ctx, &corev1.Service{Metadata: &metav1.ObjectMeta{Namespace: "team", Name: "svc"},
		Spec: &corev1.ServiceSpec{Ports: []*corev1.ServicePort{{Port: 80, Protocol: "TCP"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReplicaSets().Create(ctx, &appsv1.ReplicaSet{Metadata: &metav1.ObjectMeta{Namespace: "team", Name: "rs"},
		Spec: &appsv1.ReplicaSetSpec{Replicas: proto.Int32(0), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
			Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"a": "b"}},
				Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "img"}}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pods().Create(ctx, &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: "team", Name: "p"},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "img"}}}}); err != nil {
		t.Fatal(err)
	}
	cxtest.Eventually(t, 30*time.Second, func() bool {
		p, err := c.Pods().Get(ctx, "team", "p")
		return err == nil && p.GetSpec().GetNodeName() != ""
	}, "the hollow kubelet did not bind the pod")

	if _, err := c.Namespaces().Delete(ctx, &metav1.DeleteRequest{Name: "team"}); err != nil {
		t.Fatal(err)
	}
	// Everything but the held ConfigMap goes (the pod after its kubelet finished it).
	count := func() int {
		cms, _, _ := c.ConfigMaps().List(ctx, &metav1.ListOptions{Namespace: "team"})
		secrets, _, _ := c.Secrets().List(ctx, &metav1.ListOptions{Namespace: "team"})
		svcs, _, _ := c.Services().List(ctx, &metav1.ListOptions{Namespace: "team"})
		rss, _, _ := c.ReplicaSets().List(ctx, &metav1.ListOptions{Namespace: "team"})
		pods, _, _ := c.Pods().List(ctx, &metav1.ListOptions{Namespace: "team"})
		return len(cms) + len(secrets) + len(svcs) + len(rss) + len(pods)
	}
	cxtest.Eventually(t, 30*time.Second, func() bool { return count() == 1 }, "namespace content not deleted (%d objects left)", count())
	held, err := c.ConfigMaps().Get(ctx, "team", "held")
	if err != nil || held.GetMetadata().GetDeletionTimestamp() == nil {
		t.Fatalf("held configmap: %v, %v", held, err)
	}
	// The namespace waits, Terminating, for its last object.
	time.Sleep(time.Second)
	ns, err := c.Namespaces().Get(ctx, "", "team")
	if err != nil {
		t.Fatalf("namespace went before it was empty: %v", err)
	}
	if ns.GetStatus().GetPhase() != "Terminating" || len(ns.GetSpec().GetFinalizers()) != 1 {
		t.Fatalf("namespace phase %q finalizers %v; want Terminating with %q", ns.GetStatus().GetPhase(), ns.GetSpec().GetFinalizers(), namespace.Finalizer)
	}
	held.Metadata.Finalizers = nil
	if _, err := c.ConfigMaps().Update(ctx, held); err != nil {
		t.Fatal(err)
	}
	cxtest.Eventually(t, 30*time.Second, func() bool {
		_, err := c.Namespaces().Get(ctx, "", "team")
		return apierrors.IsNotFound(err)
	}, "namespace not deleted once empty")
	// The other namespace is untouched.
	if cms, _, err := c.ConfigMaps().List(ctx, &metav1.ListOptions{Namespace: "other"}); err != nil || len(cms) != 2 {
		t.Fatalf("other namespace: %d configmaps, %v", len(cms), err)
	}
	if ns, err := c.Namespaces().Get(ctx, "", "other"); err != nil || ns.GetMetadata().GetDeletionTimestamp() != nil {
		t.Fatalf("other namespace: %v, %v", ns, err)
	}
}
