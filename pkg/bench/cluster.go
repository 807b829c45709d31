package bench

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coxswain/coxswain/pkg/client"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Process groups.
const (
	GroupControlPlane = "control-plane"
	GroupNodes        = "nodes"
)

// Kubelet modes.
const (
	KubeletAuto   = "auto"   // hollow when the kubelet has --hollow-nodes, else plain
	KubeletHollow = "hollow" // N hollow nodes in a few kubelet processes (--hollow-nodes)
	KubeletPlain  = "plain"  // one --runtime fake kubelet process per node
)

// ClusterConfig configures the control plane and the nodes under test.
type ClusterConfig struct {
	// BinDir holds etcd, apiserver, scheduler, controller-manager and kubelet.
	BinDir string
	// DataDir receives the etcd data and the kubelets' root dirs; LogDir the components' logs.
	DataDir, LogDir string
	// Nodes is the number of (hollow) nodes.
	Nodes int
	// ExternalEtcd runs bin/etcd as its own process (its CPU and RSS are reported separately);
	// otherwise the apiserver embeds etcd.
	ExternalEtcd bool
	// KubeletMode is auto, hollow or plain; NodesPerKubelet bounds the hollow nodes of one process.
	KubeletMode     string
	NodesPerKubelet int
	// NodeCPU, NodeMemory and MaxPods are every node's capacity.
	NodeCPU, NodeMemory string
	MaxPods             int
	// ComponentLogLevel is the components' --log-level.
	ComponentLogLevel string
	// ReadyTimeout bounds the start (all nodes Ready).
	ReadyTimeout time.Duration
	Logger       *slog.Logger
}

// Cluster is a running control plane with its nodes.
type Cluster struct {
	cfg ClusterConfig
	log *slog.Logger

	// APIServer is the gRPC address; the *Metrics fields are /metrics URLs.
	APIServer                string
	APIServerMetrics         string
	SchedulerMetrics         string
	ControllerManagerMetrics string
	// Debug maps a component to the base URL of its /debug/pprof handlers.
	Debug map[string]string
	// EtcdEndpoint is etcd's client URL; EtcdEmbedded says whether etcd runs inside the apiserver.
	EtcdEndpoint string
	EtcdEmbedded bool
	// KubeletMode is the mode that ran (hollow or plain).
	KubeletMode string
	// Client talks to the apiserver.
	Client *client.Client
	// ReadyAfter is the time from the first process start to all nodes Ready.
	ReadyAfter time.Duration

	mu    sync.Mutex
	procs []*process
}

// StartCluster starts etcd (if external), the apiserver, the scheduler, the controller-manager and
// the kubelets on free loopback ports, and waits for every node to be Ready. On error everything
// started is stopped.
func StartCluster(ctx context.Context, cfg ClusterConfig) (_ *Cluster, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Nodes <= 0 {
		return nil, fmt.Errorf("cluster: nodes %d: must be positive", cfg.Nodes)
	}
	if cfg.NodesPerKubelet <= 0 {
		cfg.NodesPerKubelet = 1000
	}
	if cfg.ComponentLogLevel == "" {
		cfg.ComponentLogLevel = "warn"
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 2*time.Minute + time.Duration(cfg.Nodes)*30*time.Millisecond
	}
	for _, d := range []string{cfg.DataDir, cfg.LogDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
	}
	c := &Cluster{cfg: cfg, log: cfg.Logger, Debug: map[string]string{}}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	if c.KubeletMode, err = c.kubeletMode(); err != nil {
		return nil, err
	}
	start := time.Now()
	ports, err := freePorts(9)
	if err != nil {
		return nil, err
	}
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	lvl := cfg.ComponentLogLevel

	apiArgs := []string{"--data-dir", filepath.Join(cfg.DataDir, "apiserver"), "--listen", addr(0), "--http-listen", addr(1), "--log-level", lvl}
	if cfg.ExternalEtcd {
		c.EtcdEndpoint = "http://" + addr(2)
		peer := "http://" + addr(3)
		if _, err := c.start("etcd", GroupControlPlane, "etcd",
			"--name", "coxbench", "--data-dir", filepath.Join(cfg.DataDir, "etcd"),
			"--listen-client-urls", c.EtcdEndpoint, "--advertise-client-urls", c.EtcdEndpoint,
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "coxbench="+peer,
			// The embedded etcd's settings (pkg/apiserver/etcd.go), so both modes store alike.
			"--quota-backend-bytes", strconv.Itoa(8<<30), "--snapshot-count", "50000",
			"--auto-compaction-mode", "revision", "--auto-compaction-retention", "100000",
			"--enable-pprof", "--log-level", etcdLogLevel(lvl)); err != nil {
			return nil, err
		}
		if err := c.waitHTTP(ctx, "etcd", c.EtcdEndpoint+"/health", 60*time.Second); err != nil {
			return nil, err
		}
		apiArgs = append(apiArgs, "--etcd-servers", c.EtcdEndpoint)
		c.Debug["etcd"] = c.EtcdEndpoint
	} else {
		c.EtcdEmbedded = true
		// The embedded etcd's client address is only logged, at info level.
		if lvl == "warn" || lvl == "error" {
			apiArgs[len(apiArgs)-1] = "info"
		}
	}
	c.APIServer = addr(0)
	c.APIServerMetrics = "http://" + addr(1) + "/metrics"
	c.Debug["apiserver"] = "http://" + addr(1)
	api, err := c.start("apiserver", GroupControlPlane, "apiserver", apiArgs...)
	if err != nil {
		return nil, err
	}
	if err := c.waitHTTP(ctx, "apiserver", "http://"+addr(1)+"/readyz", 90*time.Second); err != nil {
		return nil, err
	}
	if c.EtcdEmbedded {
		if c.EtcdEndpoint, err = embeddedEtcdEndpoint(api.logPath); err != nil {
			return nil, err
		}
	}
	if c.Client, err = client.New(client.Config{Server: c.APIServer, UserAgent: "coxbench"}); err != nil {
		return nil, err
	}
	c.SchedulerMetrics = "http://" + addr(4) + "/metrics"
	c.ControllerManagerMetrics = "http://" + addr(5) + "/metrics"
	c.Debug["scheduler"], c.Debug["controller-manager"] = "http://"+addr(4), "http://"+addr(5)
	if _, err := c.start("scheduler", GroupControlPlane, "scheduler", "--apiserver", c.APIServer, "--http-listen", addr(4), "--log-level", lvl); err != nil {
		return nil, err
	}
	// A /8 cluster CIDR leaves a /24 for each of up to 65,536 nodes.
	if _, err := c.start("controller-manager", GroupControlPlane, "controller-manager", "--apiserver", c.APIServer,
		"--http-listen", addr(5), "--cluster-cidr", "10.0.0.0/8", "--log-level", lvl); err != nil {
		return nil, err
	}
	for _, comp := range []struct{ name, url string }{{"scheduler", addr(4)}, {"controller-manager", addr(5)}} {
		if err := c.waitHTTP(ctx, comp.name, "http://"+comp.url+"/healthz", 60*time.Second); err != nil {
			return nil, err
		}
	}
	if err := c.startKubelets(); err != nil {
		return nil, err
	}
	if err := c.waitNodesReady(ctx); err != nil {
		return nil, err
	}
	c.ReadyAfter = time.Since(start)
	c.log.Info("cluster ready", "nodes", cfg.Nodes, "kubelet_mode", c.KubeletMode, "etcd", map[bool]string{true: "embedded", false: "external"}[c.EtcdEmbedded],
		"after", c.ReadyAfter.Round(time.Millisecond))
	return c, nil
}

func etcdLogLevel(l string) string {
	switch l {
	case "debug", "info", "warn", "error":
		return l
	}
	return "warn"
}

func (c *Cluster) kubeletMode() (string, error) {
	switch c.cfg.KubeletMode {
	case KubeletHollow, KubeletPlain:
		return c.cfg.KubeletMode, nil
	case "", KubeletAuto:
	default:
		return "", fmt.Errorf("cluster: kubelet mode %q: must be auto, hollow or plain", c.cfg.KubeletMode)
	}
	bin := filepath.Join(c.cfg.BinDir, "kubelet")
	out, err := exec.Command(bin, "--help").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("cluster: %s --help: %w: %s", bin, err, firstLine(out))
	}
	if strings.Contains(string(out), "--hollow-nodes") {
		return KubeletHollow, nil
	}
	c.log.Warn("the kubelet has no --hollow-nodes: running one fake-runtime kubelet process per node")
	return KubeletPlain, nil
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

func (c *Cluster) nodeArgs() []string {
	args := []string{"--runtime", "fake", "--apiserver", c.APIServer, "--max-pods", strconv.Itoa(c.cfg.MaxPods), "--log-level", c.cfg.ComponentLogLevel}
	if c.cfg.NodeCPU != "" {
		args = append(args, "--cpu", c.cfg.NodeCPU)
	}
	if c.cfg.NodeMemory != "" {
		args = append(args, "--memory", c.cfg.NodeMemory)
	}
	return args
}

// NodeName is the name of node i (0-based).
func (c *Cluster) NodeName(i int) string {
	if c.KubeletMode == KubeletPlain || c.kubeletProcs() == 1 {
		return "hollow-" + strconv.Itoa(i)
	}
	per := c.cfg.NodesPerKubelet
	return fmt.Sprintf("hollow-%d-%d", i/per, i%per)
}

func (c *Cluster) kubeletProcs() int {
	return (c.cfg.Nodes + c.cfg.NodesPerKubelet - 1) / c.cfg.NodesPerKubelet
}

func (c *Cluster) startKubelets() error {
	if c.KubeletMode == KubeletHollow {
		k := c.kubeletProcs()
		for p := range k {
			n := min(c.cfg.NodesPerKubelet, c.cfg.Nodes-p*c.cfg.NodesPerKubelet)
			name, prefix := "kubelet", "hollow"
			if k > 1 {
				name, prefix = fmt.Sprintf("kubelet-%d", p), fmt.Sprintf("hollow-%d", p)
			}
			ports, err := freePorts(2)
			if err != nil {
				return err
			}
			args := append(c.nodeArgs(), "--hollow-nodes", strconv.Itoa(n), "--hollow-node-prefix", prefix,
				"--listen", "127.0.0.1:"+strconv.Itoa(ports[0]), "--http-listen", "127.0.0.1:"+strconv.Itoa(ports[1]),
				"--root-dir", filepath.Join(c.cfg.DataDir, name))
			if _, err := c.start(name, GroupNodes, "kubelet", args...); err != nil {
				return err
			}
			c.Debug[name] = "http://127.0.0.1:" + strconv.Itoa(ports[1])
		}
		return nil
	}
	ports, err := freePorts(c.cfg.Nodes)
	if err != nil {
		return err
	}
	for i := range c.cfg.Nodes {
		node := c.NodeName(i)
		args := append(c.nodeArgs(), "--node-name", node, "--listen", "127.0.0.1:"+strconv.Itoa(ports[i]),
			"--http-listen", "-", "--root-dir", filepath.Join(c.cfg.DataDir, "kubelet-"+node))
		if _, err := c.start("kubelet-"+node, GroupNodes, "kubelet", args...); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) start(name, group, bin string, args ...string) (*process, error) {
	p, err := startProcess(name, group, filepath.Join(c.cfg.BinDir, bin), args, c.cfg.LogDir)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	return p, nil
}

// Processes lists the started processes: name, group and pid.
func (c *Cluster) Processes() []ProcessInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]ProcessInfo, 0, len(c.procs))
	for _, p := range c.procs {
		out = append(out, ProcessInfo{Name: p.name, Group: p.group, PID: p.pid()})
	}
	return out
}

// ProcessInfo identifies a component process.
type ProcessInfo struct {
	Name  string
	Group string
	PID   int
}

// CheckAlive returns an error naming the first component that exited, with the end of its log.
func (c *Cluster) CheckAlive() error {
	c.mu.Lock()
	procs := append([]*process(nil), c.procs...)
	c.mu.Unlock()
	for _, p := range procs {
		if done, err := p.exited(); done {
			return fmt.Errorf("%s exited (%v); last log lines of %s:\n%s", p.name, err, p.logPath, tail(p.logPath, 10))
		}
	}
	return nil
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// Stop stops the nodes first, then the control plane in reverse start order.
func (c *Cluster) Stop() {
	if c.Client != nil {
		c.Client.Close()
	}
	c.mu.Lock()
	procs := append([]*process(nil), c.procs...)
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		if p.group == GroupNodes {
			wg.Add(1)
			go func() { defer wg.Done(); p.stop(10 * time.Second) }()
		}
	}
	wg.Wait()
	for i := len(procs) - 1; i >= 0; i-- {
		if procs[i].group != GroupNodes {
			procs[i].stop(10 * time.Second)
		}
	}
}

func (c *Cluster) waitHTTP(ctx context.Context, what, url string, timeout time.Duration) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		last = err
		if err := c.CheckAlive(); err != nil {
			return fmt.Errorf("cluster: waiting for %s: %w", what, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster: %s not ready at %s after %v: %v (logs in %s)", what, url, timeout, last, c.cfg.LogDir)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

var etcdEndpointRE = regexp.MustCompile(`embedded etcd started.*endpoint=(\S+)`)

// embeddedEtcdEndpoint reads the embedded etcd's client address from the apiserver's log.
func embeddedEtcdEndpoint(logPath string) (string, error) {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return "", fmt.Errorf("cluster: apiserver log: %w", err)
	}
	m := etcdEndpointRE.FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("cluster: no \"embedded etcd started\" line with its endpoint in %s (the apiserver logs it at info level)", logPath)
	}
	ep := strings.Trim(string(m[1]), `"`)
	if !strings.Contains(ep, "://") {
		ep = "http://" + ep
	}
	return ep, nil
}

func (c *Cluster) waitNodesReady(ctx context.Context) error {
	deadline := time.Now().Add(c.cfg.ReadyTimeout)
	lastLog := time.Now()
	for {
		ready, err := c.readyNodes(ctx)
		if err == nil && ready >= c.cfg.Nodes {
			return nil
		}
		if err := c.CheckAlive(); err != nil {
			return fmt.Errorf("cluster: waiting for nodes: %w", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster: %d of %d nodes Ready after %v (list error: %v); kubelet logs in %s", ready, c.cfg.Nodes, c.cfg.ReadyTimeout, err, c.cfg.LogDir)
		}
		if time.Since(lastLog) > 10*time.Second {
			c.log.Info("waiting for nodes", "ready", ready, "want", c.cfg.Nodes)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (c *Cluster) readyNodes(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	nodes, _, err := c.Client.Nodes().List(ctx, &metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return 0, err
	}
	ready := 0
	for _, n := range nodes {
		for _, cond := range n.GetStatus().GetConditions() {
			if cond.GetType() == "Ready" && cond.GetStatus() == "True" {
				ready++
			}
		}
	}
	return ready, nil
}
