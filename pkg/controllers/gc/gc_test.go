package gc_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/client/informer"
	"github.com/coxswain/coxswain/pkg/client/record"
	"github.com/coxswain/coxswain/pkg/controllers/gc"
	ctesting "github.com/coxswain/coxswain/pkg/controllers/internal/testing"
	cxtest "github.com/coxswain/coxswain/pkg/testutil"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

type env struct {
	a   *cxtest.APIServer
	c   *client.Client
	ctx context.Context
}

// start runs an apiserver and a garbage collector whose client gets extra dial options.
func start(t *testing.T, opts ...grpc.DialOption) *env {
	t.Helper()
	a := cxtest.StartAPIServer(t)
	gcClient, err := client.New(client.Config{Server: a.Addr, DialOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gcClient.Close() })
	f := informer.NewFactory(gcClient, 0, cxtest.Logger())
	g, err := gc.New(gc.Config{Client: gcClient, Factory: f, Recorder: &record.FakeRecorder{}, Registerer: prometheus.NewRegistry(), Logger: cxtest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(cxtest.Context(t))
	f.Start(ctx)
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &env{a: a, c: a.Client, ctx: ctx}
}

func template(app string) *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "img"}}}}
}

func ref(kind, apiVersion string, o api.Object, block bool) *metav1.OwnerReference {
	return &metav1.OwnerReference{ApiVersion: apiVersion, Kind: kind, Name: o.GetMetadata().GetName(), Uid: o.GetMetadata().GetUid(),
		Controller: proto.Bool(true), BlockOwnerDeletion: proto.Bool(block)}
}

func (e *env) deployment(t *testing.T, name string) *appsv1.Deployment {
	t.Helper()
	d, err := e.c.Deployments().Create(e.ctx, &appsv1.Deployment{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: &appsv1.DeploymentSpec{Replicas: proto.Int32(0), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}, Template: template(name)}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (e *env) replicaSet(t *testing.T, name string, owners ...*metav1.OwnerReference) *appsv1.ReplicaSet {
	t.Helper()
	rs, err := e.c.ReplicaSets().Create(e.ctx, &appsv1.ReplicaSet{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: name, OwnerReferences: owners},
		Spec: &appsv1.ReplicaSetSpec{Replicas: proto.Int32(0), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}, Template: template(name)}})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// pod creates a pod; a non-empty node binds it, so that deleting it only marks it (a kubelet would finish).
func (e *env) pod(t *testing.T, name, node string, owners ...*metav1.OwnerReference) *corev1.Pod {
	t.Helper()
	p, err := e.c.Pods().Create(e.ctx, &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: name, OwnerReferences: owners},
		Spec: &corev1.PodSpec{NodeName: node, Containers: []*corev1.Container{{Name: "c", Image: "img"}}}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func rsRef(rs *appsv1.ReplicaSet, block bool) *metav1.OwnerReference {
	return ref("ReplicaSet", "apps/v1", rs, block)
}

func (e *env) waitGone(t *testing.T, what string, get func() error) {
	t.Helper()
	cxtest.Eventually(t, 30*time.Second, func() bool { return apierrors.IsNotFound(get()) }, "%s was not deleted", what)
}

func (e *env) getPod(name string) (*corev1.Pod, error) { return e.c.Pods().Get(e.ctx, "default", name) }

func (e *env) getRS(name string) (*appsv1.ReplicaSet, error) {
	return e.c.ReplicaSets().Get(e.ctx, "default", name)
}

func errOf[T any](_ T, err error) error { return err }

// stays asserts that cond holds for the whole of d.
func stays(t *testing.T, d time.Duration, cond func() bool, msg string) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if !cond() {
			t.Fatal(msg)
		}
	}
}

func TestBackgroundCascade(t *testing.T) {
	e := start(t)
	d := e.deployment(t, "web")
	rs := e.replicaSet(t, "web-1", ref("Deployment", "apps/v1", d, true))
	e.pod(t, "web-1-a", "", rsRef(rs, true))
	e.pod(t, "web-1-b", "", rsRef(rs, true))
	cm, err := e.c.ConfigMaps().Create(e.ctx, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "keeper"}})
	if err != nil {
		t.Fatal(err)
	}
	cmRef := ref("ConfigMap", "v1", cm, false)
	cmRef.Controller = proto.Bool(false) // only one controller reference per object
	e.pod(t, "shared", "", rsRef(rs, false), cmRef)

	// Deleting the Deployment (background) removes the ReplicaSet, then its pods.
	if _, err := e.c.Deployments().Delete(e.ctx, &metav1.DeleteRequest{Namespace: "default", Name: "web"}); err != nil {
		t.Fatal(err)
	}
	e.waitGone(t, "replicaset web-1", func() error { return errOf(e.getRS("web-1")) })
	e.waitGone(t, "pod web-1-a", func() error { return errOf(e.getPod("web-1-a")) })
	e.waitGone(t, "pod web-1-b", func() error { return errOf(e.getPod("web-1-b")) })
	// The pod with a second, live owner stays and only loses the reference to the ReplicaSet.
	cxtest.Eventually(t, 30*time.Second, func() bool {
		p, err := e.getPod("shared")
		return err == nil && len(p.GetMetadata().GetOwnerReferences()) == 1 && p.GetMetadata().GetOwnerReferences()[0].GetKind() == "ConfigMap"
	}, "pod shared did not keep exactly its ConfigMap owner")
}

func TestOwnerWithAnotherUIDIsGone(t *testing.T) {
	e := start(t)
	rs := e.replicaSet(t, "app")
	e.pod(t, "mine", "", rsRef(rs, true))
	stale := rsRef(rs, true)
	stale.Uid = "00000000-0000-0000-0000-000000000000" // an earlier incarnation of "app"
	e.pod(t, "stale", "", stale)
	e.waitGone(t, "pod stale", func() error { return errOf(e.getPod("stale")) })
	if _, err := e.getPod("mine"); err != nil {
		t.Fatalf("pod of the live owner: %v", err)
	}
	// A pod whose owner kind is namespaced but missing altogether goes too.
	e.pod(t, "nobody", "", &metav1.OwnerReference{ApiVersion: "apps/v1", Kind: "ReplicaSet", Name: "never", Uid: "11111111-1111-1111-1111-111111111111"})
	e.waitGone(t, "pod nobody", func() error { return errOf(e.getPod("nobody")) })
}

func TestOrphan(t *testing.T) {
	e := start(t)
	rs := e.replicaSet(t, "app")
	e.pod(t, "a", "", rsRef(rs, true))
	e.pod(t, "b", "node-1", rsRef(rs, true))
	if _, err := e.c.ReplicaSets().Delete(e.ctx, &metav1.DeleteRequest{Namespace: "default", Name: "app", PropagationPolicy: "Orphan"}); err != nil {
		t.Fatal(err)
	}
	e.waitGone(t, "replicaset app", func() error { return errOf(e.getRS("app")) })
	for _, n := range []string{"a", "b"} {
		p, err := e.getPod(n)
		if err != nil {
			t.Fatalf("orphaned pod %s: %v", n, err)
		}
		if len(p.GetMetadata().GetOwnerReferences()) != 0 || p.GetMetadata().GetDeletionTimestamp() != nil {
			t.Fatalf("orphaned pod %s: ownerReferences %v, deletionTimestamp %v", n, p.GetMetadata().GetOwnerReferences(), p.GetMetadata().GetDeletionTimestamp())
		}
	}
	stays(t, time.Second, func() bool { return errOf(e.getPod("a")) == nil }, "orphaned pod deleted later")
}

func TestForeground(t *testing.T) {
	e := start(t)
	rs := e.replicaSet(t, "app")
	// Bound pods: deleting marks them and a kubelet (the test, here) removes them.
	e.pod(t, "a", "node-1", rsRef(rs, true))
	e.pod(t, "b", "node-1", rsRef(rs, true))
	if _, err := e.c.ConfigMaps().Create(e.ctx, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "side",
		OwnerReferences: []*metav1.OwnerReference{rsRef(rs, false)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.ReplicaSets().Delete(e.ctx, &metav1.DeleteRequest{Namespace: "default", Name: "app", PropagationPolicy: "Foreground"}); err != nil {
		t.Fatal(err)
	}
	cxtest.Eventually(t, 30*time.Second, func() bool {
		a, errA := e.getPod("a")
		b, errB := e.getPod("b")
		return errA == nil && errB == nil && a.GetMetadata().GetDeletionTimestamp() != nil && b.GetMetadata().GetDeletionTimestamp() != nil
	}, "the pods were not deleted")
	e.waitGone(t, "non-blocking configmap dependent", func() error { return errOf(e.c.ConfigMaps().Get(e.ctx, "default", "side")) })
	stays(t, 2*time.Second, func() bool {
		r, err := e.getRS("app")
		return err == nil && r.GetMetadata().GetDeletionTimestamp() != nil && slices.Contains(r.GetMetadata().GetFinalizers(), gc.FinalizerForeground)
	}, "the ReplicaSet did not stay, marked, while its pods were terminating")

	// The kubelet finishes one pod: the ReplicaSet still waits for the other.
	kubeletRemove(t, e, "a")
	stays(t, time.Second, func() bool { return errOf(e.getRS("app")) == nil }, "the ReplicaSet went before its last pod")
	kubeletRemove(t, e, "b")
	e.waitGone(t, "replicaset app", func() error { return errOf(e.getRS("app")) })
}

func kubeletRemove(t *testing.T, e *env, name string) {
	t.Helper()
	if _, err := e.c.Pods().Delete(e.ctx, &metav1.DeleteRequest{Namespace: "default", Name: name, GracePeriodSeconds: proto.Int64(0)}); err != nil {
		t.Fatalf("remove pod %s: %v", name, err)
	}
}

func TestForegroundNested(t *testing.T) {
	e := start(t)
	// A hollow kubelet removes marked pods after 2s, as a real one would once the containers stopped.
	ctesting.StartHollowKubelet(t, ctesting.KubeletConfig{Client: e.c, DeleteDelay: 2 * time.Second, Logger: cxtest.Logger()})
	d := e.deployment(t, "web")
	rs := e.replicaSet(t, "web-1", ref("Deployment", "apps/v1", d, true))
	e.pod(t, "web-1-a", "", rsRef(rs, true))
	e.pod(t, "web-1-b", "", rsRef(rs, true))
	cxtest.Eventually(t, 30*time.Second, func() bool {
		p, err := e.getPod("web-1-b")
		return err == nil && p.GetStatus().GetPhase() == "Running"
	}, "the hollow kubelet did not run the pods")
	if _, err := e.c.Deployments().Delete(e.ctx, &metav1.DeleteRequest{Namespace: "default", Name: "web", PropagationPolicy: "Foreground"}); err != nil {
		t.Fatal(err)
	}
	// The ReplicaSet is deleted in the foreground too (it blocks the Deployment and has pods), so the
	// Deployment waits for the pods.
	cxtest.Eventually(t, 30*time.Second, func() bool {
		r, err := e.getRS("web-1")
		return err == nil && slices.Contains(r.GetMetadata().GetFinalizers(), gc.FinalizerForeground)
	}, "the ReplicaSet was not deleted in the foreground")
	cxtest.Eventually(t, 30*time.Second, func() bool {
		p, err := e.getPod("web-1-a")
		return err == nil && p.GetMetadata().GetDeletionTimestamp() != nil
	}, "pod web-1-a was not deleted")
	if _, err := e.c.Deployments().Get(e.ctx, "default", "web"); err != nil {
		t.Fatalf("the Deployment went while its pods were terminating: %v", err)
	}
	e.waitGone(t, "pod web-1-a", func() error { return errOf(e.getPod("web-1-a")) })
	e.waitGone(t, "pod web-1-b", func() error { return errOf(e.getPod("web-1-b")) })
	e.waitGone(t, "replicaset web-1", func() error { return errOf(e.getRS("web-1")) })
	e.waitGone(t, "deployment web", func() error { return errOf(e.c.Deployments().Get(e.ctx, "default", "web")) })
}

// TestLiveCheckBeforeDelete: the collector's ReplicaSet cache lags 3s behind, so a new pod's owner is not
// in it yet; the collector must confirm with the apiserver instead of deleting the pod.
func TestLiveCheckBeforeDelete(t *testing.T) {
	e := start(t, ctesting.LaggingWatches(3*time.Second, appsv1.ReplicaSetService_ServiceDesc.ServiceName))
	time.Sleep(500 * time.Millisecond) // let the lagging informers list and start watching
	rs := e.replicaSet(t, "fresh")
	e.pod(t, "p", "", rsRef(rs, true))
	stays(t, 5*time.Second, func() bool { return errOf(e.getPod("p")) == nil }, "pod deleted while its owner exists")
	// And once the owner is really gone, the pod goes (the check does not just refuse everything).
	if _, err := e.c.ReplicaSets().Delete(e.ctx, &metav1.DeleteRequest{Namespace: "default", Name: "fresh"}); err != nil {
		t.Fatal(err)
	}
	e.waitGone(t, "pod p", func() error { return errOf(e.getPod("p")) })
}
