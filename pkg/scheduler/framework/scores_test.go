package framework_test

import (
	"slices"
	"testing"

	"github.com/coxswain/coxswain/pkg/scheduler/framework"
	h "github.com/coxswain/coxswain/pkg/scheduler/framework/harness"
)

type scoreCase struct {
	name   string
	pod    *h.PodBuilder
	nodes  []*h.NodeBuilder
	placed map[string][]*h.PodBuilder // node → pods
	want   []int64                    // normalized score per node, in order
	// infeasible: the pod fits no node (the scorer is checked on its own, Schedule is not).
	infeasible bool
}

// runScoreCases checks one scorer's normalized scores, and that a framework with only that scorer
// picks a node with the best score.
func runScoreCases(t *testing.T, s framework.Scorer, cases []scoreCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap := framework.NewSnapshot()
			var infos []*framework.NodeInfo
			for _, nb := range tc.nodes {
				infos = append(infos, snap.SetNode(nb.Obj()))
			}
			for n, pods := range tc.placed {
				for _, p := range pods {
					snap.AddPod(p.NodeName(n).Info(), n)
				}
			}
			pi := tc.pod.Info()
			st := framework.NewCycleState(pi, snap)
			got := make([]int64, len(infos))
			for i, ni := range infos {
				got[i] = s.Score(st, pi, ni)
			}
			if nz, ok := s.(framework.Normalizer); ok {
				nz.Normalize(pi, got)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("%s scores %v, want %v", s.Name(), got, tc.want)
			}
			fw, err := framework.New(framework.Config{Scorers: []framework.WeightedScorer{{Scorer: s, Weight: 1}}, Parallelism: 1, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			if totals := fw.ScoreNodes(pi, snap, infos); !slices.Equal(totals, tc.want) {
				t.Fatalf("ScoreNodes %v, want %v", totals, tc.want)
			}
			if tc.infeasible {
				return
			}
			res, err := fw.Schedule(pi, snap)
			if err != nil {
				t.Fatalf("Schedule: %v", err)
			}
			best := slices.Max(tc.want)
			for i, ni := range infos {
				if ni.Name == res.Node && tc.want[i] != best {
					t.Fatalf("Schedule chose %s with score %d, best is %d", res.Node, tc.want[i], best)
				}
			}
		})
	}
}

func TestLeastAllocatedScore(t *testing.T) {
	runScoreCases(t, framework.LeastAllocated{}, []scoreCase{
		{name: "empty nodes of different sizes", pod: h.Pod("ns", "p", "1", "1Gi"),
			nodes: []*h.NodeBuilder{h.Node("n1", "2", "4Gi", "10"), h.Node("n2", "4", "8Gi", "10")},
			// n1: cpu (2-1)/2=50, mem (4-1)/4=75 → 62; n2: cpu 75, mem 87 → 81
			want: []int64{62, 81}},
		{name: "placed pods count", pod: h.Pod("ns", "p", "1", "1Gi"),
			nodes:  []*h.NodeBuilder{h.Node("n1", "4", "8Gi", "10"), h.Node("n2", "4", "8Gi", "10")},
			placed: map[string][]*h.PodBuilder{"n1": {h.Pod("ns", "q", "2", "4Gi")}},
			// n1: cpu (4-3)/4=25, mem (8-5)/8=37 → 31; n2: 75, 87 → 81
			want: []int64{31, 81}},
		{name: "best effort pods count as 100m/200Mi", pod: h.Pod("ns", "p", "", ""),
			nodes:  []*h.NodeBuilder{h.Node("n1", "1", "1000Mi", "10"), h.Node("n2", "1", "1000Mi", "10")},
			placed: map[string][]*h.PodBuilder{"n1": {h.Pod("ns", "q", "", "")}},
			// n1: cpu (1000-200)/1000=80, mem (1000-400)/1000=60 → 70; n2: 90, 80 → 85
			want: []int64{70, 85}},
		{name: "overcommitted node scores 0", pod: h.Pod("ns", "p", "2", "2Gi"),
			nodes: []*h.NodeBuilder{h.Node("n1", "1", "1Gi", "10")}, want: []int64{0}, infeasible: true},
	})
}

func TestBalancedAllocationScore(t *testing.T) {
	runScoreCases(t, framework.BalancedAllocation{}, []scoreCase{
		{name: "balanced beats lopsided", pod: h.Pod("ns", "p", "1", "1Gi"),
			nodes: []*h.NodeBuilder{h.Node("n1", "2", "8Gi", "10"), h.Node("n2", "4", "4Gi", "10")},
			// n1: cpu .5 mem .125 → 1-.1875 = 81; n2: cpu .25 mem .25 → 100
			want: []int64{81, 100}},
		{name: "fractions cap at 1", pod: h.Pod("ns", "p", "8", "1Gi"),
			nodes: []*h.NodeBuilder{h.Node("n1", "2", "4Gi", "10")},
			// cpu 1 (capped), mem .25 → 1-.375 = 62
			want: []int64{62}, infeasible: true},
	})
}

func TestOwnerSpreadScore(t *testing.T) {
	rs := func(name string) *h.PodBuilder { return h.Pod("ns", name, "", "").Owner("rs1") }
	nodes := func() []*h.NodeBuilder { return []*h.NodeBuilder{node("n1"), node("n2"), node("n3")} }
	runScoreCases(t, framework.OwnerSpread{}, []scoreCase{
		{name: "fewest siblings wins", pod: rs("p"), nodes: nodes(),
			placed: map[string][]*h.PodBuilder{"n1": {rs("a"), rs("b")}, "n2": {rs("c")}},
			want:   []int64{0, 50, 100}},
		{name: "other owners do not count", pod: rs("p"), nodes: nodes(),
			placed: map[string][]*h.PodBuilder{"n1": {h.Pod("ns", "x", "", "").Owner("rs2")}},
			want:   []int64{100, 100, 100}},
		{name: "pod without controller", pod: h.Pod("ns", "p", "", ""), nodes: nodes(),
			placed: map[string][]*h.PodBuilder{"n1": {rs("a")}},
			want:   []int64{100, 100, 100}},
	})
}

func TestNodeAffinityScore(t *testing.T) {
	nodes := func() []*h.NodeBuilder {
		return []*h.NodeBuilder{node("n1").Label("disk", "ssd"), node("n2").Label("disk", "ssd").Label("gpu", "yes"), node("n3")}
	}
	runScoreCases(t, framework.NodeAffinity{}, []scoreCase{
		{name: "weights add up and normalize to the best", nodes: nodes(),
			pod:  h.Pod("ns", "p", "", "").PreferredNodeAffinity(20, h.Req("disk", "In", "ssd")).PreferredNodeAffinity(60, h.Req("gpu", "Exists")),
			want: []int64{25, 100, 0}},
		{name: "no preference", nodes: nodes(), pod: h.Pod("ns", "p", "", ""), want: []int64{0, 0, 0}},
	})
}

func TestTaintTolerationScore(t *testing.T) {
	nodes := func() []*h.NodeBuilder {
		return []*h.NodeBuilder{
			node("n1").Taint("spot", "true", "PreferNoSchedule").Taint("old", "", "PreferNoSchedule"),
			node("n2").Taint("spot", "true", "PreferNoSchedule"),
			node("n3"),
		}
	}
	runScoreCases(t, framework.TaintToleration{}, []scoreCase{
		{name: "fewer untolerated PreferNoSchedule taints is better", pod: h.Pod("ns", "p", "", ""), nodes: nodes(), want: []int64{0, 50, 100}},
		{name: "tolerated taints do not count", pod: h.Pod("ns", "p", "", "").Toleration("spot", "Exists", "", "PreferNoSchedule"),
			nodes: nodes(), want: []int64{0, 100, 100}},
		{name: "NoSchedule tolerations do not cover PreferNoSchedule", pod: h.Pod("ns", "p", "", "").Toleration("spot", "Exists", "", "NoSchedule"),
			nodes: nodes(), want: []int64{0, 50, 100}},
	})
}

func TestDefaultScorersCombine(t *testing.T) {
	// Two identical nodes, one with a sibling of the pod and a PreferNoSchedule taint: every default
	// scorer agrees on n2.
	snap := framework.NewSnapshot()
	n1 := snap.SetNode(node("n1").Taint("spot", "", "PreferNoSchedule").Obj())
	n2 := snap.SetNode(node("n2").Obj())
	snap.AddPod(h.Pod("ns", "a", "1", "1Gi").Owner("rs").NodeName("n1").Info(), "n1")
	fw, err := framework.New(framework.Config{Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	pi := h.Pod("ns", "p", "1", "1Gi").Owner("rs").Info()
	got := fw.ScoreNodes(pi, snap, []*framework.NodeInfo{n1, n2})
	// n1: taint 0*3 + affinity 0*2 + spread 0*2 + least (50+75)/2=62 + balanced (.5 vs .25 → 87)
	// n2: taint 100*3 + affinity 0*2 + spread 100*2 + least (75+87)/2=81 + balanced (.25 vs .125 → 93)
	want := []int64{0*3 + 0*2 + 0*2 + 62 + 87, 100*3 + 0*2 + 100*2 + 81 + 93}
	if !slices.Equal(got, want) {
		t.Fatalf("scores %v, want %v", got, want)
	}
	res, err := fw.Schedule(pi, snap)
	if err != nil || res.Node != "n2" {
		t.Fatalf("Schedule = %+v, %v; want n2", res, err)
	}
}
