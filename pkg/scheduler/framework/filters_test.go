package framework_test

import (
	"slices"
	"testing"

	"github.com/coxswain/coxswain/pkg/scheduler/framework"
	h "github.com/coxswain/coxswain/pkg/scheduler/framework/harness"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

func node(name string) *h.NodeBuilder { return h.Node(name, "4", "8Gi", "110") }

type filterCase struct {
	name    string
	pod     *h.PodBuilder
	node    *h.NodeBuilder
	placed  []*h.PodBuilder // bound to the node under test (NodeName set by the test)
	others  []*corev1.Node  // extra nodes, for topology tests
	onOther []*h.PodBuilder // bound to others[0]
	want    []string        // nil: fits
}

func runFilterCases(t *testing.T, f framework.Filter, cases []filterCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap := framework.NewSnapshot()
			n := tc.node.Obj()
			ni := snap.SetNode(n)
			for _, o := range tc.others {
				snap.SetNode(o)
			}
			for _, p := range tc.placed {
				snap.AddPod(p.NodeName(n.Metadata.Name).Info(), n.Metadata.Name)
			}
			for _, p := range tc.onOther {
				snap.AddPod(p.NodeName(tc.others[0].Metadata.Name).Info(), tc.others[0].Metadata.Name)
			}
			pi := tc.pod.Info()
			if pi.Err != nil {
				t.Fatalf("pod: %v", pi.Err)
			}
			st := framework.NewCycleState(pi, snap)
			got := f.Filter(st, pi, ni)
			if tc.want == nil {
				if !got.Fits() {
					t.Fatalf("%s: node rejected with %q, want it to fit", f.Name(), got.Reasons())
				}
				return
			}
			if got.Fits() {
				t.Fatalf("%s: node fits, want reasons %q", f.Name(), tc.want)
			}
			if !slices.Equal(got.Reasons(), tc.want) {
				t.Fatalf("%s: reasons %q, want %q", f.Name(), got.Reasons(), tc.want)
			}
		})
	}
}

func TestNodeReadyFilter(t *testing.T) {
	runFilterCases(t, framework.NodeReady{}, []filterCase{
		{name: "ready", pod: h.Pod("ns", "p", "", ""), node: node("n1")},
		{name: "not ready", pod: h.Pod("ns", "p", "", ""), node: node("n1").NotReady(), want: []string{"node(s) were not ready"}},
		{name: "not ready tolerated", pod: h.Pod("ns", "p", "", "").Toleration(framework.TaintNodeNotReady, "Exists", "", "NoSchedule"),
			node: node("n1").NotReady()},
		{name: "not ready tolerated for NoExecute only", pod: h.Pod("ns", "p", "", "").Toleration(framework.TaintNodeNotReady, "Exists", "", "NoExecute"),
			node: node("n1").NotReady(), want: []string{"node(s) were not ready"}},
	})
}

func TestNodeUnschedulableFilter(t *testing.T) {
	runFilterCases(t, framework.NodeUnschedulable{}, []filterCase{
		{name: "schedulable", pod: h.Pod("ns", "p", "", ""), node: node("n1")},
		{name: "cordoned", pod: h.Pod("ns", "p", "", ""), node: node("n1").Unschedulable(), want: []string{"node(s) were unschedulable"}},
		{name: "cordoned tolerated", pod: h.Pod("ns", "p", "", "").Toleration(framework.TaintNodeUnschedulable, "Exists", "", "NoSchedule"),
			node: node("n1").Unschedulable()},
		{name: "cordoned, wildcard toleration", pod: h.Pod("ns", "p", "", "").Toleration("", "Exists", "", ""),
			node: node("n1").Unschedulable()},
	})
}

func TestTaintTolerationFilter(t *testing.T) {
	gpu := []string{"node(s) had untolerated taint {dedicated: gpu}"}
	runFilterCases(t, framework.TaintToleration{}, []filterCase{
		{name: "no taints", pod: h.Pod("ns", "p", "", ""), node: node("n1")},
		{name: "NoSchedule untolerated", pod: h.Pod("ns", "p", "", ""), node: node("n1").Taint("dedicated", "gpu", "NoSchedule"), want: gpu},
		{name: "NoExecute untolerated", pod: h.Pod("ns", "p", "", ""), node: node("n1").Taint("dedicated", "gpu", "NoExecute"), want: gpu},
		{name: "PreferNoSchedule does not filter", pod: h.Pod("ns", "p", "", ""), node: node("n1").Taint("dedicated", "gpu", "PreferNoSchedule")},
		{name: "Equal toleration", pod: h.Pod("ns", "p", "", "").Toleration("dedicated", "Equal", "gpu", "NoSchedule"),
			node: node("n1").Taint("dedicated", "gpu", "NoSchedule")},
		{name: "empty operator means Equal", pod: h.Pod("ns", "p", "", "").Toleration("dedicated", "", "gpu", "NoSchedule"),
			node: node("n1").Taint("dedicated", "gpu", "NoSchedule")},
		{name: "Equal with other value", pod: h.Pod("ns", "p", "", "").Toleration("dedicated", "Equal", "cpu", "NoSchedule"),
			node: node("n1").Taint("dedicated", "gpu", "NoSchedule"), want: gpu},
		{name: "Exists toleration", pod: h.Pod("ns", "p", "", "").Toleration("dedicated", "Exists", "", "NoSchedule"),
			node: node("n1").Taint("dedicated", "gpu", "NoSchedule")},
		{name: "toleration with empty effect matches all effects", pod: h.Pod("ns", "p", "", "").Toleration("dedicated", "Exists", "", ""),
			node: node("n1").Taint("dedicated", "gpu", "NoExecute")},
		{name: "toleration for another effect", pod: h.Pod("ns", "p", "", "").Toleration("dedicated", "Exists", "", "NoSchedule"),
			node: node("n1").Taint("dedicated", "gpu", "NoExecute"), want: gpu},
		{name: "first untolerated taint is named", pod: h.Pod("ns", "p", "", "").Toleration("dedicated", "Exists", "", ""),
			node: node("n1").Taint("dedicated", "gpu", "NoSchedule").Taint("zone", "", "NoSchedule").Taint("team", "a", "NoSchedule"),
			want: []string{"node(s) had untolerated taint {zone: }"}},
	})
}

func TestNodeAffinityFilter(t *testing.T) {
	no := []string{"node(s) didn't match Pod's node affinity/selector"}
	n := func() *h.NodeBuilder { return node("n1").Label("disk", "ssd").Label("cores", "8") }
	runFilterCases(t, framework.NodeAffinity{}, []filterCase{
		{name: "nothing required", pod: h.Pod("ns", "p", "", ""), node: n()},
		{name: "nodeSelector match", pod: h.Pod("ns", "p", "", "").NodeSelector("disk", "ssd"), node: n()},
		{name: "nodeSelector value differs", pod: h.Pod("ns", "p", "", "").NodeSelector("disk", "hdd"), node: n(), want: no},
		{name: "nodeSelector label missing", pod: h.Pod("ns", "p", "", "").NodeSelector("gpu", "true"), node: n(), want: no},
		{name: "In", pod: h.Pod("ns", "p", "", "").RequiredNodeAffinity(h.Req("disk", "In", "nvme", "ssd")), node: n()},
		{name: "In no match", pod: h.Pod("ns", "p", "", "").RequiredNodeAffinity(h.Req("disk", "In", "hdd")), node: n(), want: no},
		{name: "NotIn", pod: h.Pod("ns", "p", "", "").RequiredNodeAffinity(h.Req("disk", "NotIn", "hdd")), node: n()},
		{name: "NotIn no match", pod: h.Pod("ns", "p", "", "").RequiredNodeAffinity(h.Req("disk", "NotIn", "ssd")), node: n(), want: no},
		{name: "NotIn missing label matches", pod: h.Pod("ns", "p", "", "").RequiredNodeAffinity(h.Req("gpu", "NotIn", "a")), node: n()},
		{name: "Exists", pod: h.Pod("ns", "p", "", "").RequiredNodeAffinity(h.Req("disk", "Exists")), node: n()},
		{name: "Exists no match", pod: h.Pod("ns", "p", "", "").RequiredNodeAffinity(h.Req("gpu", "Exists")), node: n(), want: no},
		{name: "DoesNotExist", pod: h.Pod("ns", "p", "", "").RequiredNodeAffinity(h.Req("gpu", "DoesNotExist")), node: n()},
		{name: "DoesNotExist no match", pod: h.Pod("ns", "p", "", "").RequiredNodeAffinity(h.Req("disk", "DoesNotExist")), node: n(), want: no},
		{name: "Gt", pod: h.Pod("ns", "p", "", "").RequiredNodeAffinity(h.Req("cores", "Gt", "4")), node: n()},
		{name: "Gt equal fails", pod: h.Pod("ns", "p", "", "").RequiredNodeAffinity(h.Req("cores", "Gt", "8")), node: n(), want: no},
		{name: "Lt", pod: h.Pod("ns", "p", "", "").RequiredNodeAffinity(h.Req("cores", "Lt", "16")), node: n()},
		{name: "Lt no match", pod: h.Pod("ns", "p", "", "").RequiredNodeAffinity(h.Req("cores", "Lt", "2")), node: n(), want: no},
		{name: "Gt on non-numeric label", pod: h.Pod("ns", "p", "", "").RequiredNodeAffinity(h.Req("disk", "Gt", "1")), node: n(), want: no},
		{name: "Gt on missing label", pod: h.Pod("ns", "p", "", "").RequiredNodeAffinity(h.Req("gpus", "Gt", "1")), node: n(), want: no},
		{name: "requirements of a term are ANDed",
			pod: h.Pod("ns", "p", "", "").RequiredNodeAffinity(h.Req("disk", "In", "ssd"), h.Req("cores", "Gt", "8")), node: n(), want: no},
		{name: "terms are ORed",
			pod: h.Pod("ns", "p", "", "").RequiredNodeAffinity(h.Req("disk", "In", "hdd")).RequiredNodeAffinity(h.Req("cores", "Gt", "4")), node: n()},
		{name: "nodeSelector and affinity both required",
			pod: h.Pod("ns", "p", "", "").NodeSelector("disk", "hdd").RequiredNodeAffinity(h.Req("cores", "Gt", "4")), node: n(), want: no},
		{name: "empty term matches nothing", pod: h.Pod("ns", "p", "", "").RequiredNodeAffinity(), node: n(), want: no},
	})
}

func TestNodeAffinityMatchFields(t *testing.T) {
	pod := h.Pod("ns", "p", "", "").Obj()
	pod.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
		NodeSelectorTerms: []*corev1.NodeSelectorTerm{{MatchFields: []*corev1.NodeSelectorRequirement{h.Req("metadata.name", "In", "n2")}}}}}}
	pi := framework.NewPodInfo(pod)
	snap := framework.NewSnapshot()
	n1, n2 := snap.SetNode(node("n1").Obj()), snap.SetNode(node("n2").Obj())
	if s := (framework.NodeAffinity{}).Filter(nil, pi, n1); s.Fits() {
		t.Errorf("n1 fits, want %q", framework.ReasonNodeAffinity)
	}
	if s := (framework.NodeAffinity{}).Filter(nil, pi, n2); !s.Fits() {
		t.Errorf("n2 rejected: %q", s.Reasons())
	}
}

func TestInvalidNodeAffinityIsReported(t *testing.T) {
	cases := []struct {
		req  *corev1.NodeSelectorRequirement
		want string
	}{
		{h.Req("a", "Like", "x"), `pod ns/p: spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution: nodeSelectorTerms[0].matchExpressions[0].operator: Unsupported value: "Like": supported values: "DoesNotExist", "Exists", "Gt", "In", "Lt", "NotIn"`},
		{h.Req("a", "Gt", "x"), `pod ns/p: spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution: nodeSelectorTerms[0].matchExpressions[0].values[0]: Invalid value: "x": must be an integer for 'Gt' and 'Lt'`},
		{h.Req("a", "In"), `pod ns/p: spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution: nodeSelectorTerms[0].matchExpressions[0].values: Required value: must be specified when ` + "`operator`" + ` is 'In' or 'NotIn'`},
		{h.Req("a", "Exists", "x"), `pod ns/p: spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution: nodeSelectorTerms[0].matchExpressions[0].values: Forbidden: may not be specified when ` + "`operator`" + ` is 'Exists' or 'DoesNotExist'`},
	}
	for _, tc := range cases {
		pi := h.Pod("ns", "p", "", "").RequiredNodeAffinity(tc.req).Info()
		if pi.Err == nil || pi.Err.Error() != tc.want {
			t.Errorf("%s %s: err %v, want %s", tc.req.Key, tc.req.Operator, pi.Err, tc.want)
		}
		fw, _ := framework.New(framework.Config{Parallelism: 1})
		snap := framework.NewSnapshot()
		snap.SetNode(node("n1").Obj())
		if _, err := fw.Schedule(pi, snap); err == nil || err.Error() != tc.want {
			t.Errorf("Schedule: err %v, want %s", err, tc.want)
		}
	}
}

func TestNodePortsFilter(t *testing.T) {
	no := []string{"node(s) didn't have free ports for the requested pod ports"}
	runFilterCases(t, framework.NodePorts{}, []filterCase{
		{name: "no ports", pod: h.Pod("ns", "p", "", ""), node: node("n1"), placed: []*h.PodBuilder{h.Pod("ns", "q", "", "").HostPort("", "TCP", 80)}},
		{name: "free port", pod: h.Pod("ns", "p", "", "").HostPort("", "TCP", 81), node: node("n1"),
			placed: []*h.PodBuilder{h.Pod("ns", "q", "", "").HostPort("", "TCP", 80)}},
		{name: "same port taken", pod: h.Pod("ns", "p", "", "").HostPort("", "TCP", 80), node: node("n1"),
			placed: []*h.PodBuilder{h.Pod("ns", "q", "", "").HostPort("", "TCP", 80)}, want: no},
		{name: "protocol defaults to TCP", pod: h.Pod("ns", "p", "", "").HostPort("", "", 80), node: node("n1"),
			placed: []*h.PodBuilder{h.Pod("ns", "q", "", "").HostPort("", "TCP", 80)}, want: no},
		{name: "other protocol is free", pod: h.Pod("ns", "p", "", "").HostPort("", "UDP", 80), node: node("n1"),
			placed: []*h.PodBuilder{h.Pod("ns", "q", "", "").HostPort("", "TCP", 80)}},
		{name: "different IPs are free", pod: h.Pod("ns", "p", "", "").HostPort("10.0.0.1", "TCP", 80), node: node("n1"),
			placed: []*h.PodBuilder{h.Pod("ns", "q", "", "").HostPort("10.0.0.2", "TCP", 80)}},
		{name: "wildcard IP conflicts with any", pod: h.Pod("ns", "p", "", "").HostPort("10.0.0.1", "TCP", 80), node: node("n1"),
			placed: []*h.PodBuilder{h.Pod("ns", "q", "", "").HostPort("0.0.0.0", "TCP", 80)}, want: no},
		{name: "hostNetwork pod takes its container port", pod: h.Pod("ns", "p", "", "").HostPort("", "TCP", 8080), node: node("n1"),
			placed: []*h.PodBuilder{hostNetworkPod()}, want: no},
	})
}

func hostNetworkPod() *h.PodBuilder {
	b := h.Pod("ns", "hn", "", "")
	b.Obj().Spec.HostNetwork = true
	b.Obj().Spec.Containers[0].Ports = []*corev1.ContainerPort{{ContainerPort: 8080, Protocol: "TCP"}}
	return b
}

func TestNodeResourcesFitFilter(t *testing.T) {
	small := func() *h.NodeBuilder { return h.Node("n1", "2", "4Gi", "3") }
	runFilterCases(t, framework.NodeResourcesFit{}, []filterCase{
		{name: "fits", pod: h.Pod("ns", "p", "1", "1Gi"), node: small()},
		{name: "fits exactly", pod: h.Pod("ns", "p", "1500m", "3Gi"), node: small(), placed: []*h.PodBuilder{h.Pod("ns", "q", "500m", "1Gi")}},
		{name: "cpu", pod: h.Pod("ns", "p", "1600m", "1Gi"), node: small(), placed: []*h.PodBuilder{h.Pod("ns", "q", "500m", "1Gi")},
			want: []string{"Insufficient cpu"}},
		{name: "memory", pod: h.Pod("ns", "p", "1", "3073Mi"), node: small(), placed: []*h.PodBuilder{h.Pod("ns", "q", "", "1Gi")},
			want: []string{"Insufficient memory"}},
		{name: "cpu and memory", pod: h.Pod("ns", "p", "3", "5Gi"), node: small(), want: []string{"Insufficient cpu", "Insufficient memory"}},
		{name: "too many pods", pod: h.Pod("ns", "p", "", ""), node: small(),
			placed: []*h.PodBuilder{h.Pod("ns", "a", "", ""), h.Pod("ns", "b", "", ""), h.Pod("ns", "c", "", "")}, want: []string{"Too many pods"}},
		{name: "too many pods and cpu", pod: h.Pod("ns", "p", "3", ""), node: small(),
			placed: []*h.PodBuilder{h.Pod("ns", "a", "", ""), h.Pod("ns", "b", "", ""), h.Pod("ns", "c", "", "")},
			want:   []string{"Too many pods", "Insufficient cpu"}},
		{name: "best effort fits a full node", pod: h.Pod("ns", "p", "", ""), node: small(), placed: []*h.PodBuilder{h.Pod("ns", "q", "2", "4Gi")}},
		{name: "containers add up", pod: h.Pod("ns", "p", "1", "").Container("1100m", ""), node: small(), want: []string{"Insufficient cpu"}},
		{name: "init container larger than the sum counts", pod: h.Pod("ns", "p", "500m", "").InitContainer("2500m", ""), node: small(),
			want: []string{"Insufficient cpu"}},
		{name: "init container smaller than the sum is free", pod: h.Pod("ns", "p", "1", "").Container("1", "").InitContainer("1500m", ""), node: small()},
		{name: "limits stand in for requests", pod: limitsOnly("3"), node: small(), want: []string{"Insufficient cpu"}},
		{name: "no allocatable memory", pod: h.Pod("ns", "p", "", "1"), node: h.Node("n1", "2", "0", "3"), want: []string{"Insufficient memory"}},
	})
}

func limitsOnly(cpu string) *h.PodBuilder {
	b := h.Pod("ns", "p", "", "")
	b.Obj().Spec.Containers[0].Resources = &corev1.ResourceRequirements{Limits: map[string]string{"cpu": cpu}}
	return b
}

func TestInterPodAffinityFilter(t *testing.T) {
	zone := func(name, z string) *h.NodeBuilder { return node(name).Label("zone", z) }
	web := func(name string) *h.PodBuilder { return h.Pod("ns", name, "", "").Label("app", "web") }
	runFilterCases(t, framework.InterPodAffinity{}, []filterCase{
		{name: "anti-affinity, no matching pod", pod: web("p").PodAntiAffinity("app", "web", framework.LabelHostname), node: node("n1"),
			placed: []*h.PodBuilder{h.Pod("ns", "db", "", "").Label("app", "db")}},
		{name: "anti-affinity against a pod on the node", pod: web("p").PodAntiAffinity("app", "web", framework.LabelHostname), node: node("n1"),
			placed: []*h.PodBuilder{web("w1")}, want: []string{"node(s) didn't match pod anti-affinity rules"}},
		{name: "anti-affinity ignores other namespaces", pod: web("p").PodAntiAffinity("app", "web", framework.LabelHostname), node: node("n1"),
			placed: []*h.PodBuilder{h.Pod("other", "w1", "", "").Label("app", "web")}},
		{name: "anti-affinity per hostname ignores other nodes", pod: web("p").PodAntiAffinity("app", "web", framework.LabelHostname), node: zone("n1", "a"),
			others: []*corev1.Node{zone("n2", "a").Obj()}, onOther: []*h.PodBuilder{web("w2")}},
		{name: "anti-affinity per zone sees the zone", pod: web("p").PodAntiAffinity("app", "web", "zone"), node: zone("n1", "a"),
			others: []*corev1.Node{zone("n2", "a").Obj()}, onOther: []*h.PodBuilder{web("w2")}, want: []string{"node(s) didn't match pod anti-affinity rules"}},
		{name: "anti-affinity, node without the topology label passes", pod: web("p").PodAntiAffinity("app", "web", "zone"), node: node("n1"),
			placed: []*h.PodBuilder{web("w1")}},
		{name: "existing pod's anti-affinity", pod: web("p"), node: node("n1"),
			placed: []*h.PodBuilder{h.Pod("ns", "loner", "", "").PodAntiAffinity("app", "web", framework.LabelHostname)},
			want:   []string{"node(s) didn't satisfy existing pods anti-affinity rules"}},
		{name: "existing pod's anti-affinity elsewhere", pod: web("p"), node: node("n1"),
			others: []*corev1.Node{node("n2").Obj()}, onOther: []*h.PodBuilder{h.Pod("ns", "loner", "", "").PodAntiAffinity("app", "web", framework.LabelHostname)}},
		{name: "affinity satisfied", pod: h.Pod("ns", "p", "", "").PodAffinity("app", "db", "zone"), node: zone("n1", "a"),
			others: []*corev1.Node{zone("n2", "a").Obj()}, onOther: []*h.PodBuilder{h.Pod("ns", "db", "", "").Label("app", "db")}},
		{name: "affinity, matching pod in another zone", pod: h.Pod("ns", "p", "", "").PodAffinity("app", "db", "zone"), node: zone("n1", "a"),
			others: []*corev1.Node{zone("n2", "b").Obj()}, onOther: []*h.PodBuilder{h.Pod("ns", "db", "", "").Label("app", "db")},
			want: []string{"node(s) didn't match pod affinity rules"}},
		{name: "affinity, node without the topology label", pod: h.Pod("ns", "p", "", "").PodAffinity("app", "db", "zone"), node: node("n1"),
			placed: []*h.PodBuilder{h.Pod("ns", "db", "", "").Label("app", "db")}, want: []string{"node(s) didn't match pod affinity rules"}},
		{name: "affinity, first pod of a self-affine group", pod: web("p").PodAffinity("app", "web", "zone"), node: zone("n1", "a")},
		{name: "affinity, no match anywhere and not self-affine", pod: h.Pod("ns", "p", "", "").PodAffinity("app", "db", "zone"), node: zone("n1", "a"),
			want: []string{"node(s) didn't match pod affinity rules"}},
	})
}
