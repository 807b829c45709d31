package userspace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/coxswain/coxswain/pkg/proxy/dataplane"
)

// Config configures the userspace data plane.
type Config struct {
	// NodePortAddress is the address NodePorts listen on; default 0.0.0.0.
	NodePortAddress string
	// UDPIdleTimeout closes a UDP client session after this long without
	// traffic in either direction; default 30s.
	UDPIdleTimeout time.Duration
	// DialTimeout bounds connecting to one endpoint; default 5s. When an
	// endpoint refuses, the next one is tried.
	DialTimeout time.Duration
	// Registerer receives the sync metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Proxier is the userspace data plane. It implements dataplane.DataPlane.
type Proxier struct {
	cfg     Config
	log     *slog.Logger
	metrics *dataplane.Metrics

	mu        sync.Mutex
	services  map[string]*service    // by State key
	listeners map[listenKey]listener // open sockets
	// lastChanges counts listeners opened/closed and services swapped by
	// the last Sync.
	lastChanges int
}

var _ dataplane.DataPlane = (*Proxier)(nil)

type listenKey struct {
	proto dataplane.Protocol
	addr  string // ip:port
}

// listener is a TCP or UDP socket serving one service port.
type listener interface {
	setService(*service)
	close()
}

// service is the runtime state of one service port; its endpoint list is
// replaced as a whole on Sync.
type service struct {
	key      string
	sp       *dataplane.ServicePort
	backends atomic.Pointer[backends]
}

type backends struct {
	addrs    []string // ip:port of ready endpoints
	affinity bool
	timeout  time.Duration
	// sticky maps a client IP to its endpoint (ClientIP affinity).
	mu     sync.Mutex
	sticky map[netip.Addr]stickyEntry
	swept  time.Time
}

type stickyEntry struct {
	addr    string
	expires time.Time
}

func newBackends(sp *dataplane.ServicePort, prev *backends) *backends {
	eps := sp.ReadyEndpoints()
	b := &backends{
		affinity: sp.SessionAffinityClientIP,
		timeout:  time.Duration(sp.AffinityTimeout()) * time.Second,
		sticky:   map[netip.Addr]stickyEntry{},
	}
	for _, ep := range eps {
		b.addrs = append(b.addrs, net.JoinHostPort(ep.IP, strconv.Itoa(int(ep.Port))))
	}
	// Keep the affinity of clients whose endpoint survives.
	if prev != nil && b.affinity && prev.affinity {
		prev.mu.Lock()
		for ip, e := range prev.sticky {
			if b.has(e.addr) {
				b.sticky[ip] = e
			}
		}
		prev.mu.Unlock()
	}
	return b
}

func (b *backends) has(addr string) bool {
	for _, a := range b.addrs {
		if a == addr {
			return true
		}
	}
	return false
}

// pick chooses an endpoint for a client, honouring affinity. exclude lists
// endpoints that already failed for this connection.
func (b *backends) pick(client netip.Addr, exclude []string) (string, bool) {
	var candidates []string
	for _, a := range b.addrs {
		excluded := false
		for _, x := range exclude {
			if x == a {
				excluded = true
				break
			}
		}
		if !excluded {
			candidates = append(candidates, a)
		}
	}
	if len(candidates) == 0 {
		return "", false
	}
	if !b.affinity {
		return candidates[rand.IntN(len(candidates))], true
	}
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.sticky[client]; ok && now.Before(e.expires) && len(exclude) == 0 && b.has(e.addr) {
		e.expires = now.Add(b.timeout)
		b.sticky[client] = e
		return e.addr, true
	}
	addr := candidates[rand.IntN(len(candidates))]
	b.sticky[client] = stickyEntry{addr: addr, expires: now.Add(b.timeout)}
	if now.Sub(b.swept) > time.Minute {
		b.swept = now
		for ip, e := range b.sticky {
			if now.After(e.expires) {
				delete(b.sticky, ip)
			}
		}
	}
	return addr, true
}

// New validates cfg. Nothing listens until the first Sync.
func New(cfg Config) (*Proxier, error) {
	if cfg.NodePortAddress == "" {
		cfg.NodePortAddress = "0.0.0.0"
	}
	if a, err := netip.ParseAddr(cfg.NodePortAddress); err != nil || !a.Is4() {
		return nil, fmt.Errorf("userspace config: nodePortAddress %q: not an IPv4 address", cfg.NodePortAddress)
	}
	if cfg.UDPIdleTimeout <= 0 {
		cfg.UDPIdleTimeout = 30 * time.Second
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m, err := dataplane.NewMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("userspace config: register metrics: %w", err)
	}
	return &Proxier{
		cfg:       cfg,
		log:       cfg.Logger.With("component", "proxy-userspace"),
		metrics:   m,
		services:  map[string]*service{},
		listeners: map[listenKey]listener{},
	}, nil
}

// addresses returns the sockets a service port needs, and the external IPs
// (which are only served if they are local addresses).
func (p *Proxier) addresses(sp *dataplane.ServicePort) (required, optional []listenKey) {
	port := strconv.Itoa(int(sp.Port))
	if sp.HasClusterIP() {
		required = append(required, listenKey{sp.Protocol, net.JoinHostPort(sp.ClusterIP, port)})
	}
	if sp.NodePort != 0 {
		required = append(required, listenKey{sp.Protocol, net.JoinHostPort(p.cfg.NodePortAddress, strconv.Itoa(int(sp.NodePort)))})
	}
	for _, ip := range sp.ExternalIPs {
		optional = append(optional, listenKey{sp.Protocol, net.JoinHostPort(ip, port)})
	}
	return required, optional
}

// Sync opens the sockets of new service ports, swaps endpoint lists of
// changed ones and closes the sockets of removed ones. A socket that cannot
// be opened (address in use, privileged port) leaves that one address
// unserved: everything else is applied, and Sync returns an error naming
// every such address, so that the caller retries.
func (p *Proxier) Sync(ctx context.Context, desired dataplane.State) error {
	start := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.sync(ctx, desired)
	eps := 0
	for _, s := range p.services {
		eps += len(s.backends.Load().addrs)
	}
	p.metrics.ObserveSync(start, err, len(p.services), eps)
	if err != nil {
		p.log.Error("sync failed", "err", err)
	} else {
		p.log.Debug("synced", "services", len(p.services), "endpoints", eps, "changes", p.lastChanges, "duration", time.Since(start))
	}
	return err
}

func (p *Proxier) sync(ctx context.Context, desired dataplane.State) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := desired.Validate(); err != nil {
		return err
	}
	// Which socket serves which service port.
	want := map[listenKey]string{}
	claim := func(k listenKey, key string) error {
		if o, ok := want[k]; ok && o != key {
			a, b := o, key
			if b < a {
				a, b = b, a
			}
			return fmt.Errorf("service ports %q and %q: both claim %s/%s", a, b, k.addr, k.proto)
		}
		want[k] = key
		return nil
	}
	optional := map[listenKey]bool{}
	for key, sp := range desired {
		req, opt := p.addresses(sp)
		for _, k := range req {
			if err := claim(k, key); err != nil {
				return err
			}
		}
		for _, k := range opt {
			if err := claim(k, key); err != nil {
				return err
			}
			optional[k] = true
		}
	}

	// Phase 1: open every missing socket. One that cannot be opened is
	// left out (and reported) rather than holding back every other change.
	opened := map[listenKey]listener{}
	var failed []error
	for k, key := range want {
		if _, ok := p.listeners[k]; ok {
			continue
		}
		l, err := p.listen(k)
		if err != nil {
			delete(want, k)
			if optional[k] {
				p.log.Warn("external IP not served", "service", key, "address", k.addr, "protocol", k.proto, "err", err)
				continue
			}
			failed = append(failed, fmt.Errorf("service port %q: listen %s/%s: %w", key, k.addr, k.proto, err))
			continue
		}
		opened[k] = l
	}

	// Phase 2: new runtime state for new and changed service ports.
	changes := 0
	services := make(map[string]*service, len(desired))
	for key, sp := range desired {
		s := p.services[key]
		if s != nil && dataplane.Equal(s.sp, sp) {
			services[key] = s
			continue
		}
		ns := &service{key: key, sp: sp.Clone()}
		var prev *backends
		if s != nil {
			prev = s.backends.Load()
		}
		ns.backends.Store(newBackends(sp, prev))
		services[key] = ns
		changes++
	}
	// Phase 3: point every socket at its service port (an atomic pointer
	// store each), start the new ones, close the ones no longer wanted.
	for k, l := range p.listeners {
		key, ok := want[k]
		if !ok {
			l.close()
			delete(p.listeners, k)
			changes++
			continue
		}
		l.setService(services[key])
	}
	for k, l := range opened {
		l.setService(services[want[k]])
		p.listeners[k] = l
		changes++
	}
	for key, s := range p.services {
		if ns, ok := services[key]; !ok || ns != s {
			changes++
		}
	}
	p.services = services
	p.lastChanges = changes
	slices.SortFunc(failed, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(failed...)
}

func (p *Proxier) listen(k listenKey) (listener, error) {
	switch k.proto {
	case dataplane.ProtocolUDP:
		pc, err := net.ListenPacket("udp4", k.addr)
		if err != nil {
			return nil, err
		}
		return newUDPListener(p, pc.(*net.UDPConn)), nil
	default:
		ln, err := net.Listen("tcp4", k.addr)
		if err != nil {
			return nil, err
		}
		return newTCPListener(p, ln.(*net.TCPListener)), nil
	}
}

// Run serves until ctx is done, then closes every socket (the sockets do
// not outlive the process anyway). Sync may be called before or during Run.
func (p *Proxier) Run(ctx context.Context) error {
	<-ctx.Done()
	return p.Cleanup(context.WithoutCancel(ctx))
}

// Cleanup closes every socket and client connection.
func (p *Proxier) Cleanup(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, l := range p.listeners {
		l.close()
		delete(p.listeners, k)
	}
	p.services = map[string]*service{}
	p.metrics.RulesProgrammed.WithLabelValues("services").Set(0)
	p.metrics.RulesProgrammed.WithLabelValues("endpoints").Set(0)
	return ctx.Err()
}

var errNoEndpoints = errors.New("no ready endpoints")

func clientIP(addr net.Addr) netip.Addr {
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	case *net.UDPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}
