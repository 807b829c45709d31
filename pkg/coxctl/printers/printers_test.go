package printers

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/api/manifest"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	coordinationv1 "github.com/coxswain/coxswain/proto/coxswain/coordination/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var now = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(now.Add(-d)) }

func meta(ns, name string, age time.Duration) *metav1.ObjectMeta {
	return &metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: ago(age)}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
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
		t.Errorf("%s differs from %s:\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

func TestHumanDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-5 * time.Second, "<invalid>"},
		{-500 * time.Millisecond, "0s"},
		{0, "0s"},
		{5 * time.Second, "5s"},
		{119 * time.Second, "119s"},
		{2 * time.Minute, "2m"},
		{3*time.Minute + 2*time.Second, "3m2s"},
		{10 * time.Minute, "10m"},
		{179 * time.Minute, "179m"},
		{4 * time.Hour, "4h"},
		{5*time.Hour + 30*time.Minute, "5h30m"},
		{8 * time.Hour, "8h"},
		{47 * time.Hour, "47h"},
		{48 * time.Hour, "2d"},
		{3*24*time.Hour + 4*time.Hour, "3d4h"},
		{8 * 24 * time.Hour, "8d"},
		{400 * 24 * time.Hour, "400d"},
		{(2*365 + 100) * 24 * time.Hour, "2y100d"},
		{3 * 365 * 24 * time.Hour, "3y"},
		{10 * 365 * 24 * time.Hour, "10y"},
	} {
		if got := HumanDuration(tc.d); got != tc.want {
			t.Errorf("HumanDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	if got := Age(nil, now); got != "<unknown>" {
		t.Errorf("Age(nil) = %q", got)
	}
}

func running(name string, ready bool, restarts int32) *corev1.ContainerStatus {
	return &corev1.ContainerStatus{Name: name, Ready: ready, RestartCount: restarts,
		State: &corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(time.Hour)}}}
}

func waiting(name, reason string, restarts int32) *corev1.ContainerStatus {
	cs := &corev1.ContainerStatus{Name: name, RestartCount: restarts,
		State: &corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
	if restarts > 0 {
		cs.LastState = &corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", FinishedAt: ago(90 * time.Second)}}
	}
	return cs
}

func terminated(name, reason string, code int32) *corev1.ContainerStatus {
	return &corev1.ContainerStatus{Name: name,
		State: &corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: reason, ExitCode: code}}}
}

func pod(name string, containers int, phase string, statuses ...*corev1.ContainerStatus) *corev1.Pod {
	p := &corev1.Pod{Metadata: meta("default", name, 5*time.Minute+3*time.Second), Spec: &corev1.PodSpec{}, Status: &corev1.PodStatus{Phase: phase}}
	for i := 0; i < containers; i++ {
		p.Spec.Containers = append(p.Spec.Containers, &corev1.Container{Name: "c" + string(rune('0'+i)), Image: "nginx"})
	}
	p.Status.ContainerStatuses = statuses
	return p
}

func pods() []api.Object {
	runningPod := pod("web-running", 1, "Running", running("c0", true, 0))
	runningPod.Spec.NodeName, runningPod.Status.PodIp = "node-1", "10.244.1.5"
	runningPod.Metadata.Labels = map[string]string{"app": "web", "tier": "frontend"}
	crash := pod("web-crash", 2, "Running", running("c0", true, 0), waiting("c1", "CrashLoopBackOff", 4))
	crash.Spec.NodeName, crash.Status.PodIp = "node-2", "10.244.2.7"
	initPod := pod("web-init", 1, "Pending", waiting("c0", "PodInitializing", 0))
	initPod.Spec.InitContainers = []*corev1.Container{{Name: "init"}}
	initPod.Status.InitContainerStatuses = []*corev1.ContainerStatus{running("init", false, 0)}
	initFail := pod("web-init-fail", 1, "Pending")
	initFail.Spec.InitContainers = []*corev1.Container{{Name: "init"}}
	initFail.Status.InitContainerStatuses = []*corev1.ContainerStatus{terminated("init", "Error", 2)}
	terminating := pod("web-terminating", 1, "Running", running("c0", true, 0))
	terminating.Metadata.DeletionTimestamp = ago(0)
	pending := pod("web-pending", 1, "Pending")
	pending.Metadata.CreationTimestamp = ago(5 * time.Second)
	pending.Status.NominatedNodeName = "node-3"
	return []api.Object{
		runningPod, crash,
		pod("web-pull", 1, "Pending", waiting("c0", "ImagePullBackOff", 0)),
		pod("web-errpull", 1, "Pending", waiting("c0", "ErrImagePull", 0)),
		pod("web-creating", 1, "Pending", waiting("c0", "ContainerCreating", 0)),
		pod("web-config", 1, "Pending", waiting("c0", "CreateContainerConfigError", 0)),
		initPod, initFail,
		pod("job-done", 1, "Succeeded", terminated("c0", "Completed", 0)),
		pod("job-error", 1, "Failed", terminated("c0", "Error", 1)),
		pod("job-oom", 1, "Running", terminated("c0", "OOMKilled", 137)),
		pod("job-exit", 1, "Failed", terminated("c0", "", 3)),
		terminating, pending,
	}
}

func i32(v int32) *int32 { return &v }

func deployments() []api.Object {
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	tmpl := &corev1.PodTemplateSpec{Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "web", Image: "nginx:1.25"}, {Name: "sidecar", Image: "busybox"}}}}
	return []api.Object{
		&appsv1.Deployment{Metadata: meta("default", "web", 4*time.Hour), Spec: &appsv1.DeploymentSpec{Replicas: i32(3), Selector: sel, Template: tmpl},
			Status: &appsv1.DeploymentStatus{Replicas: 3, ReadyReplicas: 2, UpdatedReplicas: 3, AvailableReplicas: 2}},
		&appsv1.Deployment{Metadata: meta("default", "my-deployment", 2*24*time.Hour), Spec: &appsv1.DeploymentSpec{Replicas: i32(0),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "my-app"},
				MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "tier", Operator: "In", Values: []string{"a", "b"}}}},
			Template: &corev1.PodTemplateSpec{Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "my-container", Image: "my-image"}}}}}},
	}
}

func replicaSets() []api.Object {
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "pod-template-hash": "5d59d67564"}}
	tmpl := &corev1.PodTemplateSpec{Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "web", Image: "nginx:1.25"}}}}
	return []api.Object{
		&appsv1.ReplicaSet{Metadata: meta("default", "web-5d59d67564", 4*time.Hour), Spec: &appsv1.ReplicaSetSpec{Replicas: i32(3), Selector: sel, Template: tmpl},
			Status: &appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 1}},
		&appsv1.ReplicaSet{Metadata: meta("default", "web-7c8f9d", 20*time.Minute), Spec: &appsv1.ReplicaSetSpec{Replicas: i32(0), Selector: sel, Template: tmpl}},
	}
}

func intstr(i int32) *metav1.IntOrString {
	return &metav1.IntOrString{Value: &metav1.IntOrString_IntVal{IntVal: i}}
}

func services() []api.Object {
	return []api.Object{
		&corev1.Service{Metadata: meta("default", "kubernetes", 30*24*time.Hour), Spec: &corev1.ServiceSpec{Type: "ClusterIP", ClusterIp: "10.96.0.1",
			Ports: []*corev1.ServicePort{{Name: "https", Protocol: "TCP", Port: 443, TargetPort: intstr(6443)}}}},
		&corev1.Service{Metadata: meta("default", "discovery-service", 90*time.Second), Spec: &corev1.ServiceSpec{Type: "NodePort", ClusterIp: "10.96.12.34",
			Selector: map[string]string{"app": "discovery"},
			Ports:    []*corev1.ServicePort{{Protocol: "TCP", Port: 8761, TargetPort: intstr(8761), NodePort: 30007}}}},
		&corev1.Service{Metadata: meta("default", "my-loadbalancer-service", time.Hour), Spec: &corev1.ServiceSpec{Type: "LoadBalancer", ClusterIp: "10.96.0.20",
			Selector: map[string]string{"app": "my-app"},
			Ports:    []*corev1.ServicePort{{Protocol: "TCP", Port: 80, NodePort: 31234}}}},
		&corev1.Service{Metadata: meta("default", "lb-ready", time.Hour), Spec: &corev1.ServiceSpec{Type: "LoadBalancer", ClusterIp: "10.96.0.21",
			Ports: []*corev1.ServicePort{{Protocol: "TCP", Port: 80, NodePort: 31235}}},
			Status: &corev1.ServiceStatus{LoadBalancer: &corev1.LoadBalancerStatus{Ingress: []*corev1.LoadBalancerIngress{{Ip: "192.168.1.240"}}}}},
		&corev1.Service{Metadata: meta("default", "my-externalname-service", time.Hour), Spec: &corev1.ServiceSpec{Type: "ExternalName", ExternalName: "example.com"}},
		&corev1.Service{Metadata: meta("default", "my-headless-service", time.Hour), Spec: &corev1.ServiceSpec{Type: "ClusterIP", ClusterIp: "None",
			Selector: map[string]string{"app": "my-app"},
			Ports:    []*corev1.ServicePort{{Protocol: "TCP", Port: 80}}}},
		&corev1.Service{Metadata: meta("default", "my-tcp-udp-service", time.Hour), Spec: &corev1.ServiceSpec{Type: "ClusterIP", ClusterIp: "10.96.0.30",
			ExternalIps: []string{"203.0.113.9"},
			Ports:       []*corev1.ServicePort{{Name: "tcp-port", Protocol: "TCP", Port: 80}, {Name: "udp-port", Protocol: "UDP", Port: 53}}}},
	}
}

func node(name string, ready string, unschedulable bool, lbls map[string]string) *corev1.Node {
	n := &corev1.Node{Metadata: meta("", name, 10*24*time.Hour), Spec: &corev1.NodeSpec{Unschedulable: unschedulable},
		Status: &corev1.NodeStatus{NodeInfo: &corev1.NodeSystemInfo{KubeletVersion: "v1.30.0-coxswain", OsImage: "Debian GNU/Linux 12 (bookworm)",
			KernelVersion: "6.1.0-18-amd64", ContainerRuntimeVersion: "coxswain://0.1.0"},
			Addresses: []*corev1.NodeAddress{{Type: "InternalIP", Address: "10.0.0." + name[len(name)-1:]}}}}
	n.Metadata.Labels = lbls
	if ready != "" {
		n.Status.Conditions = []*metav1.Condition{{Type: "MemoryPressure", Status: "False"}, {Type: "Ready", Status: ready}}
	}
	return n
}

func nodes() []api.Object {
	return []api.Object{
		node("node-1", "True", false, map[string]string{"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": ""}),
		node("node-2", "True", true, nil),
		node("node-3", "False", false, map[string]string{"kubernetes.io/role": "worker"}),
		node("node-4", "Unknown", true, nil),
		node("node-5", "", false, nil),
	}
}

func others() map[string][]api.Object {
	return map[string][]api.Object{
		"namespaces": {
			&corev1.Namespace{Metadata: meta("", "default", 3*24*time.Hour), Status: &corev1.NamespaceStatus{Phase: "Active"}},
			&corev1.Namespace{Metadata: meta("", "old", 2*time.Hour), Status: &corev1.NamespaceStatus{Phase: "Terminating"}},
		},
		"endpoints": {
			&corev1.Endpoints{Metadata: meta("default", "kubernetes", time.Hour), Subsets: []*corev1.EndpointSubset{{
				Addresses: []*corev1.EndpointAddress{{Ip: "10.0.0.1"}}, Ports: []*corev1.EndpointPort{{Name: "https", Port: 6443, Protocol: "TCP"}}}}},
			&corev1.Endpoints{Metadata: meta("default", "web", time.Hour), Subsets: []*corev1.EndpointSubset{{
				Addresses: []*corev1.EndpointAddress{{Ip: "10.244.1.5"}, {Ip: "10.244.1.6"}, {Ip: "10.244.2.7"}, {Ip: "10.244.2.8"}, {Ip: "fd00::1"}},
				Ports:     []*corev1.EndpointPort{{Port: 8080, Protocol: "TCP"}}}}},
			&corev1.Endpoints{Metadata: meta("default", "headless", time.Hour), Subsets: []*corev1.EndpointSubset{{
				Addresses: []*corev1.EndpointAddress{{Ip: "10.244.1.9"}}}}},
			&corev1.Endpoints{Metadata: meta("default", "empty", time.Hour)},
		},
		"configmaps": {
			&corev1.ConfigMap{Metadata: meta("default", "settings", time.Hour), Data: map[string]string{"a": "1", "b": "2"}, BinaryData: map[string][]byte{"c": {1}}},
			&corev1.ConfigMap{Metadata: meta("default", "empty", time.Hour)},
		},
		"secrets": {
			&corev1.Secret{Metadata: meta("default", "token", time.Hour), Type: "Opaque", Data: map[string][]byte{"token": []byte("x")}},
			&corev1.Secret{Metadata: meta("default", "registry", time.Hour), Type: "kubernetes.io/dockerconfigjson", Data: map[string][]byte{".dockerconfigjson": []byte("{}")}},
		},
		"leases": {
			&coordinationv1.Lease{Metadata: meta("kube-node-lease", "node-1", time.Hour), Spec: &coordinationv1.LeaseSpec{HolderIdentity: proto.String("node-1")}},
			&coordinationv1.Lease{Metadata: meta("kube-system", "kube-scheduler", time.Hour)},
		},
		"events": {
			&corev1.Event{Metadata: meta("default", "web.17a1", time.Minute), Type: "Normal", Reason: "Scheduled",
				InvolvedObject: &corev1.ObjectReference{Kind: "Pod", Name: "web", Namespace: "default"},
				Message:        "Successfully assigned default/web to node-1", Source: &corev1.EventSource{Component: "default-scheduler"},
				FirstTimestamp: ago(time.Minute), LastTimestamp: ago(time.Minute), Count: 1},
			&corev1.Event{Metadata: meta("default", "web.17a2", 10*time.Minute), Type: "Warning", Reason: "BackOff",
				InvolvedObject: &corev1.ObjectReference{Kind: "Pod", Name: "web", Namespace: "default", FieldPath: "spec.containers{web}"},
				Message:        "Back-off restarting failed container web in pod web_default(1234)\n", Source: &corev1.EventSource{Component: "kubelet", Host: "node-1"},
				FirstTimestamp: ago(10 * time.Minute), LastTimestamp: ago(3 * time.Second), Count: 42},
		},
	}
}

func render(t *testing.T, r *api.Resource, objs []api.Object, opts Options) string {
	t.Helper()
	opts.Now = now
	var buf bytes.Buffer
	if err := BuildTable(r, objs, opts).Write(&buf, opts.NoHeaders); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestTables(t *testing.T) {
	o := others()
	for _, tc := range []struct {
		name string
		r    *api.Resource
		objs []api.Object
		opts Options
	}{
		{"pods", api.Pods, pods(), Options{}},
		{"pods-wide", api.Pods, pods(), Options{Wide: true}},
		{"pods-show-labels", api.Pods, pods()[:2], Options{ShowLabels: true}},
		{"pods-all-namespaces", api.Pods, pods()[:2], Options{WithNamespace: true}},
		{"pods-with-kind-no-headers", api.Pods, pods()[:2], Options{WithKind: true, NoHeaders: true}},
		{"deployments", api.Deployments, deployments(), Options{}},
		{"deployments-wide", api.Deployments, deployments(), Options{Wide: true}},
		{"deployments-with-kind", api.Deployments, deployments(), Options{WithKind: true}},
		{"replicasets", api.ReplicaSets, replicaSets(), Options{}},
		{"replicasets-wide", api.ReplicaSets, replicaSets(), Options{Wide: true}},
		{"services", api.Services, services(), Options{}},
		{"services-wide", api.Services, services(), Options{Wide: true}},
		{"nodes", api.Nodes, nodes(), Options{}},
		{"nodes-wide", api.Nodes, nodes(), Options{Wide: true}},
		{"nodes-all-namespaces", api.Nodes, nodes()[:1], Options{WithNamespace: true}},
		{"namespaces", api.Namespaces, o["namespaces"], Options{}},
		{"endpoints", api.Endpoints, o["endpoints"], Options{}},
		{"configmaps", api.ConfigMaps, o["configmaps"], Options{}},
		{"secrets", api.Secrets, o["secrets"], Options{}},
		{"leases", api.Leases, o["leases"], Options{WithNamespace: true}},
		{"events", api.Events, o["events"], Options{}},
		{"events-wide", api.Events, o["events"], Options{Wide: true}},
		{"events-all-namespaces", api.Events, o["events"], Options{WithNamespace: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, tc.name, render(t, tc.r, tc.objs, tc.opts))
		})
	}
}

// TestPodStatus pins the STATUS, READY and RESTARTS cells kubectl prints for each kind of pod.
func TestPodStatus(t *testing.T) {
	want := map[string][3]string{
		"web-running":     {"1/1", "Running", "0"},
		"web-crash":       {"1/2", "CrashLoopBackOff", "4 (90s ago)"},
		"web-pull":        {"0/1", "ImagePullBackOff", "0"},
		"web-errpull":     {"0/1", "ErrImagePull", "0"},
		"web-creating":    {"0/1", "ContainerCreating", "0"},
		"web-config":      {"0/1", "CreateContainerConfigError", "0"},
		"web-init":        {"0/1", "Init:0/1", "0"},
		"web-init-fail":   {"0/1", "Init:Error", "0"},
		"job-done":        {"0/1", "Completed", "0"},
		"job-error":       {"0/1", "Error", "0"},
		"job-oom":         {"0/1", "OOMKilled", "0"},
		"job-exit":        {"0/1", "ExitCode:3", "0"},
		"web-terminating": {"1/1", "Terminating", "0"},
		"web-pending":     {"0/1", "Pending", "0"},
	}
	for _, o := range pods() {
		p := o.(*corev1.Pod)
		ready, status, restarts := PodStatus(p, now)
		w, ok := want[p.Metadata.Name]
		if !ok {
			t.Fatalf("no expectation for %s", p.Metadata.Name)
		}
		if got := [3]string{ready, status, restarts}; got != w {
			t.Errorf("%s: got %q, want %q", p.Metadata.Name, got, w)
		}
	}
}

func TestWriteObjects(t *testing.T) {
	objs := deployments()
	for _, tc := range []struct {
		name   string
		format string
		objs   []api.Object
		asList bool
	}{
		{"list.yaml", "yaml", objs, true},
		{"list.json", "json", objs, true},
		{"single.yaml", "yaml", objs[:1], false},
		{"names.txt", "name", append(objs, services()[:1]...), true},
		{"empty-list.yaml", "yaml", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteObjects(&buf, tc.objs, tc.format, tc.asList); err != nil {
				t.Fatal(err)
			}
			golden(t, "output-"+tc.name, buf.String())
			if tc.format == "name" {
				return
			}
			// What get -o yaml|json prints reads back through the manifest codec as the same objects.
			docs, err := manifest.Decode(buf.Bytes(), tc.name)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if len(docs) != len(tc.objs) {
				t.Fatalf("decoded %d objects, want %d", len(docs), len(tc.objs))
			}
			for i, d := range docs {
				if !proto.Equal(d.Object, tc.objs[i]) {
					t.Errorf("object %d differs after the round trip:\n%v\n%v", i, d.Object, tc.objs[i])
				}
			}
		})
	}
	if err := WriteObjects(&bytes.Buffer{}, objs, "xml", true); err == nil || !strings.Contains(err.Error(), "allowed formats") {
		t.Errorf("unsupported format: err = %v", err)
	}
}
