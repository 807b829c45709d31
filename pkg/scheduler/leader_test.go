package scheduler

import (
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/coxswain/coxswain/pkg/client"
	h "github.com/coxswain/coxswain/pkg/scheduler/framework/harness"
	"github.com/coxswain/coxswain/pkg/testutil"
)

// tcpProxy forwards connections to target until killed; Kill drops every connection at once, which
// to a client behind it looks like its process (or its network) died.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	killed bool
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target}
	go p.accept()
	t.Cleanup(p.Kill)
	return p
}

func (p *tcpProxy) Addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) accept() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		if p.killed {
			p.mu.Unlock()
			in.Close()
			out.Close()
			return
		}
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(out, in); out.Close() }()
		go func() { _, _ = io.Copy(in, out); in.Close() }()
	}
}

// Kill closes the listener and every connection.
func (p *tcpProxy) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.killed {
		return
	}
	p.killed = true
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
}

// TestLeaderElectionFailover runs two schedulers against one apiserver: only the leader binds; when
// the leader goes away the standby takes over. "crash" cuts the leader off the network before
// stopping it, so it cannot release the lease and the standby must wait for it to expire; "graceful"
// stops it, which releases the lease. The failover time is logged.
func TestLeaderElectionFailover(t *testing.T) {
	short := func(c *Config) {
		c.LeaseDuration, c.RenewDeadline, c.RetryPeriod = 3*time.Second, 2*time.Second, 500*time.Millisecond
	}
	defaults := func(*Config) {} // DefaultLeaseDuration/RenewDeadline/RetryPeriod
	// The budget is the expected bound (a crashed leader's lease expires after LeaseDuration as seen by
	// the standby, which polls every RetryPeriod; a released lease is taken at the next poll) plus 5 s
	// for a noisy machine. With the defaults the contract is "within 15 s"; expect about 10-12 s.
	const noise = 5 * time.Second
	cases := []struct {
		name   string
		lease  func(*Config)
		crash  bool
		budget time.Duration // takeover plus one binding within this
	}{
		{"crash/lease=3s,renew=2s,retry=0.5s", short, true, 3*time.Second + 2*500*time.Millisecond + noise},
		{"graceful/lease=3s,renew=2s,retry=0.5s", short, false, 2*500*time.Millisecond + noise},
		{"crash/defaults", defaults, true, DefaultLeaseDuration + 2*DefaultRetryPeriod + noise},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := testutil.StartAPIServer(t)
			proxy := startProxy(t, a.Addr)
			viaProxy, err := client.New(client.Config{Server: proxy.Addr(), UserAgent: "scheduler-a"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { viaProxy.Close() })
			withLE := func(id string) func(*Config) {
				return func(c *Config) { c.LeaderElect, c.Identity = true, id; tc.lease(c) }
			}
			sa := startScheduler(t, viaProxy, withLE("sched-a"))
			testutil.Eventually(t, 60*time.Second, sa.IsLeader, "sched-a never became leader")
			sb := startScheduler(t, a.Client, withLE("sched-b"))
			for i := range 3 {
				createNode(t, a.Client, h.Node(fmt.Sprintf("node-%d", i), "4", "8Gi", "110"))
			}
			waitNodes(t, sa, "node-0", "node-1", "node-2")
			waitNodes(t, sb, "node-0", "node-1", "node-2")
			for i := range 6 {
				createPod(t, a.Client, h.Pod("default", fmt.Sprintf("before-%d", i), "100m", ""))
			}
			for i := range 6 {
				name := fmt.Sprintf("before-%d", i)
				waitBound(t, a.Client, name, 20*time.Second)
				if ev := waitEvent(t, a.Client, name, "Scheduled", ""); ev.GetSource().GetHost() != "sched-a" {
					t.Errorf("pod %s: Scheduled event reported by %q, want the leader sched-a", name, ev.GetSource().GetHost())
				}
			}
			if got, standby := sa.attempts(resultScheduled), sb.attempts(resultScheduled); got != 6 || standby != 0 {
				t.Fatalf("bindings: leader %v, standby %v; want 6 and 0", got, standby)
			}
			if sb.IsLeader() {
				t.Fatal("the standby is leading too")
			}

			killed := time.Now()
			if tc.crash {
				proxy.Kill()
			}
			sa.stop(t)
			createPod(t, a.Client, h.Pod("default", "after", "100m", ""))
			var tookOver time.Duration
			testutil.Eventually(t, tc.budget+10*time.Second, func() bool {
				if tookOver == 0 && sb.IsLeader() {
					tookOver = time.Since(killed)
				}
				return getPod(t, a.Client, "after").GetSpec().GetNodeName() != ""
			}, "the standby never bound the new pod")
			bound := time.Since(killed)
			t.Logf("failover (%s): standby leading after %v, new pod bound after %v", tc.name, tookOver.Round(time.Millisecond), bound.Round(time.Millisecond))
			if bound > tc.budget {
				t.Errorf("failover took %v, budget %v", bound, tc.budget)
			}
			// The attempt is counted after Bind returns, so the watch may show the binding first.
			testutil.Eventually(t, 5*time.Second, func() bool { return sb.attempts(resultScheduled) >= 1 }, "the standby's binding was never counted")
			if got := sb.attempts(resultScheduled); got != 1 {
				t.Errorf("standby bindings %v, want 1", got)
			}
			lease, err := a.Client.Leases().Get(testutil.Context(t), "kube-system", "coxswain-scheduler")
			if err != nil || lease.GetSpec().GetHolderIdentity() != "sched-b" {
				t.Fatalf("lease holder %q (%v), want sched-b", lease.GetSpec().GetHolderIdentity(), err)
			}
			if ev := waitEvent(t, a.Client, "after", "Scheduled", ""); ev.GetSource().GetHost() != "sched-b" {
				t.Errorf("Scheduled event for the new pod from %q, want sched-b", ev.GetSource().GetHost())
			}
		})
	}
}
