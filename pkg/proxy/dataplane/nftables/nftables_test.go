package nftables

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	gnft "github.com/google/nftables"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/vishvananda/netns"

	"github.com/coxswain/coxswain/pkg/proxy/dataplane"
	"github.com/coxswain/coxswain/pkg/proxy/netnstest"
)

// topology:
//
//	client 10.200.1.2 --- 10.200.1.1 node 10.244.1.1 --- 10.244.1.2 pod1
//	                                      10.244.2.1 --- 10.244.2.2 pod2
const (
	clientIP = "10.200.1.2"
	nodeIP   = "10.200.1.1"
	pod1IP   = "10.244.1.2"
	pod2IP   = "10.244.2.2"
	extIP    = "10.201.0.100"
)

type testbed struct {
	client, node, pod1, pod2 *netnstest.NS
	p                        *Proxier
	reg                      *prometheus.Registry
}

func newTestbed(t *testing.T) *testbed {
	t.Helper()
	netnstest.Require(t)
	tb := &testbed{
		client: netnstest.New(t, "c"),
		node:   netnstest.New(t, "n"),
		pod1:   netnstest.New(t, "p1"),
		pod2:   netnstest.New(t, "p2"),
	}
	netnstest.Link(t, tb.node, "n0", nodeIP+"/24", tb.client, "c0", clientIP+"/24")
	netnstest.Link(t, tb.node, "np1", "10.244.1.1/24", tb.pod1, "eth0", pod1IP+"/24")
	netnstest.Link(t, tb.node, "np2", "10.244.2.1/24", tb.pod2, "eth0", pod2IP+"/24")
	tb.client.DefaultRoute(t, nodeIP)
	// Like a real node, the node has a default route; locally originated
	// ClusterIP traffic needs one to pass the output route lookup before
	// it is DNATed.
	tb.node.DefaultRoute(t, clientIP)
	tb.pod1.DefaultRoute(t, "10.244.1.1")
	tb.pod2.DefaultRoute(t, "10.244.2.1")
	for _, pod := range []struct {
		ns   *netnstest.NS
		ip   string
		name string
	}{{tb.pod1, pod1IP, "pod1"}, {tb.pod2, pod2IP, "pod2"}} {
		pod.ns.ServeHTTP(t, pod.ip+":8080", pod.name)
		pod.ns.ServeUDP(t, pod.ip+":5353", pod.name)
	}
	tb.reg = prometheus.NewRegistry()
	p, err := New(Config{
		ClusterCIDR:        "10.244.0.0/16",
		Registerer:         tb.reg,
		LocalhostNodePorts: true,
		NetNSPath:          tb.node.Path,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Cleanup(context.Background()); err != nil {
			t.Errorf("Cleanup: %v", err)
		}
		p.Close()
	})
	tb.p = p
	return tb
}

func svc(name string, proto dataplane.Protocol, clusterIP string, port, nodePort int32, eps ...dataplane.Endpoint) *dataplane.ServicePort {
	return &dataplane.ServicePort{
		Namespace: "default", Name: name, PortName: "p", Protocol: proto,
		ClusterIP: clusterIP, Port: port, NodePort: nodePort, Endpoints: eps,
	}
}

func ep(ip string, port int32) dataplane.Endpoint {
	return dataplane.Endpoint{IP: ip, Port: port, Ready: true, NodeName: "n"}
}

func state(sps ...*dataplane.ServicePort) dataplane.State {
	s := dataplane.State{}
	for _, sp := range sps {
		s[dataplane.Key(sp)] = sp
	}
	return s
}

// httpCounts sends n requests from ns to url and counts the answers.
func httpCounts(t *testing.T, ns *netnstest.NS, url string, n int) map[string]int {
	t.Helper()
	c := ns.HTTPClient()
	counts := map[string]int{}
	for i := 0; i < n; i++ {
		resp, err := c.Get(url)
		if err != nil {
			t.Fatalf("request %d to %s: %v", i, url, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("request %d to %s: read: %v", i, url, err)
		}
		counts[string(b)]++
	}
	return counts
}

// udpAsk sends one datagram from conn and returns the answer.
func udpAsk(conn net.Conn) (string, error) {
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return "", err
	}
	if _, err := conn.Write([]byte("who")); err != nil {
		return "", err
	}
	buf := make([]byte, 64)
	n, err := conn.Read(buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

func udpCounts(t *testing.T, ns *netnstest.NS, addr string, n int) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for i := 0; i < n; i++ {
		conn, err := ns.Dial(context.Background(), "udp4", addr)
		if err != nil {
			t.Fatalf("dial udp %s: %v", addr, err)
		}
		got, err := udpAsk(conn)
		conn.Close()
		if err != nil {
			t.Fatalf("udp request %d to %s: %v", i, addr, err)
		}
		counts[got]++
	}
	return counts
}

func mustSync(t *testing.T, p *Proxier, s dataplane.State) {
	t.Helper()
	if err := p.Sync(context.Background(), s); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

// assertSpread checks that n answers came from exactly the wanted backends,
// each with at least half its fair share.
func assertSpread(t *testing.T, counts map[string]int, n int, want ...string) {
	t.Helper()
	total := 0
	for _, c := range counts {
		total += c
	}
	if total != n || len(counts) != len(want) {
		t.Fatalf("answers %v: want %d answers from exactly %v", counts, n, want)
	}
	for _, w := range want {
		if counts[w] < n/(2*len(want)) {
			t.Fatalf("answers %v: %s got too few of %d", counts, w, n)
		}
	}
}

func TestDataPlane(t *testing.T) {
	tb := newTestbed(t)
	p := tb.p
	web := svc("web", dataplane.ProtocolTCP, "10.96.0.10", 80, 30080, ep(pod1IP, 8080), ep(pod2IP, 8080))
	web.ExternalIPs = []string{extIP}
	dns := svc("dns", dataplane.ProtocolUDP, "10.96.0.53", 53, 0, ep(pod1IP, 5353), ep(pod2IP, 5353))
	sticky := svc("sticky", dataplane.ProtocolTCP, "10.96.0.11", 80, 0, ep(pod1IP, 8080), ep(pod2IP, 8080))
	sticky.SessionAffinityClientIP = true
	sticky.AffinityTimeoutSeconds = 600
	empty := svc("empty", dataplane.ProtocolTCP, "10.96.0.12", 80, 30081)
	emptyUDP := svc("empty", dataplane.ProtocolUDP, "10.96.0.12", 53, 0)
	full := state(web, dns, sticky, empty, emptyUDP)
	mustSync(t, p, full)

	t.Run("ClusterIPSpreadsOverBothEndpoints", func(t *testing.T) {
		assertSpread(t, httpCounts(t, tb.client, "http://10.96.0.10/", 200), 200, "pod1", "pod2")
	})
	t.Run("NodePortOnNodeIP", func(t *testing.T) {
		assertSpread(t, httpCounts(t, tb.client, "http://"+nodeIP+":30080/", 100), 100, "pod1", "pod2")
	})
	t.Run("ExternalIP", func(t *testing.T) {
		assertSpread(t, httpCounts(t, tb.client, "http://"+extIP+"/", 100), 100, "pod1", "pod2")
	})
	t.Run("LocalhostNodePortFromNode", func(t *testing.T) {
		assertSpread(t, httpCounts(t, tb.node, "http://127.0.0.1:30080/", 100), 100, "pod1", "pod2")
	})
	t.Run("ClusterIPFromNodeItself", func(t *testing.T) {
		assertSpread(t, httpCounts(t, tb.node, "http://10.96.0.10/", 100), 100, "pod1", "pod2")
	})
	t.Run("UDPClusterIP", func(t *testing.T) {
		assertSpread(t, udpCounts(t, tb.client, "10.96.0.53:53", 100), 100, "pod1", "pod2")
	})
	t.Run("ClientIPAffinityKeepsOneEndpoint", func(t *testing.T) {
		counts := httpCounts(t, tb.client, "http://10.96.0.11/", 50)
		if len(counts) != 1 {
			t.Fatalf("answers %v: want all 50 from one endpoint", counts)
		}
		// The pods do not share the client's affinity entry: from the
		// node (another source address) the choice is independent, but
		// again sticky.
		counts = httpCounts(t, tb.node, "http://10.96.0.11/", 30)
		if len(counts) != 1 {
			t.Fatalf("answers from node %v: want all 30 from one endpoint", counts)
		}
	})
	t.Run("NoEndpointsRejects", func(t *testing.T) {
		for _, addr := range []string{"10.96.0.12:80", nodeIP + ":30081"} {
			start := time.Now()
			c, err := tb.client.Dial(context.Background(), "tcp4", addr)
			if err == nil {
				c.Close()
				t.Fatalf("dial %s: connected to a service without endpoints", addr)
			}
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("dial %s: %v, want connection refused (TCP reset)", addr, err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("dial %s: refused only after %v", addr, d)
			}
		}
		conn, err := tb.client.Dial(context.Background(), "udp4", "10.96.0.12:53")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := udpAsk(conn); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("udp to service without endpoints: %v, want connection refused (ICMP port unreachable)", err)
		}
	})
	t.Run("HairpinToOwnService", func(t *testing.T) {
		only1 := svc("only1", dataplane.ProtocolTCP, "10.96.0.13", 80, 0, ep(pod1IP, 8080))
		s := state(web, dns, sticky, empty, emptyUDP, only1)
		mustSync(t, p, s)
		counts := httpCounts(t, tb.pod1, "http://10.96.0.13/", 10)
		if counts["pod1"] != 10 {
			t.Fatalf("hairpin answers %v: want 10 from pod1", counts)
		}
		mustSync(t, p, full)
	})
	t.Run("SecondSyncSendsNothing", func(t *testing.T) {
		gen, err := p.Generation()
		if err != nil {
			t.Fatal(err)
		}
		// A deep copy with endpoints reordered and a not-ready one added
		// programs the same rules.
		again := dataplane.State{}
		for k, sp := range full {
			c := sp.Clone()
			for i, j := 0, len(c.Endpoints)-1; i < j; i, j = i+1, j-1 {
				c.Endpoints[i], c.Endpoints[j] = c.Endpoints[j], c.Endpoints[i]
			}
			c.Endpoints = append(c.Endpoints, dataplane.Endpoint{IP: "10.244.9.9", Port: 1, Ready: false})
			again[k] = c
		}
		mustSync(t, p, again)
		if p.lastBatch != 0 {
			t.Fatalf("second Sync sent %d messages, want 0", p.lastBatch)
		}
		gen2, err := p.Generation()
		if err != nil {
			t.Fatal(err)
		}
		if gen2 != gen {
			t.Fatalf("ruleset generation moved from %d to %d on an identical Sync", gen, gen2)
		}
	})
	t.Run("RemovingAnEndpointTakesItOutAtOnce", func(t *testing.T) {
		// A UDP flow pinned (by conntrack) to pod2 must move to pod1 as
		// soon as pod2 is removed: same client socket, same 5-tuple.
		var conn net.Conn
		for i := 0; i < 50 && conn == nil; i++ {
			c, err := tb.client.Dial(context.Background(), "udp4", "10.96.0.53:53")
			if err != nil {
				t.Fatal(err)
			}
			got, err := udpAsk(c)
			if err != nil {
				t.Fatal(err)
			}
			if got == "pod2" {
				conn = c
			} else {
				c.Close()
			}
		}
		if conn == nil {
			t.Fatal("no UDP flow landed on pod2 in 50 tries")
		}
		defer conn.Close()
		if got, err := udpAsk(conn); err != nil || got != "pod2" {
			t.Fatalf("pinned flow answered %q, %v; want pod2", got, err)
		}

		web1 := web.Clone()
		web1.Endpoints = []dataplane.Endpoint{ep(pod1IP, 8080)}
		dns1 := dns.Clone()
		dns1.Endpoints = []dataplane.Endpoint{ep(pod1IP, 5353), {IP: pod2IP, Port: 5353, Ready: false}}
		mustSync(t, p, state(web1, dns1, sticky, empty, emptyUDP))
		if counts := httpCounts(t, tb.client, "http://10.96.0.10/", 40); counts["pod1"] != 40 {
			t.Fatalf("after removing pod2: answers %v, want all 40 from pod1", counts)
		}
		if counts := httpCounts(t, tb.client, "http://"+nodeIP+":30080/", 20); counts["pod1"] != 20 {
			t.Fatalf("after removing pod2: nodeport answers %v, want all 20 from pod1", counts)
		}
		if got, err := udpAsk(conn); err != nil || got != "pod1" {
			t.Fatalf("pinned UDP flow after removing pod2 answered %q, %v; want pod1", got, err)
		}
		// And back.
		mustSync(t, p, full)
		assertSpread(t, httpCounts(t, tb.client, "http://10.96.0.10/", 100), 100, "pod1", "pod2")
	})
	t.Run("ReplacingAnEndpointRewritesNoRule", func(t *testing.T) {
		tb.pod2.ServeHTTP(t, pod2IP+":8081", "pod2-8081")
		web2 := web.Clone()
		web2.Endpoints = []dataplane.Endpoint{ep(pod1IP, 8080), ep(pod2IP, 8081)}
		mustSync(t, p, state(web2, dns, sticky, empty, emptyUDP))
		// One slot element deleted and added again with the new value;
		// nothing else (no rule, so no table re-validation).
		if p.lastBatch != 2 {
			t.Errorf("replacing one endpoint sent %d messages, want 2 (delete and add one element)", p.lastBatch)
		}
		assertSpread(t, httpCounts(t, tb.client, "http://10.96.0.10/", 100), 100, "pod1", "pod2-8081")
		mustSync(t, p, full)
		assertSpread(t, httpCounts(t, tb.client, "http://10.96.0.10/", 100), 100, "pod1", "pod2")
	})
	t.Run("EndpointMapsAreShardedAndRemovedWithTheirLastUser", func(t *testing.T) {
		s := maps.Clone(full)
		for i := 0; i < 2*endpointShardSize; i++ {
			sp := svc(fmt.Sprintf("many%d", i), dataplane.ProtocolTCP, fmt.Sprintf("10.96.1.%d", i+1), 80, 0, ep(pod1IP, 8080))
			s[dataplane.Key(sp)] = sp
		}
		mustSync(t, p, s)
		_, sets := listTable(t, tb.node)
		shards, elems := 0, 0
		for name, n := range sets {
			if strings.HasPrefix(name, mapServiceEndpoints) {
				shards++
				elems += n
			}
		}
		// web, dns, many0..63: 66 ports, 68 endpoints (sticky uses sets).
		if shards != 3 || elems != 68 {
			t.Errorf("%d service-endpoints maps with %d elements, want 3 with 68", shards, elems)
		}
		if counts := httpCounts(t, tb.client, fmt.Sprintf("http://10.96.1.%d/", 2*endpointShardSize), 5); counts["pod1"] != 5 {
			t.Errorf("last of the many services answered %v, want 5 from pod1", counts)
		}
		mustSync(t, p, full)
		_, sets = listTable(t, tb.node)
		shards = 0
		for name := range sets {
			if strings.HasPrefix(name, mapServiceEndpoints) {
				shards++
			}
		}
		if shards != 1 {
			t.Errorf("%d service-endpoints maps after removing the many services, want 1", shards)
		}
		assertSpread(t, httpCounts(t, tb.client, "http://10.96.0.10/", 50), 50, "pod1", "pod2")
	})
	t.Run("Metrics", func(t *testing.T) {
		if got := testutil.ToFloat64(p.metrics.RulesProgrammed.WithLabelValues("services")); got != 5 {
			t.Errorf("programmed services = %v, want 5", got)
		}
		if got := testutil.ToFloat64(p.metrics.RulesProgrammed.WithLabelValues("endpoints")); got != 6 {
			t.Errorf("programmed endpoints = %v, want 6", got)
		}
		n, err := testutil.GatherAndCount(tb.reg, "kubeproxy_sync_proxy_rules_duration_seconds", "kubeproxy_sync_proxy_rules_last_timestamp_seconds")
		if err != nil || n != 2 {
			t.Errorf("gathered %d sync metrics (%v), want 2", n, err)
		}
	})
	t.Run("RunRestoresAFlushedTable", func(t *testing.T) {
		c := nftConn(t, tb.node)
		c.DelTable(&gnft.Table{Name: DefaultTable, Family: gnft.TableFamilyIPv4})
		if err := c.Flush(); err != nil {
			t.Fatalf("delete table behind the data plane's back: %v", err)
		}
		if tableExists(t, tb.node) {
			t.Fatal("table still there after deleting it")
		}
		p.cfg.CheckInterval = 50 * time.Millisecond
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		deadline := time.Now().Add(10 * time.Second)
		for !tableExists(t, tb.node) {
			if time.Now().After(deadline) {
				t.Fatal("Run did not restore the table within 10s")
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run = %v", err)
		}
		assertSpread(t, httpCounts(t, tb.client, "http://10.96.0.10/", 50), 50, "pod1", "pod2")
	})
	t.Run("DeletingEverythingEmptiesTheTable", func(t *testing.T) {
		mustSync(t, p, dataplane.State{})
		chains, sets := listTable(t, tb.node)
		for _, c := range chains {
			if !baseChainNames[c] {
				t.Errorf("chain %s left after deleting every service", c)
			}
		}
		if len(chains) != len(baseChainNames) {
			t.Errorf("chains %v: want exactly the %d base chains", chains, len(baseChainNames))
		}
		for name, n := range sets {
			if n != 0 {
				t.Errorf("set %s has %d elements after deleting every service", name, n)
			}
			if strings.HasPrefix(name, "aff-") || strings.HasPrefix(name, mapServiceEndpoints) {
				t.Errorf("affinity set %s left after deleting every service", name)
			}
		}
		if _, err := tb.client.Dial(context.Background(), "tcp4", "10.96.0.10:80"); err == nil {
			t.Error("ClusterIP still answers after deleting every service")
		}
		if err := p.Cleanup(context.Background()); err != nil {
			t.Fatal(err)
		}
		if tableExists(t, tb.node) {
			t.Error("table still present after Cleanup")
		}
		// Cleanup is idempotent and Sync rebuilds from scratch after it.
		if err := p.Cleanup(context.Background()); err != nil {
			t.Fatalf("second Cleanup: %v", err)
		}
		mustSync(t, p, full)
		assertSpread(t, httpCounts(t, tb.client, "http://10.96.0.10/", 50), 50, "pod1", "pod2")
	})
}

var baseChainNames = map[string]bool{
	chainFilterPrerouting: true, chainFilterOutput: true, chainEndpointsCheck: true, chainReject: true,
	chainNATPrerouting: true, chainNATOutput: true, chainNATPostrouting: true, chainServices: true,
	chainMarkMasq: true, chainMasquerading: true,
}

func nftConn(t *testing.T, ns *netnstest.NS) *gnft.Conn {
	t.Helper()
	h, err := netns.GetFromPath(ns.Path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	c, err := gnft.New(gnft.WithNetNSFd(int(h)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func tableExists(t *testing.T, ns *netnstest.NS) bool {
	t.Helper()
	tables, err := nftConn(t, ns).ListTablesOfFamily(gnft.TableFamilyIPv4)
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	for _, tab := range tables {
		if tab.Name == DefaultTable {
			return true
		}
	}
	return false
}

// listTable returns the chain names and the element count of every set of
// the table, read back through github.com/google/nftables.
func listTable(t *testing.T, ns *netnstest.NS) ([]string, map[string]int) {
	t.Helper()
	c := nftConn(t, ns)
	tab := &gnft.Table{Name: DefaultTable, Family: gnft.TableFamilyIPv4}
	all, err := c.ListChainsOfTableFamily(gnft.TableFamilyIPv4)
	if err != nil {
		t.Fatalf("list chains: %v", err)
	}
	var chains []string
	for _, ch := range all {
		if ch.Table.Name == DefaultTable {
			chains = append(chains, ch.Name)
		}
	}
	sets, err := c.GetSets(tab)
	if err != nil {
		t.Fatalf("list sets: %v", err)
	}
	out := map[string]int{}
	for _, s := range sets {
		elems, err := c.GetSetElements(s)
		if err != nil {
			t.Fatalf("list elements of %s: %v", s.Name, err)
		}
		out[s.Name] = len(elems)
	}
	return chains, out
}

func TestSyncRejectsInvalidState(t *testing.T) {
	netnstest.Require(t)
	node := netnstest.New(t, "inv")
	p, err := New(Config{NetNSPath: node.Path})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	a := svc("a", dataplane.ProtocolTCP, "10.96.0.1", 80, 30000, ep("10.1.0.1", 80))
	b := svc("b", dataplane.ProtocolTCP, "10.96.0.1", 80, 0, ep("10.1.0.2", 80))
	c := svc("c", dataplane.ProtocolTCP, "10.96.0.2", 80, 30000, ep("10.1.0.2", 80))
	bad := svc("d", "SCTP", "10.96.0.3", 80, 0)
	for _, tc := range []struct {
		name string
		s    dataplane.State
		want string
	}{
		{"same clusterIP and port", state(a, b), "both claim 10.96.0.1:80/TCP"},
		{"same nodePort", state(a, c), "both claim nodePort 30000/TCP"},
		{"bad protocol", state(bad), "must be TCP or UDP"},
		{"key mismatch", dataplane.State{"x": a}, "does not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := p.Sync(context.Background(), tc.s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Sync = %v, want error containing %q", err, tc.want)
			}
		})
	}
	if tableExists(t, node) {
		t.Error("an invalid Sync programmed the table")
	}
}

// A sync only checks the changed service ports for conflicts: against each
// other and against what is already programmed.
func TestSyncConflictsWithProgrammedServices(t *testing.T) {
	netnstest.Require(t)
	node := netnstest.New(t, "conf")
	p, err := New(Config{NetNSPath: node.Path})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	a := svc("a", dataplane.ProtocolTCP, "10.96.0.1", 80, 30000, ep("10.1.0.1", 80))
	b := svc("b", dataplane.ProtocolTCP, "10.96.0.2", 80, 0, ep("10.1.0.2", 80))
	mustSync(t, p, state(a, b))

	bTakesA := b.Clone()
	bTakesA.ClusterIP = "10.96.0.1"
	bTakesNodePort := b.Clone()
	bTakesNodePort.NodePort = 30000
	// a and b swap their ClusterIPs in one sync: no conflict.
	aSwapped, bSwapped := a.Clone(), b.Clone()
	aSwapped.ClusterIP, bSwapped.ClusterIP = b.ClusterIP, a.ClusterIP
	// a is deleted and b takes its address in the same sync.
	for _, tc := range []struct {
		name string
		s    dataplane.State
		want string // "" = must succeed
	}{
		{"changed takes an unchanged one's clusterIP", state(a, bTakesA), "both claim 10.96.0.1:80/TCP"},
		{"changed takes an unchanged one's nodePort", state(a, bTakesNodePort), "both claim nodePort 30000/TCP"},
		{"swap", state(aSwapped, bSwapped), ""},
		{"swap back", state(a, b), ""},
		{"take over from a deleted one", state(bTakesA), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := p.Sync(context.Background(), tc.s)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Sync = %v, want success", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Sync = %v, want error containing %q", err, tc.want)
			}
		})
	}
	if err := p.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
}
