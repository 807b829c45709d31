package framework

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Defaults of kube-scheduler's node sampling.
const (
	// MinFeasibleNodesToFind: below this many nodes every node is evaluated.
	MinFeasibleNodesToFind = 100
	// MinFeasibleNodesPercentageToFind is the floor of the adaptive percentage.
	MinFeasibleNodesPercentageToFind = 5
)

// Config configures a Framework. The zero value gives the default pipeline.
type Config struct {
	// Filters run in order (nil: DefaultFilters()).
	Filters []Filter
	// Scorers and their weights (nil: DefaultScorers()).
	Scorers []WeightedScorer
	// Parallelism is the number of goroutines filtering and scoring nodes in chunks within one Schedule
	// call (default GOMAXPROCS; 1 runs everything on the calling goroutine).
	Parallelism int
	// PercentageOfNodesToScore: once this share of the nodes (but at least 100) is found feasible, stop
	// searching. 0 is adaptive (50% minus 1% per 125 nodes, at least 5%); 100 evaluates all nodes.
	PercentageOfNodesToScore int32
	// Seed seeds tie breaking (0: random).
	Seed uint64
}

// Framework runs the filter and score pipeline. It is safe for concurrent use as long as the Snapshot
// passed to Schedule is not mutated meanwhile.
type Framework struct {
	filters     []Filter
	scorers     []WeightedScorer
	normalizers []Normalizer // parallel to scorers; nil entries need none
	parallelism int
	percentage  int32
	pool        sync.Pool

	mu        sync.Mutex
	rng       *rand.Rand
	nextStart int
}

// New builds a Framework.
func New(cfg Config) (*Framework, error) {
	if cfg.PercentageOfNodesToScore < 0 || cfg.PercentageOfNodesToScore > 100 {
		return nil, fmt.Errorf("framework: PercentageOfNodesToScore %d: must be between 0 and 100", cfg.PercentageOfNodesToScore)
	}
	if cfg.Filters == nil {
		cfg.Filters = DefaultFilters()
	}
	if cfg.Scorers == nil {
		cfg.Scorers = DefaultScorers()
	}
	for i, s := range cfg.Scorers {
		if s.Scorer == nil || s.Weight < 0 {
			return nil, fmt.Errorf("framework: Scorers[%d]: a scorer with a weight >= 0 is required", i)
		}
	}
	if cfg.Parallelism <= 0 {
		cfg.Parallelism = runtime.GOMAXPROCS(0)
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	f := &Framework{filters: cfg.Filters, scorers: cfg.Scorers, parallelism: cfg.Parallelism,
		percentage: cfg.PercentageOfNodesToScore, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for _, s := range cfg.Scorers {
		n, _ := s.Scorer.(Normalizer)
		f.normalizers = append(f.normalizers, n)
	}
	f.pool.New = func() any { return &scratch{} }
	return f, nil
}

// Result is where a pod goes.
type Result struct {
	Node string
	// EvaluatedNodes were filtered; FeasibleNodes of them fit (and were scored).
	EvaluatedNodes, FeasibleNodes int
}

// FitError says why a pod fits no node.
type FitError struct {
	Pod         *PodInfo
	NumAllNodes int
	// Reasons counts, per explanation, the nodes that gave it.
	Reasons map[string]int
}

// Error is Kubernetes' message, e.g. "0/3 nodes are available: 1 node(s) had untolerated taint
// {dedicated: gpu}, 2 Insufficient cpu." ("no nodes available to schedule pods" without nodes).
func (e *FitError) Error() string {
	if e.NumAllNodes == 0 {
		return ReasonNoNodesAvailable
	}
	msg := fmt.Sprintf("0/%d nodes are available:", e.NumAllNodes)
	hist := make([]string, 0, len(e.Reasons))
	for r, n := range e.Reasons {
		hist = append(hist, fmt.Sprintf("%d %s", n, r))
	}
	sort.Strings(hist)
	if len(hist) > 0 {
		msg += " " + strings.Join(hist, ", ") + "."
	}
	return msg
}

type scratch struct {
	feasible []*NodeInfo
	statuses []Status
	raw      []int64 // len(scorers) × feasible
	total    []int64
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// NumFeasibleNodesToFind is how many feasible nodes Schedule looks for among numAllNodes.
func (f *Framework) NumFeasibleNodesToFind(numAllNodes int) int {
	if numAllNodes < MinFeasibleNodesToFind || f.percentage >= 100 {
		return numAllNodes
	}
	pct := f.percentage
	if pct == 0 {
		pct = 50 - int32(numAllNodes/125)
		if pct < MinFeasibleNodesPercentageToFind {
			pct = MinFeasibleNodesPercentageToFind
		}
	}
	n := numAllNodes * int(pct) / 100
	if n < MinFeasibleNodesToFind {
		return MinFeasibleNodesToFind
	}
	return n
}

// Schedule picks a node for pod, or returns a *FitError explaining why none fits (or pod.Err).
func (f *Framework) Schedule(pod *PodInfo, snap *Snapshot) (Result, error) {
	if pod.Err != nil {
		return Result{}, pod.Err
	}
	nodes := snap.list
	n := len(nodes)
	if n == 0 {
		return Result{}, &FitError{Pod: pod}
	}
	st := NewCycleState(pod, snap)
	toFind := f.NumFeasibleNodesToFind(n)
	f.mu.Lock()
	start := f.nextStart % n
	f.mu.Unlock()

	sc := f.pool.Get().(*scratch)
	defer f.pool.Put(sc)
	// Neither needs clearing: a status is read only when every node failed (so every entry was
	// written), and feasible entries are written before they are read.
	sc.statuses = resize(sc.statuses, n)
	sc.feasible = resize(sc.feasible, toFind)
	found, processed := f.findFeasible(st, pod, nodes, start, toFind, sc)
	f.mu.Lock()
	f.nextStart = (start + processed) % n
	f.mu.Unlock()

	feasible := sc.feasible[:found]
	switch len(feasible) {
	case 0:
		fe := &FitError{Pod: pod, NumAllNodes: n, Reasons: map[string]int{}}
		for _, s := range sc.statuses[:n] {
			for _, r := range s.reasons {
				fe.Reasons[r]++
			}
		}
		return Result{}, fe
	case 1:
		return Result{Node: feasible[0].Name, EvaluatedNodes: processed, FeasibleNodes: 1}, nil
	}
	best := f.score(st, pod, feasible, sc)
	return Result{Node: best.Name, EvaluatedNodes: processed, FeasibleNodes: len(feasible)}, nil
}

func (f *Framework) runFilters(st *CycleState, pod *PodInfo, node *NodeInfo) Status {
	for _, fl := range f.filters {
		if s := fl.Filter(st, pod, node); !s.Fits() {
			return s
		}
	}
	return Status{}
}

// findFeasible filters nodes from start (wrapping) until toFind fit or all were seen. Statuses of
// failing nodes land in sc.statuses (indexed by offset from start); it returns the number of feasible
// nodes stored in sc.feasible and of nodes evaluated.
func (f *Framework) findFeasible(st *CycleState, pod *PodInfo, nodes []*NodeInfo, start, toFind int, sc *scratch) (int, int) {
	n := len(nodes)
	// Sequential first: most pods find their toFind nodes among the first few hundred, where handing
	// out chunks to other goroutines costs more than it saves. Constrained pods (and unschedulable
	// ones, which see every node) continue in parallel.
	seq := n
	if f.parallelism > 1 {
		seq = min(n, max(2*toFind, 256))
	}
	found := 0
	for i := 0; i < seq; i++ {
		node := nodes[(start+i)%n]
		if s := f.runFilters(st, pod, node); !s.Fits() {
			sc.statuses[i] = s
			continue
		}
		sc.feasible[found] = node
		if found++; found >= toFind {
			return found, i + 1
		}
	}
	if seq == n {
		return found, n
	}
	// Workers take chunks of the remaining nodes; each node's verdict lands in its own slot of
	// sc.statuses (nothing shared inside the loop) and the feasible count is published once per chunk;
	// no chunk starts once enough were found. Every chunk taken is finished, so the evaluated nodes
	// are the prefix [0, seq+taken*chunk) and the feasible ones are collected from it in order.
	rest := n - seq
	chunk := chunkSize(rest, f.parallelism)
	var nextChunk, foundPar atomic.Int64
	need := int64(toFind - found)
	work := func() {
		for foundPar.Load() < need {
			lo := seq + int(nextChunk.Add(1)-1)*chunk
			if lo >= n {
				return
			}
			hi, k := min(lo+chunk, n), int64(0)
			for i := lo; i < hi; i++ {
				s := f.runFilters(st, pod, nodes[(start+i)%n])
				sc.statuses[i] = s
				if s.Fits() {
					k++
				}
			}
			foundPar.Add(k)
		}
	}
	parallel(min(f.parallelism, (rest+chunk-1)/chunk), work)
	processed := min(seq+int(nextChunk.Load())*chunk, n)
	for i := seq; i < processed && found < toFind; i++ {
		if sc.statuses[i].Fits() {
			sc.feasible[found] = nodes[(start+i)%n]
			found++
		}
	}
	return found, processed
}

// chunkSize is kube-scheduler's: about sqrt(n) nodes per chunk, fewer when that would leave workers
// idle.
func chunkSize(n, workers int) int {
	s := int(math.Sqrt(float64(n)))
	if r := n/max(workers, 1) + 1; s > r {
		s = r
	}
	return max(s, 1)
}

// parallel runs fn on workers goroutines (the caller's among them) and waits.
func parallel(workers int, fn func()) {
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Add(1)
		go func() { defer wg.Done(); fn() }()
	}
	fn()
	wg.Wait()
}

// score rates the feasible nodes and picks the best, breaking ties uniformly at random.
func (f *Framework) score(st *CycleState, pod *PodInfo, feasible []*NodeInfo, sc *scratch) *NodeInfo {
	m, k := len(feasible), len(f.scorers)
	sc.raw = resize(sc.raw, m*k)
	sc.total = grow(sc.total, m)
	scoreRange := func(lo, hi int) {
		for j, ws := range f.scorers {
			raw := sc.raw[j*m : (j+1)*m]
			for i := lo; i < hi; i++ {
				raw[i] = ws.Scorer.Score(st, pod, feasible[i])
			}
		}
	}
	chunk := chunkSize(m, f.parallelism)
	if f.parallelism <= 1 || m <= 2*chunk {
		scoreRange(0, m)
	} else {
		var next atomic.Int64
		parallel(min(f.parallelism, (m+chunk-1)/chunk), func() {
			for {
				lo := int(next.Add(1)-1) * chunk
				if lo >= m {
					return
				}
				scoreRange(lo, min(lo+chunk, m))
			}
		})
	}
	for j, ws := range f.scorers {
		raw := sc.raw[j*m : (j+1)*m]
		if f.normalizers[j] != nil {
			f.normalizers[j].Normalize(pod, raw)
		}
		for i, s := range raw {
			sc.total[i] += s * ws.Weight
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	sel, bestScore, ties := 0, sc.total[0], 1
	for i := 1; i < m; i++ {
		switch s := sc.total[i]; {
		case s > bestScore:
			sel, bestScore, ties = i, s, 1
		case s == bestScore:
			ties++
			if f.rng.IntN(ties) == 0 {
				sel = i
			}
		}
	}
	return feasible[sel]
}

// ScoreNodes returns, for tests and debugging, the weighted total score of each node for pod (nodes
// must all be feasible; the same normalization as Schedule applies).
func (f *Framework) ScoreNodes(pod *PodInfo, snap *Snapshot, nodes []*NodeInfo) []int64 {
	st := NewCycleState(pod, snap)
	m, k := len(nodes), len(f.scorers)
	raw := make([]int64, m*k)
	total := make([]int64, m)
	for j, ws := range f.scorers {
		r := raw[j*m : (j+1)*m]
		for i, n := range nodes {
			r[i] = ws.Scorer.Score(st, pod, n)
		}
		if f.normalizers[j] != nil {
			f.normalizers[j].Normalize(pod, r)
		}
		for i, s := range r {
			total[i] += s * ws.Weight
		}
	}
	return total
}
