package validation

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/api/validation/field"
	coordinationv1 "github.com/coxswain/coxswain/proto/coxswain/coordination/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// kindCase is one mutation of a valid object and the errors it must produce, each written
// "field: Type" (e.g. "spec.containers[0].image: Required value"). msgs, when set, are full error
// messages that must be among the errors.
type kindCase[T api.Object] struct {
	name   string
	mutate func(T)
	want   []string
	msgs   []string
}

// summary renders errors as sorted "field: Type" lines.
func summary(errs field.ErrorList) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, e.Field+": "+e.Type.String())
	}
	slices.Sort(out)
	return out
}

func messages(errs field.ErrorList) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// checkErrs compares errs with the wanted summary and messages.
func checkErrs(t *testing.T, errs field.ErrorList, want, msgs []string) {
	t.Helper()
	want = slices.Clone(want)
	slices.Sort(want)
	if got := summary(errs); !slices.Equal(got, want) {
		t.Errorf("errors:\n  %s\nwant:\n  %s", strings.Join(messages(errs), "\n  "), strings.Join(want, "\n  "))
	}
	all := messages(errs)
	for _, m := range msgs {
		if !slices.Contains(all, m) {
			t.Errorf("missing error %q among:\n  %s", m, strings.Join(all, "\n  "))
		}
	}
	for _, e := range errs {
		if e.Field == "" {
			t.Errorf("error without a field path: %v", e)
		}
	}
}

// runCreateCases checks valid() passes ValidateObject and every case fails with exactly its errors,
// through both the generic entry point and the typed one.
func runCreateCases[T api.Object](t *testing.T, valid func() T, typed func(T) field.ErrorList, cases []kindCase[T]) {
	t.Helper()
	if errs := ValidateObject(valid()); len(errs) != 0 {
		t.Fatalf("valid object rejected:\n  %s", strings.Join(messages(errs), "\n  "))
	}
	if errs := ValidateObjectUpdate(valid(), valid()); len(errs) != 0 {
		t.Fatalf("unchanged valid object rejected on update:\n  %s", strings.Join(messages(errs), "\n  "))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := valid()
			tc.mutate(obj)
			errs := ValidateObject(obj)
			checkErrs(t, errs, tc.want, tc.msgs)
			if got := messages(typed(obj)); !slices.Equal(got, messages(errs)) {
				t.Errorf("typed validator disagrees: %q vs %q", got, messages(errs))
			}
		})
	}
}

// updateCase mutates a copy of a valid stored object into the update.
type updateCase[T api.Object] struct {
	name   string
	old    func(T) // optional change to the stored object
	mutate func(T)
	want   []string
	msgs   []string
}

func runUpdateCases[T api.Object](t *testing.T, valid func() T, validate func(obj, old api.Object) field.ErrorList, cases []updateCase[T]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old := valid()
			if tc.old != nil {
				tc.old(old)
			}
			obj := api.Clone(old)
			tc.mutate(obj)
			checkErrs(t, validate(obj, old), tc.want, tc.msgs)
		})
	}
}

func meta(name string) *metav1.ObjectMeta {
	return &metav1.ObjectMeta{Name: name, Namespace: "default", Uid: "u-1", Labels: map[string]string{"app": name}}
}

// ---------------------------------------------------------------- metadata

func TestObjectMeta(t *testing.T) {
	valid := func() *corev1.ConfigMap {
		return &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "cfg", GenerateName: "cfg-", Namespace: "default",
			Labels:      map[string]string{"app": "web", "example.com/tier": "front"},
			Annotations: map[string]string{"example.com/note": "anything: at all"},
			OwnerReferences: []*metav1.OwnerReference{
				{ApiVersion: "apps/v1", Kind: "Deployment", Name: "web", Uid: "u-1", Controller: proto.Bool(true)},
				{ApiVersion: "v1", Kind: "Pod", Name: "p", Uid: "u-2"}},
			Finalizers: []string{"kubernetes", "example.com/cleanup"}}}
	}
	runCreateCases(t, valid, ValidateConfigMap, []kindCase[*corev1.ConfigMap]{
		{name: "no name", mutate: func(c *corev1.ConfigMap) { c.Metadata.Name, c.Metadata.GenerateName = "", "" },
			want: []string{"metadata.name: Required value"},
			msgs: []string{"metadata.name: Required value: name or generateName is required"}},
		{name: "nil metadata", mutate: func(c *corev1.ConfigMap) { c.Metadata = nil },
			want: []string{"metadata.name: Required value", "metadata.namespace: Required value"}},
		{name: "bad name", mutate: func(c *corev1.ConfigMap) { c.Metadata.Name = "Foo_" },
			want: []string{"metadata.name: Invalid value"},
			msgs: []string{`metadata.name: Invalid value: "Foo_": ` + subdomainMsg}},
		{name: "bad generateName", mutate: func(c *corev1.ConfigMap) { c.Metadata.GenerateName = "Cfg-" },
			want: []string{"metadata.generateName: Invalid value"}},
		{name: "generateName dash only", mutate: func(c *corev1.ConfigMap) { c.Metadata.GenerateName = "-" },
			want: []string{"metadata.generateName: Invalid value"}},
		{name: "no namespace", mutate: func(c *corev1.ConfigMap) { c.Metadata.Namespace = "" },
			want: []string{"metadata.namespace: Required value"}},
		{name: "bad namespace", mutate: func(c *corev1.ConfigMap) { c.Metadata.Namespace = "a.b" },
			want: []string{"metadata.namespace: Invalid value"},
			msgs: []string{`metadata.namespace: Invalid value: "a.b": must not contain dots`}},
		{name: "negative generation", mutate: func(c *corev1.ConfigMap) { c.Metadata.Generation = -1 },
			want: []string{"metadata.generation: Invalid value"}},
		{name: "bad label", mutate: func(c *corev1.ConfigMap) { c.Metadata.Labels["app"] = "-web" },
			want: []string{"metadata.labels[app]: Invalid value"}},
		{name: "bad label key", mutate: func(c *corev1.ConfigMap) { c.Metadata.Labels["a b"] = "x" },
			want: []string{"metadata.labels: Invalid value"}},
		{name: "bad annotation key", mutate: func(c *corev1.ConfigMap) { c.Metadata.Annotations["a/b/c"] = "x" },
			want: []string{"metadata.annotations: Invalid value"}},
		{name: "owner without uid and kind", mutate: func(c *corev1.ConfigMap) {
			c.Metadata.OwnerReferences[1].Uid, c.Metadata.OwnerReferences[1].Kind = "", ""
		}, want: []string{"metadata.ownerReferences[1].kind: Invalid value", "metadata.ownerReferences[1].uid: Invalid value"},
			msgs: []string{`metadata.ownerReferences[1].uid: Invalid value: "": uid must not be empty`}},
		{name: "owner without version", mutate: func(c *corev1.ConfigMap) { c.Metadata.OwnerReferences[0].ApiVersion = "apps/" },
			want: []string{"metadata.ownerReferences[0].apiVersion: Invalid value"}},
		{name: "owner without name", mutate: func(c *corev1.ConfigMap) { c.Metadata.OwnerReferences[0].Name = "" },
			want: []string{"metadata.ownerReferences[0].name: Invalid value"}},
		{name: "two controllers", mutate: func(c *corev1.ConfigMap) { c.Metadata.OwnerReferences[1].Controller = proto.Bool(true) },
			want: []string{"metadata.ownerReferences[1].controller: Invalid value"},
			msgs: []string{`metadata.ownerReferences[1].controller: Invalid value: true: Only one reference can have Controller set to true. Found "true" in references for Deployment/web and Pod/p`}},
		{name: "unqualified finalizer", mutate: func(c *corev1.ConfigMap) { c.Metadata.Finalizers = append(c.Metadata.Finalizers, "cleanup") },
			want: []string{"metadata.finalizers[2]: Invalid value"},
			msgs: []string{`metadata.finalizers[2]: Invalid value: "cleanup": name is neither a standard finalizer name nor is it fully qualified`}},
		{name: "malformed finalizer", mutate: func(c *corev1.ConfigMap) { c.Metadata.Finalizers[1] = "example.com/a b" },
			want: []string{"metadata.finalizers[1]: Invalid value"}},
		{name: "orphan and foreground", mutate: func(c *corev1.ConfigMap) {
			c.Metadata.Finalizers = []string{"orphan", "foregroundDeletion"}
		}, want: []string{"metadata.finalizers: Invalid value"}},
	})
}

func TestObjectMetaUpdate(t *testing.T) {
	valid := func() *corev1.ConfigMap {
		return &corev1.ConfigMap{Metadata: meta("cfg"), Data: map[string]string{"a": "1"}}
	}
	runUpdateCases(t, valid, ValidateObjectUpdate, []updateCase[*corev1.ConfigMap]{
		{name: "labels and data may change", mutate: func(c *corev1.ConfigMap) {
			c.Metadata.Labels["tier"] = "x"
			c.Data["b"] = "2"
		}},
		{name: "rename", mutate: func(c *corev1.ConfigMap) { c.Metadata.Name = "other" },
			want: []string{"metadata.name: Invalid value"},
			msgs: []string{`metadata.name: Invalid value: "other": field is immutable`}},
		{name: "move", mutate: func(c *corev1.ConfigMap) { c.Metadata.Namespace = "kube-system" },
			want: []string{"metadata.namespace: Invalid value"}},
		{name: "uid", mutate: func(c *corev1.ConfigMap) { c.Metadata.Uid = "u-2" },
			want: []string{"metadata.uid: Invalid value"}},
		{name: "new finalizer while deleting",
			old: func(c *corev1.ConfigMap) {
				c.Metadata.DeletionTimestamp = timestamppb.Now()
				c.Metadata.Finalizers = []string{"orphan"}
			},
			mutate: func(c *corev1.ConfigMap) { c.Metadata.Finalizers = append(c.Metadata.Finalizers, "example.com/x") },
			want:   []string{"metadata.finalizers: Forbidden"},
			msgs:   []string{`metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"example.com/x"}`}},
		{name: "finalizer removed while deleting",
			old: func(c *corev1.ConfigMap) {
				c.Metadata.DeletionTimestamp = timestamppb.Now()
				c.Metadata.Finalizers = []string{"orphan", "example.com/x"}
			},
			mutate: func(c *corev1.ConfigMap) { c.Metadata.Finalizers = c.Metadata.Finalizers[1:] }},
		{name: "orphan and foreground already stored",
			old:    func(c *corev1.ConfigMap) { c.Metadata.Finalizers = []string{"orphan", "foregroundDeletion"} },
			mutate: func(c *corev1.ConfigMap) { c.Metadata.Labels["x"] = "y" }},
		{name: "orphan and foreground added",
			old:    func(c *corev1.ConfigMap) { c.Metadata.Finalizers = []string{"orphan"} },
			mutate: func(c *corev1.ConfigMap) { c.Metadata.Finalizers = append(c.Metadata.Finalizers, "foregroundDeletion") },
			want:   []string{"metadata.finalizers: Invalid value"}},
	})
}

func TestKindMismatch(t *testing.T) {
	errs := ValidateObjectUpdate(&corev1.Pod{}, &corev1.Service{})
	if len(errs) != 1 || errs[0].Type != field.ErrorTypeInternal || errs[0].Field != "kind" {
		t.Fatalf("pod updated from a service: %v", errs)
	}
	errs = ValidateObject(&corev1.Binding{Metadata: meta("b")})
	if len(errs) != 1 || errs[0].Type != field.ErrorTypeInternal {
		t.Fatalf("unserved kind: %v", errs)
	}
}

// TestEveryKind makes sure every served kind has a validator (no InternalError for a new empty object).
func TestEveryKind(t *testing.T) {
	for _, r := range api.All() {
		obj := r.New()
		for _, errs := range []field.ErrorList{ValidateObject(obj), ValidateObjectUpdate(obj, r.New()), ValidateStatusUpdate(obj, r.New())} {
			for _, e := range errs {
				if e.Type == field.ErrorTypeInternal {
					t.Errorf("%s: %v", r.Kind, e)
				}
			}
		}
		// An empty object has no name: always invalid.
		if errs := ValidateObject(obj); !slices.Contains(summary(errs), "metadata.name: Required value") {
			t.Errorf("%s: empty object: %v", r.Kind, errs)
		}
	}
}

// ---------------------------------------------------------------- Namespace

func TestNamespace(t *testing.T) {
	valid := func() *corev1.Namespace {
		return &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "team-a"},
			Spec: &corev1.NamespaceSpec{Finalizers: []string{"kubernetes"}}, Status: &corev1.NamespaceStatus{Phase: "Active"}}
	}
	runCreateCases(t, valid, ValidateNamespace, []kindCase[*corev1.Namespace]{
		{name: "dotted name", mutate: func(n *corev1.Namespace) { n.Metadata.Name = "team.a" },
			want: []string{"metadata.name: Invalid value"}, msgs: []string{`metadata.name: Invalid value: "team.a": must not contain dots`}},
		{name: "namespaced", mutate: func(n *corev1.Namespace) { n.Metadata.Namespace = "default" },
			want: []string{"metadata.namespace: Forbidden"}, msgs: []string{"metadata.namespace: Forbidden: not allowed on this type"}},
		{name: "bad finalizer", mutate: func(n *corev1.Namespace) { n.Spec.Finalizers = []string{"kubernetes", "custom"} },
			want: []string{"spec.finalizers[1]: Invalid value"}},
		{name: "bad phase", mutate: func(n *corev1.Namespace) { n.Status.Phase = "Gone" },
			want: []string{"status.phase: Unsupported value"}},
	})
	runUpdateCases(t, valid, ValidateObjectUpdate, []updateCase[*corev1.Namespace]{
		{name: "finalizer removed", mutate: func(n *corev1.Namespace) { n.Spec.Finalizers = nil }},
	})
	runUpdateCases(t, valid, ValidateStatusUpdate, []updateCase[*corev1.Namespace]{
		{name: "terminating", mutate: func(n *corev1.Namespace) { n.Status.Phase = "Terminating" }},
		{name: "bad phase", mutate: func(n *corev1.Namespace) { n.Status.Phase = "x" }, want: []string{"status.phase: Unsupported value"}},
	})
}

// ---------------------------------------------------------------- Node

func validNode() *corev1.Node {
	return &corev1.Node{Metadata: &metav1.ObjectMeta{Name: "node-1.example.com", Labels: map[string]string{"kubernetes.io/hostname": "node-1"}},
		Spec: &corev1.NodeSpec{PodCidr: "10.244.1.0/24", PodCidrs: []string{"10.244.1.0/24", "fd00:1::/64"}, ProviderId: "coxswain://node-1",
			Taints: []*corev1.Taint{{Key: "node-role.kubernetes.io/control-plane", Effect: "NoSchedule"}, {Key: "dedicated", Value: "db", Effect: "NoExecute"}}},
		Status: &corev1.NodeStatus{
			Capacity:        map[string]string{"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi", "example.com/gpu": "2"},
			Allocatable:     map[string]string{"cpu": "3800m", "memory": "7.5Gi", "pods": "110"},
			Addresses:       []*corev1.NodeAddress{{Type: "InternalIP", Address: "10.0.0.1"}, {Type: "Hostname", Address: "node-1"}},
			DaemonEndpoints: &corev1.NodeDaemonEndpoints{KubeletEndpoint: &corev1.DaemonEndpoint{Port: 10250}}}}
}

func TestNode(t *testing.T) {
	runCreateCases(t, validNode, ValidateNode, []kindCase[*corev1.Node]{
		{name: "bad name", mutate: func(n *corev1.Node) { n.Metadata.Name = "Node_1" }, want: []string{"metadata.name: Invalid value"}},
		{name: "namespaced", mutate: func(n *corev1.Node) { n.Metadata.Namespace = "default" }, want: []string{"metadata.namespace: Forbidden"}},
		{name: "pod CIDR", mutate: func(n *corev1.Node) { n.Spec.PodCidr = "10.244.1.0" }, want: []string{"spec.podCIDR: Invalid value"},
			msgs: []string{`spec.podCIDR: Invalid value: "10.244.1.0": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)`}},
		{name: "pod CIDRs", mutate: func(n *corev1.Node) { n.Spec.PodCidrs[1] = "x" }, want: []string{"spec.podCIDRs[1]: Invalid value"}},
		{name: "two IPv4 pod CIDRs", mutate: func(n *corev1.Node) { n.Spec.PodCidrs[1] = "10.245.0.0/24" }, want: []string{"spec.podCIDRs: Invalid value"}},
		{name: "taint effect", mutate: func(n *corev1.Node) { n.Spec.Taints[0].Effect = "NoWay" }, want: []string{"spec.taints[0].effect: Unsupported value"},
			msgs: []string{`spec.taints[0].effect: Unsupported value: "NoWay": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"`}},
		{name: "taint without effect", mutate: func(n *corev1.Node) { n.Spec.Taints[0].Effect = "" }, want: []string{"spec.taints[0].effect: Required value"}},
		{name: "taint key", mutate: func(n *corev1.Node) { n.Spec.Taints[1].Key = "a b" }, want: []string{"spec.taints[1].key: Invalid value"}},
		{name: "taint value", mutate: func(n *corev1.Node) { n.Spec.Taints[1].Value = "a b" }, want: []string{"spec.taints[1].value: Invalid value"}},
		{name: "duplicate taint", mutate: func(n *corev1.Node) {
			n.Spec.Taints[1].Key, n.Spec.Taints[1].Effect = n.Spec.Taints[0].Key, "NoSchedule"
		},
			want: []string{"spec.taints[1]: Duplicate value"}},
		{name: "capacity quantity", mutate: func(n *corev1.Node) { n.Status.Capacity["memory"] = "8 GB" }, want: []string{"status.capacity[memory]: Invalid value"}},
		{name: "negative capacity", mutate: func(n *corev1.Node) { n.Status.Allocatable["cpu"] = "-1" }, want: []string{"status.allocatable[cpu]: Invalid value"}},
		{name: "fractional pods", mutate: func(n *corev1.Node) { n.Status.Capacity["pods"] = "1.5" }, want: []string{"status.capacity[pods]: Invalid value"},
			msgs: []string{`status.capacity[pods]: Invalid value: "1.5": must be an integer`}},
		{name: "unknown resource", mutate: func(n *corev1.Node) { n.Status.Capacity["gpus"] = "1" }, want: []string{"status.capacity[gpus]: Invalid value"}},
		{name: "address", mutate: func(n *corev1.Node) { n.Status.Addresses[0].Address = "" }, want: []string{"status.addresses[0].address: Required value"}},
		{name: "kubelet port", mutate: func(n *corev1.Node) { n.Status.DaemonEndpoints.KubeletEndpoint.Port = 70000 },
			want: []string{"status.daemonEndpoints.kubeletEndpoint.Port: Invalid value"}},
	})
	runUpdateCases(t, validNode, ValidateObjectUpdate, []updateCase[*corev1.Node]{
		{name: "unschedulable and taints", mutate: func(n *corev1.Node) { n.Spec.Unschedulable = true; n.Spec.Taints = nil }},
		{name: "pod CIDR set", old: func(n *corev1.Node) { n.Spec.PodCidr, n.Spec.PodCidrs = "", nil },
			mutate: func(n *corev1.Node) { n.Spec.PodCidr, n.Spec.PodCidrs = "10.244.2.0/24", []string{"10.244.2.0/24"} }},
		{name: "pod CIDR changed", mutate: func(n *corev1.Node) { n.Spec.PodCidr, n.Spec.PodCidrs[0] = "10.244.2.0/24", "10.244.2.0/24" },
			want: []string{"spec.podCIDR: Forbidden", "spec.podCIDRs: Forbidden"},
			msgs: []string{`spec.podCIDR: Forbidden: node updates may not change podCIDR except from "" to valid`}},
		{name: "provider ID changed", mutate: func(n *corev1.Node) { n.Spec.ProviderId = "x" }, want: []string{"spec.providerID: Forbidden"}},
	})
	runUpdateCases(t, validNode, ValidateStatusUpdate, []updateCase[*corev1.Node]{
		{name: "capacity", mutate: func(n *corev1.Node) { n.Status.Capacity["cpu"] = "8" }},
		{name: "bad capacity", mutate: func(n *corev1.Node) { n.Status.Capacity["cpu"] = "lots" }, want: []string{"status.capacity[cpu]: Invalid value"}},
	})
}

// ---------------------------------------------------------------- ConfigMap and Secret

func TestConfigMap(t *testing.T) {
	valid := func() *corev1.ConfigMap {
		return &corev1.ConfigMap{Metadata: meta("cfg"), Data: map[string]string{"config.yaml": "a: 1", "KEY_1": "v"},
			BinaryData: map[string][]byte{"logo.png": {0x89, 'P', 'N', 'G'}}}
	}
	runCreateCases(t, valid, ValidateConfigMap, []kindCase[*corev1.ConfigMap]{
		{name: "bad key", mutate: func(c *corev1.ConfigMap) { c.Data["a/b"] = "x" }, want: []string{"data[a/b]: Invalid value"}},
		{name: "dot dot key", mutate: func(c *corev1.ConfigMap) { c.BinaryData[".."] = nil }, want: []string{"binaryData[..]: Invalid value"},
			msgs: []string{`binaryData[..]: Invalid value: "..": must not be '..'`}},
		{name: "key in both", mutate: func(c *corev1.ConfigMap) { c.BinaryData["KEY_1"] = []byte("x") }, want: []string{"data[KEY_1]: Invalid value"}},
		{name: "too big", mutate: func(c *corev1.ConfigMap) {
			c.Data["big"] = strings.Repeat("x", MaxSecretSize/2)
			c.BinaryData["big2"] = make([]byte, MaxSecretSize/2)
		}, want: []string{"data: Too long"}, msgs: []string{"data: Too long: may not be more than 1048576 bytes"}},
	})
	runUpdateCases(t, valid, ValidateObjectUpdate, []updateCase[*corev1.ConfigMap]{
		{name: "mutable", mutate: func(c *corev1.ConfigMap) { c.Data["x"] = "y"; c.Immutable = proto.Bool(true) }},
		{name: "immutable data", old: func(c *corev1.ConfigMap) { c.Immutable = proto.Bool(true) },
			mutate: func(c *corev1.ConfigMap) { c.Data["KEY_1"] = "w"; delete(c.BinaryData, "logo.png") },
			want:   []string{"data: Forbidden", "binaryData: Forbidden"}, msgs: []string{"data: Forbidden: field is immutable when `immutable` is set"}},
		{name: "immutable flag", old: func(c *corev1.ConfigMap) { c.Immutable = proto.Bool(true) },
			mutate: func(c *corev1.ConfigMap) { c.Immutable = nil }, want: []string{"immutable: Forbidden"}},
		{name: "immutable labels", old: func(c *corev1.ConfigMap) { c.Immutable = proto.Bool(true) },
			mutate: func(c *corev1.ConfigMap) { c.Metadata.Labels["x"] = "y" }},
	})
}

func TestSecret(t *testing.T) {
	valid := func() *corev1.Secret {
		return &corev1.Secret{Metadata: meta("creds"), Type: "Opaque", Data: map[string][]byte{"password": []byte("hunter2"), ".hidden": nil}}
	}
	runCreateCases(t, valid, ValidateSecret, []kindCase[*corev1.Secret]{
		{name: "bad key", mutate: func(s *corev1.Secret) { s.Data["a b"] = nil }, want: []string{"data[a b]: Invalid value"}},
		{name: "bad stringData key", mutate: func(s *corev1.Secret) { s.StringData = map[string]string{"a/b": ""} }, want: []string{"stringData[a/b]: Invalid value"}},
		{name: "too big", mutate: func(s *corev1.Secret) { s.Data["big"] = make([]byte, MaxSecretSize) }, want: []string{"data: Too long"}},
		{name: "tls without key", mutate: func(s *corev1.Secret) { s.Type = "kubernetes.io/tls"; s.Data["tls.crt"] = []byte("x") },
			want: []string{"data[tls.key]: Required value"}},
		{name: "dockerconfigjson not JSON", mutate: func(s *corev1.Secret) {
			s.Type = "kubernetes.io/dockerconfigjson"
			s.Data[".dockerconfigjson"] = []byte("{")
		}, want: []string{"data[.dockerconfigjson]: Invalid value"}},
		{name: "dockerconfigjson missing", mutate: func(s *corev1.Secret) { s.Type = "kubernetes.io/dockerconfigjson" },
			want: []string{"data[.dockerconfigjson]: Required value"}},
		{name: "basic auth", mutate: func(s *corev1.Secret) { s.Type = "kubernetes.io/basic-auth"; delete(s.Data, "password") },
			want: []string{"data[username]: Required value", "data[password]: Required value"}},
		{name: "ssh auth", mutate: func(s *corev1.Secret) { s.Type = "kubernetes.io/ssh-auth" },
			want: []string{"data[ssh-privatekey]: Required value"}},
		{name: "service account token", mutate: func(s *corev1.Secret) { s.Type = "kubernetes.io/service-account-token" },
			want: []string{"metadata.annotations[kubernetes.io/service-account.name]: Required value"}},
	})
	runUpdateCases(t, valid, ValidateObjectUpdate, []updateCase[*corev1.Secret]{
		{name: "data", mutate: func(s *corev1.Secret) { s.Data["password"] = []byte("x") }},
		{name: "type", mutate: func(s *corev1.Secret) { s.Type = "example.com/other" }, want: []string{"type: Invalid value"},
			msgs: []string{`type: Invalid value: "example.com/other": field is immutable`}},
		{name: "immutable", old: func(s *corev1.Secret) { s.Immutable = proto.Bool(true) },
			mutate: func(s *corev1.Secret) { s.Data["password"] = []byte("x") }, want: []string{"data: Forbidden"}},
		{name: "immutable stringData unchanged", old: func(s *corev1.Secret) { s.Immutable = proto.Bool(true) },
			mutate: func(s *corev1.Secret) { s.StringData = map[string]string{"password": "hunter2"} }},
		{name: "immutable stringData changed", old: func(s *corev1.Secret) { s.Immutable = proto.Bool(true) },
			mutate: func(s *corev1.Secret) { s.StringData = map[string]string{"password": "x"} }, want: []string{"data: Forbidden"}},
	})
	// The typed secrets are valid with their keys.
	for typ, data := range map[string]map[string][]byte{
		"kubernetes.io/tls":              {"tls.crt": []byte("c"), "tls.key": []byte("k")},
		"kubernetes.io/dockerconfigjson": {".dockerconfigjson": []byte(`{"auths":{}}`)},
		"kubernetes.io/basic-auth":       {"username": []byte("u")},
		"kubernetes.io/ssh-auth":         {"ssh-privatekey": []byte("k")},
	} {
		s := &corev1.Secret{Metadata: meta("s"), Type: typ, Data: data}
		if errs := ValidateObject(s); len(errs) != 0 {
			t.Errorf("%s: %v", typ, errs)
		}
	}
}

// ---------------------------------------------------------------- Event and Lease

func TestEvent(t *testing.T) {
	valid := func() *corev1.Event {
		return &corev1.Event{Metadata: &metav1.ObjectMeta{Name: "web.17a2b3c4", Namespace: "default"},
			InvolvedObject: &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web", Uid: "u-1", ApiVersion: "v1"},
			Reason:         "Scheduled", Message: "assigned", Type: "Normal", Count: 1}
	}
	runCreateCases(t, valid, ValidateEvent, []kindCase[*corev1.Event]{
		{name: "no involved object", mutate: func(e *corev1.Event) { e.InvolvedObject = nil }, want: []string{"involvedObject: Required value"}},
		{name: "unnamed involved object", mutate: func(e *corev1.Event) { e.InvolvedObject.Name, e.InvolvedObject.Kind = "", "" },
			want: []string{"involvedObject.name: Required value", "involvedObject.kind: Required value"}},
		{name: "other namespace", mutate: func(e *corev1.Event) { e.InvolvedObject.Namespace = "kube-system" },
			want: []string{"involvedObject.namespace: Invalid value"},
			msgs: []string{`involvedObject.namespace: Invalid value: "kube-system": does not match event.namespace`}},
		{name: "cluster-scoped object outside default", mutate: func(e *corev1.Event) {
			e.InvolvedObject.Namespace, e.InvolvedObject.Kind = "", "Node"
			e.Metadata.Namespace = "kube-system"
		}, want: []string{"involvedObject.namespace: Invalid value"}},
		{name: "type", mutate: func(e *corev1.Event) { e.Type = "Error" }, want: []string{"type: Unsupported value"}},
		{name: "count", mutate: func(e *corev1.Event) { e.Count = -1 }, want: []string{"count: Invalid value"}},
	})
	node := valid()
	node.InvolvedObject.Namespace, node.InvolvedObject.Kind = "", "Node"
	if errs := ValidateObject(node); len(errs) != 0 {
		t.Errorf("node event in default: %v", errs)
	}
}

func TestLease(t *testing.T) {
	valid := func() *coordinationv1.Lease {
		return &coordinationv1.Lease{Metadata: &metav1.ObjectMeta{Name: "kube-scheduler", Namespace: "kube-system"},
			Spec: &coordinationv1.LeaseSpec{HolderIdentity: proto.String("a"), LeaseDurationSeconds: proto.Int32(15),
				LeaseTransitions: proto.Int32(0), RenewTime: timestamppb.Now()}}
	}
	runCreateCases(t, valid, ValidateLease, []kindCase[*coordinationv1.Lease]{
		{name: "zero duration", mutate: func(l *coordinationv1.Lease) { l.Spec.LeaseDurationSeconds = proto.Int32(0) },
			want: []string{"spec.leaseDurationSeconds: Invalid value"}, msgs: []string{"spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"}},
		{name: "negative transitions", mutate: func(l *coordinationv1.Lease) { l.Spec.LeaseTransitions = proto.Int32(-1) },
			want: []string{"spec.leaseTransitions: Invalid value"}},
		{name: "no namespace", mutate: func(l *coordinationv1.Lease) { l.Metadata.Namespace = "" }, want: []string{"metadata.namespace: Required value"}},
	})
	l := valid()
	l.Spec = nil
	if errs := ValidateObject(l); len(errs) != 0 {
		t.Errorf("lease without spec: %v", errs)
	}
}
