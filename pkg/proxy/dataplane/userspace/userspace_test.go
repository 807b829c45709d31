package userspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/coxswain/coxswain/pkg/proxy/dataplane"
)

// freePort returns a TCP and UDP port free on all addresses right now.
func freePort(t testing.TB) int32 {
	t.Helper()
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp4", "0.0.0.0:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp4", "0.0.0.0:"+strconv.Itoa(port))
		l.Close()
		if err == nil {
			u.Close()
			return int32(port)
		}
	}
	t.Fatal("no free port")
	return 0
}

// backend is an HTTP server answering with its name.
func backend(t testing.TB, name string) dataplane.Endpoint {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, name)
	}))
	t.Cleanup(srv.Close)
	a := srv.Listener.Addr().(*net.TCPAddr)
	return dataplane.Endpoint{IP: a.IP.String(), Port: int32(a.Port), Ready: true}
}

// udpBackend answers every datagram with its name.
func udpBackend(t testing.TB, name string) dataplane.Endpoint {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
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
			pc.WriteTo([]byte(name), from)
		}
	}()
	t.Cleanup(func() { pc.Close(); wg.Wait() })
	a := pc.LocalAddr().(*net.UDPAddr)
	return dataplane.Endpoint{IP: a.IP.String(), Port: int32(a.Port), Ready: true}
}

func newProxier(t testing.TB, cfg Config) *Proxier {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Cleanup(context.Background()) })
	return p
}

func sp(name string, proto dataplane.Protocol, clusterIP string, port int32, eps ...dataplane.Endpoint) *dataplane.ServicePort {
	return &dataplane.ServicePort{Namespace: "default", Name: name, PortName: "p", Protocol: proto,
		ClusterIP: clusterIP, Port: port, Endpoints: eps}
}

func state(sps ...*dataplane.ServicePort) dataplane.State {
	s := dataplane.State{}
	for _, x := range sps {
		s[dataplane.Key(x)] = x
	}
	return s
}

func mustSync(t testing.TB, p *Proxier, s dataplane.State) {
	t.Helper()
	if err := p.Sync(context.Background(), s); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

func counts(t *testing.T, url string, n int) map[string]int {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	out := map[string]int{}
	for i := 0; i < n; i++ {
		resp, err := c.Get(url)
		if err != nil {
			t.Fatalf("request %d to %s: %v", i, url, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[string(b)]++
	}
	return out
}

func udpAsk(conn net.Conn) (string, error) {
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("who")); err != nil {
		return "", err
	}
	buf := make([]byte, 64)
	n, err := conn.Read(buf)
	return string(buf[:n]), err
}

func TestTCP(t *testing.T) {
	a, b := backend(t, "a"), backend(t, "b")
	port, nodePort := freePort(t), freePort(t)
	reg := prometheus.NewRegistry()
	p := newProxier(t, Config{Registerer: reg})
	web := sp("web", dataplane.ProtocolTCP, "127.20.0.1", port, a, b)
	web.NodePort = nodePort
	sticky := sp("sticky", dataplane.ProtocolTCP, "127.20.0.2", port, a, b)
	sticky.SessionAffinityClientIP = true
	empty := sp("empty", dataplane.ProtocolTCP, "127.20.0.3", port)
	all := state(web, sticky, empty)
	mustSync(t, p, all)
	url := fmt.Sprintf("http://127.20.0.1:%d/", port)

	t.Run("SpreadsOverEndpoints", func(t *testing.T) {
		got := counts(t, url, 200)
		if got["a"] < 40 || got["b"] < 40 || got["a"]+got["b"] != 200 {
			t.Fatalf("answers %v: want 200 spread over a and b", got)
		}
	})
	t.Run("NodePort", func(t *testing.T) {
		got := counts(t, fmt.Sprintf("http://127.0.0.1:%d/", nodePort), 50)
		if got["a"]+got["b"] != 50 || got["a"] == 0 || got["b"] == 0 {
			t.Fatalf("nodeport answers %v: want 50 spread over a and b", got)
		}
	})
	t.Run("ClientIPAffinity", func(t *testing.T) {
		got := counts(t, fmt.Sprintf("http://127.20.0.2:%d/", port), 50)
		if len(got) != 1 {
			t.Fatalf("answers %v: want all from one endpoint", got)
		}
	})
	t.Run("NoEndpointsResets", func(t *testing.T) {
		c, err := net.Dial("tcp4", fmt.Sprintf("127.20.0.3:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read(make([]byte, 1))
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("read from service without endpoints: %v, want reset", err)
		}
	})
	t.Run("HalfClose", func(t *testing.T) {
		// The endpoint answers only after the client has finished
		// sending: the proxy must pass the client's FIN on.
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					n, _ := io.Copy(io.Discard, c)
					fmt.Fprintf(c, "got %d bytes", n)
				}()
			}
		}()
		a := ln.Addr().(*net.TCPAddr)
		hc := sp("halfclose", dataplane.ProtocolTCP, "127.20.0.4", port, dataplane.Endpoint{IP: "127.0.0.1", Port: int32(a.Port), Ready: true})
		mustSync(t, p, state(web, sticky, empty, hc))
		defer mustSync(t, p, all)
		c, err := net.Dial("tcp4", fmt.Sprintf("127.20.0.4:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		payload := strings.Repeat("x", 100000)
		if _, err := io.WriteString(c, payload); err != nil {
			t.Fatal(err)
		}
		c.(*net.TCPConn).CloseWrite()
		resp, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		if string(resp) != "got 100000 bytes" {
			t.Fatalf("response %q, want %q", resp, "got 100000 bytes")
		}
	})
	t.Run("UnchangedSyncTouchesNothing", func(t *testing.T) {
		l := p.listeners[listenKey{dataplane.ProtocolTCP, fmt.Sprintf("127.20.0.1:%d", port)}]
		again := dataplane.State{}
		for k, v := range all {
			c := v.Clone()
			for i, j := 0, len(c.Endpoints)-1; i < j; i, j = i+1, j-1 {
				c.Endpoints[i], c.Endpoints[j] = c.Endpoints[j], c.Endpoints[i]
			}
			again[k] = c
		}
		mustSync(t, p, again)
		if p.lastChanges != 0 {
			t.Fatalf("identical Sync made %d changes", p.lastChanges)
		}
		if p.listeners[listenKey{dataplane.ProtocolTCP, fmt.Sprintf("127.20.0.1:%d", port)}] != l {
			t.Fatal("identical Sync replaced a listener")
		}
	})
	t.Run("EndpointRemovedAtOnce", func(t *testing.T) {
		onlyA := web.Clone()
		onlyA.Endpoints = []dataplane.Endpoint{a, {IP: b.IP, Port: b.Port, Ready: false}}
		mustSync(t, p, state(onlyA, sticky, empty))
		if got := counts(t, url, 50); got["a"] != 50 {
			t.Fatalf("after removing b: answers %v, want 50 from a", got)
		}
		mustSync(t, p, all)
	})
	t.Run("BusyAddressDoesNotHoldBackTheRest", func(t *testing.T) {
		busy, err := net.Listen("tcp4", "127.20.0.9:0")
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		bp := int32(busy.Addr().(*net.TCPAddr).Port)
		clash := sp("clash", dataplane.ProtocolTCP, "127.20.0.9", bp, a)
		moved := web.Clone()
		moved.Endpoints = []dataplane.Endpoint{b}
		err = p.Sync(context.Background(), state(moved, sticky, empty, clash))
		if err == nil || !strings.Contains(err.Error(), "default/clash:p/TCP") {
			t.Fatalf("Sync with a busy address = %v, want an error naming the service", err)
		}
		if got := counts(t, url, 30); got["b"] != 30 {
			t.Fatalf("after a Sync with a busy address: answers %v, want web's new endpoint b only", got)
		}
		mustSync(t, p, all)
	})
	t.Run("Metrics", func(t *testing.T) {
		if v := testutil.ToFloat64(p.metrics.RulesProgrammed.WithLabelValues("services")); v != 3 {
			t.Errorf("services = %v, want 3", v)
		}
		if v := testutil.ToFloat64(p.metrics.RulesProgrammed.WithLabelValues("endpoints")); v != 4 {
			t.Errorf("endpoints = %v, want 4", v)
		}
		if n, err := testutil.GatherAndCount(reg, "kubeproxy_sync_proxy_rules_duration_seconds"); err != nil || n != 1 {
			t.Errorf("duration histogram: %d, %v", n, err)
		}
	})
	t.Run("RemovedServiceStopsListening", func(t *testing.T) {
		mustSync(t, p, state(sticky))
		for _, addr := range []string{fmt.Sprintf("127.20.0.1:%d", port), fmt.Sprintf("127.0.0.1:%d", nodePort)} {
			c, err := net.Dial("tcp4", addr)
			if err == nil {
				c.Close()
				t.Fatalf("%s still accepts after its service was removed", addr)
			}
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("dial %s: %v, want connection refused", addr, err)
			}
		}
		mustSync(t, p, dataplane.State{})
		if len(p.listeners) != 0 {
			t.Fatalf("%d listeners left after syncing an empty state", len(p.listeners))
		}
	})
}

func TestUDP(t *testing.T) {
	a, b := udpBackend(t, "a"), udpBackend(t, "b")
	port := freePort(t)
	p := newProxier(t, Config{UDPIdleTimeout: 300 * time.Millisecond})
	dns := sp("dns", dataplane.ProtocolUDP, "127.20.1.1", port, a, b)
	mustSync(t, p, state(dns))
	addr := fmt.Sprintf("127.20.1.1:%d", port)
	l := p.listeners[listenKey{dataplane.ProtocolUDP, addr}].(*udpListener)

	t.Run("SpreadsOverEndpoints", func(t *testing.T) {
		got := map[string]int{}
		for i := 0; i < 100; i++ {
			c, err := net.Dial("udp4", addr)
			if err != nil {
				t.Fatal(err)
			}
			ans, err := udpAsk(c)
			c.Close()
			if err != nil {
				t.Fatal(err)
			}
			got[ans]++
		}
		if got["a"] < 20 || got["b"] < 20 {
			t.Fatalf("answers %v: want 100 spread over a and b", got)
		}
	})
	t.Run("SessionSticksThenIdlesOut", func(t *testing.T) {
		c, err := net.Dial("udp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		first, err := udpAsk(c)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 20; i++ {
			if ans, err := udpAsk(c); err != nil || ans != first {
				t.Fatalf("datagram %d of one session answered %q, %v; want %q", i, ans, err, first)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for l.sessionCount() != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%d sessions still open 10s after a 300ms idle timeout", l.sessionCount())
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	t.Run("RemovedEndpointEndsSession", func(t *testing.T) {
		c, err := net.Dial("udp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		first, err := udpAsk(c)
		if err != nil {
			t.Fatal(err)
		}
		keep := map[string]dataplane.Endpoint{"a": a, "b": b}
		other := "a"
		if first == "a" {
			other = "b"
		}
		only := dns.Clone()
		only.Endpoints = []dataplane.Endpoint{keep[other]}
		mustSync(t, p, state(only))
		if ans, err := udpAsk(c); err != nil || ans != other {
			t.Fatalf("same client after removing %s answered %q, %v; want %q", first, ans, err, other)
		}
		mustSync(t, p, state(dns))
	})
}

func TestSyncValidation(t *testing.T) {
	p := newProxier(t, Config{})
	port := freePort(t)
	x := sp("x", dataplane.ProtocolTCP, "127.20.2.1", port)
	y := sp("y", dataplane.ProtocolTCP, "127.20.2.1", port)
	for _, tc := range []struct {
		name string
		s    dataplane.State
		want string
	}{
		{"same address", state(x, y), "both claim 127.20.2.1"},
		{"bad clusterIP", state(sp("z", dataplane.ProtocolTCP, "not-an-ip", port)), "clusterIP"},
		{"bad port", state(sp("z", dataplane.ProtocolTCP, "127.20.2.2", 0)), "port 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := p.Sync(context.Background(), tc.s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Sync = %v, want error containing %q", err, tc.want)
			}
			if len(p.listeners) != 0 {
				t.Fatalf("invalid Sync opened %d listeners", len(p.listeners))
			}
		})
	}
	if _, err := New(Config{NodePortAddress: "::1"}); err == nil {
		t.Error("New accepted an IPv6 NodePortAddress")
	}
}

func TestRunClosesOnCancel(t *testing.T) {
	a := backend(t, "a")
	port := freePort(t)
	p := newProxier(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	mustSync(t, p, state(sp("run", dataplane.ProtocolTCP, "127.20.4.1", port, a)))
	addr := fmt.Sprintf("127.20.4.1:%d", port)
	if got := counts(t, "http://"+addr+"/", 3); got["a"] != 3 {
		t.Fatalf("answers %v, want 3 from a", got)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return 10s after cancel")
	}
	if c, err := net.Dial("tcp4", addr); err == nil {
		c.Close()
		t.Fatal("still listening after Run returned")
	}
}

// An address that cannot be bound leaves only that address unserved; the
// rest of the state is applied, and a later Sync picks it up once it is
// free.
func TestSyncAppliesWhatItCan(t *testing.T) {
	p := newProxier(t, Config{})
	port := freePort(t)
	blocker, err := net.Listen("tcp4", net.JoinHostPort("127.20.3.1", strconv.Itoa(int(port))))
	if err != nil {
		t.Fatal(err)
	}
	good := sp("good", dataplane.ProtocolTCP, "127.20.3.2", port, backend(t, "b1"))
	blocked := sp("blocked", dataplane.ProtocolTCP, "127.20.3.1", port, backend(t, "b2"))
	err = p.Sync(context.Background(), state(good, blocked))
	if err == nil || !strings.Contains(err.Error(), "127.20.3.1") || !strings.Contains(err.Error(), `"default/blocked:p/TCP"`) {
		t.Fatalf("Sync = %v, want an error naming the blocked address and service", err)
	}
	if got := counts(t, fmt.Sprintf("http://127.20.3.2:%d/", port), 3); got["b1"] != 3 {
		t.Fatalf("good service answered %v, want b1", got)
	}
	blocker.Close()
	if err := p.Sync(context.Background(), state(good, blocked)); err != nil {
		t.Fatalf("Sync once the address is free = %v", err)
	}
	if got := counts(t, fmt.Sprintf("http://127.20.3.1:%d/", port), 3); got["b2"] != 3 {
		t.Fatalf("previously blocked service answered %v, want b2", got)
	}
}
