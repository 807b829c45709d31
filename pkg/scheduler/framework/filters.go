package framework

// The filter explanations, exactly as kube-scheduler words them.
const (
	ReasonNotReady              = "node(s) were not ready"
	ReasonUnschedulable         = "node(s) were unschedulable"
	ReasonNodeAffinity          = "node(s) didn't match Pod's node affinity/selector"
	ReasonNodePorts             = "node(s) didn't have free ports for the requested pod ports"
	ReasonTooManyPods           = "Too many pods"
	ReasonInsufficientCPU       = "Insufficient cpu"
	ReasonInsufficientMemory    = "Insufficient memory"
	ReasonExistingAntiAffinity  = "node(s) didn't satisfy existing pods anti-affinity rules"
	ReasonPodAffinity           = "node(s) didn't match pod affinity rules"
	ReasonPodAntiAffinity       = "node(s) didn't match pod anti-affinity rules"
	ReasonNoNodesAvailable      = "no nodes available to schedule pods"
	unschedulableTaintReasonFmt = "node(s) had untolerated taint {%s: %s}"
)

// Status is a filter's verdict on a node: fits (no reasons) or not, with the reasons why. Filters return
// shared, preallocated reason slices so filtering does not allocate.
type Status struct{ reasons []string }

// Fits reports whether the node passed.
func (s Status) Fits() bool { return len(s.reasons) == 0 }

// Reasons are the explanations of a failure (nil when the node fits). Do not modify.
func (s Status) Reasons() []string { return s.reasons }

// Unfit returns a failing status with the given reasons (for custom filters).
func Unfit(reasons ...string) Status { return Status{reasons: reasons} }

var (
	statusNotReady             = Unfit(ReasonNotReady)
	statusUnschedulable        = Unfit(ReasonUnschedulable)
	statusNodeAffinity         = Unfit(ReasonNodeAffinity)
	statusNodePorts            = Unfit(ReasonNodePorts)
	statusExistingAntiAffinity = Unfit(ReasonExistingAntiAffinity)
	statusPodAffinity          = Unfit(ReasonPodAffinity)
	statusPodAntiAffinity      = Unfit(ReasonPodAntiAffinity)
	// statusResources[mask]: bit 0 too many pods, bit 1 cpu, bit 2 memory (in kube-scheduler's order).
	statusResources [8]Status
)

func init() {
	for mask := 1; mask < 8; mask++ {
		var r []string
		if mask&1 != 0 {
			r = append(r, ReasonTooManyPods)
		}
		if mask&2 != 0 {
			r = append(r, ReasonInsufficientCPU)
		}
		if mask&4 != 0 {
			r = append(r, ReasonInsufficientMemory)
		}
		statusResources[mask] = Status{reasons: r}
	}
}

// Filter decides whether a pod may go on a node.
type Filter interface {
	Name() string
	Filter(st *CycleState, pod *PodInfo, node *NodeInfo) Status
}

// DefaultFilters are the filters in the order Schedule runs them.
func DefaultFilters() []Filter {
	return []Filter{NodeReady{}, NodeUnschedulable{}, TaintToleration{}, NodeAffinity{}, NodePorts{}, NodeResourcesFit{}, InterPodAffinity{}}
}

// NodeReady rejects nodes whose Ready condition is not True, unless the pod tolerates the
// node.kubernetes.io/not-ready:NoSchedule taint.
type NodeReady struct{}

// Name implements Filter.
func (NodeReady) Name() string { return "NodeReady" }

// Filter implements Filter.
func (NodeReady) Filter(_ *CycleState, pod *PodInfo, node *NodeInfo) Status {
	if node.Ready || toleratesKey(pod, TaintNodeNotReady, EffectNoSchedule) {
		return Status{}
	}
	return statusNotReady
}

// NodeUnschedulable rejects cordoned nodes (spec.unschedulable), unless the pod tolerates the
// node.kubernetes.io/unschedulable:NoSchedule taint.
type NodeUnschedulable struct{}

// Name implements Filter.
func (NodeUnschedulable) Name() string { return "NodeUnschedulable" }

// Filter implements Filter.
func (NodeUnschedulable) Filter(_ *CycleState, pod *PodInfo, node *NodeInfo) Status {
	if !node.Unschedulable || toleratesKey(pod, TaintNodeUnschedulable, EffectNoSchedule) {
		return Status{}
	}
	return statusUnschedulable
}

func toleratesKey(pod *PodInfo, key, effect string) bool {
	for _, t := range pod.Tolerations {
		if tolerates(t.GetKey(), t.GetOperator(), t.GetValue(), t.GetEffect(), key, "", effect) {
			return true
		}
	}
	return false
}

// tolerates is Kubernetes' Toleration.ToleratesTaint: an empty toleration effect matches every effect,
// an empty key with operator Exists matches every taint.
func tolerates(tKey, tOp, tValue, tEffect, key, value, effect string) bool {
	if tEffect != "" && tEffect != effect {
		return false
	}
	if tKey != "" && tKey != key {
		return false
	}
	switch tOp {
	case "", "Equal":
		return tValue == value
	case "Exists":
		return true
	}
	return false
}

func podToleratesTaint(pod *PodInfo, t *Taint) bool {
	for _, tol := range pod.Tolerations {
		if tolerates(tol.GetKey(), tol.GetOperator(), tol.GetValue(), tol.GetEffect(), t.Key, t.Value, t.Effect) {
			return true
		}
	}
	return false
}

// TaintToleration rejects nodes with a NoSchedule or NoExecute taint the pod does not tolerate, naming
// the first such taint.
type TaintToleration struct{}

// Name implements Filter and Scorer.
func (TaintToleration) Name() string { return "TaintToleration" }

// Filter implements Filter.
func (TaintToleration) Filter(_ *CycleState, pod *PodInfo, node *NodeInfo) Status {
	for i := range node.Taints {
		if !podToleratesTaint(pod, &node.Taints[i]) {
			return Status{reasons: node.Taints[i].reasons}
		}
	}
	return Status{}
}

// NodeAffinity rejects nodes not matching the pod's nodeSelector (every label equal) and required node
// affinity (any term).
type NodeAffinity struct{}

// Name implements Filter and Scorer.
func (NodeAffinity) Name() string { return "NodeAffinity" }

// Filter implements Filter.
func (NodeAffinity) Filter(_ *CycleState, pod *PodInfo, node *NodeInfo) Status {
	for _, kv := range pod.nodeSelector {
		if lv, ok := node.Labels[kv[0]]; !ok || lv != kv[1] {
			return statusNodeAffinity
		}
	}
	if pod.RequiredNodeAffinity != nil && !pod.RequiredNodeAffinity.Matches(node.Name, node.Labels) {
		return statusNodeAffinity
	}
	return Status{}
}

// NodePorts rejects nodes where a host port the pod wants is taken (same protocol and port, and the
// same IP or either side on 0.0.0.0).
type NodePorts struct{}

// Name implements Filter.
func (NodePorts) Name() string { return "NodePorts" }

// Filter implements Filter.
func (NodePorts) Filter(_ *CycleState, pod *PodInfo, node *NodeInfo) Status {
	for _, want := range pod.HostPorts {
		for _, used := range node.UsedPorts {
			if want.conflicts(used) {
				return statusNodePorts
			}
		}
	}
	return Status{}
}

// NodeResourcesFit rejects nodes without room for the pod: one more pod than allowed, or more cpu or
// memory requested than allocatable minus what placed pods request. A node can fail on several.
type NodeResourcesFit struct{}

// Name implements Filter.
func (NodeResourcesFit) Name() string { return "NodeResourcesFit" }

// Filter implements Filter.
func (NodeResourcesFit) Filter(_ *CycleState, pod *PodInfo, node *NodeInfo) Status {
	mask := 0
	if int64(len(node.Pods))+1 > node.AllowedPods {
		mask |= 1
	}
	if r := pod.Requests.MilliCPU; r > 0 && r > node.Allocatable.MilliCPU-node.Requested.MilliCPU {
		mask |= 2
	}
	if r := pod.Requests.Memory; r > 0 && r > node.Allocatable.Memory-node.Requested.Memory {
		mask |= 4
	}
	return statusResources[mask]
}

// InterPodAffinity enforces required pod affinity and anti-affinity, in both directions: the pod's own
// terms against the pods placed in each topology domain, and placed pods' anti-affinity terms against
// the pod. A node without the topology key label satisfies anti-affinity terms and fails affinity terms.
type InterPodAffinity struct{}

// Name implements Filter.
func (InterPodAffinity) Name() string { return "InterPodAffinity" }

// Filter implements Filter.
func (InterPodAffinity) Filter(st *CycleState, pod *PodInfo, node *NodeInfo) Status {
	if st == nil || !st.affinityComputed {
		return Status{}
	}
	if len(st.existingAntiAffinity) > 0 {
		for k, v := range node.Labels {
			if st.existingAntiAffinity[topologyPair{k, v}] > 0 {
				return statusExistingAntiAffinity
			}
		}
	}
	if len(pod.RequiredAffinityTerms) > 0 {
		exist := true
		for i := range pod.RequiredAffinityTerms {
			t := &pod.RequiredAffinityTerms[i]
			v, ok := node.Labels[t.TopologyKey]
			if !ok {
				return statusPodAffinity
			}
			if st.affinity[topologyPair{t.TopologyKey, v}] <= 0 {
				exist = false
			}
		}
		// The first pod of a group with affinity to itself may go anywhere with the topology labels.
		if !exist && !(len(st.affinity) == 0 && st.matchesOwnAffinity) {
			return statusPodAffinity
		}
	}
	for i := range pod.RequiredAntiAffinityTerms {
		t := &pod.RequiredAntiAffinityTerms[i]
		if v, ok := node.Labels[t.TopologyKey]; ok && st.antiAffinity[topologyPair{t.TopologyKey, v}] > 0 {
			return statusPodAntiAffinity
		}
	}
	return Status{}
}

type topologyPair struct{ key, value string }

// CycleState is what Schedule computes once per pod before filtering (kube-scheduler's PreFilter).
type CycleState struct {
	ownerID          int32 // the pod's controller, interned by the snapshot (0: none placed)
	affinityComputed bool
	// Topology domains (key=value) holding pods that match all the pod's affinity terms / any of its
	// anti-affinity terms / whose anti-affinity terms match the pod.
	affinity, antiAffinity, existingAntiAffinity map[topologyPair]int
	matchesOwnAffinity                           bool
}

// NewCycleState computes the per-pod state the filters need from the snapshot.
func NewCycleState(pod *PodInfo, snap *Snapshot) *CycleState {
	st := &CycleState{ownerID: snap.ownerID(pod.OwnerUID)}
	if snap.antiAffinityPods == 0 && len(pod.RequiredAffinityTerms) == 0 && len(pod.RequiredAntiAffinityTerms) == 0 {
		return st
	}
	st.affinityComputed = true
	if snap.antiAffinityPods > 0 {
		for _, n := range snap.nodes {
			if n.antiAffinityPods == 0 {
				continue
			}
			for _, p := range n.Pods {
				for i := range p.RequiredAntiAffinityTerms {
					t := &p.RequiredAntiAffinityTerms[i]
					if v, ok := n.Labels[t.TopologyKey]; ok && t.Matches(pod.Namespace, pod.Labels) {
						if st.existingAntiAffinity == nil {
							st.existingAntiAffinity = map[topologyPair]int{}
						}
						st.existingAntiAffinity[topologyPair{t.TopologyKey, v}]++
					}
				}
			}
		}
	}
	if len(pod.RequiredAffinityTerms) == 0 && len(pod.RequiredAntiAffinityTerms) == 0 {
		return st
	}
	st.affinity, st.antiAffinity = map[topologyPair]int{}, map[topologyPair]int{}
	st.matchesOwnAffinity = matchesAll(pod.RequiredAffinityTerms, pod.Namespace, pod.Labels)
	for _, n := range snap.nodes {
		if n.Node == nil {
			continue
		}
		for _, p := range n.Pods {
			if p.Key == pod.Key {
				continue
			}
			if len(pod.RequiredAffinityTerms) > 0 && matchesAll(pod.RequiredAffinityTerms, p.Namespace, p.Labels) {
				for i := range pod.RequiredAffinityTerms {
					k := pod.RequiredAffinityTerms[i].TopologyKey
					if v, ok := n.Labels[k]; ok {
						st.affinity[topologyPair{k, v}]++
					}
				}
			}
			for i := range pod.RequiredAntiAffinityTerms {
				t := &pod.RequiredAntiAffinityTerms[i]
				if v, ok := n.Labels[t.TopologyKey]; ok && t.Matches(p.Namespace, p.Labels) {
					st.antiAffinity[topologyPair{t.TopologyKey, v}]++
				}
			}
		}
	}
	return st
}

func matchesAll(terms []AffinityTerm, namespace string, lbls map[string]string) bool {
	for i := range terms {
		if !terms[i].Matches(namespace, lbls) {
			return false
		}
	}
	return true
}
