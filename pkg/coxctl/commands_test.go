package coxctl

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/coxctl/deployutil"
	"github.com/coxswain/coxswain/pkg/testutil"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

func TestDelete(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	for _, n := range []string{"a", "b", "c", "d"} {
		l := map[string]string{"app": "x"}
		if n == "d" {
			l = nil
		}
		e.createPod(newPod("default", n, l), nil)
	}
	wantEqual(t, "delete by name", e.ok("delete", "pod", "a"), "pod \"a\" deleted\n")
	if _, err := e.api.Client.Pods().Get(ctx, "default", "a"); !apierrors.IsNotFound(err) {
		t.Errorf("pod a still exists: %v", err)
	}
	wantEqual(t, "delete -l", e.ok("delete", "pods", "-l", "app=x"), "pod \"b\" deleted\npod \"c\" deleted\n")
	wantEqual(t, "delete --all", e.ok("delete", "pods", "--all", "--now"), "pod \"d\" deleted\n")
	wantEqual(t, "nothing left", e.run("", "delete", "pods", "--all").err, "No resources found\n")
	wantEqual(t, "delete missing", e.fail(1, "delete", "pod", "nope"), "Error from server (NotFound): pods \"nope\" not found\n")
	wantContains(t, "no name", e.fail(1, "delete", "pods"), "resource(s) were provided, but no name was specified")
	wantContains(t, "bad cascade", e.fail(1, "delete", "pod", "x", "--cascade=sideways"), "invalid cascade value (sideways)")

	// A pod bound to a node is only marked (the kubelet would finish it): --wait=false returns at once,
	// --force --grace-period=0 removes it.
	p := e.createPod(newPod("default", "bound", nil), nil)
	if _, err := e.api.Client.Bind(ctx, "default", "bound", p.Metadata.Uid, "node-1"); err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "delete --wait=false", e.ok("delete", "pod", "bound", "--wait=false"), "pod \"bound\" deleted\n")
	got, err := e.api.Client.Pods().Get(ctx, "default", "bound")
	if err != nil || got.Metadata.DeletionTimestamp == nil || got.Metadata.GetDeletionGracePeriodSeconds() != 30 {
		t.Fatalf("bound pod after a graceful delete: %v, %v", got.GetMetadata(), err)
	}
	r := e.run("", "delete", "pod", "bound", "--wait", "--timeout=300ms")
	if r.code != 1 || !strings.Contains(r.err, `timed out waiting for the deletion of pod "bound"`) {
		t.Errorf("waiting for a pod that stays: %d %q", r.code, r.err)
	}
	r = e.run("", "delete", "pod", "bound", "--force", "--grace-period=0")
	if r.code != 0 || r.out != "pod \"bound\" force deleted\n" || !strings.Contains(r.err, "Warning: Immediate deletion") {
		t.Errorf("force delete: %d %q %q", r.code, r.out, r.err)
	}

	// --cascade=orphan asks the garbage collector to orphan the dependents (a finalizer holds the object).
	e.ok("apply", "-f", "testdata/my-deployment.yaml")
	wantEqual(t, "orphan", e.ok("delete", "deploy/my-deployment", "--cascade=orphan", "--wait=false"), "deployment.apps \"my-deployment\" deleted\n")
	d, err := e.api.Client.Deployments().Get(ctx, "default", "my-deployment")
	if err != nil || d.Metadata.DeletionTimestamp == nil || len(d.Metadata.Finalizers) != 1 || d.Metadata.Finalizers[0] != "orphan" {
		t.Errorf("orphan-deleted deployment: %v %v", d.GetMetadata(), err)
	}
	// With --wait, delete returns once the finalizer is removed (here by the test, as the GC would).
	w := e.start(nil, "delete", "deploy", "my-deployment", "--cascade=orphan")
	w.waitOut(t, "deployment.apps \"my-deployment\" deleted\n")
	if code, done := w.wait(300 * time.Millisecond); done {
		t.Fatalf("delete returned (%d) while the finalizer holds the object", code)
	}
	d, _ = e.api.Client.Deployments().Get(ctx, "default", "my-deployment")
	d.Metadata.Finalizers = nil
	if _, err := e.api.Client.Deployments().Update(ctx, d); err != nil {
		t.Fatal(err)
	}
	if code, done := w.wait(30 * time.Second); !done || code != 0 {
		t.Errorf("delete --wait: done %v, exit %d: %s", done, code, w.err.String())
	}
}

func deploymentWithRS(t *testing.T, e *env) (*appsv1.Deployment, []*appsv1.ReplicaSet) {
	t.Helper()
	ctx := testutil.Context(t)
	e.ok("apply", "-f", "testdata/my-deployment.yaml")
	d, err := e.api.Client.Deployments().Get(ctx, "default", "my-deployment")
	if err != nil {
		t.Fatal(err)
	}
	owner := []*metav1.OwnerReference{{ApiVersion: "apps/v1", Kind: "Deployment", Name: d.Metadata.Name, Uid: d.Metadata.Uid,
		Controller: proto.Bool(true), BlockOwnerDeletion: proto.Bool(true)}}
	var rss []*appsv1.ReplicaSet
	for i, image := range []string{"my-image:1", "my-image"} {
		tmpl := proto.Clone(d.Spec.Template).(*corev1.PodTemplateSpec)
		tmpl.Spec.Containers[0].Image = image
		hash := []string{"aaaa", "bbbb"}[i]
		tmpl.Metadata.Labels[deployutil.PodTemplateHashLabel] = hash
		sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "my-app", deployutil.PodTemplateHashLabel: hash}}
		rs := &appsv1.ReplicaSet{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "my-deployment-" + hash, OwnerReferences: owner,
			Labels:      tmpl.Metadata.Labels,
			Annotations: map[string]string{deployutil.RevisionAnnotation: []string{"1", "2"}[i], deployutil.ChangeCauseAnnotation: []string{"", "image my-image"}[i]}},
			Spec: &appsv1.ReplicaSetSpec{Replicas: proto.Int32(int32(i * 3)), Selector: sel, Template: tmpl}}
		out, err := e.api.Client.ReplicaSets().Create(ctx, rs)
		if err != nil {
			t.Fatalf("create rs: %v", err)
		}
		rss = append(rss, out)
	}
	return d, rss
}

func TestDescribe(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	deploymentWithRS(t, e)
	ev := &corev1.Event{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "my-deployment.1"}, Type: "Normal", Reason: "ScalingReplicaSet",
		InvolvedObject: &corev1.ObjectReference{Kind: "Deployment", Name: "my-deployment", Namespace: "default"},
		Message:        "Scaled up replica set my-deployment-bbbb to 3", Source: &corev1.EventSource{Component: "deployment-controller"}}
	if _, err := e.api.Client.Events().Create(ctx, ev); err != nil {
		t.Fatal(err)
	}
	out := e.ok("describe", "deploy", "my-deployment")
	wantContainsSqueezed(t, "describe deploy", out, "Name:                   my-deployment", "Replicas:               3 desired | 0 updated | 0 total | 0 available | 0 unavailable",
		"StrategyType:           RollingUpdate", "OldReplicaSets:  <none>", "NewReplicaSet:   my-deployment-bbbb (0/3 replicas created)",
		"Normal  ScalingReplicaSet", "deployment-controller  Scaled up replica set my-deployment-bbbb to 3")

	// A pod the scheduler could not place.
	p := e.createPod(newPod("default", "big", nil), &corev1.PodStatus{Phase: "Pending", Conditions: []*metav1.Condition{{Type: "PodScheduled",
		Status: "False", Reason: "Unschedulable", Message: "0/3 nodes are available: 3 Insufficient memory."}}})
	_ = p
	out = e.ok("describe", "pod", "big")
	wantContainsSqueezed(t, "describe pending pod", out, "Status:           Pending", "Unschedulable: 0/3 nodes are available: 3 Insufficient memory.",
		"PodScheduled   False", "Events:           <none>")
	// Prefix match and not found.
	wantContainsSqueezed(t, "describe prefix", e.ok("describe", "rs", "my-deployment-"), "Name:         my-deployment-aaaa", "Name:         my-deployment-bbbb", "Controlled By:  Deployment/my-deployment")
	wantEqual(t, "describe missing", e.fail(1, "describe", "pod", "nope"), "Error from server (NotFound): pods \"nope\" not found\n")
	wantContainsSqueezed(t, "describe ns", e.ok("describe", "ns", "default"), "Status:       Active")
}

func TestScaleAndRollout(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	d, _ := deploymentWithRS(t, e)
	wantEqual(t, "scale", e.ok("scale", "deploy/my-deployment", "--replicas=5"), "deployment.apps/my-deployment scaled\n")
	d, _ = e.api.Client.Deployments().Get(ctx, "default", "my-deployment")
	if d.Spec.GetReplicas() != 5 {
		t.Errorf("replicas = %d", d.Spec.GetReplicas())
	}
	wantContains(t, "scale precondition", e.fail(1, "scale", "deployment", "my-deployment", "--replicas=1", "--current-replicas=2"), "expected replicas to be 2, was 5")
	wantEqual(t, "scale rs", e.ok("scale", "rs/my-deployment-aaaa", "--replicas=0"), "replicaset.apps/my-deployment-aaaa scaled\n")
	wantContains(t, "scale pod", e.fail(1, "scale", "pod/x", "--replicas=1"), "cannot scale pod")

	// rollout status follows the status the controller writes.
	setStatus := func(gen int64, replicas, updated, available int32) {
		t.Helper()
		cur, err := e.api.Client.Deployments().Get(ctx, "default", "my-deployment")
		if err != nil {
			t.Fatal(err)
		}
		cur.Status = &appsv1.DeploymentStatus{ObservedGeneration: gen, Replicas: replicas, UpdatedReplicas: updated, AvailableReplicas: available, ReadyReplicas: available}
		if _, err := e.api.Client.Deployments().UpdateStatus(ctx, cur); err != nil {
			t.Fatal(err)
		}
	}
	gen := d.Metadata.Generation
	setStatus(gen, 5, 1, 1)
	w := e.start(nil, "rollout", "status", "deploy/my-deployment")
	w.waitOut(t, `Waiting for deployment "my-deployment" rollout to finish: 1 out of 5 new replicas have been updated...`)
	setStatus(gen, 6, 5, 4)
	w.waitOut(t, `Waiting for deployment "my-deployment" rollout to finish: 1 old replicas are pending termination...`)
	setStatus(gen, 5, 5, 4)
	w.waitOut(t, `Waiting for deployment "my-deployment" rollout to finish: 4 of 5 updated replicas are available...`)
	setStatus(gen, 5, 5, 5)
	w.waitOut(t, `deployment "my-deployment" successfully rolled out`)
	if code, done := w.wait(30 * time.Second); !done || code != 0 {
		t.Errorf("rollout status: done %v, exit %d: %s", done, code, w.err.String())
	}
	setStatus(gen-1, 5, 5, 5)
	r := e.run("", "rollout", "status", "deployment", "my-deployment", "--timeout=300ms")
	if r.code != 1 || r.out != "Waiting for deployment spec update to be observed...\n" || r.err != "error: timed out waiting for the condition\n" {
		t.Errorf("rollout status timeout: %d %q %q", r.code, r.out, r.err)
	}

	// history and undo.
	wantEqual(t, "history", e.ok("rollout", "history", "deploy/my-deployment"),
		"deployment.apps/my-deployment \nREVISION   CHANGE-CAUSE\n1          <none>\n2          image my-image\n\n")
	wantContains(t, "history --revision", e.ok("rollout", "history", "deploy/my-deployment", "--revision=1"), "with revision #1", "image: my-image:1")
	wantEqual(t, "undo", e.ok("rollout", "undo", "deploy/my-deployment"), "deployment.apps/my-deployment rolled back\n")
	d, _ = e.api.Client.Deployments().Get(ctx, "default", "my-deployment")
	if img := d.Spec.Template.Spec.Containers[0].Image; img != "my-image:1" {
		t.Errorf("image after undo = %q", img)
	}
	if _, ok := d.Spec.Template.Metadata.Labels[deployutil.PodTemplateHashLabel]; ok {
		t.Errorf("undo copied the pod-template-hash label: %v", d.Spec.Template.Metadata.Labels)
	}
	wantEqual(t, "undo to 2", e.ok("rollout", "undo", "deploy/my-deployment", "--to-revision=2"), "deployment.apps/my-deployment rolled back\n")
	wantEqual(t, "undo to 2 again", e.ok("rollout", "undo", "deploy/my-deployment", "--to-revision=2"),
		"deployment.apps/my-deployment skipped rollback (current template already matches revision 2)\n")
	wantContains(t, "undo missing", e.fail(1, "rollout", "undo", "deploy/my-deployment", "--to-revision=9"), "unable to find specified revision 9 in history")

	// pause, resume, restart.
	wantEqual(t, "pause", e.ok("rollout", "pause", "deploy/my-deployment"), "deployment.apps/my-deployment paused\n")
	wantContains(t, "pause again", e.fail(1, "rollout", "pause", "deploy/my-deployment"), `deployments.apps "my-deployment" is already paused`)
	wantContains(t, "restart paused", e.fail(1, "rollout", "restart", "deploy/my-deployment"), "can't restart paused deployment")
	wantEqual(t, "resume", e.ok("rollout", "resume", "deploy/my-deployment"), "deployment.apps/my-deployment resumed\n")
	wantEqual(t, "restart", e.ok("rollout", "restart", "deploy/my-deployment"), "deployment.apps/my-deployment restarted\n")
	d, _ = e.api.Client.Deployments().Get(ctx, "default", "my-deployment")
	if ts, err := time.Parse(time.RFC3339, d.Spec.Template.Metadata.Annotations[deployutil.RestartedAtAnnotation]); err != nil || time.Since(ts) > time.Minute {
		t.Errorf("restartedAt = %q (%v)", d.Spec.Template.Metadata.Annotations[deployutil.RestartedAtAnnotation], err)
	}
}

func TestLabelAndAnnotate(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	e.createPod(newPod("default", "web", map[string]string{"app": "web"}), nil)
	e.createPod(newPod("default", "web2", map[string]string{"app": "web"}), nil)
	wantEqual(t, "label", e.ok("label", "pods", "web", "tier=frontend"), "pod/web labeled\n")
	wantEqual(t, "label exists", e.fail(1, "label", "pod/web", "tier=backend"), "error: 'tier' already has a value (frontend), and --overwrite is false\n")
	wantEqual(t, "label overwrite", e.ok("label", "pod/web", "tier=backend", "--overwrite"), "pod/web labeled\n")
	wantEqual(t, "label same", e.ok("label", "pod/web", "tier=backend"), "pod/web not labeled\n")
	wantEqual(t, "label remove", e.ok("label", "pod/web", "tier-"), "pod/web labeled\n")
	wantEqual(t, "label -l", e.ok("label", "pods", "-l", "app=web", "canary=true"), "pod/web labeled\npod/web2 labeled\n")
	wantContains(t, "label invalid", e.fail(1, "label", "pod/web", "bad key=x"), "invalid label spec")
	p, _ := e.api.Client.Pods().Get(ctx, "default", "web")
	if _, ok := p.Metadata.Labels["tier"]; ok || p.Metadata.Labels["canary"] != "true" {
		t.Errorf("labels = %v", p.Metadata.Labels)
	}
	wantEqual(t, "annotate", e.ok("annotate", "pod", "web", "description=the web server", "owner=ops"), "pod/web annotated\n")
	wantEqual(t, "annotate remove", e.ok("annotate", "pod", "web", "owner-"), "pod/web annotated\n")
	p, _ = e.api.Client.Pods().Get(ctx, "default", "web")
	if p.Metadata.Annotations["description"] != "the web server" || p.Metadata.Annotations["owner"] != "" {
		t.Errorf("annotations = %v", p.Metadata.Annotations)
	}
}

func TestCordonAndDrain(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	if _, err := e.api.Client.Nodes().Create(ctx, &corev1.Node{Metadata: &metav1.ObjectMeta{Name: "node-1"}}); err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "cordon", e.ok("cordon", "node-1"), "node/node-1 cordoned\n")
	wantEqual(t, "cordon again", e.ok("cordon", "node-1"), "node/node-1 already cordoned\n")
	wantContains(t, "get nodes", e.ok("get", "nodes"), "node-1   Unknown,SchedulingDisabled   <none>")
	wantEqual(t, "uncordon", e.ok("uncordon", "node-1"), "node/node-1 uncordoned\n")

	bind := func(p *corev1.Pod) {
		t.Helper()
		out := e.createPod(p, nil)
		if _, err := e.api.Client.Bind(ctx, p.Metadata.Namespace, p.Metadata.Name, out.Metadata.Uid, "node-1"); err != nil {
			t.Fatal(err)
		}
	}
	managed := newPod("default", "web-abc", nil)
	managed.Metadata.OwnerReferences = []*metav1.OwnerReference{{ApiVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", Uid: "u1", Controller: proto.Bool(true)}}
	bind(managed)
	daemon := newPod("kube-system", "proxy-xyz", nil)
	daemon.Metadata.OwnerReferences = []*metav1.OwnerReference{{ApiVersion: "apps/v1", Kind: "DaemonSet", Name: "proxy", Uid: "u2", Controller: proto.Bool(true)}}
	bind(daemon)
	mirror := newPod("kube-system", "etcd-node-1", nil)
	mirror.Metadata.Annotations = map[string]string{MirrorPodAnnotation: "x"}
	bind(mirror)
	bind(newPod("default", "lonely", nil))

	r := e.run("", "drain", "node-1", "--grace-period=0")
	if r.code != 1 || !strings.Contains(r.err, `unable to drain node "node-1"`) ||
		!strings.Contains(r.err, "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): kube-system/proxy-xyz") ||
		!strings.Contains(r.err, "cannot delete Pods that declare no controller (use --force to override): default/lonely") {
		t.Fatalf("drain without flags: %d %q %q", r.code, r.out, r.err)
	}
	if r.out != "node/node-1 cordoned\n" {
		t.Errorf("drain cordons first: %q", r.out)
	}
	r = e.run("", "drain", "node-1", "--ignore-daemonsets", "--force", "--grace-period=0")
	if r.code != 0 {
		t.Fatalf("drain: %d %q %q", r.code, r.out, r.err)
	}
	wantContains(t, "drain", r.out, "node/node-1 already cordoned\n", "evicting pod default/web-abc\n", "evicting pod default/lonely\n",
		"pod/web-abc evicted\n", "pod/lonely evicted\n", "node/node-1 drained\n")
	wantContains(t, "drain warnings", r.err, "Warning: ignoring DaemonSet-managed Pods: kube-system/proxy-xyz")
	left, _, _ := e.api.Client.Pods().List(ctx, &metav1.ListOptions{FieldSelector: "spec.nodeName=node-1"})
	var names []string
	for _, p := range left {
		names = append(names, p.Metadata.Name)
	}
	if strings.Join(names, ",") != "etcd-node-1,proxy-xyz" {
		t.Errorf("pods left on the node: %v (want the mirror and daemon pods)", names)
	}
}

func TestEdit(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	e.ok("apply", "-f", "testdata/my-deployment.yaml")
	dir := t.TempDir()
	// The first edit breaks the replicas field, the second (on the reopened file, which must show the
	// error) fixes it to 5.
	script := writeFile(t, dir, "editor.sh", `#!/bin/sh
n=$(cat "$COUNTER" 2>/dev/null || echo 0)
n=$((n+1)); echo $n > "$COUNTER"
cp "$1" "$COUNTER.seen.$n"
if [ $n -eq 1 ]; then sed -i 's/replicas: 3/replicas: lots/' "$1"; else sed -i 's/replicas: lots/replicas: 5/' "$1"; fi
`)
	os.Chmod(script, 0o755)
	t.Setenv("KUBE_EDITOR", script)
	t.Setenv("COUNTER", filepath.Join(dir, "count"))
	r := e.run("", "edit", "deploy/my-deployment")
	if r.code != 0 || r.out != "deployment.apps/my-deployment edited\n" {
		t.Fatalf("edit: %d %q %q", r.code, r.out, r.err)
	}
	wantContains(t, "edit errors", r.err, `error: deployments.apps "my-deployment" was not valid:`, `spec.replicas: expected an integer, got string "lots"`)
	second, _ := os.ReadFile(filepath.Join(dir, "count.seen.2"))
	wantContains(t, "reopened file", string(second), "# Please edit the object below", `# deployments.apps "my-deployment" was not valid:`,
		`# * spec.replicas: expected an integer, got string "lots"`, "replicas: lots")
	d, _ := e.api.Client.Deployments().Get(ctx, "default", "my-deployment")
	if d.Spec.GetReplicas() != 5 {
		t.Errorf("replicas after edit = %d", d.Spec.GetReplicas())
	}
	// An editor that changes nothing cancels; one that keeps the same error gives up.
	t.Setenv("KUBE_EDITOR", "true")
	r = e.run("", "edit", "deploy", "my-deployment")
	if r.code != 0 || r.err != "Edit cancelled, no changes made.\n" {
		t.Errorf("no-op edit: %d %q", r.code, r.err)
	}
	t.Setenv("KUBE_EDITOR", "sed -i 's/replicas: 5/replicas: -3/'")
	r = e.run("", "edit", "deploy", "my-deployment")
	if r.code != 1 || !strings.Contains(r.err, "spec.replicas: Invalid value: -3: must be greater than or equal to 0") ||
		!strings.HasSuffix(r.err, "error: Edit cancelled, no valid changes were saved.\n") {
		t.Errorf("invalid edit: %d %q", r.code, r.err)
	}
}

func TestUnreachable(t *testing.T) {
	addr := freeAddr(t)
	var out, errOut bytes.Buffer
	code := Run(context.Background(), IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		[]string{"--config", filepath.Join(t.TempDir(), "none"), "--server", addr, "get", "pods"})
	want := "Error: cannot reach the apiserver at " + addr + " (connection refused); start a cluster with 'make run' or pass --server\n"
	if code != 1 || errOut.String() != want || out.Len() != 0 {
		t.Errorf("got %d %q %q, want %q", code, out.String(), errOut.String(), want)
	}
	// The default server comes from the configuration.
	cfg := filepath.Join(t.TempDir(), "config")
	os.WriteFile(cfg, []byte("current-context: x\ncontexts:\n- name: x\n  server: "+addr+"\n"), 0o600)
	errOut.Reset()
	code = Run(context.Background(), IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, []string{"--config", cfg, "get", "pods"})
	if code != 1 || errOut.String() != want {
		t.Errorf("from config: %d %q", code, errOut.String())
	}
}

func TestConfigContexts(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	if _, err := e.api.Client.Namespaces().Create(ctx, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "team"}}); err != nil {
		t.Fatal(err)
	}
	e.createPod(newPod("team", "in-team", nil), nil)
	// Contexts are written with config set-context; the commands below get no --server.
	run := func(args ...string) result {
		var out, errOut bytes.Buffer
		code := Run(ctx, IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, append([]string{"--config", e.config}, args...))
		return result{out.String(), errOut.String(), code}
	}
	if r := run("config", "set-context", "lab", "--server", e.server, "--namespace", "team"); r.code != 0 || r.out != "Context \"lab\" created.\n" {
		t.Fatalf("set-context: %+v", r)
	}
	if r := run("config", "set-context", "other", "--server", freeAddr(t)); r.code != 0 {
		t.Fatalf("set-context other: %+v", r)
	}
	if r := run("config", "current-context"); r.out != "lab\n" {
		t.Errorf("current-context: %+v", r)
	}
	if r := run("get", "pods", "-o", "name"); r.code != 0 || r.out != "pod/in-team\n" {
		t.Errorf("get pods in the context's namespace: %+v", r)
	}
	if r := run("--context", "other", "get", "pods"); r.code != 1 || !strings.Contains(r.err, "cannot reach the apiserver") {
		t.Errorf("--context other: %+v", r)
	}
	if r := run("config", "use-context", "other"); r.code != 0 || r.out != "Switched to context \"other\".\n" {
		t.Errorf("use-context: %+v", r)
	}
	if r := run("--context", "lab", "get", "pods", "-n", "default"); r.code != 0 || r.err != "No resources found in default namespace.\n" {
		t.Errorf("-n overrides the context: %+v", r)
	}
	if r := run("--context", "nope", "get", "pods"); r.code != 1 || r.err != "error: context \"nope\" not found in the configuration\n" {
		t.Errorf("unknown context: %+v", r)
	}
	if r := run("config", "get-contexts"); !strings.Contains(r.out, "*         other") || !strings.Contains(r.out, "lab") {
		t.Errorf("get-contexts: %+v", r)
	}
	t.Setenv("COXSWAIN_CONFIG", e.config)
	var out, errOut bytes.Buffer
	if code := Run(ctx, IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, []string{"config", "current-context"}); code != 0 || out.String() != "other\n" {
		t.Errorf("$COXSWAIN_CONFIG: %d %q %q", code, out.String(), errOut.String())
	}
}

func TestCompletion(t *testing.T) {
	e := newEnv(t)
	e.createPod(newPod("default", "web-1", nil), nil)
	e.createPod(newPod("default", "web-2", nil), nil)
	e.createPod(newPod("default", "db", nil), nil)
	for _, shell := range []string{"bash", "zsh", "fish"} {
		wantContains(t, "completion "+shell, e.ok("completion", shell), "coxctl")
	}
	wantContains(t, "complete verbs", e.ok("__complete", ""), "apply", "get", "describe", "rollout", "port-forward")
	kinds := e.ok("__complete", "get", "de")
	wantContains(t, "complete kinds", kinds, "deployments\n", "deployment\n", "deploy\n")
	wantContains(t, "complete short names", e.ok("__complete", "get", "po,sv"), "po,svc\n")
	names := e.ok("__complete", "get", "pods", "web")
	wantContains(t, "complete live names", names, "web-1\n", "web-2\n")
	if strings.Contains(names, "db") {
		t.Errorf("completion of web* offered db:\n%s", names)
	}
	wantContains(t, "complete type/name", e.ok("__complete", "describe", "pod/d"), "pod/db\n")
	wantContains(t, "complete logs pod", e.ok("__complete", "logs", "w"), "web-1\n")
	wantContains(t, "complete -n", e.ok("__complete", "get", "pods", "-n", "kube-"), "kube-system\n", "kube-public\n")
	// Without an apiserver, completion of names is empty but works.
	e.server = freeAddr(t)
	r := e.run("", "__complete", "get", "pods", "")
	if r.code != 0 || strings.Contains(r.out, "web-1") {
		t.Errorf("completion without a server: %+v", r)
	}
}

func TestExplainVersionAPIResources(t *testing.T) {
	e := newEnv(t)
	wantContains(t, "explain", e.ok("explain", "deploy.spec.strategy"), "KIND:       Deployment", "FIELD: strategy <DeploymentStrategy>", "rollingUpdate\t<RollingUpdateDeployment>")
	wantContains(t, "explain unknown", e.fail(1, "explain", "pods.spec.nope"), `field "nope" does not exist`)
	v := e.ok("version")
	wantContains(t, "version", v, "Client Version: ", "Server Address: "+e.server, "Server Health: SERVING", "Server API Versions: apps/v1, coordination.k8s.io/v1, v1")
	wantContains(t, "version -o json", e.ok("version", "-o", "json"), `"clientVersion"`, `"health": "SERVING"`, `"coxswain.core.v1.PodService"`)
	res := e.ok("api-resources")
	wantContains(t, "api-resources", res, "NAME          SHORTNAMES   APIVERSION               NAMESPACED   KIND\n", "deployments   deploy       apps/v1                  true         Deployment\n",
		"nodes         no           v1                       false        Node\n")
	wantEqual(t, "api-resources cluster-scoped names", e.ok("api-resources", "--namespaced=false", "-o", "name"), "namespaces\nnodes\n")
	e.server = freeAddr(t)
	wantContains(t, "version --client", e.ok("version", "--client"), "Client Version: ")
}
