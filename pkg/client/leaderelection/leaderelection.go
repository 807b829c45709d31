// Package leaderelection elects one leader among replicas of a component with a Lease object, like
// client-go's: the holder renews spec.renewTime; others take over once the lease has not been renewed for
// leaseDurationSeconds. Every write is fenced by the Lease's resourceVersion (optimistic concurrency), so
// two candidates can never both believe they acquired it; a leader that cannot renew within
// RenewDeadline stops leading (its ctx is cancelled) before anyone else may take over.
package leaderelection

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/client"
	coordinationv1 "github.com/coxswain/coxswain/proto/coxswain/coordination/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Config configures an election.
type Config struct {
	Client *client.Client
	// Namespace and Name of the Lease (e.g. kube-system/coxswain-scheduler).
	Namespace, Name string
	// Identity of this candidate (hostname + random suffix is a good choice).
	Identity string
	// LeaseDuration (default 15s), RenewDeadline (default 10s), RetryPeriod (default 2s).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// OnStartedLeading runs while this candidate leads; its ctx is cancelled when leadership is lost.
	OnStartedLeading func(ctx context.Context)
	// OnNewLeader is told the identity of every new leader (optional).
	OnNewLeader func(identity string)
	Registerer  prometheus.Registerer
	Logger      *slog.Logger
}

// Run campaigns until ctx ends. While leading it runs OnStartedLeading; when leadership is lost it
// returns ErrLostLeadership (processes should exit and restart, like Kubernetes components do).
func Run(ctx context.Context, cfg Config) error {
	if cfg.Client == nil || cfg.Name == "" || cfg.Identity == "" || cfg.OnStartedLeading == nil {
		return errors.New("leaderelection: Client, Name, Identity and OnStartedLeading are required")
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "kube-system"
	}
	if cfg.LeaseDuration == 0 {
		cfg.LeaseDuration = 15 * time.Second
	}
	if cfg.RenewDeadline == 0 {
		cfg.RenewDeadline = 10 * time.Second
	}
	if cfg.RetryPeriod == 0 {
		cfg.RetryPeriod = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	e := &elector{cfg: cfg, leases: cfg.Client.Leases(), log: cfg.Logger.With("lease", cfg.Namespace+"/"+cfg.Name, "identity", cfg.Identity)}
	e.gauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "leader_election_master_status",
		Help: "1 while this process holds the lease."}, []string{"name"})
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(e.gauge); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				e.gauge = are.ExistingCollector.(*prometheus.GaugeVec)
			}
		}
	}
	return e.run(ctx)
}

// ErrLostLeadership is returned by Run when a leader could not renew its lease.
var ErrLostLeadership = errors.New("leaderelection: lost the lease")

type elector struct {
	cfg        Config
	leases     *client.Resource[*coordinationv1.Lease]
	log        *slog.Logger
	gauge      *prometheus.GaugeVec
	lastLeader string
	// observed: the lease as last read and when we read it (expiry is judged on our clock).
	observedRV   string
	observedTime time.Time
}

func (e *elector) run(ctx context.Context) error {
	var lastRenew time.Time // when the last successful write of the lease was started
	for {
		attempt := time.Now()
		if e.tryAcquire(ctx, time.Time{}) {
			lastRenew = attempt
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(e.cfg.RetryPeriod):
		}
	}
	e.log.Info("became leader")
	e.gauge.WithLabelValues(e.cfg.Name).Set(1)
	defer e.gauge.WithLabelValues(e.cfg.Name).Set(0)
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); e.cfg.OnStartedLeading(lctx) }()
	// stop ends the leader's work and waits for it: only then may anyone else lead.
	stop := func() { cancel(); <-done }
	defer stop()
	for {
		// Others may take over LeaseDuration after our last renewal: stop leading by RenewDeadline
		// after it, however the attempts in between fail (slowly or fast).
		deadline := lastRenew.Add(e.cfg.RenewDeadline)
		select {
		case <-ctx.Done():
			stop()
			e.release()
			return ctx.Err()
		case <-done:
			e.release()
			return nil
		case <-time.After(min(e.cfg.RetryPeriod, time.Until(deadline))):
		}
		attempt := time.Now()
		if e.tryAcquire(ctx, deadline) {
			lastRenew = attempt
			continue
		}
		if !time.Now().Before(deadline) {
			e.log.Error("failed to renew the lease in time; stepping down")
			return ErrLostLeadership
		}
	}
}

// tryAcquire creates, renews or takes over the lease; true when we hold it afterwards.
// A non-zero deadline bounds the attempt (a leader's renew deadline).
func (e *elector) tryAcquire(ctx context.Context, deadline time.Time) bool {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.RenewDeadline/2)
	defer cancel()
	if !deadline.IsZero() {
		var cancelDeadline context.CancelFunc
		ctx, cancelDeadline = context.WithDeadline(ctx, deadline)
		defer cancelDeadline()
	}
	now := time.Now()
	spec := &coordinationv1.LeaseSpec{HolderIdentity: proto.String(e.cfg.Identity),
		LeaseDurationSeconds: proto.Int32(int32(e.cfg.LeaseDuration / time.Second)),
		AcquireTime:          timestamppb.New(now), RenewTime: timestamppb.New(now), LeaseTransitions: proto.Int32(0)}
	cur, err := e.leases.Get(ctx, e.cfg.Namespace, e.cfg.Name)
	if apierrors.IsNotFound(err) {
		l := &coordinationv1.Lease{Metadata: &metav1.ObjectMeta{Namespace: e.cfg.Namespace, Name: e.cfg.Name}, Spec: spec}
		if _, err := e.leases.Create(ctx, l); err != nil {
			return false
		}
		e.observe(e.cfg.Identity)
		return true
	}
	if err != nil {
		e.log.Debug("lease read failed", "err", err)
		return false
	}
	holder := cur.GetSpec().GetHolderIdentity()
	if cur.GetMetadata().GetResourceVersion() != e.observedRV {
		e.observedRV, e.observedTime = cur.GetMetadata().GetResourceVersion(), now
	}
	e.observe(holder)
	dur := time.Duration(cur.GetSpec().GetLeaseDurationSeconds()) * time.Second
	if holder != "" && holder != e.cfg.Identity && now.Before(e.observedTime.Add(dur)) {
		return false // held by someone else and not expired on our clock
	}
	next := proto.Clone(cur).(*coordinationv1.Lease)
	if holder == e.cfg.Identity {
		spec.AcquireTime = cur.GetSpec().GetAcquireTime()
		spec.LeaseTransitions = proto.Int32(cur.GetSpec().GetLeaseTransitions())
	} else {
		spec.LeaseTransitions = proto.Int32(cur.GetSpec().GetLeaseTransitions() + 1)
	}
	next.Spec = spec
	// Fenced by resourceVersion: a concurrent writer makes this fail with a conflict.
	updated, err := e.leases.Update(ctx, next)
	if err != nil {
		return false
	}
	e.observedRV, e.observedTime = updated.GetMetadata().GetResourceVersion(), now
	e.observe(e.cfg.Identity)
	return true
}

func (e *elector) observe(holder string) {
	if holder != e.lastLeader {
		e.lastLeader = holder
		if holder != "" {
			e.log.Info("new leader observed", "leader", holder)
		}
		if e.cfg.OnNewLeader != nil {
			e.cfg.OnNewLeader(holder)
		}
	}
}

// release gives the lease up on a clean shutdown so a standby takes over at once.
func (e *elector) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	cur, err := e.leases.Get(ctx, e.cfg.Namespace, e.cfg.Name)
	if err != nil || cur.GetSpec().GetHolderIdentity() != e.cfg.Identity {
		return
	}
	next := proto.Clone(cur).(*coordinationv1.Lease)
	next.Spec.HolderIdentity = proto.String("")
	next.Spec.LeaseDurationSeconds = proto.Int32(1)
	if _, err := e.leases.Update(ctx, next); err == nil {
		e.log.Info("released the lease")
	}
}
