package kubelet

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/controller"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Pod condition types.
const (
	condPodScheduled    = "PodScheduled"
	condInitialized     = "Initialized"
	condContainersReady = "ContainersReady"
	// condReady is shared with the Node's.
)

// needsSync reports whether a pod update concerns the kubelet (not just a
// status write).
func needsSync(old, cur *corev1.Pod) bool {
	om, cm := old.GetMetadata(), cur.GetMetadata()
	return om.GetUid() != cm.GetUid() || om.GetGeneration() != cm.GetGeneration() ||
		!proto.Equal(om.GetDeletionTimestamp(), cm.GetDeletionTimestamp()) ||
		om.GetDeletionGracePeriodSeconds() != cm.GetDeletionGracePeriodSeconds() ||
		!proto.Equal(old.GetSpec(), cur.GetSpec())
}

func protoEqualExceptStatus(old, cur *corev1.Pod) bool { return !needsSync(old, cur) }

// terminatedState renders the exited current instance of cs (nil when it
// has none).
func terminatedState(cs *ctrState) *corev1.ContainerStateTerminated {
	if !cs.hasInst || cs.st.State != runtime.StateExited {
		return nil
	}
	t := &corev1.ContainerStateTerminated{ExitCode: cs.st.ExitCode, Reason: cs.st.Reason, Message: cs.st.Message}
	if cs.startMsg != "" {
		t.Message = cs.startMsg
	}
	if t.Reason == "" {
		t.Reason = runtime.ReasonError
		if t.ExitCode == 0 {
			t.Reason = runtime.ReasonCompleted
		}
	}
	if t.ExitCode > 128 && t.ExitCode < 128+65 && t.Reason != runtime.ReasonStartError {
		t.Signal = t.ExitCode - 128
	}
	if !cs.st.StartedAt.IsZero() {
		t.StartedAt = timestamppb.New(cs.st.StartedAt)
	}
	if !cs.st.FinishedAt.IsZero() {
		t.FinishedAt = timestamppb.New(cs.st.FinishedAt)
	}
	if cs.id != "" {
		t.ContainerId = cs.containerID()
	}
	return t
}

func (cs *ctrState) containerID() string {
	if cs.id == "" {
		return ""
	}
	return "coxswain://" + cs.id
}

// containerStatus renders one container's status. Callers hold w.mu.
func (a *agent) containerStatus(w *podWorker, c *corev1.Container, init, reached bool) *corev1.ContainerStatus {
	out := &corev1.ContainerStatus{Name: c.GetName(), Image: c.GetImage(), Started: proto.Bool(false)}
	cs := w.containers[c.GetName()]
	waiting := func(reason, msg string) *corev1.ContainerState {
		return &corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
	}
	if cs == nil || !cs.hasInst && cs.waitReason == "" {
		reason := reasonContainerCreating
		if !reached {
			reason = reasonPodInitializing
		}
		msg := ""
		if reached {
			msg = w.podWaitMsg
		}
		out.State = waiting(reason, msg)
		if cs != nil {
			out.RestartCount = cs.restartCount
			if cs.last != nil {
				out.LastState = &corev1.ContainerState{Terminated: cs.last}
			}
			out.ImageId = cs.imageID
		}
		return out
	}
	out.RestartCount = cs.restartCount
	out.ImageId = cs.imageID
	out.ContainerId = cs.containerID()
	if cs.image != "" {
		out.Image = cs.image
	}
	term := terminatedState(cs)
	last := cs.last
	switch {
	case cs.waitReason != "":
		out.State = waiting(cs.waitReason, cs.waitMsg)
		if term != nil {
			last = term
		}
	case cs.st.State == runtime.StateRunning:
		out.State = &corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: timestamppb.New(cs.st.StartedAt)}}
		started := c.GetStartupProbe() == nil || cs.started
		out.Started = proto.Bool(started)
		out.Ready = started && (c.GetReadinessProbe() == nil || cs.ready)
		if init {
			out.Ready = false
		}
	case cs.st.State == runtime.StateExited:
		out.State = &corev1.ContainerState{Terminated: term}
		if init && term.GetExitCode() == 0 {
			out.Ready = true
		}
	default:
		out.State = waiting(reasonContainerCreating, "")
	}
	if last != nil {
		out.LastState = &corev1.ContainerState{Terminated: last}
	}
	return out
}

// computeStatus builds the pod status from the worker's record.
func (a *agent) computeStatus(w *podWorker) *corev1.PodStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	pod := w.pod
	spec := pod.GetSpec()
	prev := w.lastStatus
	if prev == nil {
		prev = pod.GetStatus()
	}
	st := &corev1.PodStatus{HostIp: a.ip, PodIp: w.podIP, QosClass: qosClass(pod)}
	if w.podIP != "" {
		st.PodIps = []*corev1.PodIP{{Ip: w.podIP}}
	}
	if !w.startTime.IsZero() {
		st.StartTime = timestamppb.New(w.startTime.Truncate(time.Second))
	}

	// Init containers.
	initDone := true
	var incomplete []string
	reached := true
	for _, c := range spec.GetInitContainers() {
		s := a.containerStatus(w, c, true, reached)
		st.InitContainerStatuses = append(st.InitContainerStatuses, s)
		if t := s.GetState().GetTerminated(); t == nil || t.GetExitCode() != 0 {
			initDone = false
			incomplete = append(incomplete, c.GetName())
			reached = false
		}
	}

	// Containers.
	var running, waitingN, stopped, succeeded int
	var unready []string
	for _, c := range spec.GetContainers() {
		s := a.containerStatus(w, c, false, initDone)
		st.ContainerStatuses = append(st.ContainerStatuses, s)
		switch {
		case s.GetState().GetRunning() != nil:
			running++
		case s.GetState().GetTerminated() != nil:
			stopped++
			if s.GetState().GetTerminated().GetExitCode() == 0 {
				succeeded++
			}
		case s.GetLastState().GetTerminated() != nil:
			stopped++ // restarting
		default:
			waitingN++
		}
		if !s.GetReady() {
			unready = append(unready, c.GetName())
		}
	}

	policy := spec.GetRestartPolicy()
	switch {
	case w.initFailed:
		st.Phase = "Failed"
	case !initDone:
		st.Phase = "Pending"
	case waitingN > 0:
		st.Phase = "Pending"
	case running > 0:
		st.Phase = "Running"
	case stopped > 0:
		switch {
		case policy == "Always" || policy == "":
			st.Phase = "Running"
		case stopped == succeeded:
			st.Phase = "Succeeded"
		case policy == "Never":
			st.Phase = "Failed"
		default:
			st.Phase = "Running"
		}
	default:
		st.Phase = "Pending"
	}
	if w.finished && st.Phase == "Running" {
		// Restored from an earlier kubelet as terminal: stay so.
		st.Phase = pod.GetStatus().GetPhase()
	}

	// Conditions: ours, plus any other type already on the pod.
	now := time.Now()
	conds := []*metav1.Condition{}
	if c := findCondition(pod.GetStatus().GetConditions(), condPodScheduled); c != nil {
		conds = append(conds, proto.Clone(c).(*metav1.Condition))
	} else {
		conds = append(conds, &metav1.Condition{Type: condPodScheduled, Status: "True"})
	}
	initCond := &metav1.Condition{Type: condInitialized, Status: "True"}
	if !initDone {
		initCond.Status, initCond.Reason = "False", "ContainersNotInitialized"
		initCond.Message = fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(incomplete, " "))
	}
	ready := &metav1.Condition{Type: condContainersReady, Status: "True"}
	switch {
	case st.Phase == "Succeeded":
		ready.Status, ready.Reason = "False", "PodCompleted"
	case len(unready) > 0 || len(spec.GetContainers()) == 0:
		ready.Status, ready.Reason = "False", "ContainersNotReady"
		ready.Message = fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))
	}
	podReady := proto.Clone(ready).(*metav1.Condition)
	podReady.Type = condReady
	conds = append(conds, initCond, ready, podReady)
	for _, c := range conds {
		if c.LastTransitionTime != nil {
			continue
		}
		if old := findCondition(prev.GetConditions(), c.Type); old != nil && old.GetStatus() == c.Status && old.LastTransitionTime != nil {
			c.LastTransitionTime = old.LastTransitionTime
		} else {
			c.LastTransitionTime = timestamppb.New(now.Truncate(time.Second))
		}
	}
	for _, c := range pod.GetStatus().GetConditions() {
		switch c.GetType() {
		case condPodScheduled, condInitialized, condContainersReady, condReady:
		default:
			conds = append(conds, proto.Clone(c).(*metav1.Condition))
		}
	}
	st.Conditions = conds
	return st
}

// qosClass is Kubernetes' QoS class of a pod.
func qosClass(pod *corev1.Pod) string {
	all := append(append([]*corev1.Container(nil), pod.GetSpec().GetContainers()...), pod.GetSpec().GetInitContainers()...)
	any, guaranteed := false, true
	for _, c := range all {
		l, r := c.GetResources().GetLimits(), c.GetResources().GetRequests()
		if len(l) > 0 || len(r) > 0 {
			any = true
		}
		for _, res := range []string{"cpu", "memory"} {
			if l[res] == "" || (r[res] != "" && r[res] != l[res]) {
				guaranteed = false
			}
		}
	}
	switch {
	case !any:
		return "BestEffort"
	case guaranteed:
		return "Guaranteed"
	}
	return "Burstable"
}

// setStatus computes the pod's status and hands it to the status manager.
func (a *agent) setStatus(w *podWorker) {
	st := a.computeStatus(w)
	w.mu.Lock()
	w.lastStatus = st
	report := !w.sliDone && st.Phase == "Running" && allRunning(st)
	var d time.Duration
	if report {
		w.sliDone = true
		d = time.Since(w.firstSeen) - w.pullTime
	}
	w.mu.Unlock()
	if report {
		a.k.metrics.podStart.Observe(d.Seconds())
	}
	a.k.status.set(w.key, w.uid, st)
}

func allRunning(st *corev1.PodStatus) bool {
	for _, c := range st.GetContainerStatuses() {
		if c.GetState().GetRunning() == nil {
			return false
		}
	}
	return len(st.GetContainerStatuses()) > 0
}

// statusManager writes pod statuses: one UpdateStatus per pod when the
// computed status differs from what it last wrote (or from what the API
// has, when somebody else wrote it since), retrying on conflicts.
type statusManager struct {
	k   *Kubelet
	ctl *controller.Controller

	mu      sync.Mutex
	entries map[string]*statusEntry
}

type statusEntry struct {
	uid       string
	desired   *corev1.PodStatus
	written   *corev1.PodStatus
	writtenRV int64
}

func newStatusManager(k *Kubelet) (*statusManager, error) {
	m := &statusManager{k: k, entries: map[string]*statusEntry{}}
	// Status writes wait for etcd; several in flight let it batch them.
	workers := 8
	var err error
	m.ctl, err = controller.New(controller.Config{Name: "kubelet-status", Workers: workers, Sync: m.sync,
		Registerer: k.cfg.Registry, Logger: k.log})
	return m, err
}

func (m *statusManager) run(ctx context.Context) error { return m.ctl.Run(ctx) }

// set records the desired status of a pod incarnation.
func (m *statusManager) set(key, uid string, st *corev1.PodStatus) {
	m.mu.Lock()
	e := m.entries[key]
	if e == nil || e.uid != uid {
		e = &statusEntry{uid: uid}
		m.entries[key] = e
	}
	e.desired = st
	needs := e.written == nil || !proto.Equal(e.written, st)
	m.mu.Unlock()
	if needs {
		m.ctl.Enqueue(key)
	}
}

// observe notices status writes by others (e.g. the node lifecycle
// controller marking a pod not ready) so that ours is written again.
func (m *statusManager) observe(pod *corev1.Pod) {
	key := podKey(pod)
	rv, _ := strconv.ParseInt(pod.GetMetadata().GetResourceVersion(), 10, 64)
	m.mu.Lock()
	e := m.entries[key]
	stale := e != nil && e.uid == pod.GetMetadata().GetUid() && e.written != nil && rv > e.writtenRV && !proto.Equal(pod.GetStatus(), e.written)
	if stale {
		e.written = nil
	}
	m.mu.Unlock()
	if stale {
		m.ctl.Enqueue(key)
	}
}

func (m *statusManager) forget(key, uid string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.entries[key]; e != nil && e.uid == uid {
		delete(m.entries, key)
	}
}

func (m *statusManager) sync(ctx context.Context, key string) error {
	m.mu.Lock()
	e := m.entries[key]
	if e == nil {
		m.mu.Unlock()
		return nil
	}
	uid, desired, written := e.uid, e.desired, e.written
	m.mu.Unlock()
	if written != nil && proto.Equal(written, desired) {
		return nil
	}
	pod, ok := m.k.pods.GetByKey(key)
	if !ok || pod.GetMetadata().GetUid() != uid {
		return nil // gone, or another incarnation
	}
	rv := pod.GetMetadata().GetResourceVersion()
	var out *corev1.Pod
	var err error
	for attempt := 0; ; attempt++ {
		if proto.Equal(pod.GetStatus(), desired) {
			out = pod
			break
		}
		next := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: pod.GetMetadata().GetName(), Namespace: pod.GetMetadata().GetNamespace(),
			Uid: uid, ResourceVersion: rv}, Status: desired}
		out, err = m.k.client.Pods().UpdateStatus(ctx, next)
		if err == nil {
			break
		}
		if apierrors.IsNotFound(err) {
			return nil
		}
		if !apierrors.IsConflict(err) || attempt >= 2 {
			return fmt.Errorf("update status of pod %s: %w", key, err)
		}
		fresh, gerr := m.k.client.Pods().Get(ctx, pod.GetMetadata().GetNamespace(), pod.GetMetadata().GetName())
		if gerr != nil {
			if apierrors.IsNotFound(gerr) {
				return nil
			}
			return fmt.Errorf("update status of pod %s: %w", key, gerr)
		}
		if fresh.GetMetadata().GetUid() != uid {
			return nil
		}
		pod, rv = fresh, fresh.GetMetadata().GetResourceVersion()
	}
	outRV, _ := strconv.ParseInt(out.GetMetadata().GetResourceVersion(), 10, 64)
	m.mu.Lock()
	if e := m.entries[key]; e != nil && e.uid == uid {
		e.written, e.writtenRV = desired, outRV
		if !proto.Equal(e.desired, desired) {
			m.ctl.Enqueue(key)
		}
	}
	m.mu.Unlock()
	return nil
}
