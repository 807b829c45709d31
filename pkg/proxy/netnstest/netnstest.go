package netnstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Require skips the test unless it can create network namespaces.
func Require(tb testing.TB) {
	tb.Helper()
	if runtime.GOOS != "linux" {
		tb.Skip("needs Linux network namespaces")
	}
	if os.Geteuid() != 0 {
		tb.Skip("needs root (network namespaces, nf_tables)")
	}
	name := fmt.Sprintf("cxprobe%d", os.Getpid())
	if err := create(name); err != nil {
		tb.Skipf("cannot create a network namespace: %v", err)
	}
	_ = netns.DeleteNamed(name)
}

// Path is where a named network namespace is bound.
func Path(name string) string { return "/var/run/netns/" + name }

// create makes a named network namespace without moving the caller.
func create(name string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		h, err := netns.NewNamed(name)
		if err != nil {
			_ = netns.Set(orig)
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		h.Close()
		if err := netns.Set(orig); err != nil {
			errc <- err // the thread stays locked and dies
			return
		}
		runtime.UnlockOSThread()
		errc <- nil
	}()
	return <-errc
}

// Do runs fn on a locked OS thread switched into the network namespace at
// path.
func Do(path string, fn func() error) error {
	target, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", path, err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace %s: %w", path, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, err) // the thread stays locked and dies
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// NS is a network namespace created for a test, with lo up.
type NS struct {
	Name   string
	Path   string
	Handle *netlink.Handle
}

// New creates a namespace named cx<pid><name>, deleted when the test ends.
func New(tb testing.TB, name string) *NS {
	tb.Helper()
	name = fmt.Sprintf("cx%d%s", os.Getpid(), name)
	_ = netns.DeleteNamed(name)
	if err := create(name); err != nil {
		tb.Fatalf("create netns %s: %v", name, err)
	}
	ns, err := netns.GetFromName(name)
	if err != nil {
		tb.Fatalf("open netns %s: %v", name, err)
	}
	h, err := netlink.NewHandleAt(ns)
	ns.Close()
	if err != nil {
		tb.Fatalf("netlink handle in %s: %v", name, err)
	}
	n := &NS{Name: name, Path: Path(name), Handle: h}
	tb.Cleanup(func() {
		h.Close()
		if err := netns.DeleteNamed(name); err != nil {
			tb.Errorf("delete netns %s: %v", name, err)
		}
	})
	lo, err := h.LinkByName("lo")
	if err != nil {
		tb.Fatalf("%s: lo: %v", name, err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		tb.Fatalf("%s: lo up: %v", name, err)
	}
	return n
}

// Link creates a veth pair between a (interface aName, address aCIDR) and
// b (bName, bCIDR), both up.
func Link(tb testing.TB, a *NS, aName, aCIDR string, b *NS, bName, bCIDR string) {
	tb.Helper()
	bns, err := netns.GetFromPath(b.Path)
	if err != nil {
		tb.Fatal(err)
	}
	defer bns.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: aName}, PeerName: bName, PeerNamespace: netlink.NsFd(int(bns))}
	if err := a.Handle.LinkAdd(veth); err != nil {
		tb.Fatalf("veth %s/%s -- %s/%s: %v", a.Name, aName, b.Name, bName, err)
	}
	for _, side := range []struct {
		ns         *NS
		name, cidr string
	}{{a, aName, aCIDR}, {b, bName, bCIDR}} {
		l, err := side.ns.Handle.LinkByName(side.name)
		if err != nil {
			tb.Fatalf("%s/%s: %v", side.ns.Name, side.name, err)
		}
		addr, err := netlink.ParseAddr(side.cidr)
		if err != nil {
			tb.Fatal(err)
		}
		if err := side.ns.Handle.AddrAdd(l, addr); err != nil {
			tb.Fatalf("%s/%s addr %s: %v", side.ns.Name, side.name, side.cidr, err)
		}
		if err := side.ns.Handle.LinkSetUp(l); err != nil {
			tb.Fatalf("%s/%s up: %v", side.ns.Name, side.name, err)
		}
	}
}

// DefaultRoute adds a default route via gw.
func (n *NS) DefaultRoute(tb testing.TB, gw string) {
	tb.Helper()
	if err := n.Handle.RouteAdd(&netlink.Route{Gw: net.ParseIP(gw)}); err != nil {
		tb.Fatalf("%s: default route via %s: %v", n.Name, gw, err)
	}
}

// Listen opens a listener (net.Listener, or net.PacketConn for udp*)
// inside the namespace.
func (n *NS) Listen(tb testing.TB, network, addr string) any {
	tb.Helper()
	var l any
	err := Do(n.Path, func() error {
		var err error
		if strings.HasPrefix(network, "udp") {
			l, err = net.ListenPacket(network, addr)
		} else {
			l, err = net.Listen(network, addr)
		}
		return err
	})
	if err != nil {
		tb.Fatalf("%s: listen %s %s: %v", n.Name, network, addr, err)
	}
	return l
}

// ServeHTTP runs an HTTP server answering body at addr inside n until the
// test ends.
func (n *NS) ServeHTTP(tb testing.TB, addr, body string) {
	tb.Helper()
	ServeHTTP(tb, n.Listen(tb, "tcp4", addr).(net.Listener), body)
}

// ServeHTTP answers every request on ln with body until the test ends.
func ServeHTTP(tb testing.TB, ln net.Listener, body string) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, body)
	}), ReadHeaderTimeout: 10 * time.Second}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = srv.Serve(ln) }()
	tb.Cleanup(func() { srv.Close(); wg.Wait() })
}

// ServeUDP answers every datagram at addr inside n with body.
func (n *NS) ServeUDP(tb testing.TB, addr, body string) {
	tb.Helper()
	ServeUDP(tb, n.Listen(tb, "udp4", addr).(net.PacketConn), body)
}

// ServeUDP answers every datagram on pc with body until the test ends.
func ServeUDP(tb testing.TB, pc net.PacketConn, body string) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 2048)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo([]byte(body), from)
		}
	}()
	tb.Cleanup(func() { pc.Close(); wg.Wait() })
}

// Dial connects from inside n.
func (n *NS) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := Do(n.Path, func() error {
		var err error
		d := net.Dialer{Timeout: 5 * time.Second}
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// HTTPClient returns a client whose connections are made from inside n, one
// connection per request.
func (n *NS) HTTPClient() *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext:       n.Dial,
		},
	}
}
