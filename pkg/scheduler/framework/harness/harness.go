package harness

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/coxswain/coxswain/pkg/scheduler/framework"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// NodeBuilder builds a node that is Ready, with the hostname label set.
type NodeBuilder struct{ n *corev1.Node }

// Node starts a Ready node named name with allocatable cpu, memory and pods (quantity strings).
func Node(name, cpu, memory, pods string) *NodeBuilder {
	n := &corev1.Node{
		Metadata: &metav1.ObjectMeta{Name: name, Labels: map[string]string{framework.LabelHostname: name}},
		Spec:     &corev1.NodeSpec{},
		Status: &corev1.NodeStatus{
			Allocatable: map[string]string{framework.ResourceCPU: cpu, framework.ResourceMemory: memory, framework.ResourcePods: pods},
			Conditions:  []*metav1.Condition{{Type: "Ready", Status: "True"}},
		},
	}
	n.Status.Capacity = n.Status.Allocatable
	return &NodeBuilder{n: n}
}

// Label sets a label.
func (b *NodeBuilder) Label(k, v string) *NodeBuilder { b.n.Metadata.Labels[k] = v; return b }

// Taint adds a taint.
func (b *NodeBuilder) Taint(key, value, effect string) *NodeBuilder {
	b.n.Spec.Taints = append(b.n.Spec.Taints, &corev1.Taint{Key: key, Value: value, Effect: effect})
	return b
}

// Unschedulable cordons the node.
func (b *NodeBuilder) Unschedulable() *NodeBuilder { b.n.Spec.Unschedulable = true; return b }

// NotReady sets the Ready condition to False.
func (b *NodeBuilder) NotReady() *NodeBuilder {
	b.n.Status.Conditions = []*metav1.Condition{{Type: "Ready", Status: "False", Reason: "KubeletNotReady"}}
	return b
}

// Obj returns the node.
func (b *NodeBuilder) Obj() *corev1.Node { return b.n }

// PodBuilder builds a pod with one container.
type PodBuilder struct{ p *corev1.Pod }

// Pod starts a pod namespace/name with one container requesting cpu and memory ("" requests nothing).
func Pod(namespace, name, cpu, memory string) *PodBuilder {
	req := map[string]string{}
	if cpu != "" {
		req[framework.ResourceCPU] = cpu
	}
	if memory != "" {
		req[framework.ResourceMemory] = memory
	}
	return &PodBuilder{p: &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Namespace: namespace, Name: name, Uid: namespace + "-" + name + "-uid", Labels: map[string]string{}},
		Spec: &corev1.PodSpec{SchedulerName: "default-scheduler",
			Containers: []*corev1.Container{{Name: "c", Image: "busybox", Resources: &corev1.ResourceRequirements{Requests: req}}}},
		Status: &corev1.PodStatus{Phase: "Pending"},
	}}
}

// Label sets a label.
func (b *PodBuilder) Label(k, v string) *PodBuilder { b.p.Metadata.Labels[k] = v; return b }

// Owner makes the pod controlled by a ReplicaSet with uid.
func (b *PodBuilder) Owner(uid string) *PodBuilder {
	b.p.Metadata.OwnerReferences = append(b.p.Metadata.OwnerReferences, &metav1.OwnerReference{
		ApiVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs-" + uid, Uid: uid, Controller: proto.Bool(true)})
	return b
}

// InitContainer adds an init container requesting cpu and memory.
func (b *PodBuilder) InitContainer(cpu, memory string) *PodBuilder {
	req := map[string]string{}
	if cpu != "" {
		req[framework.ResourceCPU] = cpu
	}
	if memory != "" {
		req[framework.ResourceMemory] = memory
	}
	b.p.Spec.InitContainers = append(b.p.Spec.InitContainers, &corev1.Container{Name: fmt.Sprintf("init%d", len(b.p.Spec.InitContainers)),
		Image: "busybox", Resources: &corev1.ResourceRequirements{Requests: req}})
	return b
}

// Container adds a container requesting cpu and memory.
func (b *PodBuilder) Container(cpu, memory string) *PodBuilder {
	req := map[string]string{}
	if cpu != "" {
		req[framework.ResourceCPU] = cpu
	}
	if memory != "" {
		req[framework.ResourceMemory] = memory
	}
	b.p.Spec.Containers = append(b.p.Spec.Containers, &corev1.Container{Name: fmt.Sprintf("c%d", len(b.p.Spec.Containers)),
		Image: "busybox", Resources: &corev1.ResourceRequirements{Requests: req}})
	return b
}

// HostPort makes the first container take hostPort/protocol on hostIP ("" for all addresses).
func (b *PodBuilder) HostPort(hostIP, protocol string, port int32) *PodBuilder {
	c := b.p.Spec.Containers[0]
	c.Ports = append(c.Ports, &corev1.ContainerPort{ContainerPort: 8080, HostPort: port, Protocol: protocol, HostIp: hostIP})
	return b
}

// NodeSelector sets a nodeSelector entry.
func (b *PodBuilder) NodeSelector(k, v string) *PodBuilder {
	if b.p.Spec.NodeSelector == nil {
		b.p.Spec.NodeSelector = map[string]string{}
	}
	b.p.Spec.NodeSelector[k] = v
	return b
}

func (b *PodBuilder) affinity() *corev1.Affinity {
	if b.p.Spec.Affinity == nil {
		b.p.Spec.Affinity = &corev1.Affinity{}
	}
	return b.p.Spec.Affinity
}

// RequiredNodeAffinity adds a required node affinity term ANDing the requirements.
func (b *PodBuilder) RequiredNodeAffinity(reqs ...*corev1.NodeSelectorRequirement) *PodBuilder {
	a := b.affinity()
	if a.NodeAffinity == nil {
		a.NodeAffinity = &corev1.NodeAffinity{}
	}
	if a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{}
	}
	ns := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	ns.NodeSelectorTerms = append(ns.NodeSelectorTerms, &corev1.NodeSelectorTerm{MatchExpressions: reqs})
	return b
}

// PreferredNodeAffinity adds a weighted preferred node affinity term.
func (b *PodBuilder) PreferredNodeAffinity(weight int32, reqs ...*corev1.NodeSelectorRequirement) *PodBuilder {
	a := b.affinity()
	if a.NodeAffinity == nil {
		a.NodeAffinity = &corev1.NodeAffinity{}
	}
	a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
		&corev1.PreferredSchedulingTerm{Weight: weight, Preference: &corev1.NodeSelectorTerm{MatchExpressions: reqs}})
	return b
}

// Req builds a node selector requirement.
func Req(key, op string, values ...string) *corev1.NodeSelectorRequirement {
	return &corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
}

// Toleration adds a toleration.
func (b *PodBuilder) Toleration(key, op, value, effect string) *PodBuilder {
	b.p.Spec.Tolerations = append(b.p.Spec.Tolerations, &corev1.Toleration{Key: key, Operator: op, Value: value, Effect: effect})
	return b
}

// PodAntiAffinity adds a required anti-affinity term against pods labelled k=v in topologyKey.
func (b *PodBuilder) PodAntiAffinity(k, v, topologyKey string) *PodBuilder {
	a := b.affinity()
	if a.PodAntiAffinity == nil {
		a.PodAntiAffinity = &corev1.PodAntiAffinity{}
	}
	a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution = append(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution,
		&corev1.PodAffinityTerm{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{k: v}}, TopologyKey: topologyKey})
	return b
}

// PodAffinity adds a required affinity term towards pods labelled k=v in topologyKey.
func (b *PodBuilder) PodAffinity(k, v, topologyKey string) *PodBuilder {
	a := b.affinity()
	if a.PodAffinity == nil {
		a.PodAffinity = &corev1.PodAffinity{}
	}
	a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution = append(a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution,
		&corev1.PodAffinityTerm{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{k: v}}, TopologyKey: topologyKey})
	return b
}

// Priority sets spec.priority.
func (b *PodBuilder) Priority(p int32) *PodBuilder { b.p.Spec.Priority = proto.Int32(p); return b }

// NodeName binds the pod.
func (b *PodBuilder) NodeName(n string) *PodBuilder { b.p.Spec.NodeName = n; return b }

// Obj returns the pod.
func (b *PodBuilder) Obj() *corev1.Pod { return b.p }

// Info returns the pod's PodInfo.
func (b *PodBuilder) Info() *framework.PodInfo { return framework.NewPodInfo(b.p) }

// Cluster is an in-memory cluster: a snapshot and a framework that schedules pods onto it.
type Cluster struct {
	Snapshot  *framework.Snapshot
	Framework *framework.Framework
}

// NewCluster builds a cluster of nodes scheduled by a framework with cfg.
func NewCluster(cfg framework.Config, nodes ...*corev1.Node) (*Cluster, error) {
	fw, err := framework.New(cfg)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Snapshot: framework.NewSnapshot(), Framework: fw}
	for _, n := range nodes {
		c.Snapshot.SetNode(n)
	}
	return c, nil
}

// Place puts an already bound pod on its node.
func (c *Cluster) Place(pod *corev1.Pod) {
	c.Snapshot.AddPod(framework.NewPodInfo(pod), pod.GetSpec().GetNodeName())
}

// Schedule schedules pod and, when it fits, places it on the chosen node (as the scheduler's assume
// does). It returns the node or the error.
func (c *Cluster) Schedule(pi *framework.PodInfo) (string, error) {
	res, err := c.Framework.Schedule(pi, c.Snapshot)
	if err != nil {
		return "", err
	}
	c.Snapshot.AddPod(pi, res.Node)
	return res.Node, nil
}

// BenchNodes are n nodes of 8 cpu / 32Gi / 110 pods in 5 zones, half with ssd disks (label
// disk=ssd), every tenth tainted dedicated=gpu:NoSchedule.
func BenchNodes(n int) []*corev1.Node {
	out := make([]*corev1.Node, n)
	for i := range out {
		b := Node(fmt.Sprintf("node-%05d", i), "8", "32Gi", "110").Label("zone", fmt.Sprintf("zone-%d", i%5))
		if i%2 == 0 {
			b.Label("disk", "ssd")
		}
		if i%10 == 9 {
			b.Taint("dedicated", "gpu", "NoSchedule")
		}
		out[i] = b.Obj()
	}
	return out
}

// BenchPods are n pending pods in namespace "bench" of 200 ReplicaSets, requesting 100-400m cpu and
// 128-512Mi, every tenth selecting ssd nodes and every twentieth tolerating the gpu taint. They all
// fit on BenchNodes(n/2).
func BenchPods(n int) []*corev1.Pod {
	out := make([]*corev1.Pod, n)
	for i := range out {
		b := Pod("bench", fmt.Sprintf("pod-%05d", i), fmt.Sprintf("%dm", 100*(i%4+1)), fmt.Sprintf("%dMi", 128*(i%4+1))).
			Owner(fmt.Sprintf("rs-%03d", i%200))
		if i%10 == 3 {
			b.NodeSelector("disk", "ssd")
		}
		if i%20 == 7 {
			b.Toleration("dedicated", "Equal", "gpu", "NoSchedule")
		}
		out[i] = b.Obj()
	}
	return out
}
