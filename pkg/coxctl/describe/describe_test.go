package describe

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/coxctl/deployutil"
	"github.com/coxswain/coxswain/pkg/fields"
	"github.com/coxswain/coxswain/pkg/labels"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	coordinationv1 "github.com/coxswain/coxswain/proto/coxswain/coordination/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var now = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(now.Add(-d)) }

// store is an in-memory Reader with the apiserver's selector semantics.
type store struct{ objs []api.Object }

func (s *store) List(_ context.Context, r *api.Resource, opts *metav1.ListOptions) ([]api.Object, error) {
	ls, err := labels.Parse(opts.GetLabelSelector())
	if err != nil {
		return nil, err
	}
	fs, err := fields.Parse(opts.GetFieldSelector())
	if err != nil {
		return nil, err
	}
	var out []api.Object
	for _, o := range s.objs {
		if rr, _ := api.ForObject(o); rr != r {
			continue
		}
		if opts.GetNamespace() != "" && o.GetMetadata().GetNamespace() != opts.GetNamespace() {
			continue
		}
		if ls.Matches(o.GetMetadata().GetLabels()) && fs.Matches(func(f string) (string, bool) { return api.FieldValue(o, f) }) {
			out = append(out, o)
		}
	}
	return out, nil
}

func (s *store) Get(_ context.Context, r *api.Resource, ns, name string) (api.Object, error) {
	for _, o := range s.objs {
		if rr, _ := api.ForObject(o); rr == r && o.GetMetadata().GetNamespace() == ns && o.GetMetadata().GetName() == name {
			return o, nil
		}
	}
	return nil, apierrors.NotFound(r.GroupResource(), name)
}

func event(ns, kind, name, typ, reason, msg string, count int32, first, last time.Duration) *corev1.Event {
	return &corev1.Event{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name + "." + reason, CreationTimestamp: ago(first)},
		InvolvedObject: &corev1.ObjectReference{Kind: kind, Name: name, Namespace: ns}, Type: typ, Reason: reason, Message: msg,
		Source: &corev1.EventSource{Component: "default-scheduler"}, FirstTimestamp: ago(first), LastTimestamp: ago(last), Count: count}
}

func i32(v int32) *int32 { return &v }

func fixtures() (*store, map[string]api.Object) {
	tmpl := &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "web", Image: "nginx:1.25",
			Ports: []*corev1.ContainerPort{{ContainerPort: 80, Protocol: "TCP"}},
			Env:   []*corev1.EnvVar{{Name: "MODE", Value: "prod"}}}}}}
	dep := &appsv1.Deployment{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "web", Uid: "dep-uid", CreationTimestamp: ago(time.Hour),
		Labels: map[string]string{"app": "web"}, Annotations: map[string]string{deployutil.RevisionAnnotation: "2",
			"kubectl.kubernetes.io/last-applied-configuration": "{...}"}},
		Spec: &appsv1.DeploymentSpec{Replicas: i32(3), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: tmpl, Strategy: &appsv1.DeploymentStrategy{Type: "RollingUpdate"}},
		Status: &appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 3, AvailableReplicas: 3, UnavailableReplicas: 1,
			Conditions: []*metav1.Condition{{Type: "Available", Status: "True", Reason: "MinimumReplicasAvailable"},
				{Type: "Progressing", Status: "True", Reason: "ReplicaSetUpdated"}}}}
	owner := []*metav1.OwnerReference{{ApiVersion: "apps/v1", Kind: "Deployment", Name: "web", Uid: "dep-uid", Controller: proto.Bool(true)}}
	newTmpl := proto.Clone(tmpl).(*corev1.PodTemplateSpec)
	newTmpl.Metadata.Labels[deployutil.PodTemplateHashLabel] = "bbb"
	oldTmpl := proto.Clone(tmpl).(*corev1.PodTemplateSpec)
	oldTmpl.Metadata.Labels[deployutil.PodTemplateHashLabel] = "aaa"
	oldTmpl.Spec.Containers[0].Image = "nginx:1.24"
	newRS := &appsv1.ReplicaSet{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "web-bbb", Uid: "rs2", OwnerReferences: owner,
		Annotations: map[string]string{deployutil.RevisionAnnotation: "2"}, Labels: newTmpl.Metadata.Labels},
		Spec:   &appsv1.ReplicaSetSpec{Replicas: i32(3), Template: newTmpl, Selector: &metav1.LabelSelector{MatchLabels: newTmpl.Metadata.Labels}},
		Status: &appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 3}}
	oldRS := &appsv1.ReplicaSet{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "web-aaa", Uid: "rs1", OwnerReferences: owner,
		Annotations: map[string]string{deployutil.RevisionAnnotation: "1"}},
		Spec: &appsv1.ReplicaSetSpec{Replicas: i32(1), Template: oldTmpl}, Status: &appsv1.ReplicaSetStatus{Replicas: 1}}
	start := ago(10 * time.Minute)
	pod := &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "web-bbb-x1", Uid: "pod-uid", Labels: newTmpl.Metadata.Labels,
		OwnerReferences: []*metav1.OwnerReference{{Kind: "ReplicaSet", Name: "web-bbb", Controller: proto.Bool(true)}}},
		Spec: &corev1.PodSpec{NodeName: "node-1", Containers: []*corev1.Container{{Name: "web", Image: "nginx:1.25",
			Ports:        []*corev1.ContainerPort{{ContainerPort: 80, Protocol: "TCP", Name: "http"}},
			Resources:    &corev1.ResourceRequirements{Requests: map[string]string{"cpu": "100m", "memory": "64Mi"}},
			VolumeMounts: []*corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
			LivenessProbe: &corev1.Probe{HttpGet: &corev1.HTTPGetAction{Path: "/healthz", Port: &metav1.IntOrString{Value: &metav1.IntOrString_IntVal{IntVal: 80}}},
				TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3}}},
			Volumes:     []*corev1.Volume{{Name: "data", EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			Tolerations: []*corev1.Toleration{{Key: "node.kubernetes.io/not-ready", Operator: "Exists", Effect: "NoExecute", TolerationSeconds: proto.Int64(300)}}},
		Status: &corev1.PodStatus{Phase: "Running", HostIp: "10.0.0.1", PodIp: "10.244.1.5", PodIps: []*corev1.PodIP{{Ip: "10.244.1.5"}},
			StartTime: start, QosClass: "Burstable",
			Conditions: []*metav1.Condition{{Type: "PodScheduled", Status: "True"}, {Type: "Ready", Status: "True"}},
			ContainerStatuses: []*corev1.ContainerStatus{{Name: "web", Ready: true, RestartCount: 2, Image: "nginx:1.25", ContainerId: "coxswain://abc",
				State: &corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(2 * time.Minute)}},
				LastState: &corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled",
					Message: "out of memory", StartedAt: ago(5 * time.Minute), FinishedAt: ago(2*time.Minute + time.Second)}}}}}}
	pending := &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "big", Uid: "big-uid"},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "big", Image: "busybox"}}},
		Status: &corev1.PodStatus{Phase: "Pending", Conditions: []*metav1.Condition{{Type: "PodScheduled", Status: "False", Reason: "Unschedulable",
			Message: "0/2 nodes are available: 2 Insufficient cpu."}}}}
	crash := &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "crash"},
		Spec: &corev1.PodSpec{NodeName: "node-1", Containers: []*corev1.Container{{Name: "app", Image: "busybox", Command: []string{"sh", "-c", "exit 3"}}}},
		Status: &corev1.PodStatus{Phase: "Running", ContainerStatuses: []*corev1.ContainerStatus{{Name: "app", RestartCount: 5,
			State:     &corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 2m40s restarting failed container=app"}},
			LastState: &corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3, Reason: "Error", StartedAt: ago(time.Minute), FinishedAt: ago(time.Minute)}}}}}}
	svc := &corev1.Service{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "discovery-service"},
		Spec: &corev1.ServiceSpec{Type: "NodePort", ClusterIp: "10.96.0.50", ClusterIps: []string{"10.96.0.50"}, Selector: map[string]string{"app": "discovery"},
			SessionAffinity: "None", ExternalTrafficPolicy: "Cluster", InternalTrafficPolicy: "Cluster",
			Ports: []*corev1.ServicePort{{Protocol: "TCP", Port: 8761, NodePort: 30007, TargetPort: &metav1.IntOrString{Value: &metav1.IntOrString_IntVal{IntVal: 8761}}}}}}
	ep := &corev1.Endpoints{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "discovery-service"},
		Subsets: []*corev1.EndpointSubset{{Addresses: []*corev1.EndpointAddress{{Ip: "10.244.1.7"}, {Ip: "10.244.2.3"}},
			NotReadyAddresses: []*corev1.EndpointAddress{{Ip: "10.244.3.1"}}, Ports: []*corev1.EndpointPort{{Port: 8761, Protocol: "TCP"}}}}}
	node := &corev1.Node{Metadata: &metav1.ObjectMeta{Name: "node-1", CreationTimestamp: ago(48 * time.Hour),
		Labels: map[string]string{"kubernetes.io/hostname": "node-1", "node-role.kubernetes.io/control-plane": ""}},
		Spec: &corev1.NodeSpec{PodCidr: "10.244.1.0/24", Unschedulable: true, Taints: []*corev1.Taint{{Key: "node.kubernetes.io/unschedulable", Effect: "NoSchedule"}}},
		Status: &corev1.NodeStatus{Capacity: map[string]string{"cpu": "2", "memory": "4Gi", "pods": "110"},
			Conditions: []*metav1.Condition{{Type: "Ready", Status: "True", Reason: "KubeletReady", Message: "kubelet is posting ready status",
				LastHeartbeatTime: ago(10 * time.Second), LastTransitionTime: ago(48 * time.Hour)}},
			Addresses: []*corev1.NodeAddress{{Type: "InternalIP", Address: "10.0.0.1"}, {Type: "Hostname", Address: "node-1"}},
			NodeInfo:  &corev1.NodeSystemInfo{KernelVersion: "6.1.0", OsImage: "Debian GNU/Linux 12", KubeletVersion: "v1.30.0-coxswain", OperatingSystem: "linux", Architecture: "amd64"}}}
	objs := map[string]api.Object{
		"deployment": dep, "replicaset": newRS, "pod": pod, "pod-pending": pending, "pod-crashloop": crash, "service": svc, "endpoints": ep, "node": node,
		"namespace": &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "team", Labels: map[string]string{"kubernetes.io/metadata.name": "team"}},
			Status: &corev1.NamespaceStatus{Phase: "Active"}},
		"configmap": &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "settings"},
			Data: map[string]string{"mode": "prod", "config.yaml": "a: 1\nb: 2"}, BinaryData: map[string][]byte{"blob": {1, 2, 3}}},
		"secret": &corev1.Secret{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "token"}, Type: "Opaque", Data: map[string][]byte{"token": []byte("s3cr3t")}},
		"lease": &coordinationv1.Lease{Metadata: &metav1.ObjectMeta{Namespace: "kube-node-lease", Name: "node-1"},
			Spec: &coordinationv1.LeaseSpec{HolderIdentity: proto.String("node-1"), LeaseDurationSeconds: proto.Int32(40), RenewTime: ago(5 * time.Second)}},
		"event": event("default", "Pod", "big", "Warning", "FailedScheduling", "0/2 nodes are available: 2 Insufficient cpu.", 7, 10*time.Minute, 30*time.Second),
	}
	st := &store{objs: []api.Object{dep, newRS, oldRS, pod, pending, crash, svc, ep, node,
		event("default", "Pod", "web-bbb-x1", "Normal", "Scheduled", "Successfully assigned default/web-bbb-x1 to node-1", 1, 10*time.Minute, 10*time.Minute),
		event("default", "Pod", "web-bbb-x1", "Warning", "BackOff", "Back-off restarting failed container", 3, 5*time.Minute, 2*time.Minute),
		event("default", "Deployment", "web", "Normal", "ScalingReplicaSet", "Scaled up replica set web-bbb to 3", 1, time.Hour, time.Hour),
		event("default", "ReplicaSet", "web", "Normal", "Unrelated", "an event of another kind with the same name", 1, time.Hour, time.Hour),
		objs["event"],
	}}
	return st, objs
}

func TestDescribe(t *testing.T) {
	st, objs := fixtures()
	for name, obj := range objs {
		t.Run(name, func(t *testing.T) {
			r, err := api.ForObject(obj)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Describe(context.Background(), st, r, obj, now)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("describe %s differs from %s:\n--- got\n%s\n--- want\n%s", name, path, got, want)
			}
		})
	}
}

// TestDescribeContent pins the facts the descriptions must carry, independently of the golden files.
func TestDescribeContent(t *testing.T) {
	st, objs := fixtures()
	for _, tc := range []struct {
		obj  string
		want []string
		not  []string
	}{
		{"pod-pending", []string{"Status:           Pending", "Unschedulable: 0/2 nodes are available: 2 Insufficient cpu.",
			"Warning  FailedScheduling  30s (x7 over 10m)  default-scheduler  0/2 nodes are available"}, nil},
		{"pod", []string{"Last State:     Terminated", "Reason:       OOMKilled", "Exit Code:    137", "Restart Count:  2", "Ready:          True",
			"Controlled By:  ReplicaSet/web-bbb", "Normal   Scheduled"}, nil},
		{"pod-crashloop", []string{"State:          Waiting", "Reason:       CrashLoopBackOff", "Exit Code:    3", "Restart Count:  5", "Ready:          False"}, nil},
		{"deployment", []string{"Replicas:               3 desired | 3 updated | 4 total | 3 available | 1 unavailable",
			"StrategyType:           RollingUpdate", "RollingUpdateStrategy:  25% max unavailable, 25% max surge",
			"OldReplicaSets:  web-aaa (1/1 replicas created)", "NewReplicaSet:   web-bbb (3/3 replicas created)",
			"Available      True    MinimumReplicasAvailable", "ScalingReplicaSet"},
			[]string{"last-applied-configuration", "Unrelated"}},
		{"service", []string{"NodePort:                 <unset>  30007/TCP", "Endpoints:                10.244.1.7:8761,10.244.2.3:8761"}, nil},
		{"node", []string{"Roles:              control-plane", "Unschedulable:      true", "web-bbb-x1", "Non-terminated Pods:"}, nil},
	} {
		obj := objs[tc.obj]
		r, _ := api.ForObject(obj)
		got, err := Describe(context.Background(), st, r, obj, now)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("describe %s lacks %q:\n%s", tc.obj, w, got)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(got, w) {
				t.Errorf("describe %s has %q:\n%s", tc.obj, w, got)
			}
		}
	}
}
