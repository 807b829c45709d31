package apiserver_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/api/defaults"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/api/validation"
	"github.com/coxswain/coxswain/pkg/testutil"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	coordinationv1 "github.com/coxswain/coxswain/proto/coxswain/coordination/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Minimal objects, as a user would write them: admission fills the rest.

func minimalPod(name string) *corev1.Pod {
	return &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: name, Labels: map[string]string{"app": name}},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app", Image: "nginx:1.25",
			Ports: []*corev1.ContainerPort{{Name: "http", ContainerPort: 80}},
			Env:   []*corev1.EnvVar{{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}}}}}
}

func minimalDeployment(name string) *appsv1.Deployment {
	pod := minimalPod(name)
	return &appsv1.Deployment{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: &appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": name}}, Spec: pod.Spec}}}
}

func minimalService(name string) *corev1.Service {
	return &corev1.Service{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: &corev1.ServiceSpec{Selector: map[string]string{"app": name}, Ports: []*corev1.ServicePort{{Port: 80}}}}
}

// grpcCreate creates obj with the raw generated stub of its kind, returning the gRPC error untouched.
func grpcCreate(ctx context.Context, conn grpc.ClientConnInterface, obj api.Object) error {
	var err error
	switch o := obj.(type) {
	case *corev1.Pod:
		_, err = corev1.NewPodServiceClient(conn).Create(ctx, o)
	case *corev1.Service:
		_, err = corev1.NewServiceServiceClient(conn).Create(ctx, o)
	case *appsv1.Deployment:
		_, err = appsv1.NewDeploymentServiceClient(conn).Create(ctx, o)
	case *corev1.Namespace:
		_, err = corev1.NewNamespaceServiceClient(conn).Create(ctx, o)
	case *coordinationv1.Lease:
		_, err = coordinationv1.NewLeaseServiceClient(conn).Create(ctx, o)
	default:
		panic(obj)
	}
	return err
}

// fieldViolations extracts the BadRequest details of a gRPC error as "field: description".
func fieldViolations(err error) []string {
	st, _ := status.FromError(err)
	var out []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, v.GetField()+": "+v.GetDescription())
			}
		}
	}
	return out
}

func causes(err error) []string {
	var se *apierrors.StatusError
	if !errors.As(err, &se) {
		return nil
	}
	var out []string
	for _, c := range se.Causes {
		out = append(out, c.Field+": "+c.Message)
	}
	return out
}

// Invalid creates are refused with InvalidArgument, a message naming the fields, and one BadRequest
// field violation (a Cause, client side) per error; nothing is stored.
func TestAdmissionRejectsInvalidCreates(t *testing.T) {
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)
	lowerLabel := `Invalid value: "Foo_": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', ` +
		`and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`
	tests := []struct {
		name    string
		obj     api.Object
		message string   // the whole error message
		causes  []string // "field: message", in order
	}{
		{
			name: "pod without image",
			obj: func() api.Object {
				p := minimalPod("no-image")
				p.Spec.Containers[0].Image = ""
				return p
			}(),
			message: `Pod "no-image" is invalid: spec.containers[0].image: Required value`,
			causes:  []string{"spec.containers[0].image: Required value"},
		},
		{
			name: "pod with two errors",
			obj: func() api.Object {
				p := minimalPod("two-errors")
				p.Spec.Containers[0].Name = "Foo_"
				p.Spec.Containers[0].Ports[0].ContainerPort = 70000
				return p
			}(),
			message: `Pod "two-errors" is invalid: [spec.containers[0].name: ` + lowerLabel +
				`, spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive]`,
			causes: []string{"spec.containers[0].name: " + lowerLabel,
				"spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"},
		},
		{
			name: "deployment whose selector does not match",
			obj: func() api.Object {
				d := minimalDeployment("web")
				d.Spec.Template.Metadata.Labels = map[string]string{"app": "x"}
				return d
			}(),
			message: `Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"x"}: selector does not match template labels`,
			causes:  []string{`spec.template.metadata.labels: Invalid value: map[string]string{"app":"x"}: selector does not match template labels`},
		},
		{
			name: "deployment with a bad template and strategy",
			obj: func() api.Object {
				d := minimalDeployment("web2")
				d.Spec.Template.Spec.RestartPolicy = "Never"
				d.Spec.Strategy = &appsv1.DeploymentStrategy{Type: "RollingUpdate", RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxSurge: &metav1.IntOrString{Value: &metav1.IntOrString_IntVal{IntVal: 0}}, MaxUnavailable: &metav1.IntOrString{Value: &metav1.IntOrString_StrVal{StrVal: "0%"}}}}
				return d
			}(),
			message: `Deployment.apps "web2" is invalid: [spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always", ` +
				"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"0%\": may not be 0 when `maxSurge` is 0]",
			causes: []string{`spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"`,
				"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"0%\": may not be 0 when `maxSurge` is 0"},
		},
		{
			name: "service without ports",
			obj: func() api.Object {
				s := minimalService("noports")
				s.Spec.Ports = nil
				return s
			}(),
			message: `Service "noports" is invalid: spec.ports: Required value`,
			causes:  []string{"spec.ports: Required value"},
		},
		{
			name: "service with unnamed ports and a node port",
			obj: func() api.Object {
				s := minimalService("ports")
				s.Spec.Ports = append(s.Spec.Ports, &corev1.ServicePort{Port: 81, NodePort: 30081})
				return s
			}(),
			message: "Service \"ports\" is invalid: [spec.ports[0].name: Required value, spec.ports[1].name: Required value, " +
				"spec.ports[1].nodePort: Forbidden: may not be used when `type` is 'ClusterIP']",
			causes: []string{"spec.ports[0].name: Required value", "spec.ports[1].name: Required value",
				"spec.ports[1].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"},
		},
		{
			name:    "namespace with a dotted name",
			obj:     &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "team.a"}},
			message: `Namespace "team.a" is invalid: metadata.name: Invalid value: "team.a": must not contain dots`,
			causes:  []string{`metadata.name: Invalid value: "team.a": must not contain dots`},
		},
		{
			name: "lease with a zero duration",
			obj: &coordinationv1.Lease{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "l"},
				Spec: &coordinationv1.LeaseSpec{LeaseDurationSeconds: proto.Int32(0)}},
			message: `Lease.coordination.k8s.io "l" is invalid: spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0`,
			causes:  []string{"spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := grpcCreate(ctx, a.Client.Conn(), tc.obj)
			if code := status.Code(err); code != codes.InvalidArgument {
				t.Fatalf("code %v (%v), want InvalidArgument", code, err)
			}
			if msg := status.Convert(err).Message(); msg != tc.message {
				t.Errorf("message\n  %s\nwant\n  %s", msg, tc.message)
			}
			if got := fieldViolations(err); !slices.Equal(got, tc.causes) {
				t.Errorf("field violations\n  %q\nwant\n  %q", got, tc.causes)
			}
			converted := apierrors.FromGRPC(err)
			if !apierrors.IsInvalid(converted) || !slices.Equal(causes(converted), tc.causes) {
				t.Errorf("FromGRPC: invalid=%v causes %q", apierrors.IsInvalid(converted), causes(converted))
			}
			// Through the typed client as well, and nothing was stored.
			r, err := api.ForObject(tc.obj)
			if err != nil {
				t.Fatal(err)
			}
			m := tc.obj.GetMetadata()
			switch o := tc.obj.(type) {
			case *corev1.Pod:
				_, err = a.Client.Pods().Create(ctx, o)
				if !apierrors.IsInvalid(err) || !slices.Equal(causes(err), tc.causes) {
					t.Errorf("typed client: %v, causes %q", err, causes(err))
				}
				_, err = a.Client.Pods().Get(ctx, m.Namespace, m.Name)
			case *appsv1.Deployment:
				_, err = a.Client.Deployments().Get(ctx, m.Namespace, m.Name)
			case *corev1.Service:
				_, err = a.Client.Services().Get(ctx, m.Namespace, m.Name)
			case *corev1.Namespace:
				_, err = a.Client.Namespaces().Get(ctx, "", m.Name)
			case *coordinationv1.Lease:
				_, err = a.Client.Leases().Get(ctx, m.Namespace, m.Name)
			}
			if !apierrors.IsNotFound(err) {
				t.Errorf("rejected %s was stored: get = %v", r.Kind, err)
			}
		})
	}
}

// Admission defaults what the user left out before validating, and the stored object carries the
// defaults.
func TestAdmissionDefaults(t *testing.T) {
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)
	d, err := a.Client.Deployments().Create(ctx, minimalDeployment("web"))
	if err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	got, err := a.Client.Deployments().Get(ctx, "default", "web")
	if err != nil || !proto.Equal(got, d) {
		t.Fatalf("get = %v, %v; want what create returned", got, err)
	}
	s := got.Spec
	ru := s.GetStrategy().GetRollingUpdate()
	tpl := s.GetTemplate().GetSpec()
	c := tpl.GetContainers()[0]
	for _, check := range []struct {
		what      string
		got, want any
	}{
		{"replicas", s.GetReplicas(), int32(1)},
		{"strategy", s.GetStrategy().GetType(), "RollingUpdate"},
		{"maxSurge", ru.GetMaxSurge().GetStrVal(), "25%"},
		{"maxUnavailable", ru.GetMaxUnavailable().GetStrVal(), "25%"},
		{"revisionHistoryLimit", s.GetRevisionHistoryLimit(), int32(10)},
		{"progressDeadlineSeconds", s.GetProgressDeadlineSeconds(), int32(600)},
		{"restartPolicy", tpl.GetRestartPolicy(), "Always"},
		{"dnsPolicy", tpl.GetDnsPolicy(), "ClusterFirst"},
		{"terminationGracePeriodSeconds", tpl.GetTerminationGracePeriodSeconds(), int64(30)},
		{"schedulerName", tpl.GetSchedulerName(), "default-scheduler"},
		{"imagePullPolicy", c.GetImagePullPolicy(), "IfNotPresent"},
		{"port protocol", c.GetPorts()[0].GetProtocol(), "TCP"},
		{"fieldRef apiVersion", c.GetEnv()[0].GetValueFrom().GetFieldRef().GetApiVersion(), "v1"},
	} {
		if check.got != check.want {
			t.Errorf("%s = %v, want %v", check.what, check.got, check.want)
		}
	}

	svc, err := a.Client.Services().Create(ctx, minimalService("web"))
	if err != nil {
		t.Fatalf("create service: %v", err)
	}
	if sp := svc.Spec; sp.GetType() != "ClusterIP" || sp.GetSessionAffinity() != "None" || sp.GetPorts()[0].GetProtocol() != "TCP" ||
		sp.GetPorts()[0].GetTargetPort().GetIntVal() != 80 || sp.GetClusterIp() == "" {
		t.Errorf("service not defaulted: %v", sp)
	}
	pod, err := a.Client.Pods().Create(ctx, minimalPod("web"))
	if err != nil {
		t.Fatalf("create pod: %v", err)
	}
	if pod.Spec.GetRestartPolicy() != "Always" || pod.Spec.GetContainers()[0].GetImagePullPolicy() != "IfNotPresent" {
		t.Errorf("pod not defaulted: %v", pod.Spec)
	}
}

// Every kind, written minimally and defaulted, is valid: the defaulting and validation packages agree.
func TestDefaultedMinimalObjectsAreValid(t *testing.T) {
	objs := []api.Object{
		minimalPod("p"), minimalDeployment("d"), minimalService("s"),
		&appsv1.ReplicaSet{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "rs"}, Spec: &appsv1.ReplicaSetSpec{
			Selector: minimalDeployment("rs").Spec.Selector, Template: minimalDeployment("rs").Spec.Template}},
		&corev1.Service{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "np"}, Spec: &corev1.ServiceSpec{Type: "NodePort",
			SessionAffinity: "ClientIP", Ports: []*corev1.ServicePort{{Name: "a", Port: 80}, {Name: "b", Port: 53, Protocol: "UDP"}}}},
		&corev1.Service{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "ext"}, Spec: &corev1.ServiceSpec{Type: "ExternalName", ExternalName: "db.example.com"}},
		&corev1.Endpoints{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "s"}, Subsets: []*corev1.EndpointSubset{{
			Addresses: []*corev1.EndpointAddress{{Ip: "10.244.0.5"}}, Ports: []*corev1.EndpointPort{{Port: 80}}}}},
		&corev1.Secret{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "sec"}, StringData: map[string]string{"k": "v"}},
		&corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "cm"}, Data: map[string]string{"k": "v"}},
		&corev1.Event{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "e"}, InvolvedObject: &corev1.ObjectReference{Kind: "Pod", Name: "p", Namespace: "default"}},
		&corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "ns"}},
		&corev1.Node{Metadata: &metav1.ObjectMeta{Name: "n1"}, Status: &corev1.NodeStatus{Capacity: map[string]string{"cpu": "2", "memory": "4Gi", "pods": "110"}}},
		&coordinationv1.Lease{Metadata: &metav1.ObjectMeta{Namespace: "kube-node-lease", Name: "n1"}, Spec: &coordinationv1.LeaseSpec{LeaseDurationSeconds: proto.Int32(40)}},
	}
	for _, obj := range objs {
		defaults.Apply(obj)
		if errs := validation.ValidateObject(obj); len(errs) != 0 {
			t.Errorf("%T %s: %v", obj, obj.GetMetadata().GetName(), errs.ToAggregate())
		}
	}
}

// Updates are validated against the stored object: immutable fields, the pod's few mutable fields, and
// the status subresource.
func TestAdmissionUpdates(t *testing.T) {
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)

	t.Run("deployment selector is immutable", func(t *testing.T) {
		d, err := a.Client.Deployments().Create(ctx, minimalDeployment("web"))
		if err != nil {
			t.Fatal(err)
		}
		d.Spec.Replicas = proto.Int32(3)
		if d, err = a.Client.Deployments().Update(ctx, d); err != nil {
			t.Fatalf("scaling: %v", err)
		}
		d.Spec.Selector.MatchLabels["tier"] = "front"
		d.Spec.Template.Metadata.Labels["tier"] = "front"
		_, err = a.Client.Deployments().Update(ctx, d)
		want := "spec.selector: Invalid value: app=web,tier=front: field is immutable"
		if !apierrors.IsInvalid(err) || err.Error() != `Deployment.apps "web" is invalid: `+want {
			t.Fatalf("selector change: %v", err)
		}
		if got := causes(err); !slices.Equal(got, []string{want}) {
			t.Fatalf("causes %q", got)
		}
	})

	t.Run("pod updates", func(t *testing.T) {
		p, err := a.Client.Pods().Create(ctx, minimalPod("web"))
		if err != nil {
			t.Fatal(err)
		}
		p.Spec.Containers[0].Image = "nginx:1.26"
		p.Metadata.Labels["version"] = "2"
		if p, err = a.Client.Pods().Update(ctx, p); err != nil {
			t.Fatalf("image update: %v", err)
		}
		for name, change := range map[string]func(*corev1.Pod){
			"env":           func(p *corev1.Pod) { p.Spec.Containers[0].Env[0].Name = "OTHER" },
			"restartPolicy": func(p *corev1.Pod) { p.Spec.RestartPolicy = "Never" },
			"volumes": func(p *corev1.Pod) {
				p.Spec.Volumes = []*corev1.Volume{{Name: "v", EmptyDir: &corev1.EmptyDirVolumeSource{}}}
			},
		} {
			next := proto.Clone(p).(*corev1.Pod)
			change(next)
			_, err := a.Client.Pods().Update(ctx, next)
			if !apierrors.IsInvalid(err) || !slices.Equal(causes(err), []string{"spec: Forbidden: " + validation.PodUpdateForbiddenMsg}) {
				t.Errorf("%s change: %v", name, err)
			}
		}
		bound, err := a.Client.Bind(ctx, "default", "web", p.Metadata.Uid, "node-1")
		if err != nil {
			t.Fatalf("bind: %v", err)
		}
		bound.Spec.NodeName = "node-2"
		_, err = a.Client.Pods().Update(ctx, bound)
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), `spec.nodeName: Invalid value: "node-2": field is immutable`) {
			t.Errorf("moving a bound pod: %v", err)
		}

		// Status: validated as a status, the spec rules do not apply.
		bound.Spec.NodeName = "node-1"
		bound.Status = &corev1.PodStatus{Phase: "Running", PodIp: "10.244.0.9", HostIp: "10.0.0.1"}
		if bound, err = a.Client.Pods().UpdateStatus(ctx, bound); err != nil {
			t.Fatalf("status: %v", err)
		}
		bound.Status.PodIp = "10.244.0.999"
		_, err = a.Client.Pods().UpdateStatus(ctx, bound)
		if !apierrors.IsInvalid(err) || !slices.Equal(causes(err), []string{
			`status.podIP: Invalid value: "10.244.0.999": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`}) {
			t.Errorf("bad pod IP: %v", err)
		}
	})

	t.Run("deployment status", func(t *testing.T) {
		d, err := a.Client.Deployments().Get(ctx, "default", "web")
		if err != nil {
			t.Fatal(err)
		}
		d.Status = &appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 2}
		_, err = a.Client.Deployments().UpdateStatus(ctx, d)
		if !apierrors.IsInvalid(err) || !slices.Equal(causes(err), []string{"status.updatedReplicas: Invalid value: 2: cannot be greater than status.replicas"}) {
			t.Errorf("deployment status: %v", err)
		}
	})

	t.Run("immutable configmap", func(t *testing.T) {
		c := cm("frozen", map[string]string{"a": "1"})
		c.Immutable = proto.Bool(true)
		c, err := a.Client.ConfigMaps().Create(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		c.Data["a"] = "2"
		_, err = a.Client.ConfigMaps().Update(ctx, c)
		if !apierrors.IsInvalid(err) || err.Error() != "ConfigMap \"frozen\" is invalid: data: Forbidden: field is immutable when `immutable` is set" {
			t.Errorf("immutable configmap: %v", err)
		}
	})
}
