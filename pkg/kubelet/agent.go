package kubelet

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"sync"
	"time"

	"github.com/coxswain/coxswain/pkg/kubelet/runtime"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime/native"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime/process"
	coordinationv1 "github.com/coxswain/coxswain/proto/coxswain/coordination/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// agent is the kubelet of one node: a real one, or one of many hollow ones
// sharing a Kubelet's client, informers, queues and servers.
type agent struct {
	k    *Kubelet
	name string
	ip   string
	mode string
	log  *slog.Logger

	rtMu     sync.RWMutex
	rt       runtime.Runtime // nil until the runtime could be created
	native   *native.Runtime // the native runtime, for routes
	rtErr    string          // why the runtime is not there yet
	rtFailed time.Time       // last failed attempt

	mu           sync.Mutex
	workers      map[string]*podWorker // by pod key
	sandboxOwner map[string]string     // sandbox ID → pod key
	lastStates   map[string]runtime.ContainerState
	runningPods  int
	running      map[runtime.ContainerState]int

	// Node registration and heartbeats, guarded by nodeMu.
	nodeMu          sync.Mutex
	registered      bool
	nodeUID         string
	podCIDR         string
	lastNodeStatus  *corev1.NodeStatus
	lastStatusWrite time.Time
	forceStatus     bool
	lease           *coordinationv1.Lease
	leaseDue        time.Time
	statusDue       time.Time
	nextBeat        time.Time
	failures        int // consecutive registration failures (heartbeat worker only)

	httpOnce   sync.Once
	httpClient *http.Client // probes and hooks
}

func newAgent(k *Kubelet, name, ip, mode string) *agent {
	return &agent{k: k, name: name, ip: ip, mode: mode, log: k.log.With("node", name),
		workers: map[string]*podWorker{}, sandboxOwner: map[string]string{}}
}

// runtime returns the container runtime, nil while it is not ready.
func (a *agent) runtime() runtime.Runtime {
	a.rtMu.RLock()
	defer a.rtMu.RUnlock()
	return a.rt
}

// runtimeReady reports the Ready condition of the node.
func (a *agent) runtimeReady() (bool, string, string) {
	a.rtMu.RLock()
	rt, msg := a.rt, a.rtErr
	a.rtMu.RUnlock()
	if rt == nil {
		if msg == "" {
			msg = "container runtime is starting"
		}
		return false, "KubeletNotReady", msg
	}
	if a.k.cfg.HollowNodes == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := rt.ListPodSandboxes(ctx); err != nil {
			return false, "KubeletNotReady", "container runtime is down: " + err.Error()
		}
	}
	return true, "", ""
}

// loopbackRange maps a pod CIDR onto 127.0.0.0/8 for the process runtime
// (10.244.1.0/24 → 127.244.1.0/24), so several process-runtime kubelets on
// one machine hand out distinct pod IPs.
func loopbackRange(cidr string) (string, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() {
		return "", fmt.Errorf("pod CIDR %q: must be an IPv4 prefix", cidr)
	}
	b := p.Masked().Addr().As4()
	b[0] = 127
	bits := max(p.Bits(), 8)
	lp := netip.PrefixFrom(netip.AddrFrom4(b), bits).Masked()
	if lp.Contains(netip.MustParseAddr("127.0.0.1")) {
		return process.DefaultIPRange, nil
	}
	return lp.String(), nil
}

// ensureRuntime creates the container runtime once the node's pod CIDR is
// known (process and native runtimes).
func (a *agent) ensureRuntime(ctx context.Context) {
	if a.runtime() != nil {
		return
	}
	a.rtMu.Lock()
	if !a.rtFailed.IsZero() && time.Since(a.rtFailed) < 5*time.Second {
		a.rtMu.Unlock()
		return
	}
	a.rtMu.Unlock()
	a.nodeMu.Lock()
	cidr := a.podCIDR
	a.nodeMu.Unlock()
	if a.k.cfg.PodCIDR != "" {
		cidr = a.k.cfg.PodCIDR
	}
	var rt runtime.Runtime
	var nat *native.Runtime
	var run func(context.Context) error
	var err error
	switch {
	case a.k.cfg.RuntimeOverride != nil:
		rt = a.k.cfg.RuntimeOverride
		if r, ok := rt.(interface{ Run(context.Context) error }); ok {
			run = r.Run
		}
	case cidr == "":
		a.rtMu.Lock()
		a.rtErr = "container runtime network not ready: waiting for the node's pod CIDR (node.spec.podCIDR from the controller-manager, or --pod-cidr)"
		a.rtMu.Unlock()
		return
	case a.mode == RuntimeProcess:
		var rng string
		if rng, err = loopbackRange(cidr); err == nil {
			var pr *process.Runtime
			if pr, err = process.New(process.Config{IPRange: rng, Logger: a.log}); err == nil {
				rt, run = pr, pr.Run
				a.log.Info("process runtime ready", "podCIDR", cidr, "loopbackRange", rng)
			}
		}
	case a.mode == RuntimeNative:
		if nat, err = native.New(native.Config{
			PodCIDR: cidr, BridgeName: a.k.cfg.Bridge, StateDir: filepath.Join(a.k.cfg.RootDir, "native"),
			CgroupRoot: a.k.cfg.NativeCgroupRoot, NodeNetNS: a.k.cfg.NativeNodeNetNS, Logger: a.log,
		}); err == nil {
			rt, run = nat, nat.Run
			a.log.Info("native runtime ready", "podCIDR", cidr, "bridge", a.k.cfg.Bridge)
		}
	default:
		err = fmt.Errorf("runtime %q cannot be created here", a.mode)
	}
	if err != nil {
		a.log.Error("container runtime failed to start", "err", err)
		a.rtMu.Lock()
		a.rtErr = "container runtime failed to start: " + err.Error()
		a.rtFailed = time.Now()
		a.rtMu.Unlock()
		return
	}
	a.setRuntime(ctx, rt, nat, run)
}

// setRuntime installs rt (instrumented on a single node) and starts the
// pods waiting for it.
func (a *agent) setRuntime(ctx context.Context, rt runtime.Runtime, nat *native.Runtime, run func(context.Context) error) {
	if a.k.cfg.HollowNodes == 0 {
		if inst, err := runtime.NewInstrumented(rt, a.k.cfg.Registry); err == nil {
			rt = inst
		} else {
			a.log.Warn("runtime metrics unavailable", "err", err)
		}
	}
	if run != nil {
		a.k.runtimes.Add(1)
		go func() {
			defer a.k.runtimes.Done()
			if err := run(a.k.runtimeCtx); err != nil && a.k.runtimeCtx.Err() == nil {
				a.log.Error("container runtime stopped", "err", err)
			}
		}()
	}
	a.rtMu.Lock()
	a.rt, a.native, a.rtErr = rt, nat, ""
	a.rtMu.Unlock()
	if nat != nil {
		a.k.syncRoutesSoon()
	}
	a.kickStatus()
	a.k.enqueueAgentPods(a)
	if a.k.cfg.HollowNodes == 0 {
		go a.housekeeping(ctx)
	}
}

// dial connects to a pod address from the node's network namespace.
func (a *agent) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	ns := ""
	if a.mode == RuntimeNative {
		ns = a.k.cfg.NativeNodeNetNS
	}
	return dialInNetNS(ctx, ns, network, addr)
}

// http returns the client probes and hooks use.
func (a *agent) http() *http.Client {
	a.httpOnce.Do(func() {
		a.httpClient = &http.Client{
			Transport: &http.Transport{DialContext: a.dial, DisableKeepAlives: true},
			// Kubernetes follows redirects to the same host only; we keep it
			// simple and do not follow any (3xx counts as success).
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	})
	return a.httpClient
}

func (a *agent) worker(key string) *podWorker {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.workers[key]
}

func (a *agent) workerCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.workers)
}

// activePods counts the pods that are not finished (the pods capacity).
func (a *agent) activePods() int {
	a.mu.Lock()
	ws := make([]*podWorker, 0, len(a.workers))
	for _, w := range a.workers {
		ws = append(ws, w)
	}
	a.mu.Unlock()
	n := 0
	for _, w := range ws {
		w.mu.Lock()
		if !w.finished {
			n++
		}
		w.mu.Unlock()
	}
	return n
}

// relist compares the runtime's container states with the last relist and
// queues the pods whose containers changed (Kubernetes' PLEG).
func (a *agent) relist(ctx context.Context) {
	rt := a.runtime()
	if rt == nil {
		return
	}
	cs, err := rt.ListContainers(ctx, "")
	if err != nil {
		a.log.Warn("relist failed", "err", err)
		return
	}
	sbs, err := rt.ListPodSandboxes(ctx)
	if err != nil {
		a.log.Warn("relist failed", "err", err)
		return
	}
	states := make(map[string]runtime.ContainerState, len(cs))
	counts := map[runtime.ContainerState]int{}
	changed := map[string]bool{}
	a.mu.Lock()
	for _, c := range cs {
		states[c.ID] = c.State
		counts[c.State]++
		if a.lastStates[c.ID] != c.State {
			changed[c.SandboxID] = true
		}
	}
	ready := 0
	for _, sb := range sbs {
		if sb.Ready {
			ready++
		}
	}
	a.lastStates = states
	a.running = counts
	a.runningPods = ready
	var keys []string
	for sb := range changed {
		if key, ok := a.sandboxOwner[sb]; ok {
			keys = append(keys, key)
		}
	}
	a.mu.Unlock()
	for _, key := range keys {
		a.k.podCtl.Enqueue(key)
	}
}

// housekeeping removes orphaned sandboxes and pod directories now and then.
func (a *agent) housekeeping(ctx context.Context) {
	if !a.k.pods.WaitForSync(ctx) {
		return
	}
	t := time.NewTicker(a.k.cfg.HousekeepingInterval)
	defer t.Stop()
	for {
		a.removeOrphans(ctx)
		// A periodic sync of every pod repairs what an event may have missed.
		a.k.enqueueAgentPods(a)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
