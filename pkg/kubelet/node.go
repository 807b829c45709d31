package kubelet

import (
	"context"
	"fmt"
	"maps"
	goruntime "runtime"
	"slices"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	coordinationv1 "github.com/coxswain/coxswain/proto/coxswain/coordination/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// NodeLeaseNamespace holds the kubelets' heartbeat Leases.
const NodeLeaseNamespace = "kube-node-lease"

// leaseDurationSeconds is the Lease's advertised duration (Kubernetes' 40s).
const leaseDurationSeconds = 40

// Node condition types.
const (
	condReady          = "Ready"
	condMemoryPressure = "MemoryPressure"
	condDiskPressure   = "DiskPressure"
	condPIDPressure    = "PIDPressure"
)

// nodeLabels are the labels the kubelet puts on its Node.
func (a *agent) nodeLabels() map[string]string {
	l := map[string]string{
		"kubernetes.io/hostname": a.name,
		"kubernetes.io/os":       goruntime.GOOS,
		"kubernetes.io/arch":     goruntime.GOARCH,
	}
	maps.Copy(l, a.k.cfg.NodeLabels)
	return l
}

// register creates the Node, or on a restart makes sure the existing one
// carries our labels (taints and podCIDR of an existing Node are kept).
func (a *agent) register(ctx context.Context) error {
	node := &corev1.Node{Metadata: &metav1.ObjectMeta{Name: a.name, Labels: a.nodeLabels()}, Spec: &corev1.NodeSpec{}}
	for _, t := range a.k.cfg.Taints {
		node.Spec.Taints = append(node.Spec.Taints, proto.Clone(t).(*corev1.Taint))
	}
	if c := a.k.cfg.PodCIDR; c != "" && a.k.cfg.HollowNodes == 0 {
		node.Spec.PodCidr, node.Spec.PodCidrs = c, []string{c}
	}
	created, err := a.k.client.Nodes().Create(ctx, node)
	switch {
	case err == nil:
		a.k.log.Info("node registered", "node", a.name)
		a.setNode(created)
		return nil
	case !apierrors.IsAlreadyExists(err):
		return fmt.Errorf("register node %s: %w", a.name, err)
	}
	cur, err := a.k.client.Nodes().Get(ctx, "", a.name)
	if err != nil {
		return fmt.Errorf("register node %s: %w", a.name, err)
	}
	next := api.Clone(cur)
	m := api.Meta(next)
	changed := false
	if m.Labels == nil {
		m.Labels = map[string]string{}
	}
	for k, v := range a.nodeLabels() {
		if m.Labels[k] != v {
			m.Labels[k], changed = v, true
		}
	}
	if next.Spec == nil {
		next.Spec = &corev1.NodeSpec{}
	}
	if c := a.k.cfg.PodCIDR; c != "" && a.k.cfg.HollowNodes == 0 && next.Spec.PodCidr == "" {
		next.Spec.PodCidr, next.Spec.PodCidrs, changed = c, []string{c}, true
	}
	if changed {
		if cur, err = a.k.client.Nodes().Update(ctx, next); err != nil {
			return fmt.Errorf("register node %s: %w", a.name, err)
		}
	}
	a.k.log.Info("node re-registered", "node", a.name)
	a.setNode(cur)
	return nil
}

// setNode records what we learnt from our Node object.
func (a *agent) setNode(n *corev1.Node) {
	a.nodeMu.Lock()
	defer a.nodeMu.Unlock()
	a.nodeUID = n.GetMetadata().GetUid()
	if c := n.GetSpec().GetPodCidr(); c != "" && a.podCIDR == "" {
		a.podCIDR = c
	}
	a.registered = true
}

// observeNode handles a change of our Node seen by the informer: a pod
// CIDR assigned by the controller-manager, or conditions another component
// changed (the node lifecycle controller marking them Unknown).
func (a *agent) observeNode(n *corev1.Node) {
	a.nodeMu.Lock()
	if c := n.GetSpec().GetPodCidr(); c != "" && a.podCIDR == "" {
		a.podCIDR = c
		a.statusDue = time.Time{}
	}
	if w := a.lastNodeStatus; w != nil && conditionStatus(n.GetStatus().GetConditions(), condReady) != conditionStatus(w.GetConditions(), condReady) &&
		n.GetStatus().GetConditions() != nil {
		a.forceStatus = true
		a.statusDue = time.Time{}
	}
	a.nodeMu.Unlock()
}

func conditionStatus(cs []*metav1.Condition, typ string) string {
	for _, c := range cs {
		if c.GetType() == typ {
			return c.GetStatus()
		}
	}
	return ""
}

func findCondition(cs []*metav1.Condition, typ string) *metav1.Condition {
	for _, c := range cs {
		if c.GetType() == typ {
			return c
		}
	}
	return nil
}

// quantity renders a CPU amount in millicores the way Kubernetes writes it.
func cpuQuantity(milli int64) string {
	if milli%1000 == 0 {
		return strconv.FormatInt(milli/1000, 10)
	}
	return strconv.FormatInt(milli, 10) + "m"
}

func memoryQuantity(b int64) string {
	if b%1024 == 0 {
		return strconv.FormatInt(b/1024, 10) + "Ki"
	}
	return strconv.FormatInt(b, 10)
}

// nodeStatus computes the Node status (heartbeat times unset; transition
// times carried over from prev when a condition did not change).
func (a *agent) nodeStatus(prev *corev1.NodeStatus, now time.Time) *corev1.NodeStatus {
	mi := a.k.machine
	capacity := map[string]string{
		"cpu":    cpuQuantity(mi.cpuMilli),
		"memory": memoryQuantity(mi.memoryBytes),
		"pods":   strconv.Itoa(a.k.cfg.MaxPods),
	}
	st := &corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: maps.Clone(capacity),
		Addresses: []*corev1.NodeAddress{
			{Type: "InternalIP", Address: a.ip},
			{Type: "Hostname", Address: a.name},
		},
		DaemonEndpoints: &corev1.NodeDaemonEndpoints{KubeletEndpoint: &corev1.DaemonEndpoint{Port: int32(a.k.grpcPort)}},
		NodeInfo: &corev1.NodeSystemInfo{
			MachineId: mi.machineID, BootId: mi.bootID, KernelVersion: mi.kernel, OsImage: mi.osImage,
			ContainerRuntimeVersion: a.mode + "://" + Version, KubeletVersion: Version,
			OperatingSystem: goruntime.GOOS, Architecture: goruntime.GOARCH,
		},
	}
	ready, reason, msg := a.runtimeReady()
	readyCond := &metav1.Condition{Type: condReady, Status: "True", Reason: "KubeletReady", Message: "kubelet is posting ready status"}
	if !ready {
		readyCond.Status, readyCond.Reason, readyCond.Message = "False", reason, msg
	}
	var p pressure
	if a.k.cfg.HollowNodes == 0 {
		p = measurePressure(a.k.cfg.RootDir)
	}
	conds := []*metav1.Condition{
		boolCondition(condMemoryPressure, p.memory, "KubeletHasInsufficientMemory", "kubelet has insufficient memory available",
			"KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
		boolCondition(condDiskPressure, p.disk, "KubeletHasDiskPressure", "kubelet has disk pressure",
			"KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
		boolCondition(condPIDPressure, p.pid, "KubeletHasInsufficientPID", "kubelet has insufficient PID available",
			"KubeletHasSufficientPID", "kubelet has sufficient PID available"),
		readyCond,
	}
	for _, c := range conds {
		if old := findCondition(prev.GetConditions(), c.Type); old != nil && old.GetStatus() == c.Status && old.LastTransitionTime != nil {
			c.LastTransitionTime = old.LastTransitionTime
		} else {
			c.LastTransitionTime = timestamppb.New(now.Truncate(time.Second))
		}
	}
	st.Conditions = conds
	if a.k.images != nil && a.k.cfg.HollowNodes == 0 {
		if imgs, err := a.k.images.List(); err == nil {
			byID := map[string]*corev1.ContainerImage{}
			var order []string
			for _, img := range imgs {
				ci, ok := byID[img.ID]
				if !ok {
					ci = &corev1.ContainerImage{SizeBytes: img.Size}
					byID[img.ID] = ci
					order = append(order, img.ID)
				}
				ci.Names = append(ci.Names, img.Ref)
			}
			for _, id := range order {
				slices.Sort(byID[id].Names)
				st.Images = append(st.Images, byID[id])
			}
		}
	}
	return st
}

func boolCondition(typ string, on bool, onReason, onMsg, offReason, offMsg string) *metav1.Condition {
	if on {
		return &metav1.Condition{Type: typ, Status: "True", Reason: onReason, Message: onMsg}
	}
	return &metav1.Condition{Type: typ, Status: "False", Reason: offReason, Message: offMsg}
}

// withoutHeartbeats returns a copy of st whose heartbeat times are unset,
// for comparing two statuses.
func withoutHeartbeats(st *corev1.NodeStatus) *corev1.NodeStatus {
	c := proto.Clone(st).(*corev1.NodeStatus)
	for _, cond := range c.Conditions {
		cond.LastHeartbeatTime = nil
	}
	return c
}

// updateNodeStatus writes the Node status when it changed or when the
// report interval passed.
func (a *agent) updateNodeStatus(ctx context.Context, now time.Time) error {
	a.nodeMu.Lock()
	prev := a.lastNodeStatus
	force := a.forceStatus || now.Sub(a.lastStatusWrite) >= a.k.cfg.StatusReportInterval
	a.nodeMu.Unlock()
	st := a.nodeStatus(prev, now)
	if !force && prev != nil && proto.Equal(withoutHeartbeats(prev), st) {
		return nil
	}
	hb := timestamppb.New(now)
	for _, c := range st.Conditions {
		c.LastHeartbeatTime = hb
	}
	node := &corev1.Node{Metadata: &metav1.ObjectMeta{Name: a.name, Uid: a.nodeUIDValue()}, Status: st}
	out, err := a.k.client.Nodes().UpdateStatus(ctx, node)
	if err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			// Deleted (or replaced) behind our back: register again.
			a.nodeMu.Lock()
			a.registered = false
			a.nodeMu.Unlock()
		}
		return fmt.Errorf("update node %s status: %w", a.name, err)
	}
	a.nodeMu.Lock()
	a.lastNodeStatus = withoutHeartbeats(st)
	a.lastStatusWrite = now
	a.forceStatus = false
	a.nodeMu.Unlock()
	if c := out.GetSpec().GetPodCidr(); c != "" {
		a.nodeMu.Lock()
		if a.podCIDR == "" {
			a.podCIDR = c
		}
		a.nodeMu.Unlock()
	}
	return nil
}

func (a *agent) nodeUIDValue() string {
	a.nodeMu.Lock()
	defer a.nodeMu.Unlock()
	return a.nodeUID
}

// renewLease creates or renews kube-node-lease/<node>.
func (a *agent) renewLease(ctx context.Context, now time.Time) error {
	leases := a.k.client.Leases()
	a.nodeMu.Lock()
	cur := a.lease
	uid := a.nodeUID
	a.nodeMu.Unlock()
	renew := timestamppb.New(now)
	if cur == nil {
		l := &coordinationv1.Lease{
			Metadata: &metav1.ObjectMeta{Name: a.name, Namespace: NodeLeaseNamespace},
			Spec: &coordinationv1.LeaseSpec{HolderIdentity: proto.String(a.name),
				LeaseDurationSeconds: proto.Int32(leaseDurationSeconds), RenewTime: renew},
		}
		if uid != "" {
			l.Metadata.OwnerReferences = []*metav1.OwnerReference{{ApiVersion: "v1", Kind: "Node", Name: a.name, Uid: uid}}
		}
		out, err := leases.Create(ctx, l)
		if apierrors.IsAlreadyExists(err) {
			if out, err = leases.Get(ctx, NodeLeaseNamespace, a.name); err == nil {
				a.nodeMu.Lock()
				a.lease = out
				a.nodeMu.Unlock()
				return a.renewLease(ctx, now)
			}
		}
		if err != nil {
			return fmt.Errorf("create lease %s: %w", a.name, err)
		}
		a.nodeMu.Lock()
		a.lease = out
		a.nodeMu.Unlock()
		return nil
	}
	next := api.Clone(cur)
	if next.Spec == nil {
		next.Spec = &coordinationv1.LeaseSpec{}
	}
	next.Spec.RenewTime = renew
	next.Spec.HolderIdentity = proto.String(a.name)
	next.Spec.LeaseDurationSeconds = proto.Int32(leaseDurationSeconds)
	out, err := leases.Update(ctx, next)
	if err != nil {
		// Conflict or gone: start from the server's copy next time.
		a.nodeMu.Lock()
		a.lease = nil
		a.nodeMu.Unlock()
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return a.renewLease(ctx, now)
		}
		return fmt.Errorf("renew lease %s: %w", a.name, err)
	}
	a.nodeMu.Lock()
	a.lease = out
	a.nodeMu.Unlock()
	return nil
}

// heartbeat registers the node if needed, renews the lease when due and
// updates the status when due. It returns when the next call is due.
func (a *agent) heartbeat(ctx context.Context) time.Duration {
	now := time.Now()
	interval := a.k.cfg.HeartbeatInterval
	a.nodeMu.Lock()
	registered := a.registered
	a.nodeMu.Unlock()
	if !registered {
		if err := a.register(ctx); err != nil {
			a.failures++
			a.k.log.Warn("node registration failed", "node", a.name, "err", err)
			return min(time.Duration(a.failures)*time.Second, interval)
		}
		a.failures = 0
		a.nodeMu.Lock()
		a.statusDue = time.Time{}
		a.forceStatus = true
		a.nodeMu.Unlock()
	}
	a.ensureRuntime(ctx)
	a.nodeMu.Lock()
	leaseDue, statusDue := a.leaseDue, a.statusDue
	a.nodeMu.Unlock()
	failed := false
	if !now.Before(statusDue) {
		if err := a.updateNodeStatus(ctx, now); err != nil {
			a.k.log.Warn("node status update failed", "node", a.name, "err", err)
			failed = true
			a.nodeMu.Lock()
			a.statusDue = now.Add(time.Second)
			a.nodeMu.Unlock()
		} else {
			a.nodeMu.Lock()
			a.statusDue = now.Add(interval)
			a.nodeMu.Unlock()
		}
	}
	if !now.Before(leaseDue) {
		if err := a.renewLease(ctx, now); err != nil {
			a.k.log.Warn("node lease renewal failed", "node", a.name, "err", err)
			failed = true
			a.nodeMu.Lock()
			a.leaseDue = now.Add(time.Second)
			a.nodeMu.Unlock()
		} else {
			a.nodeMu.Lock()
			a.leaseDue = now.Add(interval)
			a.nodeMu.Unlock()
		}
	}
	a.nodeMu.Lock()
	due := a.statusDue
	if a.leaseDue.Before(due) {
		due = a.leaseDue
	}
	a.nodeMu.Unlock()
	next := min(max(time.Until(due), 100*time.Millisecond), interval)
	if failed {
		next = min(next, 2*time.Second)
	}
	if a.runtime() == nil {
		// Still waiting for the pod CIDR (it may arrive while this beat was in flight): look again soon
		// rather than a whole interval later.
		next = min(next, 250*time.Millisecond)
	}
	return next
}

// kickStatus makes the next heartbeat tick write the Node status.
func (a *agent) kickStatus() {
	a.nodeMu.Lock()
	a.statusDue = time.Time{}
	a.nodeMu.Unlock()
	a.k.wakeHeartbeats()
}

// runHeartbeats drives every agent's heartbeat from one loop and a small
// pool of workers, so hollow nodes cost no goroutine each.
func (k *Kubelet) runHeartbeats(ctx context.Context) {
	workers := 1
	if len(k.agentList) > 1 {
		workers = 16
	}
	jobs := make(chan *agent, len(k.agentList))
	done := make(chan *agent, len(k.agentList))
	for range workers {
		go func() {
			for a := range jobs {
				d := a.heartbeat(ctx)
				a.nodeMu.Lock()
				a.nextBeat = time.Now().Add(d)
				a.nodeMu.Unlock()
				done <- a
			}
		}()
	}
	defer close(jobs)
	inflight := map[*agent]bool{}
	// Spread the first beats of hollow nodes over one interval.
	now := time.Now()
	for i, a := range k.agentList {
		a.nodeMu.Lock()
		a.nextBeat = now
		if len(k.agentList) > 1 {
			off := time.Duration(int64(k.cfg.HeartbeatInterval) * int64(i) / int64(len(k.agentList)))
			a.leaseDue = now.Add(off)
		}
		a.nodeMu.Unlock()
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		now := time.Now()
		for _, a := range k.agentList {
			if inflight[a] {
				continue
			}
			a.nodeMu.Lock()
			due := !now.Before(a.nextBeat) || a.statusDue.IsZero() && a.registered
			a.nodeMu.Unlock()
			if due {
				inflight[a] = true
				jobs <- a
			}
		}
		select {
		case <-ctx.Done():
			return
		case a := <-done:
			delete(inflight, a)
		case <-tick.C:
		case <-k.heartbeatWake:
		}
	}
}

func (k *Kubelet) wakeHeartbeats() {
	select {
	case k.heartbeatWake <- struct{}{}:
	default:
	}
}
