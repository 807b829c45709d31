package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/coxswain/coxswain/pkg/bench/stats"
)

// Report is the outcome of a benchmark: every run, the median of every figure, and the targets.
type Report struct {
	Workload  string            `json:"workload"`
	Params    map[string]string `json:"params"`
	Host      Host              `json:"host"`
	StartedAt time.Time         `json:"started_at"`
	Runs      []RunResult       `json:"runs"`
	// Median is every figure's median over the runs.
	Median []Figure `json:"median"`
	// Representative is the index in Runs of the run whose headline figure is closest to the median
	// (its API table and pod curve are the ones shown).
	Representative int            `json:"representative_run_index"`
	Targets        []TargetResult `json:"targets"`
	Failures       []string       `json:"failures,omitempty"`
	Files          []string       `json:"files,omitempty"`
}

// Host describes the machine the benchmark ran on.
type Host struct {
	CPUs        int    `json:"cpus"`
	CPUModel    string `json:"cpu_model,omitempty"`
	MemoryBytes uint64 `json:"memory_bytes"`
	GOOS        string `json:"goos"`
	GOARCH      string `json:"goarch"`
}

// RunResult is one run on a fresh cluster.
type RunResult struct {
	Run          int     `json:"run"`
	Nodes        int     `json:"nodes"`
	KubeletMode  string  `json:"kubelet_mode"`
	Etcd         string  `json:"etcd"`
	ReadySeconds float64 `json:"ready_seconds"`
	// IdleControlPlaneRSSBytes is the peak of etcd+apiserver+scheduler+controller-manager RSS while
	// the started cluster idled, before the workload.
	IdleControlPlaneRSSBytes uint64 `json:"idle_control_plane_rss_bytes"`
	// ControlPlanePeakRSSBytes is the peak of their summed RSS during the workload.
	ControlPlanePeakRSSBytes uint64          `json:"control_plane_peak_rss_bytes"`
	ControlPlaneCPUSeconds   float64         `json:"control_plane_cpu_seconds"`
	Processes                []ProcessResult `json:"processes"`
	WorkloadSeconds          float64         `json:"workload_seconds"`
	API                      APIResult       `json:"api"`
	Scheduler                SchedulerResult `json:"scheduler"`
	EtcdReference            *EtcdResult     `json:"etcd_reference"`
	// WriteRatio is the apiserver's writes/s during the workload ÷ the reference's etcd puts/s.
	WriteRatio  float64  `json:"apiserver_writes_per_etcd_put"`
	AvgPodBytes int      `json:"avg_pod_bytes"`
	Failures    []string `json:"failures,omitempty"`
	Figures     []Figure `json:"figures"`
	Workload    any      `json:"workload"`
	Series      []Point  `json:"series"`
}

// ProcessResult is one component's resource use.
type ProcessResult struct {
	Name         string  `json:"name"`
	Group        string  `json:"group"`
	IdleRSSBytes uint64  `json:"idle_rss_bytes"`
	PeakRSSBytes uint64  `json:"peak_rss_bytes"`
	CPUSeconds   float64 `json:"cpu_seconds"`
	// CPUCores is CPUSeconds per second of the workload window.
	CPUCores float64 `json:"cpu_cores"`
}

// headline is each workload's main figure.
var headline = map[string]string{
	"density": "density.throughput",
	"startup": "startup.p99",
	"churn":   "churn.convergence",
	"watch":   "watch.delivery_p99",
}

// summarize computes the medians, the representative run and the targets.
func (r *Report) summarize(w Workload) {
	var order []string
	byKey := map[string]Figure{}
	values := map[string][]float64{}
	for _, rr := range r.Runs {
		for _, f := range rr.Figures {
			if _, ok := byKey[f.Key]; !ok {
				order = append(order, f.Key)
				byKey[f.Key] = f
			}
			values[f.Key] = append(values[f.Key], f.Value)
		}
	}
	r.Median = nil
	med := map[string]float64{}
	for _, k := range order {
		f := byKey[k]
		f.Value = stats.Median(values[k])
		med[k] = f.Value
		r.Median = append(r.Median, f)
	}
	r.Representative = 0
	if h, ok := headline[r.Workload]; ok {
		best := math.Inf(1)
		for i, v := range values[h] {
			if d := math.Abs(v - med[h]); d < best {
				best, r.Representative = d, i
			}
		}
	}
	r.Targets = evaluateTargets(w, med, len(r.Failures) > 0)
}

func (r *Report) writeJSON(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("result: %w", err)
	}
	b, err := json.MarshalIndent(sanitize(reflect.ValueOf(r)), "", "  ")
	if err != nil {
		return fmt.Errorf("result: encode: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("result: %w", err)
	}
	return nil
}

// sanitize converts v to plain JSON values following the json tags, with NaN and infinite floats as
// null (encoding/json refuses them, and "not measured" is a legitimate result).
func sanitize(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	if v.Kind() != reflect.Pointer && v.Kind() != reflect.Interface && v.CanInterface() {
		if m, ok := v.Interface().(json.Marshaler); ok {
			return m // Figure and time.Time write themselves
		}
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return sanitize(v.Elem())
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil
		}
		return f
	case reflect.Struct:
		out := map[string]any{}
		t := v.Type()
		for i := range t.NumField() {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			fv := v.Field(i)
			if strings.Contains(opts, "omitempty") && fv.IsZero() {
				continue
			}
			if (fv.Kind() == reflect.Slice || fv.Kind() == reflect.Map) && strings.Contains(opts, "omitempty") && fv.Len() == 0 {
				continue
			}
			out[name] = sanitize(fv)
		}
		return orderedObject{keys: fieldOrder(t, out), m: out}
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return []any{}
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = sanitize(v.Index(i))
		}
		return out
	case reflect.Map:
		out := map[string]any{}
		for _, k := range v.MapKeys() {
			out[fmt.Sprint(k.Interface())] = sanitize(v.MapIndex(k))
		}
		return out
	}
	return v.Interface()
}

// orderedObject keeps a struct's field order in the JSON.
type orderedObject struct {
	keys []string
	m    map[string]any
}

func fieldOrder(t reflect.Type, present map[string]any) []string {
	var keys []string
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "" {
			name = sf.Name
		}
		if _, ok := present[name]; ok {
			keys = append(keys, name)
		}
	}
	return keys
}

// MarshalJSON writes the fields in struct order.
func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(o.m[k])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

// fmtVal formats a figure for the table.
func fmtVal(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "-"
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.1f", v)
	case a >= 1 || a == 0:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// PrintTable writes the human summary.
func (r *Report) PrintTable(out io.Writer) {
	if len(r.Runs) == 0 {
		fmt.Fprintln(out, "no runs")
		return
	}
	rr := r.Runs[r.Representative]
	fmt.Fprintf(out, "\ncoxbench %s: %d nodes (%s kubelets, %s etcd), %d run(s); host: %d CPUs, %.1f GiB RAM\n",
		r.Workload, rr.Nodes, rr.KubeletMode, rr.Etcd, len(r.Runs), r.Host.CPUs, float64(r.Host.MemoryBytes)/(1<<30))
	if len(r.Params) > 0 {
		keys := make([]string, 0, len(r.Params))
		for k := range r.Params {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + r.Params[k]
		}
		fmt.Fprintf(out, "parameters: %s\n", strings.Join(parts, " "))
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	head := "FIGURE\tUNIT"
	multi := len(r.Runs) > 1
	if multi {
		for _, x := range r.Runs {
			head += fmt.Sprintf("\tRUN %d", x.Run)
		}
		head += "\tMEDIAN"
	} else {
		head += "\tVALUE"
	}
	fmt.Fprintln(tw, head)
	for i, m := range r.Median {
		line := m.Label + "\t" + m.Unit
		if multi {
			for _, x := range r.Runs {
				v := math.NaN()
				if i < len(x.Figures) && x.Figures[i].Key == m.Key {
					v = x.Figures[i].Value
				} else {
					for _, f := range x.Figures {
						if f.Key == m.Key {
							v = f.Value
						}
					}
				}
				line += "\t" + fmtVal(v)
			}
		}
		line += "\t" + fmtVal(m.Value)
		fmt.Fprintln(tw, line)
	}
	tw.Flush()

	fmt.Fprintf(out, "\nAPI calls at the apiserver during the workload (run %d; apiserver_request_duration_seconds diff):\n", rr.Run)
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "RESOURCE\tVERB\tCOUNT\tP50 ms\tP99 ms\tMEAN ms\t")
	for _, c := range append(append([]APICall(nil), rr.API.Calls...), rr.API.Mutating, rr.API.ReadOnly) {
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%s\t\n", c.Resource, c.Verb, c.Count, fmtVal(c.P50Ms), fmtVal(c.P99Ms), fmtVal(c.MeanMs))
	}
	tw.Flush()

	if len(r.Targets) > 0 {
		fmt.Fprintln(out, "\nTargets (medians over the runs):")
		tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TARGET\tTHRESHOLD\tMEASURED\tVERDICT")
		for _, t := range r.Targets {
			fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\n", t.Target, t.Threshold, fmtVal(t.Measured), t.Unit, t.Verdict)
		}
		tw.Flush()
		for _, t := range r.Targets {
			if t.Note != "" {
				fmt.Fprintf(out, "  - %s: %s\n", t.Target, t.Note)
			}
		}
	}
	for _, f := range r.Failures {
		fmt.Fprintf(out, "\nFAILURE: %s\n", f)
	}
	if len(r.Files) > 0 {
		fmt.Fprintf(out, "\nwritten: %s\n", strings.Join(r.Files, ", "))
	}
}
