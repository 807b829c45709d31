package nftables

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/nftables/expr"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/coxswain/coxswain/pkg/proxy/dataplane"
)

// Config configures the nftables data plane.
type Config struct {
	// Table is the name of the nf_tables table (family ip) the data plane
	// owns; default DefaultTable. Two proxies sharing one network
	// namespace need different tables.
	Table string
	// NodeName is this node's name. When set, only endpoints on this node
	// (or whose node is unknown) go into the hairpin set: a pod can only
	// reach itself through a service via its own node. Empty puts every
	// endpoint there.
	NodeName string
	// NodeIPs restricts NodePorts to these local addresses; empty accepts
	// NodePorts on every local address (`fib daddr type local`).
	NodeIPs []string
	// MasqueradeAll masquerades all ClusterIP traffic, not only traffic
	// from outside ClusterCIDR.
	MasqueradeAll bool
	// ClusterCIDR is the pod network; ClusterIP traffic from outside it is
	// masqueraded so that replies come back through this node. Empty (and
	// MasqueradeAll false) masquerades only NodePort, external-IP and
	// hairpin traffic.
	ClusterCIDR string
	// Registerer receives the sync metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// LocalhostNodePorts also accepts NodePorts on 127.0.0.0/8 from the node
	// itself. It turns on net.ipv4.conf.all.route_localnet and installs a
	// rule dropping packets to 127.0.0.0/8 that did not come from lo.
	LocalhostNodePorts bool
	// NetNSPath programs the table (and writes the sysctls) in the network
	// namespace bound at this path (e.g. /run/netns/x); empty means the
	// caller's namespace.
	NetNSPath string
	// CheckInterval is how often Run checks that the table is still there
	// (someone may have flushed the ruleset); default 1 minute.
	CheckInterval time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Proxier is the nftables data plane. It implements dataplane.DataPlane.
type Proxier struct {
	cfg         Config
	log         *slog.Logger
	metrics     *dataplane.Metrics
	clusterCIDR netip.Prefix
	sock        *nlSocket
	ct          conntrack

	mu       sync.Mutex
	applied  map[string]*appliedService
	hairpin  map[uint32]int   // endpoint IPv4 -> number of service endpoints with it (hairpin-endpoints)
	epMaps   map[string]int   // service-endpoints map -> number of service ports using it
	claims   map[claim]string // address -> key of the applied service port taking it
	ids      idAllocator      // service port ids in service-endpoints
	needFull bool
	// lastBatch is the number of messages sent by the last Sync (0 when it
	// had nothing to change).
	lastBatch int
	// lastPrepare and lastSend split the last Sync's time between
	// computing the batch and the kernel committing it.
	lastPrepare, lastSend time.Duration
	// lastSendCPU is the CPU time of the thread that sent the last batch
	// while the kernel processed it: the commit's cost without the wait
	// for a CPU on a busy machine.
	lastSendCPU time.Duration
}

var _ dataplane.DataPlane = (*Proxier)(nil)

// appliedService is what was programmed for one service port.
type appliedService struct {
	sp     *dataplane.ServicePort // a copy of what was programmed
	in     *dataplane.ServicePort // the caller's pointer it was copied from
	id     uint32                 // key prefix in service-endpoints
	chains map[string]uint64      // chain -> hash of its rules
	sets   []string
	elems  map[elemKey]elemVal
	// slots are the service-endpoints values (ipv4_addr . inet_service)
	// by slot, in map epMap; nil with ClientIP affinity. They are not in
	// elems: they are compared slot by slot.
	slots     []string
	epMap     string
	hairpin   []uint32 // endpoint IPv4s, for hairpin-endpoints
	udpEPs    []netip.AddrPort
	endpoints int
}

// elemVal is the value of a map element: the goto chain of a verdict map
// element, the data of a data map element, neither for a set element.
type elemVal struct{ chain, data string }

// idAllocator hands out the service port ids keying service-endpoints.
type idAllocator struct {
	next uint32
	free []uint32
}

func (a *idAllocator) get() uint32 {
	if n := len(a.free); n > 0 {
		id := a.free[n-1]
		a.free = a.free[:n-1]
		return id
	}
	a.next++
	return a.next
}

func (a *idAllocator) put(id uint32) { a.free = append(a.free, id) }

// hashSeed seeds the chain content hashes; they are only compared within
// one process.
var hashSeed = maphash.MakeSeed()

type elemKey struct{ set, key string }

type chainDef struct {
	name  string
	rules [][]byte
	hash  uint64
}

type rendered struct {
	applied *appliedService
	chains  []chainDef
	sets    []setSpec
}

// New validates cfg, writes the needed sysctls and opens the netlink
// sockets. Nothing is programmed until the first Sync.
func New(cfg Config) (*Proxier, error) {
	if cfg.Table == "" {
		cfg.Table = DefaultTable
	}
	if len(cfg.Table) > 255 || strings.ContainsRune(cfg.Table, 0) {
		return nil, fmt.Errorf("nftables config: table %q: must be 1..255 bytes without NUL", cfg.Table)
	}
	p := &Proxier{cfg: cfg, log: cfg.Logger, applied: map[string]*appliedService{}, hairpin: map[uint32]int{},
		epMaps: map[string]int{}, claims: map[claim]string{}, needFull: true}
	if p.log == nil {
		p.log = slog.Default()
	}
	p.log = p.log.With("component", "proxy-nftables", "table", cfg.Table)
	for i, ip := range cfg.NodeIPs {
		a, err := netip.ParseAddr(ip)
		if err != nil || !a.Is4() {
			return nil, fmt.Errorf("nftables config: nodeIPs[%d] %q: not an IPv4 address", i, ip)
		}
	}
	if cfg.ClusterCIDR != "" {
		pfx, err := netip.ParsePrefix(cfg.ClusterCIDR)
		if err != nil || !pfx.Addr().Is4() {
			return nil, fmt.Errorf("nftables config: clusterCIDR %q: not an IPv4 CIDR", cfg.ClusterCIDR)
		}
		p.clusterCIDR = pfx.Masked()
	}
	m, err := dataplane.NewMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("nftables config: register metrics: %w", err)
	}
	p.metrics = m
	if err := writeSysctls(cfg.NetNSPath, cfg.LocalhostNodePorts); err != nil {
		return nil, err
	}
	p.sock, err = openSocket(cfg.NetNSPath)
	if err != nil {
		return nil, err
	}
	p.ct, err = openConntrack(cfg.NetNSPath)
	if err != nil {
		p.sock.Close()
		return nil, err
	}
	return p, nil
}

// Run watches for the table disappearing behind the data plane's back (e.g.
// `nft flush ruleset`) and re-programs the last applied state when it does.
// It returns when ctx is done, leaving the rules in place.
func (p *Proxier) Run(ctx context.Context) error {
	interval := p.cfg.CheckInterval
	if interval <= 0 {
		interval = time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := p.repairIfGone(ctx); err != nil {
			p.log.Error("restore table failed", "err", err)
		}
	}
}

// repairIfGone rebuilds the table from the last applied state if it was
// programmed and is now missing.
func (p *Proxier) repairIfGone(ctx context.Context) error {
	start := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.needFull {
		return nil // never programmed, or the next Sync rebuilds anyway
	}
	ok, err := p.sock.tableExists(p.cfg.Table)
	if err != nil || ok {
		return err
	}
	p.log.Warn("table disappeared, restoring it")
	last := make(dataplane.State, len(p.applied))
	for k, a := range p.applied {
		last[k] = a.sp
	}
	p.needFull = true
	err = p.sync(ctx, last)
	p.observe(start, err)
	return err
}

// Close releases the netlink sockets. It leaves the rules in place (use
// Cleanup to remove them).
func (p *Proxier) Close() error {
	p.ct.close()
	return p.sock.Close()
}

// writeSysctls turns on forwarding (DNATed packets are routed to pods) and,
// for localhost NodePorts, route_localnet (packets from 127.0.0.1 may then be
// routed off the host after DNAT and masquerade).
func writeSysctls(nsPath string, localhost bool) error {
	settings := []string{"/proc/sys/net/ipv4/ip_forward"}
	if localhost {
		settings = append(settings, "/proc/sys/net/ipv4/conf/all/route_localnet")
	}
	return inNetNS(nsPath, func() error {
		for _, path := range settings {
			cur, err := os.ReadFile(path)
			if err == nil && len(cur) > 0 && cur[0] == '1' {
				continue
			}
			if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
				return fmt.Errorf("sysctl %s=1: %w", path, err)
			}
		}
		return nil
	})
}

// Sync programs desired, sending only the difference from the last
// successful Sync in one nftables transaction.
func (p *Proxier) Sync(ctx context.Context, desired dataplane.State) error {
	start := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.sync(ctx, desired)
	p.observe(start, err)
	return err
}

// observe records metrics and logs the outcome of a sync; p.mu is held.
func (p *Proxier) observe(start time.Time, err error) {
	services, endpoints := 0, 0
	for _, a := range p.applied {
		if len(a.elems) > 0 {
			services++
		}
		endpoints += a.endpoints
	}
	p.metrics.ObserveSync(start, err, services, endpoints)
	if err != nil {
		p.log.Error("sync failed", "err", err, "duration", time.Since(start))
	} else {
		p.log.Debug("synced", "services", services, "endpoints", endpoints, "messages", p.lastBatch,
			"prepare", p.lastPrepare, "commit", p.lastSend, "commitCPU", p.lastSendCPU, "duration", time.Since(start))
	}
}

type change struct {
	key string
	old *appliedService // nil: new service
	new *rendered       // nil: removed service
}

func (p *Proxier) sync(ctx context.Context, desired dataplane.State) error {
	start := time.Now()
	if err := ctx.Err(); err != nil {
		return err
	}
	full := p.needFull
	old := p.applied
	if full {
		old = map[string]*appliedService{}
	}

	// Only service ports that differ from what is programmed are validated
	// and rendered; unchanged ones were validated when first applied.
	var changes []change
	for k, sp := range desired {
		a := old[k]
		if a != nil && (a.in == sp || dataplane.Equal(a.sp, sp)) {
			if a.in != sp {
				a.in = sp // equal content: remember the new pointer
			}
			continue
		}
		if err := sp.Validate(k); err != nil {
			return err
		}
		changes = append(changes, change{key: k, old: a})
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].key < changes[j].key })
	changed := make([]string, len(changes))
	for i, c := range changes {
		changed[i] = c.key
	}
	if err := p.checkConflicts(desired, changed, full); err != nil {
		return err
	}
	for k, a := range old {
		if _, ok := desired[k]; !ok {
			changes = append(changes, change{key: k, old: a})
		}
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].key < changes[j].key })
	if full {
		p.ids = idAllocator{}
	}
	// Ids of new service ports go back to the allocator unless the commit
	// succeeds (after a failed commit the next Sync is a full one, which
	// starts the allocator afresh).
	var newIDs []uint32
	committed := false
	defer func() {
		if !committed && !p.needFull {
			for _, id := range newIDs {
				p.ids.put(id)
			}
		}
	}()
	for i := range changes {
		c := &changes[i]
		sp, ok := desired[c.key]
		if !ok {
			continue
		}
		var id uint32
		if c.old != nil {
			id = c.old.id
		} else {
			id = p.ids.get()
			newIDs = append(newIDs, id)
		}
		r, err := p.render(c.key, sp, c.old, id)
		if err != nil {
			return err
		}
		c.new = r
	}
	if len(changes) == 0 && !full {
		p.lastBatch = 0
		return nil
	}

	// Size the buffer once: a full sync is tens of megabytes.
	size, msgs := 1<<16, 256
	for _, c := range changes {
		if c.old != nil {
			size += 128 * len(c.old.chains)
			msgs += 2 * len(c.old.chains)
		}
		if c.new == nil {
			continue
		}
		for _, ch := range c.new.chains {
			size += 48 + 2*len(ch.name)
			msgs += 2 + len(ch.rules)
			for _, r := range ch.rules {
				size += 40 + len(ch.name) + len(r)
			}
		}
		size += 64 * (len(c.new.applied.elems) + len(c.new.sets) + len(c.new.applied.hairpin))
	}
	b := newBatch(p.cfg.Table, size, msgs)
	if full {
		// Replace whatever is there atomically: add (so that delete
		// cannot fail), delete, re-create.
		b.addTable()
		b.delTable()
		b.addTable()
		if err := p.addBase(b); err != nil {
			return err
		}
	}

	// hairpin-endpoints is shared too: an address is in it while at
	// least one service port has an endpoint with it.
	hairpin := p.hairpin
	var hairpinAdds, hairpinDels []uint32
	var hairpinBefore map[uint32]bool
	if full {
		hairpin = make(map[uint32]int, len(p.hairpin))
		for _, c := range changes {
			for _, h := range c.new.applied.hairpin {
				if hairpin[h] == 0 {
					hairpinAdds = append(hairpinAdds, h)
				}
				hairpin[h]++
			}
		}
	} else {
		hairpinBefore = map[uint32]bool{}
		touch := func(hs []uint32, d int) {
			for _, h := range hs {
				if _, ok := hairpinBefore[h]; !ok {
					hairpinBefore[h] = hairpin[h] > 0
				}
				hairpin[h] += d
			}
		}
		for _, c := range changes {
			if c.old != nil {
				touch(c.old.hairpin, -1)
			}
			if c.new != nil {
				touch(c.new.applied.hairpin, +1)
			}
		}
		for h, before := range hairpinBefore {
			after := hairpin[h] > 0
			switch {
			case before && !after:
				hairpinDels = append(hairpinDels, h)
				delete(hairpin, h)
			case !before && after:
				hairpinAdds = append(hairpinAdds, h)
			case !after:
				delete(hairpin, h)
			}
		}
	}
	// service-endpoints maps are shared: created with their first user,
	// deleted after their last.
	epMaps := p.epMaps
	if full {
		epMaps = map[string]int{}
	} else {
		epMaps = maps.Clone(epMaps)
	}
	var newMaps, goneMaps []string
	for _, c := range changes {
		if c.old != nil && c.old.epMap != "" {
			epMaps[c.old.epMap]--
		}
		if c.new != nil && c.new.applied.epMap != "" {
			epMaps[c.new.applied.epMap]++
		}
	}
	for _, m := range sortedKeys(epMaps) {
		n, before := epMaps[m], p.epMaps[m] > 0 && !full
		switch {
		case n > 0 && !before:
			newMaps = append(newMaps, m)
		case n <= 0 && before:
			goneMaps = append(goneMaps, m)
			delete(epMaps, m)
		case n <= 0:
			delete(epMaps, m)
		}
	}

	// Phase 1: new sets and chains.
	for _, m := range newMaps {
		b.addSet(endpointsMapSpec(m))
	}
	for _, c := range changes {
		if c.new == nil {
			continue
		}
		for i := range c.new.sets {
			if c.old == nil || !slices.Contains(c.old.sets, c.new.sets[i].name) {
				b.addSet(&c.new.sets[i])
			}
		}
		for _, ch := range c.new.chains {
			if c.old == nil {
				b.addChain(ch.name, nil)
			} else if _, ok := c.old.chains[ch.name]; !ok {
				b.addChain(ch.name, nil)
			}
		}
	}
	// Phase 2: (re)write the rules of new and changed chains, in the order
	// rendered (endpoint chains before the chains that jump to them).
	for _, c := range changes {
		if c.new == nil {
			continue
		}
		for _, ch := range c.new.chains {
			if c.old != nil {
				h, ok := c.old.chains[ch.name]
				if ok && h == ch.hash {
					continue
				}
				if ok {
					b.flushChain(ch.name)
				}
			}
			for _, r := range ch.rules {
				b.addRule(ch.name, r)
			}
		}
	}
	// Phase 3: map and set elements: deletions first, then additions.
	dels := map[string][]element{}
	adds := map[string][]element{}
	for _, c := range changes {
		var oldE, newE map[elemKey]elemVal
		var newA *appliedService
		if c.old != nil {
			oldE = c.old.elems
		}
		if c.new != nil {
			newA = c.new.applied
			newE = newA.elems
		}
		diffSlots(c.old, newA, dels, adds)
		for k, v := range oldE {
			if nv, ok := newE[k]; !ok || nv != v {
				dels[k.set] = append(dels[k.set], element{key: k.key})
			}
		}
		for k, v := range newE {
			if ov, ok := oldE[k]; !ok || ov != v {
				adds[k.set] = append(adds[k.set], element{key: k.key, chain: v.chain, data: v.data})
			}
		}
	}
	if len(hairpinDels) > 0 {
		dels[setHairpin] = hairpinElements(hairpinDels)
	}
	if len(hairpinAdds) > 0 {
		adds[setHairpin] = hairpinElements(hairpinAdds)
	}
	for _, set := range sortedKeys(dels) {
		b.setElements(set, false, dels[set])
	}
	for _, set := range sortedKeys(adds) {
		b.setElements(set, true, adds[set])
	}
	// Phase 4: remove chains and sets nothing refers to any more. Flush
	// them all first so that no removed chain still jumps to another.
	var rmChains, rmSets []string
	for _, c := range changes {
		if c.old == nil {
			continue
		}
		for name := range c.old.chains {
			if c.new != nil && slices.ContainsFunc(c.new.chains, func(d chainDef) bool { return d.name == name }) {
				continue
			}
			rmChains = append(rmChains, name)
		}
		for _, name := range c.old.sets {
			if c.new != nil && slices.ContainsFunc(c.new.sets, func(s setSpec) bool { return s.name == name }) {
				continue
			}
			rmSets = append(rmSets, name)
		}
	}
	sort.Strings(rmChains)
	for _, name := range rmChains {
		b.flushChain(name)
	}
	for _, name := range rmChains {
		b.delChain(name)
	}
	for _, name := range rmSets {
		b.delSet(name)
	}
	for _, name := range goneMaps {
		b.delSet(name)
	}

	p.lastBatch = b.count
	sendStart := time.Now()
	p.lastPrepare = sendStart.Sub(start)
	var err error
	p.lastSendCPU = threadCPU(func() { err = p.sock.send(b) })
	p.lastSend = time.Since(sendStart)
	if err != nil {
		// The kernel aborted the whole transaction; rebuild from scratch
		// next time in case our view and the kernel's have diverged.
		p.needFull = true
		return err
	}

	// Commit our view.
	if full {
		p.applied = map[string]*appliedService{}
	}
	committed = true
	for _, c := range changes {
		if c.new == nil {
			delete(p.applied, c.key)
			if !full {
				p.ids.put(c.old.id)
			}
		} else {
			p.applied[c.key] = c.new.applied
		}
	}
	p.hairpin = hairpin
	p.epMaps = epMaps
	p.updateClaims(changes, full)
	p.needFull = false
	p.clearConntrack(changes)
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// claim is an address a service port takes: ip:port/proto, or a NodePort
// (ip "").
type claim struct {
	ip    string
	port  int32
	proto dataplane.Protocol
}

func (c claim) String() string {
	if c.ip == "" {
		return fmt.Sprintf("nodePort %d/%s", c.port, c.proto)
	}
	return fmt.Sprintf("%s:%d/%s", c.ip, c.port, c.proto)
}

// claimsOf lists the addresses sp takes.
func claimsOf(sp *dataplane.ServicePort) []claim {
	var out []claim
	if sp.HasClusterIP() {
		out = append(out, claim{sp.ClusterIP, sp.Port, sp.Protocol})
	}
	for _, ip := range sp.ExternalIPs {
		out = append(out, claim{ip, sp.Port, sp.Protocol})
	}
	if sp.NodePort != 0 {
		out = append(out, claim{"", sp.NodePort, sp.Protocol})
	}
	return out
}

// checkConflicts rejects two service ports claiming the same virtual
// address or NodePort. Only the changed service ports (sorted keys of
// desired) are checked, against each other and against the unchanged ones,
// whose claims are in p.claims.
func (p *Proxier) checkConflicts(desired dataplane.State, changed []string, full bool) error {
	isChanged := make(map[string]bool, len(changed))
	for _, k := range changed {
		isChanged[k] = true
	}
	conflict := func(c claim, a, b string) error {
		if b < a {
			a, b = b, a
		}
		return fmt.Errorf("service ports %q and %q: both claim %s", a, b, c)
	}
	local := map[claim]string{}
	for _, k := range changed {
		for _, c := range claimsOf(desired[k]) {
			if o, ok := local[c]; ok && o != k {
				return conflict(c, o, k)
			}
			local[c] = k
			if full {
				continue
			}
			if o, ok := p.claims[c]; ok && o != k && !isChanged[o] && desired[o] != nil {
				return conflict(c, o, k)
			}
		}
	}
	return nil
}

// updateClaims records the claims of a committed sync.
func (p *Proxier) updateClaims(changes []change, full bool) {
	if full {
		p.claims = map[claim]string{}
	}
	for _, c := range changes {
		if c.old == nil {
			continue
		}
		for _, cl := range claimsOf(c.old.sp) {
			if p.claims[cl] == c.key {
				delete(p.claims, cl)
			}
		}
	}
	for _, c := range changes {
		if c.new == nil {
			continue
		}
		for _, cl := range claimsOf(c.new.applied.sp) {
			p.claims[cl] = c.key
		}
	}
}

// render computes the chains, sets and elements of one service port. old is
// what is programmed for it now (nil when nothing is), id its number in
// service-endpoints.
func (p *Proxier) render(key string, sp *dataplane.ServicePort, old *appliedService, id uint32) (*rendered, error) {
	a := &appliedService{sp: sp.Clone(), in: sp, id: id, chains: map[string]uint64{}, elems: map[elemKey]elemVal{}}
	r := &rendered{applied: a}
	proto := protoNum(sp.Protocol)
	eps := sp.ReadyEndpoints()
	a.endpoints = len(eps)

	if len(eps) == 0 {
		reject := elemVal{chain: chainReject}
		if sp.HasClusterIP() {
			a.elems[elemKey{mapNoEndpointServices, ipProtoPortKey(sp.ClusterIP, proto, sp.Port)}] = reject
		}
		for _, ip := range sp.ExternalIPs {
			a.elems[elemKey{mapNoEndpointServices, ipProtoPortKey(ip, proto, sp.Port)}] = reject
		}
		if sp.NodePort != 0 {
			a.elems[elemKey{mapNoEndpointNodePorts, protoPortKey(proto, sp.NodePort)}] = reject
		}
		return r, nil
	}
	if !sp.HasClusterIP() && sp.NodePort == 0 && len(sp.ExternalIPs) == 0 {
		a.endpoints = 0
		return r, nil // headless: nothing to program
	}

	a.hairpin = make([]uint32, 0, len(eps))
	ips := make([][4]byte, len(eps))
	for i, ep := range eps {
		ip := ip4(ep.IP)
		ips[i] = ip
		if p.cfg.NodeName == "" || ep.NodeName == "" || ep.NodeName == p.cfg.NodeName {
			a.hairpin = append(a.hairpin, binary.BigEndian.Uint32(ip[:]))
		}
		if sp.Protocol == dataplane.ProtocolUDP {
			a.udpEPs = append(a.udpEPs, netip.AddrPortFrom(netip.AddrFrom4(ip), uint16(ep.Port)))
		}
	}

	svcChain := svcChainName(key, sp)
	var svcRules [][]any
	n := len(eps)
	if sp.SessionAffinityClientIP {
		// Returning clients first: a hit refreshes the entry's timeout.
		// Then a ladder whose rung i takes the packet with probability
		// 1/(n-i), so that every endpoint gets 1/n overall, remembering
		// the client in the chosen endpoint's set.
		timeout := sp.AffinityTimeout()
		a.sets = make([]string, n)
		for i, ep := range eps {
			a.sets[i] = affinitySetName(key, ep, timeout)
			r.sets = append(r.sets, setSpec{name: a.sets[i], keyTypes: []keyType{ktIPv4}, timeout: uint64(timeout) * 1000})
		}
		for i, ep := range eps {
			svcRules = append(svcRules, concat(
				[]any{rawLoadSaddr, &expr.Lookup{SourceRegister: 1, SetName: a.sets[i]}, remember(a.sets[i])},
				dnatTo(proto, ep.IP, ep.Port)))
		}
		for i, ep := range eps {
			var rule []any
			if i < n-1 {
				rule = []any{rawNumgen(uint32(n - i)), rawCmpZero}
			}
			rule = append(rule, rawLoadSaddr, remember(a.sets[i]))
			svcRules = append(svcRules, append(rule, dnatTo(proto, ep.IP, ep.Port)...))
		}
	} else {
		// One rule picks slot `numgen random mod n` of this service port
		// in service-endpoints; the slots hold the endpoints. Changing an
		// endpoint rewrites elements only, never a rule.
		var prev []string
		if old != nil {
			prev = old.slots
		}
		data := make([]string, n)
		for i, ep := range eps {
			data[i] = ipPortData(ips[i], ep.Port)
		}
		a.slots = assignSlots(prev, data)
		a.epMap = endpointsMap(id)
		svcRules = append(svcRules, dnatSlot(proto, id, n))
	}
	if err := r.addChain(svcChain, svcRules...); err != nil {
		return nil, err
	}

	if sp.HasClusterIP() {
		a.elems[elemKey{mapServiceIPs, ipProtoPortKey(sp.ClusterIP, proto, sp.Port)}] = elemVal{chain: svcChain}
	}
	if sp.NodePort != 0 || len(sp.ExternalIPs) > 0 {
		extChain := extChainName(key, sp)
		if err := r.addChain(extChain, []any{jump(chainMarkMasq)}, []any{goTo(svcChain)}); err != nil {
			return nil, err
		}
		for _, ip := range sp.ExternalIPs {
			a.elems[elemKey{mapServiceIPs, ipProtoPortKey(ip, proto, sp.Port)}] = elemVal{chain: extChain}
		}
		if sp.NodePort != 0 {
			a.elems[elemKey{mapServiceNodePorts, protoPortKey(proto, sp.NodePort)}] = elemVal{chain: extChain}
		}
	}
	return r, nil
}

// diffSlots adds the service-endpoints element changes from old to cur
// (either may be nil) to dels and adds, slot by slot.
func diffSlots(old, cur *appliedService, dels, adds map[string][]element) {
	var oldSlots, curSlots []string
	var oldMap, curMap string
	var oldID, curID uint32
	if old != nil {
		oldSlots, oldMap, oldID = old.slots, old.epMap, old.id
	}
	if cur != nil {
		curSlots, curMap, curID = cur.slots, cur.epMap, cur.id
	}
	same := oldMap == curMap && oldID == curID
	for i, d := range oldSlots {
		if !same || i >= len(curSlots) || curSlots[i] != d {
			dels[oldMap] = append(dels[oldMap], element{key: slotKey(oldID, uint32(i))})
		}
	}
	for i, d := range curSlots {
		if !same || i >= len(oldSlots) || oldSlots[i] != d {
			adds[curMap] = append(adds[curMap], element{key: slotKey(curID, uint32(i)), data: d})
		}
	}
}

// hairpinElements encodes hairpin-endpoints elements ip . ip.
func hairpinElements(ips []uint32) []element {
	slices.Sort(ips) // deterministic batches
	out := make([]element, len(ips))
	for i, ip := range ips {
		var k [8]byte
		binary.BigEndian.PutUint32(k[:4], ip)
		binary.BigEndian.PutUint32(k[4:], ip)
		out[i] = element{key: string(k[:])}
	}
	return out
}

// remember is `update @set { ip saddr }` (the source address is in reg 1).
func remember(set string) expr.Any {
	return &expr.Dynset{SrcRegKey: 1, SetName: set, Operation: unix.NFT_DYNSET_OP_UPDATE}
}

// assignSlots places the endpoints (distinct service-endpoints values) in
// slots 0..len(data)-1, keeping every endpoint that stays in the slot it
// had (when that slot still exists), so that replacing one endpoint
// rewrites one element.
func assignSlots(prev, data []string) []string {
	n := len(data)
	if len(prev) == 0 {
		return data
	}
	// Small services (nearly all) are compared pairwise; maps beyond.
	var index map[string]int
	if n > 32 {
		index = make(map[string]int, n)
		for i, d := range data {
			index[d] = i
		}
	}
	find := func(d string) int {
		if index != nil {
			if i, ok := index[d]; ok {
				return i
			}
			return -1
		}
		return slices.Index(data, d)
	}
	slots := make([]string, n)
	placed := make([]bool, n) // by index in data
	for i, d := range prev {
		if i >= n {
			break
		}
		if j := find(d); j >= 0 && !placed[j] {
			slots[i] = d
			placed[j] = true
		}
	}
	free := 0
	for j, d := range data {
		if placed[j] {
			continue
		}
		for slots[free] != "" {
			free++
		}
		slots[free] = d
	}
	return slots
}

// addChain encodes a regular chain's rules (one []any per rule).
func (r *rendered) addChain(name string, rules ...[]any) error {
	var h maphash.Hash
	h.SetSeed(hashSeed)
	d := chainDef{name: name, rules: make([][]byte, 0, len(rules))}
	for _, rule := range rules {
		enc, err := encodeRule(nil, rule...)
		if err != nil {
			return fmt.Errorf("chain %s: %w", name, err)
		}
		d.rules = append(d.rules, enc)
		h.Write(enc)
		h.WriteByte(0xff) // rule separator
	}
	d.hash = h.Sum64()
	r.chains = append(r.chains, d)
	r.applied.chains[name] = d.hash
	return nil
}

// addBase adds the fixed sets, maps and chains.
func (p *Proxier) addBase(b *batch) error {
	ipProtoPort := []keyType{ktIPv4, ktProto, ktService}
	protoPort := []keyType{ktProto, ktService}
	b.addSet(&setSpec{name: mapServiceIPs, keyTypes: ipProtoPort, isVmap: true})
	b.addSet(&setSpec{name: mapServiceNodePorts, keyTypes: protoPort, isVmap: true})
	b.addSet(&setSpec{name: mapNoEndpointServices, keyTypes: ipProtoPort, isVmap: true})
	b.addSet(&setSpec{name: mapNoEndpointNodePorts, keyTypes: protoPort, isVmap: true})
	b.addSet(&setSpec{name: setHairpin, keyTypes: []keyType{ktIPv4, ktIPv4}})
	if len(p.cfg.NodeIPs) > 0 {
		b.addSet(&setSpec{name: setNodePortIPs, keyTypes: []keyType{ktIPv4}})
		var elems []element
		for _, ip := range p.cfg.NodeIPs {
			a := ip4(ip)
			elems = append(elems, element{key: string(a[:])})
		}
		b.setElements(setNodePortIPs, true, elems)
	}

	type chain struct {
		name  string
		base  *baseChain
		rules [][]any
	}
	// localNodePort matches traffic to a local address that may carry
	// NodePorts.
	localNodePort := fibDaddrLocal()
	if !p.cfg.LocalhostNodePorts {
		localNodePort = append(localNodePort, loadDaddr(1))
		localNodePort = append(localNodePort, matchPrefix(loopback, true)...)
	}
	if len(p.cfg.NodeIPs) > 0 {
		localNodePort = append(localNodePort, loadDaddr(1), &expr.Lookup{SourceRegister: 1, SetName: setNodePortIPs})
	}
	ipProtoPortVmap := func(m string) []any {
		return []any{loadDaddr(1), loadL4Proto(9), loadDport(10), vmap(m)}
	}
	protoPortVmap := func(m string) []any {
		return concat(localNodePort, []any{loadL4Proto(1), loadDport(9), vmap(m)})
	}
	filterPre := [][]any{append(ctStateNew(), jump(chainEndpointsCheck))}
	if p.cfg.LocalhostNodePorts {
		// route_localnet is on: refuse martians to 127/8 from outside.
		guard := concat([]any{&expr.Meta{Key: expr.MetaKeyIIF, Register: 1}, cmpNeq(ne32(1))},
			[]any{loadDaddr(1)}, matchPrefix(loopback, false), []any{&expr.Verdict{Kind: expr.VerdictDrop}})
		filterPre = append([][]any{guard}, filterPre...)
	}
	// ClusterIP traffic from outside ClusterCIDR (all of it with
	// MasqueradeAll) is masqueraded; one rule for all services, looking
	// service-ips up as a set.
	var servicesRules [][]any
	if p.cfg.MasqueradeAll || p.clusterCIDR.IsValid() {
		var rule []any
		if !p.cfg.MasqueradeAll {
			rule = append([]any{loadSaddr(1)}, matchPrefix(p.clusterCIDR, true)...)
		}
		rule = append(rule, loadDaddr(1), loadL4Proto(9), loadDport(10),
			&expr.Lookup{SourceRegister: 1, SetName: mapServiceIPs}, jump(chainMarkMasq))
		servicesRules = append(servicesRules, rule)
	}
	servicesRules = append(servicesRules, ipProtoPortVmap(mapServiceIPs), protoPortVmap(mapServiceNodePorts))
	chains := []chain{
		{name: chainReject, rules: [][]any{
			{loadL4Proto(1), cmpEq([]byte{unix.IPPROTO_TCP}), &expr.Reject{Type: unix.NFT_REJECT_TCP_RST}},
			{&expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: 3 /* port unreachable */}},
		}},
		{name: chainEndpointsCheck, rules: [][]any{
			ipProtoPortVmap(mapNoEndpointServices),
			protoPortVmap(mapNoEndpointNodePorts),
		}},
		{name: chainMarkMasq, rules: [][]any{setMarkOr(masqMark)}},
		{name: chainMasquerading, rules: [][]any{
			{loadSaddr(1), loadDaddr(9), &expr.Lookup{SourceRegister: 1, SetName: setHairpin}, &expr.Masq{FullyRandom: true}},
			{&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
				&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: ne32(masqMark), Xor: ne32(0)},
				cmpEq(ne32(0)), &expr.Verdict{Kind: expr.VerdictReturn}},
			{&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
				&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: ne32(^uint32(0)), Xor: ne32(masqMark)},
				&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1}},
			{&expr.Masq{FullyRandom: true}},
		}},
		{name: chainServices, rules: servicesRules},
		{name: chainFilterPrerouting, base: &baseChain{"filter", unix.NF_INET_PRE_ROUTING, prioDstNAT - 10}, rules: filterPre},
		{name: chainFilterOutput, base: &baseChain{"filter", unix.NF_INET_LOCAL_OUT, prioDstNAT - 10}, rules: [][]any{
			append(ctStateNew(), jump(chainEndpointsCheck)),
		}},
		{name: chainNATPrerouting, base: &baseChain{"nat", unix.NF_INET_PRE_ROUTING, prioDstNAT}, rules: [][]any{{jump(chainServices)}}},
		{name: chainNATOutput, base: &baseChain{"nat", unix.NF_INET_LOCAL_OUT, prioDstNAT}, rules: [][]any{{jump(chainServices)}}},
		{name: chainNATPostrouting, base: &baseChain{"nat", unix.NF_INET_POST_ROUTING, prioSrcNAT}, rules: [][]any{{jump(chainMasquerading)}}},
	}
	for _, c := range chains {
		b.addChain(c.name, c.base)
	}
	for _, c := range chains {
		for _, r := range c.rules {
			enc, err := encodeRule(nil, r...)
			if err != nil {
				return fmt.Errorf("chain %s: %w", c.name, err)
			}
			b.addRule(c.name, enc)
		}
	}
	return nil
}

// Cleanup deletes the table and forgets the programmed state.
func (p *Proxier) Cleanup(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b := newBatch(p.cfg.Table, 0, 4)
	b.addTable()
	b.delTable()
	if err := p.sock.send(b); err != nil {
		return fmt.Errorf("delete table ip %s: %w", p.cfg.Table, err)
	}
	p.applied = map[string]*appliedService{}
	p.hairpin = map[uint32]int{}
	p.epMaps = map[string]int{}
	p.claims = map[claim]string{}
	p.ids = idAllocator{}
	p.needFull = true
	p.metrics.RulesProgrammed.WithLabelValues("services").Set(0)
	p.metrics.RulesProgrammed.WithLabelValues("endpoints").Set(0)
	return nil
}

// Generation returns the kernel's nf_tables ruleset generation in the data
// plane's network namespace; it changes with every committed transaction.
func (p *Proxier) Generation() (uint32, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sock.generation()
}
