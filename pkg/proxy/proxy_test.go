package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/coxswain/coxswain/pkg/apiserver"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/proxy/netnstest"
	"github.com/coxswain/coxswain/pkg/testutil"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// listenSamePort opens one listener per IP, all on the same free port (an
// Endpoints subset has one port for all its addresses).
func listenSamePort(t *testing.T, network string, ips ...string) (int, []io.Closer) {
	t.Helper()
	open := func(ip string, port int) (io.Closer, int, error) {
		addr := net.JoinHostPort(ip, strconv.Itoa(port))
		if strings.HasPrefix(network, "udp") {
			pc, err := net.ListenPacket(network, addr)
			if err != nil {
				return nil, 0, err
			}
			return pc, pc.LocalAddr().(*net.UDPAddr).Port, nil
		}
		ln, err := net.Listen(network, addr)
		if err != nil {
			return nil, 0, err
		}
		return ln, ln.Addr().(*net.TCPAddr).Port, nil
	}
	for attempt := 0; attempt < 50; attempt++ {
		first, port, err := open(ips[0], 0)
		if err != nil {
			t.Fatalf("listen %s %s: %v", network, ips[0], err)
		}
		out := []io.Closer{first}
		for _, ip := range ips[1:] {
			c, _, err := open(ip, port)
			if err != nil {
				break
			}
			out = append(out, c)
		}
		if len(out) == len(ips) {
			return port, out
		}
		for _, c := range out {
			c.Close()
		}
	}
	t.Fatalf("no port free on all of %v", ips)
	return 0, nil
}

// backends runs an HTTP (tcp) or echo-name (udp) server on each IP, all on
// one port; each answers with its IP.
func backends(t *testing.T, network string, ips ...string) int32 {
	t.Helper()
	port, ls := listenSamePort(t, network, ips...)
	for i, l := range ls {
		if network == "udp4" {
			netnstest.ServeUDP(t, l.(net.PacketConn), ips[i])
		} else {
			netnstest.ServeHTTP(t, l.(net.Listener), ips[i])
		}
	}
	return int32(port)
}

func subset(port int32, portName, proto string, ready []string, notReady ...string) *corev1.EndpointSubset {
	ss := &corev1.EndpointSubset{Ports: []*corev1.EndpointPort{{Name: portName, Port: port, Protocol: proto}}}
	for _, ip := range ready {
		ss.Addresses = append(ss.Addresses, &corev1.EndpointAddress{Ip: ip})
	}
	for _, ip := range notReady {
		ss.NotReadyAddresses = append(ss.NotReadyAddresses, &corev1.EndpointAddress{Ip: ip})
	}
	return ss
}

// counts sends n requests (one connection each) and counts the answers.
func counts(t *testing.T, c *http.Client, url string, n int) map[string]int {
	t.Helper()
	out := map[string]int{}
	for i := 0; i < n; i++ {
		body, err := get(c, url)
		if err != nil {
			t.Fatalf("request %d to %s: %v", i, url, err)
		}
		out[body]++
	}
	return out
}

func get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func newHTTPClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
}

// assertShares checks that n answers came from exactly want, each with at
// least minShare of them.
func assertShares(t *testing.T, got map[string]int, n int, minShare float64, want ...string) {
	t.Helper()
	total := 0
	for _, c := range got {
		total += c
	}
	if total != n || len(got) != len(want) {
		t.Fatalf("answers %v: want %d from exactly %v", got, n, want)
	}
	for _, w := range want {
		if float64(got[w]) < minShare*float64(n) {
			t.Fatalf("answers %v: %s got fewer than %.0f%%", got, w, 100*minShare)
		}
	}
}

func histogram(t *testing.T, reg *prometheus.Registry, name string) *dto.Histogram {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetHistogram()
		}
	}
	t.Fatalf("metric %s not found", name)
	return nil
}

// startProxy runs a proxy until the test ends and waits for its first sync.
func startProxy(t *testing.T, cfg Config) *Proxy {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("proxy did not stop within 30s")
		}
	})
	select {
	case <-p.Synced():
	case err := <-done:
		t.Fatalf("proxy exited before its first sync: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no first sync within 30s")
	}
	return p
}

func createService(t *testing.T, c *client.Client, svc *corev1.Service, eps *corev1.Endpoints) *corev1.Service {
	t.Helper()
	ctx := testutil.Context(t)
	got, err := c.Services().Create(ctx, svc)
	if err != nil {
		t.Fatalf("create service %s: %v", svc.GetMetadata().GetName(), err)
	}
	if eps != nil {
		eps.Metadata = &metav1.ObjectMeta{Namespace: "default", Name: svc.GetMetadata().GetName()}
		if _, err := c.Endpoints().Create(ctx, eps); err != nil {
			t.Fatalf("create endpoints %s: %v", svc.GetMetadata().GetName(), err)
		}
	}
	return got
}

func TestUserspace(t *testing.T) {
	a := testutil.StartAPIServer(t, func(c *apiserver.Config) { c.ServiceClusterIPRange = "127.20.0.0/16" })
	reg := prometheus.NewRegistry()
	p := startProxy(t, Config{
		Client: a.Client, NodeName: "n1", Mode: ModeUserspace, NodePortAddress: "127.0.0.1",
		HTTPAddr: "127.0.0.1:0", Registry: reg, Logger: testutil.Logger(),
	})
	b := [3]string{"127.0.1.1", "127.0.1.2", "127.0.1.3"}
	webPort := backends(t, "tcp4", b[:]...)
	udpPort := backends(t, "udp4", b[0], b[1])
	ctx := testutil.Context(t)
	hc := newHTTPClient()

	// web: NodePort, named targetPort (the Endpoints carry the number).
	web := createService(t, a.Client, &corev1.Service{
		Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: &corev1.ServiceSpec{Type: "NodePort", Selector: map[string]string{"app": "web"}, Ports: []*corev1.ServicePort{{
			Name: "http", Port: 18080, Protocol: "TCP", TargetPort: &metav1.IntOrString{Value: &metav1.IntOrString_StrVal{StrVal: "http"}},
		}}},
	}, &corev1.Endpoints{Subsets: []*corev1.EndpointSubset{subset(webPort, "http", "TCP", b[:])}})
	webURL := fmt.Sprintf("http://%s:18080/", web.GetSpec().GetClusterIp())
	if !strings.HasPrefix(web.GetSpec().GetClusterIp(), "127.20.") {
		t.Fatalf("clusterIP %q not from 127.20.0.0/16", web.GetSpec().GetClusterIp())
	}

	waitAnswers := func(url string, want func(string) bool, what string) {
		t.Helper()
		testutil.Eventually(t, 20*time.Second, func() bool {
			body, err := get(hc, url)
			return err == nil && want(body)
		}, "%s", what)
	}
	waitAnswers(webURL, func(string) bool { return true }, "web's ClusterIP answers")

	t.Run("ClusterIPSpreadsOverReadyEndpoints", func(t *testing.T) {
		assertShares(t, counts(t, hc, webURL, 300), 300, 0.20, b[:]...)
	})
	t.Run("NodePort", func(t *testing.T) {
		np := web.GetSpec().GetPorts()[0].GetNodePort()
		if np == 0 {
			t.Fatal("no nodePort allocated")
		}
		assertShares(t, counts(t, hc, fmt.Sprintf("http://127.0.0.1:%d/", np), 90), 90, 0.15, b[:]...)
	})
	t.Run("NotReadyEndpointStopsAtOnce", func(t *testing.T) {
		eps, err := a.Client.Endpoints().Get(ctx, "default", "web")
		if err != nil {
			t.Fatal(err)
		}
		before := histogram(t, reg, "kubeproxy_network_programming_duration_seconds")
		eps.Subsets = []*corev1.EndpointSubset{subset(webPort, "http", "TCP", b[:2], b[2])}
		// The trigger time says the change happened 2s ago.
		eps.Metadata.Annotations = map[string]string{TriggerTimeAnnotation: time.Now().Add(-2 * time.Second).Format(time.RFC3339Nano)}
		updated := time.Now()
		if _, err := a.Client.Endpoints().Update(ctx, eps); err != nil {
			t.Fatal(err)
		}
		// "At once": within a few sync periods; then never again.
		testutil.Eventually(t, 10*time.Second, func() bool {
			after := histogram(t, reg, "kubeproxy_network_programming_duration_seconds")
			return after.GetSampleCount() > before.GetSampleCount()
		}, "the update was not programmed")
		if d := time.Since(updated); d > 5*time.Second {
			t.Errorf("programming the update took %v", d)
		}
		assertShares(t, counts(t, hc, webURL, 100), 100, 0.25, b[0], b[1])
		after := histogram(t, reg, "kubeproxy_network_programming_duration_seconds")
		if got := after.GetSampleSum() - before.GetSampleSum(); got < 2 {
			t.Errorf("network programming latency %.3fs: want it measured from the 2s-old trigger time", got)
		}
		// Back to ready.
		eps, err = a.Client.Endpoints().Get(ctx, "default", "web")
		if err != nil {
			t.Fatal(err)
		}
		eps.Subsets = []*corev1.EndpointSubset{subset(webPort, "http", "TCP", b[:])}
		if _, err := a.Client.Endpoints().Update(ctx, eps); err != nil {
			t.Fatal(err)
		}
		waitAnswers(webURL, func(s string) bool { return s == b[2] }, "the endpoint back to ready gets traffic again")
	})
	t.Run("UDP", func(t *testing.T) {
		dns := createService(t, a.Client, &corev1.Service{
			Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "dns"},
			Spec: &corev1.ServiceSpec{Selector: map[string]string{"app": "dns"}, Ports: []*corev1.ServicePort{{
				Name: "dns", Port: 15353, Protocol: "UDP",
			}}},
		}, &corev1.Endpoints{Subsets: []*corev1.EndpointSubset{subset(udpPort, "dns", "UDP", []string{b[0], b[1]})}})
		addr := net.JoinHostPort(dns.GetSpec().GetClusterIp(), "15353")
		seen := map[string]int{}
		testutil.Eventually(t, 20*time.Second, func() bool {
			got, err := udpAsk(addr)
			if err == nil {
				seen[got]++
			}
			return len(seen) == 2
		}, "UDP answers from both endpoints through %s (so far %v)", addr, seen)
		for k := range seen {
			if k != b[0] && k != b[1] {
				t.Fatalf("UDP answer %q from no endpoint", k)
			}
		}
	})
	t.Run("ClientIPAffinity", func(t *testing.T) {
		sticky := createService(t, a.Client, &corev1.Service{
			Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "sticky"},
			Spec: &corev1.ServiceSpec{SessionAffinity: "ClientIP", Selector: map[string]string{"app": "web"},
				Ports: []*corev1.ServicePort{{Name: "http", Port: 18081, Protocol: "TCP"}}},
		}, &corev1.Endpoints{Subsets: []*corev1.EndpointSubset{subset(webPort, "http", "TCP", b[:])}})
		url := fmt.Sprintf("http://%s:18081/", sticky.GetSpec().GetClusterIp())
		waitAnswers(url, func(string) bool { return true }, "sticky answers")
		got := counts(t, hc, url, 50)
		if len(got) != 1 {
			t.Fatalf("answers %v: want all 50 from one endpoint", got)
		}
	})
	t.Run("Metrics", func(t *testing.T) {
		resp, err := hc.Get("http://" + p.HTTPAddr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, m := range []string{
			"kubeproxy_sync_proxy_rules_duration_seconds_count", "kubeproxy_sync_proxy_rules_last_timestamp_seconds",
			"kubeproxy_network_programming_duration_seconds_count", `coxswain_proxy_rules_programmed{kind="services"} 3`,
			`coxswain_proxy_syncs_total{result="success"}`,
		} {
			if !strings.Contains(string(body), m) {
				t.Errorf("/metrics lacks %s", m)
			}
		}
		if body, err := get(hc, "http://"+p.HTTPAddr()+"/healthz"); err != nil || strings.TrimSpace(body) != "ok" {
			t.Errorf("/healthz = %q, %v", body, err)
		}
	})
	t.Run("DeletingTheServiceClosesItsListeners", func(t *testing.T) {
		np := web.GetSpec().GetPorts()[0].GetNodePort()
		if _, err := a.Client.Services().Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: "web"}); err != nil {
			t.Fatal(err)
		}
		for _, addr := range []string{net.JoinHostPort(web.GetSpec().GetClusterIp(), "18080"), fmt.Sprintf("127.0.0.1:%d", np)} {
			testutil.Eventually(t, 10*time.Second, func() bool {
				c, err := net.DialTimeout("tcp4", addr, 2*time.Second)
				if err == nil {
					c.Close()
				}
				return errors.Is(err, syscall.ECONNREFUSED)
			}, "%s still accepts connections after the service was deleted", addr)
		}
	})
}

// udpAsk sends one datagram from a new socket and returns the answer.
func udpAsk(addr string) (string, error) {
	c, err := net.Dial("udp4", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return "", err
	}
	if _, err := c.Write([]byte("who")); err != nil {
		return "", err
	}
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
