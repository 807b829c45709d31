package kubelet

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/coxswain/coxswain/pkg/api/resource"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// Runtime names accepted by Config.Runtime.
const (
	RuntimeNative  = "native"
	RuntimeProcess = "process"
	RuntimeFake    = "fake"
)

// Version is the kubelet version reported in Node.status.nodeInfo.
const Version = "v1.31.0-coxswain"

// Config configures a Kubelet. Zero values take the defaults documented on
// each field (the command-line defaults).
type Config struct {
	// APIServer is the apiserver's host:port (default 127.0.0.1:6443);
	// ignored when Client is set.
	APIServer string
	// Client, when set, is used instead of dialing APIServer.
	Client *client.Client

	// NodeName is the Node this kubelet registers (default: the host name,
	// lower-cased).
	NodeName string
	// NodeIP is the InternalIP to report (default: the first non-loopback
	// IPv4 address, or 127.0.0.1).
	NodeIP string

	// ListenAddr serves the KubeletService (default 0.0.0.0:10250); the
	// actual port is reported in Node.status.daemonEndpoints.
	ListenAddr string
	// HTTPAddr serves /metrics, /healthz and /debug/pprof (default
	// 127.0.0.1:10255; "-" disables it).
	HTTPAddr string
	// RootDir holds logs, volumes, images and runtime state (default
	// /var/lib/coxswain/kubelet).
	RootDir string

	// Runtime is native, process or fake (default native when running as
	// root on Linux, process otherwise).
	Runtime string
	// RuntimeOverride, when set, is used instead of building Runtime (tests).
	RuntimeOverride runtime.Runtime

	// ImageTarballs are docker-save or OCI layout tarballs loaded at start.
	ImageTarballs []string
	// InsecureRegistries may be reached over plain HTTP (or unverified TLS).
	InsecureRegistries []string

	// PodCIDR overrides Node.spec.podCIDR (otherwise assigned by the
	// controller-manager; the kubelet waits for it before starting pods).
	PodCIDR string
	// Bridge is the native runtime's node bridge (default cox0).
	Bridge string
	// NativeNodeNetNS is the network namespace holding the native runtime's
	// bridge ("" = the kubelet's own). The kubelet dials pods (probes,
	// port-forward) from it. Tests use it to keep the host network untouched.
	NativeNodeNetNS string
	// NativeCgroupRoot is the cgroup pods go under (default /coxswain).
	NativeCgroupRoot string

	// ClusterDNS are the nameservers of ClusterFirst pods; ClusterDomain
	// (default cluster.local) builds their search path.
	ClusterDNS    []string
	ClusterDomain string

	// NodeLabels are added to the built-in kubernetes.io/{hostname,os,arch}.
	NodeLabels map[string]string
	// Taints are registered with the Node when it is created.
	Taints []*corev1.Taint
	// KubeletToken, when set, must be presented by KubeletService callers in
	// the x-coxswain-kubelet-token metadata header.
	KubeletToken string

	// MaxPods is the pods capacity (default 110).
	MaxPods int
	// CPUMilli and MemoryBytes override the measured capacity.
	CPUMilli    int64
	MemoryBytes int64

	// HeartbeatInterval is how often the Lease is renewed and the Node
	// status recomputed (default 10s). StatusReportInterval is the longest
	// time between two Node status writes (default 1m).
	HeartbeatInterval    time.Duration
	StatusReportInterval time.Duration

	// HollowNodes > 0 runs that many hollow kubelets (fake runtime only),
	// named HollowNodePrefix-<i> (default prefix "hollow-node").
	HollowNodes      int
	HollowNodePrefix string

	// Crash-loop back-off: the first restart is immediate, then the delay
	// starts at BackoffInitial (10s) and doubles up to BackoffMax (5m); a
	// container that ran BackoffReset (10m) starts over.
	BackoffInitial, BackoffMax, BackoffReset time.Duration

	// RelistInterval is how often container states are relisted from the
	// runtime (default 1s; 10s for hollow nodes). HousekeepingInterval is
	// how often orphaned sandboxes and pod directories are removed (1m).
	RelistInterval       time.Duration
	HousekeepingInterval time.Duration
	// Workers is the number of pods synced in parallel (default 16; 8 for
	// hollow nodes, shared).
	Workers int
	// LogMaxBytes rotates a container log file at this size (default 10 MiB).
	LogMaxBytes int64

	// Registry receives the metrics and is served on /metrics (default: a
	// new registry).
	Registry *prometheus.Registry
	Logger   *slog.Logger
}

func (c *Config) setDefaults() error {
	if c.APIServer == "" {
		c.APIServer = "127.0.0.1:6443"
	}
	if c.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("kubelet: node name: %w", err)
		}
		c.NodeName = strings.ToLower(h)
	}
	if c.NodeIP == "" {
		c.NodeIP = defaultNodeIP()
	}
	if c.ListenAddr == "" {
		c.ListenAddr = "0.0.0.0:10250"
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = "127.0.0.1:10255"
	}
	if c.RootDir == "" {
		c.RootDir = "/var/lib/coxswain/kubelet"
	}
	if c.Runtime == "" {
		c.Runtime = RuntimeProcess
		if os.Geteuid() == 0 && nativeSupported {
			c.Runtime = RuntimeNative
		}
	}
	if c.Bridge == "" {
		c.Bridge = "cox0"
	}
	if c.ClusterDomain == "" {
		c.ClusterDomain = "cluster.local"
	}
	if c.MaxPods == 0 {
		c.MaxPods = 110
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = 10 * time.Second
	}
	if c.StatusReportInterval == 0 {
		c.StatusReportInterval = time.Minute
	}
	if c.HollowNodePrefix == "" {
		c.HollowNodePrefix = "hollow-node"
	}
	if c.BackoffInitial == 0 {
		c.BackoffInitial = 10 * time.Second
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = 5 * time.Minute
	}
	if c.BackoffReset == 0 {
		c.BackoffReset = 10 * time.Minute
	}
	if c.RelistInterval == 0 {
		c.RelistInterval = time.Second
		if c.HollowNodes > 0 {
			c.RelistInterval = 10 * time.Second
		}
	}
	if c.HousekeepingInterval == 0 {
		c.HousekeepingInterval = time.Minute
	}
	if c.Workers == 0 {
		c.Workers = 16
		if c.HollowNodes > 0 {
			c.Workers = 8
		}
	}
	if c.LogMaxBytes == 0 {
		c.LogMaxBytes = 10 << 20
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c.validate()
}

func (c *Config) validate() error {
	var errs []error
	switch c.Runtime {
	case RuntimeNative, RuntimeProcess, RuntimeFake:
	default:
		errs = append(errs, fmt.Errorf("runtime %q: must be native, process or fake", c.Runtime))
	}
	if c.HollowNodes < 0 {
		errs = append(errs, fmt.Errorf("hollow-nodes %d: must not be negative", c.HollowNodes))
	}
	if c.HollowNodes > 0 && c.Runtime != RuntimeFake {
		errs = append(errs, fmt.Errorf("hollow-nodes %d: needs --runtime fake, not %q", c.HollowNodes, c.Runtime))
	}
	if ip, err := netip.ParseAddr(c.NodeIP); err != nil || !ip.Is4() {
		errs = append(errs, fmt.Errorf("node-ip %q: must be an IPv4 address", c.NodeIP))
	}
	if c.PodCIDR != "" {
		if p, err := netip.ParsePrefix(c.PodCIDR); err != nil || !p.Addr().Is4() {
			errs = append(errs, fmt.Errorf("pod-cidr %q: must be an IPv4 CIDR", c.PodCIDR))
		}
	}
	for _, s := range c.ClusterDNS {
		if _, err := netip.ParseAddr(s); err != nil {
			errs = append(errs, fmt.Errorf("cluster-dns %q: not an IP address", s))
		}
	}
	if !filepath.IsAbs(c.RootDir) {
		errs = append(errs, fmt.Errorf("root-dir %q: must be absolute", c.RootDir))
	}
	if c.MaxPods < 0 {
		errs = append(errs, fmt.Errorf("max-pods %d: must not be negative", c.MaxPods))
	}
	if c.BackoffInitial < 0 || c.BackoffMax < c.BackoffInitial || c.BackoffReset < 0 {
		errs = append(errs, fmt.Errorf("backoff: initial %v, max %v, reset %v: need 0 <= initial <= max and reset >= 0", c.BackoffInitial, c.BackoffMax, c.BackoffReset))
	}
	if c.HeartbeatInterval < 0 || c.StatusReportInterval < 0 {
		errs = append(errs, errors.New("heartbeat-interval: must be positive"))
	}
	for i, t := range c.Taints {
		if t.GetKey() == "" {
			errs = append(errs, fmt.Errorf("register-with-taints[%d]: key is empty", i))
		}
		if !slices.Contains(taintEffects, t.GetEffect()) {
			errs = append(errs, fmt.Errorf("register-with-taints[%d] %q: effect %q must be one of %s", i, t.GetKey(), t.GetEffect(), strings.Join(taintEffects, ", ")))
		}
	}
	return errors.Join(errs...)
}

var taintEffects = []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}

// defaultNodeIP returns the first non-loopback IPv4 address of an up
// interface, or 127.0.0.1.
func defaultNodeIP() string {
	ifs, err := net.Interfaces()
	if err != nil {
		return "127.0.0.1"
	}
	for _, in := range ifs {
		if in.Flags&net.FlagUp == 0 || in.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := in.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip4 := n.IP.To4(); ip4 != nil && !ip4.IsLoopback() && !ip4.IsLinkLocalUnicast() {
					return ip4.String()
				}
			}
		}
	}
	return "127.0.0.1"
}

// ParseLabels parses "k=v,k2=v2" (--node-labels).
func ParseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("node-labels: %q is not key=value", kv)
		}
		if err := validLabelKey(k); err != nil {
			return nil, fmt.Errorf("node-labels: key %q: %w", k, err)
		}
		if err := validLabelValue(v); err != nil {
			return nil, fmt.Errorf("node-labels: value %q of %q: %w", v, k, err)
		}
		out[k] = v
	}
	return out, nil
}

// ParseTaints parses "key=value:Effect,key:Effect" (--register-with-taints).
func ParseTaints(s string) ([]*corev1.Taint, error) {
	var out []*corev1.Taint
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, spec := range strings.Split(s, ",") {
		spec = strings.TrimSpace(spec)
		kv, effect, ok := strings.Cut(spec, ":")
		if !ok {
			return nil, fmt.Errorf("register-with-taints: %q: want key[=value]:Effect", spec)
		}
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("register-with-taints: %q: key is empty", spec)
		}
		if err := validLabelKey(k); err != nil {
			return nil, fmt.Errorf("register-with-taints: key %q: %w", k, err)
		}
		if err := validLabelValue(v); err != nil {
			return nil, fmt.Errorf("register-with-taints: value %q: %w", v, err)
		}
		if !slices.Contains(taintEffects, effect) {
			return nil, fmt.Errorf("register-with-taints: %q: effect %q must be one of %s", spec, effect, strings.Join(taintEffects, ", "))
		}
		out = append(out, &corev1.Taint{Key: k, Value: v, Effect: effect})
	}
	return out, nil
}

// ParseCPU parses a CPU quantity ("2", "1500m") into millicores.
func ParseCPU(s string) (int64, error) {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return 0, fmt.Errorf("cpu %q: %w", s, err)
	}
	if q.Sign() <= 0 {
		return 0, fmt.Errorf("cpu %q: must be positive", s)
	}
	return q.MilliValue(), nil
}

// ParseMemory parses a memory quantity ("4Gi") into bytes.
func ParseMemory(s string) (int64, error) {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return 0, fmt.Errorf("memory %q: %w", s, err)
	}
	if q.Sign() <= 0 {
		return 0, fmt.Errorf("memory %q: must be positive", s)
	}
	return q.Value(), nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// validName checks a label name part: at most 63 alphanumerics, '-', '_'
// or '.', beginning and ending with an alphanumeric.
func validName(s string) error {
	if s == "" || len(s) > 63 {
		return errors.New("must be 1-63 characters")
	}
	if !isAlnum(s[0]) || !isAlnum(s[len(s)-1]) {
		return errors.New("must begin and end with an alphanumeric character")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return fmt.Errorf("invalid character %q", c)
		}
	}
	return nil
}

func validLabelKey(k string) error {
	prefix, name, hasPrefix := strings.Cut(k, "/")
	if !hasPrefix {
		return validName(k)
	}
	if prefix == "" || len(prefix) > 253 {
		return errors.New("prefix must be 1-253 characters")
	}
	for _, part := range strings.Split(prefix, ".") {
		if part == "" {
			return errors.New("prefix must be a DNS subdomain")
		}
		for i := 0; i < len(part); i++ {
			if c := part[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return errors.New("prefix must be a lower-case DNS subdomain")
			}
		}
	}
	return validName(name)
}

func validLabelValue(v string) error {
	if v == "" {
		return nil
	}
	return validName(v)
}
