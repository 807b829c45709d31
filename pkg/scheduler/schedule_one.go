package scheduler

import (
	"context"
	"errors"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/client/record"
	"github.com/coxswain/coxswain/pkg/scheduler/framework"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Pod condition and event vocabulary (Kubernetes').
const (
	condPodScheduled      = "PodScheduled"
	reasonUnschedulable   = "Unschedulable"
	reasonSchedulerError  = "SchedulerError"
	eventFailedScheduling = "FailedScheduling"
	eventScheduled        = "Scheduled"
	bindTimeout           = 30 * time.Second
	statusUpdateTimeout   = 10 * time.Second
)

// scheduleOne takes one pod from the queue, picks its node and assumes it there, and starts the
// binding; false once the queue is closed.
func (s *Scheduler) scheduleOne(ctx context.Context) bool {
	a, ok := s.queue.Pop()
	if !ok {
		return false
	}
	pi := a.info
	if cur, exists := s.pods.GetByKey(pi.Key); !exists || cur.GetMetadata().GetUid() != pi.UID || !s.isPending(cur) || s.cache.isPlaced(pi.Key, pi.UID) {
		s.queue.Done(a) // bound, deleted or replaced meanwhile
		return true
	}
	start := time.Now()
	var res framework.Result
	var err error
	s.cache.withSnapshot(func(snap *framework.Snapshot) {
		res, err = s.fw.Schedule(pi, snap)
		if err == nil {
			err = s.cache.assumeLocked(pi, res.Node)
		}
	})
	s.m.algorithm.Observe(time.Since(start).Seconds())
	if err != nil {
		s.handleFailure(ctx, a, err, start)
		return true
	}
	s.log.Debug("pod assumed", "pod", pi.Key, "node", res.Node, "evaluated", res.EvaluatedNodes, "feasible", res.FeasibleNodes)
	if !s.async(ctx, func() { s.bind(ctx, a, res.Node, start) }) {
		s.cache.ForgetPod(pi)
	}
	return true
}

// async runs fn in the background once one of the Workers slots is free; false if ctx ended first.
func (s *Scheduler) async(ctx context.Context, fn func()) bool {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { <-s.sem }()
		fn()
	}()
	return true
}

func (s *Scheduler) bind(ctx context.Context, a *attempt, node string, start time.Time) {
	pi := a.info
	bctx, cancel := context.WithTimeout(ctx, bindTimeout)
	defer cancel()
	bindStart := time.Now()
	_, err := s.binder.Bind(bctx, pi.Namespace, pi.Name, pi.UID, node)
	s.m.bindDuration.Observe(time.Since(bindStart).Seconds())
	if err != nil {
		s.cache.ForgetPod(pi)
		s.observeAttempt(resultError, start)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("binding failed", "pod", pi.Key, "node", node, "err", err)
		s.recorder.Eventf(pi.Pod, record.Warning, eventFailedScheduling, "Binding rejected: %v", err)
		s.requeue(a, false)
		return
	}
	s.cache.FinishBinding(pi)
	s.queue.Done(a)
	s.observeAttempt(resultScheduled, start)
	s.m.sli.Observe(time.Since(a.initialAttempt).Seconds())
	s.log.Debug("pod bound", "pod", pi.Key, "node", node, "attempts", a.attempts)
	s.recorder.Eventf(pi.Pod, record.Normal, eventScheduled, "Successfully assigned %s/%s to %s", pi.Namespace, pi.Name, node)
}

func (s *Scheduler) observeAttempt(result string, start time.Time) {
	s.m.attempts.WithLabelValues(result).Inc()
	s.m.attemptDuration.WithLabelValues(result).Observe(time.Since(start).Seconds())
}

// handleFailure requeues a pod that could not be placed, records why on its PodScheduled condition
// (when the message changed) and in a FailedScheduling event.
func (s *Scheduler) handleFailure(ctx context.Context, a *attempt, err error, start time.Time) {
	pi := a.info
	var fe *framework.FitError
	reason, result := reasonSchedulerError, resultError
	if errors.As(err, &fe) {
		reason, result = reasonUnschedulable, resultUnschedulable
		s.log.Info("pod unschedulable", "pod", pi.Key, "message", err.Error(), "attempts", a.attempts)
	} else {
		s.log.Error("scheduling failed", "pod", pi.Key, "err", err)
	}
	s.observeAttempt(result, start)
	msg := err.Error()
	s.recorder.Eventf(pi.Pod, record.Warning, eventFailedScheduling, "%s", msg)
	s.requeue(a, result == resultUnschedulable)
	s.async(ctx, func() { s.setUnschedulableCondition(ctx, pi, reason, msg) })
}

// requeue gives the pod back to the queue with its latest state, or drops it when it is no longer
// pending.
func (s *Scheduler) requeue(a *attempt, unschedulable bool) {
	cur, ok := s.pods.GetByKey(a.info.Key)
	if !ok || cur.GetMetadata().GetUid() != a.info.UID || !s.isPending(cur) {
		s.queue.Done(a)
		return
	}
	var info *framework.PodInfo
	if cur != a.info.Pod {
		info = framework.NewPodInfo(cur)
	}
	s.queue.Requeue(a, info, unschedulable)
}

// setUnschedulableCondition writes PodScheduled=False with reason and message unless the pod already
// says exactly that (or has been bound or replaced meanwhile).
func (s *Scheduler) setUnschedulableCondition(ctx context.Context, pi *framework.PodInfo, reason, msg string) {
	cur, ok := s.pods.GetByKey(pi.Key)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, statusUpdateTimeout)
	defer cancel()
	for try := 0; try < 3; try++ {
		if cur.GetMetadata().GetUid() != pi.UID || cur.GetSpec().GetNodeName() != "" || hasCondition(cur, reason, msg) {
			return
		}
		next := api.Clone(cur)
		if next.Status == nil {
			next.Status = &corev1.PodStatus{}
		}
		setCondition(&next.Status.Conditions, &metav1.Condition{Type: condPodScheduled, Status: "False", Reason: reason, Message: msg}, time.Now())
		_, err := s.client.Pods().UpdateStatus(ctx, next)
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) {
			if ctx.Err() == nil && !apierrors.IsNotFound(err) {
				s.log.Warn("pod condition not updated", "pod", pi.Key, "err", err)
			}
			return
		}
		if cur, err = s.client.Pods().Get(ctx, pi.Namespace, pi.Name); err != nil {
			return
		}
	}
}

func hasCondition(p *corev1.Pod, reason, msg string) bool {
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == condPodScheduled {
			return c.GetStatus() == "False" && c.GetReason() == reason && c.GetMessage() == msg
		}
	}
	return false
}

// setCondition adds or replaces the condition of c's type, keeping lastTransitionTime when the status
// does not change.
func setCondition(conds *[]*metav1.Condition, c *metav1.Condition, now time.Time) {
	for i, old := range *conds {
		if old.GetType() == c.GetType() {
			if old.GetStatus() == c.GetStatus() && old.GetLastTransitionTime() != nil {
				c.LastTransitionTime = old.GetLastTransitionTime()
			} else {
				c.LastTransitionTime = timestamppb.New(now.Truncate(time.Second))
			}
			(*conds)[i] = c
			return
		}
	}
	c.LastTransitionTime = timestamppb.New(now.Truncate(time.Second))
	*conds = append(*conds, c)
}
