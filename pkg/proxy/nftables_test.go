package proxy

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	gnft "github.com/google/nftables"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vishvananda/netns"

	"github.com/coxswain/coxswain/pkg/proxy/netnstest"
	"github.com/coxswain/coxswain/pkg/testutil"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// listTable reads back the table in ns: its chains and the element count
// of each of its sets. It fails when the table changes while being read.
func listTable(ns *netnstest.NS, table string) ([]string, map[string]int, error) {
	h, err := netns.GetFromPath(ns.Path)
	if err != nil {
		return nil, nil, err
	}
	defer h.Close()
	c, err := gnft.New(gnft.WithNetNSFd(int(h)))
	if err != nil {
		return nil, nil, err
	}
	all, err := c.ListChainsOfTableFamily(gnft.TableFamilyIPv4)
	if err != nil {
		return nil, nil, fmt.Errorf("list chains: %w", err)
	}
	var chains []string
	for _, ch := range all {
		if ch.Table.Name == table {
			chains = append(chains, ch.Name)
		}
	}
	sets, err := c.GetSets(&gnft.Table{Name: table, Family: gnft.TableFamilyIPv4})
	if err != nil {
		return nil, nil, fmt.Errorf("list sets: %w", err)
	}
	out := map[string]int{}
	for _, s := range sets {
		elems, err := c.GetSetElements(s)
		if err != nil {
			return nil, nil, fmt.Errorf("list elements of %s: %w", s.Name, err)
		}
		out[s.Name] = len(elems)
	}
	return chains, out, nil
}

// TestNFTables runs the proxy with its nftables data plane in a "node"
// network namespace, pods in their own namespaces behind veths, and a
// client outside the node:
//
//	client 10.200.1.2 --- 10.200.1.1 node 10.244.N.1 --- 10.244.N.2 podN (N = 1..3)
func TestNFTables(t *testing.T) {
	netnstest.Require(t)
	const table = "cxproxytest"
	client, node := netnstest.New(t, "pc"), netnstest.New(t, "pn")
	netnstest.Link(t, node, "n0", "10.200.1.1/24", client, "c0", "10.200.1.2/24")
	client.DefaultRoute(t, "10.200.1.1")
	node.DefaultRoute(t, "10.200.1.2") // locally originated ClusterIP traffic needs a route before DNAT
	var pods [3]string
	for i := range pods {
		pod := netnstest.New(t, fmt.Sprintf("pp%d", i+1))
		pods[i] = fmt.Sprintf("10.244.%d.2", i+1)
		netnstest.Link(t, node, fmt.Sprintf("np%d", i+1), fmt.Sprintf("10.244.%d.1/24", i+1), pod, "eth0", pods[i]+"/24")
		pod.DefaultRoute(t, fmt.Sprintf("10.244.%d.1", i+1))
		pod.ServeHTTP(t, pods[i]+":8080", pods[i])
		pod.ServeUDP(t, pods[i]+":5353", pods[i])
	}

	a := testutil.StartAPIServer(t)
	reg := prometheus.NewRegistry()
	startProxy(t, Config{
		Client: a.Client, NodeName: "node1", Mode: ModeNFTables, Table: table, NetNSPath: node.Path,
		ClusterCIDR: "10.244.0.0/16", Registry: reg, Logger: testutil.Logger(),
	})
	ctx := testutil.Context(t)
	hc := client.HTTPClient()
	// quick polls while waiting for rules: a ClusterIP without rules is
	// routed away and only times out.
	quick := client.HTTPClient()
	quick.Timeout = time.Second
	webEps := &corev1.Endpoints{Subsets: []*corev1.EndpointSubset{subset(8080, "http", "TCP", pods[:])}}
	web := createService(t, a.Client, &corev1.Service{
		Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: &corev1.ServiceSpec{Type: "NodePort", Selector: map[string]string{"app": "web"}, Ports: []*corev1.ServicePort{{
			Name: "http", Port: 80, Protocol: "TCP", TargetPort: &metav1.IntOrString{Value: &metav1.IntOrString_StrVal{StrVal: "http"}},
		}}},
	}, webEps)
	webURL := fmt.Sprintf("http://%s/", web.GetSpec().GetClusterIp())
	testutil.Eventually(t, 20*time.Second, func() bool {
		_, err := get(quick, webURL)
		return err == nil
	}, "web's ClusterIP answers from the client")

	t.Run("ClusterIPSpreadsOverReadyEndpoints", func(t *testing.T) {
		assertShares(t, counts(t, hc, webURL, 300), 300, 0.20, pods[:]...)
	})
	t.Run("NodePort", func(t *testing.T) {
		url := fmt.Sprintf("http://10.200.1.1:%d/", web.GetSpec().GetPorts()[0].GetNodePort())
		assertShares(t, counts(t, hc, url, 90), 90, 0.15, pods[:]...)
	})
	t.Run("ClusterIPFromTheNode", func(t *testing.T) {
		assertShares(t, counts(t, node.HTTPClient(), webURL, 90), 90, 0.15, pods[:]...)
	})
	t.Run("NotReadyEndpointStopsAtOnce", func(t *testing.T) {
		eps, err := a.Client.Endpoints().Get(ctx, "default", "web")
		if err != nil {
			t.Fatal(err)
		}
		eps.Subsets = []*corev1.EndpointSubset{subset(8080, "http", "TCP", pods[:2], pods[2])}
		if _, err := a.Client.Endpoints().Update(ctx, eps); err != nil {
			t.Fatal(err)
		}
		updated := time.Now()
		// Wait until 20 requests in a row miss pod3, then it must get none.
		streak := 0
		testutil.Eventually(t, 10*time.Second, func() bool {
			body, err := get(hc, webURL)
			if err != nil || body == pods[2] {
				streak = 0
			} else {
				streak++
			}
			return streak >= 20
		}, "pod3 still gets traffic after moving to notReadyAddresses")
		if d := time.Since(updated); d > 5*time.Second {
			t.Errorf("taking pod3 out took %v", d)
		}
		assertShares(t, counts(t, hc, webURL, 100), 100, 0.25, pods[0], pods[1])
	})
	t.Run("UDP", func(t *testing.T) {
		dns := createService(t, a.Client, &corev1.Service{
			Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "dns"},
			Spec: &corev1.ServiceSpec{Selector: map[string]string{"app": "dns"}, Ports: []*corev1.ServicePort{{
				Name: "dns", Port: 53, Protocol: "UDP",
			}}},
		}, &corev1.Endpoints{Subsets: []*corev1.EndpointSubset{subset(5353, "dns", "UDP", pods[:2])}})
		addr := net.JoinHostPort(dns.GetSpec().GetClusterIp(), "53")
		seen := map[string]int{}
		testutil.Eventually(t, 20*time.Second, func() bool {
			c, err := client.Dial(context.Background(), "udp4", addr)
			if err != nil {
				return false
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			if _, err := c.Write([]byte("who")); err != nil {
				return false
			}
			buf := make([]byte, 64)
			n, err := c.Read(buf)
			if err == nil {
				seen[string(buf[:n])]++
			}
			return len(seen) == 2
		}, "UDP answers from both endpoints through %s (so far %v)", addr, seen)
		for k := range seen {
			if k != pods[0] && k != pods[1] {
				t.Fatalf("UDP answer %q from no endpoint", k)
			}
		}
	})
	t.Run("ClientIPAffinity", func(t *testing.T) {
		sticky := createService(t, a.Client, &corev1.Service{
			Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "sticky"},
			Spec: &corev1.ServiceSpec{SessionAffinity: "ClientIP", Selector: map[string]string{"app": "web"},
				Ports: []*corev1.ServicePort{{Name: "http", Port: 81, Protocol: "TCP"}}},
		}, &corev1.Endpoints{Subsets: []*corev1.EndpointSubset{subset(8080, "http", "TCP", pods[:])}})
		url := fmt.Sprintf("http://%s:81/", sticky.GetSpec().GetClusterIp())
		testutil.Eventually(t, 20*time.Second, func() bool {
			_, err := get(quick, url)
			return err == nil
		}, "sticky answers")
		if got := counts(t, hc, url, 50); len(got) != 1 {
			t.Fatalf("answers %v: want all 50 from one endpoint", got)
		}
	})
	t.Run("DeletingTheServicesRemovesEveryRule", func(t *testing.T) {
		for _, name := range []string{"web", "dns", "sticky"} {
			if _, err := a.Client.Services().Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: name}); err != nil {
				t.Fatal(err)
			}
		}
		base := map[string]bool{"filter-prerouting": true, "filter-output": true, "service-endpoints-check": true,
			"reject-chain": true, "nat-prerouting": true, "nat-output": true, "nat-postrouting": true, "services": true,
			"mark-for-masquerade": true, "masquerading": true}
		var chains []string
		var sets map[string]int
		testutil.Eventually(t, 10*time.Second, func() bool {
			var err error
			if chains, sets, err = listTable(node, table); err != nil {
				return false // changed while read: a sync is running
			}
			if len(chains) != len(base) {
				return false
			}
			for _, n := range sets {
				if n != 0 {
					return false
				}
			}
			return true
		}, "rules left after deleting every service: chains %v, sets %v", &chains, &sets)
		for _, c := range chains {
			if !base[c] {
				t.Errorf("chain %s left", c)
			}
		}
		for name := range sets {
			if strings.HasPrefix(name, "aff-") || strings.HasPrefix(name, "service-endpoints-") {
				t.Errorf("set %s left", name)
			}
		}
		dctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if c, err := client.Dial(dctx, "tcp4", web.GetSpec().GetClusterIp()+":80"); err == nil {
			c.Close()
			t.Error("web's ClusterIP still answers")
		}
	})
}
