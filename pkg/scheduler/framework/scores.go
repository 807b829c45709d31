package framework

// MaxNodeScore is the best score a scorer gives a node.
const MaxNodeScore int64 = 100

// Scorer rates a feasible node for a pod. Scores are 0..MaxNodeScore after Normalize (when the scorer
// is also a Normalizer).
type Scorer interface {
	Name() string
	Score(st *CycleState, pod *PodInfo, node *NodeInfo) int64
}

// Normalizer rescales a scorer's raw scores over all feasible nodes to 0..MaxNodeScore, in place.
type Normalizer interface {
	Normalize(pod *PodInfo, scores []int64)
}

// WeightedScorer is a scorer with its weight in the sum.
type WeightedScorer struct {
	Scorer Scorer
	Weight int64
}

// DefaultScorers are kube-scheduler's default score plugins and weights (OwnerSpread standing in for
// the default pod topology spreading).
func DefaultScorers() []WeightedScorer {
	return []WeightedScorer{
		{TaintToleration{}, 3},
		{NodeAffinity{}, 2},
		{OwnerSpread{}, 2},
		{LeastAllocated{}, 1},
		{BalancedAllocation{}, 1},
	}
}

// LeastAllocated favours nodes with the most free cpu and memory after placing the pod: the mean over
// both of (allocatable - requested) * 100 / allocatable, with default requests for unset ones.
type LeastAllocated struct{}

// Name implements Scorer.
func (LeastAllocated) Name() string { return "LeastAllocated" }

// Score implements Scorer.
func (LeastAllocated) Score(_ *CycleState, pod *PodInfo, node *NodeInfo) int64 {
	cpu := leastRequested(node.NonZeroRequested.MilliCPU+pod.NonZeroRequests.MilliCPU, node.Allocatable.MilliCPU)
	mem := leastRequested(node.NonZeroRequested.Memory+pod.NonZeroRequests.Memory, node.Allocatable.Memory)
	return (cpu + mem) / 2
}

func leastRequested(requested, capacity int64) int64 {
	if capacity <= 0 || requested > capacity {
		return 0
	}
	return (capacity - requested) * MaxNodeScore / capacity
}

// BalancedAllocation favours nodes whose cpu and memory would be used in equal proportion after placing
// the pod: (1 - standard deviation of the two fractions) * 100.
type BalancedAllocation struct{}

// Name implements Scorer.
func (BalancedAllocation) Name() string { return "BalancedAllocation" }

// Score implements Scorer.
func (BalancedAllocation) Score(_ *CycleState, pod *PodInfo, node *NodeInfo) int64 {
	cpu := fraction(node.NonZeroRequested.MilliCPU+pod.NonZeroRequests.MilliCPU, node.Allocatable.MilliCPU)
	mem := fraction(node.NonZeroRequested.Memory+pod.NonZeroRequests.Memory, node.Allocatable.Memory)
	d := cpu - mem
	if d < 0 {
		d = -d
	}
	// For two values the standard deviation is half their distance.
	return int64((1 - d/2) * float64(MaxNodeScore))
}

func fraction(requested, capacity int64) float64 {
	if capacity <= 0 {
		return 1
	}
	f := float64(requested) / float64(capacity)
	if f > 1 {
		return 1
	}
	return f
}

// OwnerSpread favours nodes with fewer pods of the pod's controller (same owner uid): normalized as
// 100 * (max - count) / max over the feasible nodes. Pods without a controller score 100 everywhere.
type OwnerSpread struct{}

// Name implements Scorer.
func (OwnerSpread) Name() string { return "OwnerSpread" }

// Score implements Scorer (the raw count of pods of the same controller on the node).
func (OwnerSpread) Score(st *CycleState, _ *PodInfo, node *NodeInfo) int64 {
	if st == nil || st.ownerID == 0 {
		return 0
	}
	return int64(node.ownerPods(st.ownerID))
}

// Normalize implements Normalizer.
func (OwnerSpread) Normalize(_ *PodInfo, scores []int64) { normalize(scores, true) }

// Score implements Scorer for NodeAffinity: the sum of the weights of the preferred terms the node
// matches, normalized so the best node scores 100.
func (NodeAffinity) Score(_ *CycleState, pod *PodInfo, node *NodeInfo) int64 {
	var s int64
	for i := range pod.PreferredNodeAffinity {
		if pod.PreferredNodeAffinity[i].Term.Matches(node.Name, node.Labels) {
			s += pod.PreferredNodeAffinity[i].Weight
		}
	}
	return s
}

// Normalize implements Normalizer.
func (NodeAffinity) Normalize(_ *PodInfo, scores []int64) { normalize(scores, false) }

// Score implements Scorer for TaintToleration: the number of PreferNoSchedule taints the pod does not
// tolerate, normalized in reverse so a node without any scores 100.
func (TaintToleration) Score(_ *CycleState, pod *PodInfo, node *NodeInfo) int64 {
	var n int64
	for i := range node.PreferNoScheduleTaints {
		if !podToleratesTaint(pod, &node.PreferNoScheduleTaints[i]) {
			n++
		}
	}
	return n
}

// Normalize implements Normalizer.
func (TaintToleration) Normalize(_ *PodInfo, scores []int64) { normalize(scores, true) }

// normalize is kube-scheduler's DefaultNormalizeScore: scale so the highest raw score maps to 100, and
// with reverse, 100 minus that (the lowest raw score is best). All zero: 0, or 100 with reverse.
func normalize(scores []int64, reverse bool) {
	var hi int64
	for _, s := range scores {
		hi = max(hi, s)
	}
	if hi == 0 {
		if reverse {
			for i := range scores {
				scores[i] = MaxNodeScore
			}
		}
		return
	}
	for i, s := range scores {
		s = s * MaxNodeScore / hi
		if reverse {
			s = MaxNodeScore - s
		}
		scores[i] = s
	}
}
