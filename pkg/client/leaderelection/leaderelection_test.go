package leaderelection_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/client/leaderelection"
	"github.com/coxswain/coxswain/pkg/testutil"
)

const (
	leaseDuration = 2 * time.Second
	renewDeadline = 1500 * time.Millisecond
	retryPeriod   = 200 * time.Millisecond
)

// tracker counts the candidates that are leading right now, across candidates.
type tracker struct {
	leaders    atomic.Int32
	max        atomic.Int32
	violations atomic.Int32
}

// candidate is one participant, with its own connection, metrics registry and bookkeeping.
type candidate struct {
	id      string
	c       *client.Client
	reg     *prometheus.Registry
	cancel  context.CancelFunc
	done    chan error
	started atomic.Int32 // times OnStartedLeading ran
	leading atomic.Bool
	// Unix nanoseconds: when OnStartedLeading began, when its ctx ended, and when the last lease
	// write of this candidate that succeeded was sent.
	becameLeader atomic.Int64
	steppedDown  atomic.Int64
	lastWrite    atomic.Int64
}

// newClient connects to the apiserver, recording when successful lease writes were sent.
func newClient(t *testing.T, addr string, waitForReady bool, lastWrite *atomic.Int64) *client.Client {
	t.Helper()
	rec := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		sent := time.Now()
		err := invoker(ctx, method, req, reply, cc, opts...)
		if err == nil && strings.Contains(method, "LeaseService/") && (strings.HasSuffix(method, "/Update") || strings.HasSuffix(method, "/Create")) {
			lastWrite.Store(sent.UnixNano())
		}
		return err
	}
	c, err := client.New(client.Config{Server: addr, WaitForReady: waitForReady,
		DialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(rec)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// start runs a candidate; its OnStartedLeading takes cleanup to wind down after losing its ctx, like
// a controller finishing the work in hand.
func start(t *testing.T, a *testutil.APIServer, tr *tracker, lease, id string, waitForReady bool, cleanup time.Duration) *candidate {
	t.Helper()
	cd := &candidate{id: id, reg: prometheus.NewRegistry(), done: make(chan error, 1)}
	cd.c = newClient(t, a.Addr, waitForReady, &cd.lastWrite)
	ctx, cancel := context.WithCancel(testutil.Context(t))
	cd.cancel = cancel
	cfg := leaderelection.Config{Client: cd.c, Namespace: "kube-system", Name: lease, Identity: id,
		LeaseDuration: leaseDuration, RenewDeadline: renewDeadline, RetryPeriod: retryPeriod,
		Registerer: cd.reg, Logger: testutil.Logger(),
		OnStartedLeading: func(ctx context.Context) {
			n := tr.leaders.Add(1)
			if n > 1 {
				tr.violations.Add(1)
			}
			for m := tr.max.Load(); n > m && !tr.max.CompareAndSwap(m, n); m = tr.max.Load() {
			}
			cd.started.Add(1)
			cd.becameLeader.Store(time.Now().UnixNano())
			cd.leading.Store(true)
			<-ctx.Done()
			cd.steppedDown.Store(time.Now().UnixNano())
			time.Sleep(cleanup)
			cd.leading.Store(false)
			tr.leaders.Add(-1)
		}}
	go func() { cd.done <- leaderelection.Run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-cd.done:
		case <-time.After(10 * time.Second):
			t.Errorf("candidate %s: Run did not return after its context ended", id)
		}
	})
	return cd
}

// gauge returns leader_election_master_status{name=lease} from the candidate's registry (0 if absent).
func (cd *candidate) gauge(t *testing.T, lease string) float64 {
	t.Helper()
	mfs, err := cd.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "leader_election_master_status" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "name" && l.GetValue() == lease {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}

func (cd *candidate) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-cd.done:
		cd.done <- err // keep it for the cleanup
		return err
	case <-time.After(timeout):
		t.Fatalf("candidate %s: Run still running after %v", cd.id, timeout)
		return nil
	}
}

func ns(n int64) time.Time { return time.Unix(0, n) }

// leaderOf waits until exactly one of the candidates leads and returns it and the other.
func leaderOf(t *testing.T, x, y *candidate) (leader, follower *candidate) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, func() bool { return x.leading.Load() || y.leading.Load() }, "nobody became leader")
	if x.leading.Load() {
		return x, y
	}
	return y, x
}

func TestOneLeaderAndCleanHandover(t *testing.T) {
	t.Parallel()
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)
	var tr tracker
	const lease = "handover"
	x := start(t, a, &tr, lease, "x", true, 300*time.Millisecond)
	y := start(t, a, &tr, lease, "y", true, 300*time.Millisecond)
	leader, follower := leaderOf(t, x, y)

	// Longer than the lease duration: the renewing leader keeps it, the follower never leads.
	time.Sleep(leaseDuration + 500*time.Millisecond)
	if !leader.leading.Load() || leader.started.Load() != 1 || follower.started.Load() != 0 {
		t.Fatalf("leadership moved while the leader renewed: %s leading=%v started=%d, %s started=%d",
			leader.id, leader.leading.Load(), leader.started.Load(), follower.id, follower.started.Load())
	}
	if g, f := leader.gauge(t, lease), follower.gauge(t, lease); g != 1 || f != 0 {
		t.Fatalf("leader_election_master_status: leader %v, follower %v", g, f)
	}
	l, err := a.Client.Leases().Get(ctx, "kube-system", lease)
	if err != nil || l.GetSpec().GetHolderIdentity() != leader.id || l.GetSpec().GetLeaseDurationSeconds() != 2 {
		t.Fatalf("lease %v, %v; want held by %s for 2s", l, err, leader.id)
	}

	// Cancelling the leader releases the lease once it has stopped: the follower takes over well
	// before the lease would have expired.
	cancelled := time.Now()
	leader.cancel()
	if err := leader.wait(t, 5*time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled leader's Run: %v, want context.Canceled", err)
	}
	testutil.Eventually(t, 5*time.Second, follower.leading.Load, "the follower never took over")
	t.Logf("taken over %v after the cancel", ns(follower.becameLeader.Load()).Sub(cancelled))
	if took := ns(follower.becameLeader.Load()).Sub(cancelled); took > leaseDuration-500*time.Millisecond {
		t.Errorf("takeover after a clean release took %v; the release should make it immediate", took)
	}
	if v := tr.violations.Load(); v != 0 || tr.max.Load() != 1 {
		t.Fatalf("two leaders at once (%d times, at most %d)", v, tr.max.Load())
	}
	if g, f := leader.gauge(t, lease), follower.gauge(t, lease); g != 0 || f != 1 {
		t.Fatalf("leader_election_master_status after handover: old %v, new %v", g, f)
	}
	l, err = a.Client.Leases().Get(ctx, "kube-system", lease)
	if err != nil || l.GetSpec().GetHolderIdentity() != follower.id || l.GetSpec().GetLeaseTransitions() != 1 {
		t.Fatalf("lease after handover %v, %v; want held by %s after 1 transition", l, err, follower.id)
	}
}

func TestSilentLeaderIsReplacedAfterExpiry(t *testing.T) {
	t.Parallel()
	a := testutil.StartAPIServer(t)
	var tr tracker
	const lease = "silent"
	x := start(t, a, &tr, lease, "x", false, 0)
	y := start(t, a, &tr, lease, "y", false, 0)
	leader, follower := leaderOf(t, x, y)
	time.Sleep(500 * time.Millisecond) // a few renewals

	// The leader loses its connection: it cannot renew, nor release.
	leader.c.Close()
	if err := leader.wait(t, 10*time.Second); !errors.Is(err, leaderelection.ErrLostLeadership) {
		t.Fatalf("leader's Run: %v, want ErrLostLeadership", err)
	}
	testutil.Eventually(t, 10*time.Second, follower.leading.Load, "the follower never took over")
	lastRenew := ns(leader.lastWrite.Load())
	stepped, took := ns(leader.steppedDown.Load()), ns(follower.becameLeader.Load())
	t.Logf("after the last renewal: stepped down %v, taken over %v", stepped.Sub(lastRenew), took.Sub(lastRenew))
	if d := stepped.Sub(lastRenew); d > leaseDuration-100*time.Millisecond {
		t.Errorf("leader stepped down %v after its last renewal; must be before the lease (%v) can expire", d, leaseDuration)
	}
	if d := took.Sub(lastRenew); d < leaseDuration {
		t.Errorf("follower took over %v after the last renewal, before the lease duration %v", d, leaseDuration)
	}
	if !stepped.Before(took) || tr.violations.Load() != 0 || tr.max.Load() != 1 {
		t.Fatalf("overlap: stepped down at %v, new leader at %v; violations %d", stepped, took, tr.violations.Load())
	}
	if g := leader.gauge(t, lease); g != 0 {
		t.Fatalf("lost leader's gauge %v", g)
	}
}

func TestLeaderStepsDownWhenAPIServerDisappears(t *testing.T) {
	t.Parallel()
	for _, waitForReady := range []bool{true, false} {
		name := "fail-fast client"
		if waitForReady {
			name = "wait-for-ready client"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := testutil.StartAPIServer(t)
			var tr tracker
			const lease = "disappearing"
			cd := start(t, a, &tr, lease, "solo", waitForReady, 0)
			testutil.Eventually(t, 10*time.Second, cd.leading.Load, "never became leader")
			time.Sleep(500 * time.Millisecond)
			if g := cd.gauge(t, lease); g != 1 {
				t.Fatalf("leader's gauge %v", g)
			}
			a.Stop()
			if err := cd.wait(t, 10*time.Second); !errors.Is(err, leaderelection.ErrLostLeadership) {
				t.Fatalf("Run: %v, want ErrLostLeadership", err)
			}
			lastRenew, stepped := ns(cd.lastWrite.Load()), ns(cd.steppedDown.Load())
			t.Logf("stepped down %v after the last renewal", stepped.Sub(lastRenew))
			if d := stepped.Sub(lastRenew); d > leaseDuration-100*time.Millisecond || d < renewDeadline-500*time.Millisecond {
				t.Errorf("stepped down %v after the last renewal; want about RenewDeadline (%v) and before the lease (%v) can expire",
					d, renewDeadline, leaseDuration)
			}
			if cd.leading.Load() || cd.gauge(t, lease) != 0 {
				t.Fatalf("still leading (%v) or gauge %v after Run returned", cd.leading.Load(), cd.gauge(t, lease))
			}
		})
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	c, err := client.New(client.Config{Server: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	noop := func(context.Context) {}
	tests := []struct {
		name string
		cfg  leaderelection.Config
	}{
		{"no client", leaderelection.Config{Name: "l", Identity: "i", OnStartedLeading: noop}},
		{"no name", leaderelection.Config{Client: c, Identity: "i", OnStartedLeading: noop}},
		{"no identity", leaderelection.Config{Client: c, Name: "l", OnStartedLeading: noop}},
		{"no callback", leaderelection.Config{Client: c, Name: "l", Identity: "i"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := leaderelection.Run(ctx, tc.cfg); err == nil || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Run = %v, want a configuration error", err)
			}
		})
	}
}
