package coxctl

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/coxswain/coxswain/pkg/testutil"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

func newPod(ns, name string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app", Image: "busybox:1.36"}}}}
}

// createPod creates a pod and gives it a status, as the kubelet would.
func (e *env) createPod(p *corev1.Pod, status *corev1.PodStatus) *corev1.Pod {
	e.t.Helper()
	ctx := testutil.Context(e.t)
	out, err := e.api.Client.Pods().Create(ctx, p)
	if err != nil {
		e.t.Fatalf("create pod %s: %v", p.Metadata.Name, err)
	}
	if status != nil {
		out.Status = status
		if out, err = e.api.Client.Pods().UpdateStatus(ctx, out); err != nil {
			e.t.Fatalf("pod %s status: %v", p.Metadata.Name, err)
		}
	}
	return out
}

func runningStatus(ip string) *corev1.PodStatus {
	return &corev1.PodStatus{Phase: "Running", PodIp: ip, Conditions: []*metav1.Condition{{Type: "Ready", Status: "True"}},
		ContainerStatuses: []*corev1.ContainerStatus{{Name: "app", Ready: true, Image: "busybox:1.36",
			State: &corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}
}

// cells returns the rows of a table as fields (splitting on runs of spaces), header first.
func cells(table string) [][]string {
	var rows [][]string
	for _, l := range strings.Split(strings.TrimRight(table, "\n"), "\n") {
		if l == "" {
			continue
		}
		var row []string
		for _, c := range strings.Split(l, "   ") {
			if c = strings.TrimSpace(c); c != "" {
				row = append(row, c)
			}
		}
		rows = append(rows, row)
	}
	return rows
}

func rowsWithout(rows [][]string, col int) []string {
	var out []string
	for _, r := range rows {
		var keep []string
		for i, c := range r {
			if i != col {
				keep = append(keep, c)
			}
		}
		out = append(out, strings.Join(keep, "|"))
	}
	return out
}

func TestGet(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	e.ok("apply", "-f", "testdata/my-service.yaml")
	e.createPod(newPod("default", "web-1", map[string]string{"app": "web"}), runningStatus("10.244.0.5"))
	crash := runningStatus("10.244.0.6")
	crash.ContainerStatuses[0] = &corev1.ContainerStatus{Name: "app", RestartCount: 3,
		State: &corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}
	e.createPod(newPod("default", "web-2", map[string]string{"app": "web", "track": "canary"}), crash)
	e.createPod(newPod("default", "db-1", map[string]string{"app": "db"}), &corev1.PodStatus{Phase: "Pending",
		ContainerStatuses: []*corev1.ContainerStatus{{Name: "app", State: &corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}}}})
	if _, err := e.api.Client.Namespaces().Create(ctx, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "team"}}); err != nil {
		t.Fatal(err)
	}
	e.createPod(newPod("team", "other", nil), nil)

	// kubectl's columns and STATUS; AGE is left out of the comparison.
	pods := cells(e.ok("get", "pods"))
	if got := strings.Join(rowsWithout(pods, 4), "\n"); got != "NAME|READY|STATUS|RESTARTS\ndb-1|0/1|ImagePullBackOff|0\nweb-1|1/1|Running|0\nweb-2|0/1|CrashLoopBackOff|3" {
		t.Errorf("get pods:\n%s", got)
	}
	wide := cells(e.ok("get", "po", "-o", "wide", "-l", "app=web"))
	if got := strings.Join(wide[0], "|"); got != "NAME|READY|STATUS|RESTARTS|AGE|IP|NODE|NOMINATED NODE|READINESS GATES" {
		t.Errorf("wide header %q", got)
	}
	if got := strings.Join(wide[1][5:], "|"); got != "10.244.0.5|<none>|<none>|<none>" {
		t.Errorf("wide row %q", got)
	}
	// Selectors, -A, --show-labels, --no-headers, -o name.
	wantEqual(t, "-o name -l", e.ok("get", "pods", "-l", "track=canary", "-o", "name"), "pod/web-2\n")
	wantEqual(t, "--field-selector", e.ok("get", "pods", "--field-selector", "status.phase=Pending", "-o", "name"), "pod/db-1\n")
	all := cells(e.ok("get", "pods", "-A", "--no-headers"))
	if len(all) != 4 || all[0][0] != "default" || all[3][0] != "team" || all[3][1] != "other" {
		t.Errorf("get pods -A --no-headers: %q", all)
	}
	labels := cells(e.ok("get", "pod", "web-2", "--show-labels"))
	if got := labels[1][len(labels[1])-1]; got != "app=web,track=canary" {
		t.Errorf("--show-labels: %q", got)
	}
	wantEqual(t, "-n team", e.ok("get", "pods", "-n", "team", "-o", "name"), "pod/other\n")

	// Several kinds at once and get all: kind/name names and a table per kind.
	multi := e.ok("get", "po,svc", "-l", "app")
	wantContains(t, "get po,svc -l app", multi, "pod/web-1", "pod/db-1")
	if strings.Contains(multi, "service/") {
		t.Errorf("get po,svc -l app printed unlabeled services:\n%s", multi)
	}
	noLabel := e.ok("get", "po,svc")
	wantContains(t, "get po,svc", noLabel, "pod/web-2", "\n\nNAME                 TYPE        CLUSTER-IP", "service/my-service", "ClusterIP")
	e.ok("apply", "-f", "testdata/my-deployment.yaml")
	getAll := e.ok("get", "all")
	wantContains(t, "get all", getAll, "pod/web-1", "service/my-service", "deployment.apps/my-deployment", "NAME                            READY   UP-TO-DATE   AVAILABLE   AGE")
	if strings.Index(getAll, "pod/web-1") > strings.Index(getAll, "service/my-service") || strings.Index(getAll, "service/") > strings.Index(getAll, "deployment.apps/") {
		t.Errorf("get all is not in kubectl's order (pods, services, deployments):\n%s", getAll)
	}
	// Other kinds' tables.
	deploy := cells(e.ok("get", "deploy"))
	if got := strings.Join(rowsWithout(deploy, 4), "\n"); got != "NAME|READY|UP-TO-DATE|AVAILABLE\nmy-deployment|0/3|0|0" {
		t.Errorf("get deploy:\n%s", got)
	}
	wantContains(t, "get ns", e.ok("get", "namespaces"), "NAME              STATUS   AGE", "kube-system       Active", "team              Active")
	wantEqual(t, "get cm -A", e.run("", "get", "configmaps", "-A").err, "No resources found\n")
	// Events table from a recorded event.
	ev := &corev1.Event{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "web-1.1"}, Type: "Warning", Reason: "BackOff",
		InvolvedObject: &corev1.ObjectReference{Kind: "Pod", Name: "web-1", Namespace: "default"}, Message: "Back-off restarting failed container",
		Source: &corev1.EventSource{Component: "kubelet"}, Count: 2}
	if _, err := e.api.Client.Events().Create(ctx, ev); err != nil {
		t.Fatal(err)
	}
	evs := cells(e.ok("get", "events"))
	if got := strings.Join(rowsWithout(evs, 0), "\n"); got != "TYPE|REASON|OBJECT|MESSAGE\nWarning|BackOff|pod/web-1|Back-off restarting failed container" {
		t.Errorf("get events:\n%s", got)
	}

	// YAML and JSON: a single object as itself, several as a List.
	one := e.ok("get", "pod", "web-1", "-o", "yaml")
	wantContains(t, "get pod -o yaml", one, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-1\n", "podIP: 10.244.0.5")
	list := e.ok("get", "pods", "-o", "json")
	wantContains(t, "get pods -o json", list, "\"kind\": \"List\"", "\"name\": \"web-2\"")

	// Errors like kubectl's.
	wantEqual(t, "not found", e.fail(1, "get", "pod", "nope"), "Error from server (NotFound): pods \"nope\" not found\n")
	wantEqual(t, "not found deploy", e.fail(1, "get", "deploy/nope"), "Error from server (NotFound): deployments.apps \"nope\" not found\n")
	r := e.run("", "get", "pods", "web-1", "nope")
	if r.code != 1 || !strings.Contains(r.out, "web-1") || r.err != "Error from server (NotFound): pods \"nope\" not found\n" {
		t.Errorf("partial get: %d %q %q", r.code, r.out, r.err)
	}
	e.ok("get", "pod", "nope", "--ignore-not-found")
	wantEqual(t, "unknown type", e.fail(1, "get", "foo"), "error: the server doesn't have a resource type \"foo\"\n")
	wantEqual(t, "no resources", e.run("", "get", "pods", "-n", "kube-public").err, "No resources found in kube-public namespace.\n")
	wantContains(t, "bad selector", e.fail(1, "get", "pods", "-l", "a in (b"), "Error from server (BadRequest)")
	wantContains(t, "bad output", e.fail(1, "get", "pods", "-o", "xml"), `unable to match a printer suitable for the output format "xml"`)
	wantContains(t, "no type", e.fail(1, "get"), "you must specify the type of resource to get")
}

func TestGetWatch(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	e.createPod(newPod("default", "first", nil), nil)
	w := e.start(nil, "get", "pods", "-w")
	w.waitOut(t, "first")
	if !strings.HasPrefix(w.out.String(), "NAME    READY   STATUS") {
		t.Errorf("watch header: %q", w.out.String())
	}
	e.createPod(newPod("default", "second", nil), runningStatus("10.0.0.9"))
	w.waitOut(t, "second")
	testutil.Eventually(t, 30*time.Second, func() bool { return strings.Contains(w.out.String(), "Running") }, "the status update was not printed:\n%s", w.out.String())
	if _, err := e.api.Client.Pods().Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: "first"}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, func() bool { return strings.Count(w.out.String(), "first") >= 2 }, "the deletion was not printed:\n%s", w.out.String())
	if code := w.stop(); code != 0 {
		t.Errorf("get -w ended with %d: %s", code, w.err.String())
	}
	if strings.Count(w.out.String(), "NAME") != 1 {
		t.Errorf("the header was printed more than once:\n%s", w.out.String())
	}
	// Watching one deployment by name, YAML output.
	d := &appsv1.Deployment{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "web"}, Spec: &appsv1.DeploymentSpec{Replicas: proto.Int32(1),
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
			Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "web", Image: "nginx"}}}}}}
	if _, err := e.api.Client.Deployments().Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	wd := e.start(nil, "get", "deploy", "web", "-w", "-o", "name")
	wd.waitOut(t, "deployment.apps/web\n")
	e.ok("scale", "deploy/web", "--replicas=2")
	testutil.Eventually(t, 30*time.Second, func() bool { return strings.Count(wd.out.String(), "deployment.apps/web") >= 2 }, "scale not seen:\n%s", wd.out.String())
	wd.stop()
	wantContains(t, "watch missing", e.fail(1, "get", "deploy", "nope", "-w"), `deployments.apps "nope" not found`)
}
