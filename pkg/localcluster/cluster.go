package localcluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coxswain/coxswain/pkg/client"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Config configures a local cluster.
type Config struct {
	// BinDir holds the component binaries (make build puts them in bin/).
	BinDir string
	// DataDir keeps the cluster's state (etcd, node state) and logs across restarts.
	DataDir string
	// Nodes is the number of worker nodes (default 2).
	Nodes int
	// Runtime is "native", "process" or "" (native when root on Linux, else process).
	Runtime string
	// Images are image tarballs preloaded on every node (the demo image).
	Images []string
	// APIPort is the apiserver's gRPC port (default 6443); other ports follow from it.
	APIPort int
	// ConfigPath is where coxctl's config is written ("" = ~/.coxswain/config; "-" = not written).
	ConfigPath string
	// Out receives the human summary; Logger the runner's own log.
	Out    io.Writer
	Logger *slog.Logger
}

// Cluster is a running local cluster.
type Cluster struct {
	cfg     Config
	log     *slog.Logger
	native  bool
	token   string
	nodeIP  string
	mu      sync.Mutex
	procs   []*proc
	started time.Time
}

// New validates the configuration.
func New(cfg Config) (*Cluster, error) {
	if cfg.Nodes <= 0 {
		cfg.Nodes = 2
	}
	if cfg.APIPort == 0 {
		cfg.APIPort = 6443
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DataDir == "" {
		return nil, errors.New("localcluster: --data-dir is required")
	}
	for _, b := range []string{"apiserver", "scheduler", "controller-manager", "kubelet", "proxy", "clusterdns"} {
		if _, err := os.Stat(filepath.Join(cfg.BinDir, b)); err != nil {
			return nil, fmt.Errorf("localcluster: %s not found in %s: run `make build` first", b, cfg.BinDir)
		}
	}
	// Components run with their own working directories' worth of state: give them absolute paths.
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			return p
		}
		return a
	}
	cfg.DataDir, cfg.BinDir = abs(cfg.DataDir), abs(cfg.BinDir)
	for i, img := range cfg.Images {
		cfg.Images[i] = abs(img)
	}
	c := &Cluster{cfg: cfg, log: cfg.Logger}
	switch cfg.Runtime {
	case "":
		c.native = os.Geteuid() == 0 && nativeSupported()
	case "native":
		if os.Geteuid() != 0 {
			return nil, errors.New("localcluster: the native runtime needs root; use --runtime process")
		}
		c.native = true
	case "process":
	default:
		return nil, fmt.Errorf("localcluster: --runtime %q: must be native or process", cfg.Runtime)
	}
	return c, nil
}

func nativeSupported() bool {
	if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		return false
	}
	_, err := exec.LookPath("ip")
	return err == nil
}

func (c *Cluster) path(parts ...string) string {
	return filepath.Join(append([]string{c.cfg.DataDir}, parts...)...)
}

// persistent returns a random token kept in the data dir, so restarts keep it.
func (c *Cluster) persistent(name string) (string, error) {
	p := c.path(name)
	if b, err := os.ReadFile(p); err == nil && len(b) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	return tok, os.WriteFile(p, []byte(tok+"\n"), 0o600)
}

// Run starts the cluster and blocks until ctx ends, then stops every process.
func (c *Cluster) Run(ctx context.Context) error {
	c.started = time.Now()
	if err := os.MkdirAll(c.path("logs"), 0o755); err != nil {
		return err
	}
	var err error
	if c.token, err = c.persistent("kubelet-token"); err != nil {
		return err
	}
	c.nodeIP = primaryIP()
	defer c.stopAll()
	api := fmt.Sprintf("127.0.0.1:%d", c.cfg.APIPort)
	apiHTTP := fmt.Sprintf("127.0.0.1:%d", c.cfg.APIPort+1)
	svcCIDR, mode, lbPool := "10.96.0.0/16", "nftables", "172.31.255.0/24"
	if !c.native {
		svcCIDR, mode, lbPool = "127.20.0.0/16", "userspace", "127.30.0.0/24"
	}
	c.start(ctx, "apiserver", "--data-dir", c.path("apiserver"), "--listen", api, "--http-listen", apiHTTP,
		"--service-cluster-ip-range", svcCIDR, "--kubelet-token", c.token)
	if err := waitHTTP(ctx, "http://"+apiHTTP+"/readyz", 60*time.Second); err != nil {
		return fmt.Errorf("apiserver did not become ready (see %s): %w", c.path("logs", "apiserver.log"), err)
	}
	port := c.cfg.APIPort
	c.start(ctx, "controller-manager", "--apiserver", api, "--http-listen", fmt.Sprintf("127.0.0.1:%d", port+2),
		"--cluster-cidr", "10.244.0.0/16", "--lb-pool", lbPool)
	c.start(ctx, "scheduler", "--apiserver", api, "--http-listen", fmt.Sprintf("127.0.0.1:%d", port+3))
	dnsAddr := "127.0.0.1:" + strconv.Itoa(port+4)
	if c.native {
		dnsAddr = "0.0.0.0:53"
	}
	c.start(ctx, "clusterdns", "--apiserver", api, "--listen", dnsAddr, "--http-listen", fmt.Sprintf("127.0.0.1:%d", port+5))
	cli, err := client.New(client.Config{Server: api, UserAgent: "localcluster"})
	if err != nil {
		return err
	}
	defer cli.Close()
	dnsIP := ""
	if c.native {
		if dnsIP, err = c.ensureDNSService(ctx, cli); err != nil {
			c.log.Warn("cluster DNS service not created", "err", err)
		}
	}
	for i := 1; i <= c.cfg.Nodes; i++ {
		node := fmt.Sprintf("node-%d", i)
		base := port + 10*i
		args := []string{"--apiserver", api, "--node-name", node, "--node-ip", c.nodeIP,
			"--listen", fmt.Sprintf("%s:%d", c.nodeIP, base), "--http-listen", fmt.Sprintf("127.0.0.1:%d", base+1),
			"--root-dir", c.path(node), "--kubelet-token", c.token, "--bridge", fmt.Sprintf("cox%d", i)}
		if c.native {
			args = append(args, "--runtime", "native")
			if dnsIP != "" {
				args = append(args, "--cluster-dns", dnsIP)
			}
		} else {
			args = append(args, "--runtime", "process")
		}
		if len(c.cfg.Images) > 0 {
			args = append(args, "--image-tarballs", strings.Join(c.cfg.Images, ","))
		}
		c.start(ctx, "kubelet-"+node, args...)
		pargs := []string{"--apiserver", api, "--node-name", node, "--mode", mode, "--http-listen", fmt.Sprintf("127.0.0.1:%d", base+2)}
		if c.native {
			pargs = append(pargs, "--table", "coxswain-"+node, "--localhost-nodeports", "--cleanup-on-exit",
				"--cluster-cidr", "10.244.0.0/16")
		} else if i > 1 {
			// In userspace mode every node shares the host's addresses: one proxy serves them all.
			continue
		}
		c.start(ctx, "proxy-"+node, pargs...)
	}
	if err := c.waitNodesReady(ctx, cli); err != nil {
		return err
	}
	ready := time.Since(c.started)
	cfgPath, err := c.writeConfig(api)
	if err != nil {
		c.log.Warn("coxctl config not written", "err", err)
	}
	c.summary(api, apiHTTP, cfgPath, ready)
	<-ctx.Done()
	fmt.Fprintln(c.cfg.Out, "\nstopping the cluster...")
	return nil
}

func (c *Cluster) ensureDNSService(ctx context.Context, cli *client.Client) (string, error) {
	const ip = "10.96.0.10"
	svc := &corev1.Service{Metadata: &metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-dns", Labels: map[string]string{"k8s-app": "kube-dns"}},
		Spec: &corev1.ServiceSpec{ClusterIp: ip, Ports: []*corev1.ServicePort{
			{Name: "dns", Port: 53, Protocol: "UDP"}, {Name: "dns-tcp", Port: 53, Protocol: "TCP"}}}}
	if _, err := cli.Services().Create(ctx, svc); err != nil && !strings.Contains(err.Error(), "already exists") {
		return "", err
	}
	ep := &corev1.Endpoints{Metadata: &metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-dns"},
		Subsets: []*corev1.EndpointSubset{{Addresses: []*corev1.EndpointAddress{{Ip: c.nodeIP}},
			Ports: []*corev1.EndpointPort{{Name: "dns", Port: 53, Protocol: "UDP"}, {Name: "dns-tcp", Port: 53, Protocol: "TCP"}}}}}
	if cur, err := cli.Endpoints().Get(ctx, "kube-system", "kube-dns"); err == nil {
		ep.Metadata.ResourceVersion = cur.Metadata.ResourceVersion
		_, err = cli.Endpoints().Update(ctx, ep)
		return ip, err
	}
	_, err := cli.Endpoints().Create(ctx, ep)
	return ip, err
}

func (c *Cluster) waitNodesReady(ctx context.Context, cli *client.Client) error {
	deadline := time.Now().Add(90 * time.Second)
	for {
		nodes, _, err := cli.Nodes().List(ctx, &metav1.ListOptions{ResourceVersion: "0"})
		ready := 0
		if err == nil {
			for _, n := range nodes {
				for _, cond := range n.GetStatus().GetConditions() {
					if cond.GetType() == "Ready" && cond.GetStatus() == "True" {
						ready++
					}
				}
			}
		}
		if ready >= c.cfg.Nodes {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d nodes Ready after 90s; see the kubelet logs in %s", ready, c.cfg.Nodes, c.path("logs"))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// writeConfig writes coxctl's config pointing at this cluster.
func (c *Cluster) writeConfig(api string) (string, error) {
	p := c.cfg.ConfigPath
	if p == "-" {
		return "", nil
	}
	if p == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		p = filepath.Join(home, ".coxswain", "config")
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	body := fmt.Sprintf("# written by `make run` (coxswain local cluster)\ncurrent-context: local\ncontexts:\n- name: local\n  server: %s\n  namespace: default\n", api)
	return p, os.WriteFile(p, []byte(body), 0o644)
}

func (c *Cluster) summary(api, apiHTTP, cfgPath string, ready time.Duration) {
	rt := "process (a loopback IP per pod; userspace proxy)"
	if c.native {
		rt = "native (network namespaces, bridges, nftables)"
	}
	bin, _ := filepath.Abs(c.cfg.BinDir)
	fmt.Fprintf(c.cfg.Out, `
coxswain local cluster is up: %d nodes Ready in %.2fs (runtime: %s)
  apiserver   %s (gRPC)   metrics/health http://%s/metrics
  state       %s   logs %s
  coxctl      %s/coxctl   (config: %s)

Try:
  export PATH=%s:$PATH
  coxctl get nodes
  coxctl apply -f examples/web.yaml && coxctl get pods -o wide
Ctrl-C stops the cluster; its state is kept for the next 'make run'.
`, c.cfg.Nodes, ready.Seconds(), rt, api, apiHTTP, c.cfg.DataDir, c.path("logs"), bin, cfgPath, bin)
}

func waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: time.Second}
	for {
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// primaryIP is the address nodes report: the first non-loopback IPv4, else 127.0.0.1.
func primaryIP() string {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() && !strings.HasPrefix(ipn.IP.String(), "169.254.") {
				return ipn.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

// proc is one supervised component process, restarted with back-off if it dies.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

func (c *Cluster) start(ctx context.Context, name string, args ...string) {
	bin := name
	if i := strings.Index(name, "-node-"); i > 0 {
		bin = name[:i]
	}
	logPath := c.path("logs", name+".log")
	p := &proc{name: name, done: make(chan struct{})}
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	ready := make(chan struct{})
	go func() {
		defer close(p.done)
		backoff := time.Second
		first := true
		for ctx.Err() == nil {
			f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				c.log.Error("log file", "err", err)
				return
			}
			cmd := exec.Command(filepath.Join(c.cfg.BinDir, bin), args...)
			cmd.Stdout, cmd.Stderr = f, f
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
			c.mu.Lock()
			p.cmd = cmd
			err = cmd.Start()
			c.mu.Unlock()
			if first {
				close(ready)
				first = false
			}
			if err != nil {
				f.Close()
				c.log.Error("start failed", "component", name, "err", err)
				return
			}
			start := time.Now()
			err = cmd.Wait()
			f.Close()
			if ctx.Err() != nil {
				return
			}
			if time.Since(start) > time.Minute {
				backoff = time.Second
			}
			fmt.Fprintf(c.cfg.Out, "%s exited (%v); restarting in %v — log: %s\n", name, err, backoff, logPath)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 30*time.Second)
		}
	}()
	<-ready
}

// stopAll stops components in reverse start order: SIGTERM, then SIGKILL after 10s; then it releases the
// pods' network namespace mounts under the data dir (the kubelets recreate sandboxes on the next start), so
// the data dir stays removable.
func (c *Cluster) stopAll() {
	defer c.unmountAll()
	c.mu.Lock()
	procs := append([]*proc(nil), c.procs...)
	c.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		p := procs[i]
		c.mu.Lock()
		cmd := p.cmd
		c.mu.Unlock()
		if cmd != nil && cmd.Process != nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
		}
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			if cmd != nil && cmd.Process != nil {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
			<-p.done
		}
	}
}

// unmountAll lazily unmounts every mount point below the data dir, deepest first.
func (c *Cluster) unmountAll() {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], c.cfg.DataDir+"/") {
			points = append(points, f[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil {
			c.log.Debug("unmount", "path", p, "err", err)
		}
	}
}
