package bench

import (
	"bytes"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coxswain/coxswain/pkg/testutil"
)

// TestDensityEndToEnd runs `coxbench density --nodes 5 --pods 50` against the real binaries in
// ../../bin (make build) and checks every part of the report.
func TestDensityEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end benchmark: skipped with -short")
	}
	bin, err := filepath.Abs(filepath.Join("..", "..", "bin"))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"etcd", "apiserver", "scheduler", "controller-manager", "kubelet"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			t.Skipf("%s not built in %s: run `make build` to enable this end-to-end test", b, bin)
		}
	}
	out, data := t.TempDir(), t.TempDir()
	var table bytes.Buffer
	r, err := New(Config{
		Workload: &Density{NodeCount: 5, Pods: 50, DeploymentSize: 10, QPS: 20, Workers: 2, Timeout: 3 * time.Minute},
		BinDir:   bin, OutDir: out, DataDir: data, ExternalEtcd: true, NodeCPU: "4", NodeMemory: "16Gi",
		IdleSettle: time.Second, EtcdRefDuration: time.Second, RunTimeout: 10 * time.Minute,
		Out: &table, Logger: testutil.Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(testutil.Context(t))
	if err != nil {
		t.Fatalf("%v\n%s", err, table.String())
	}
	rr := rep.Runs[0]
	det := rr.Workload.(*DensityResult)
	if det.ThroughputPodsPerSecond <= 0 || math.IsNaN(det.AllRunningSeconds) || det.AllBoundSeconds > det.AllRunningSeconds ||
		det.CreatedToRunningMs.Count != 50 {
		t.Errorf("density result = %+v", det)
	}
	if n := len(rr.Series); n < 2 || rr.Series[n-1].Running != 50 {
		t.Errorf("series ends with %+v, want 50 running", rr.Series[len(rr.Series)-1])
	}
	calls := map[string]APICall{}
	for _, c := range rr.API.Calls {
		calls[c.Resource+" "+c.Verb] = c
	}
	for _, k := range []string{"pods CREATE", "pods BIND", "deployments CREATE"} {
		want := 50.0
		if k == "deployments CREATE" {
			want = 5
		}
		if c := calls[k]; c.Count < want || math.IsNaN(c.P99Ms) {
			t.Errorf("%s = %+v, want >= %v calls with a p99", k, c, want)
		}
	}
	if rr.API.Mutating.Count < 150 || rr.API.WritesPerSecond <= 0 {
		t.Errorf("API = %+v", rr.API.Mutating)
	}
	if rr.Scheduler.Scheduled < 50 {
		t.Errorf("scheduler = %+v, want >= 50 scheduled", rr.Scheduler)
	}
	procs := map[string]ProcessResult{}
	for _, p := range rr.Processes {
		procs[strings.Fields(p.Name)[0]] = p
	}
	for _, name := range []string{"etcd", "apiserver", "scheduler", "controller-manager"} {
		p := procs[name]
		if p.IdleRSSBytes < 1<<20 || p.PeakRSSBytes < p.IdleRSSBytes/2 {
			t.Errorf("%s = %+v, want idle and peak RSS", name, p)
		}
	}
	if procs["apiserver"].CPUSeconds <= 0 || procs["kubelets"].PeakRSSBytes == 0 {
		t.Errorf("apiserver CPU %v, kubelets %+v", procs["apiserver"].CPUSeconds, procs["kubelets"])
	}
	if rr.IdleControlPlaneRSSBytes < procs["apiserver"].IdleRSSBytes || rr.ControlPlanePeakRSSBytes < rr.IdleControlPlaneRSSBytes/2 {
		t.Errorf("control plane idle %d peak %d", rr.IdleControlPlaneRSSBytes, rr.ControlPlanePeakRSSBytes)
	}
	e := rr.EtcdReference
	if e == nil || e.Puts == 0 || e.Embedded || e.ValueBytes != rr.AvgPodBytes || rr.AvgPodBytes < 100 || rr.WriteRatio <= 0 {
		t.Errorf("etcd reference = %+v, pod bytes %d, ratio %v", e, rr.AvgPodBytes, rr.WriteRatio)
	}
	if rr.KubeletMode != KubeletHollow {
		t.Logf("kubelet mode %s (the kubelet has no --hollow-nodes)", rr.KubeletMode)
	}
	b, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil || back.Workload != "density" || len(back.Median) == 0 {
		t.Errorf("result.json: %v", err)
	}
	f, err := os.Open(filepath.Join(out, "pods.png"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(f); err != nil {
		t.Errorf("pods.png: %v", err)
	}
	f.Close()
	for _, want := range []string{"density: pods Running per second", "API calls at the apiserver", "idle control-plane RSS", "BIND"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "logs", "run-1", "apiserver.log")); err != nil {
		t.Errorf("component logs: %v", err)
	}
	// Every component was stopped: no process still refers to the run's data directory.
	if left := processesMentioning(data); len(left) > 0 {
		t.Errorf("processes left running: %v", left)
	}
}

func processesMentioning(s string) []string {
	var out []string
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range dirs {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(s)) {
			out = append(out, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}
