package framework

import (
	"fmt"
	"strconv"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/api/resource"
	"github.com/coxswain/coxswain/pkg/labels"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// Resource names, node label and taint keys the filters know.
const (
	ResourceCPU    = "cpu"
	ResourceMemory = "memory"
	ResourcePods   = "pods"

	// LabelHostname is the node label holding the node's name, the usual topologyKey.
	LabelHostname = "kubernetes.io/hostname"
	// TaintNodeNotReady and TaintNodeUnschedulable are the taints a pod tolerates (effect NoSchedule) to
	// be placed on a node that is not ready or cordoned, as DaemonSet pods do.
	TaintNodeNotReady      = "node.kubernetes.io/not-ready"
	TaintNodeUnschedulable = "node.kubernetes.io/unschedulable"
)

// Taint effects.
const (
	EffectNoSchedule       = "NoSchedule"
	EffectPreferNoSchedule = "PreferNoSchedule"
	EffectNoExecute        = "NoExecute"
)

// DefaultMilliCPURequest and DefaultMemoryRequest are what scoring assumes for a container that requests
// nothing (as kube-scheduler does), so best-effort pods still spread.
const (
	DefaultMilliCPURequest int64 = 100
	DefaultMemoryRequest   int64 = 200 * 1024 * 1024
	// DefaultMaxPods is a node's pod capacity when its allocatable has no "pods" entry.
	DefaultMaxPods int64 = 110
)

// Resource is an amount of the resources the scheduler accounts for.
type Resource struct {
	MilliCPU int64
	Memory   int64
}

// Add adds r2 to r.
func (r *Resource) Add(r2 Resource) { r.MilliCPU += r2.MilliCPU; r.Memory += r2.Memory }

// Sub subtracts r2 from r.
func (r *Resource) Sub(r2 Resource) { r.MilliCPU -= r2.MilliCPU; r.Memory -= r2.Memory }

// HostPort is a port a pod takes on its node's network namespace.
type HostPort struct {
	IP       string // "0.0.0.0" when unset: all addresses
	Protocol string // TCP when unset
	Port     int32
}

func (p HostPort) conflicts(o HostPort) bool {
	if p.Port != o.Port || p.Protocol != o.Protocol {
		return false
	}
	return p.IP == o.IP || p.IP == "0.0.0.0" || o.IP == "0.0.0.0"
}

// AffinityTerm is a compiled pod (anti-)affinity term: pods in Namespaces matching Selector, within the
// topology domain named by TopologyKey.
type AffinityTerm struct {
	Selector    labels.Selector
	Namespaces  []string // never empty: defaults to the pod's own namespace
	TopologyKey string
	matchNone   bool // a nil labelSelector matches no pod
}

// Matches reports whether pod (by namespace and labels) is selected by the term.
func (t *AffinityTerm) Matches(namespace string, lbls map[string]string) bool {
	if t.matchNone {
		return false
	}
	nsOK := false
	for _, ns := range t.Namespaces {
		if ns == namespace {
			nsOK = true
			break
		}
	}
	return nsOK && t.Selector.Matches(lbls)
}

// PodInfo is a pod with what the filters and scores need computed once: requests, host ports, owner,
// compiled selectors and affinity terms.
type PodInfo struct {
	Pod                       *corev1.Pod
	Key, Namespace, Name, UID string
	Labels                    map[string]string
	Priority                  int32
	Requests                  Resource // max(sum of containers, each init container)
	NonZeroRequests           Resource // the same with DefaultMilliCPURequest/DefaultMemoryRequest for unset requests
	HostPorts                 []HostPort
	OwnerUID                  string // the controller owner's uid ("" when none)
	NodeSelector              map[string]string
	RequiredNodeAffinity      *NodeSelector // nil: no requirement
	PreferredNodeAffinity     []PreferredTerm
	Tolerations               []*corev1.Toleration
	RequiredAffinityTerms     []AffinityTerm
	RequiredAntiAffinityTerms []AffinityTerm
	nodeSelector              [][2]string // NodeSelector as key/value pairs (cheaper to walk than the map)
	// Err is set when the pod's scheduling constraints cannot be compiled (e.g. an invalid operator);
	// Schedule fails with it.
	Err error
}

// NewPodInfo computes pod's PodInfo. It never fails: invalid constraints are reported in PodInfo.Err.
func NewPodInfo(pod *corev1.Pod) *PodInfo {
	m := pod.GetMetadata()
	spec := pod.GetSpec()
	pi := &PodInfo{Pod: pod, Key: api.KeyOf(m.GetNamespace(), m.GetName()), Namespace: m.GetNamespace(),
		Name: m.GetName(), UID: m.GetUid(), Labels: m.GetLabels(), Priority: spec.GetPriority(),
		NodeSelector: spec.GetNodeSelector(), Tolerations: spec.GetTolerations()}
	for _, o := range m.GetOwnerReferences() {
		if o.GetController() {
			pi.OwnerUID = o.GetUid()
			break
		}
	}
	for k, v := range pi.NodeSelector {
		pi.nodeSelector = append(pi.nodeSelector, [2]string{k, v})
	}
	pi.Requests, pi.NonZeroRequests = podRequests(spec)
	pi.HostPorts = podHostPorts(spec)
	var errs []error
	if na := spec.GetAffinity().GetNodeAffinity(); na != nil {
		if req := na.GetRequiredDuringSchedulingIgnoredDuringExecution(); req != nil {
			ns, err := CompileNodeSelector(req)
			if err != nil {
				errs = append(errs, fmt.Errorf("spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution: %w", err))
			}
			pi.RequiredNodeAffinity = ns
		}
		for i, p := range na.GetPreferredDuringSchedulingIgnoredDuringExecution() {
			t, err := compileTerm(p.GetPreference())
			if err != nil {
				errs = append(errs, fmt.Errorf("spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[%d]: %w", i, err))
				continue
			}
			if p.GetWeight() != 0 {
				pi.PreferredNodeAffinity = append(pi.PreferredNodeAffinity, PreferredTerm{Weight: int64(p.GetWeight()), Term: t})
			}
		}
	}
	var err error
	if pa := spec.GetAffinity().GetPodAffinity(); pa != nil {
		if pi.RequiredAffinityTerms, err = compileAffinityTerms(pi.Namespace, pa.GetRequiredDuringSchedulingIgnoredDuringExecution()); err != nil {
			errs = append(errs, fmt.Errorf("spec.affinity.podAffinity.%w", err))
		}
	}
	if pa := spec.GetAffinity().GetPodAntiAffinity(); pa != nil {
		if pi.RequiredAntiAffinityTerms, err = compileAffinityTerms(pi.Namespace, pa.GetRequiredDuringSchedulingIgnoredDuringExecution()); err != nil {
			errs = append(errs, fmt.Errorf("spec.affinity.podAntiAffinity.%w", err))
		}
	}
	if len(errs) > 0 {
		pi.Err = fmt.Errorf("pod %s: %w", pi.Key, errs[0])
	}
	return pi
}

func compileAffinityTerms(namespace string, terms []*corev1.PodAffinityTerm) ([]AffinityTerm, error) {
	out := make([]AffinityTerm, 0, len(terms))
	for i, t := range terms {
		at := AffinityTerm{Namespaces: t.GetNamespaces(), TopologyKey: t.GetTopologyKey()}
		if at.TopologyKey == "" {
			return nil, fmt.Errorf("requiredDuringSchedulingIgnoredDuringExecution[%d].topologyKey: Required value", i)
		}
		if len(at.Namespaces) == 0 {
			at.Namespaces = []string{namespace}
		}
		if ls := t.GetLabelSelector(); ls == nil {
			at.matchNone = true
		} else {
			exprs := make([]labels.LabelSelectorRequirement, 0, len(ls.GetMatchExpressions()))
			for _, e := range ls.GetMatchExpressions() {
				exprs = append(exprs, labels.LabelSelectorRequirement{Key: e.GetKey(), Operator: e.GetOperator(), Values: e.GetValues()})
			}
			sel, err := labels.SelectorFromMatch(ls.GetMatchLabels(), exprs)
			if err != nil {
				return nil, fmt.Errorf("requiredDuringSchedulingIgnoredDuringExecution[%d].labelSelector: %w", i, err)
			}
			at.Selector = sel
		}
		out = append(out, at)
	}
	return out, nil
}

// podRequests is kube-scheduler's computePodResourceRequest: the sum over containers, raised to any
// larger init container (they run one at a time before the others). A resource with a limit but no
// request requests its limit, as Kubernetes' defaulting does.
func podRequests(spec *corev1.PodSpec) (req, nonZero Resource) {
	for _, c := range spec.GetContainers() {
		r := containerRequests(c)
		req.Add(r)
		nonZero.Add(withDefaults(r))
	}
	for _, c := range spec.GetInitContainers() {
		r := containerRequests(c)
		req.MilliCPU, req.Memory = max(req.MilliCPU, r.MilliCPU), max(req.Memory, r.Memory)
		nz := withDefaults(r)
		nonZero.MilliCPU, nonZero.Memory = max(nonZero.MilliCPU, nz.MilliCPU), max(nonZero.Memory, nz.Memory)
	}
	return req, nonZero
}

func withDefaults(r Resource) Resource {
	if r.MilliCPU == 0 {
		r.MilliCPU = DefaultMilliCPURequest
	}
	if r.Memory == 0 {
		r.Memory = DefaultMemoryRequest
	}
	return r
}

func containerRequests(c *corev1.Container) Resource {
	res := c.GetResources()
	get := func(name string) string {
		if v, ok := res.GetRequests()[name]; ok {
			return v
		}
		return res.GetLimits()[name]
	}
	return Resource{MilliCPU: parseQuantity(get(ResourceCPU), true), Memory: parseQuantity(get(ResourceMemory), false)}
}

// parseQuantity parses a quantity string; empty, invalid or negative values count as 0 (the apiserver
// validates them).
func parseQuantity(s string, milli bool) int64 {
	if s == "" {
		return 0
	}
	q, err := resource.ParseQuantity(s)
	if err != nil || q.Sign() < 0 {
		return 0
	}
	if milli {
		return q.MilliValue()
	}
	return q.Value()
}

func podHostPorts(spec *corev1.PodSpec) []HostPort {
	var out []HostPort
	add := func(cs []*corev1.Container) {
		for _, c := range cs {
			for _, p := range c.GetPorts() {
				hp := p.GetHostPort()
				if hp == 0 && spec.GetHostNetwork() {
					hp = p.GetContainerPort()
				}
				if hp <= 0 {
					continue
				}
				h := HostPort{IP: p.GetHostIp(), Protocol: p.GetProtocol(), Port: hp}
				if h.IP == "" || h.IP == "::" {
					h.IP = "0.0.0.0"
				}
				if h.Protocol == "" {
					h.Protocol = "TCP"
				}
				out = append(out, h)
			}
		}
	}
	add(spec.GetInitContainers())
	add(spec.GetContainers())
	return out
}

// NodeSelector is a compiled required node affinity: the node must match any one of the terms.
type NodeSelector struct {
	Terms []NodeSelectorTerm
}

// Matches reports whether a node with name and labels matches any term.
func (s *NodeSelector) Matches(name string, lbls map[string]string) bool {
	for i := range s.Terms {
		if s.Terms[i].Matches(name, lbls) {
			return true
		}
	}
	return false
}

// PreferredTerm is a weighted preferred node affinity term.
type PreferredTerm struct {
	Weight int64
	Term   NodeSelectorTerm
}

// NodeSelectorTerm ANDs its requirements; a term without any requirement matches no node.
type NodeSelectorTerm struct {
	Expressions []Requirement // on node labels
	Fields      []Requirement // on node fields: only metadata.name
}

// Matches reports whether the node matches every requirement of the term.
func (t *NodeSelectorTerm) Matches(name string, lbls map[string]string) bool {
	if len(t.Expressions) == 0 && len(t.Fields) == 0 {
		return false
	}
	for i := range t.Expressions {
		v, ok := lbls[t.Expressions[i].Key]
		if !t.Expressions[i].matches(v, ok) {
			return false
		}
	}
	for i := range t.Fields {
		if !t.Fields[i].matches(name, true) {
			return false
		}
	}
	return true
}

// Requirement is one compiled node selector requirement.
type Requirement struct {
	Key      string
	Operator string // In, NotIn, Exists, DoesNotExist, Gt, Lt
	Values   []string
	num      int64
}

func (r *Requirement) matches(v string, ok bool) bool {
	switch r.Operator {
	case "In":
		return ok && contains(r.Values, v)
	case "NotIn":
		return !ok || !contains(r.Values, v)
	case "Exists":
		return ok
	case "DoesNotExist":
		return !ok
	case "Gt", "Lt":
		if !ok {
			return false
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return false
		}
		if r.Operator == "Gt" {
			return n > r.num
		}
		return n < r.num
	}
	return false
}

func contains(vs []string, v string) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

// CompileNodeSelector checks and compiles a required node affinity. Errors name the offending term and
// requirement.
func CompileNodeSelector(ns *corev1.NodeSelector) (*NodeSelector, error) {
	out := &NodeSelector{Terms: make([]NodeSelectorTerm, 0, len(ns.GetNodeSelectorTerms()))}
	for i, t := range ns.GetNodeSelectorTerms() {
		ct, err := compileTerm(t)
		if err != nil {
			return nil, fmt.Errorf("nodeSelectorTerms[%d].%w", i, err)
		}
		out.Terms = append(out.Terms, ct)
	}
	return out, nil
}

func compileTerm(t *corev1.NodeSelectorTerm) (NodeSelectorTerm, error) {
	var out NodeSelectorTerm
	for i, e := range t.GetMatchExpressions() {
		r, err := compileRequirement(e, false)
		if err != nil {
			return out, fmt.Errorf("matchExpressions[%d].%w", i, err)
		}
		out.Expressions = append(out.Expressions, r)
	}
	for i, e := range t.GetMatchFields() {
		r, err := compileRequirement(e, true)
		if err != nil {
			return out, fmt.Errorf("matchFields[%d].%w", i, err)
		}
		out.Fields = append(out.Fields, r)
	}
	return out, nil
}

func compileRequirement(e *corev1.NodeSelectorRequirement, field bool) (Requirement, error) {
	r := Requirement{Key: e.GetKey(), Operator: e.GetOperator(), Values: e.GetValues()}
	if r.Key == "" {
		return r, fmt.Errorf("key: Required value")
	}
	if field {
		if r.Key != "metadata.name" {
			return r, fmt.Errorf("key: Unsupported value: %q: supported values: \"metadata.name\"", r.Key)
		}
		if r.Operator != "In" && r.Operator != "NotIn" {
			return r, fmt.Errorf("operator: Unsupported value: %q: supported values: \"In\", \"NotIn\"", r.Operator)
		}
	}
	switch r.Operator {
	case "In", "NotIn":
		if len(r.Values) == 0 {
			return r, fmt.Errorf("values: Required value: must be specified when `operator` is 'In' or 'NotIn'")
		}
	case "Exists", "DoesNotExist":
		if len(r.Values) > 0 {
			return r, fmt.Errorf("values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
		}
	case "Gt", "Lt":
		if len(r.Values) != 1 {
			return r, fmt.Errorf("values: Required value: must be specified single value when `operator` is 'Lt' or 'Gt'")
		}
		n, err := strconv.ParseInt(r.Values[0], 10, 64)
		if err != nil {
			return r, fmt.Errorf("values[0]: Invalid value: %q: must be an integer for 'Gt' and 'Lt'", r.Values[0])
		}
		r.num = n
	default:
		return r, fmt.Errorf("operator: Unsupported value: %q: supported values: \"DoesNotExist\", \"Exists\", \"Gt\", \"In\", \"Lt\", \"NotIn\"", r.Operator)
	}
	return r, nil
}
