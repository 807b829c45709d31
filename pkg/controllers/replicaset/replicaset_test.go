package replicaset

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/client/informer"
	"github.com/coxswain/coxswain/pkg/client/record"
	"github.com/coxswain/coxswain/pkg/controllers/internal"
	ctesting "github.com/coxswain/coxswain/pkg/controllers/internal/testing"
	cxtestutil "github.com/coxswain/coxswain/pkg/testutil"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

const wait = 60 * time.Second // generous: the machine is shared and noisy

type env struct {
	api *cxtestutil.APIServer
	c   *client.Client
	rec *record.FakeRecorder
	reg *prometheus.Registry
	k   *ctesting.HollowKubelet
}

type envOptions struct {
	// watchLag delays the pod watch events the controller's informer receives.
	watchLag time.Duration
	kubelet  ctesting.KubeletConfig
}

// startEnv runs an apiserver, the ReplicaSet controller (with its own informer factory) and a hollow
// kubelet.
func startEnv(t *testing.T, opts envOptions) *env {
	t.Helper()
	a := cxtestutil.StartAPIServer(t)
	e := &env{api: a, c: a.Client, rec: &record.FakeRecorder{}, reg: prometheus.NewRegistry()}
	cc := a.Client
	if opts.watchLag > 0 {
		var err error
		cc, err = client.New(client.Config{Server: a.Addr, UserAgent: "lagging-controller",
			DialOptions: []grpc.DialOption{ctesting.LaggingWatches(opts.watchLag, api.Pods.Service)}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
	}
	f := informer.NewFactory(cc, 0, cxtestutil.Logger())
	rsc, err := New(Config{Client: cc, Factory: f, Recorder: e.rec, Registerer: e.reg, Logger: cxtestutil.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.Start(ctx)
	if !f.WaitForSync(cxtestutil.Context(t)) {
		cancel()
		t.Fatal("informers did not sync")
	}
	done := make(chan error, 1)
	go func() { done <- rsc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	kcfg := opts.kubelet
	kcfg.Client = a.Client
	kcfg.Logger = cxtestutil.Logger()
	e.k = ctesting.StartHollowKubelet(t, kcfg)
	return e
}

func newRS(name string, replicas int32, labels map[string]string) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		Metadata: &metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: &appsv1.ReplicaSetSpec{
			Replicas: proto.Int32(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: &corev1.PodTemplateSpec{
				Metadata: &metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{"note": "from-template"}},
				Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app", Image: "demo:v1"}}},
			},
		},
	}
}

// activePods lists the pods of the label selector that count as replicas.
func (e *env) activePods(t *testing.T, selector string) []*corev1.Pod {
	t.Helper()
	var pods []*corev1.Pod
	ctesting.Retry(t, "list pods", func() (err error) {
		pods, _, err = e.c.Pods().List(context.Background(), &metav1.ListOptions{Namespace: "default", LabelSelector: selector})
		return err
	})
	return internal.FilterActivePods(pods)
}

func (e *env) getRS(t *testing.T, name string) *appsv1.ReplicaSet {
	t.Helper()
	var rs *appsv1.ReplicaSet
	ctesting.Retry(t, "get replica set "+name, func() (err error) {
		rs, err = e.c.ReplicaSets().Get(context.Background(), "default", name)
		return err
	})
	return rs
}

// waitStatus waits until the ReplicaSet's status reports want ready+available replicas for its generation.
func (e *env) waitStatus(t *testing.T, name string, want int32) *appsv1.ReplicaSet {
	t.Helper()
	var rs *appsv1.ReplicaSet
	cxtestutil.Eventually(t, wait, func() bool {
		rs = e.getRS(t, name)
		st := rs.GetStatus()
		return st.GetObservedGeneration() == rs.GetMetadata().GetGeneration() && st.GetReplicas() == want &&
			st.GetReadyReplicas() == want && st.GetAvailableReplicas() == want && st.GetFullyLabeledReplicas() == want
	}, "ReplicaSet %s status never reached %d ready/available replicas", name, want)
	return rs
}

func (e *env) getPod(t *testing.T, name string) *corev1.Pod {
	t.Helper()
	var p *corev1.Pod
	ctesting.Retry(t, "get pod "+name, func() (err error) {
		p, err = e.c.Pods().Get(context.Background(), "default", name)
		return err
	})
	return p
}

func (e *env) scale(t *testing.T, name string, replicas int32) {
	t.Helper()
	ctesting.Retry(t, fmt.Sprintf("scale %s to %d", name, replicas), func() error {
		rs := e.getRS(t, name)
		rs.Spec.Replicas = proto.Int32(replicas)
		_, err := e.c.ReplicaSets().Update(context.Background(), rs)
		if apierrors.IsConflict(err) {
			return apierrors.New(apierrors.ReasonTimeout, "%v", err) // retry with a fresh read
		}
		return err
	})
}

// create creates obj once, even when a transient error hid a success.
func create[T api.Object](t *testing.T, r *client.Resource[T], obj T) T {
	t.Helper()
	var out T
	tried := false
	ctesting.Retry(t, "create "+obj.GetMetadata().GetName(), func() (err error) {
		out, err = r.Create(context.Background(), obj)
		if apierrors.IsAlreadyExists(err) && tried {
			out, err = r.Get(context.Background(), obj.GetMetadata().GetNamespace(), obj.GetMetadata().GetName())
		}
		tried = true
		return err
	})
	return out
}

func countEvents(rec *record.FakeRecorder, prefix string) int {
	n := 0
	for _, ev := range rec.Recorded() {
		if strings.HasPrefix(ev, prefix) {
			n++
		}
	}
	return n
}

func TestReplicaSetKeepsReplicas(t *testing.T) {
	e := startEnv(t, envOptions{})
	ctx := cxtestutil.Context(t)
	labels := map[string]string{"app": "web"}
	created := create(t, e.c.ReplicaSets(), newRS("web", 3, labels))
	e.waitStatus(t, "web", 3)
	pods := e.activePods(t, "app=web")
	if len(pods) != 3 {
		t.Fatalf("got %d pods, want 3", len(pods))
	}
	for _, p := range pods {
		m := p.GetMetadata()
		if !strings.HasPrefix(m.GetName(), "web-") || m.GetGenerateName() != "web-" {
			t.Errorf("pod %s: name/generateName not derived from the ReplicaSet (%q)", m.GetName(), m.GetGenerateName())
		}
		if m.GetLabels()["app"] != "web" || m.GetAnnotations()["note"] != "from-template" {
			t.Errorf("pod %s: labels %v annotations %v not copied from the template", m.GetName(), m.GetLabels(), m.GetAnnotations())
		}
		refs := m.GetOwnerReferences()
		want := &metav1.OwnerReference{ApiVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", Uid: created.GetMetadata().GetUid(),
			Controller: proto.Bool(true), BlockOwnerDeletion: proto.Bool(true)}
		if len(refs) != 1 || !proto.Equal(refs[0], want) {
			t.Errorf("pod %s: ownerReferences %v, want [%v]", m.GetName(), refs, want)
		}
		if p.GetSpec().GetContainers()[0].GetImage() != "demo:v1" {
			t.Errorf("pod %s: spec not copied from the template", m.GetName())
		}
	}
	if n := countEvents(e.rec, "Normal SuccessfulCreate Created pod: web-"); n != 3 {
		t.Errorf("got %d SuccessfulCreate events, want 3: %v", n, e.rec.Recorded())
	}

	// A pod deleted by hand is replaced.
	victim := pods[0].GetMetadata().GetName()
	ctesting.Retry(t, "delete pod", func() error {
		_, err := e.c.Pods().Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: victim})
		return err
	})
	cxtestutil.Eventually(t, wait, func() bool {
		pods := e.activePods(t, "app=web")
		if len(pods) != 3 {
			return false
		}
		for _, p := range pods {
			if p.GetMetadata().GetName() == victim {
				return false
			}
		}
		return true
	}, "deleted pod %s was not replaced", victim)
	e.waitStatus(t, "web", 3)
	if n := countEvents(e.rec, "Normal SuccessfulCreate"); n != 4 {
		t.Errorf("got %d SuccessfulCreate events after one replacement, want 4", n)
	}
}

func TestReplicaSetScale(t *testing.T) {
	e := startEnv(t, envOptions{})
	tracker := ctesting.TrackPods(t, e.c, "default", "app=scale", nil)
	create(t, e.c.ReplicaSets(), newRS("scale", 3, map[string]string{"app": "scale"}))
	e.waitStatus(t, "scale", 3)
	for _, n := range []int32{50, 0, 2} {
		e.scale(t, "scale", n)
		rs := e.waitStatus(t, "scale", n)
		if got := len(e.activePods(t, "app=scale")); got != int(n) {
			t.Fatalf("after scaling to %d: %d active pods", n, got)
		}
		if rs.GetStatus().GetObservedGeneration() != rs.GetMetadata().GetGeneration() {
			t.Fatalf("observedGeneration %d, generation %d", rs.GetStatus().GetObservedGeneration(), rs.GetMetadata().GetGeneration())
		}
	}
	// Scaling to 0 deleted every pod (the hollow kubelet then removed them): 3+47 created, 50 deleted, 2 created.
	cxtestutil.Eventually(t, wait, func() bool { return len(tracker.Pods()) == 2 }, "pods deleted by the scale-down never went away")
	if got := tracker.Added(); got != 52 {
		t.Errorf("pods created = %d, want 52", got)
	}
	if got := countEvents(e.rec, "Normal SuccessfulDelete"); got != 50 {
		t.Errorf("SuccessfulDelete events = %d, want 50", got)
	}
	if got := testutil.ToFloat64(mustCounter(t, e.reg, "coxswain_replicaset_pod_creations_total", "success")); got != 52 {
		t.Errorf("coxswain_replicaset_pod_creations_total{result=success} = %v, want 52", got)
	}
}

func mustCounter(t *testing.T, reg *prometheus.Registry, name, result string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					c := prometheus.NewCounter(prometheus.CounterOpts{Name: name})
					c.Add(m.GetCounter().GetValue())
					return c
				}
			}
		}
	}
	t.Fatalf("metric %s{result=%q} not found", name, result)
	return nil
}

func TestReplicaSetAdoptionAndRelease(t *testing.T) {
	e := startEnv(t, envOptions{})
	ctx := cxtestutil.Context(t)
	labels := map[string]string{"app": "adopt"}
	mkPod := func(name string, refs ...*metav1.OwnerReference) {
		t.Helper()
		p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: name, Labels: map[string]string{"app": "adopt"},
			OwnerReferences: refs}, Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app", Image: "demo:v1"}}}}
		create(t, e.c.Pods(), p)
	}
	mkPod("orphan")
	// A matching pod controlled by something else is left alone.
	mkPod("foreign", &metav1.OwnerReference{ApiVersion: "apps/v1", Kind: "ReplicaSet", Name: "other", Uid: "0000-other",
		Controller: proto.Bool(true)})

	rs := create(t, e.c.ReplicaSets(), newRS("adopt", 2, labels))
	uid := rs.GetMetadata().GetUid()
	e.waitStatus(t, "adopt", 2)
	orphan := e.getPod(t, "orphan")
	if !internal.IsControlledBy(orphan, uid) {
		t.Fatalf("orphan pod not adopted: ownerReferences %v", orphan.GetMetadata().GetOwnerReferences())
	}
	foreign := e.getPod(t, "foreign")
	if internal.IsControlledBy(foreign, uid) || len(foreign.GetMetadata().GetOwnerReferences()) != 1 {
		t.Fatalf("foreign pod was claimed: %v", foreign.GetMetadata().GetOwnerReferences())
	}
	// 3 pods match (orphan, foreign, one created); only one was created since the orphan was adopted.
	if n := countEvents(e.rec, "Normal SuccessfulCreate"); n != 1 {
		t.Fatalf("created %d pods, want 1 (the adopted orphan counts)", n)
	}

	// Relabel the adopted pod: it is released and replaced.
	ctesting.Retry(t, "relabel pod", func() error {
		p := e.getPod(t, "orphan")
		p.Metadata.Labels = map[string]string{"app": "elsewhere"}
		_, err := e.c.Pods().Update(ctx, p)
		if apierrors.IsConflict(err) {
			return apierrors.New(apierrors.ReasonTimeout, "%v", err) // retry with a fresh read
		}
		return err
	})
	cxtestutil.Eventually(t, wait, func() bool {
		p, err := e.c.Pods().Get(ctx, "default", "orphan")
		return err == nil && len(p.GetMetadata().GetOwnerReferences()) == 0
	}, "relabeled pod was not released")
	cxtestutil.Eventually(t, wait, func() bool {
		owned := 0
		for _, p := range e.activePods(t, "app=adopt") {
			if internal.IsControlledBy(p, uid) {
				owned++
			}
		}
		return owned == 2
	}, "released pod was not replaced")
	e.waitStatus(t, "adopt", 2)
}

func TestReplicaSetExpectationsPreventOvercreation(t *testing.T) {
	// Long enough that even a heavily loaded machine syncs the ReplicaSet many times while its pod
	// cache is behind.
	const lag = 2 * time.Second
	e := startEnv(t, envOptions{watchLag: lag})
	ctx := cxtestutil.Context(t)
	var maxActive atomic.Int32
	tracker := ctesting.TrackPods(t, e.c, "default", "app=lag", func(pods map[string]*corev1.Pod) error {
		n := 0
		for _, p := range pods {
			if internal.IsPodActive(p) {
				n++
			}
		}
		if int32(n) > maxActive.Load() {
			maxActive.Store(int32(n))
		}
		if n > 5 {
			return fmt.Errorf("%d active pods, the ReplicaSet wants at most 5", n)
		}
		return nil
	})
	syncs := func() float64 {
		mfs, _ := e.reg.Gather()
		total := 0.0
		for _, mf := range mfs {
			if mf.GetName() == "controller_runtime_reconcile_total" {
				for _, m := range mf.GetMetric() {
					total += m.GetCounter().GetValue()
				}
			}
		}
		return total
	}
	create(t, e.c.ReplicaSets(), newRS("lag", 5, map[string]string{"app": "lag"}))
	// Poke the ReplicaSet repeatedly while the controller's pod cache is behind: every poke is a sync that,
	// without expectations, would see too few pods and create more.
	poke := func(d time.Duration) {
		deadline := time.Now().Add(d)
		for i := 0; time.Now().Before(deadline); i++ {
			rs := e.getRS(t, "lag")
			api.Meta(rs).Annotations = map[string]string{"poke": fmt.Sprint(i)}
			_, _ = e.c.ReplicaSets().Update(ctx, rs) // a conflict with a status write just skips this poke
			time.Sleep(30 * time.Millisecond)
		}
	}
	before := syncs()
	poke(3 * lag)
	e.waitStatus(t, "lag", 5)
	if got := syncs() - before; got < 10 {
		t.Fatalf("only %v syncs while the cache lagged: the test did not exercise the expectations", got)
	}
	if got := tracker.Added(); got != 5 {
		t.Fatalf("pods created = %d, want exactly 5", got)
	}

	// Scaling down under the same lag deletes exactly the surplus.
	e.scale(t, "lag", 2)
	poke(3 * lag)
	e.waitStatus(t, "lag", 2)
	cxtestutil.Eventually(t, wait, func() bool { return len(tracker.Pods()) == 2 }, "deleted pods never went away")
	if got := tracker.Marked(); got != 3 {
		t.Fatalf("pods deleted = %d, want exactly 3", got)
	}
	if got := tracker.Added(); got != 5 {
		t.Fatalf("pods created = %d after the scale-down, want still 5", got)
	}
	if maxActive.Load() != 5 {
		t.Fatalf("max active pods = %d, want 5", maxActive.Load())
	}
}

func TestReplicaSetMinReadySeconds(t *testing.T) {
	e := startEnv(t, envOptions{})
	rs := newRS("slow", 2, map[string]string{"app": "slow"})
	rs.Spec.MinReadySeconds = 2
	create(t, e.c.ReplicaSets(), rs)
	var readyAt time.Time
	cxtestutil.Eventually(t, wait, func() bool {
		st := e.getRS(t, "slow").GetStatus()
		if st.GetReadyReplicas() == 2 && readyAt.IsZero() {
			readyAt = time.Now()
			if st.GetAvailableReplicas() != 0 {
				t.Fatalf("pods available as soon as ready despite minReadySeconds: %v", st)
			}
		}
		return st.GetAvailableReplicas() == 2
	}, "pods never became available")
	// The pods turned Ready at most a moment before readyAt; they must not count as available much before
	// minReadySeconds passed, and the requeue must notice soon after.
	if d := time.Since(readyAt); d < 1500*time.Millisecond || d > 20*time.Second {
		t.Fatalf("available %v after ready, want about 2s", d)
	}
}
