package framework

import (
	"fmt"

	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// Taint is a node taint with its filter explanation precomputed.
type Taint struct {
	Key, Value, Effect string
	reasons            []string // {"node(s) had untolerated taint {key: value}"}
}

// NodeInfo is a node as the filters see it: allocatable, what the pods placed on it request, their
// ports and owners.
type NodeInfo struct {
	Name             string
	Node             *corev1.Node // nil while only pods refer to the node (not yet seen, or deleted)
	Labels           map[string]string
	Allocatable      Resource
	AllowedPods      int64
	Requested        Resource // sum of the placed pods' requests
	NonZeroRequested Resource // the same with defaults for unset requests (for scoring)
	Pods             []*PodInfo
	UsedPorts        []HostPort
	Ready            bool
	Unschedulable    bool
	// Taints with effect NoSchedule or NoExecute (filtered) and PreferNoSchedule (scored).
	Taints, PreferNoScheduleTaints []Taint

	owners           []ownerCount // pods here per controller (interned by the snapshot)
	antiAffinityPods int          // placed pods with required anti-affinity terms
	index            int          // position in Snapshot.list, -1 when not listed
}

type ownerCount struct{ id, n int32 }

// ownerPods is the number of pods here whose controller has the interned id.
func (n *NodeInfo) ownerPods(id int32) int32 {
	for _, o := range n.owners {
		if o.id == id {
			return o.n
		}
	}
	return 0
}

func (n *NodeInfo) setNode(node *corev1.Node) {
	n.Node = node
	n.Labels = node.GetMetadata().GetLabels()
	alloc := node.GetStatus().GetAllocatable()
	n.Allocatable = Resource{MilliCPU: parseQuantity(alloc[ResourceCPU], true), Memory: parseQuantity(alloc[ResourceMemory], false)}
	n.AllowedPods = DefaultMaxPods
	if v, ok := alloc[ResourcePods]; ok {
		n.AllowedPods = parseQuantity(v, false)
	}
	n.Unschedulable = node.GetSpec().GetUnschedulable()
	n.Ready = false
	for _, c := range node.GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			n.Ready = c.GetStatus() == "True"
		}
	}
	n.Taints, n.PreferNoScheduleTaints = nil, nil
	for _, t := range node.GetSpec().GetTaints() {
		tt := Taint{Key: t.GetKey(), Value: t.GetValue(), Effect: t.GetEffect(),
			reasons: []string{fmt.Sprintf(unschedulableTaintReasonFmt, t.GetKey(), t.GetValue())}}
		switch tt.Effect {
		case EffectNoSchedule, EffectNoExecute:
			n.Taints = append(n.Taints, tt)
		case EffectPreferNoSchedule:
			n.PreferNoScheduleTaints = append(n.PreferNoScheduleTaints, tt)
		}
	}
}

func (n *NodeInfo) addPod(p *PodInfo, owner int32) {
	n.Pods = append(n.Pods, p)
	n.Requested.Add(p.Requests)
	n.NonZeroRequested.Add(p.NonZeroRequests)
	n.UsedPorts = append(n.UsedPorts, p.HostPorts...)
	if owner != 0 {
		found := false
		for i := range n.owners {
			if n.owners[i].id == owner {
				n.owners[i].n++
				found = true
				break
			}
		}
		if !found {
			n.owners = append(n.owners, ownerCount{id: owner, n: 1})
		}
	}
	if len(p.RequiredAntiAffinityTerms) > 0 {
		n.antiAffinityPods++
	}
}

func (n *NodeInfo) removePod(key, uid string, ownerID func(string) int32) (*PodInfo, bool) {
	for i, p := range n.Pods {
		if p.Key != key || (uid != "" && p.UID != uid) {
			continue
		}
		last := len(n.Pods) - 1
		n.Pods[i] = n.Pods[last]
		n.Pods[last] = nil
		n.Pods = n.Pods[:last]
		n.Requested.Sub(p.Requests)
		n.NonZeroRequested.Sub(p.NonZeroRequests)
		if len(p.HostPorts) > 0 {
			n.UsedPorts = n.UsedPorts[:0]
			for _, q := range n.Pods {
				n.UsedPorts = append(n.UsedPorts, q.HostPorts...)
			}
		}
		if id := ownerID(p.OwnerUID); id != 0 {
			for j := range n.owners {
				if n.owners[j].id != id {
					continue
				}
				if n.owners[j].n--; n.owners[j].n <= 0 {
					n.owners[j] = n.owners[len(n.owners)-1]
					n.owners = n.owners[:len(n.owners)-1]
				}
				break
			}
		}
		if len(p.RequiredAntiAffinityTerms) > 0 {
			n.antiAffinityPods--
		}
		return p, true
	}
	return nil, false
}

// Snapshot is the cluster as the scheduler sees it: every node with the pods placed (or assumed) on
// it. It is not safe for concurrent mutation; Framework.Schedule only reads it.
type Snapshot struct {
	nodes            map[string]*NodeInfo
	list             []*NodeInfo // nodes with a Node object, the ones scheduling considers
	antiAffinityPods int
	pods             int
	// Controller uids are interned to small ids (counted by pods) so scoring compares integers.
	owners      map[string]*ownerRef
	nextOwnerID int32
}

type ownerRef struct {
	id   int32
	pods int
}

// NewSnapshot returns an empty snapshot.
func NewSnapshot() *Snapshot {
	return &Snapshot{nodes: map[string]*NodeInfo{}, owners: map[string]*ownerRef{}}
}

// ownerID is the interned id of a controller uid (0: none, or no placed pod has it).
func (s *Snapshot) ownerID(uid string) int32 {
	if uid == "" {
		return 0
	}
	if o := s.owners[uid]; o != nil {
		return o.id
	}
	return 0
}

// OwnerCount is the number of pods placed on node whose controller has uid.
func (s *Snapshot) OwnerCount(node, uid string) int {
	n, id := s.nodes[node], s.ownerID(uid)
	if n == nil || id == 0 {
		return 0
	}
	return int(n.ownerPods(id))
}

// SetNode adds node or updates it, keeping the pods placed on it.
func (s *Snapshot) SetNode(node *corev1.Node) *NodeInfo {
	name := node.GetMetadata().GetName()
	n := s.nodes[name]
	if n == nil {
		n = &NodeInfo{Name: name, index: -1}
		s.nodes[name] = n
	}
	n.setNode(node)
	if n.index < 0 {
		n.index = len(s.list)
		s.list = append(s.list, n)
	}
	return n
}

// RemoveNode removes a node from scheduling; pods still placed on it stay accounted until removed.
func (s *Snapshot) RemoveNode(name string) {
	n := s.nodes[name]
	if n == nil {
		return
	}
	s.unlist(n)
	n.Node = nil
	if len(n.Pods) == 0 {
		delete(s.nodes, name)
	}
}

func (s *Snapshot) unlist(n *NodeInfo) {
	if n.index < 0 {
		return
	}
	last := len(s.list) - 1
	s.list[n.index] = s.list[last]
	s.list[n.index].index = n.index
	s.list[last] = nil
	s.list = s.list[:last]
	n.index = -1
}

// AddPod places p on node (which need not be known yet).
func (s *Snapshot) AddPod(p *PodInfo, node string) {
	n := s.nodes[node]
	if n == nil {
		n = &NodeInfo{Name: node, index: -1}
		s.nodes[node] = n
	}
	var owner int32
	if p.OwnerUID != "" {
		o := s.owners[p.OwnerUID]
		if o == nil {
			s.nextOwnerID++
			o = &ownerRef{id: s.nextOwnerID}
			s.owners[p.OwnerUID] = o
		}
		o.pods++
		owner = o.id
	}
	n.addPod(p, owner)
	s.pods++
	if len(p.RequiredAntiAffinityTerms) > 0 {
		s.antiAffinityPods++
	}
}

// RemovePod removes the pod with key (and uid, when not empty) from node; false if it was not there.
func (s *Snapshot) RemovePod(key, uid, node string) bool {
	n := s.nodes[node]
	if n == nil {
		return false
	}
	p, ok := n.removePod(key, uid, s.ownerID)
	if !ok {
		return false
	}
	if o := s.owners[p.OwnerUID]; o != nil {
		if o.pods--; o.pods <= 0 {
			delete(s.owners, p.OwnerUID)
		}
	}
	s.pods--
	if len(p.RequiredAntiAffinityTerms) > 0 {
		s.antiAffinityPods--
	}
	if n.Node == nil && len(n.Pods) == 0 {
		delete(s.nodes, node)
	}
	return true
}

// Node returns the NodeInfo of name (nil when unknown).
func (s *Snapshot) Node(name string) *NodeInfo { return s.nodes[name] }

// Nodes returns the schedulable node list (shared: do not modify).
func (s *Snapshot) Nodes() []*NodeInfo { return s.list }

// NumNodes is the number of nodes scheduling considers.
func (s *Snapshot) NumNodes() int { return len(s.list) }

// NumPods is the number of pods placed on nodes.
func (s *Snapshot) NumPods() int { return s.pods }
