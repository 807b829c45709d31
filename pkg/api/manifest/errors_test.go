package manifest

import (
	"errors"
	"strings"
	"testing"
)

// TestDecodeErrors checks the exact message, line and path of every kind of error.
func TestDecodeErrors(t *testing.T) {
	const pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n" // 4 lines
	tests := []struct {
		name   string
		source string
		data   string
		want   []string // the error's lines
	}{
		{
			name:   "unknown field",
			source: "deploy.yaml",
			data:   "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicass: 3\n  template:\n    spec:\n      containerz: []\n",
			want: []string{
				`deploy.yaml: document 1: line 6: spec.replicass: unknown field "replicass"`,
				`deploy.yaml: document 1: line 9: spec.template.spec.containerz: unknown field "containerz"`,
			},
		},
		{
			name:   "proto field names are not accepted",
			source: "svc.yaml",
			data:   "apiVersion: v1\nkind: Service\nspec:\n  cluster_ip: None\n",
			want:   []string{`svc.yaml: document 1: line 4: spec.cluster_ip: unknown field "cluster_ip"`},
		},
		{
			name:   "unknown top-level field",
			source: "p.yaml",
			data:   pod + "sepc: {}\n",
			want:   []string{`p.yaml: document 1: line 5: sepc: unknown field "sepc"`},
		},
		{
			name:   "string where an integer is needed, in the second document",
			source: "deploy.yaml",
			data: "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n" +
				"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n" +
				"      containers:\n      - name: web\n        ports:\n        - containerPort: http\n",
			want: []string{`deploy.yaml: document 2: line 15: spec.template.spec.containers[0].ports[0].containerPort: expected an integer, got string "http"`},
		},
		{
			name:   "quoted number where an integer is needed",
			source: "rs.yaml",
			data:   "apiVersion: apps/v1\nkind: ReplicaSet\nspec:\n  replicas: \"3\"\n",
			want:   []string{`rs.yaml: document 1: line 4: spec.replicas: expected an integer, got string "3"`},
		},
		{
			name:   "fraction where an integer is needed",
			source: "rs.yaml",
			data:   "apiVersion: apps/v1\nkind: ReplicaSet\nspec:\n  replicas: 1.5\n",
			want:   []string{`rs.yaml: document 1: line 4: spec.replicas: expected an integer, got number 1.5`},
		},
		{
			name:   "integer out of range for int32",
			source: "rs.yaml",
			data:   "apiVersion: apps/v1\nkind: ReplicaSet\nspec:\n  replicas: 3000000000\n  minReadySeconds: -2147483649\n",
			want: []string{
				`rs.yaml: document 1: line 4: spec.replicas: integer 3000000000 is out of range for int32`,
				`rs.yaml: document 1: line 5: spec.minReadySeconds: integer -2147483649 is out of range for int32`,
			},
		},
		{
			name:   "integer out of range for int64",
			source: "p.yaml",
			data:   pod + "  generation: 99999999999999999999\n",
			want:   []string{`p.yaml: document 1: line 5: metadata.generation: integer 99999999999999999999 is out of range for int64`},
		},
		{
			name:   "number where a string is needed",
			source: "cm.yaml",
			data:   "apiVersion: v1\nkind: ConfigMap\ndata:\n  port: 8080\n  debug: true\n  ok: \"80\"\n",
			want: []string{
				`cm.yaml: document 1: line 4: data[port]: expected a string, got integer 8080`,
				`cm.yaml: document 1: line 5: data[debug]: expected a string, got boolean true`,
			},
		},
		{
			name:   "numbers are quantities only in resource maps",
			source: "p.yaml",
			data:   pod + "  labels:\n    cpu: 1\nspec:\n  containers:\n  - name: c\n    resources:\n      limits: {cpu: 1, memory: 1e3}\n",
			want:   []string{`p.yaml: document 1: line 6: metadata.labels[cpu]: expected a string, got integer 1`},
		},
		{
			name:   "string where an array is needed",
			source: "p.yaml",
			data:   pod + "spec:\n  containers: nginx\n",
			want:   []string{`p.yaml: document 1: line 6: spec.containers: expected an array, got string "nginx"`},
		},
		{
			name:   "string where an object is needed",
			source: "p.yaml",
			data:   pod + "spec:\n  containers:\n  - nginx\n  - name: ok\n    resources: [cpu]\n",
			want: []string{
				`p.yaml: document 1: line 7: spec.containers[0]: expected an object, got string "nginx"`,
				`p.yaml: document 1: line 9: spec.containers[1].resources: expected an object, got an array`,
			},
		},
		{
			name:   "object where a string is needed",
			source: "p.yaml",
			data:   pod + "spec:\n  nodeName: {name: x}\n",
			want:   []string{`p.yaml: document 1: line 6: spec.nodeName: expected a string, got an object`},
		},
		{
			name:   "string where a boolean is needed",
			source: "p.yaml",
			data:   pod + "spec:\n  hostNetwork: yes\n  containers:\n  - name: c\n    securityContext: {privileged: \"true\"}\n",
			want: []string{
				`p.yaml: document 1: line 6: spec.hostNetwork: expected a boolean, got string "yes"`,
				`p.yaml: document 1: line 9: spec.containers[0].securityContext.privileged: expected a boolean, got string "true"`,
			},
		},
		{
			name:   "IntOrString of the wrong type",
			source: "svc.yaml",
			data:   "apiVersion: v1\nkind: Service\nspec:\n  ports:\n  - port: 80\n    targetPort: [80]\n  - port: 81\n    targetPort: 8.5\n  - port: 82\n    targetPort: 4294967296\n",
			want: []string{
				`svc.yaml: document 1: line 6: spec.ports[0].targetPort: expected an integer or a string, got an array`,
				`svc.yaml: document 1: line 8: spec.ports[1].targetPort: expected an integer or a string, got number 8.5`,
				`svc.yaml: document 1: line 10: spec.ports[2].targetPort: integer 4294967296 is out of range for int32`,
			},
		},
		{
			name:   "bad timestamps",
			source: "p.yaml",
			data:   pod + "  creationTimestamp: yesterday\n  deletionTimestamp: 2024-01-01\nstatus:\n  startTime: 5\n",
			want: []string{
				`p.yaml: document 1: line 5: metadata.creationTimestamp: expected an RFC 3339 timestamp, got string "yesterday"`,
				`p.yaml: document 1: line 6: metadata.deletionTimestamp: expected an RFC 3339 timestamp, got timestamp 2024-01-01`,
				`p.yaml: document 1: line 8: status.startTime: expected an RFC 3339 timestamp, got integer 5`,
			},
		},
		{
			name:   "bad base64",
			source: "secret.yaml",
			data:   "apiVersion: v1\nkind: Secret\ndata:\n  password: not base64!\n  pin: 1234\n",
			want: []string{
				`secret.yaml: document 1: line 4: data[password]: invalid base64 data: illegal base64 data at input byte 3`,
				`secret.yaml: document 1: line 5: data[pin]: expected base64 data (a string), got integer 1234`,
			},
		},
		{
			name:   "duplicate field and duplicate key",
			source: "p.yaml",
			data:   pod + "  labels:\n    app: a\n    app: b\nspec:\n  nodeName: x\n  nodeName: y\n",
			want: []string{
				`p.yaml: document 1: line 7: metadata.labels[app]: duplicate key "app"`,
				`p.yaml: document 1: line 10: spec.nodeName: duplicate field "nodeName"`,
			},
		},
		{
			name:   "unsupported kind",
			source: "x.yaml",
			data:   "apiVersion: v1\nkind: CronJob\n",
			want: []string{`x.yaml: document 1: line 2: kind: no kind "CronJob" is registered for version "v1"; supported kinds: ` +
				`apps/v1/Deployment, apps/v1/ReplicaSet, coordination.k8s.io/v1/Lease, v1/ConfigMap, v1/Endpoints, v1/Event, ` +
				`v1/Namespace, v1/Node, v1/Pod, v1/Secret, v1/Service`},
		},
		{
			name:   "unsupported apiVersion",
			source: "x.yaml",
			data:   "\nkind: Deployment\napiVersion: extensions/v1beta1\n",
			want:   []string{`x.yaml: document 1: line 2: kind: no kind "Deployment" is registered for version "extensions/v1beta1" (did you mean "apps/v1"?)`},
		},
		{
			name:   "missing apiVersion and kind",
			source: "x.yaml",
			data:   "metadata: {name: a}\n---\napiVersion: v1\nmetadata: {name: b}\n---\napiVersion: 1\nkind: [Pod]\n",
			want: []string{
				`x.yaml: document 1: line 1: apiVersion: required field is missing`,
				`x.yaml: document 2: line 3: kind: required field is missing`,
				`x.yaml: document 3: line 6: apiVersion: expected a string, got integer 1`,
				`x.yaml: document 3: line 7: kind: expected a string, got an array`,
			},
		},
		{
			name:   "document that is not an object",
			source: "x.yaml",
			data:   "- apiVersion: v1\n---\njust text\n",
			want: []string{
				`x.yaml: document 1: line 1: expected an object with apiVersion and kind, got an array`,
				`x.yaml: document 2: line 3: expected an object with apiVersion and kind, got string "just text"`,
			},
		},
		{
			name:   "YAML syntax error",
			source: "bad.yaml",
			data:   pod + "spec:\n  containers:\n  - name: a\n   image: b\n",
			want:   []string{`bad.yaml: document 1: line 6: did not find expected key`},
		},
		{
			name:   "YAML error on the first line",
			source: "bad.yaml",
			data:   "apiVersion: v1: x\n",
			want:   []string{`bad.yaml: document 1: line 1: mapping values are not allowed in this context`},
		},
		{
			name:   "unknown anchor",
			source: "bad.yaml",
			data:   pod + "spec:\n  nodeSelector: *sel\n",
			want:   []string{`bad.yaml: document 1: line 6: unknown anchor 'sel' referenced`},
		},
		{
			name:   "control character",
			source: "bad.yaml",
			data:   pod + "---\n" + pod + "  namespace: a\x01b\n",
			want:   []string{`bad.yaml: line 10: control characters are not allowed`},
		},
		{
			name:   "syntax error in a later document",
			source: "bad.yaml",
			data:   pod + "---\n" + pod + "spec: [\n",
			want:   []string{`bad.yaml: document 2: line 11: did not find expected node content`},
		},
		{
			name:   "JSON syntax error",
			source: "bad.json",
			data:   "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Pod\"\n  \"metadata\": {}\n}\n",
			want:   []string{`bad.json: document 1: line 4: did not find expected ',' or '}'`},
		},
		{
			name:   "JSON errors",
			source: "pod.json",
			data:   "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Pod\",\n  \"spec\": {\n    \"containers\": [{\"name\": \"a\", \"ports\": [{\"containerPort\": \"80\"}]}],\n    \"priority\": 1e10\n  }\n}\n",
			want: []string{
				`pod.json: document 1: line 5: spec.containers[0].ports[0].containerPort: expected an integer, got string "80"`,
				`pod.json: document 1: line 6: spec.priority: integer 1e10 is out of range for int32`,
			},
		},
		{
			name:   "List errors",
			source: "list.json",
			data: "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"extra\": 1, \"items\": [\n" +
				"  {\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"spec\": {\"finalizers\": \"x\"}},\n" +
				"  5,\n" +
				"  {\"apiVersion\": \"v1\", \"kind\": \"List\"}\n" +
				"]}\n",
			want: []string{
				`list.json: document 1: line 1: extra: unknown field "extra"`,
				`list.json: document 1: line 2: items[0].spec.finalizers: expected an array, got string "x"`,
				`list.json: document 1: line 3: items[1]: expected an object with apiVersion and kind, got integer 5`,
				`list.json: document 1: line 4: items[2].kind: a List cannot contain another List`,
			},
		},
		{
			name:   "key that is not a string",
			source: "p.yaml",
			data:   pod + "  labels:\n    ? [a, b]\n    : c\n",
			want:   []string{`p.yaml: document 1: line 6: metadata.labels: expected a string key, got an array`},
		},
		{
			name:   "merge key of the wrong type",
			source: "p.yaml",
			data:   pod + "  labels:\n    <<: 5\n",
			want:   []string{`p.yaml: document 1: line 6: metadata.labels: a merge key (<<) needs an object or an array of objects, got integer 5`},
		},
		{
			name:   "self-referencing merge",
			source: "p.yaml",
			data:   pod + "  labels: &l\n    a: b\n    <<: *l\n",
			want:   []string{`p.yaml: document 1: line 5: metadata.labels: merge keys (<<) are nested too deeply`},
		},
		{
			name:   "alias bomb",
			source: "bomb.yaml",
			data: pod + "spec:\n  containers:\n  - &c {name: x, args: [" + strings.Repeat("a, ", 1000) + "a]}\n" +
				strings.Repeat("  - *c\n", 2000),
			want: []string{`bomb.yaml: document 1: line 7: spec.containers[167].args[352]: the document is too large after expanding aliases`},
		},
		{
			name:   "no source name",
			source: "",
			data:   "apiVersion: v1\nkind: Pod\nfoo: 1\n",
			want:   []string{`document 1: line 3: foo: unknown field "foo"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.data), tt.source)
			if err == nil {
				t.Fatalf("Decode succeeded, want errors:\n%s", strings.Join(tt.want, "\n"))
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not a *DecodeError: %v", err, err)
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Fatalf("errors:\n%s\nwant:\n%s", got, want)
			}
			if len(de.Errors) != len(tt.want) {
				t.Fatalf("%d FieldErrors, want %d", len(de.Errors), len(tt.want))
			}
			var fe FieldError
			if !errors.As(err, &fe) || fe != de.Errors[0] {
				t.Errorf("errors.As(FieldError) = %+v, want the first error %+v", fe, de.Errors[0])
			}
		})
	}
}

func TestFieldErrorFields(t *testing.T) {
	_, err := Decode([]byte("apiVersion: v1\nkind: Service\nspec:\n  ports:\n  - port: eighty\n"), "svc.yaml")
	var de *DecodeError
	if !errors.As(err, &de) || len(de.Errors) != 1 {
		t.Fatalf("got %v, want one error", err)
	}
	want := FieldError{Source: "svc.yaml", Document: 1, Line: 5, Path: "spec.ports[0].port", Message: `expected an integer, got string "eighty"`}
	if de.Errors[0] != want {
		t.Errorf("got %+v, want %+v", de.Errors[0], want)
	}
}
