package coxctl

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/testutil"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

func TestApplySeedManifests(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)

	// The Deployment of the notes: created, then unchanged, idempotently.
	wantEqual(t, "first apply", e.ok("apply", "-f", "testdata/my-deployment.yaml"), "deployment.apps/my-deployment created\n")
	wantEqual(t, "second apply", e.ok("apply", "-f", "testdata/my-deployment.yaml"), "deployment.apps/my-deployment unchanged\n")
	d, err := e.api.Client.Deployments().Get(ctx, "default", "my-deployment")
	if err != nil {
		t.Fatal(err)
	}
	if d.Spec.GetReplicas() != 3 || d.Metadata.Labels["app"] != "my-app-2" || d.Spec.Template.Spec.Containers[0].Image != "my-image" {
		t.Errorf("stored deployment = %v", d)
	}
	last := d.Metadata.Annotations[LastAppliedAnnotation]
	var cfg map[string]any
	if err := json.Unmarshal([]byte(last), &cfg); err != nil || cfg["kind"] != "Deployment" {
		t.Errorf("last-applied annotation %q: %v", last, err)
	}

	// get -o yaml | apply -f - round-trips to "unchanged", for one object and for a list.
	yml := e.ok("get", "deployment", "my-deployment", "-o", "yaml")
	wantContains(t, "get -o yaml", yml, "apiVersion: apps/v1\nkind: Deployment\n", "name: my-deployment", "resourceVersion:")
	r := e.run(yml, "apply", "-f", "-")
	if r.code != 0 || r.out != "deployment.apps/my-deployment unchanged\n" {
		t.Errorf("get -o yaml | apply -f -: %d %q %q", r.code, r.out, r.err)
	}
	js := e.ok("get", "deploy", "-o", "json")
	r = e.run(js, "apply", "-f", "-")
	if r.code != 0 || r.out != "deployment.apps/my-deployment unchanged\n" {
		t.Errorf("get -o json (list) | apply -f -: %d %q %q", r.code, r.out, r.err)
	}

	// The Service examples of the notes.
	for _, tc := range []struct{ file, want string }{
		{"my-service.yaml", "service/my-service created\n"},
		{"my-nodeport-service.yaml", "service/my-nodeport-service created\n"},
		{"my-loadbalancer-service.yaml", "service/my-loadbalancer-service created\n"},
		{"my-externalname-service.yaml", "service/my-externalname-service created\n"},
		{"my-headless-service.yaml", "service/my-headless-service created\n"},
		{"my-tcp-udp-service.yaml", "service/my-tcp-udp-service created\n"},
		// The same service again, now with nodePort 30000, then with the notes' 3-space version (targetPort 4000).
		{"my-nodeport-service-30000.yaml", "service/my-nodeport-service configured\n"},
		{"my-nodeport-service-tags.yaml", "service/my-nodeport-service configured\n"},
		{"my-nodeport-service-tags.yaml", "service/my-nodeport-service unchanged\n"},
		{"my-service.yaml", "service/my-service unchanged\n"},
	} {
		wantEqual(t, "apply "+tc.file, e.ok("apply", "-f", filepath.Join("testdata", tc.file)), tc.want)
	}
	np, err := e.api.Client.Services().Get(ctx, "default", "my-nodeport-service")
	if err != nil {
		t.Fatal(err)
	}
	if p := np.Spec.Ports[0]; p.NodePort != 30000 || p.TargetPort.GetIntVal() != 4000 {
		t.Errorf("my-nodeport-service port = %v", p)
	}
	svcs := e.ok("get", "svc")
	for _, row := range [][]string{
		{"my-nodeport-service", "NodePort", "<none>", "80:30000/TCP"},
		{"my-loadbalancer-service", "LoadBalancer", "<pending>", "80:3"},
		{"my-externalname-service", "ExternalName", "<none>", "example.com", "<none>"},
		{"my-headless-service", "ClusterIP", "None", "<none>", "80/TCP"},
		{"my-tcp-udp-service", "ClusterIP", "80/TCP,53/UDP"},
	} {
		found := false
		for _, l := range strings.Split(svcs, "\n") {
			fields := strings.Fields(l)
			if len(fields) > 0 && fields[0] == row[0] {
				found = true
				for _, cell := range row[1:] {
					if !strings.Contains(l, cell) {
						t.Errorf("get svc row %q lacks %q", l, cell)
					}
				}
			}
		}
		if !found {
			t.Errorf("get svc has no row for %s:\n%s", row[0], svcs)
		}
	}
	if h := strings.Fields(strings.SplitN(svcs, "\n", 2)[0]); strings.Join(h, " ") != "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE" {
		t.Errorf("get svc header = %q", h)
	}
	// The example pod of 002.
	wantEqual(t, "apply example pod", e.ok("apply", "-f", "testdata/example-pod.yaml"), "pod/example created\n")
	wantEqual(t, "apply example pod again", e.ok("apply", "-f", "testdata/example-pod.yaml"), "pod/example unchanged\n")
}

func TestApplyDiscoveryMisindented(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	// The notes' Service YAML is mis-indented: rejected with the file, document and line, and the
	// Deployment of the same file (a valid document) is not written either.
	stderr := e.fail(1, "apply", "-f", "testdata/discovery.yaml")
	wantEqual(t, "apply discovery.yaml stderr", stderr,
		"error: testdata/discovery.yaml: document 2: line 33: mapping values are not allowed in this context\n")
	for _, r := range []*api.Resource{api.Deployments, api.Services} {
		items, _, err := dyn(e.api.Client, r).List(ctx, &metav1.ListOptions{Namespace: "default"})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if it.GetMetadata().GetName() != "kubernetes" {
				t.Errorf("%s %s was written from a malformed file", r.Kind, it.GetMetadata().GetName())
			}
		}
	}
	// The corrected file applies.
	wantEqual(t, "apply discovery-fixed.yaml", e.ok("apply", "-f", "testdata/discovery-fixed.yaml"),
		"deployment.apps/discovery-deploy created\nservice/discovery-service created\n")
	wantEqual(t, "apply discovery-fixed.yaml again", e.ok("apply", "-f", "testdata/discovery-fixed.yaml"),
		"deployment.apps/discovery-deploy unchanged\nservice/discovery-service unchanged\n")
	svc := e.ok("get", "svc", "discovery-service")
	wantContains(t, "get svc discovery-service", svc, "discovery-service", "NodePort", "8761:30007/TCP")
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const labeledConfigMap = `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels:
    app: web
    tier: frontend
data:
  mode: prod
  level: debug
`

func TestApplyThreeWayMerge(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	dir := t.TempDir()
	path := writeFile(t, dir, "cm.yaml", labeledConfigMap)
	wantEqual(t, "create", e.ok("apply", "-f", path), "configmap/settings created\n")
	// A label added by hand (not in any applied configuration) must survive applies.
	wantEqual(t, "label", e.ok("label", "cm", "settings", "owner=ops"), "configmap/settings labeled\n")
	wantEqual(t, "apply after label", e.ok("apply", "-f", path), "configmap/settings unchanged\n")

	// Removing a label and a data key from the file removes them from the object.
	writeFile(t, dir, "cm.yaml", strings.Replace(strings.Replace(labeledConfigMap, "    tier: frontend\n", "", 1), "  level: debug\n", "", 1))
	wantEqual(t, "apply without tier", e.ok("apply", "-f", path), "configmap/settings configured\n")
	cm, err := e.api.Client.ConfigMaps().Get(ctx, "default", "settings")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cm.Metadata.Labels["tier"]; ok {
		t.Errorf("label tier was removed from the file but is still set: %v", cm.Metadata.Labels)
	}
	if cm.Metadata.Labels["app"] != "web" || cm.Metadata.Labels["owner"] != "ops" {
		t.Errorf("labels = %v, want app=web and the hand-set owner=ops", cm.Metadata.Labels)
	}
	if _, ok := cm.Data["level"]; ok || cm.Data["mode"] != "prod" {
		t.Errorf("data = %v", cm.Data)
	}
	wantEqual(t, "apply again", e.ok("apply", "-f", path), "configmap/settings unchanged\n")

	// A change by hand to an applied field is reset by apply.
	cm.Data["mode"] = "hand-edited"
	if _, err := e.api.Client.ConfigMaps().Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "apply resets", e.ok("apply", "-f", path), "configmap/settings configured\n")
	cm, _ = e.api.Client.ConfigMaps().Get(ctx, "default", "settings")
	if cm.Data["mode"] != "prod" {
		t.Errorf("mode = %q after apply", cm.Data["mode"])
	}

	// Fields set by the server survive: clusterIP and the allocated nodePort when the targetPort changes.
	svc := writeFile(t, dir, "svc.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: NodePort\n  selector:\n    app: web\n  ports:\n  - port: 80\n    targetPort: 8080\n")
	e.ok("apply", "-f", svc)
	before, _ := e.api.Client.Services().Get(ctx, "default", "web")
	if before.Spec.ClusterIp == "" || before.Spec.Ports[0].NodePort == 0 {
		t.Fatalf("the apiserver allocated nothing: %v", before.Spec)
	}
	writeFile(t, dir, "svc.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: NodePort\n  selector:\n    app: web\n  ports:\n  - port: 80\n    targetPort: 9090\n")
	wantEqual(t, "apply new targetPort", e.ok("apply", "-f", svc), "service/web configured\n")
	after, _ := e.api.Client.Services().Get(ctx, "default", "web")
	if after.Spec.ClusterIp != before.Spec.ClusterIp || after.Spec.Ports[0].NodePort != before.Spec.Ports[0].NodePort || after.Spec.Ports[0].TargetPort.GetIntVal() != 9090 {
		t.Errorf("service after re-apply: %v (before %v)", after.Spec, before.Spec)
	}
	wantEqual(t, "apply svc again", e.ok("apply", "-f", svc), "service/web unchanged\n")
}

func TestApplyMalformedWritesNothing(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	dir := t.TempDir()
	writeFile(t, dir, "a-good.yaml", labeledConfigMap)
	writeFile(t, dir, "b-bad.yaml", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: three
  template:
    spec:
      containers:
      - name: web
        image: nginx
        ports:
        - containerPort: http
---
apiVersion: v1
kind: Secret
metadata:
  name: fine
`)
	writeFile(t, dir, "sub/c-nested.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: nested\n")
	writeFile(t, dir, "notes.txt", "not a manifest")
	stderr := e.fail(1, "apply", "-f", dir)
	bad := filepath.Join(dir, "b-bad.yaml")
	wantEqual(t, "stderr", stderr,
		"error: "+bad+": document 1: line 6: spec.replicas: expected an integer, got string \"three\"\n"+
			"error: "+bad+": document 1: line 13: spec.template.spec.containers[0].ports[0].containerPort: expected an integer, got string \"http\"\n")
	cms, _, err := e.api.Client.ConfigMaps().List(ctx, &metav1.ListOptions{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	secrets, _, _ := e.api.Client.Secrets().List(ctx, &metav1.ListOptions{Namespace: "default"})
	if len(cms) != 0 || len(secrets) != 0 {
		t.Errorf("objects were written from a directory with a malformed file: %d configmaps, %d secrets", len(cms), len(secrets))
	}
	// Fixed, the directory applies (the nested file only with -R).
	writeFile(t, dir, "b-bad.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: fine\nstringData:\n  a: b\n")
	wantEqual(t, "apply dir", e.ok("apply", "-f", dir), "configmap/settings created\nsecret/fine created\n")
	wantEqual(t, "apply dir -R", e.ok("apply", "-f", dir, "-R"), "configmap/settings unchanged\nsecret/fine unchanged\nconfigmap/nested created\n")
}

func TestApplyErrors(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	// A server-side validation error is printed like kubectl's.
	node := writeFile(t, dir, "node.yaml", "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n  namespace: default\n")
	wantEqual(t, "invalid", e.fail(1, "apply", "-f", node),
		"The Node \"n1\" is invalid: metadata.namespace: Forbidden: not allowed on this type\n")
	dep := writeFile(t, dir, "dep.yaml", strings.Replace(mustRead(t, "testdata/my-deployment.yaml"), "replicas: 3", "replicas: -1", 1))
	wantEqual(t, "invalid replicas", e.fail(1, "apply", "-f", dep),
		"The Deployment \"my-deployment\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0\n")
	// -n that contradicts the manifest's namespace.
	cm := writeFile(t, dir, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: kube-system\n")
	wantContains(t, "namespace mismatch", e.fail(1, "apply", "-n", "default", "-f", cm),
		`error: the namespace from the provided object "kube-system" does not match the namespace "default". You must pass '--namespace=kube-system' to perform this operation.`)
	wantEqual(t, "apply -n kube-system", e.ok("apply", "-n", "kube-system", "-f", cm), "configmap/a created\n")
	// create -f of an existing object.
	wantContains(t, "create existing", e.fail(1, "create", "-f", cm),
		`Error from server (AlreadyExists): error when creating "`+cm+`": configmaps "a" already exists`)
	wantContains(t, "no -f", e.fail(1, "apply"), "error: must specify one of -f")
	wantContains(t, "missing file", e.fail(1, "apply", "-f", filepath.Join(dir, "nope.yaml")), "does not exist")
	// Unknown kind and generateName.
	k := writeFile(t, dir, "k.yaml", "apiVersion: v1\nkind: Widget\nmetadata:\n  name: w\n")
	wantContains(t, "unknown kind", e.fail(1, "apply", "-f", k), `kind: no kind "Widget" is registered for version "v1"`)
	g := writeFile(t, dir, "g.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: w-\n")
	wantContains(t, "generateName", e.fail(1, "apply", "-f", g), "metadata.name: a name is required")
	// create -f creates; delete -f deletes.
	p := writeFile(t, dir, "p.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: p\n")
	wantEqual(t, "create", e.ok("create", "-f", p), "configmap/p created\n")
	wantEqual(t, "delete -f", e.ok("delete", "-f", p), "configmap \"p\" deleted\n")
	wantContains(t, "delete -f again", e.fail(1, "delete", "-f", p), `Error from server (NotFound): error when deleting "`+p+`": configmaps "p" not found`)
	e.ok("delete", "-f", p, "--ignore-not-found")
}
