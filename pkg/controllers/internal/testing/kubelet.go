package testing

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	gotesting "testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/client/informer"
	"github.com/coxswain/coxswain/pkg/controller"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// KubeletConfig configures a HollowKubelet.
type KubeletConfig struct {
	// Client talks to the apiserver.
	Client *client.Client
	// Nodes are the node names unbound pods are bound to, round robin (default node-1, node-2, node-3). No
	// Node objects are created.
	Nodes []string
	// Ready decides whether a running pod is Ready (nil: every pod). Call Resync after the answer changes.
	Ready func(*corev1.Pod) bool
	// StartDelay is how long a bound pod stays Pending before it runs (default 0).
	StartDelay time.Duration
	// DeleteDelay is how long a pod marked for deletion lingers, as its containers would while they stop,
	// before the kubelet removes it (default 0).
	DeleteDelay time.Duration
	// Namespace restricts the kubelet to one namespace ("" = all).
	Namespace string
	Logger    *slog.Logger
}

// HollowKubelet plays scheduler and kubelet for controller tests: it binds every unbound pod to a fake node,
// reports it Running with a pod IP, Ready (per KubeletConfig.Ready) with ready container statuses, and
// removes pods marked for deletion (a delete with grace period 0), like a kubelet would once their
// containers stopped. No container runs.
type HollowKubelet struct {
	cfg      KubeletConfig
	informer *informer.Informer[*corev1.Pod]
	ctrl     *controller.Controller
	next     atomic.Uint64
	ips      atomic.Uint32

	mu       sync.Mutex
	deleting map[string]time.Time // pod uid → when the kubelet first saw it marked
	started  map[string]time.Time // pod uid → when the kubelet first saw it bound
}

// StartHollowKubelet runs a HollowKubelet until the test ends.
func StartHollowKubelet(t gotesting.TB, cfg KubeletConfig) *HollowKubelet {
	t.Helper()
	k, err := NewHollowKubelet(cfg)
	if err != nil {
		t.Fatalf("hollow kubelet: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = k.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	if !k.informer.WaitForSync(ctx) {
		t.Fatalf("hollow kubelet: pod informer did not sync")
	}
	return k
}

// NewHollowKubelet builds a HollowKubelet; Run starts it.
func NewHollowKubelet(cfg KubeletConfig) (*HollowKubelet, error) {
	if cfg.Client == nil {
		return nil, fmt.Errorf("hollow kubelet: Client is required")
	}
	if len(cfg.Nodes) == 0 {
		cfg.Nodes = []string{"node-1", "node-2", "node-3"}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	k := &HollowKubelet{cfg: cfg, deleting: map[string]time.Time{}, started: map[string]time.Time{}}
	k.informer = informer.New[*corev1.Pod](cfg.Client.Pods(), informer.Config{Namespace: cfg.Namespace, Logger: cfg.Logger})
	ctrl, err := controller.New(controller.Config{Name: "hollow-kubelet", Workers: 4, Sync: k.sync, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	k.ctrl = ctrl
	k.informer.AddHandler(informer.Handler[*corev1.Pod]{
		OnAdd:    func(p *corev1.Pod) { ctrl.EnqueueObject(p) },
		OnUpdate: func(_, p *corev1.Pod) { ctrl.EnqueueObject(p) },
		OnDelete: func(p *corev1.Pod) {
			k.mu.Lock()
			delete(k.deleting, p.GetMetadata().GetUid())
			delete(k.started, p.GetMetadata().GetUid())
			k.mu.Unlock()
		},
	})
	return k, nil
}

// Run runs the kubelet until ctx ends.
func (k *HollowKubelet) Run(ctx context.Context) error {
	go func() { _ = k.informer.Run(ctx) }()
	if !k.informer.WaitForSync(ctx) {
		return ctx.Err()
	}
	return k.ctrl.Run(ctx)
}

// Resync re-examines every pod (after the Ready function changed its mind).
func (k *HollowKubelet) Resync() {
	for _, p := range k.informer.List() {
		k.ctrl.EnqueueObject(p)
	}
}

func (k *HollowKubelet) sync(ctx context.Context, key string) error {
	pod, ok := k.informer.GetByKey(key)
	if !ok {
		return nil
	}
	m := pod.GetMetadata()
	switch {
	case m.GetDeletionTimestamp() != nil:
		return k.remove(ctx, pod)
	case pod.GetSpec().GetNodeName() == "":
		node := k.cfg.Nodes[int(k.next.Add(1)-1)%len(k.cfg.Nodes)]
		_, err := k.cfg.Client.Bind(ctx, m.GetNamespace(), m.GetName(), m.GetUid(), node)
		if err != nil && !apierrors.IsPrecondition(err) && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return err
		}
		return nil // the bound pod comes back as an update
	}
	phase := pod.GetStatus().GetPhase()
	if phase == "Succeeded" || phase == "Failed" {
		return nil
	}
	if k.cfg.StartDelay > 0 && phase != "Running" {
		k.mu.Lock()
		first, seen := k.started[m.GetUid()]
		if !seen {
			first = time.Now()
			k.started[m.GetUid()] = first
		}
		k.mu.Unlock()
		if wait := time.Until(first.Add(k.cfg.StartDelay)); wait > 0 {
			return controller.RequeueAfter(wait)
		}
	}
	ready := k.cfg.Ready == nil || k.cfg.Ready(pod)
	if phase == "Running" && isReady(pod) == ready {
		return nil
	}
	next := api.Clone(pod)
	k.setRunning(next, ready)
	_, err := k.cfg.Client.Pods().UpdateStatus(ctx, next)
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func (k *HollowKubelet) remove(ctx context.Context, pod *corev1.Pod) error {
	m := pod.GetMetadata()
	if k.cfg.DeleteDelay > 0 {
		k.mu.Lock()
		first, seen := k.deleting[m.GetUid()]
		if !seen {
			first = time.Now()
			k.deleting[m.GetUid()] = first
		}
		k.mu.Unlock()
		if wait := time.Until(first.Add(k.cfg.DeleteDelay)); wait > 0 {
			return controller.RequeueAfter(wait)
		}
	}
	uid := m.GetUid()
	_, err := k.cfg.Client.Pods().Delete(ctx, &metav1.DeleteRequest{Namespace: m.GetNamespace(), Name: m.GetName(),
		GracePeriodSeconds: proto.Int64(0), Preconditions: &metav1.Preconditions{Uid: &uid}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			return c.GetStatus() == "True"
		}
	}
	return false
}

// setRunning writes the status a kubelet reports for a running pod.
func (k *HollowKubelet) setRunning(p *corev1.Pod, ready bool) {
	now := time.Now()
	st := p.Status
	if st == nil {
		st = &corev1.PodStatus{}
		p.Status = st
	}
	if st.GetPodIp() == "" {
		n := k.ips.Add(1)
		ip := fmt.Sprintf("10.244.%d.%d", (n/250)%250, n%250+1)
		st.PodIp = ip
		st.PodIps = []*corev1.PodIP{{Ip: ip}}
		st.HostIp = "192.0.2.1"
	}
	if st.StartTime == nil {
		st.StartTime = timestamppb.New(now)
	}
	st.Phase = "Running"
	status := "False"
	if ready {
		status = "True"
	}
	setCondition(st, "PodScheduled", "True", now)
	setCondition(st, "Initialized", "True", now)
	setCondition(st, "ContainersReady", status, now)
	setCondition(st, "Ready", status, now)
	statuses := make([]*corev1.ContainerStatus, 0, len(p.GetSpec().GetContainers()))
	for _, c := range p.GetSpec().GetContainers() {
		var restarts int32
		startedAt := timestamppb.New(now)
		for _, old := range st.GetContainerStatuses() {
			if old.GetName() == c.GetName() {
				restarts = old.GetRestartCount()
				if r := old.GetState().GetRunning(); r != nil {
					startedAt = r.GetStartedAt()
				}
			}
		}
		statuses = append(statuses, &corev1.ContainerStatus{Name: c.GetName(), Image: c.GetImage(), Ready: ready,
			Started: proto.Bool(true), RestartCount: restarts, ContainerId: "hollow://" + p.GetMetadata().GetUid() + "/" + c.GetName(),
			State: &corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: startedAt}}})
	}
	st.ContainerStatuses = statuses
}

func setCondition(st *corev1.PodStatus, typ, status string, now time.Time) {
	for _, c := range st.Conditions {
		if c.GetType() == typ {
			if c.GetStatus() != status {
				c.Status = status
				c.LastTransitionTime = timestamppb.New(now)
			}
			c.LastProbeTime = nil
			return
		}
	}
	st.Conditions = append(st.Conditions, &metav1.Condition{Type: typ, Status: status, LastTransitionTime: timestamppb.New(now)})
}
