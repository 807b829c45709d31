package kubelet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/api/resource"
	"github.com/coxswain/coxswain/pkg/client/record"
	"github.com/coxswain/coxswain/pkg/controller"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Waiting reasons, as Kubernetes reports them.
const (
	reasonContainerCreating    = "ContainerCreating"
	reasonPodInitializing      = "PodInitializing"
	reasonCrashLoopBackOff     = "CrashLoopBackOff"
	reasonImagePullBackOff     = "ImagePullBackOff"
	reasonCreateContainerError = "CreateContainerError"
	reasonConfigError          = "CreateContainerConfigError"
)

// minGraceAfterPreStop is the least SIGTERM grace left after a preStop
// hook (Kubernetes' minimumGracePeriodInSeconds).
const minGraceAfterPreStop = 2 * time.Second

// podWorker is the kubelet's record of one pod incarnation (one UID).
// The pod controller serialises its syncs; mu guards the fields the
// servers, probes and status reads share with them.
type podWorker struct {
	key string
	uid string

	mu             sync.Mutex
	pod            *corev1.Pod // last seen
	sandboxID      string
	podIP          string
	startTime      time.Time
	firstSeen      time.Time
	sliDone        bool
	pullTime       time.Duration
	containers     map[string]*ctrState
	volumePaths    map[string]string
	volumeVersions map[string]string
	volumeErr      error
	podWaitMsg     string // why no container could be created yet
	killing        bool
	killed         chan struct{}
	finished       bool // terminal: every container is done and the sandbox is stopped
	initFailed     bool
	lastStatus     *corev1.PodStatus
}

// ctrState is one container (init or regular) of a pod.
type ctrState struct {
	name string
	init bool

	id           string                  // runtime ID of the current instance ("" for a restored one)
	hasInst      bool                    // an instance exists (running, exited, or restored)
	st           runtime.ContainerStatus // last observed state of the current instance
	restartCount int32
	last         *corev1.ContainerStateTerminated // the previous instance
	waitReason   string
	waitMsg      string
	image        string // the image of the current instance
	imageID      string
	startMsg     string // start error message of the current instance, explained
	logPath      string
	logw         *logWriter

	ready       bool
	started     bool
	liveFailMsg string // a failed liveness or startup probe asked for a restart
	probeStop   context.CancelFunc
}

func (w *podWorker) ctr(name string, init bool) *ctrState {
	cs, ok := w.containers[name]
	if !ok {
		cs = &ctrState{name: name, init: init}
		w.containers[name] = cs
	}
	return cs
}

func (k *Kubelet) podDir(uid string) string { return filepath.Join(k.cfg.RootDir, "pods", uid) }

func (k *Kubelet) logPath(uid, container string, n int32) string {
	return filepath.Join(k.podDir(uid), container, strconv.Itoa(int(n))+".log")
}

func backoffKey(uid, container string) string      { return uid + "/" + container }
func imageBackoffKey(uid, container string) string { return "img/" + uid + "/" + container }

// syncPod drives one pod toward its spec (pod == nil: gone from the API).
func (a *agent) syncPod(ctx context.Context, key string, pod *corev1.Pod) error {
	w := a.worker(key)
	if pod == nil {
		if w != nil {
			a.startKill(w, graceOf(w.pod), false)
		}
		return nil
	}
	uid := pod.GetMetadata().GetUid()
	if w != nil && w.uid != uid {
		// A new incarnation under the same name: the old one goes first.
		a.startKill(w, graceOf(w.pod), false)
		select {
		case <-w.killed:
			w = nil
		default:
			return controller.RequeueAfter(200 * time.Millisecond)
		}
	}
	if pod.GetMetadata().GetDeletionTimestamp() != nil {
		if w == nil {
			return a.deletePodObject(ctx, key, pod)
		}
		a.startKill(w, graceOf(pod), true)
		return nil
	}
	if w == nil {
		if p := pod.GetStatus().GetPhase(); p != "Succeeded" && p != "Failed" && a.k.cfg.MaxPods > 0 && a.activePods() >= a.k.cfg.MaxPods {
			return a.rejectPod(ctx, pod, "OutOfpods", "Node didn't have enough resource: pods")
		}
		w = a.newWorker(key, pod)
	}
	w.mu.Lock()
	killing := w.killing
	w.mu.Unlock()
	if killing {
		return nil
	}
	return a.syncLive(ctx, w, pod)
}

// graceOf is the grace period to kill a pod with.
func graceOf(pod *corev1.Pod) time.Duration {
	if g := pod.GetMetadata().DeletionGracePeriodSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	if g := pod.GetSpec().TerminationGracePeriodSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	return 30 * time.Second
}

// rejectPod fails a pod the node cannot admit.
func (a *agent) rejectPod(ctx context.Context, pod *corev1.Pod, reason, msg string) error {
	if pod.GetStatus().GetPhase() == "Failed" {
		return nil
	}
	a.k.recorder.Eventf(pod, record.Warning, reason, "%s", msg)
	st := proto.Clone(pod.GetStatus()).(*corev1.PodStatus)
	if st == nil {
		st = &corev1.PodStatus{}
	}
	st.Phase, st.Reason, st.Message = "Failed", reason, "Pod "+msg
	a.k.status.set(podKey(pod), pod.GetMetadata().GetUid(), st)
	return nil
}

func (a *agent) newWorker(key string, pod *corev1.Pod) *podWorker {
	w := &podWorker{key: key, uid: pod.GetMetadata().GetUid(), pod: pod, firstSeen: time.Now(),
		containers: map[string]*ctrState{}, volumeVersions: map[string]string{}, killed: make(chan struct{})}
	a.restoreFromStatus(w, pod)
	a.mu.Lock()
	a.workers[key] = w
	a.mu.Unlock()
	return w
}

// restoreFromStatus picks up what an earlier kubelet instance reported:
// restart counts, start time, and containers that terminated (a container
// that was running is gone: it counts as exited, so restartPolicy decides).
func (a *agent) restoreFromStatus(w *podWorker, pod *corev1.Pod) {
	st := pod.GetStatus()
	if st.GetStartTime() != nil {
		w.startTime = st.GetStartTime().AsTime()
	}
	restore := func(list []*corev1.ContainerStatus, init bool) {
		for _, s := range list {
			if s.GetContainerId() == "" && s.GetRestartCount() == 0 && s.GetLastState().GetTerminated() == nil {
				continue
			}
			cs := w.ctr(s.GetName(), init)
			cs.restartCount = s.GetRestartCount()
			cs.last = s.GetLastState().GetTerminated()
			cs.image, cs.imageID = s.GetImage(), s.GetImageId()
			switch {
			case s.GetState().GetTerminated() != nil:
				t := s.GetState().GetTerminated()
				cs.hasInst = true
				cs.st = runtime.ContainerStatus{Name: s.GetName(), State: runtime.StateExited, ExitCode: t.GetExitCode(),
					Reason: t.GetReason(), Message: t.GetMessage(), StartedAt: t.GetStartedAt().AsTime(), FinishedAt: t.GetFinishedAt().AsTime()}
			case s.GetState().GetRunning() != nil:
				cs.hasInst = true
				cs.st = runtime.ContainerStatus{Name: s.GetName(), State: runtime.StateExited, ExitCode: 137, Reason: runtime.ReasonError,
					Message: "stopped by a kubelet restart", StartedAt: s.GetState().GetRunning().GetStartedAt().AsTime(), FinishedAt: time.Now()}
			case s.GetLastState().GetTerminated() != nil:
				// Waiting to restart: the status's last state is the exited
				// instance that has not been replaced yet.
				t := s.GetLastState().GetTerminated()
				cs.hasInst = true
				cs.last = nil
				cs.st = runtime.ContainerStatus{Name: s.GetName(), State: runtime.StateExited, ExitCode: t.GetExitCode(),
					Reason: t.GetReason(), Message: t.GetMessage(), StartedAt: t.GetStartedAt().AsTime(), FinishedAt: t.GetFinishedAt().AsTime()}
			}
		}
	}
	restore(st.GetInitContainerStatuses(), true)
	restore(st.GetContainerStatuses(), false)
	if p := st.GetPhase(); p == "Succeeded" || p == "Failed" {
		w.finished = true
	}
}

// syncLive handles a pod that should run.
func (a *agent) syncLive(ctx context.Context, w *podWorker, pod *corev1.Pod) error {
	w.mu.Lock()
	w.pod = pod
	finished := w.finished
	w.mu.Unlock()
	rt := a.runtime()
	if rt == nil {
		a.rtMu.RLock()
		msg := a.rtErr
		a.rtMu.RUnlock()
		w.mu.Lock()
		w.podWaitMsg = msg
		w.mu.Unlock()
		a.setStatus(w)
		return nil // queued again when the runtime is ready
	}
	if finished {
		a.stopFinished(ctx, rt, w)
		a.setStatus(w)
		return nil
	}
	a.refreshContainers(ctx, rt, w)
	if err := a.ensureSandbox(ctx, rt, w, pod); err != nil {
		a.setStatus(w)
		return err
	}

	// Volumes (rewritten when a ConfigMap or Secret changed).
	w.mu.Lock()
	versions := w.volumeVersions
	w.mu.Unlock()
	paths, verr := podVolumes(a.k, pod, filepath.Join(a.k.podDir(w.uid), ".volumes"), versions)
	w.mu.Lock()
	w.volumePaths, w.volumeErr, w.podWaitMsg = paths, verr, ""
	w.mu.Unlock()

	var requeue time.Duration
	want := func(d time.Duration) {
		if d > 0 && (requeue == 0 || d < requeue) {
			requeue = d
		}
	}
	policy := pod.GetSpec().GetRestartPolicy()
	spec := pod.GetSpec()

	// Init containers, one at a time, in order.
	initDone := true
	for _, c := range spec.GetInitContainers() {
		w.mu.Lock()
		cs := w.ctr(c.GetName(), true)
		w.mu.Unlock()
		if cs.hasInst && cs.st.State == runtime.StateExited && cs.st.ExitCode == 0 {
			continue
		}
		initDone = false
		switch {
		case cs.hasInst && cs.st.State == runtime.StateRunning:
			a.clearWait(w, cs)
		case cs.hasInst && cs.st.State == runtime.StateExited:
			if policy == "Never" {
				w.mu.Lock()
				w.initFailed = true
				w.mu.Unlock()
				break
			}
			want(a.restart(ctx, rt, w, pod, c, cs))
		default:
			want(a.startContainer(ctx, rt, w, pod, c, cs))
		}
		break
	}
	w.mu.Lock()
	initFailed := w.initFailed
	w.mu.Unlock()

	if initDone && !initFailed {
		for _, c := range spec.GetContainers() {
			w.mu.Lock()
			cs := w.ctr(c.GetName(), false)
			liveFail := cs.liveFailMsg
			w.mu.Unlock()
			if cs.hasInst && cs.st.State == runtime.StateRunning {
				switch {
				case liveFail != "":
					a.k.recorder.Eventf(pod, record.Normal, "Killing", "Container %s %s, will be restarted", c.GetName(), liveFail)
					a.stopInstance(ctx, rt, w, cs, probeGrace(pod, c))
				case cs.image != "" && c.GetImage() != cs.image:
					a.k.recorder.Eventf(pod, record.Normal, "Killing", "Container %s definition changed, will be restarted", c.GetName())
					a.stopInstance(ctx, rt, w, cs, graceOf(pod))
				default:
					a.clearWait(w, cs)
					continue
				}
			}
			switch {
			case cs.hasInst && cs.st.State == runtime.StateExited:
				if !shouldRestart(policy, cs.st.ExitCode) {
					a.clearWait(w, cs)
					continue
				}
				want(a.restart(ctx, rt, w, pod, c, cs))
			case cs.hasInst && cs.st.State == runtime.StateCreated:
				// Created but never started (a failed start): start over.
				want(a.restart(ctx, rt, w, pod, c, cs))
			case !cs.hasInst:
				want(a.startContainer(ctx, rt, w, pod, c, cs))
			}
		}
	}

	if a.podDone(w, pod) {
		a.stopFinished(ctx, rt, w)
	}
	a.setStatus(w)
	if requeue > 0 {
		return controller.RequeueAfter(requeue)
	}
	return nil
}

func shouldRestart(policy string, exitCode int32) bool {
	switch policy {
	case "Never":
		return false
	case "OnFailure":
		return exitCode != 0
	}
	return true
}

// podDone reports whether no container of the pod will run again.
func (a *agent) podDone(w *podWorker, pod *corev1.Pod) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.initFailed {
		return true
	}
	policy := pod.GetSpec().GetRestartPolicy()
	if policy == "Always" || policy == "" {
		return false
	}
	for _, c := range pod.GetSpec().GetContainers() {
		cs, ok := w.containers[c.GetName()]
		if !ok || !cs.hasInst || cs.st.State != runtime.StateExited || shouldRestart(policy, cs.st.ExitCode) {
			return false
		}
	}
	return true
}

// stopFinished stops the sandbox of a pod whose containers are all done
// (releasing its IP), keeping the record for the status.
func (a *agent) stopFinished(ctx context.Context, rt runtime.Runtime, w *podWorker) {
	w.mu.Lock()
	sb := w.sandboxID
	already := w.finished
	w.finished = true
	w.mu.Unlock()
	if already && sb == "" {
		return
	}
	a.stopProbes(w)
	if sb != "" {
		if err := rt.StopPodSandbox(ctx, sb); err != nil {
			a.log.Warn("stop sandbox of finished pod failed", "pod", w.key, "err", err)
		}
	}
}

func (a *agent) clearWait(w *podWorker, cs *ctrState) {
	w.mu.Lock()
	cs.waitReason, cs.waitMsg = "", ""
	w.mu.Unlock()
}

func (a *agent) setWait(w *podWorker, cs *ctrState, reason, msg string) {
	w.mu.Lock()
	cs.waitReason, cs.waitMsg = reason, msg
	w.mu.Unlock()
}

// refreshContainers reads the state of every current instance.
func (a *agent) refreshContainers(ctx context.Context, rt runtime.Runtime, w *podWorker) {
	w.mu.Lock()
	type item struct {
		cs *ctrState
		id string
	}
	var items []item
	for _, cs := range w.containers {
		if cs.id != "" {
			items = append(items, item{cs, cs.id})
		}
	}
	w.mu.Unlock()
	for _, it := range items {
		st, err := rt.ContainerStatus(ctx, it.id)
		w.mu.Lock()
		switch {
		case err == nil:
			prev := it.cs.st.State
			it.cs.st = st
			if st.State != runtime.StateRunning && prev == runtime.StateRunning {
				it.cs.ready, it.cs.started = false, false
			}
		case errors.Is(err, runtime.ErrNotFound):
			// Gone behind our back (the runtime restarted): it exited.
			if it.cs.st.State != runtime.StateExited {
				it.cs.st.State, it.cs.st.ExitCode, it.cs.st.Reason = runtime.StateExited, 137, runtime.ReasonError
				it.cs.st.Message, it.cs.st.FinishedAt = "container disappeared from the runtime", time.Now()
			}
			it.cs.id = ""
			it.cs.ready, it.cs.started = false, false
		}
		stopProbe := it.cs.st.State != runtime.StateRunning && it.cs.probeStop != nil
		var cancel context.CancelFunc
		if stopProbe {
			cancel, it.cs.probeStop = it.cs.probeStop, nil
		}
		w.mu.Unlock()
		if cancel != nil {
			cancel()
		}
	}
}

// ensureSandbox makes sure the pod has a ready sandbox: adopted from a
// previous kubelet, or new. A sandbox that died takes its containers with it.
func (a *agent) ensureSandbox(ctx context.Context, rt runtime.Runtime, w *podWorker, pod *corev1.Pod) error {
	w.mu.Lock()
	sb := w.sandboxID
	w.mu.Unlock()
	if sb != "" {
		st, err := rt.PodSandboxStatus(ctx, sb)
		if err == nil && st.Ready {
			return nil
		}
		a.log.Warn("pod sandbox is gone; recreating it", "pod", w.key, "sandbox", sb)
		a.stopProbes(w)
		_ = rt.RemovePodSandbox(ctx, sb)
		w.mu.Lock()
		for _, cs := range w.containers {
			if cs.id != "" && cs.st.State == runtime.StateRunning {
				cs.st.State, cs.st.ExitCode, cs.st.Reason = runtime.StateExited, 137, runtime.ReasonError
				cs.st.Message, cs.st.FinishedAt = "pod sandbox changed", time.Now()
			}
			cs.id = ""
		}
		w.sandboxID, w.podIP = "", ""
		w.mu.Unlock()
		a.mu.Lock()
		delete(a.sandboxOwner, sb)
		a.mu.Unlock()
	}
	// Adopt a ready sandbox a previous kubelet left for this pod.
	if sbs, err := rt.ListPodSandboxes(ctx); err == nil {
		for _, s := range sbs {
			if s.UID == w.uid && s.Ready {
				a.adoptSandbox(w, s.ID, s.IP)
				a.log.Info("pod sandbox adopted", "pod", w.key, "sandbox", s.ID, "ip", s.IP)
				return nil
			}
		}
	}
	cfg := a.sandboxConfig(pod)
	id, err := rt.RunPodSandbox(ctx, cfg)
	if err != nil {
		a.k.recorder.Eventf(pod, record.Warning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", err)
		w.mu.Lock()
		w.podWaitMsg = "failed to create pod sandbox: " + err.Error()
		w.mu.Unlock()
		return fmt.Errorf("pod %s: create sandbox: %w", w.key, err)
	}
	st, err := rt.PodSandboxStatus(ctx, id)
	if err != nil {
		_ = rt.RemovePodSandbox(ctx, id)
		return fmt.Errorf("pod %s: sandbox status: %w", w.key, err)
	}
	a.adoptSandbox(w, id, st.IP)
	return nil
}

func (a *agent) adoptSandbox(w *podWorker, id, ip string) {
	w.mu.Lock()
	w.sandboxID, w.podIP = id, ip
	if w.startTime.IsZero() {
		w.startTime = time.Now()
	}
	w.mu.Unlock()
	a.mu.Lock()
	a.sandboxOwner[id] = w.key
	a.mu.Unlock()
}

// sandboxConfig builds the pod's sandbox: hostname, DNS, limits.
func (a *agent) sandboxConfig(pod *corev1.Pod) runtime.PodSandboxConfig {
	m := pod.GetMetadata()
	host := pod.GetSpec().GetHostname()
	if host == "" {
		host = m.GetName()
	}
	if len(host) > 63 {
		host = strings.TrimRight(host[:63], "-.")
	}
	cfg := runtime.PodSandboxConfig{UID: m.GetUid(), Name: m.GetName(), Namespace: m.GetNamespace(),
		Hostname: host, DNS: a.dnsConfig(pod), Labels: m.GetLabels()}
	// A pod-level limit only when every container has one.
	var cpu, mem int64
	cpuAll, memAll := true, true
	for _, c := range pod.GetSpec().GetContainers() {
		l := containerResources(c)
		cpu += l.cpuLimit
		mem += l.memLimit
		cpuAll = cpuAll && l.cpuLimit > 0
		memAll = memAll && l.memLimit > 0
	}
	for _, c := range pod.GetSpec().GetInitContainers() {
		l := containerResources(c)
		cpu, mem = max(cpu, l.cpuLimit), max(mem, l.memLimit)
	}
	if cpuAll && len(pod.GetSpec().GetContainers()) > 0 {
		cfg.CPUMilliLimit = cpu
	}
	if memAll && len(pod.GetSpec().GetContainers()) > 0 {
		cfg.MemoryLimitBytes = mem
	}
	return cfg
}

// dnsConfig renders the pod's resolv.conf (nil: the runtime's default).
func (a *agent) dnsConfig(pod *corev1.Pod) *runtime.DNSConfig {
	spec := pod.GetSpec()
	var d *runtime.DNSConfig
	switch spec.GetDnsPolicy() {
	case "None":
		d = &runtime.DNSConfig{}
	case "Default":
	default: // ClusterFirst, ClusterFirstWithHostNet
		if len(a.k.cfg.ClusterDNS) > 0 {
			dom := a.k.cfg.ClusterDomain
			ns := pod.GetMetadata().GetNamespace()
			d = &runtime.DNSConfig{
				Servers:  append([]string(nil), a.k.cfg.ClusterDNS...),
				Searches: []string{ns + ".svc." + dom, "svc." + dom, dom},
				Options:  []string{"ndots:5"},
			}
		}
	}
	if dc := spec.GetDnsConfig(); dc != nil {
		if d == nil {
			d = &runtime.DNSConfig{}
		}
		d.Servers = append(d.Servers, dc.GetNameservers()...)
		d.Searches = append(d.Searches, dc.GetSearches()...)
		for _, o := range dc.GetOptions() {
			opt := o.GetName()
			if o.Value != nil {
				opt += ":" + o.GetValue()
			}
			d.Options = append(d.Options, opt)
		}
	}
	return d
}

type resources struct{ cpuLimit, cpuRequest, memLimit int64 }

func containerResources(c *corev1.Container) resources {
	var r resources
	parse := func(s string, milli bool) int64 {
		if s == "" {
			return 0
		}
		q, err := resource.ParseQuantity(s)
		if err != nil {
			return 0
		}
		if milli {
			return q.MilliValue()
		}
		return q.Value()
	}
	r.cpuLimit = parse(c.GetResources().GetLimits()["cpu"], true)
	r.cpuRequest = parse(c.GetResources().GetRequests()["cpu"], true)
	r.memLimit = parse(c.GetResources().GetLimits()["memory"], false)
	return r
}

// restart replaces an exited instance after the crash-loop back-off.
func (a *agent) restart(ctx context.Context, rt runtime.Runtime, w *podWorker, pod *corev1.Pod, c *corev1.Container, cs *ctrState) time.Duration {
	finished := cs.st.FinishedAt
	if finished.IsZero() {
		finished = time.Now()
	}
	remaining, delay := a.k.backoff.wait(backoffKey(w.uid, c.GetName()), finished)
	if remaining > 0 {
		msg := fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", delay,
			c.GetName(), pod.GetMetadata().GetName(), pod.GetMetadata().GetNamespace(), w.uid)
		w.mu.Lock()
		first := cs.waitReason != reasonCrashLoopBackOff
		cs.waitReason, cs.waitMsg = reasonCrashLoopBackOff, msg
		w.mu.Unlock()
		if first {
			a.k.recorder.Eventf(pod, record.Warning, "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)",
				c.GetName(), pod.GetMetadata().GetName(), pod.GetMetadata().GetNamespace(), w.uid)
		}
		return remaining
	}
	return a.startContainer(ctx, rt, w, pod, c, cs)
}

// retire turns the current instance into the last state and removes it.
func (a *agent) retire(ctx context.Context, rt runtime.Runtime, w *podWorker, cs *ctrState) {
	w.mu.Lock()
	if !cs.hasInst {
		w.mu.Unlock()
		return
	}
	cs.last = terminatedState(cs)
	old := cs.id
	cs.id, cs.hasInst, cs.st, cs.startMsg = "", false, runtime.ContainerStatus{}, ""
	cs.restartCount++
	cs.ready, cs.started, cs.liveFailMsg = false, false, ""
	w.mu.Unlock()
	a.k.metrics.restarts.Inc()
	if old != "" {
		if err := rt.RemoveContainer(ctx, old); err != nil {
			a.log.Warn("remove exited container failed", "pod", w.key, "container", cs.name, "err", err)
		}
	}
}

// startContainer creates and starts a new instance of c (retiring an
// exited one first), returning when to retry after a failure.
func (a *agent) startContainer(ctx context.Context, rt runtime.Runtime, w *podWorker, pod *corev1.Pod, c *corev1.Container, cs *ctrState) time.Duration {
	retry := a.k.cfg.BackoffInitial
	name := c.GetName()

	// The image, with its own back-off.
	var img *resolvedImage
	if a.needsImage(c) {
		ikey := imageBackoffKey(w.uid, name)
		w.mu.Lock()
		lastReason, lastMsg := cs.waitReason, cs.waitMsg
		w.mu.Unlock()
		if lastReason == "ErrImagePull" || lastReason == reasonImagePullBackOff || lastReason == "ErrImageNeverPull" || lastReason == "InvalidImageName" {
			if remaining, _ := a.k.backoff.peek(ikey, time.Now()); remaining > 0 {
				if lastReason == "ErrImagePull" || lastReason == reasonImagePullBackOff {
					msg := lastMsg
					if lastReason == "ErrImagePull" {
						msg = fmt.Sprintf("Back-off pulling image %q: %s", c.GetImage(), lastMsg)
						a.k.recorder.Eventf(pod, record.Normal, "BackOff", "Back-off pulling image %q", c.GetImage())
					}
					a.setWait(w, cs, reasonImagePullBackOff, msg)
				}
				return remaining
			}
		}
		start := time.Now()
		var err error
		img, err = a.ensureImage(ctx, pod, c)
		if err != nil {
			var ie *imageError
			reason, msg := "ErrImagePull", err.Error()
			if errors.As(err, &ie) {
				reason, msg = ie.reason, ie.msg
			}
			_, delay := a.k.backoff.wait(ikey, time.Now())
			a.setWait(w, cs, reason, msg)
			return max(delay, 100*time.Millisecond)
		}
		a.k.backoff.forget(ikey)
		w.mu.Lock()
		w.pullTime += time.Since(start)
		w.mu.Unlock()
	}

	// Environment, command, mounts.
	w.mu.Lock()
	podIP, volPaths, volErr := w.podIP, w.volumePaths, w.volumeErr
	w.mu.Unlock()
	if volErr != nil && mountsFailedVolume(pod, c, volErr) {
		a.setWait(w, cs, reasonConfigError, volErr.Error())
		a.k.recorder.Eventf(pod, record.Warning, "Failed", "Error: %s", volErr.Error())
		return retry
	}
	ec := &envContext{pod: pod, podIP: podIP, hostIP: a.ip, nodeCPUMilli: a.k.machine.cpuMilli, nodeMemory: a.k.machine.memoryBytes, objects: a.k}
	var imageEnv []string
	if img != nil {
		imageEnv = img.config.Env
	}
	env, vars, err := containerEnv(ec, c, imageEnv)
	if err != nil {
		a.setWait(w, cs, reasonConfigError, err.Error())
		a.k.recorder.Eventf(pod, record.Warning, "Failed", "Error: %s", err.Error())
		return retry
	}
	mounts, err := containerMounts(pod, c, volPaths)
	if err != nil {
		a.setWait(w, cs, reasonConfigError, err.Error())
		return retry
	}
	argv := containerArgv(c, img, vars)
	if len(argv) == 0 {
		if a.mode != RuntimeFake {
			a.setWait(w, cs, reasonCreateContainerError, errNoCommand.Error())
			return retry
		}
		argv = []string{"/pause"}
	}
	res := containerResources(c)
	cfg := runtime.ContainerConfig{
		Name: name, Image: c.GetImage(), Command: argv, Env: env, WorkingDir: c.GetWorkingDir(), Mounts: mounts,
		CPUMilliLimit: res.cpuLimit, CPUMilliRequest: res.cpuRequest, MemoryLimitBytes: res.memLimit,
		Stdin: c.GetStdin(), TTY: c.GetTty(),
	}
	imageID := ""
	if img != nil {
		cfg.RootFS = img.rootfs
		imageID = img.id
		if cfg.WorkingDir == "" {
			cfg.WorkingDir = img.config.WorkingDir
		}
	}

	// The previous instance becomes the last state.
	a.retire(ctx, rt, w, cs)
	w.mu.Lock()
	n := cs.restartCount
	sb := w.sandboxID
	w.mu.Unlock()

	var lw *logWriter
	if a.mode != RuntimeFake {
		path := a.k.logPath(w.uid, name, n)
		lw, err = a.k.logs.open(path, a.k.cfg.LogMaxBytes)
		if err != nil {
			a.log.Warn("container log unavailable", "pod", w.key, "container", name, "err", err)
		} else {
			cfg.LogPath = lw.fifo
		}
		// Keep the previous instance's log (for --previous), drop older ones.
		for _, old := range instanceNumbers(filepath.Dir(path)) {
			if old < int(n)-1 {
				_ = os.Remove(a.k.logPath(w.uid, name, int32(old)))
				_ = os.Remove(a.k.logPath(w.uid, name, int32(old)) + ".1")
			}
		}
	}
	id, err := rt.CreateContainer(ctx, sb, cfg)
	if err != nil {
		if lw != nil {
			lw.started()
		}
		a.setWait(w, cs, reasonCreateContainerError, err.Error())
		a.k.recorder.Eventf(pod, record.Warning, "Failed", "Error: %s", err.Error())
		return retry
	}
	w.mu.Lock()
	cs.id, cs.hasInst, cs.image, cs.imageID = id, true, c.GetImage(), imageID
	cs.st = runtime.ContainerStatus{ID: id, State: runtime.StateCreated}
	cs.waitReason, cs.waitMsg = "", ""
	cs.logw = lw
	if lw != nil {
		cs.logPath = lw.path
	}
	w.mu.Unlock()
	a.k.recorder.Eventf(pod, record.Normal, "Created", "Created container %s", name)
	startErr := rt.StartContainer(ctx, id)
	if lw != nil {
		lw.started()
	}
	if st, err := rt.ContainerStatus(ctx, id); err == nil {
		w.mu.Lock()
		cs.st = st
		w.mu.Unlock()
	}
	if startErr != nil {
		msg := cs.st.Message
		if msg == "" {
			msg = startErr.Error()
		}
		if strings.Contains(msg, "exec format error") && img != nil {
			msg = a.platformMessage(c.GetImage(), msg)
		}
		w.mu.Lock()
		cs.startMsg = msg
		w.mu.Unlock()
		a.k.recorder.Eventf(pod, record.Warning, "Failed", "Error: %s", msg)
		return 10 * time.Millisecond // the restart policy decides on the next sync
	}
	a.k.recorder.Eventf(pod, record.Normal, "Started", "Started container %s", name)
	if h := c.GetLifecycle().GetPostStart(); h != nil {
		if err := a.runHandler(ctx, w, cs, c, h, 30*time.Second); err != nil {
			a.k.recorder.Eventf(pod, record.Warning, "FailedPostStartHook", "PostStartHook failed: %v", err)
			a.stopInstance(ctx, rt, w, cs, graceOf(pod))
			return 0
		}
	}
	a.startProbes(w, cs, c)
	return 0
}

// mountsFailedVolume reports whether c mounts a volume whose setup failed.
func mountsFailedVolume(pod *corev1.Pod, c *corev1.Container, volErr error) bool {
	msg := volErr.Error()
	for _, vm := range c.GetVolumeMounts() {
		for _, v := range pod.GetSpec().GetVolumes() {
			if v.GetName() != vm.GetName() {
				continue
			}
			var ref string
			switch {
			case v.GetConfigMap() != nil:
				ref = fmt.Sprintf("configmap %q", v.GetConfigMap().GetName())
			case v.GetSecret() != nil:
				ref = fmt.Sprintf("secret %q", v.GetSecret().GetSecretName())
			case v.GetHostPath() != nil:
				ref = v.GetHostPath().GetPath()
			default:
				ref = v.GetName()
			}
			if strings.Contains(msg, ref) {
				return true
			}
		}
	}
	return false
}

// stopInstance stops the current instance of a running container (failed
// liveness probe, changed image, failed postStart hook).
func (a *agent) stopInstance(ctx context.Context, rt runtime.Runtime, w *podWorker, cs *ctrState, grace time.Duration) {
	w.mu.Lock()
	id := cs.id
	cs.liveFailMsg = ""
	cancel := cs.probeStop
	cs.probeStop = nil
	w.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if id == "" {
		return
	}
	if err := rt.StopContainer(ctx, id, grace); err != nil {
		a.log.Warn("stop container failed", "pod", w.key, "container", cs.name, "err", err)
	}
	if st, err := rt.ContainerStatus(ctx, id); err == nil {
		w.mu.Lock()
		cs.st = st
		cs.ready, cs.started = false, false
		w.mu.Unlock()
	}
}

// probeGrace is the grace period of a container killed by a probe.
func probeGrace(pod *corev1.Pod, c *corev1.Container) time.Duration {
	for _, p := range []*corev1.Probe{c.GetLivenessProbe(), c.GetStartupProbe()} {
		if g := p.GetTerminationGracePeriodSeconds(); p != nil && p.TerminationGracePeriodSeconds != nil {
			return time.Duration(g) * time.Second
		}
	}
	return graceOf(pod)
}

// startKill starts killing a pod's containers (once); deleteAfter also
// removes the Pod object when they are gone.
func (a *agent) startKill(w *podWorker, grace time.Duration, deleteAfter bool) {
	w.mu.Lock()
	if w.killing {
		w.mu.Unlock()
		return
	}
	w.killing = true
	pod := w.pod
	w.mu.Unlock()
	a.stopProbes(w)
	go func() {
		ctx := a.k.runtimeCtx
		a.killPod(ctx, w, pod, grace)
		if deleteAfter {
			if err := a.deletePodObject(ctx, w.key, pod); err != nil {
				a.log.Warn("delete pod failed", "pod", w.key, "err", err)
			}
		}
		a.forget(w)
		close(w.killed)
		a.k.podCtl.Enqueue(w.key)
	}()
}

// killPod runs preStop hooks, stops every container with the grace period
// and removes the sandbox.
func (a *agent) killPod(ctx context.Context, w *podWorker, pod *corev1.Pod, grace time.Duration) {
	rt := a.runtime()
	if rt == nil {
		return
	}
	w.mu.Lock()
	type victim struct {
		cs   *ctrState
		id   string
		spec *corev1.Container
	}
	var vs []victim
	for _, cs := range w.containers {
		if cs.id != "" && cs.st.State != runtime.StateExited {
			var spec *corev1.Container
			for _, c := range append(append([]*corev1.Container(nil), pod.GetSpec().GetContainers()...), pod.GetSpec().GetInitContainers()...) {
				if c.GetName() == cs.name {
					spec = c
				}
			}
			vs = append(vs, victim{cs, cs.id, spec})
		}
	}
	sb := w.sandboxID
	w.mu.Unlock()
	var wg sync.WaitGroup
	for _, v := range vs {
		wg.Go(func() {
			a.k.recorder.Eventf(pod, record.Normal, "Killing", "Stopping container %s", v.cs.name)
			left := grace
			if h := v.spec.GetLifecycle().GetPreStop(); h != nil && grace > 0 {
				start := time.Now()
				if err := a.runHandler(ctx, w, v.cs, v.spec, h, grace); err != nil {
					a.k.recorder.Eventf(pod, record.Warning, "FailedPreStopHook", "PreStopHook failed: %v", err)
				}
				left = max(grace-time.Since(start), minGraceAfterPreStop)
			}
			if err := rt.StopContainer(ctx, v.id, left); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				a.log.Warn("stop container failed", "pod", w.key, "container", v.cs.name, "err", err)
			}
		})
	}
	wg.Wait()
	if sb != "" {
		if err := rt.RemovePodSandbox(ctx, sb); err != nil {
			a.log.Warn("remove sandbox failed", "pod", w.key, "sandbox", sb, "err", err)
		}
	}
	a.log.Info("pod killed", "pod", w.key, "uid", w.uid, "grace", grace)
}

// forget drops a killed pod's record, back-off entries and directory.
func (a *agent) forget(w *podWorker) {
	a.mu.Lock()
	if a.workers[w.key] == w {
		delete(a.workers, w.key)
	}
	w.mu.Lock()
	sb := w.sandboxID
	var writers []*logWriter
	for _, cs := range w.containers {
		if cs.logw != nil {
			writers = append(writers, cs.logw)
		}
	}
	w.mu.Unlock()
	delete(a.sandboxOwner, sb)
	a.mu.Unlock()
	a.k.backoff.forget(w.uid + "/")
	a.k.backoff.forget("img/" + w.uid + "/")
	a.k.status.forget(w.key, w.uid)
	for _, lw := range writers {
		lw.waitDone(2 * time.Second)
	}
	if a.mode != RuntimeFake {
		if err := removeAllRetry(a.k.podDir(w.uid)); err != nil {
			a.log.Warn("remove pod directory failed", "pod", w.key, "err", err)
		}
	}
}

// deletePodObject removes the Pod from the API once its containers are
// gone (grace 0, guarded by its UID).
func (a *agent) deletePodObject(ctx context.Context, key string, pod *corev1.Pod) error {
	m := pod.GetMetadata()
	uid := m.GetUid()
	_, err := a.k.client.Pods().Delete(ctx, &metav1.DeleteRequest{Namespace: m.GetNamespace(), Name: m.GetName(),
		GracePeriodSeconds: proto.Int64(0), Preconditions: &metav1.Preconditions{Uid: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete pod %s: %w", key, err)
	}
	return nil
}

// removeOrphans removes sandboxes no pod owns and directories of pods that
// are gone.
func (a *agent) removeOrphans(ctx context.Context) {
	rt := a.runtime()
	if rt == nil {
		return
	}
	known := map[string]bool{}
	for _, p := range a.k.pods.ByIndex(indexNode, a.name) {
		known[p.GetMetadata().GetUid()] = true
	}
	a.mu.Lock()
	for _, w := range a.workers {
		known[w.uid] = true
	}
	owned := map[string]bool{}
	for sb := range a.sandboxOwner {
		owned[sb] = true
	}
	a.mu.Unlock()
	sbs, err := rt.ListPodSandboxes(ctx)
	if err != nil {
		return
	}
	for _, s := range sbs {
		if owned[s.ID] || known[s.UID] {
			continue
		}
		a.log.Info("removing orphaned sandbox", "sandbox", s.ID, "pod", s.Namespace+"/"+s.Name, "uid", s.UID)
		if err := rt.RemovePodSandbox(ctx, s.ID); err != nil {
			a.log.Warn("remove orphaned sandbox failed", "sandbox", s.ID, "err", err)
		}
	}
	if a.mode == RuntimeFake {
		return
	}
	ents, err := os.ReadDir(filepath.Join(a.k.cfg.RootDir, "pods"))
	if err != nil {
		return
	}
	for _, e := range ents {
		if !known[e.Name()] {
			_ = removeAllRetry(filepath.Join(a.k.cfg.RootDir, "pods", e.Name()))
		}
	}
}
