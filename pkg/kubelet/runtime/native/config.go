package native

import (
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
)

// Config configures the native runtime.
type Config struct {
	// PodCIDR is the node's IPv4 pod range, e.g. "10.244.1.0/24". Its first
	// address is the bridge's (the pods' gateway); pods get the others.
	PodCIDR string
	// BridgeName is the node bridge (default "cox0").
	BridgeName string
	// StateDir holds network namespaces, IPAM and container state (default
	// /var/lib/coxswain/native). It must not contain ',' or ':'.
	StateDir string
	// CgroupRoot is the cgroup under which pod cgroups are created (default
	// "/coxswain"): absolute paths are below the hierarchy's root, relative
	// ones below the kubelet's own cgroup.
	CgroupRoot string
	// NodeNetNS is the path of the network namespace that holds the bridge
	// and the routes ("" = the kubelet's own). Tests use it to simulate
	// several nodes on one machine.
	NodeNetNS string
	// MTU of the bridge and veth pairs (default 1500).
	MTU    int
	Logger *slog.Logger
}

func (c *Config) setDefaults() error {
	if c.BridgeName == "" {
		c.BridgeName = "cox0"
	}
	if c.StateDir == "" {
		c.StateDir = "/var/lib/coxswain/native"
	}
	if c.CgroupRoot == "" {
		c.CgroupRoot = "/coxswain"
	}
	if c.MTU == 0 {
		c.MTU = 1500
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	p, err := netip.ParsePrefix(c.PodCIDR)
	switch {
	case c.PodCIDR == "":
		return fmt.Errorf("native runtime: PodCIDR is required")
	case err != nil:
		return fmt.Errorf("native runtime: PodCIDR %q: %w", c.PodCIDR, err)
	case !p.Addr().Is4() || p.Bits() > 30 || p.Bits() < 8:
		return fmt.Errorf("native runtime: PodCIDR %q: must be an IPv4 prefix between /8 and /30", c.PodCIDR)
	}
	if len(c.BridgeName) > 15 {
		return fmt.Errorf("native runtime: BridgeName %q: longer than 15 characters", c.BridgeName)
	}
	if !filepath.IsAbs(c.StateDir) || strings.ContainsAny(c.StateDir, ",:") {
		return fmt.Errorf("native runtime: StateDir %q: must be absolute and free of ',' and ':'", c.StateDir)
	}
	if c.MTU < 576 || c.MTU > 65535 {
		return fmt.Errorf("native runtime: MTU %d: out of range 576..65535", c.MTU)
	}
	return nil
}
