package defaults

import (
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/api/manifest"
	"github.com/coxswain/coxswain/pkg/api/manifest/manifesttest"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

func decode(t *testing.T, name, data string) api.Object {
	t.Helper()
	docs, err := manifest.Decode([]byte(data), name)
	if err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	if len(docs) != 1 {
		t.Fatalf("%s: %d documents, want 1", name, len(docs))
	}
	return docs[0].Object
}

// defaultedPodSpec is what an empty pod spec becomes (indented for a Pod's spec).
const defaultedPodSpec = `  restartPolicy: Always
  terminationGracePeriodSeconds: 30
  dnsPolicy: ClusterFirst
  schedulerName: default-scheduler
  enableServiceLinks: true
`

func TestApply(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{
			name: "Pod: every defaulted field",
			in: `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  volumes:
  - {name: cm, configMap: {name: c}}
  - {name: s, secret: {secretName: s}}
  - {name: e, emptyDir: {}}
  initContainers:
  - {name: init, image: "busybox:1.36"}
  containers:
  - name: web
    image: nginx
    ports: [{containerPort: 80}, {containerPort: 53, protocol: UDP}]
    env: [{name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}]
    livenessProbe: {httpGet: {port: 80}}
    readinessProbe: {tcpSocket: {port: 80}, periodSeconds: 3}
    startupProbe: {exec: {command: ["true"]}}
    lifecycle: {preStop: {httpGet: {port: 80, path: /quit}}}
  - {name: tagged, image: "registry:5000/app:v2"}
  - {name: latest, image: "app:latest"}
  - {name: digest, image: "app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
  - {name: port-registry, image: "localhost:5000/app"}
  tolerations: [{key: k, value: v, effect: NoSchedule}, {operator: Exists}]
`,
			want: `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  volumes:
  - {name: cm, configMap: {name: c, defaultMode: 420}}
  - {name: s, secret: {secretName: s, defaultMode: 420}}
  - {name: e, emptyDir: {}}
  initContainers:
  - {name: init, image: "busybox:1.36", imagePullPolicy: IfNotPresent, terminationMessagePath: /dev/termination-log}
  containers:
  - name: web
    image: nginx
    imagePullPolicy: Always
    terminationMessagePath: /dev/termination-log
    ports: [{containerPort: 80, protocol: TCP}, {containerPort: 53, protocol: UDP}]
    env: [{name: IP, valueFrom: {fieldRef: {apiVersion: v1, fieldPath: status.podIP}}}]
    livenessProbe: {httpGet: {port: 80, path: /, scheme: HTTP}, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3}
    readinessProbe: {tcpSocket: {port: 80}, timeoutSeconds: 1, periodSeconds: 3, successThreshold: 1, failureThreshold: 3}
    startupProbe: {exec: {command: ["true"]}, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3}
    lifecycle: {preStop: {httpGet: {port: 80, path: /quit, scheme: HTTP}}}
  - {name: tagged, image: "registry:5000/app:v2", imagePullPolicy: IfNotPresent, terminationMessagePath: /dev/termination-log}
  - {name: latest, image: "app:latest", imagePullPolicy: Always, terminationMessagePath: /dev/termination-log}
  - {name: digest, image: "app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", imagePullPolicy: IfNotPresent, terminationMessagePath: /dev/termination-log}
  - {name: port-registry, image: "localhost:5000/app", imagePullPolicy: Always, terminationMessagePath: /dev/termination-log}
  tolerations: [{key: k, value: v, effect: NoSchedule, operator: Equal}, {operator: Exists}]
` + defaultedPodSpec,
		},
		{
			name: "Pod: explicit values are kept",
			in: `apiVersion: v1
kind: Pod
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 0
  dnsPolicy: Default
  schedulerName: mine
  enableServiceLinks: false
  volumes: [{name: cm, configMap: {name: c, defaultMode: 256}}]
  containers:
  - name: c
    image: nginx
    imagePullPolicy: Never
    terminationMessagePath: /tmp/msg
    livenessProbe: {httpGet: {port: 443, path: /z, scheme: HTTPS}, timeoutSeconds: 5, periodSeconds: 6, successThreshold: 2, failureThreshold: 7}
`,
			want: `apiVersion: v1
kind: Pod
metadata: {}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 0
  dnsPolicy: Default
  schedulerName: mine
  enableServiceLinks: false
  volumes: [{name: cm, configMap: {name: c, defaultMode: 256}}]
  containers:
  - name: c
    image: nginx
    imagePullPolicy: Never
    terminationMessagePath: /tmp/msg
    livenessProbe: {httpGet: {port: 443, path: /z, scheme: HTTPS}, timeoutSeconds: 5, periodSeconds: 6, successThreshold: 2, failureThreshold: 7}
`,
		},
		{
			name: "Pod: host network publishes container ports on the host",
			in:   "apiVersion: v1\nkind: Pod\nspec:\n  hostNetwork: true\n  containers: [{name: c, image: a:1, ports: [{containerPort: 8080}, {containerPort: 9090, hostPort: 9191}]}]\n",
			want: `apiVersion: v1
kind: Pod
spec:
  hostNetwork: true
  containers:
  - name: c
    image: a:1
    imagePullPolicy: IfNotPresent
    terminationMessagePath: /dev/termination-log
    ports: [{containerPort: 8080, hostPort: 8080, protocol: TCP}, {containerPort: 9090, hostPort: 9191, protocol: TCP}]
` + defaultedPodSpec,
		},
		{
			name: "Pod without a spec",
			in:   "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n",
			want: "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n" + defaultedPodSpec,
		},
		{
			name: "ReplicaSet: replicas and the pod template",
			in:   "apiVersion: apps/v1\nkind: ReplicaSet\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: nginx:1.25}]\n",
			want: `apiVersion: apps/v1
kind: ReplicaSet
spec:
  replicas: 1
  template:
    spec:
      containers: [{name: c, image: "nginx:1.25", imagePullPolicy: IfNotPresent, terminationMessagePath: /dev/termination-log}]
      restartPolicy: Always
      terminationGracePeriodSeconds: 30
      dnsPolicy: ClusterFirst
      schedulerName: default-scheduler
      enableServiceLinks: true
`,
		},
		{
			name: "ReplicaSet: zero replicas are kept",
			in:   "apiVersion: apps/v1\nkind: ReplicaSet\nspec: {replicas: 0}\n",
			want: "apiVersion: apps/v1\nkind: ReplicaSet\nspec: {replicas: 0}\n",
		},
		{
			name: "Deployment: every defaulted field",
			in:   "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: nginx, ports: [{containerPort: 80}]}]\n",
			want: `apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  replicas: 1
  strategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 25%, maxSurge: 25%}}
  revisionHistoryLimit: 10
  progressDeadlineSeconds: 600
  template:
    spec:
      containers: [{name: c, image: nginx, imagePullPolicy: Always, terminationMessagePath: /dev/termination-log, ports: [{containerPort: 80, protocol: TCP}]}]
      restartPolicy: Always
      terminationGracePeriodSeconds: 30
      dnsPolicy: ClusterFirst
      schedulerName: default-scheduler
      enableServiceLinks: true
`,
		},
		{
			name: "Deployment: Recreate has no rolling update, explicit values are kept",
			in:   "apiVersion: apps/v1\nkind: Deployment\nspec: {replicas: 0, strategy: {type: Recreate}, revisionHistoryLimit: 0, progressDeadlineSeconds: 60}\n",
			want: "apiVersion: apps/v1\nkind: Deployment\nspec: {replicas: 0, strategy: {type: Recreate}, revisionHistoryLimit: 0, progressDeadlineSeconds: 60}\n",
		},
		{
			name: "Deployment: a partial rolling update is completed",
			in:   "apiVersion: apps/v1\nkind: Deployment\nspec: {strategy: {rollingUpdate: {maxSurge: 0}}}\n",
			want: "apiVersion: apps/v1\nkind: Deployment\nspec: {replicas: 1, strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 0, maxUnavailable: 25%}}, revisionHistoryLimit: 10, progressDeadlineSeconds: 600}\n",
		},
		{
			name: "Service: ClusterIP",
			in:   "apiVersion: v1\nkind: Service\nspec:\n  ports: [{port: 80}, {port: 53, protocol: UDP, targetPort: dns}, {port: 81, targetPort: 0}, {port: 82, targetPort: \"\"}]\n",
			want: `apiVersion: v1
kind: Service
spec:
  type: ClusterIP
  sessionAffinity: None
  internalTrafficPolicy: Cluster
  ports: [{port: 80, protocol: TCP, targetPort: 80}, {port: 53, protocol: UDP, targetPort: dns}, {port: 81, protocol: TCP, targetPort: 81}, {port: 82, protocol: TCP, targetPort: 82}]
`,
		},
		{
			name: "Service: NodePort",
			in:   nodePortService,
			want: `apiVersion: v1
kind: Service
metadata: {name: eureka}
spec:
  type: NodePort
  ports: [{port: 8761, protocol: TCP, targetPort: 8761, nodePort: 30007}]
  sessionAffinity: None
  externalTrafficPolicy: Cluster
  internalTrafficPolicy: Cluster
`,
		},
		{
			name: "Service: LoadBalancer with ClientIP affinity",
			in:   "apiVersion: v1\nkind: Service\nspec: {type: LoadBalancer, sessionAffinity: ClientIP, externalTrafficPolicy: Local}\n",
			want: `apiVersion: v1
kind: Service
spec:
  type: LoadBalancer
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 10800}}
  externalTrafficPolicy: Local
  internalTrafficPolicy: Cluster
  allocateLoadBalancerNodePorts: true
`,
		},
		{
			name: "Service: ClientIP timeout given, ExternalName",
			in:   "apiVersion: v1\nkind: Service\nspec: {type: ExternalName, externalName: example.com, sessionAffinity: ClientIP, sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}}\n",
			want: "apiVersion: v1\nkind: Service\nspec: {type: ExternalName, externalName: example.com, sessionAffinity: ClientIP, sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}}\n",
		},
		{
			name: "Secret: type and stringData merged into data",
			in:   "apiVersion: v1\nkind: Secret\ndata: {a: YQ==, b: Yg==}\nstringData: {b: B, c: C}\n",
			want: "apiVersion: v1\nkind: Secret\ntype: Opaque\ndata: {a: YQ==, b: Qg==, c: Qw==}\n",
		},
		{
			name: "Secret: type kept, no data",
			in:   "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/dockerconfigjson\nstringData: {.dockerconfigjson: \"{}\"}\n",
			want: "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/dockerconfigjson\ndata: {.dockerconfigjson: e30=}\n",
		},
		{
			name: "Namespace: phase Active",
			in:   "apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n",
			want: "apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\nstatus: {phase: Active}\n",
		},
		{
			name: "Namespace: Terminating kept",
			in:   "apiVersion: v1\nkind: Namespace\nstatus: {phase: Terminating}\n",
			want: "apiVersion: v1\nkind: Namespace\nstatus: {phase: Terminating}\n",
		},
		{
			name: "Node: allocatable defaults to capacity, no phase",
			in:   "apiVersion: v1\nkind: Node\nstatus: {capacity: {cpu: 4, memory: 8Gi}}\n",
			want: "apiVersion: v1\nkind: Node\nstatus: {capacity: {cpu: 4, memory: 8Gi}, allocatable: {cpu: 4, memory: 8Gi}}\n",
		},
		{
			name: "Node: allocatable kept",
			in:   "apiVersion: v1\nkind: Node\nstatus: {capacity: {cpu: 4}, allocatable: {cpu: 3500m}}\n",
			want: "apiVersion: v1\nkind: Node\nstatus: {capacity: {cpu: 4}, allocatable: {cpu: 3500m}}\n",
		},
		{
			name: "Event: type Normal",
			in:   "apiVersion: v1\nkind: Event\nreason: Started\n",
			want: "apiVersion: v1\nkind: Event\nreason: Started\ntype: Normal\n",
		},
		{
			name: "Event: Warning kept",
			in:   "apiVersion: v1\nkind: Event\ntype: Warning\n",
			want: "apiVersion: v1\nkind: Event\ntype: Warning\n",
		},
		{
			name: "Endpoints: port protocol",
			in:   "apiVersion: v1\nkind: Endpoints\nsubsets: [{addresses: [{ip: 10.0.0.1}], ports: [{port: 80}, {port: 53, protocol: UDP}]}]\n",
			want: "apiVersion: v1\nkind: Endpoints\nsubsets: [{addresses: [{ip: 10.0.0.1}], ports: [{port: 80, protocol: TCP}, {port: 53, protocol: UDP}]}]\n",
		},
		{
			name: "ConfigMap: nothing",
			in:   "apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n",
			want: "apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n",
		},
		{
			name: "Lease: nothing",
			in:   "apiVersion: coordination.k8s.io/v1\nkind: Lease\nspec: {holderIdentity: x}\n",
			want: "apiVersion: coordination.k8s.io/v1\nkind: Lease\nspec: {holderIdentity: x}\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := decode(t, "in", tt.in)
			want := decode(t, "want", tt.want)
			Apply(obj)
			if !proto.Equal(obj, want) {
				t.Fatalf("Apply: (-want +got)\n%s", cmp.Diff(want, obj, protocmp.Transform()))
			}
			again := proto.Clone(obj).(api.Object)
			Apply(again)
			if !proto.Equal(again, obj) {
				t.Fatalf("Apply is not idempotent: (-once +twice)\n%s", cmp.Diff(obj, again, protocmp.Transform()))
			}
		})
	}
}

const nodePortService = `apiVersion: v1
kind: Service
metadata: {name: eureka}
spec:
  type: NodePort
  ports: [{port: 8761, protocol: TCP, targetPort: 8761, nodePort: 30007}]
`

// TestApplyIdempotent applies defaults to random objects of every kind: applying them again changes nothing.
func TestApplyIdempotent(t *testing.T) {
	for _, r := range api.All() {
		t.Run(r.Kind, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, uint64(len(r.Kind))))
			for i := 0; i < 500; i++ {
				obj := manifesttest.Object(rng, r)
				Apply(obj)
				again := proto.Clone(obj).(api.Object)
				Apply(again)
				if !proto.Equal(again, obj) {
					t.Fatalf("Apply is not idempotent: (-once +twice)\n%s", cmp.Diff(obj, again, protocmp.Transform()))
				}
			}
		})
	}
}

// TestApplyPodTemplateSpec checks the template kind on its own, which Apply accepts as an api.Object.
func TestApplyPodTemplateSpec(t *testing.T) {
	tmpl := &corev1.PodTemplateSpec{}
	Apply(tmpl)
	if tmpl.Spec.GetRestartPolicy() != "Always" || tmpl.Spec.GetTerminationGracePeriodSeconds() != 30 {
		t.Errorf("PodTemplateSpec not defaulted: %v", tmpl)
	}
}

func TestPullPolicy(t *testing.T) {
	for image, want := range map[string]string{
		"nginx":                         "Always",
		"nginx:latest":                  "Always",
		"nginx:1.25":                    "IfNotPresent",
		"docker.io/library/nginx":       "Always",
		"localhost:5000/nginx":          "Always",
		"localhost:5000/nginx:1":        "IfNotPresent",
		"nginx@sha256:abc":              "IfNotPresent",
		"nginx:latest@sha256:abc":       "Always",
		"registry.example.com:443/a/b":  "Always",
		"registry.example.com/a/b:v1.2": "IfNotPresent",
		"":                              "IfNotPresent",
	} {
		if got := PullPolicy(image); got != want {
			t.Errorf("PullPolicy(%q) = %s, want %s", image, got, want)
		}
	}
}
