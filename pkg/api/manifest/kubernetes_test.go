package manifest

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/coxswain/coxswain/pkg/api"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

func intStr(i int32) *metav1.IntOrString {
	return &metav1.IntOrString{Value: &metav1.IntOrString_IntVal{IntVal: i}}
}

func strIntStr(s string) *metav1.IntOrString {
	return &metav1.IntOrString{Value: &metav1.IntOrString_StrVal{StrVal: s}}
}

func ptr[T any](v T) *T { return &v }

// The manifests below are written as people write them for Kubernetes (and as kubectl's docs show them).
const deploymentYAML = `# A Deployment as in the Kubernetes documentation.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx-deployment
  labels:
    app: nginx
spec:
  replicas: 3
  selector:
    matchLabels:
      app: nginx
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 1
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: nginx:1.14.2
        args: ["--port", "80"]
        ports:
        - containerPort: 80
          name: http
        env:
        - name: VERBOSE
          value: "true"
        - name: POD_IP
          valueFrom:
            fieldRef:
              fieldPath: status.podIP
        resources:
          requests:
            cpu: 0.5
            memory: 64Mi
          limits:
            cpu: 1
            memory: 128Mi
        readinessProbe:
          httpGet:
            path: /healthz
            port: http
          periodSeconds: 5
        livenessProbe:
          tcpSocket:
            port: 80
`

const nodePortServiceYAML = `apiVersion: v1
kind: Service
metadata:
  name: eureka
  namespace: default
spec:
  type: NodePort
  selector:
    app: eureka
  ports: [{port: 8761, protocol: TCP, targetPort: 8761, nodePort: 30007}]
`

const podJSON = `{
  "apiVersion": "v1",
  "kind": "Pod",
  "metadata": {
    "name": "busybox",
    "namespace": "default",
    "creationTimestamp": "2024-05-01T10:20:30Z",
    "annotations": {"note": "tab\tand \u00e9"}
  },
  "spec": {
    "restartPolicy": "Never",
    "terminationGracePeriodSeconds": 0,
    "enableServiceLinks": false,
    "nodeSelector": {"kubernetes.io/hostname": "node-1"},
    "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 60}],
    "containers": [
      {
        "name": "busybox",
        "image": "busybox",
        "command": ["sh", "-c", "echo hello; sleep 3600"],
        "securityContext": {"privileged": false}
      }
    ]
  },
  "status": {
    "phase": "Running",
    "podIP": "10.244.0.5",
    "podIPs": [{"ip": "10.244.0.5"}],
    "startTime": "2024-05-01T10:20:31.5+02:00"
  }
}
`

const configMapYAML = `apiVersion: v1
kind: ConfigMap
metadata:
  name: game-config
data:
  player_initial_lives: "3"
  ui_properties_file_name: user-interface.properties
  game.properties: |
    enemy.types=aliens,monsters
    player.maximum-lives=5
binaryData:
  blob: AAEC/w==
`

const secretYAML = `apiVersion: v1
kind: Secret
metadata:
  name: mysecret
type: Opaque
data:
  username: YWRtaW4=
  password: MWYyZDFlMmU2N2Rm
stringData:
  extra: plain text
immutable: true
`

func TestDecodeKubernetesManifests(t *testing.T) {
	tests := []struct {
		name, source, data string
		want               api.Object
		wantLine           int
	}{
		{
			name: "Deployment", source: "deploy.yaml", data: deploymentYAML, wantLine: 2,
			want: &appsv1.Deployment{
				Metadata: &metav1.ObjectMeta{Name: "nginx-deployment", Labels: map[string]string{"app": "nginx"}},
				Spec: &appsv1.DeploymentSpec{
					Replicas: ptr(int32(3)),
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}},
					Strategy: &appsv1.DeploymentStrategy{Type: "RollingUpdate", RollingUpdate: &appsv1.RollingUpdateDeployment{
						MaxSurge: strIntStr("25%"), MaxUnavailable: intStr(1)}},
					Template: &corev1.PodTemplateSpec{
						Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "nginx"}},
						Spec: &corev1.PodSpec{Containers: []*corev1.Container{{
							Name: "nginx", Image: "nginx:1.14.2", Args: []string{"--port", "80"},
							Ports: []*corev1.ContainerPort{{ContainerPort: 80, Name: "http"}},
							Env: []*corev1.EnvVar{{Name: "VERBOSE", Value: "true"}, {Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{
								FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}}},
							Resources: &corev1.ResourceRequirements{
								Requests: map[string]string{"cpu": "0.5", "memory": "64Mi"},
								Limits:   map[string]string{"cpu": "1", "memory": "128Mi"},
							},
							ReadinessProbe: &corev1.Probe{HttpGet: &corev1.HTTPGetAction{Path: "/healthz", Port: strIntStr("http")}, PeriodSeconds: 5},
							LivenessProbe:  &corev1.Probe{TcpSocket: &corev1.TCPSocketAction{Port: intStr(80)}},
						}}},
					},
				},
			},
		},
		{
			name: "NodePort Service", source: "svc.yaml", data: nodePortServiceYAML, wantLine: 1,
			want: &corev1.Service{
				Metadata: &metav1.ObjectMeta{Name: "eureka", Namespace: "default"},
				Spec: &corev1.ServiceSpec{
					Type:     "NodePort",
					Selector: map[string]string{"app": "eureka"},
					Ports:    []*corev1.ServicePort{{Port: 8761, Protocol: "TCP", TargetPort: intStr(8761), NodePort: 30007}},
				},
			},
		},
		{
			name: "Pod (JSON)", source: "pod.json", data: podJSON, wantLine: 1,
			want: &corev1.Pod{
				Metadata: &metav1.ObjectMeta{Name: "busybox", Namespace: "default",
					CreationTimestamp: timestamppb.New(time.Date(2024, 5, 1, 10, 20, 30, 0, time.UTC)),
					Annotations:       map[string]string{"note": "tab\tand é"}},
				Spec: &corev1.PodSpec{
					RestartPolicy:                 "Never",
					TerminationGracePeriodSeconds: ptr(int64(0)),
					EnableServiceLinks:            ptr(false),
					NodeSelector:                  map[string]string{"kubernetes.io/hostname": "node-1"},
					Tolerations: []*corev1.Toleration{{Key: "k", Operator: "Exists", Effect: "NoSchedule",
						TolerationSeconds: ptr(int64(60))}},
					Containers: []*corev1.Container{{Name: "busybox", Image: "busybox",
						Command:         []string{"sh", "-c", "echo hello; sleep 3600"},
						SecurityContext: &corev1.SecurityContext{Privileged: ptr(false)}}},
				},
				Status: &corev1.PodStatus{Phase: "Running", PodIp: "10.244.0.5", PodIps: []*corev1.PodIP{{Ip: "10.244.0.5"}},
					StartTime: timestamppb.New(time.Date(2024, 5, 1, 8, 20, 31, 5e8, time.UTC))},
			},
		},
		{
			name: "ConfigMap", source: "cm.yaml", data: configMapYAML, wantLine: 1,
			want: &corev1.ConfigMap{
				Metadata: &metav1.ObjectMeta{Name: "game-config"},
				Data: map[string]string{
					"player_initial_lives":    "3",
					"ui_properties_file_name": "user-interface.properties",
					"game.properties":         "enemy.types=aliens,monsters\nplayer.maximum-lives=5\n",
				},
				BinaryData: map[string][]byte{"blob": {0, 1, 2, 0xff}},
			},
		},
		{
			name: "Secret", source: "secret.yaml", data: secretYAML, wantLine: 1,
			want: &corev1.Secret{
				Metadata:   &metav1.ObjectMeta{Name: "mysecret"},
				Type:       "Opaque",
				Data:       map[string][]byte{"username": []byte("admin"), "password": []byte("1f2d1e2e67df")},
				StringData: map[string]string{"extra": "plain text"},
				Immutable:  ptr(true),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := Decode([]byte(tt.data), tt.source)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if len(docs) != 1 {
				t.Fatalf("got %d documents, want 1", len(docs))
			}
			d := docs[0]
			if !proto.Equal(d.Object, tt.want) {
				t.Fatalf("decoded object differs:\n%s", diff(tt.want, d.Object))
			}
			wantRes, _ := api.ForObject(tt.want)
			if d.Resource != wantRes || d.Source != tt.source || d.Index != 1 || d.Line != tt.wantLine {
				t.Errorf("document = {Resource %v, Source %q, Index %d, Line %d}, want {%v, %q, 1, %d}",
					d.Resource.Kind, d.Source, d.Index, d.Line, wantRes.Kind, tt.source, tt.wantLine)
			}
			// Encoding and decoding again gives the same object, in both formats.
			for _, format := range []string{"yaml", "json"} {
				out, err := Encode(d.Object, format)
				if err != nil {
					t.Fatalf("Encode(%s): %v", format, err)
				}
				again, err := Decode(out, "out")
				if err != nil || len(again) != 1 || !proto.Equal(again[0].Object, tt.want) {
					t.Fatalf("re-decoding the %s encoding failed (%v):\n%s", format, err, out)
				}
			}
		})
	}
}

func TestDecodeRaw(t *testing.T) {
	docs, err := Decode([]byte(deploymentYAML), "deploy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	raw := docs[0].Raw
	container := raw["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"apiVersion", raw["apiVersion"], "apps/v1"},
		{"kind", raw["kind"], "Deployment"},
		{"replicas", raw["spec"].(map[string]any)["replicas"], int64(3)},
		{"maxSurge", raw["spec"].(map[string]any)["strategy"].(map[string]any)["rollingUpdate"].(map[string]any)["maxSurge"], "25%"},
		{"maxUnavailable", raw["spec"].(map[string]any)["strategy"].(map[string]any)["rollingUpdate"].(map[string]any)["maxUnavailable"], int64(1)},
		{"cpu request kept as text", container["resources"].(map[string]any)["requests"].(map[string]any)["cpu"], "0.5"},
		{"containerPort", container["ports"].([]any)[0].(map[string]any)["containerPort"], int64(80)},
		{"args", container["args"], []any{"--port", "80"}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("Raw %s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	// A field written as null is in Raw with a nil value (and left unset in the object).
	docs, err = Decode([]byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  creationTimestamp: null\nspec: null\n"), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := docs[0].Raw["spec"]; !ok || v != nil {
		t.Errorf("Raw[spec] = %v (present %v), want nil and present", v, ok)
	}
	if docs[0].Object.(*corev1.Pod).Spec != nil {
		t.Errorf("spec: null decoded as a set spec")
	}
}

func TestDecodeStreams(t *testing.T) {
	tests := []struct {
		name      string
		data      string
		wantKinds []string
		wantIndex []int
		wantLines []int
	}{
		{
			name:      "multi-document YAML with empty documents",
			data:      "---\n" + nodePortServiceYAML + "---\n# nothing here\n---\n" + configMapYAML + "---\n",
			wantKinds: []string{"Service", "ConfigMap"},
			wantIndex: []int{1, 3},
			wantLines: []int{2, 15},
		},
		{
			name: "JSON List",
			data: `{"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": [
  {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}},
  {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "b"}, "spec": {"replicas": 2}}
]}`,
			wantKinds: []string{"Namespace", "ReplicaSet"},
			wantIndex: []int{1, 1},
			wantLines: []int{2, 3},
		},
		{
			name:      "YAML List followed by an object",
			data:      "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: s}\n---\napiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: l}\n",
			wantKinds: []string{"Secret", "Lease"},
			wantIndex: []int{1, 2},
			wantLines: []int{4, 8},
		},
		{
			name:      "empty input",
			data:      "",
			wantKinds: nil,
		},
		{
			name:      "anchors, aliases and merge keys",
			data:      "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: &l {app: web}\n  annotations:\n    <<: *l\n    tier: front\nspec:\n  nodeSelector: *l\n",
			wantKinds: []string{"Pod"},
			wantIndex: []int{1},
			wantLines: []int{1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := Decode([]byte(tt.data), "in")
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			var kinds []string
			var idx, lines []int
			for _, d := range docs {
				kinds = append(kinds, d.Resource.Kind)
				idx = append(idx, d.Index)
				lines = append(lines, d.Line)
			}
			if !reflect.DeepEqual(kinds, tt.wantKinds) || !reflect.DeepEqual(idx, tt.wantIndex) || !reflect.DeepEqual(lines, tt.wantLines) {
				t.Errorf("got kinds %v indexes %v lines %v, want %v %v %v", kinds, idx, lines, tt.wantKinds, tt.wantIndex, tt.wantLines)
			}
		})
	}
	docs, err := Decode([]byte(tests[4].data), "in")
	if err != nil {
		t.Fatal(err)
	}
	pod := docs[0].Object.(*corev1.Pod)
	want := map[string]string{"app": "web", "tier": "front"}
	if !reflect.DeepEqual(pod.Metadata.Annotations, want) || !reflect.DeepEqual(pod.Spec.NodeSelector, map[string]string{"app": "web"}) {
		t.Errorf("aliases/merge: annotations %v nodeSelector %v", pod.Metadata.Annotations, pod.Spec.NodeSelector)
	}
}

// TestDecodePartial checks that the documents that decoded cleanly come back along with the error.
func TestDecodePartial(t *testing.T) {
	data := configMapYAML + "---\napiVersion: v1\nkind: Pod\nspec: {bogus: 1}\n---\n" + secretYAML +
		"---\napiVersion: v1\nkind: ConfigMap\nkind: ConfigMap\n"
	docs, err := Decode([]byte(data), "mixed.yaml")
	if err == nil {
		t.Fatal("Decode succeeded, want an error for document 2")
	}
	if len(docs) != 2 || docs[0].Resource.Kind != "ConfigMap" || docs[1].Resource.Kind != "Secret" || docs[1].Index != 3 {
		t.Fatalf("got %d documents, want the ConfigMap and the Secret (index 3)", len(docs))
	}
	if want := "mixed.yaml: document 2: line 16: spec.bogus: unknown field \"bogus\"\n" +
		"mixed.yaml: document 4: line 32: kind: duplicate field \"kind\""; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if !strings.Contains(err.Error(), "document 2") {
		t.Errorf("error %q does not name document 2", err)
	}
}

// TestDecodeScalarForms checks the accepted spellings of scalars.
func TestDecodeScalarForms(t *testing.T) {
	docs, err := Decode([]byte(scalarFormsYAML), "forms.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: "on", Namespace: "80", GenerateName: "123", Generation: 16,
			CreationTimestamp: timestamppb.New(time.Date(2024, 5, 1, 10, 20, 30, 0, time.UTC)),
			Labels:            map[string]string{"yes": "true", "1": "one"}},
		Spec: &corev1.PodSpec{
			Priority: ptr(int32(1000)),
			Containers: []*corev1.Container{{}, {Name: "c", Args: []string{"", "", "x"},
				LivenessProbe: &corev1.Probe{HttpGet: &corev1.HTTPGetAction{Port: strIntStr("8080")}, TcpSocket: &corev1.TCPSocketAction{Port: intStr(1)}}}},
			NodeSelector: map[string]string{"a": ""},
		},
		Status: &corev1.PodStatus{StartTime: timestamppb.New(time.Date(2024, 5, 1, 10, 20, 30, 25e7, time.UTC))},
	}
	if !proto.Equal(docs[0].Object, want) {
		t.Fatalf("decoded object differs:\n%s", diff(want, docs[0].Object))
	}
}

const scalarFormsYAML = `apiVersion: v1
kind: Pod
metadata:
  name: on
  namespace: "80"
  generateName: !!str 123
  creationTimestamp: 2024-05-01T10:20:30Z
  generation: 0x10
  labels: {yes: "true", 1: one}
spec:
  priority: 1e3
  containers:
  - null
  - name: c
    args: [~, "", 'x']
    livenessProbe: {httpGet: {port: "8080"}, tcpSocket: {port: 1.0}}
  nodeSelector: {a: null}
status:
  startTime: "2024-05-01T12:20:30.25+02:00"
`
