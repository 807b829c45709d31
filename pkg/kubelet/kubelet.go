package kubelet

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/client/informer"
	"github.com/coxswain/coxswain/pkg/client/record"
	"github.com/coxswain/coxswain/pkg/controller"
	"github.com/coxswain/coxswain/pkg/image"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime/fake"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// Kubelet runs the kubelet of one node — or, with Config.HollowNodes, of
// many hollow nodes sharing one connection, one pod informer, one work
// queue and one server.
type Kubelet struct {
	cfg     Config
	log     *slog.Logger
	client  *client.Client
	ownConn bool
	machine machineInfo
	metrics *metrics

	factory    *informer.Factory
	pods       *informer.Informer[*corev1.Pod]
	nodes      *informer.Informer[*corev1.Node] // single node only
	configMaps *informer.Informer[*corev1.ConfigMap]
	secrets    *informer.Informer[*corev1.Secret]

	broadcaster *record.Broadcaster
	recorder    record.Recorder
	images      *image.Store // nil for the fake runtime

	podCtl  *controller.Controller
	status  *statusManager
	logs    *logSet
	backoff *backoff

	agents    map[string]*agent
	agentList []*agent

	grpcLis  net.Listener
	httpLis  net.Listener
	grpcPort int

	heartbeatWake chan struct{}
	routesWake    chan struct{}

	// runtimeCtx outlives Run's ctx until the pods' processes are stopped.
	runtimeCtx    context.Context
	runtimeCancel context.CancelFunc
	runtimes      sync.WaitGroup

	ready chan struct{}
}

// Index names of the pod informer.
const (
	indexNode      = "node"
	indexConfigMap = "configmap"
	indexSecret    = "secret"
)

// New validates cfg, opens the listeners and the image store (loading
// ImageTarballs) and prepares the node agents; Run starts them.
func New(cfg Config) (*Kubelet, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, fmt.Errorf("kubelet: %w", err)
	}
	k := &Kubelet{cfg: cfg, log: cfg.Logger, heartbeatWake: make(chan struct{}, 1), routesWake: make(chan struct{}, 1),
		agents: map[string]*agent{}, logs: newLogSet(), ready: make(chan struct{})}
	k.backoff = newBackoff(cfg.BackoffInitial, cfg.BackoffMax, cfg.BackoffReset)
	k.machine = readMachineInfo()
	if cfg.CPUMilli > 0 {
		k.machine.cpuMilli = cfg.CPUMilli
	}
	if cfg.MemoryBytes > 0 {
		k.machine.memoryBytes = cfg.MemoryBytes
	}
	var err error
	if k.metrics, err = newMetrics(cfg.Registry, k); err != nil {
		return nil, fmt.Errorf("kubelet: metrics: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(cfg.RootDir, "pods"), 0o755); err != nil {
		return nil, fmt.Errorf("kubelet: root-dir: %w", err)
	}
	if cfg.Runtime != RuntimeFake {
		k.images, err = image.NewStore(image.StoreConfig{Root: filepath.Join(cfg.RootDir, "images"),
			Insecure: cfg.InsecureRegistries, Logger: cfg.Logger, Registerer: cfg.Registry})
		if err != nil {
			return nil, fmt.Errorf("kubelet: %w", err)
		}
		for _, t := range cfg.ImageTarballs {
			imgs, err := k.images.Load(context.Background(), t)
			if err != nil {
				return nil, fmt.Errorf("kubelet: image-tarballs: %w", err)
			}
			for _, img := range imgs {
				k.log.Info("image loaded", "image", img.Ref, "id", img.ID, "tarball", t)
			}
		}
	}
	if cfg.Client != nil {
		k.client = cfg.Client
	} else {
		if k.client, err = client.New(client.Config{Server: cfg.APIServer, UserAgent: "kubelet/" + cfg.NodeName}); err != nil {
			return nil, fmt.Errorf("kubelet: %w", err)
		}
		k.ownConn = true
	}
	if k.grpcLis, err = net.Listen("tcp", cfg.ListenAddr); err != nil {
		return nil, fmt.Errorf("kubelet: listen %s: %w", cfg.ListenAddr, err)
	}
	k.grpcPort = k.grpcLis.Addr().(*net.TCPAddr).Port
	if cfg.HTTPAddr != "-" {
		if k.httpLis, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			k.grpcLis.Close()
			return nil, fmt.Errorf("kubelet: listen %s: %w", cfg.HTTPAddr, err)
		}
	}

	// Agents.
	if cfg.HollowNodes > 0 {
		for i := range cfg.HollowNodes {
			name := cfg.HollowNodePrefix + "-" + strconv.Itoa(i)
			a := newAgent(k, name, cfg.NodeIP, RuntimeFake)
			cidr := hollowCIDR(cfg.HollowNodePrefix, i).String()
			rt, err := fake.New(fake.Config{PodCIDR: cidr})
			if err != nil {
				return nil, fmt.Errorf("kubelet: hollow node %s: %w", name, err)
			}
			a.rt = rt
			k.agents[name] = a
			k.agentList = append(k.agentList, a)
		}
	} else {
		a := newAgent(k, cfg.NodeName, cfg.NodeIP, cfg.Runtime)
		if cfg.Runtime == RuntimeFake && cfg.RuntimeOverride == nil {
			rt, err := fake.New(fake.Config{})
			if err != nil {
				return nil, fmt.Errorf("kubelet: %w", err)
			}
			cfg.RuntimeOverride = rt
			k.cfg.RuntimeOverride = rt
		}
		k.agents[a.name] = a
		k.agentList = []*agent{a}
	}

	// Informers.
	k.factory = informer.NewFactory(k.client, 0, k.log)
	podSel := "spec.nodeName=" + cfg.NodeName
	if cfg.HollowNodes > 0 {
		podSel = "spec.nodeName!="
	}
	k.pods = informer.For[*corev1.Pod](k.factory, api.Pods, informer.Config{FieldSelector: podSel})
	k.pods.AddIndex(indexNode, func(p *corev1.Pod) []string { return []string{p.GetSpec().GetNodeName()} })
	k.pods.AddIndex(indexConfigMap, func(p *corev1.Pod) []string { return podRefs(p, false) })
	k.pods.AddIndex(indexSecret, func(p *corev1.Pod) []string { return podRefs(p, true) })
	k.configMaps = k.factory.ConfigMaps()
	k.secrets = k.factory.Secrets()
	if cfg.HollowNodes == 0 {
		k.nodes = k.factory.Nodes()
	}

	k.broadcaster = record.NewBroadcaster(k.client, "kubelet", k.eventHost(), k.log)
	k.recorder = k.broadcaster
	if k.podCtl, err = controller.New(controller.Config{Name: "kubelet", Workers: cfg.Workers, Sync: k.syncPod,
		Registerer: cfg.Registry, Logger: k.log}); err != nil {
		return nil, fmt.Errorf("kubelet: %w", err)
	}
	if k.status, err = newStatusManager(k); err != nil {
		return nil, fmt.Errorf("kubelet: %w", err)
	}
	k.addHandlers()
	return k, nil
}

// hollowCIDR is the pod range of hollow node i: its own /24 of
// 10.128.0.0/9, starting at an offset derived from the prefix so that
// several hollow-node processes rarely overlap.
func hollowCIDR(prefix string, i int) netip.Prefix {
	h := fnv.New32a()
	h.Write([]byte(prefix))
	idx := (int(h.Sum32()%64)*512 + i) % (1 << 15)
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(128 + idx/256), byte(idx % 256), 0}), 24)
}

func (k *Kubelet) eventHost() string {
	if k.cfg.HollowNodes > 0 {
		return k.cfg.HollowNodePrefix
	}
	return k.cfg.NodeName
}

// Addr is the KubeletService address; HTTPAddr the metrics address ("" when disabled).
func (k *Kubelet) Addr() string { return k.grpcLis.Addr().String() }

// HTTPAddr is the address of /metrics, /healthz and /debug/pprof.
func (k *Kubelet) HTTPAddr() string {
	if k.httpLis == nil {
		return ""
	}
	return k.httpLis.Addr().String()
}

// NodeNames are the nodes this kubelet runs.
func (k *Kubelet) NodeNames() []string {
	out := make([]string, len(k.agentList))
	for i, a := range k.agentList {
		out[i] = a.name
	}
	return out
}

// Ready is closed once the informers synced and the servers run.
func (k *Kubelet) Ready() <-chan struct{} { return k.ready }

// podRefs lists "ns/name" of the ConfigMaps (or Secrets) a pod uses.
func podRefs(p *corev1.Pod, secrets bool) []string {
	ns := p.GetMetadata().GetNamespace()
	seen := map[string]bool{}
	var out []string
	add := func(name string) {
		if name != "" && !seen[name] {
			seen[name] = true
			out = append(out, ns+"/"+name)
		}
	}
	spec := p.GetSpec()
	for _, v := range spec.GetVolumes() {
		if secrets {
			add(v.GetSecret().GetSecretName())
		} else {
			add(v.GetConfigMap().GetName())
		}
	}
	if secrets {
		for _, r := range spec.GetImagePullSecrets() {
			add(r.GetName())
		}
	}
	for _, cs := range [][]*corev1.Container{spec.GetInitContainers(), spec.GetContainers()} {
		for _, c := range cs {
			for _, ef := range c.GetEnvFrom() {
				if secrets {
					add(ef.GetSecretRef().GetName())
				} else {
					add(ef.GetConfigMapRef().GetName())
				}
			}
			for _, e := range c.GetEnv() {
				if secrets {
					add(e.GetValueFrom().GetSecretKeyRef().GetName())
				} else {
					add(e.GetValueFrom().GetConfigMapKeyRef().GetName())
				}
			}
		}
	}
	return out
}

func podKey(p *corev1.Pod) string { return api.Key(p) }

func (k *Kubelet) ours(p *corev1.Pod) bool {
	_, ok := k.agents[p.GetSpec().GetNodeName()]
	return ok
}

func (k *Kubelet) addHandlers() {
	k.pods.AddHandler(informer.Handler[*corev1.Pod]{
		OnAdd: func(p *corev1.Pod) {
			if k.ours(p) {
				k.podCtl.Enqueue(podKey(p))
			}
		},
		OnUpdate: func(old, cur *corev1.Pod) {
			if !k.ours(cur) {
				return
			}
			k.status.observe(cur)
			if old.GetMetadata().GetResourceVersion() == cur.GetMetadata().GetResourceVersion() {
				return
			}
			// Our own status writes need no sync; spec and metadata changes do.
			if !protoEqualExceptStatus(old, cur) {
				k.podCtl.Enqueue(podKey(cur))
			}
		},
		OnDelete: func(p *corev1.Pod) {
			if k.ours(p) {
				k.podCtl.Enqueue(podKey(p))
			}
		},
	})
	refChanged := func(index, ns, name string) {
		for _, p := range k.pods.ByIndex(index, ns+"/"+name) {
			if k.ours(p) {
				k.podCtl.Enqueue(podKey(p))
			}
		}
	}
	k.configMaps.AddHandler(informer.Handler[*corev1.ConfigMap]{
		OnAdd: func(c *corev1.ConfigMap) {
			refChanged(indexConfigMap, c.GetMetadata().GetNamespace(), c.GetMetadata().GetName())
		},
		OnUpdate: func(_, c *corev1.ConfigMap) {
			refChanged(indexConfigMap, c.GetMetadata().GetNamespace(), c.GetMetadata().GetName())
		},
		OnDelete: func(c *corev1.ConfigMap) {
			refChanged(indexConfigMap, c.GetMetadata().GetNamespace(), c.GetMetadata().GetName())
		},
	})
	k.secrets.AddHandler(informer.Handler[*corev1.Secret]{
		OnAdd: func(s *corev1.Secret) {
			refChanged(indexSecret, s.GetMetadata().GetNamespace(), s.GetMetadata().GetName())
		},
		OnUpdate: func(_, s *corev1.Secret) {
			refChanged(indexSecret, s.GetMetadata().GetNamespace(), s.GetMetadata().GetName())
		},
		OnDelete: func(s *corev1.Secret) {
			refChanged(indexSecret, s.GetMetadata().GetNamespace(), s.GetMetadata().GetName())
		},
	})
	if k.nodes != nil {
		onNode := func(n *corev1.Node) {
			if a, ok := k.agents[n.GetMetadata().GetName()]; ok {
				a.observeNode(n)
				k.wakeHeartbeats()
			}
			k.syncRoutesSoon()
		}
		k.nodes.AddHandler(informer.Handler[*corev1.Node]{
			OnAdd:    onNode,
			OnUpdate: func(_, n *corev1.Node) { onNode(n) },
			OnDelete: func(*corev1.Node) { k.syncRoutesSoon() },
		})
	}
}

// configMap and secret read the informer caches (objectSource).
func (k *Kubelet) configMap(ns, name string) (*corev1.ConfigMap, bool) {
	return k.configMaps.Get(ns, name)
}
func (k *Kubelet) secret(ns, name string) (*corev1.Secret, bool) { return k.secrets.Get(ns, name) }

// enqueueAgentPods queues every pod of a's node.
func (k *Kubelet) enqueueAgentPods(a *agent) {
	for _, p := range k.pods.ByIndex(indexNode, a.name) {
		k.podCtl.Enqueue(podKey(p))
	}
}

// agentFor finds the agent of a pod key: by the cached pod's node, or the
// agent still holding a worker for it.
func (k *Kubelet) agentFor(key string, pod *corev1.Pod) *agent {
	if pod != nil {
		if a, ok := k.agents[pod.GetSpec().GetNodeName()]; ok {
			return a
		}
	}
	if len(k.agentList) == 1 {
		return k.agentList[0]
	}
	for _, a := range k.agentList {
		if a.worker(key) != nil {
			return a
		}
	}
	return nil
}

func (k *Kubelet) syncPod(ctx context.Context, key string) error {
	pod, ok := k.pods.GetByKey(key)
	if !ok {
		pod = nil
	}
	a := k.agentFor(key, pod)
	if a == nil {
		return nil
	}
	if pod != nil && pod.GetSpec().GetNodeName() != a.name {
		pod = nil
	}
	return a.syncPod(ctx, key, pod)
}

func (k *Kubelet) syncRoutesSoon() {
	select {
	case k.routesWake <- struct{}{}:
	default:
	}
}

// runRoutes keeps the native runtime's routes to other nodes' pod CIDRs.
func (k *Kubelet) runRoutes(ctx context.Context) {
	if k.nodes == nil || len(k.agentList) != 1 {
		return
	}
	a := k.agentList[0]
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-k.routesWake:
		case <-t.C:
		}
		a.rtMu.RLock()
		nat := a.native
		a.rtMu.RUnlock()
		if nat == nil || !k.nodes.HasSynced() {
			continue
		}
		routes := map[netip.Prefix]netip.Addr{}
		for _, n := range k.nodes.List() {
			if n.GetMetadata().GetName() == a.name {
				continue
			}
			p, err := netip.ParsePrefix(n.GetSpec().GetPodCidr())
			if err != nil {
				continue
			}
			for _, addr := range n.GetStatus().GetAddresses() {
				if addr.GetType() != "InternalIP" {
					continue
				}
				// A node on this very host (same IP: several kubelets on one
				// machine) is reached through its own bridge's connected route.
				if ip, err := netip.ParseAddr(addr.GetAddress()); err == nil && ip.Is4() && addr.GetAddress() != a.ip {
					routes[p.Masked()] = ip
					break
				}
			}
		}
		if err := nat.SyncRoutes(ctx, routes); err != nil {
			k.log.Warn("pod route sync failed", "err", err)
		}
	}
}

// Run runs the kubelet until ctx ends, then stops every pod's containers.
func (k *Kubelet) Run(ctx context.Context) error {
	k.runtimeCtx, k.runtimeCancel = context.WithCancel(context.WithoutCancel(ctx))
	defer func() {
		k.runtimeCancel()
		k.runtimes.Wait()
		if k.ownConn {
			k.client.Close()
		}
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	srv := k.newGRPCServer()
	wg.Go(func() {
		if err := srv.Serve(k.grpcLis); err != nil && !errors.Is(err, net.ErrClosed) {
			k.log.Error("kubelet service stopped", "err", err)
		}
	})
	defer srv.Stop()
	var httpSrv *http.Server
	if k.httpLis != nil {
		httpSrv = &http.Server{Handler: k.httpHandler(), ReadHeaderTimeout: 10 * time.Second}
		wg.Go(func() {
			if err := httpSrv.Serve(k.httpLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
				k.log.Error("http server stopped", "err", err)
			}
		})
		defer httpSrv.Close()
	}
	wg.Go(func() { k.broadcaster.Run(ctx) })
	k.factory.Start(ctx)
	wg.Go(func() { k.runHeartbeats(ctx) })
	if !k.factory.WaitForSync(ctx) {
		return ctx.Err()
	}
	wg.Go(func() { _ = k.podCtl.Run(ctx) })
	wg.Go(func() { _ = k.status.run(ctx) })
	wg.Go(func() { k.runRelist(ctx) })
	wg.Go(func() { k.runRoutes(ctx) })
	k.log.Info("kubelet running", "nodes", len(k.agentList), "runtime", k.cfg.Runtime, "listen", k.Addr(), "http", k.HTTPAddr())
	close(k.ready)
	<-ctx.Done()
	k.log.Info("kubelet stopping")
	return nil
}

// runRelist relists every agent's containers periodically.
func (k *Kubelet) runRelist(ctx context.Context) {
	t := time.NewTicker(k.cfg.RelistInterval)
	defer t.Stop()
	gcTick := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, a := range k.agentList {
			a.relist(ctx)
		}
		if gcTick++; gcTick%60 == 0 {
			k.backoff.gc()
		}
	}
}
