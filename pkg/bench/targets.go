package bench

import (
	"fmt"
	"math"
)

// TargetResult is one of the targets checked against the medians of this benchmark.
type TargetResult struct {
	Target    string  `json:"target"`
	Threshold string  `json:"threshold"`
	Measured  float64 `json:"measured"`
	Unit      string  `json:"unit"`
	// Pass says whether the measured value meets the threshold; AtScale whether this run's
	// configuration is the one the target is stated for (a pass below scale proves little).
	Pass    bool   `json:"pass"`
	AtScale bool   `json:"at_scale"`
	Verdict string `json:"verdict"`
	Note    string `json:"note,omitempty"`
}

// The targets.
const (
	TargetThroughput   = 1500.0  // pods/s, 1,000 hollow nodes x 30,000 pods, end to end
	TargetStartupP99   = 500.0   // ms at 100 pods/s
	TargetMutatingP99  = 50.0    // ms during density
	TargetConvergedRSS = 4 << 30 // bytes of control-plane RSS at 5,000 nodes x 150,000 pods
	TargetIdleRSS      = 150e6   // bytes (150 MB) of idle control plane
	largeNodes         = 5000    // the RSS target's scale
	largePods          = 150000  //
	refNodes, refPods  = 1000, 30000
)

func verdict(pass, atScale, measured bool) string {
	switch {
	case !measured:
		return "NOT MEASURED"
	case atScale && pass:
		return "PASS"
	case atScale:
		return "FAIL"
	case pass:
		return "pass (below target scale)"
	}
	return "fail (below target scale)"
}

func target(name, threshold string, v float64, unit string, pass, atScale bool, note string) TargetResult {
	measured := !math.IsNaN(v)
	pass = pass && measured
	return TargetResult{Target: name, Threshold: threshold, Measured: v, Unit: unit, Pass: pass, AtScale: atScale,
		Verdict: verdict(pass, atScale, measured), Note: note}
}

// evaluateTargets checks the targets that apply to workload w against the median figures.
func evaluateTargets(w Workload, med map[string]float64, failed bool) []TargetResult {
	get := func(k string) float64 {
		if v, ok := med[k]; ok {
			return v
		}
		return math.NaN()
	}
	var out []TargetResult
	switch w := w.(type) {
	case *Density:
		ref := w.NodeCount >= refNodes && w.Pods >= refPods
		scale := fmt.Sprintf("measured at %d nodes x %d pods; the target is stated for %d x %d", w.NodeCount, w.Pods, refNodes, refPods)
		if ref {
			scale = ""
		}
		tp := get("density.throughput")
		out = append(out, target("density throughput, end to end", fmt.Sprintf(">= %.0f pods/s", TargetThroughput), tp, "pods/s", tp >= TargetThroughput, ref, scale))
		p99 := get("api.mutating_p99")
		out = append(out, target("mutating API p99 during density", fmt.Sprintf("<= %.0f ms", TargetMutatingP99), p99, "ms", p99 <= TargetMutatingP99, ref, scale))
		large := w.NodeCount >= largeNodes && w.Pods >= largePods
		rss := get("rss.peak_control_plane")
		note := fmt.Sprintf("measured at %d nodes x %d pods; the target is stated for %d x %d", w.NodeCount, w.Pods, largeNodes, largePods)
		if large {
			note = ""
		}
		if failed {
			note += "; the pods did not all converge"
		}
		out = append(out, target("control-plane peak RSS, all pods converged", "<= 4096 MiB", rss, "MiB", !failed && rss*mib <= TargetConvergedRSS, large, note))
	case *Startup:
		atRate := w.Rate >= 100
		note := ""
		if !atRate {
			note = fmt.Sprintf("measured at %.0f pods/s; the target is stated for 100 pods/s", w.Rate)
		}
		p99 := get("startup.p99")
		out = append(out, target("pod startup latency p99", fmt.Sprintf("<= %.0f ms at 100 pods/s", TargetStartupP99), p99, "ms", p99 <= TargetStartupP99, atRate, note))
	}
	idle := get("rss.idle_control_plane")
	out = append(out, target("idle control-plane RSS", "<= 150 MB (143.1 MiB)", idle, "MiB", idle*mib <= TargetIdleRSS, true,
		fmt.Sprintf("etcd+apiserver+scheduler+controller-manager with %d registered nodes", w.Nodes())))
	return out
}
