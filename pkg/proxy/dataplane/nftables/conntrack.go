package nftables

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/coxswain/coxswain/pkg/proxy/dataplane"
)

// conntrack removes stale UDP flows. TCP needs no help: a connection to a
// removed endpoint fails on its own, but a UDP "connection" (same client
// address and port) would keep being NATed to the old endpoint until its
// conntrack entry times out.
type conntrack struct {
	h *netlink.Handle
}

func openConntrack(nsPath string) (conntrack, error) {
	if nsPath == "" {
		h, err := netlink.NewHandle(unix.NETLINK_NETFILTER)
		if err != nil {
			return conntrack{}, fmt.Errorf("open conntrack netlink socket: %w", err)
		}
		return conntrack{h: h}, nil
	}
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return conntrack{}, fmt.Errorf("open network namespace %s: %w", nsPath, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_NETFILTER)
	if err != nil {
		return conntrack{}, fmt.Errorf("open conntrack netlink socket in %s: %w", nsPath, err)
	}
	return conntrack{h: h}, nil
}

func (c conntrack) close() {
	if c.h != nil {
		c.h.Close()
	}
}

// udpFlowFilter matches UDP flows to removed endpoints and flows to virtual
// addresses that were never DNATed (sent while the service had no endpoint).
type udpFlowFilter struct {
	endpoints map[netip.AddrPort]bool
	vips      map[netip.AddrPort]bool
	nodePorts map[uint16]bool
}

func addrPort(ip net.IP, port uint16) netip.AddrPort {
	a, _ := netip.AddrFromSlice(ip)
	return netip.AddrPortFrom(a.Unmap(), port)
}

func (f *udpFlowFilter) MatchConntrackFlow(flow *netlink.ConntrackFlow) bool {
	if flow.Forward.Protocol != unix.IPPROTO_UDP {
		return false
	}
	origDst := addrPort(flow.Forward.DstIP, flow.Forward.DstPort)
	replySrc := addrPort(flow.Reverse.SrcIP, flow.Reverse.SrcPort)
	natted := origDst != replySrc
	if natted && f.endpoints[replySrc] {
		return true
	}
	if !natted && (f.vips[origDst] || f.nodePorts[origDst.Port()]) {
		return true
	}
	return false
}

// clearConntrack deletes stale UDP flows after a successful commit.
func (p *Proxier) clearConntrack(changes []change) {
	f := &udpFlowFilter{endpoints: map[netip.AddrPort]bool{}, vips: map[netip.AddrPort]bool{}, nodePorts: map[uint16]bool{}}
	for _, c := range changes {
		var oldEPs, newEPs []netip.AddrPort
		var sp *dataplane.ServicePort
		if c.old != nil {
			oldEPs, sp = c.old.udpEPs, c.old.sp
		}
		if c.new != nil {
			newEPs, sp = c.new.applied.udpEPs, c.new.applied.sp
		}
		if sp.Protocol != dataplane.ProtocolUDP {
			continue
		}
		keep := map[netip.AddrPort]bool{}
		for _, ep := range newEPs {
			keep[ep] = true
		}
		for _, ep := range oldEPs {
			if !keep[ep] {
				f.endpoints[ep] = true
			}
		}
		if len(oldEPs) == 0 && len(newEPs) > 0 {
			if sp.HasClusterIP() {
				f.vips[netip.AddrPortFrom(netip.MustParseAddr(sp.ClusterIP), uint16(sp.Port))] = true
			}
			for _, ip := range sp.ExternalIPs {
				f.vips[netip.AddrPortFrom(netip.MustParseAddr(ip), uint16(sp.Port))] = true
			}
			if sp.NodePort != 0 {
				f.nodePorts[uint16(sp.NodePort)] = true
			}
		}
	}
	if len(f.endpoints) == 0 && len(f.vips) == 0 && len(f.nodePorts) == 0 {
		return
	}
	n, err := p.ct.h.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, f)
	if err != nil {
		p.log.Warn("clear stale UDP conntrack entries", "err", err)
		return
	}
	if n > 0 {
		p.log.Debug("cleared stale UDP conntrack entries", "count", n)
	}
}
