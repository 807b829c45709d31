package deployment

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/client/informer"
	"github.com/coxswain/coxswain/pkg/client/record"
	ctesting "github.com/coxswain/coxswain/pkg/controllers/internal/testing"
	"github.com/coxswain/coxswain/pkg/controllers/replicaset"
	"github.com/coxswain/coxswain/pkg/testutil"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

const wait = 90 * time.Second // generous: the machine is shared and noisy

type env struct {
	api *testutil.APIServer
	c   *client.Client
	rec *record.FakeRecorder
	k   *ctesting.HollowKubelet
}

// startEnv runs an apiserver, the ReplicaSet and Deployment controllers and a hollow kubelet.
func startEnv(t *testing.T, kcfg ctesting.KubeletConfig) *env {
	t.Helper()
	a := testutil.StartAPIServer(t)
	e := &env{api: a, c: a.Client, rec: &record.FakeRecorder{}}
	reg := prometheus.NewRegistry()
	f := informer.NewFactory(a.Client, 0, testutil.Logger())
	rsc, err := replicaset.New(replicaset.Config{Client: a.Client, Factory: f, Registerer: reg, Logger: testutil.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	dc, err := New(Config{Client: a.Client, Factory: f, Recorder: e.rec, Registerer: reg, Logger: testutil.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.Start(ctx)
	if !f.WaitForSync(testutil.Context(t)) {
		cancel()
		t.Fatal("informers did not sync")
	}
	done := make(chan struct{}, 2)
	go func() { _ = rsc.Run(ctx); done <- struct{}{} }()
	go func() { _ = dc.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
	})
	kcfg.Client = a.Client
	kcfg.Logger = testutil.Logger()
	e.k = ctesting.StartHollowKubelet(t, kcfg)
	return e
}

func newDeployment(name string, replicas int32, image string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		Metadata: &metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: &appsv1.DeploymentSpec{
			Replicas: proto.Int32(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: &corev1.PodTemplateSpec{
				Metadata: &metav1.ObjectMeta{Labels: labels},
				Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app", Image: image}}},
			},
		},
	}
}

func (e *env) get(t *testing.T, name string) *appsv1.Deployment {
	t.Helper()
	var d *appsv1.Deployment
	ctesting.Retry(t, "get deployment "+name, func() (err error) {
		d, err = e.c.Deployments().Get(context.Background(), "default", name)
		return err
	})
	return d
}

// create creates d (once, even when a transient error hid a success).
func (e *env) create(t *testing.T, d *appsv1.Deployment) *appsv1.Deployment {
	t.Helper()
	var out *appsv1.Deployment
	tried := false
	ctesting.Retry(t, "create deployment", func() (err error) {
		out, err = e.c.Deployments().Create(context.Background(), d)
		if apierrors.IsAlreadyExists(err) && tried {
			out, err = e.c.Deployments().Get(context.Background(), "default", d.GetMetadata().GetName())
		}
		tried = true
		return err
	})
	return out
}

// update applies mutate to the Deployment, retrying on conflicts with the controller's writes.
func (e *env) update(t *testing.T, name string, mutate func(d *appsv1.Deployment)) {
	t.Helper()
	for range 20 {
		d := e.get(t, name)
		mutate(d)
		_, err := e.c.Deployments().Update(context.Background(), d)
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) && !ctesting.Transient(err) {
			t.Fatalf("update deployment %s: %v", name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("update deployment %s: too many conflicts", name)
}

func setImage(image string) func(d *appsv1.Deployment) {
	return func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = image }
}

// replicaSets lists the ReplicaSets the Deployment controls.
func (e *env) replicaSets(t *testing.T, d *appsv1.Deployment) []*appsv1.ReplicaSet {
	t.Helper()
	var all []*appsv1.ReplicaSet
	ctesting.Retry(t, "list replica sets", func() (err error) {
		all, _, err = e.c.ReplicaSets().List(context.Background(), &metav1.ListOptions{Namespace: "default"})
		return err
	})
	return ControlledReplicaSets(d, all)
}

// waitComplete waits until the rollout of the Deployment's current spec is complete, as `rollout status` sees it.
func (e *env) waitComplete(t *testing.T, name string) *appsv1.Deployment {
	t.Helper()
	var d *appsv1.Deployment
	testutil.Eventually(t, wait, func() bool {
		d = e.get(t, name)
		_, done, err := RolloutStatus(d)
		if err != nil {
			t.Fatalf("rollout of %s failed: %v", name, err)
		}
		c := GetCondition(d.GetStatus(), ConditionProgressing)
		return done && c.GetReason() == ReasonNewReplicaSetAvailable && c.GetStatus() == "True"
	}, "rollout of %s did not complete", name)
	return d
}

// podImages counts the pods (not being deleted) of the tracker by image.
func podImages(pods []*corev1.Pod) map[string]int {
	out := map[string]int{}
	for _, p := range pods {
		if p.GetMetadata().GetDeletionTimestamp() == nil {
			out[p.GetSpec().GetContainers()[0].GetImage()]++
		}
	}
	return out
}

func (e *env) scaleEvents() []string {
	var out []string
	for _, ev := range e.rec.Recorded() {
		if strings.HasPrefix(ev, "Normal "+ReasonScalingReplicaSet+" ") {
			out = append(out, ev)
		}
	}
	return out
}

func TestDeploymentBecomesAvailable(t *testing.T) {
	e := startEnv(t, ctesting.KubeletConfig{})
	created := e.create(t, newDeployment("web", 3, "demo:v1"))
	d := e.waitComplete(t, "web")
	st := d.GetStatus()
	if st.GetReplicas() != 3 || st.GetUpdatedReplicas() != 3 || st.GetReadyReplicas() != 3 || st.GetAvailableReplicas() != 3 || st.GetUnavailableReplicas() != 0 {
		t.Fatalf("status = %v", st)
	}
	if c := GetCondition(st, ConditionAvailable); c.GetStatus() != "True" || c.GetReason() != ReasonMinimumReplicasAvailable {
		t.Fatalf("Available condition = %v", c)
	}
	if d.GetMetadata().GetAnnotations()[RevisionAnnotation] != "1" {
		t.Fatalf("deployment revision = %q, want 1", d.GetMetadata().GetAnnotations()[RevisionAnnotation])
	}
	rss := e.replicaSets(t, d)
	if len(rss) != 1 {
		t.Fatalf("%d replica sets, want 1", len(rss))
	}
	rs := rss[0]
	hash := PodTemplateHash(created.GetSpec().GetTemplate(), nil)
	m := rs.GetMetadata()
	if m.GetName() != "web-"+hash || m.GetLabels()[PodTemplateHashLabel] != hash ||
		rs.GetSpec().GetSelector().GetMatchLabels()[PodTemplateHashLabel] != hash ||
		rs.GetSpec().GetTemplate().GetMetadata().GetLabels()[PodTemplateHashLabel] != hash {
		t.Fatalf("replica set %s labels %v selector %v: pod-template-hash %q not applied", m.GetName(), m.GetLabels(),
			rs.GetSpec().GetSelector().GetMatchLabels(), hash)
	}
	wantAnn := map[string]string{RevisionAnnotation: "1", DesiredReplicasAnnotation: "3", MaxReplicasAnnotation: "4"}
	for k, v := range wantAnn {
		if m.GetAnnotations()[k] != v {
			t.Errorf("replica set annotation %s = %q, want %q", k, m.GetAnnotations()[k], v)
		}
	}
	ref := m.GetOwnerReferences()
	if len(ref) != 1 || ref[0].GetKind() != "Deployment" || ref[0].GetUid() != created.GetMetadata().GetUid() || !ref[0].GetController() {
		t.Errorf("replica set ownerReferences = %v", ref)
	}
	want := fmt.Sprintf("Normal ScalingReplicaSet Scaled up replica set web-%s to 3", hash)
	if evs := e.scaleEvents(); len(evs) != 1 || evs[0] != want {
		t.Errorf("events = %q, want [%q]", evs, want)
	}
	var pods []*corev1.Pod
	ctesting.Retry(t, "list pods", func() (err error) {
		pods, _, err = e.c.Pods().List(context.Background(), &metav1.ListOptions{Namespace: "default", LabelSelector: "app=web"})
		return err
	})
	if len(pods) != 3 {
		t.Fatalf("%d pods, want 3", len(pods))
	}
	for _, p := range pods {
		if p.GetMetadata().GetLabels()[PodTemplateHashLabel] != hash {
			t.Errorf("pod %s labels %v lack the pod-template-hash", p.GetMetadata().GetName(), p.GetMetadata().GetLabels())
		}
	}
}

// rollingBounds returns a tracker check asserting, at every observed state, at least minAvailable pods
// available (Ready, not being deleted) and at most maxTotal pods not being deleted.
func rollingBounds(minAvailable, maxTotal int) func(map[string]*corev1.Pod) error {
	return func(pods map[string]*corev1.Pod) error {
		available, total := 0, 0
		for _, p := range pods {
			if p.GetMetadata().GetDeletionTimestamp() == nil {
				total++
			}
			if ctesting.IsAvailable(p) {
				available++
			}
		}
		if available < minAvailable || total > maxTotal {
			return fmt.Errorf("observed %d available and %d pods, want at least %d available and at most %d pods", available, total, minAvailable, maxTotal)
		}
		return nil
	}
}

func TestRollingUpdateBoundsAndRollback(t *testing.T) {
	e := startEnv(t, ctesting.KubeletConfig{DeleteDelay: 100 * time.Millisecond})
	d := newDeployment("web", 10, "demo:v1")
	d.Spec.Strategy = &appsv1.DeploymentStrategy{Type: RollingUpdate,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: intstr(3), MaxUnavailable: intstr(2)}}
	e.create(t, d)
	d = e.waitComplete(t, "web")
	v1RS := e.replicaSets(t, d)[0]
	tracker := ctesting.TrackPods(t, e.c, "default", "app=web", rollingBounds(8, 13))
	events := len(e.scaleEvents())

	e.update(t, "web", setImage("demo:v2"))
	d = e.waitComplete(t, "web")
	testutil.Eventually(t, wait, func() bool { return len(tracker.Pods()) == 10 }, "old pods never went away")
	if imgs := podImages(tracker.Pods()); imgs["demo:v2"] != 10 || len(imgs) != 1 {
		t.Fatalf("pods after the rollout: %v, want 10 demo:v2", imgs)
	}
	if err := tracker.Err(); err != nil {
		t.Fatal(err)
	}
	if d.GetMetadata().GetAnnotations()[RevisionAnnotation] != "2" {
		t.Fatalf("deployment revision = %q, want 2", d.GetMetadata().GetAnnotations()[RevisionAnnotation])
	}
	if n := len(e.scaleEvents()) - events; n < 4 {
		t.Fatalf("only %d scaling events for a 10-replica rollout in steps of 2-3", n)
	}
	t.Logf("rollout v1→v2: %d scaling events", len(e.scaleEvents())-events)

	// Roll back the way `rollout undo` does: copy the previous revision's template into the Deployment.
	rss := e.replicaSets(t, d)
	target, err := RollbackTarget(d, rss, 0)
	if err != nil {
		t.Fatal(err)
	}
	if target.GetMetadata().GetUid() != v1RS.GetMetadata().GetUid() {
		t.Fatalf("rollback target = %s, want the v1 replica set %s", target.GetMetadata().GetName(), v1RS.GetMetadata().GetName())
	}
	e.update(t, "web", func(d *appsv1.Deployment) { d.Spec.Template = RollbackTemplate(target) })
	d = e.waitComplete(t, "web")
	testutil.Eventually(t, wait, func() bool { return len(tracker.Pods()) == 10 }, "v2 pods never went away")
	if imgs := podImages(tracker.Pods()); imgs["demo:v1"] != 10 || len(imgs) != 1 {
		t.Fatalf("pods after the rollback: %v, want 10 demo:v1", imgs)
	}
	rss = e.replicaSets(t, d)
	if len(rss) != 2 {
		t.Fatalf("%d replica sets after the rollback, want 2 (the v1 one re-used)", len(rss))
	}
	newRS := FindNewReplicaSet(d, rss)
	if newRS.GetMetadata().GetUid() != v1RS.GetMetadata().GetUid() {
		t.Fatalf("new replica set after rollback is %s, want the re-used %s", newRS.GetMetadata().GetName(), v1RS.GetMetadata().GetName())
	}
	ann := newRS.GetMetadata().GetAnnotations()
	if ann[RevisionAnnotation] != "3" || ann[RevisionHistoryAnnotation] != "1" || d.GetMetadata().GetAnnotations()[RevisionAnnotation] != "3" {
		t.Fatalf("after rollback: replica set revision %q history %q, deployment revision %q; want 3, 1, 3",
			ann[RevisionAnnotation], ann[RevisionHistoryAnnotation], d.GetMetadata().GetAnnotations()[RevisionAnnotation])
	}
}

func TestDeploymentPauseResume(t *testing.T) {
	var v2Ready atomic.Bool
	e := startEnv(t, ctesting.KubeletConfig{Ready: func(p *corev1.Pod) bool {
		return p.GetSpec().GetContainers()[0].GetImage() != "demo:v2" || v2Ready.Load()
	}})
	d := newDeployment("web", 10, "demo:v1")
	d.Spec.Strategy = &appsv1.DeploymentStrategy{Type: RollingUpdate,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: intstr(3), MaxUnavailable: intstr(2)}}
	e.create(t, d)
	d = e.waitComplete(t, "web")
	e.update(t, "web", setImage("demo:v2"))

	// v2 pods are not ready yet: the rollout stops midway at old 8 (maxUnavailable 2), new 5 (maxSurge 3).
	sizes := func() map[string]int32 {
		out := map[string]int32{}
		for _, rs := range e.replicaSets(t, d) {
			out[rs.GetSpec().GetTemplate().GetSpec().GetContainers()[0].GetImage()] = rsReplicas(rs)
		}
		return out
	}
	midway := map[string]int32{"demo:v1": 8, "demo:v2": 5}
	testutil.Eventually(t, wait, func() bool { return maps.Equal(sizes(), midway) }, "rollout did not reach %v (at %v)", midway, sizes())

	e.update(t, "web", func(d *appsv1.Deployment) { d.Spec.Paused = true })
	testutil.Eventually(t, wait, func() bool {
		d := e.get(t, "web")
		return d.GetStatus().GetObservedGeneration() == d.GetMetadata().GetGeneration() &&
			GetCondition(d.GetStatus(), ConditionProgressing).GetReason() == ReasonDeploymentPaused
	}, "pause was not observed")
	time.Sleep(500 * time.Millisecond)
	before, events := sizes(), len(e.scaleEvents())

	// Let v2 pods become ready: unpaused, that would let the rollout continue.
	v2Ready.Store(true)
	e.k.Resync()
	testutil.Eventually(t, wait, func() bool {
		for _, rs := range e.replicaSets(t, d) {
			if FindNewReplicaSet(e.get(t, "web"), []*appsv1.ReplicaSet{rs}) != nil && rs.GetStatus().GetAvailableReplicas() == 5 {
				return true
			}
		}
		return false
	}, "v2 pods never became available")
	time.Sleep(3 * time.Second)
	if after := sizes(); !maps.Equal(after, before) {
		t.Fatalf("replica sets scaled while paused: %v → %v", before, after)
	}
	if n := len(e.scaleEvents()); n != events {
		t.Fatalf("%d scaling events while paused: %q", n-events, e.scaleEvents()[events:])
	}

	e.update(t, "web", func(d *appsv1.Deployment) { d.Spec.Paused = false })
	e.waitComplete(t, "web")
	if got := sizes(); got["demo:v2"] != 10 || got["demo:v1"] != 0 {
		t.Fatalf("after resume: %v, want v2 10 and v1 0", got)
	}
}

func TestRecreateNeverMixesVersions(t *testing.T) {
	e := startEnv(t, ctesting.KubeletConfig{DeleteDelay: 500 * time.Millisecond})
	var sawTerminating atomic.Bool
	tracker := ctesting.TrackPods(t, e.c, "default", "app=web", func(pods map[string]*corev1.Pod) error {
		images := map[string]int{}
		for _, p := range pods { // pods being deleted count: their containers may still run
			images[p.GetSpec().GetContainers()[0].GetImage()]++
			if p.GetMetadata().GetDeletionTimestamp() != nil {
				sawTerminating.Store(true)
			}
		}
		if images["demo:v1"] > 0 && images["demo:v2"] > 0 {
			return fmt.Errorf("old and new pods at once: %v", images)
		}
		return nil
	})
	d := newDeployment("web", 3, "demo:v1")
	d.Spec.Strategy = &appsv1.DeploymentStrategy{Type: Recreate}
	e.create(t, d)
	e.waitComplete(t, "web")
	e.update(t, "web", setImage("demo:v2"))
	d = e.waitComplete(t, "web")
	if imgs := podImages(tracker.Pods()); imgs["demo:v2"] != 3 || len(imgs) != 1 {
		t.Fatalf("pods after the rollout: %v, want 3 demo:v2", imgs)
	}
	if !sawTerminating.Load() {
		t.Fatal("never observed a terminating old pod: the test did not exercise the wait")
	}
	if err := tracker.Err(); err != nil {
		t.Fatal(err)
	}
	if rss := e.replicaSets(t, d); len(rss) != 2 {
		t.Fatalf("%d replica sets, want 2", len(rss))
	}
}

func TestProgressDeadlineExceeded(t *testing.T) {
	e := startEnv(t, ctesting.KubeletConfig{Ready: func(p *corev1.Pod) bool {
		return p.GetSpec().GetContainers()[0].GetImage() != "demo:broken"
	}})
	d := newDeployment("web", 2, "demo:broken")
	d.Spec.ProgressDeadlineSeconds = proto.Int32(2)
	e.create(t, d)
	testutil.Eventually(t, wait, func() bool {
		c := GetCondition(e.get(t, "web").GetStatus(), ConditionProgressing)
		return c.GetStatus() == "False" && c.GetReason() == ReasonProgressDeadlineExceeded
	}, "deployment never exceeded its progress deadline")
	d = e.get(t, "web")
	if _, _, err := RolloutStatus(d); err == nil || !strings.Contains(err.Error(), "exceeded its progress deadline") {
		t.Fatalf("RolloutStatus error = %v", err)
	}
	if c := GetCondition(d.GetStatus(), ConditionAvailable); c.GetStatus() != "False" || c.GetReason() != ReasonMinimumReplicasUnavailable {
		t.Fatalf("Available condition = %v", c)
	}
	// Fixing the template makes it progress again.
	e.update(t, "web", setImage("demo:v1"))
	e.waitComplete(t, "web")
}

func TestRevisionHistoryLimit(t *testing.T) {
	e := startEnv(t, ctesting.KubeletConfig{})
	d := newDeployment("web", 2, "demo:v1")
	d.Spec.RevisionHistoryLimit = proto.Int32(2)
	e.create(t, d)
	e.waitComplete(t, "web")
	for v := 2; v <= 5; v++ {
		e.update(t, "web", setImage(fmt.Sprintf("demo:v%d", v)))
		e.waitComplete(t, "web")
	}
	d = e.get(t, "web")
	if d.GetMetadata().GetAnnotations()[RevisionAnnotation] != "5" {
		t.Fatalf("deployment revision = %q, want 5", d.GetMetadata().GetAnnotations()[RevisionAnnotation])
	}
	var revs []int64
	testutil.Eventually(t, wait, func() bool {
		revs = revs[:0]
		for _, h := range History(e.replicaSets(t, d)) {
			revs = append(revs, h.Revision)
		}
		return fmt.Sprint(revs) == "[3 4 5]"
	}, "revisions kept = %v, want [3 4 5]", revs)
}

func TestProportionalScalingMidRollout(t *testing.T) {
	var v2Ready atomic.Bool
	e := startEnv(t, ctesting.KubeletConfig{Ready: func(p *corev1.Pod) bool {
		return p.GetSpec().GetContainers()[0].GetImage() != "demo:v2" || v2Ready.Load()
	}})
	d := newDeployment("web", 10, "demo:v1")
	d.Spec.Strategy = &appsv1.DeploymentStrategy{Type: RollingUpdate,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: intstr(3), MaxUnavailable: intstr(2)}}
	e.create(t, d)
	d = e.waitComplete(t, "web")
	e.update(t, "web", setImage("demo:v2"))
	sizes := func() map[string]int32 {
		out := map[string]int32{}
		for _, rs := range e.replicaSets(t, d) {
			out[rs.GetSpec().GetTemplate().GetSpec().GetContainers()[0].GetImage()] = rsReplicas(rs)
		}
		return out
	}
	midway := map[string]int32{"demo:v1": 8, "demo:v2": 5}
	testutil.Eventually(t, wait, func() bool { return maps.Equal(sizes(), midway) }, "rollout did not reach %v (at %v)", midway, sizes())

	// 10 → 20 replicas: replicas+maxSurge grows from 13 to 23; the 10 extra go 8:5, rounded.
	e.update(t, "web", func(d *appsv1.Deployment) { d.Spec.Replicas = proto.Int32(20) })
	scaled := map[string]int32{"demo:v1": 14, "demo:v2": 9}
	testutil.Eventually(t, wait, func() bool { return maps.Equal(sizes(), scaled) }, "proportional scaling did not reach %v (at %v)", scaled, sizes())

	v2Ready.Store(true)
	e.k.Resync()
	d = e.waitComplete(t, "web")
	if got := sizes(); got["demo:v2"] != 20 || got["demo:v1"] != 0 {
		t.Fatalf("after the rollout: %v", got)
	}
}
