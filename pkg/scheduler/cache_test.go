package scheduler

import (
	"testing"
	"time"

	"github.com/coxswain/coxswain/pkg/scheduler/framework"
	h "github.com/coxswain/coxswain/pkg/scheduler/framework/harness"
)

func TestCacheAssumeForgetConfirmExpire(t *testing.T) {
	clk := newFakeClock()
	c := newSchedulerCache(30*time.Second, clk.Now)
	c.SetNode(h.Node("n1", "4", "8Gi", "110").Obj())
	c.SetNode(h.Node("n2", "4", "8Gi", "110").Obj())
	requested := func(node string) (int64, int) {
		r, n := c.nodeRequested(node)
		return r.MilliCPU, n
	}
	assume := func(pi *framework.PodInfo, node string) {
		t.Helper()
		var err error
		c.withSnapshot(func(*framework.Snapshot) { err = c.assumeLocked(pi, node) })
		if err != nil {
			t.Fatal(err)
		}
	}

	// Assumed: counts at once.
	a := h.Pod("ns", "a", "1", "").Info()
	assume(a, "n1")
	if cpu, n := requested("n1"); cpu != 1000 || n != 1 {
		t.Fatalf("after assume: n1 cpu %d pods %d", cpu, n)
	}
	var err error
	c.withSnapshot(func(*framework.Snapshot) { err = c.assumeLocked(a, "n2") })
	if err == nil || err.Error() != "pod ns/a is already placed on node n1" {
		t.Fatalf("assuming twice: %v", err)
	}

	// Binding failed: forgotten.
	c.ForgetPod(a)
	if cpu, n := requested("n1"); cpu != 0 || n != 0 {
		t.Fatalf("after forget: n1 cpu %d pods %d", cpu, n)
	}

	// Bound and confirmed by the informer: no longer assumed, never expires.
	b := h.Pod("ns", "b", "2", "").Info()
	assume(b, "n1")
	c.FinishBinding(b)
	c.AddPod(h.Pod("ns", "b", "2", "").NodeName("n1").Obj())
	if node, assumed, ok := c.placed("ns/b"); !ok || assumed || node != "n1" {
		t.Fatalf("after confirm: node %q assumed %v ok %v", node, assumed, ok)
	}
	clk.Step(time.Hour)
	if exp := c.CleanupExpired(); len(exp) != 0 {
		t.Fatalf("confirmed pod expired: %v", exp)
	}
	if cpu, _ := requested("n1"); cpu != 2000 {
		t.Fatalf("n1 cpu %d, want 2000", cpu)
	}

	// Bound but never confirmed: expires after the TTL.
	d := h.Pod("ns", "d", "1", "").Info()
	assume(d, "n2")
	if exp := c.CleanupExpired(); len(exp) != 0 {
		t.Fatalf("pod with binding in flight expired: %v", exp)
	}
	c.FinishBinding(d)
	clk.Step(29 * time.Second)
	if exp := c.CleanupExpired(); len(exp) != 0 {
		t.Fatalf("expired before the TTL: %v", exp)
	}
	clk.Step(2 * time.Second)
	if exp := c.CleanupExpired(); len(exp) != 1 || exp[0] != "ns/d" {
		t.Fatalf("expired %v, want [ns/d]", exp)
	}
	if cpu, n := requested("n2"); cpu != 0 || n != 0 {
		t.Fatalf("after expiry: n2 cpu %d pods %d", cpu, n)
	}

	// Assumed on n2 but another scheduler bound it to n1: the informer's view wins.
	e := h.Pod("ns", "e", "1", "").Info()
	assume(e, "n2")
	c.AddPod(h.Pod("ns", "e", "1", "").NodeName("n1").Obj())
	if cpu, _ := requested("n2"); cpu != 0 {
		t.Fatalf("n2 cpu %d, want 0", cpu)
	}
	if cpu, n := requested("n1"); cpu != 3000 || n != 2 {
		t.Fatalf("n1 cpu %d pods %d, want 3000/2", cpu, n)
	}

	// Deleted pods stop counting; a delete for another incarnation (uid) is ignored.
	other := h.Pod("ns", "e", "1", "").NodeName("n1").Obj()
	other.Metadata.Uid = "another"
	c.RemovePod(other)
	if _, n := requested("n1"); n != 2 {
		t.Fatalf("a stale delete removed a pod: %d pods", n)
	}
	c.RemovePod(h.Pod("ns", "e", "1", "").NodeName("n1").Obj())
	if cpu, n := requested("n1"); cpu != 2000 || n != 1 {
		t.Fatalf("after delete: n1 cpu %d pods %d", cpu, n)
	}
}
