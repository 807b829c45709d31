package printers

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/labels"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	coordinationv1 "github.com/coxswain/coxswain/proto/coxswain/coordination/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

func init() {
	register(api.Pods, printer{
		header: []string{"NAME", "READY", "STATUS", "RESTARTS", "AGE"},
		wide:   []string{"IP", "NODE", "NOMINATED NODE", "READINESS GATES"},
		row:    podRow,
	})
	register(api.Deployments, printer{
		header: []string{"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"},
		wide:   []string{"CONTAINERS", "IMAGES", "SELECTOR"},
		row:    deploymentRow,
	})
	register(api.ReplicaSets, printer{
		header: []string{"NAME", "DESIRED", "CURRENT", "READY", "AGE"},
		wide:   []string{"CONTAINERS", "IMAGES", "SELECTOR"},
		row:    replicaSetRow,
	})
	register(api.Services, printer{
		header: []string{"NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"},
		wide:   []string{"SELECTOR"},
		row:    serviceRow,
	})
	register(api.Nodes, printer{
		header: []string{"NAME", "STATUS", "ROLES", "AGE", "VERSION"},
		wide:   []string{"INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"},
		row:    nodeRow,
	})
	register(api.Namespaces, printer{
		header: []string{"NAME", "STATUS", "AGE"},
		row: func(obj api.Object, now time.Time, _ bool) []string {
			ns := obj.(*corev1.Namespace)
			return []string{ns.GetMetadata().GetName(), ns.GetStatus().GetPhase(), Age(ns.GetMetadata().GetCreationTimestamp(), now)}
		},
	})
	register(api.Endpoints, printer{
		header: []string{"NAME", "ENDPOINTS", "AGE"},
		row: func(obj api.Object, now time.Time, _ bool) []string {
			ep := obj.(*corev1.Endpoints)
			return []string{ep.GetMetadata().GetName(), FormatEndpoints(ep), Age(ep.GetMetadata().GetCreationTimestamp(), now)}
		},
	})
	register(api.ConfigMaps, printer{
		header: []string{"NAME", "DATA", "AGE"},
		row: func(obj api.Object, now time.Time, _ bool) []string {
			cm := obj.(*corev1.ConfigMap)
			n := len(cm.GetData()) + len(cm.GetBinaryData())
			return []string{cm.GetMetadata().GetName(), strconv.Itoa(n), Age(cm.GetMetadata().GetCreationTimestamp(), now)}
		},
	})
	register(api.Secrets, printer{
		header: []string{"NAME", "TYPE", "DATA", "AGE"},
		row: func(obj api.Object, now time.Time, _ bool) []string {
			s := obj.(*corev1.Secret)
			return []string{s.GetMetadata().GetName(), s.GetType(), strconv.Itoa(len(s.GetData())), Age(s.GetMetadata().GetCreationTimestamp(), now)}
		},
	})
	register(api.Events, printer{
		header:     []string{"LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"},
		wideHeader: []string{"LAST SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE", "MESSAGE", "FIRST SEEN", "COUNT", "NAME"},
		row:        eventRow,
	})
	register(api.Leases, printer{
		header: []string{"NAME", "HOLDER", "AGE"},
		row: func(obj api.Object, now time.Time, _ bool) []string {
			l := obj.(*coordinationv1.Lease)
			return []string{l.GetMetadata().GetName(), l.GetSpec().GetHolderIdentity(), Age(l.GetMetadata().GetCreationTimestamp(), now)}
		},
	})
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// ---------------------------------------------------------------- pods

// PodStatus is what kubectl get pods prints for a pod: READY ("1/2"), STATUS (the waiting or terminated
// reason of a container, Init:N/M, Completed, Terminating... else the phase) and RESTARTS ("3 (5m ago)").
func PodStatus(pod *corev1.Pod, now time.Time) (ready, status, restarts string) {
	st := pod.GetStatus()
	total := len(pod.GetSpec().GetContainers())
	readyN, restartsN := 0, 0
	var lastRestart time.Time
	reason := st.GetPhase()
	if st.GetReason() != "" {
		reason = st.GetReason()
	}
	noteRestart := func(cs *corev1.ContainerStatus) {
		restartsN += int(cs.GetRestartCount())
		if t := cs.GetLastState().GetTerminated().GetFinishedAt(); t != nil && t.AsTime().After(lastRestart) {
			lastRestart = t.AsTime()
		}
	}
	initializing := false
	for i, cs := range st.GetInitContainerStatuses() {
		noteRestart(cs)
		term, wait := cs.GetState().GetTerminated(), cs.GetState().GetWaiting()
		switch {
		case term != nil && term.GetExitCode() == 0:
			continue
		case term != nil:
			switch {
			case term.GetReason() != "":
				reason = "Init:" + term.GetReason()
			case term.GetSignal() != 0:
				reason = fmt.Sprintf("Init:Signal:%d", term.GetSignal())
			default:
				reason = fmt.Sprintf("Init:ExitCode:%d", term.GetExitCode())
			}
		case wait != nil && wait.GetReason() != "" && wait.GetReason() != "PodInitializing":
			reason = "Init:" + wait.GetReason()
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(pod.GetSpec().GetInitContainers()))
		}
		initializing = true
		break
	}
	if !initializing || conditionTrue(st.GetConditions(), "Initialized") {
		restartsN = 0
		hasRunning := false
		css := st.GetContainerStatuses()
		for i := len(css) - 1; i >= 0; i-- {
			cs := css[i]
			noteRestart(cs)
			term, wait := cs.GetState().GetTerminated(), cs.GetState().GetWaiting()
			switch {
			case wait != nil && wait.GetReason() != "":
				reason = wait.GetReason()
			case term != nil && term.GetReason() != "":
				reason = term.GetReason()
			case term != nil && term.GetSignal() != 0:
				reason = fmt.Sprintf("Signal:%d", term.GetSignal())
			case term != nil:
				reason = fmt.Sprintf("ExitCode:%d", term.GetExitCode())
			case cs.GetReady() && cs.GetState().GetRunning() != nil:
				hasRunning = true
				readyN++
			}
		}
		if reason == "Completed" && hasRunning {
			if conditionTrue(st.GetConditions(), "Ready") {
				reason = "Running"
			} else {
				reason = "NotReady"
			}
		}
	}
	if pod.GetMetadata().GetDeletionTimestamp() != nil {
		if st.GetReason() == "NodeLost" {
			reason = "Unknown"
		} else if p := st.GetPhase(); p != "Succeeded" && p != "Failed" {
			reason = "Terminating"
		}
	}
	restarts = strconv.Itoa(restartsN)
	if restartsN != 0 && !lastRestart.IsZero() {
		restarts = fmt.Sprintf("%d (%s ago)", restartsN, HumanDuration(now.Sub(lastRestart)))
	}
	return fmt.Sprintf("%d/%d", readyN, total), reason, restarts
}

func conditionTrue(conds []*metav1.Condition, typ string) bool {
	for _, c := range conds {
		if c.GetType() == typ {
			return c.GetStatus() == "True"
		}
	}
	return false
}

func podRow(obj api.Object, now time.Time, wide bool) []string {
	pod := obj.(*corev1.Pod)
	ready, status, restarts := PodStatus(pod, now)
	row := []string{pod.GetMetadata().GetName(), ready, status, restarts, Age(pod.GetMetadata().GetCreationTimestamp(), now)}
	if wide {
		row = append(row, orNone(pod.GetStatus().GetPodIp()), orNone(pod.GetSpec().GetNodeName()),
			orNone(pod.GetStatus().GetNominatedNodeName()), "<none>")
	}
	return row
}

// ---------------------------------------------------------------- deployments and replicasets

// FormatSelector renders a label selector as kubectl does ("app=web,tier in (a,b)"), "<none>" when empty.
func FormatSelector(ls *metav1.LabelSelector) string {
	if ls == nil {
		return "<none>"
	}
	var exprs []labels.LabelSelectorRequirement
	for _, e := range ls.GetMatchExpressions() {
		exprs = append(exprs, labels.LabelSelectorRequirement{Key: e.GetKey(), Operator: e.GetOperator(), Values: e.GetValues()})
	}
	sel, err := labels.SelectorFromMatch(ls.GetMatchLabels(), exprs)
	if err != nil {
		return "<error>"
	}
	if sel.Empty() {
		return "<none>"
	}
	return sel.String()
}

func containersAndImages(t *corev1.PodTemplateSpec) (string, string) {
	var names, images []string
	for _, c := range t.GetSpec().GetContainers() {
		names = append(names, c.GetName())
		images = append(images, c.GetImage())
	}
	return strings.Join(names, ","), strings.Join(images, ",")
}

func deploymentRow(obj api.Object, now time.Time, wide bool) []string {
	d := obj.(*appsv1.Deployment)
	desired := int32(1)
	if d.GetSpec().Replicas != nil {
		desired = d.GetSpec().GetReplicas()
	}
	st := d.GetStatus()
	row := []string{d.GetMetadata().GetName(), fmt.Sprintf("%d/%d", st.GetReadyReplicas(), desired),
		strconv.Itoa(int(st.GetUpdatedReplicas())), strconv.Itoa(int(st.GetAvailableReplicas())),
		Age(d.GetMetadata().GetCreationTimestamp(), now)}
	if wide {
		c, i := containersAndImages(d.GetSpec().GetTemplate())
		row = append(row, c, i, FormatSelector(d.GetSpec().GetSelector()))
	}
	return row
}

func replicaSetRow(obj api.Object, now time.Time, wide bool) []string {
	rs := obj.(*appsv1.ReplicaSet)
	desired := int32(1)
	if rs.GetSpec().Replicas != nil {
		desired = rs.GetSpec().GetReplicas()
	}
	st := rs.GetStatus()
	row := []string{rs.GetMetadata().GetName(), strconv.Itoa(int(desired)), strconv.Itoa(int(st.GetReplicas())),
		strconv.Itoa(int(st.GetReadyReplicas())), Age(rs.GetMetadata().GetCreationTimestamp(), now)}
	if wide {
		c, i := containersAndImages(rs.GetSpec().GetTemplate())
		row = append(row, c, i, FormatSelector(rs.GetSpec().GetSelector()))
	}
	return row
}

// ---------------------------------------------------------------- services

// ServicePorts renders a service's ports as kubectl's PORT(S) column: "80/TCP", "80:30007/TCP", "<none>".
func ServicePorts(ports []*corev1.ServicePort) string {
	if len(ports) == 0 {
		return "<none>"
	}
	pieces := make([]string, len(ports))
	for i, p := range ports {
		proto := p.GetProtocol()
		if proto == "" {
			proto = "TCP"
		}
		if p.GetNodePort() > 0 {
			pieces[i] = fmt.Sprintf("%d:%d/%s", p.GetPort(), p.GetNodePort(), proto)
		} else {
			pieces[i] = fmt.Sprintf("%d/%s", p.GetPort(), proto)
		}
	}
	return strings.Join(pieces, ",")
}

func loadBalancerIngress(svc *corev1.Service, wide bool) string {
	var out []string
	for _, in := range svc.GetStatus().GetLoadBalancer().GetIngress() {
		if in.GetIp() != "" {
			out = append(out, in.GetIp())
		} else if in.GetHostname() != "" {
			out = append(out, in.GetHostname())
		}
	}
	r := strings.Join(out, ",")
	if !wide && len(r) > 16 {
		r = r[:13] + "..."
	}
	return r
}

// ServiceExternalIP is kubectl's EXTERNAL-IP column: external IPs, the load balancer's ingress,
// "<pending>" for a LoadBalancer without one, the external name, or "<none>".
func ServiceExternalIP(svc *corev1.Service, wide bool) string {
	spec := svc.GetSpec()
	typ := spec.GetType()
	if typ == "" {
		typ = "ClusterIP"
	}
	switch typ {
	case "ClusterIP", "NodePort":
		if len(spec.GetExternalIps()) > 0 {
			return strings.Join(spec.GetExternalIps(), ",")
		}
		return "<none>"
	case "LoadBalancer":
		lb := loadBalancerIngress(svc, wide)
		if len(spec.GetExternalIps()) > 0 {
			var results []string
			if lb != "" {
				results = append(results, strings.Split(lb, ",")...)
			}
			return strings.Join(append(results, spec.GetExternalIps()...), ",")
		}
		if lb != "" {
			return lb
		}
		return "<pending>"
	case "ExternalName":
		return spec.GetExternalName()
	}
	return "<unknown>"
}

func serviceRow(obj api.Object, now time.Time, wide bool) []string {
	svc := obj.(*corev1.Service)
	spec := svc.GetSpec()
	typ := spec.GetType()
	if typ == "" {
		typ = "ClusterIP"
	}
	row := []string{svc.GetMetadata().GetName(), typ, orNone(spec.GetClusterIp()), ServiceExternalIP(svc, wide),
		ServicePorts(spec.GetPorts()), Age(svc.GetMetadata().GetCreationTimestamp(), now)}
	if wide {
		row = append(row, FormatLabels(spec.GetSelector()))
	}
	return row
}

// ---------------------------------------------------------------- nodes

// NodeStatus is kubectl's STATUS column of a node: Ready, NotReady or Unknown, plus ",SchedulingDisabled".
func NodeStatus(n *corev1.Node) string {
	var status []string
	for _, c := range n.GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			if c.GetStatus() == "True" {
				status = append(status, "Ready")
			} else {
				status = append(status, "NotReady")
			}
			break
		}
	}
	if len(status) == 0 {
		status = append(status, "Unknown")
	}
	if n.GetSpec().GetUnschedulable() {
		status = append(status, "SchedulingDisabled")
	}
	return strings.Join(status, ",")
}

// NodeRoles are the roles of node-role.kubernetes.io/ROLE labels (and kubernetes.io/role), "<none>" when none.
func NodeRoles(n *corev1.Node) string {
	set := map[string]bool{}
	for k, v := range n.GetMetadata().GetLabels() {
		switch {
		case strings.HasPrefix(k, "node-role.kubernetes.io/"):
			if role := strings.TrimPrefix(k, "node-role.kubernetes.io/"); role != "" {
				set[role] = true
			}
		case k == "kubernetes.io/role" && v != "":
			set[v] = true
		}
	}
	if len(set) == 0 {
		return "<none>"
	}
	roles := make([]string, 0, len(set))
	for r := range set {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	return strings.Join(roles, ",")
}

// NodeAddress returns the first address of a type ("InternalIP"), "" when none.
func NodeAddress(n *corev1.Node, typ string) string {
	for _, a := range n.GetStatus().GetAddresses() {
		if a.GetType() == typ {
			return a.GetAddress()
		}
	}
	return ""
}

func nodeRow(obj api.Object, now time.Time, wide bool) []string {
	n := obj.(*corev1.Node)
	info := n.GetStatus().GetNodeInfo()
	row := []string{n.GetMetadata().GetName(), NodeStatus(n), NodeRoles(n), Age(n.GetMetadata().GetCreationTimestamp(), now),
		info.GetKubeletVersion()}
	if wide {
		row = append(row, orNone(NodeAddress(n, "InternalIP")), orNone(NodeAddress(n, "ExternalIP")),
			orUnknown(info.GetOsImage()), orUnknown(info.GetKernelVersion()), orUnknown(info.GetContainerRuntimeVersion()))
	}
	return row
}

func orUnknown(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}

// ---------------------------------------------------------------- endpoints

// FormatEndpoints is kubectl's ENDPOINTS column: up to three ip:port, then " + N more...".
func FormatEndpoints(ep *corev1.Endpoints) string {
	if len(ep.GetSubsets()) == 0 {
		return "<none>"
	}
	const max = 3
	var list []string
	more := false
	count := 0
	for _, ss := range ep.GetSubsets() {
		if len(ss.GetPorts()) == 0 {
			count += len(ss.GetAddresses())
			for _, a := range ss.GetAddresses() {
				if len(list) == max {
					more = true
					break
				}
				list = append(list, a.GetIp())
			}
			continue
		}
		for _, p := range ss.GetPorts() {
			count += len(ss.GetAddresses())
			for _, a := range ss.GetAddresses() {
				if len(list) == max {
					more = true
					break
				}
				list = append(list, net.JoinHostPort(a.GetIp(), strconv.Itoa(int(p.GetPort()))))
			}
		}
	}
	ret := strings.Join(list, ",")
	if more {
		return fmt.Sprintf("%s + %d more...", ret, count-max)
	}
	return orNone(ret)
}

// ---------------------------------------------------------------- events

// EventTimes returns an event's first and last seen ages and its count, as kubectl prints them.
func EventTimes(e *corev1.Event, now time.Time) (first, last string, count int32) {
	first = Age(e.GetFirstTimestamp(), now)
	if e.GetFirstTimestamp() == nil {
		first = Age(e.GetMetadata().GetCreationTimestamp(), now)
	}
	last = first
	if e.GetLastTimestamp() != nil {
		last = Age(e.GetLastTimestamp(), now)
	}
	count = e.GetCount()
	if count == 0 {
		count = 1
	}
	return first, last, count
}

// EventObject is the OBJECT column: "pod/web".
func EventObject(e *corev1.Event) string {
	io := e.GetInvolvedObject()
	if io.GetName() == "" {
		return strings.ToLower(io.GetKind())
	}
	return strings.ToLower(io.GetKind()) + "/" + io.GetName()
}

// EventSource renders an event's source as "component, host".
func EventSource(e *corev1.Event) string {
	comp := e.GetSource().GetComponent()
	if comp == "" {
		comp = e.GetReportingComponent()
	}
	if h := e.GetSource().GetHost(); h != "" {
		return comp + ", " + h
	}
	return comp
}

func eventRow(obj api.Object, now time.Time, wide bool) []string {
	e := obj.(*corev1.Event)
	first, last, count := EventTimes(e, now)
	msg := strings.TrimSpace(e.GetMessage())
	if wide {
		return []string{last, e.GetType(), e.GetReason(), EventObject(e), e.GetInvolvedObject().GetFieldPath(),
			EventSource(e), msg, first, strconv.Itoa(int(count)), e.GetMetadata().GetName()}
	}
	return []string{last, e.GetType(), e.GetReason(), EventObject(e), msg}
}

// EventTime is the time an event was last seen, for sorting.
func EventTime(e *corev1.Event) time.Time {
	switch {
	case e.GetLastTimestamp() != nil:
		return e.GetLastTimestamp().AsTime()
	case e.GetFirstTimestamp() != nil:
		return e.GetFirstTimestamp().AsTime()
	case e.GetMetadata().GetCreationTimestamp() != nil:
		return e.GetMetadata().GetCreationTimestamp().AsTime()
	}
	return time.Time{}
}
