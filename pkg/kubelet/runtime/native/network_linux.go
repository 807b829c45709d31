package native

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/coxswain/coxswain/pkg/kubelet/runtime"
)

// routeProtocol marks the routes SyncRoutes owns (an unassigned rtnetlink
// protocol number), so that stale ones can be found and removed.
const routeProtocol netlink.RouteProtocol = 0x63

// node is the node-side network: a netlink handle in the node's network
// namespace and its bridge.
type node struct {
	nsPath  string
	h       *netlink.Handle
	bridge  string
	gateway netip.Addr
	prefix  netip.Prefix
	mtu     int
	closed  sync.Once
}

func nsHandle(path string) (*netlink.Handle, error) {
	if path == "" {
		return netlink.NewHandle()
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("netns %s: %w", path, err)
	}
	defer ns.Close()
	return netlink.NewHandleAt(ns)
}

func toIPNet(a netip.Addr, bits int) *net.IPNet {
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(bits, a.BitLen())}
}

// setupNode creates (or adopts) the bridge with the gateway address and
// enables forwarding in the node namespace.
func setupNode(nsPath, bridge string, prefix netip.Prefix, mtu int) (*node, error) {
	h, err := nsHandle(nsPath)
	if err != nil {
		return nil, err
	}
	n := &node{nsPath: nsPath, h: h, bridge: bridge, gateway: prefix.Addr().Next(), prefix: prefix, mtu: mtu}
	br, err := h.LinkByName(bridge)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			h.Close()
			return nil, fmt.Errorf("bridge %s: %w", bridge, err)
		}
		la := netlink.NewLinkAttrs()
		la.Name, la.MTU = bridge, mtu
		if err := h.LinkAdd(&netlink.Bridge{LinkAttrs: la}); err != nil {
			h.Close()
			return nil, fmt.Errorf("bridge %s: create: %w", bridge, err)
		}
		if br, err = h.LinkByName(bridge); err != nil {
			h.Close()
			return nil, fmt.Errorf("bridge %s: %w", bridge, err)
		}
	}
	if _, ok := br.(*netlink.Bridge); !ok {
		h.Close()
		return nil, fmt.Errorf("bridge %s: exists but is a %s", bridge, br.Type())
	}
	if err := h.AddrReplace(br, &netlink.Addr{IPNet: toIPNet(n.gateway, prefix.Bits())}); err != nil {
		h.Close()
		return nil, fmt.Errorf("bridge %s: address %s: %w", bridge, n.gateway, err)
	}
	if err := h.LinkSetUp(br); err != nil {
		h.Close()
		return nil, fmt.Errorf("bridge %s: up: %w", bridge, err)
	}
	err = inNetNS(nsPath, func() error {
		return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644)
	})
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("enable ip_forward: %w", err)
	}
	return n, nil
}

func (n *node) close() { n.closed.Do(n.h.Close) }

// hostVeth names the node side of a sandbox's veth pair.
func hostVeth(sandboxID string) string { return "vcx" + sandboxID[:12] }

// attach wires the sandbox netns at nsPath to the bridge with ip.
func (n *node) attach(sandboxID, nsPath string, ip netip.Addr) error {
	br, err := n.h.LinkByName(n.bridge)
	if err != nil {
		return fmt.Errorf("bridge %s: %w", n.bridge, err)
	}
	podNS, err := netns.GetFromPath(nsPath)
	if err != nil {
		return fmt.Errorf("netns %s: %w", nsPath, err)
	}
	defer podNS.Close()
	la := netlink.NewLinkAttrs()
	la.Name, la.MTU, la.MasterIndex = hostVeth(sandboxID), n.mtu, br.Attrs().Index
	veth := &netlink.Veth{LinkAttrs: la, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(podNS))}
	if err := n.h.LinkAdd(veth); err != nil {
		return fmt.Errorf("veth %s: create: %w", la.Name, err)
	}
	if err := n.h.LinkSetUp(veth); err != nil {
		return fmt.Errorf("veth %s: up: %w", la.Name, err)
	}
	ph, err := netlink.NewHandleAt(podNS)
	if err != nil {
		return fmt.Errorf("netns %s: %w", nsPath, err)
	}
	defer ph.Close()
	lo, err := ph.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("sandbox lo: %w", err)
	}
	if err := ph.LinkSetUp(lo); err != nil {
		return fmt.Errorf("sandbox lo: up: %w", err)
	}
	eth, err := ph.LinkByName("eth0")
	if err != nil {
		return fmt.Errorf("sandbox eth0: %w", err)
	}
	if err := ph.AddrAdd(eth, &netlink.Addr{IPNet: toIPNet(ip, n.prefix.Bits())}); err != nil {
		return fmt.Errorf("sandbox eth0: address %s: %w", ip, err)
	}
	if err := ph.LinkSetUp(eth); err != nil {
		return fmt.Errorf("sandbox eth0: up: %w", err)
	}
	def := &netlink.Route{LinkIndex: eth.Attrs().Index, Gw: n.gateway.AsSlice(), Dst: toIPNet(netip.IPv4Unspecified(), 0)}
	if err := ph.RouteAdd(def); err != nil {
		return fmt.Errorf("sandbox default route via %s: %w", n.gateway, err)
	}
	return nil
}

// detach deletes the sandbox's veth pair (a missing one is fine).
func (n *node) detach(sandboxID string) error {
	l, err := n.h.LinkByName(hostVeth(sandboxID))
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("veth %s: %w", hostVeth(sandboxID), err)
	}
	if err := n.h.LinkDel(l); err != nil {
		return fmt.Errorf("veth %s: delete: %w", hostVeth(sandboxID), err)
	}
	return nil
}

func (n *node) hasVeth(sandboxID string) bool {
	_, err := n.h.LinkByName(hostVeth(sandboxID))
	return err == nil
}

// syncRoutes makes the node's routes to other nodes' pod CIDRs match want.
func (n *node) syncRoutes(want map[netip.Prefix]netip.Addr) error {
	have, err := n.h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Protocol: routeProtocol, Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("list routes: %w", err)
	}
	var errs []error
	for _, r := range have {
		p, ok := netip.AddrFromSlice(r.Dst.IP)
		bits, _ := r.Dst.Mask.Size()
		gw, gok := netip.AddrFromSlice(r.Gw)
		if ok && gok {
			if w, keep := want[netip.PrefixFrom(p.Unmap(), bits)]; keep && w == gw.Unmap() {
				continue
			}
		}
		if err := n.h.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("delete route %s: %w", r.Dst, err))
		}
	}
	for p, gw := range want {
		rt := &netlink.Route{Dst: toIPNet(p.Addr(), p.Bits()), Gw: gw.AsSlice(), Protocol: routeProtocol, Table: unix.RT_TABLE_MAIN}
		if err := n.h.RouteReplace(rt); err != nil {
			errs = append(errs, fmt.Errorf("route %s via %s: %w", p, gw, err))
		}
	}
	return errors.Join(errs...)
}

// routes returns the routes SyncRoutes installed.
func (n *node) routes() (map[netip.Prefix]netip.Addr, error) {
	have, err := n.h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Protocol: routeProtocol, Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, err
	}
	out := map[netip.Prefix]netip.Addr{}
	for _, r := range have {
		p, _ := netip.AddrFromSlice(r.Dst.IP)
		bits, _ := r.Dst.Mask.Size()
		gw, _ := netip.AddrFromSlice(r.Gw)
		out[netip.PrefixFrom(p.Unmap(), bits)] = gw.Unmap()
	}
	return out, nil
}

// hostsFile renders /etc/hosts for a sandbox.
func hostsFile(hostname string, ip netip.Addr) []byte {
	var b bytes.Buffer
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	if hostname != "" && ip.IsValid() {
		fmt.Fprintf(&b, "%s\t%s\n", ip, hostname)
	}
	return b.Bytes()
}

// resolvConf renders /etc/resolv.conf: from dns, or else the host's without
// loopback nameservers (unreachable from a pod).
func resolvConf(dns *runtime.DNSConfig) []byte {
	if dns != nil {
		return dns.ResolvConf()
	}
	host, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return nil
	}
	var b bytes.Buffer
	for _, line := range strings.Split(string(host), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(f[1]); err == nil && a.IsLoopback() {
				continue
			}
		}
		if strings.TrimSpace(line) != "" {
			b.WriteString(line + "\n")
		}
	}
	return b.Bytes()
}

// writeSandboxFiles writes hosts, resolv.conf and hostname into dir.
func writeSandboxFiles(dir string, cfg runtime.PodSandboxConfig, ip netip.Addr) error {
	files := map[string][]byte{
		"hosts":       hostsFile(cfg.Hostname, ip),
		"resolv.conf": resolvConf(cfg.DNS),
		"hostname":    []byte(cfg.Hostname + "\n"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("sandbox file %s: %w", name, err)
		}
	}
	return nil
}
