package scheduler

import (
	"fmt"
	"sync"
	"time"

	"github.com/coxswain/coxswain/pkg/scheduler/framework"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// podState is a pod the cache accounts on a node.
type podState struct {
	info *framework.PodInfo
	node string
	// assumed: placed by this scheduler and not yet seen bound by the informer. Once the binding
	// finished, deadline is when the assumption expires if the informer still has not confirmed it.
	assumed         bool
	bindingFinished bool
	deadline        time.Time
}

// schedulerCache is the snapshot of nodes and placed pods that scheduling reads, with kube-scheduler's
// assumed-pod protocol: a pod counts on its chosen node from the moment it is assumed (so the next pod
// sees the space taken) while its binding runs asynchronously; a failed binding is forgotten; the
// informer reporting the bound pod confirms it; an assumption whose binding finished but was never
// confirmed expires after ttl.
type schedulerCache struct {
	mu   sync.Mutex
	snap *framework.Snapshot
	pods map[string]*podState
	ttl  time.Duration
	now  func() time.Time
}

func newSchedulerCache(ttl time.Duration, now func() time.Time) *schedulerCache {
	return &schedulerCache{snap: framework.NewSnapshot(), pods: map[string]*podState{}, ttl: ttl, now: now}
}

// withSnapshot runs fn with the snapshot locked (scheduling and assuming happen under one lock).
func (c *schedulerCache) withSnapshot(fn func(*framework.Snapshot)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fn(c.snap)
}

// SetNode adds or updates a node.
func (c *schedulerCache) SetNode(n *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.snap.SetNode(n)
}

// RemoveNode removes a node from scheduling.
func (c *schedulerCache) RemoveNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.snap.RemoveNode(name)
}

// assumeLocked places a pod on node before it is bound. The caller holds c.mu (via withSnapshot).
func (c *schedulerCache) assumeLocked(pi *framework.PodInfo, node string) error {
	if ps, ok := c.pods[pi.Key]; ok {
		return fmt.Errorf("pod %s is already placed on node %s", pi.Key, ps.node)
	}
	c.snap.AddPod(pi, node)
	c.pods[pi.Key] = &podState{info: pi, node: node, assumed: true}
	return nil
}

// FinishBinding starts the expiry clock of an assumed pod whose Bind succeeded.
func (c *schedulerCache) FinishBinding(pi *framework.PodInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps, ok := c.pods[pi.Key]; ok && ps.assumed && ps.info.UID == pi.UID {
		ps.bindingFinished = true
		ps.deadline = c.now().Add(c.ttl)
	}
}

// ForgetPod drops an assumed pod (its binding failed).
func (c *schedulerCache) ForgetPod(pi *framework.PodInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps, ok := c.pods[pi.Key]; ok && ps.assumed && ps.info.UID == pi.UID {
		c.removeLocked(pi.Key, ps)
	}
}

func (c *schedulerCache) removeLocked(key string, ps *podState) {
	c.snap.RemovePod(key, ps.info.UID, ps.node)
	delete(c.pods, key)
}

// AddPod accounts a pod the informer shows bound (confirming an assumption, or moving it when another
// scheduler placed it elsewhere).
func (c *schedulerCache) AddPod(p *corev1.Pod) {
	pi := framework.NewPodInfo(p)
	node := p.GetSpec().GetNodeName()
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps, ok := c.pods[pi.Key]; ok {
		c.removeLocked(pi.Key, ps)
	}
	c.snap.AddPod(pi, node)
	c.pods[pi.Key] = &podState{info: pi, node: node}
}

// RemovePod stops accounting a pod (deleted, or finished).
func (c *schedulerCache) RemovePod(p *corev1.Pod) {
	key, uid := podKey(p), p.GetMetadata().GetUid()
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps, ok := c.pods[key]; ok && (uid == "" || ps.info.UID == uid) {
		c.removeLocked(key, ps)
	}
}

// CleanupExpired forgets assumed pods whose binding finished more than ttl ago without the informer
// confirming them; it returns their keys.
func (c *schedulerCache) CleanupExpired() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	var out []string
	for key, ps := range c.pods {
		if ps.assumed && ps.bindingFinished && now.After(ps.deadline) {
			c.removeLocked(key, ps)
			out = append(out, key)
		}
	}
	return out
}

// placed reports the node a pod is accounted on and whether it is only assumed.
func (c *schedulerCache) placed(key string) (node string, assumed, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps, ok := c.pods[key]
	if !ok {
		return "", false, false
	}
	return ps.node, ps.assumed, true
}

// nodeRequested returns what the pods on a node request and how many there are.
func (c *schedulerCache) nodeRequested(name string) (framework.Resource, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.snap.Node(name)
	if n == nil {
		return framework.Resource{}, 0
	}
	return n.Requested, len(n.Pods)
}

// isPlaced reports whether the pod (this incarnation) is accounted on a node, assumed or confirmed.
func (c *schedulerCache) isPlaced(key, uid string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps, ok := c.pods[key]
	return ok && ps.info.UID == uid
}

// isNodeKnown reports whether scheduling considers the node.
func (c *schedulerCache) isNodeKnown(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.snap.Node(name)
	return n != nil && n.Node != nil
}
