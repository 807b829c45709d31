package scheduler

import (
	"maps"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/scheduler/framework"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// isPending: not bound, not being deleted, not finished, and ours to schedule.
func (s *Scheduler) isPending(p *corev1.Pod) bool {
	return p.GetSpec().GetNodeName() == "" && p.GetMetadata().GetDeletionTimestamp() == nil && !terminal(p) && s.responsibleFor(p)
}

func (s *Scheduler) responsibleFor(p *corev1.Pod) bool {
	name := p.GetSpec().GetSchedulerName()
	return name == s.cfg.SchedulerName || (name == "" && s.cfg.SchedulerName == DefaultSchedulerName)
}

func terminal(p *corev1.Pod) bool {
	ph := p.GetStatus().GetPhase()
	return ph == "Succeeded" || ph == "Failed"
}

func assigned(p *corev1.Pod) bool { return p.GetSpec().GetNodeName() != "" }

// slimBoundPod is the pod informer's transform: a bound pod is kept with only the phase of its status.
// The scheduler reads a bound pod's spec, metadata and phase (what it requests, where, whether it has
// finished); it writes status only for pods it has not bound yet, which are kept whole. At 150,000
// pods this drops most of the conditions and container statuses the informer would otherwise hold.
func slimBoundPod(o api.Object) api.Object {
	p := o.(*corev1.Pod)
	if assigned(p) && p.Status != nil {
		p.Status = &corev1.PodStatus{Phase: p.Status.Phase}
	}
	return p
}

func hasRequiredPodAffinity(pi *framework.PodInfo) bool { return len(pi.RequiredAffinityTerms) > 0 }

func (s *Scheduler) onPodAdd(p *corev1.Pod) {
	switch {
	case assigned(p):
		if terminal(p) {
			return
		}
		s.queue.Delete(podKey(p))
		s.cache.AddPod(p)
		// A new pod may be what a pending pod's affinity waits for.
		s.queue.MoveAll(hasRequiredPodAffinity)
	case s.isPending(p):
		if !s.cache.isPlaced(podKey(p), p.GetMetadata().GetUid()) {
			s.queue.Add(framework.NewPodInfo(p))
		}
	}
}

func (s *Scheduler) onPodUpdate(old, cur *corev1.Pod) {
	if old.GetMetadata().GetResourceVersion() == cur.GetMetadata().GetResourceVersion() {
		return // resync
	}
	key := podKey(cur)
	switch {
	case assigned(cur):
		s.queue.Delete(key)
		if terminal(cur) {
			// A finished pod frees its resources.
			s.cache.RemovePod(cur)
			s.queue.MoveAll(nil)
			return
		}
		s.cache.AddPod(cur)
		switch {
		case !assigned(old) || old.GetMetadata().GetUid() != cur.GetMetadata().GetUid():
			s.queue.MoveAll(hasRequiredPodAffinity)
		case !maps.Equal(old.GetMetadata().GetLabels(), cur.GetMetadata().GetLabels()):
			s.queue.MoveAll(nil)
		}
	case s.isPending(cur):
		if s.cache.isPlaced(key, cur.GetMetadata().GetUid()) {
			return // assumed, its binding in flight
		}
		changed := old.GetMetadata().GetGeneration() != cur.GetMetadata().GetGeneration() ||
			!maps.Equal(old.GetMetadata().GetLabels(), cur.GetMetadata().GetLabels())
		s.queue.Update(framework.NewPodInfo(cur), changed)
	default:
		s.queue.Delete(key) // being deleted, finished, or handed to another scheduler
	}
}

func (s *Scheduler) onPodDelete(p *corev1.Pod) {
	if assigned(p) {
		s.cache.RemovePod(p)
		s.queue.MoveAll(nil)
		return
	}
	s.queue.Delete(podKey(p))
}

func (s *Scheduler) onNodeAdd(n *corev1.Node) {
	s.cache.SetNode(n)
	s.queue.MoveAll(nil)
}

func (s *Scheduler) onNodeUpdate(old, cur *corev1.Node) {
	if old.GetMetadata().GetResourceVersion() == cur.GetMetadata().GetResourceVersion() {
		return
	}
	s.cache.SetNode(cur)
	if nodeSchedulingChanged(old, cur) {
		s.queue.MoveAll(nil)
	}
}

func (s *Scheduler) onNodeDelete(n *corev1.Node) {
	s.cache.RemoveNode(n.GetMetadata().GetName())
}

// nodeSchedulingChanged reports changes that may let a pod fit (a heartbeat alone does not).
func nodeSchedulingChanged(old, cur *corev1.Node) bool {
	if !maps.Equal(old.GetStatus().GetAllocatable(), cur.GetStatus().GetAllocatable()) ||
		!maps.Equal(old.GetMetadata().GetLabels(), cur.GetMetadata().GetLabels()) ||
		old.GetSpec().GetUnschedulable() != cur.GetSpec().GetUnschedulable() ||
		ready(old) != ready(cur) {
		return true
	}
	ot, ct := old.GetSpec().GetTaints(), cur.GetSpec().GetTaints()
	if len(ot) != len(ct) {
		return true
	}
	for i := range ot {
		if ot[i].GetKey() != ct[i].GetKey() || ot[i].GetValue() != ct[i].GetValue() || ot[i].GetEffect() != ct[i].GetEffect() {
			return true
		}
	}
	return false
}

func ready(n *corev1.Node) bool {
	for _, c := range n.GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			return c.GetStatus() == "True"
		}
	}
	return false
}
