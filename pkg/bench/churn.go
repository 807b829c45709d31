package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/bench/stats"
	"github.com/coxswain/coxswain/pkg/controllers/deployment"
	appsv1 "github.com/coxswain/coxswain/proto/coxswain/apps/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Churn creates, scales, rolls out (image v1 <-> v2) and deletes Deployments at Rate operations per
// second for Duration, then measures how long the cluster takes to converge: every Deployment
// complete, and no orphan ReplicaSet or pod left.
type Churn struct {
	NodeCount int
	Duration  time.Duration
	Rate      float64
	// Deployments is the population the operations hover around; MaxReplicas bounds each one's size.
	Deployments     int
	MaxReplicas     int
	Workers         int
	ConvergeTimeout time.Duration
	Seed            uint64
}

// ChurnResult is the churn workload's detail.
type ChurnResult struct {
	Ops         map[string]int           `json:"ops"`
	OpErrors    int                      `json:"op_errors"`
	Conflicts   int                      `json:"conflicts"`
	OpLatencyMs map[string]stats.Summary `json:"op_latency_ms"`
	// ConvergenceSeconds is the time from the last operation to convergence (NaN if it did not).
	ConvergenceSeconds float64    `json:"convergence_seconds"`
	Converged          bool       `json:"converged"`
	Final              ChurnState `json:"final"`
	PodsCreated        int        `json:"pods_created"`
	PodsDeleted        int        `json:"pods_deleted"`
	WatchRestarts      int        `json:"watch_restarts"`
	FirstErrors        []string   `json:"first_errors,omitempty"`
}

// churnTally collects the operations' outcomes from the workers.
type churnTally struct {
	mu          sync.Mutex
	ops         map[string]int
	lat         map[string][]float64
	errors      int
	conflicts   int
	firstErrors []string
}

// ChurnState is the namespace's state as the convergence check saw it last.
type ChurnState struct {
	Deployments           int      `json:"deployments"`
	ReplicaSets           int      `json:"replicasets"`
	Pods                  int      `json:"pods"`
	WantPods              int      `json:"want_pods"`
	IncompleteDeployments int      `json:"incomplete_deployments"`
	OrphanReplicaSets     int      `json:"orphan_replicasets"`
	OrphanPods            int      `json:"orphan_pods"`
	NotRunningPods        int      `json:"not_running_pods"`
	TerminatingPods       int      `json:"terminating_pods"`
	Examples              []string `json:"examples,omitempty"`
}

func (s ChurnState) converged() bool {
	return s.IncompleteDeployments == 0 && s.OrphanReplicaSets == 0 && s.OrphanPods == 0 && s.NotRunningPods == 0 &&
		s.TerminatingPods == 0 && s.Pods == s.WantPods
}

const churnNamespace = "coxbench-churn"

// Name implements Workload.
func (c *Churn) Name() string { return "churn" }

// Nodes implements Workload.
func (c *Churn) Nodes() int { return c.NodeCount }

// Validate implements Workload.
func (c *Churn) Validate() error {
	switch {
	case c.Duration <= 0:
		return fmt.Errorf("churn: --duration %v: must be positive", c.Duration)
	case c.Rate <= 0:
		return fmt.Errorf("churn: --rate %v: must be positive", c.Rate)
	case c.Deployments <= 0:
		return fmt.Errorf("churn: --deployments %d: must be positive", c.Deployments)
	case c.MaxReplicas <= 0:
		return fmt.Errorf("churn: --max-replicas %d: must be positive", c.MaxReplicas)
	}
	return nil
}

// churnState is the workload's own view of the Deployments it manages.
type churnState struct {
	mu     sync.Mutex
	rnd    *rand.Rand
	live   []string
	busy   map[string]bool
	nextID int
}

// pick chooses the next operation and its target (reserved until release).
func (s *churnState) pick(target int) (op, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	free := make([]string, 0, len(s.live))
	for _, n := range s.live {
		if !s.busy[n] {
			free = append(free, n)
		}
	}
	switch {
	case len(s.live) < target/2+1 || len(free) == 0:
		op = "create"
	case len(s.live) >= 2*target:
		op = "delete"
	default:
		op = []string{"create", "scale", "rollout", "delete"}[s.rnd.IntN(4)]
	}
	if op == "create" {
		name = fmt.Sprintf("churn-%d", s.nextID)
		s.nextID++
		s.live = append(s.live, name)
	} else {
		name = free[s.rnd.IntN(len(free))]
	}
	s.busy[name] = true
	return op, name
}

func (s *churnState) release(name string, deleted bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.busy, name)
	if deleted {
		s.live = slices.DeleteFunc(s.live, func(n string) bool { return n == name })
	}
}

func (s *churnState) intN(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rnd.IntN(n)
}

// Run implements Workload.
func (c *Churn) Run(ctx context.Context, env *Env) (*WorkloadResult, error) {
	if err := ensureNamespace(ctx, env.Client, churnNamespace); err != nil {
		return nil, err
	}
	tr := NewPodTracker(env.Client, churnNamespace, "coxbench=churn", env.Log)
	tctx, stopTracker := context.WithCancel(ctx)
	defer stopTracker()
	go func() { _ = tr.Run(tctx) }()
	if err := tr.Wait(ctx, func(Counts) bool { return true }); err != nil {
		return nil, err
	}
	st := &churnState{rnd: newRand(c.Seed), busy: map[string]bool{}}
	det := &ChurnResult{ConvergenceSeconds: math.NaN()}
	tally := &churnTally{ops: map[string]int{}, lat: map[string][]float64{}}
	n := int(c.Rate * c.Duration.Seconds())
	env.Log.Info("churn: operating on deployments", "ops", n, "rate", c.Rate, "population", c.Deployments)
	start := time.Now()
	series := recordSeries(ctx, tr, start, 200*time.Millisecond)
	err := pace(ctx, n, c.Rate, c.Workers, func(ctx context.Context, _ int) error {
		op, name := st.pick(c.Deployments)
		t0 := time.Now()
		err := c.do(ctx, env, st, tally, op, name)
		lat := ms(time.Since(t0))
		tally.mu.Lock()
		tally.ops[op]++
		tally.lat[op] = append(tally.lat[op], lat)
		if err != nil {
			tally.errors++
			if len(tally.firstErrors) < 5 {
				tally.firstErrors = append(tally.firstErrors, fmt.Sprintf("%s %s: %v", op, name, err))
			}
		}
		tally.mu.Unlock()
		st.release(name, op == "delete" && err == nil)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return nil
	})
	opsEnd := time.Now()
	if err != nil {
		series.stop()
		return nil, err
	}
	det.Ops, det.OpErrors, det.Conflicts, det.FirstErrors = tally.ops, tally.errors, tally.conflicts, tally.firstErrors
	env.Log.Info("churn: operations done; waiting for convergence", "ops", n, "errors", det.OpErrors)
	res := &WorkloadResult{Seconds: opsEnd.Sub(start).Seconds()}
	cctx, cancel := context.WithTimeout(ctx, c.ConvergeTimeout)
	defer cancel()
	for {
		state, err := c.check(cctx, env)
		if err == nil {
			det.Final = state
			if state.converged() {
				det.Converged = true
				det.ConvergenceSeconds = time.Since(opsEnd).Seconds()
				break
			}
		}
		if cctx.Err() != nil {
			if ctx.Err() != nil {
				series.stop()
				return nil, ctx.Err()
			}
			res.Failures = append(res.Failures, fmt.Sprintf("churn: not converged %v after the last operation: %+v", c.ConvergeTimeout, det.Final))
			break
		}
		select {
		case <-cctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
	res.Series = series.stop()
	cnt := tr.Counts()
	det.PodsCreated, det.PodsDeleted, det.WatchRestarts = cnt.Created, cnt.Deleted, tr.WatchRestarts()
	det.OpLatencyMs = map[string]stats.Summary{}
	var all []float64
	for op, l := range tally.lat {
		det.OpLatencyMs[op] = stats.Summarize(l)
		all = append(all, l...)
	}
	if det.OpErrors > 0 {
		res.Failures = append(res.Failures, fmt.Sprintf("churn: %d operations failed, first: %v", det.OpErrors, det.FirstErrors))
	}
	allOps := stats.Summarize(all)
	res.AvgPodBytes, res.Detail = tr.AvgPodBytes(), det
	res.Figures = []Figure{
		{"churn.convergence", "churn: convergence time after the last operation", "s", det.ConvergenceSeconds},
		{"churn.ops", "churn: operations", "ops", float64(n)},
		{"churn.op_errors", "churn: failed operations", "ops", float64(det.OpErrors)},
		{"churn.op_p50", "churn: operation latency p50 (client, with retries)", "ms", allOps.P50},
		{"churn.op_p99", "churn: operation latency p99 (client, with retries)", "ms", allOps.P99},
		{"churn.pods_created", "churn: pods created", "pods", float64(cnt.Created)},
		{"churn.pods_deleted", "churn: pods deleted", "pods", float64(cnt.Deleted)},
	}
	return res, nil
}

// do runs one operation; updates retry on conflicts with the controllers' writes.
func (c *Churn) do(ctx context.Context, env *Env, st *churnState, tally *churnTally, op, name string) error {
	ds := env.Client.Deployments()
	switch op {
	case "create":
		d := newDeployment(churnNamespace, name, 1+st.intN(c.MaxReplicas), Image, map[string]string{"coxbench": "churn"})
		_, err := createOnce(ctx, ds, d)
		return err
	case "delete":
		return retry(ctx, func() error {
			_, err := ds.Delete(ctx, &metav1.DeleteRequest{Namespace: churnNamespace, Name: name, PropagationPolicy: "Background"})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return err
		})
	}
	replicas := int32(1 + st.intN(c.MaxReplicas))
	for range 20 {
		var d *appsv1.Deployment
		err := retry(ctx, func() (err error) { d, err = ds.Get(ctx, churnNamespace, name); return err })
		if err != nil {
			return err
		}
		switch op {
		case "scale":
			d.Spec.Replicas = proto.Int32(replicas)
		case "rollout":
			ctr := d.Spec.Template.Spec.Containers[0]
			if ctr.Image == Image {
				ctr.Image = ImageV2
			} else {
				ctr.Image = Image
			}
		}
		err = retry(ctx, func() error { _, err := ds.Update(ctx, d); return err })
		if !apierrors.IsConflict(err) {
			return err
		}
		tally.mu.Lock()
		tally.conflicts++
		tally.mu.Unlock()
	}
	return fmt.Errorf("%s %s: still conflicting after 20 attempts", op, name)
}

// check lists the namespace and evaluates convergence.
func (c *Churn) check(ctx context.Context, env *Env) (ChurnState, error) {
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	opts := &metav1.ListOptions{Namespace: churnNamespace}
	deps, _, err := env.Client.Deployments().List(lctx, opts)
	if err != nil {
		return ChurnState{}, err
	}
	rss, _, err := env.Client.ReplicaSets().List(lctx, opts)
	if err != nil {
		return ChurnState{}, err
	}
	pods, _, err := env.Client.Pods().List(lctx, opts)
	if err != nil {
		return ChurnState{}, err
	}
	s := ChurnState{Deployments: len(deps), ReplicaSets: len(rss), Pods: len(pods)}
	example := func(f string, args ...any) {
		if len(s.Examples) < 5 {
			s.Examples = append(s.Examples, fmt.Sprintf(f, args...))
		}
	}
	depUIDs := map[string]bool{}
	for _, d := range deps {
		depUIDs[d.GetMetadata().GetUid()] = true
		s.WantPods += int(deployment.Replicas(d))
		msg, done, err := deployment.RolloutStatus(d)
		if err != nil || !done || d.GetStatus().GetAvailableReplicas() != deployment.Replicas(d) || d.GetMetadata().GetDeletionTimestamp() != nil {
			s.IncompleteDeployments++
			example("deployment %s: %s %v", d.GetMetadata().GetName(), msg, err)
		}
	}
	rsUIDs := map[string]bool{}
	for _, rs := range rss {
		rsUIDs[rs.GetMetadata().GetUid()] = true
		if owner := controllerOf(rs.GetMetadata()); owner == "" || !depUIDs[owner] {
			s.OrphanReplicaSets++
			example("replicaset %s has no live owner", rs.GetMetadata().GetName())
		}
	}
	for _, p := range pods {
		switch {
		case p.GetMetadata().GetDeletionTimestamp() != nil:
			s.TerminatingPods++
			example("pod %s terminating", p.GetMetadata().GetName())
		case controllerOf(p.GetMetadata()) == "" || !rsUIDs[controllerOf(p.GetMetadata())]:
			s.OrphanPods++
			example("pod %s has no live owner", p.GetMetadata().GetName())
		case p.GetStatus().GetPhase() != "Running":
			s.NotRunningPods++
			example("pod %s is %s", p.GetMetadata().GetName(), p.GetStatus().GetPhase())
		}
	}
	sort.Strings(s.Examples)
	return s, nil
}

// controllerOf is the UID of the controlling owner ("" if none).
func controllerOf(m *metav1.ObjectMeta) string {
	for _, o := range m.GetOwnerReferences() {
		if o.GetController() {
			return o.GetUid()
		}
	}
	return ""
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
