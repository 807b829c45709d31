package framework_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/coxswain/coxswain/pkg/scheduler/framework"
	h "github.com/coxswain/coxswain/pkg/scheduler/framework/harness"
)

// FuzzNewPodInfo feeds arbitrary quantities, node selector operators and values through PodInfo
// compilation and a scheduling pass: nothing may panic, requests are never negative, and the outcome
// is a node, a *FitError with Kubernetes' message shape, or the compile error.
func FuzzNewPodInfo(f *testing.F) {
	f.Add("500m", "1Gi", "2", "In", "ssd", int32(80))
	f.Add("", "", "", "Gt", "3", int32(0))
	f.Add("-1", "1e3", "0.5", "Lt", "x", int32(-5))
	f.Add("1E", "99999999999999999999Ei", "1n", "Exists", "", int32(65536))
	f.Fuzz(func(t *testing.T, cpu, mem, initCPU, op, value string, port int32) {
		b := h.Pod("ns", "p", cpu, mem).InitContainer(initCPU, "").HostPort("", "TCP", port)
		var vals []string
		if value != "" {
			vals = []string{value}
		}
		b.RequiredNodeAffinity(h.Req("disk", op, vals...))
		pi := b.Info()
		if pi.Requests.MilliCPU < 0 || pi.Requests.Memory < 0 || pi.NonZeroRequests.MilliCPU <= 0 || pi.NonZeroRequests.Memory <= 0 {
			t.Fatalf("requests %+v nonzero %+v", pi.Requests, pi.NonZeroRequests)
		}
		c, err := h.NewCluster(framework.Config{Parallelism: 1},
			h.Node("n1", "4", "8Gi", "110").Label("disk", "ssd").Obj(), h.Node("n2", "2", "2Gi", "110").Label("disk", "3").Obj())
		if err != nil {
			t.Fatal(err)
		}
		node, err := c.Schedule(pi)
		var fe *framework.FitError
		switch {
		case err == nil:
			if node != "n1" && node != "n2" {
				t.Fatalf("scheduled on %q", node)
			}
		case errors.As(err, &fe):
			if msg := err.Error(); !strings.HasPrefix(msg, "0/2 nodes are available: ") || !strings.HasSuffix(msg, ".") {
				t.Fatalf("message %q", msg)
			}
		case pi.Err == nil || err != pi.Err:
			t.Fatalf("unexpected error %v (pod error %v)", err, pi.Err)
		}
	})
}
