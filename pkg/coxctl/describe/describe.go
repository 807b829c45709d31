package describe

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/api/manifest"
	"github.com/coxswain/coxswain/pkg/coxctl/deployutil"
	"github.com/coxswain/coxswain/pkg/coxctl/printers"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	coordinationv1 "github.com/coxswain/coxswain/proto/coxswain/coordination/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Reader reads the related objects a description shows (events, ReplicaSets, pods, endpoints).
type Reader interface {
	List(ctx context.Context, r *api.Resource, opts *metav1.ListOptions) ([]api.Object, error)
	Get(ctx context.Context, r *api.Resource, namespace, name string) (api.Object, error)
}

// Describe renders obj (of kind r) as kubectl describe does, ending with its events. now is the time AGE
// columns count from.
func Describe(ctx context.Context, rd Reader, r *api.Resource, obj api.Object, now time.Time) (string, error) {
	d := &describer{ctx: ctx, rd: rd, now: now, w: newWriter()}
	var err error
	switch o := obj.(type) {
	case *corev1.Pod:
		err = d.pod(o)
	case *appsv1.Deployment:
		err = d.deployment(o)
	case *appsv1.ReplicaSet:
		err = d.replicaSet(o)
	case *corev1.Service:
		err = d.service(o)
	case *corev1.Node:
		err = d.node(o)
	case *corev1.Namespace:
		d.namespace(o)
	case *corev1.Endpoints:
		d.endpoints(o)
	case *corev1.ConfigMap:
		d.configMap(o)
	case *corev1.Secret:
		d.secret(o)
	case *corev1.Event:
		d.event(o)
	case *coordinationv1.Lease:
		d.lease(o)
	default:
		err = d.generic(r, obj)
	}
	if err != nil {
		return "", err
	}
	if r != api.Events {
		if err := d.events(r, obj); err != nil {
			return "", err
		}
	}
	return d.w.String(), nil
}

type describer struct {
	ctx context.Context
	rd  Reader
	now time.Time
	w   *writer
}

func (d *describer) header(m *metav1.ObjectMeta, namespaced bool) {
	d.w.line(0, "Name:\t%s", m.GetName())
	if namespaced {
		d.w.line(0, "Namespace:\t%s", m.GetNamespace())
	}
}

func (d *describer) controlledBy(m *metav1.ObjectMeta) {
	for _, ref := range m.GetOwnerReferences() {
		if ref.GetController() {
			d.w.line(0, "Controlled By:\t%s/%s", ref.GetKind(), ref.GetName())
			return
		}
	}
}

// ---------------------------------------------------------------- events

func (d *describer) events(r *api.Resource, obj api.Object) error {
	m := obj.GetMetadata()
	sel := "involvedObject.name=" + m.GetName()
	opts := &metav1.ListOptions{FieldSelector: sel}
	if r.Namespaced {
		opts.Namespace = m.GetNamespace()
		opts.FieldSelector += ",involvedObject.namespace=" + m.GetNamespace()
	}
	objs, err := d.rd.List(d.ctx, api.Events, opts)
	if err != nil {
		return fmt.Errorf("list the events of %s %q: %w", strings.ToLower(r.Kind), m.GetName(), err)
	}
	var evs []*corev1.Event
	for _, o := range objs {
		e := o.(*corev1.Event)
		io := e.GetInvolvedObject()
		if io.GetKind() != "" && io.GetKind() != r.Kind {
			continue
		}
		if io.GetUid() != "" && m.GetUid() != "" && io.GetUid() != m.GetUid() {
			continue
		}
		evs = append(evs, e)
	}
	d.eventsTable(evs)
	return nil
}

func (d *describer) eventsTable(evs []*corev1.Event) {
	if len(evs) == 0 {
		d.w.line(0, "Events:\t<none>")
		return
	}
	sort.SliceStable(evs, func(i, j int) bool { return printers.EventTime(evs[i]).Before(printers.EventTime(evs[j])) })
	d.w.line(0, "Events:")
	d.w.line(1, "Type\tReason\tAge\tFrom\tMessage")
	d.w.line(1, "----\t------\t----\t----\t-------")
	for _, e := range evs {
		first, last, count := printers.EventTimes(e, d.now)
		age := last
		if count > 1 {
			age = fmt.Sprintf("%s (x%d over %s)", last, count, first)
		}
		d.w.line(1, "%s\t%s\t%s\t%s\t%s", e.GetType(), e.GetReason(), age, printers.EventSource(e), strings.TrimSpace(e.GetMessage()))
	}
}

// ---------------------------------------------------------------- pods

func condition(conds []*metav1.Condition, typ string) *metav1.Condition {
	for _, c := range conds {
		if c.GetType() == typ {
			return c
		}
	}
	return nil
}

func (d *describer) pod(p *corev1.Pod) error {
	m, spec, st := p.GetMetadata(), p.GetSpec(), p.GetStatus()
	d.header(m, true)
	d.w.line(0, "Priority:\t%d", spec.GetPriority())
	if spec.GetPriorityClassName() != "" {
		d.w.line(0, "Priority Class Name:\t%s", spec.GetPriorityClassName())
	}
	sa := spec.GetServiceAccountName()
	if sa == "" {
		sa = "default"
	}
	d.w.line(0, "Service Account:\t%s", sa)
	node := "<none>"
	if spec.GetNodeName() != "" {
		node = spec.GetNodeName()
		if st.GetHostIp() != "" {
			node += "/" + st.GetHostIp()
		}
	}
	d.w.line(0, "Node:\t%s", node)
	if st.GetStartTime() != nil {
		d.w.line(0, "Start Time:\t%s", timeRFC1123(st.GetStartTime()))
	}
	d.w.labels(0, "Labels", m.GetLabels())
	d.w.annotations(0, m.GetAnnotations())
	if m.GetDeletionTimestamp() != nil {
		d.w.line(0, "Status:\tTerminating (lasts %s)", printers.HumanDuration(d.now.Sub(m.GetDeletionTimestamp().AsTime())))
		d.w.line(0, "Termination Grace Period:\t%ds", m.GetDeletionGracePeriodSeconds())
	} else {
		d.w.line(0, "Status:\t%s", orNone(st.GetPhase()))
	}
	if st.GetReason() != "" {
		d.w.line(0, "Reason:\t%s", st.GetReason())
	}
	if st.GetMessage() != "" {
		d.w.line(0, "Message:\t%s", st.GetMessage())
	}
	// A pod the scheduler could not place says why in its PodScheduled condition.
	if c := condition(st.GetConditions(), "PodScheduled"); c != nil && c.GetStatus() != "True" {
		if c.GetReason() != "" {
			d.w.line(0, "Scheduling:\t%s: %s", c.GetReason(), orNone(c.GetMessage()))
		} else {
			d.w.line(0, "Scheduling:\t%s", orNone(c.GetMessage()))
		}
	}
	d.w.line(0, "IP:\t%s", st.GetPodIp())
	var ips []string
	for _, ip := range st.GetPodIps() {
		ips = append(ips, ip.GetIp())
	}
	if len(ips) == 0 {
		d.w.line(0, "IPs:\t<none>")
	} else {
		d.w.line(0, "IPs:")
		for _, ip := range ips {
			d.w.line(1, "IP:\t%s", ip)
		}
	}
	d.controlledBy(m)
	if len(spec.GetInitContainers()) > 0 {
		d.containers("Init Containers", spec.GetInitContainers(), st.GetInitContainerStatuses())
	}
	d.containers("Containers", spec.GetContainers(), st.GetContainerStatuses())
	if len(st.GetConditions()) > 0 {
		d.w.line(0, "Conditions:")
		d.w.line(1, "Type\tStatus")
		for _, c := range st.GetConditions() {
			d.w.line(1, "%s \t%s ", c.GetType(), c.GetStatus())
		}
	}
	d.volumes(spec.GetVolumes())
	if st.GetQosClass() != "" {
		d.w.line(0, "QoS Class:\t%s", st.GetQosClass())
	}
	d.w.line(0, "Node-Selectors:\t%s", printersLabelsOrNone(spec.GetNodeSelector()))
	var tols []string
	for _, t := range spec.GetTolerations() {
		tols = append(tols, toleration(t))
	}
	d.w.list(0, "Tolerations", tols)
	return nil
}

func printersLabelsOrNone(m map[string]string) string {
	if len(m) == 0 {
		return "<none>"
	}
	return printers.FormatLabels(m)
}

func toleration(t *corev1.Toleration) string {
	s := t.GetKey()
	if t.GetValue() != "" {
		s += "=" + t.GetValue()
	}
	if t.GetOperator() == "Exists" && t.GetKey() == "" {
		s = "op=Exists"
	} else if t.GetOperator() == "Exists" {
		s += ":op=Exists"
	}
	if t.GetEffect() != "" {
		s += ":" + t.GetEffect()
	}
	if t.TolerationSeconds != nil {
		s += fmt.Sprintf(" for %ds", t.GetTolerationSeconds())
	}
	return s
}

func (d *describer) volumes(vols []*corev1.Volume) {
	if len(vols) == 0 {
		d.w.line(0, "Volumes:\t<none>")
		return
	}
	d.w.line(0, "Volumes:")
	for _, v := range vols {
		d.w.line(1, "%s:", v.GetName())
		switch {
		case v.GetHostPath() != nil:
			d.w.line(2, "Type:\tHostPath (bare host directory volume)")
			d.w.line(2, "Path:\t%s", v.GetHostPath().GetPath())
			d.w.line(2, "HostPathType:\t%s", v.GetHostPath().GetType())
		case v.GetEmptyDir() != nil:
			d.w.line(2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)")
			d.w.line(2, "Medium:\t%s", v.GetEmptyDir().GetMedium())
			d.w.line(2, "SizeLimit:\t%s", orUnset(v.GetEmptyDir().GetSizeLimit()))
		case v.GetConfigMap() != nil:
			d.w.line(2, "Type:\tConfigMap (a volume populated by a ConfigMap)")
			d.w.line(2, "Name:\t%s", v.GetConfigMap().GetName())
			d.w.line(2, "Optional:\t%v", v.GetConfigMap().GetOptional())
		case v.GetSecret() != nil:
			d.w.line(2, "Type:\tSecret (a volume populated by a Secret)")
			d.w.line(2, "SecretName:\t%s", v.GetSecret().GetSecretName())
			d.w.line(2, "Optional:\t%v", v.GetSecret().GetOptional())
		default:
			d.w.line(2, "<unknown>")
		}
	}
}

func orUnset(s string) string {
	if s == "" {
		return "<unset>"
	}
	return s
}

func (d *describer) containers(title string, cs []*corev1.Container, statuses []*corev1.ContainerStatus) {
	d.w.line(0, "%s:", title)
	byName := map[string]*corev1.ContainerStatus{}
	for _, s := range statuses {
		byName[s.GetName()] = s
	}
	for _, c := range cs {
		d.w.line(1, "%s:", c.GetName())
		st := byName[c.GetName()]
		if st != nil && st.GetContainerId() != "" {
			d.w.line(2, "Container ID:\t%s", st.GetContainerId())
		}
		d.w.line(2, "Image:\t%s", c.GetImage())
		if st != nil && st.GetImageId() != "" {
			d.w.line(2, "Image ID:\t%s", st.GetImageId())
		}
		d.ports(2, c.GetPorts())
		if len(c.GetCommand()) > 0 {
			d.w.line(2, "Command:")
			for _, s := range c.GetCommand() {
				d.w.line(3, "%s", s)
			}
		}
		if len(c.GetArgs()) > 0 {
			d.w.line(2, "Args:")
			for _, s := range c.GetArgs() {
				d.w.line(3, "%s", s)
			}
		}
		if st != nil {
			d.state(2, "State", st.GetState())
			if ls := st.GetLastState(); ls.GetRunning() != nil || ls.GetWaiting() != nil || ls.GetTerminated() != nil {
				d.state(2, "Last State", ls)
			}
			d.w.line(2, "Ready:\t%s", boolTitle(st.GetReady()))
			d.w.line(2, "Restart Count:\t%d", st.GetRestartCount())
		}
		d.resources(2, c.GetResources())
		for _, p := range []struct {
			name  string
			probe *corev1.Probe
		}{{"Liveness", c.GetLivenessProbe()}, {"Readiness", c.GetReadinessProbe()}, {"Startup", c.GetStartupProbe()}} {
			if p.probe != nil {
				d.w.line(2, "%s:\t%s", p.name, probe(p.probe))
			}
		}
		if len(c.GetEnv()) == 0 && len(c.GetEnvFrom()) == 0 {
			d.w.line(2, "Environment:\t<none>")
		} else {
			if len(c.GetEnvFrom()) > 0 {
				d.w.line(2, "Environment Variables from:")
				for _, e := range c.GetEnvFrom() {
					switch {
					case e.GetConfigMapRef() != nil:
						d.w.line(3, "%s\tConfigMap\tOptional: %v", e.GetConfigMapRef().GetName(), e.GetConfigMapRef().GetOptional())
					case e.GetSecretRef() != nil:
						d.w.line(3, "%s\tSecret\tOptional: %v", e.GetSecretRef().GetName(), e.GetSecretRef().GetOptional())
					}
				}
			}
			d.w.line(2, "Environment:")
			for _, e := range c.GetEnv() {
				d.w.line(3, "%s:\t%s", e.GetName(), envValue(e))
			}
		}
		if len(c.GetVolumeMounts()) == 0 {
			d.w.line(2, "Mounts:\t<none>")
		} else {
			d.w.line(2, "Mounts:")
			for _, vm := range c.GetVolumeMounts() {
				mode := "rw"
				if vm.GetReadOnly() {
					mode = "ro"
				}
				d.w.line(3, "%s from %s (%s)", vm.GetMountPath(), vm.GetName(), mode)
			}
		}
	}
}

func envValue(e *corev1.EnvVar) string {
	vf := e.GetValueFrom()
	switch {
	case vf == nil:
		return e.GetValue()
	case vf.GetFieldRef() != nil:
		return fmt.Sprintf(" (%s:%s)", vf.GetFieldRef().GetApiVersion(), vf.GetFieldRef().GetFieldPath())
	case vf.GetResourceFieldRef() != nil:
		return fmt.Sprintf("%s (%s)", vf.GetResourceFieldRef().GetResource(), vf.GetResourceFieldRef().GetContainerName())
	case vf.GetConfigMapKeyRef() != nil:
		return fmt.Sprintf("<set to the key '%s' of config map '%s'>\tOptional: %v", vf.GetConfigMapKeyRef().GetKey(), vf.GetConfigMapKeyRef().GetName(), vf.GetConfigMapKeyRef().GetOptional())
	case vf.GetSecretKeyRef() != nil:
		return fmt.Sprintf("<set to the key '%s' in secret '%s'>\tOptional: %v", vf.GetSecretKeyRef().GetKey(), vf.GetSecretKeyRef().GetName(), vf.GetSecretKeyRef().GetOptional())
	}
	return ""
}

func probe(p *corev1.Probe) string {
	attrs := fmt.Sprintf("delay=%ds timeout=%ds period=%ds #success=%d #failure=%d",
		p.GetInitialDelaySeconds(), p.GetTimeoutSeconds(), p.GetPeriodSeconds(), p.GetSuccessThreshold(), p.GetFailureThreshold())
	switch {
	case p.GetExec() != nil:
		return fmt.Sprintf("exec %v %s", p.GetExec().GetCommand(), attrs)
	case p.GetHttpGet() != nil:
		h := p.GetHttpGet()
		scheme := strings.ToLower(h.GetScheme())
		if scheme == "" {
			scheme = "http"
		}
		return fmt.Sprintf("http-get %s://%s:%s%s %s", scheme, h.GetHost(), intOrString(h.GetPort()), h.GetPath(), attrs)
	case p.GetTcpSocket() != nil:
		return fmt.Sprintf("tcp-socket %s:%s %s", p.GetTcpSocket().GetHost(), intOrString(p.GetTcpSocket().GetPort()), attrs)
	}
	return "unknown " + attrs
}

func intOrString(v *metav1.IntOrString) string {
	switch x := v.GetValue().(type) {
	case *metav1.IntOrString_IntVal:
		return fmt.Sprint(x.IntVal)
	case *metav1.IntOrString_StrVal:
		return x.StrVal
	}
	return "<unset>"
}

func (d *describer) resources(level int, r *corev1.ResourceRequirements) {
	for _, part := range []struct {
		name string
		m    map[string]string
	}{{"Limits", r.GetLimits()}, {"Requests", r.GetRequests()}} {
		if len(part.m) == 0 {
			continue
		}
		d.w.line(level, "%s:", part.name)
		for _, k := range sortedKeys(part.m) {
			d.w.line(level+1, "%s:\t%s", k, part.m[k])
		}
	}
}

func (d *describer) ports(level int, ports []*corev1.ContainerPort) {
	if len(ports) == 0 {
		d.w.line(level, "Port:\t<none>")
		d.w.line(level, "Host Port:\t<none>")
		return
	}
	var cp, hp []string
	for _, p := range ports {
		proto := p.GetProtocol()
		if proto == "" {
			proto = "TCP"
		}
		s := fmt.Sprintf("%d/%s", p.GetContainerPort(), proto)
		if p.GetName() != "" {
			s += " (" + p.GetName() + ")"
		}
		cp = append(cp, s)
		hp = append(hp, fmt.Sprintf("%d/%s", p.GetHostPort(), proto))
	}
	title := "Port"
	if len(ports) > 1 {
		title = "Ports"
	}
	d.w.line(level, "%s:\t%s", title, strings.Join(cp, ", "))
	d.w.line(level, "Host %s:\t%s", title, strings.Join(hp, ", "))
}

func boolTitle(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func (d *describer) state(level int, title string, s *corev1.ContainerState) {
	switch {
	case s.GetRunning() != nil:
		d.w.line(level, "%s:\tRunning", title)
		d.w.line(level+1, "Started:\t%s", timeRFC1123(s.GetRunning().GetStartedAt()))
	case s.GetWaiting() != nil:
		d.w.line(level, "%s:\tWaiting", title)
		if s.GetWaiting().GetReason() != "" {
			d.w.line(level+1, "Reason:\t%s", s.GetWaiting().GetReason())
		}
		if s.GetWaiting().GetMessage() != "" {
			d.w.line(level+1, "Message:\t%s", s.GetWaiting().GetMessage())
		}
	case s.GetTerminated() != nil:
		t := s.GetTerminated()
		d.w.line(level, "%s:\tTerminated", title)
		if t.GetReason() != "" {
			d.w.line(level+1, "Reason:\t%s", t.GetReason())
		}
		if t.GetMessage() != "" {
			d.w.line(level+1, "Message:\t%s", t.GetMessage())
		}
		d.w.line(level+1, "Exit Code:\t%d", t.GetExitCode())
		if t.GetSignal() > 0 {
			d.w.line(level+1, "Signal:\t%d", t.GetSignal())
		}
		d.w.line(level+1, "Started:\t%s", timeRFC1123(t.GetStartedAt()))
		d.w.line(level+1, "Finished:\t%s", timeRFC1123(t.GetFinishedAt()))
	default:
		d.w.line(level, "%s:\tWaiting", title)
	}
}

func (d *describer) podTemplate(t *corev1.PodTemplateSpec) {
	d.w.line(0, "Pod Template:")
	d.w.labels(1, "Labels", t.GetMetadata().GetLabels())
	if len(t.GetMetadata().GetAnnotations()) > 0 {
		d.w.annotations(1, t.GetMetadata().GetAnnotations())
	}
	if sa := t.GetSpec().GetServiceAccountName(); sa != "" {
		d.w.line(1, "Service Account:\t%s", sa)
	}
	if len(t.GetSpec().GetInitContainers()) > 0 {
		d.templateContainers("Init Containers", t.GetSpec().GetInitContainers())
	}
	d.templateContainers("Containers", t.GetSpec().GetContainers())
	vols := t.GetSpec().GetVolumes()
	if len(vols) == 0 {
		d.w.line(1, "Volumes:\t<none>")
	} else {
		d.w.line(1, "Volumes:")
		for _, v := range vols {
			d.w.line(2, "%s", v.GetName())
		}
	}
	d.w.line(1, "Node-Selectors:\t%s", printersLabelsOrNone(t.GetSpec().GetNodeSelector()))
	var tols []string
	for _, tl := range t.GetSpec().GetTolerations() {
		tols = append(tols, toleration(tl))
	}
	d.w.list(1, "Tolerations", tols)
}

func (d *describer) templateContainers(title string, cs []*corev1.Container) {
	d.w.line(1, "%s:", title)
	for _, c := range cs {
		d.w.line(2, "%s:", c.GetName())
		d.w.line(3, "Image:\t%s", c.GetImage())
		d.ports(3, c.GetPorts())
		if len(c.GetCommand()) > 0 {
			d.w.line(3, "Command:")
			for _, s := range c.GetCommand() {
				d.w.line(4, "%s", s)
			}
		}
		if len(c.GetArgs()) > 0 {
			d.w.line(3, "Args:")
			for _, s := range c.GetArgs() {
				d.w.line(4, "%s", s)
			}
		}
		d.resources(3, c.GetResources())
		if len(c.GetEnv()) == 0 {
			d.w.line(3, "Environment:\t<none>")
		} else {
			d.w.line(3, "Environment:")
			for _, e := range c.GetEnv() {
				d.w.line(4, "%s:\t%s", e.GetName(), envValue(e))
			}
		}
		if len(c.GetVolumeMounts()) == 0 {
			d.w.line(3, "Mounts:\t<none>")
		} else {
			d.w.line(3, "Mounts:")
			for _, vm := range c.GetVolumeMounts() {
				mode := "rw"
				if vm.GetReadOnly() {
					mode = "ro"
				}
				d.w.line(4, "%s from %s (%s)", vm.GetMountPath(), vm.GetName(), mode)
			}
		}
	}
}

// ---------------------------------------------------------------- deployments and replicasets

func (d *describer) conditions(conds []*metav1.Condition) {
	if len(conds) == 0 {
		return
	}
	d.w.line(0, "Conditions:")
	d.w.line(1, "Type\tStatus\tReason")
	d.w.line(1, "----\t------\t------")
	for _, c := range conds {
		d.w.line(1, "%s \t%s\t%s", c.GetType(), c.GetStatus(), c.GetReason())
	}
}

func (d *describer) ownedReplicaSets(dep *appsv1.Deployment) ([]*appsv1.ReplicaSet, error) {
	objs, err := d.rd.List(d.ctx, api.ReplicaSets, &metav1.ListOptions{Namespace: dep.GetMetadata().GetNamespace()})
	if err != nil {
		return nil, fmt.Errorf("list the replicasets of deployment %q: %w", dep.GetMetadata().GetName(), err)
	}
	all := make([]*appsv1.ReplicaSet, len(objs))
	for i, o := range objs {
		all[i] = o.(*appsv1.ReplicaSet)
	}
	return deployutil.Owned(dep, all), nil
}

func rsSummary(rss []*appsv1.ReplicaSet) string {
	var parts []string
	for _, rs := range rss {
		parts = append(parts, fmt.Sprintf("%s (%d/%d replicas created)", rs.GetMetadata().GetName(), rs.GetStatus().GetReplicas(), replicas(rs.GetSpec().Replicas)))
	}
	if len(parts) == 0 {
		return "<none>"
	}
	return strings.Join(parts, ", ")
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

func (d *describer) deployment(dep *appsv1.Deployment) error {
	m, spec, st := dep.GetMetadata(), dep.GetSpec(), dep.GetStatus()
	d.header(m, true)
	d.w.line(0, "CreationTimestamp:\t%s", timeRFC1123(m.GetCreationTimestamp()))
	d.w.labels(0, "Labels", m.GetLabels())
	d.w.annotations(0, m.GetAnnotations())
	d.w.line(0, "Selector:\t%s", printers.FormatSelector(spec.GetSelector()))
	d.w.line(0, "Replicas:\t%d desired | %d updated | %d total | %d available | %d unavailable",
		replicas(spec.Replicas), st.GetUpdatedReplicas(), st.GetReplicas(), st.GetAvailableReplicas(), st.GetUnavailableReplicas())
	typ := spec.GetStrategy().GetType()
	if typ == "" {
		typ = "RollingUpdate"
	}
	d.w.line(0, "StrategyType:\t%s", typ)
	d.w.line(0, "MinReadySeconds:\t%d", spec.GetMinReadySeconds())
	if ru := spec.GetStrategy().GetRollingUpdate(); typ == "RollingUpdate" {
		mu, ms := "25%", "25%"
		if ru.GetMaxUnavailable() != nil {
			mu = intOrString(ru.GetMaxUnavailable())
		}
		if ru.GetMaxSurge() != nil {
			ms = intOrString(ru.GetMaxSurge())
		}
		d.w.line(0, "RollingUpdateStrategy:\t%s max unavailable, %s max surge", mu, ms)
	}
	if spec.GetPaused() {
		d.w.line(0, "Paused:\ttrue")
	}
	d.podTemplate(spec.GetTemplate())
	d.conditions(st.GetConditions())
	owned, err := d.ownedReplicaSets(dep)
	if err != nil {
		return err
	}
	newRS, old := deployutil.NewAndOld(dep, owned)
	var oldActive []*appsv1.ReplicaSet
	for _, rs := range old {
		if replicas(rs.GetSpec().Replicas) > 0 || rs.GetStatus().GetReplicas() > 0 {
			oldActive = append(oldActive, rs)
		}
	}
	d.w.line(0, "OldReplicaSets:\t%s", rsSummary(oldActive))
	var nrs []*appsv1.ReplicaSet
	if newRS != nil {
		nrs = append(nrs, newRS)
	}
	d.w.line(0, "NewReplicaSet:\t%s", rsSummary(nrs))
	return nil
}

func (d *describer) podCounts(ns string, sel *metav1.LabelSelector) (string, error) {
	s := printers.FormatSelector(sel)
	if s == "<none>" || s == "<error>" {
		return "0 Running / 0 Waiting / 0 Succeeded / 0 Failed", nil
	}
	objs, err := d.rd.List(d.ctx, api.Pods, &metav1.ListOptions{Namespace: ns, LabelSelector: s})
	if err != nil {
		return "", err
	}
	counts := map[string]int{}
	for _, o := range objs {
		counts[o.(*corev1.Pod).GetStatus().GetPhase()]++
	}
	return fmt.Sprintf("%d Running / %d Waiting / %d Succeeded / %d Failed", counts["Running"], counts["Pending"], counts["Succeeded"], counts["Failed"]), nil
}

func (d *describer) replicaSet(rs *appsv1.ReplicaSet) error {
	m, spec, st := rs.GetMetadata(), rs.GetSpec(), rs.GetStatus()
	d.header(m, true)
	d.w.line(0, "Selector:\t%s", printers.FormatSelector(spec.GetSelector()))
	d.w.labels(0, "Labels", m.GetLabels())
	d.w.annotations(0, m.GetAnnotations())
	d.controlledBy(m)
	d.w.line(0, "Replicas:\t%d current / %d desired", st.GetReplicas(), replicas(spec.Replicas))
	counts, err := d.podCounts(m.GetNamespace(), spec.GetSelector())
	if err != nil {
		return fmt.Errorf("list the pods of replicaset %q: %w", m.GetName(), err)
	}
	d.w.line(0, "Pods Status:\t%s", counts)
	d.podTemplate(spec.GetTemplate())
	d.conditions(st.GetConditions())
	return nil
}

// ---------------------------------------------------------------- services

func (d *describer) service(svc *corev1.Service) error {
	m, spec := svc.GetMetadata(), svc.GetSpec()
	d.header(m, true)
	d.w.labels(0, "Labels", m.GetLabels())
	d.w.annotations(0, m.GetAnnotations())
	d.w.line(0, "Selector:\t%s", printersLabelsOrNone(spec.GetSelector()))
	typ := spec.GetType()
	if typ == "" {
		typ = "ClusterIP"
	}
	d.w.line(0, "Type:\t%s", typ)
	if spec.GetClusterIp() != "" {
		d.w.line(0, "IP:\t%s", spec.GetClusterIp())
	}
	if len(spec.GetClusterIps()) > 0 {
		d.w.line(0, "IPs:\t%s", strings.Join(spec.GetClusterIps(), ","))
	}
	if len(spec.GetExternalIps()) > 0 {
		d.w.line(0, "External IPs:\t%s", strings.Join(spec.GetExternalIps(), ","))
	}
	if spec.GetLoadBalancerIp() != "" {
		d.w.line(0, "IP:\t%s", spec.GetLoadBalancerIp())
	}
	if ing := svc.GetStatus().GetLoadBalancer().GetIngress(); len(ing) > 0 {
		var list []string
		for _, in := range ing {
			if in.GetIp() != "" {
				list = append(list, in.GetIp())
			} else if in.GetHostname() != "" {
				list = append(list, in.GetHostname())
			}
		}
		d.w.line(0, "LoadBalancer Ingress:\t%s", strings.Join(list, ", "))
	}
	if typ == "ExternalName" {
		d.w.line(0, "External Name:\t%s", spec.GetExternalName())
	}
	var ep *corev1.Endpoints
	if o, err := d.rd.Get(d.ctx, api.Endpoints, m.GetNamespace(), m.GetName()); err == nil {
		ep = o.(*corev1.Endpoints)
	} else if !apierrors.IsNotFound(err) {
		return fmt.Errorf("get the endpoints of service %q: %w", m.GetName(), err)
	}
	for _, p := range spec.GetPorts() {
		name := p.GetName()
		if name == "" {
			name = "<unset>"
		}
		proto := p.GetProtocol()
		if proto == "" {
			proto = "TCP"
		}
		d.w.line(0, "Port:\t%s\t%d/%s", name, p.GetPort(), proto)
		tp := intOrString(p.GetTargetPort())
		if tp == "<unset>" {
			tp = fmt.Sprint(p.GetPort())
		}
		d.w.line(0, "TargetPort:\t%s/%s", tp, proto)
		if p.GetNodePort() != 0 {
			d.w.line(0, "NodePort:\t%s\t%d/%s", name, p.GetNodePort(), proto)
		}
		d.w.line(0, "Endpoints:\t%s", serviceEndpoints(ep, p.GetName()))
	}
	d.w.line(0, "Session Affinity:\t%s", orNone(spec.GetSessionAffinity()))
	if typ == "NodePort" || typ == "LoadBalancer" {
		d.w.line(0, "External Traffic Policy:\t%s", orNone(spec.GetExternalTrafficPolicy()))
	}
	if spec.GetInternalTrafficPolicy() != "" {
		d.w.line(0, "Internal Traffic Policy:\t%s", spec.GetInternalTrafficPolicy())
	}
	return nil
}

// serviceEndpoints lists the ready ip:port of a service port's endpoints, "<none>" when there are none.
func serviceEndpoints(ep *corev1.Endpoints, portName string) string {
	var list []string
	for _, ss := range ep.GetSubsets() {
		for _, p := range ss.GetPorts() {
			if p.GetName() != portName {
				continue
			}
			for _, a := range ss.GetAddresses() {
				list = append(list, fmt.Sprintf("%s:%d", a.GetIp(), p.GetPort()))
			}
		}
	}
	if len(list) == 0 {
		return "<none>"
	}
	return strings.Join(list, ",")
}

// ---------------------------------------------------------------- nodes

func (d *describer) node(n *corev1.Node) error {
	m, spec, st := n.GetMetadata(), n.GetSpec(), n.GetStatus()
	d.header(m, false)
	d.w.line(0, "Roles:\t%s", printers.NodeRoles(n))
	d.w.labels(0, "Labels", m.GetLabels())
	d.w.annotations(0, m.GetAnnotations())
	d.w.line(0, "CreationTimestamp:\t%s", timeRFC1123(m.GetCreationTimestamp()))
	var taints []string
	for _, t := range spec.GetTaints() {
		s := t.GetKey()
		if t.GetValue() != "" {
			s += "=" + t.GetValue()
		}
		taints = append(taints, s+":"+t.GetEffect())
	}
	d.w.list(0, "Taints", taints)
	d.w.line(0, "Unschedulable:\t%v", spec.GetUnschedulable())
	if len(st.GetConditions()) > 0 {
		d.w.line(0, "Conditions:")
		d.w.line(1, "Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage")
		d.w.line(1, "----\t------\t-----------------\t------------------\t------\t-------")
		for _, c := range st.GetConditions() {
			d.w.line(1, "%s \t%s \t%s \t%s \t%s \t%s", c.GetType(), c.GetStatus(), timeRFC1123(c.GetLastHeartbeatTime()),
				timeRFC1123(c.GetLastTransitionTime()), c.GetReason(), c.GetMessage())
		}
	}
	if len(st.GetAddresses()) > 0 {
		d.w.line(0, "Addresses:")
		for _, a := range st.GetAddresses() {
			d.w.line(1, "%s:\t%s", a.GetType(), a.GetAddress())
		}
	}
	for _, part := range []struct {
		name string
		m    map[string]string
	}{{"Capacity", st.GetCapacity()}, {"Allocatable", st.GetAllocatable()}} {
		if len(part.m) == 0 {
			continue
		}
		d.w.line(0, "%s:", part.name)
		for _, k := range sortedKeys(part.m) {
			d.w.line(1, "%s:\t%s", k, part.m[k])
		}
	}
	if info := st.GetNodeInfo(); info != nil {
		d.w.line(0, "System Info:")
		d.w.line(1, "Machine ID:\t%s", info.GetMachineId())
		d.w.line(1, "Boot ID:\t%s", info.GetBootId())
		d.w.line(1, "Kernel Version:\t%s", info.GetKernelVersion())
		d.w.line(1, "OS Image:\t%s", info.GetOsImage())
		d.w.line(1, "Operating System:\t%s", info.GetOperatingSystem())
		d.w.line(1, "Architecture:\t%s", info.GetArchitecture())
		d.w.line(1, "Container Runtime Version:\t%s", info.GetContainerRuntimeVersion())
		d.w.line(1, "Kubelet Version:\t%s", info.GetKubeletVersion())
		d.w.line(1, "Kube-Proxy Version:\t%s", info.GetKubeProxyVersion())
	}
	if spec.GetPodCidr() != "" {
		d.w.line(0, "PodCIDR:\t%s", spec.GetPodCidr())
	}
	if len(spec.GetPodCidrs()) > 0 {
		d.w.line(0, "PodCIDRs:\t%s", strings.Join(spec.GetPodCidrs(), ","))
	}
	objs, err := d.rd.List(d.ctx, api.Pods, &metav1.ListOptions{FieldSelector: "spec.nodeName=" + m.GetName()})
	if err != nil {
		return fmt.Errorf("list the pods of node %q: %w", m.GetName(), err)
	}
	var pods []*corev1.Pod
	for _, o := range objs {
		p := o.(*corev1.Pod)
		if ph := p.GetStatus().GetPhase(); ph != "Succeeded" && ph != "Failed" {
			pods = append(pods, p)
		}
	}
	sort.SliceStable(pods, func(i, j int) bool {
		a, b := pods[i].GetMetadata(), pods[j].GetMetadata()
		return a.GetNamespace()+"/"+a.GetName() < b.GetNamespace()+"/"+b.GetName()
	})
	d.w.line(0, "Non-terminated Pods:\t(%d in total)", len(pods))
	if len(pods) > 0 {
		d.w.line(1, "Namespace\tName\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge")
		d.w.line(1, "---------\t----\t------------\t----------\t---------------\t-------------\t---")
		for _, p := range pods {
			req, lim := map[string][]string{}, map[string][]string{}
			for _, c := range p.GetSpec().GetContainers() {
				for k, v := range c.GetResources().GetRequests() {
					req[k] = append(req[k], v)
				}
				for k, v := range c.GetResources().GetLimits() {
					lim[k] = append(lim[k], v)
				}
			}
			show := func(m map[string][]string, k string) string {
				if len(m[k]) == 0 {
					return "0 (0%)"
				}
				return strings.Join(m[k], "+")
			}
			d.w.line(1, "%s\t%s\t%s\t%s\t%s\t%s\t%s", p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(),
				show(req, "cpu"), show(lim, "cpu"), show(req, "memory"), show(lim, "memory"), printers.Age(p.GetMetadata().GetCreationTimestamp(), d.now))
		}
	}
	return nil
}

// ---------------------------------------------------------------- the others

func (d *describer) namespace(ns *corev1.Namespace) {
	d.header(ns.GetMetadata(), false)
	d.w.labels(0, "Labels", ns.GetMetadata().GetLabels())
	d.w.annotations(0, ns.GetMetadata().GetAnnotations())
	d.w.line(0, "Status:\t%s", ns.GetStatus().GetPhase())
	d.w.line(0, "")
	d.w.line(0, "No resource quota.")
	d.w.line(0, "")
	d.w.line(0, "No LimitRange resource.")
}

func (d *describer) endpoints(ep *corev1.Endpoints) {
	m := ep.GetMetadata()
	d.header(m, true)
	d.w.labels(0, "Labels", m.GetLabels())
	d.w.annotations(0, m.GetAnnotations())
	d.w.line(0, "Subsets:")
	for _, ss := range ep.GetSubsets() {
		var ready, notReady []string
		for _, a := range ss.GetAddresses() {
			ready = append(ready, a.GetIp())
		}
		for _, a := range ss.GetNotReadyAddresses() {
			notReady = append(notReady, a.GetIp())
		}
		d.w.line(1, "Addresses:\t%s", orNone(strings.Join(ready, ",")))
		d.w.line(1, "NotReadyAddresses:\t%s", orNone(strings.Join(notReady, ",")))
		if len(ss.GetPorts()) > 0 {
			d.w.line(1, "Ports:")
			d.w.line(2, "Name\tPort\tProtocol")
			d.w.line(2, "----\t----\t--------")
			for _, p := range ss.GetPorts() {
				name := p.GetName()
				if name == "" {
					name = "<unset>"
				}
				d.w.line(2, "%s\t%d\t%s", name, p.GetPort(), p.GetProtocol())
			}
		}
		d.w.line(0, "")
	}
}

func (d *describer) configMap(cm *corev1.ConfigMap) {
	m := cm.GetMetadata()
	d.header(m, true)
	d.w.labels(0, "Labels", m.GetLabels())
	d.w.annotations(0, m.GetAnnotations())
	d.w.line(0, "")
	d.w.line(0, "Data")
	d.w.line(0, "====")
	for _, k := range sortedKeys(cm.GetData()) {
		d.w.line(0, "%s:", k)
		d.w.line(0, "----")
		d.w.line(0, "%s", strings.ReplaceAll(cm.GetData()[k], "\t", "    "))
		d.w.line(0, "")
	}
	d.w.line(0, "")
	d.w.line(0, "BinaryData")
	d.w.line(0, "====")
	for _, k := range sortedKeys(cm.GetBinaryData()) {
		d.w.line(0, "%s: %d bytes", k, len(cm.GetBinaryData()[k]))
	}
	d.w.line(0, "")
}

func (d *describer) secret(s *corev1.Secret) {
	m := s.GetMetadata()
	d.header(m, true)
	d.w.labels(0, "Labels", m.GetLabels())
	d.w.annotations(0, m.GetAnnotations())
	d.w.line(0, "")
	d.w.line(0, "Type:\t%s", s.GetType())
	d.w.line(0, "")
	d.w.line(0, "Data")
	d.w.line(0, "====")
	for _, k := range sortedKeys(s.GetData()) {
		d.w.line(0, "%s:\t%d bytes", k, len(s.GetData()[k]))
	}
}

func (d *describer) event(e *corev1.Event) {
	m := e.GetMetadata()
	d.header(m, true)
	d.w.labels(0, "Labels", m.GetLabels())
	d.w.annotations(0, m.GetAnnotations())
	io := e.GetInvolvedObject()
	d.w.line(0, "Involved Object:")
	d.w.line(1, "Kind:\t%s", io.GetKind())
	d.w.line(1, "Name:\t%s", io.GetName())
	d.w.line(1, "Namespace:\t%s", io.GetNamespace())
	if io.GetFieldPath() != "" {
		d.w.line(1, "Field Path:\t%s", io.GetFieldPath())
	}
	first, last, count := printers.EventTimes(e, d.now)
	d.w.line(0, "Type:\t%s", e.GetType())
	d.w.line(0, "Reason:\t%s", e.GetReason())
	d.w.line(0, "Message:\t%s", strings.TrimSpace(e.GetMessage()))
	d.w.line(0, "Source:\t%s", printers.EventSource(e))
	d.w.line(0, "First Seen:\t%s ago", first)
	d.w.line(0, "Last Seen:\t%s ago", last)
	d.w.line(0, "Count:\t%d", count)
}

func (d *describer) lease(l *coordinationv1.Lease) {
	m, spec := l.GetMetadata(), l.GetSpec()
	d.header(m, true)
	d.w.labels(0, "Labels", m.GetLabels())
	d.w.annotations(0, m.GetAnnotations())
	d.w.line(0, "Holder Identity:\t%s", orNone(spec.GetHolderIdentity()))
	if spec.LeaseDurationSeconds != nil {
		d.w.line(0, "Lease Duration Seconds:\t%d", spec.GetLeaseDurationSeconds())
	}
	if spec.GetAcquireTime() != nil {
		d.w.line(0, "Acquire Time:\t%s", timeRFC1123(spec.GetAcquireTime()))
	}
	if spec.GetRenewTime() != nil {
		d.w.line(0, "Renew Time:\t%s", timeRFC1123(spec.GetRenewTime()))
	}
	if spec.LeaseTransitions != nil {
		d.w.line(0, "Lease Transitions:\t%d", spec.GetLeaseTransitions())
	}
}

// generic describes a kind without a describer of its own: metadata then the object's YAML.
func (d *describer) generic(r *api.Resource, obj api.Object) error {
	m := obj.GetMetadata()
	d.header(m, r.Namespaced)
	d.w.labels(0, "Labels", m.GetLabels())
	d.w.annotations(0, m.GetAnnotations())
	out, err := manifest.Encode(obj, "yaml")
	if err != nil {
		return err
	}
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		d.w.line(0, "%s", l)
	}
	return nil
}
