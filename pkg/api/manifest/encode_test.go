package manifest

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/coxswain/coxswain/pkg/api"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

func TestEncode(t *testing.T) {
	created := timestamppb.New(time.Date(2024, 5, 1, 10, 20, 30, 0, time.UTC))
	tests := []struct {
		name     string
		obj      api.Object
		wantYAML string
		wantJSON string
	}{
		{
			name: "Service with IntOrString and omitted zero values",
			obj: &corev1.Service{
				Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default", CreationTimestamp: created,
					Labels: map[string]string{"b": "2", "a": "1"}},
				Spec: &corev1.ServiceSpec{
					Type: "NodePort",
					Ports: []*corev1.ServicePort{
						{Port: 80, TargetPort: strIntStr("http"), Protocol: "TCP"},
						{Port: 8761, TargetPort: intStr(8761), NodePort: 30007},
					},
					ClusterIp:                     "",
					AllocateLoadBalancerNodePorts: ptr(false),
				},
			},
			wantYAML: `apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
  creationTimestamp: "2024-05-01T10:20:30Z"
  labels:
    a: "1"
    b: "2"
spec:
  ports:
    - protocol: TCP
      port: 80
      targetPort: http
    - port: 8761
      targetPort: 8761
      nodePort: 30007
  type: NodePort
  allocateLoadBalancerNodePorts: false
`,
			wantJSON: `{
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {
        "name": "web",
        "namespace": "default",
        "creationTimestamp": "2024-05-01T10:20:30Z",
        "labels": {
            "a": "1",
            "b": "2"
        }
    },
    "spec": {
        "ports": [
            {
                "protocol": "TCP",
                "port": 80,
                "targetPort": "http"
            },
            {
                "port": 8761,
                "targetPort": 8761,
                "nodePort": 30007
            }
        ],
        "type": "NodePort",
        "allocateLoadBalancerNodePorts": false
    }
}
`,
		},
		{
			name: "Secret bytes, empty messages, multi-line strings and nanoseconds",
			obj: &corev1.Secret{
				Metadata: &metav1.ObjectMeta{Name: "s", DeletionTimestamp: timestamppb.New(time.Date(2024, 1, 2, 3, 4, 5, 600, time.UTC)),
					Annotations: map[string]string{"note": "line 1\nline 2\n", "odd": "\n"}},
				Data: map[string][]byte{"k": []byte("hello"), "empty": nil},
			},
			wantYAML: `apiVersion: v1
kind: Secret
metadata:
  name: s
  deletionTimestamp: "2024-01-02T03:04:05.0000006Z"
  annotations:
    note: |
      line 1
      line 2
    odd: "\n"
data:
  empty: ""
  k: aGVsbG8=
`,
			wantJSON: `{
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {
        "name": "s",
        "deletionTimestamp": "2024-01-02T03:04:05.0000006Z",
        "annotations": {
            "note": "line 1\nline 2\n",
            "odd": "\n"
        }
    },
    "data": {
        "empty": "",
        "k": "aGVsbG8="
    }
}
`,
		},
		{
			name: "set but empty messages are written as {}",
			obj: &appsv1.Deployment{
				Metadata: &metav1.ObjectMeta{},
				Spec:     &appsv1.DeploymentSpec{Strategy: &appsv1.DeploymentStrategy{}, Replicas: ptr(int32(0))},
				Status:   &appsv1.DeploymentStatus{},
			},
			wantYAML: `apiVersion: apps/v1
kind: Deployment
metadata: {}
spec:
  replicas: 0
  strategy: {}
status: {}
`,
			wantJSON: `{
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {},
    "spec": {
        "replicas": 0,
        "strategy": {}
    },
    "status": {}
}
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for format, want := range map[string]string{"yaml": tt.wantYAML, "json": tt.wantJSON} {
				got, err := Encode(tt.obj, format)
				if err != nil {
					t.Fatalf("Encode(%s): %v", format, err)
				}
				if string(got) != want {
					t.Errorf("Encode(%s):\n%s\nwant:\n%s", format, got, want)
				}
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	if _, err := Encode(&corev1.Pod{}, "xml"); err == nil || err.Error() != `unsupported output format "xml": supported formats: json, yaml` {
		t.Errorf("Encode(xml) error = %v", err)
	}
	if _, err := Encode(&corev1.PodTemplateSpec{}, "yaml"); err == nil || !strings.Contains(err.Error(), "coxswain.core.v1.PodTemplateSpec is not a served kind") {
		t.Errorf("Encode(PodTemplateSpec) error = %v", err)
	}
}

func TestToMap(t *testing.T) {
	obj := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: "p", Generation: 3, CreationTimestamp: timestamppb.New(time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC))},
		Spec: &corev1.PodSpec{
			Containers: []*corev1.Container{{
				Name:          "c",
				Ports:         []*corev1.ContainerPort{{ContainerPort: 80}},
				LivenessProbe: &corev1.Probe{HttpGet: &corev1.HTTPGetAction{Port: intStr(8080)}},
				Resources:     &corev1.ResourceRequirements{Limits: map[string]string{"cpu": "1"}},
			}},
			EnableServiceLinks: ptr(true),
		},
	}
	want := map[string]any{
		"apiVersion": "v1",
		"kind":       "Pod",
		"metadata":   map[string]any{"name": "p", "generation": int64(3), "creationTimestamp": "2024-05-01T00:00:00Z"},
		"spec": map[string]any{
			"containers": []any{map[string]any{
				"name":          "c",
				"ports":         []any{map[string]any{"containerPort": int64(80)}},
				"livenessProbe": map[string]any{"httpGet": map[string]any{"port": int64(8080)}},
				"resources":     map[string]any{"limits": map[string]any{"cpu": "1"}},
			}},
			"enableServiceLinks": true,
		},
	}
	if got := ToMap(obj); !reflect.DeepEqual(got, want) {
		t.Errorf("ToMap:\n%#v\nwant:\n%#v", got, want)
	}
}
