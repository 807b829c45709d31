package dns

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/coxswain/coxswain/pkg/client"
	cxtest "github.com/coxswain/coxswain/pkg/testutil"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// fakeUpstream serves A records for the given names (fully qualified,
// lower case) and NXDOMAIN for everything else, on a free loopback port.
func fakeUpstream(t *testing.T, records map[string]string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		ip, ok := records[strings.ToLower(q.Name)]
		switch {
		case !ok:
			m.Rcode = mdns.RcodeNameError
		case q.Qtype == mdns.TypeA:
			m.Answer = []mdns.RR{&mdns.A{Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60}, A: net.ParseIP(ip)}}
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

// startDNS runs a server on a free loopback port until the test ends.
func startDNS(t *testing.T, c *client.Client, upstreams []string, reg *prometheus.Registry) *Server {
	t.Helper()
	s, err := New(Config{Client: c, Listen: "127.0.0.1:0", Upstreams: upstreams, HTTPAddr: "127.0.0.1:0",
		Registry: reg, Logger: cxtest.Logger()})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	cxtest.Eventually(t, 30*time.Second, s.synced.Load, "caches not synced")
	return s
}

func query(t *testing.T, server, name string, qtype uint16) *mdns.Msg {
	t.Helper()
	return queryNet(t, "udp", server, name, qtype)
}

func queryNet(t *testing.T, network, server, name string, qtype uint16) *mdns.Msg {
	t.Helper()
	c := &mdns.Client{Net: network, Timeout: 5 * time.Second}
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(name), qtype)
	var resp *mdns.Msg
	var err error
	for attempt := 0; attempt < 3; attempt++ { // UDP on a busy machine
		if resp, _, err = c.Exchange(m, server); err == nil {
			return resp
		}
	}
	t.Fatalf("query %s %s: %v", name, mdns.TypeToString[qtype], err)
	return nil
}

// values renders the answer section as sorted "TYPE value" strings.
func values(m *mdns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *mdns.A:
			out = append(out, "A "+rr.A.String())
		case *mdns.AAAA:
			out = append(out, "AAAA "+rr.AAAA.String())
		case *mdns.CNAME:
			out = append(out, "CNAME "+rr.Target)
		case *mdns.SRV:
			out = append(out, fmt.Sprintf("SRV %d %s", rr.Port, rr.Target))
		case *mdns.SOA:
			out = append(out, "SOA "+rr.Ns)
		default:
			out = append(out, rr.String())
		}
	}
	sort.Strings(out)
	return out
}

func expect(t *testing.T, m *mdns.Msg, rcode int, want ...string) {
	t.Helper()
	if m.Rcode != rcode {
		t.Fatalf("rcode %s, want %s (answer %v)", mdns.RcodeToString[m.Rcode], mdns.RcodeToString[rcode], values(m))
	}
	got := values(m)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("answer %q, want %q", got, want)
	}
	if len(m.Answer) > 0 {
		for _, rr := range m.Answer {
			if strings.HasSuffix(rr.Header().Name, ".cluster.local.") && rr.Header().Ttl != 5 {
				t.Fatalf("record %v: want TTL 5", rr)
			}
		}
		return
	}
	// Negative answers carry the SOA.
	if len(m.Ns) != 1 || m.Ns[0].Header().Rrtype != mdns.TypeSOA || m.Ns[0].Header().Name != "cluster.local." {
		t.Fatalf("negative answer authority %v: want the cluster.local. SOA", m.Ns)
	}
	if soa := m.Ns[0].(*mdns.SOA); soa.Minttl != 5 {
		t.Fatalf("SOA minimum %d, want 5", soa.Minttl)
	}
}

type fixture struct {
	c        *client.Client
	ctx      context.Context
	services map[string]*corev1.Service // by ns/name, as created
}

func (f *fixture) service(t *testing.T, ns, name string, spec *corev1.ServiceSpec, subsets ...*corev1.EndpointSubset) *corev1.Service {
	t.Helper()
	svc, err := f.c.Services().Create(f.ctx, &corev1.Service{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec})
	if err != nil {
		t.Fatalf("create service %s/%s: %v", ns, name, err)
	}
	if len(subsets) > 0 {
		if _, err := f.c.Endpoints().Create(f.ctx, &corev1.Endpoints{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name}, Subsets: subsets}); err != nil {
			t.Fatalf("create endpoints %s/%s: %v", ns, name, err)
		}
	}
	f.services[ns+"/"+name] = svc
	return svc
}

func addr(ip, hostname string) *corev1.EndpointAddress {
	return &corev1.EndpointAddress{Ip: ip, Hostname: hostname}
}

func TestClusterDNS(t *testing.T) {
	a := cxtest.StartAPIServer(t)
	f := &fixture{c: a.Client, ctx: cxtest.Context(t), services: map[string]*corev1.Service{}}
	if _, err := a.Client.Namespaces().Create(f.ctx, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "other-ns"}}); err != nil {
		t.Fatal(err)
	}
	upstream := fakeUpstream(t, map[string]string{"example.com.": "192.0.2.7", "target.example.org.": "192.0.2.8"})
	reg := prometheus.NewRegistry()
	s := startDNS(t, a.Client, []string{upstream}, reg)
	srv := s.Addr()

	web := f.service(t, "default", "web", &corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
		Ports: []*corev1.ServicePort{{Name: "http", Port: 80, Protocol: "TCP"}, {Name: "dns", Port: 53, Protocol: "UDP"}}})
	webIP := web.GetSpec().GetClusterIp()
	f.service(t, "default", "db", &corev1.ServiceSpec{ClusterIp: "None", Selector: map[string]string{"app": "db"},
		Ports: []*corev1.ServicePort{{Name: "pg", Port: 5432, Protocol: "TCP"}}},
		&corev1.EndpointSubset{
			Addresses:         []*corev1.EndpointAddress{addr("10.244.1.5", "db-0"), addr("10.244.2.5", "")},
			NotReadyAddresses: []*corev1.EndpointAddress{addr("10.244.3.5", "db-2")},
			Ports:             []*corev1.EndpointPort{{Name: "pg", Port: 15432, Protocol: "TCP"}},
		})
	f.service(t, "default", "ext", &corev1.ServiceSpec{Type: "ExternalName", ExternalName: "target.example.org"})
	f.service(t, "default", "alias", &corev1.ServiceSpec{Type: "ExternalName", ExternalName: "web.default.svc.cluster.local"})
	redisDefault := f.service(t, "default", "redis", &corev1.ServiceSpec{Selector: map[string]string{"app": "redis"},
		Ports: []*corev1.ServicePort{{Name: "redis", Port: 6379}}})
	redisOther := f.service(t, "other-ns", "redis", &corev1.ServiceSpec{Selector: map[string]string{"app": "redis"},
		Ports: []*corev1.ServicePort{{Name: "redis", Port: 6379}}})
	// The informers see the last object soon after it is created.
	cxtest.Eventually(t, 10*time.Second, func() bool {
		return query(t, srv, "redis.other-ns.svc.cluster.local", mdns.TypeA).Rcode == mdns.RcodeSuccess
	}, "the last service created is not served")

	t.Run("ClusterIP", func(t *testing.T) {
		m := query(t, srv, "web.default.svc.cluster.local", mdns.TypeA)
		expect(t, m, mdns.RcodeSuccess, "A "+webIP)
		if !m.Authoritative {
			t.Error("cluster answer not authoritative")
		}
		expect(t, query(t, srv, "WEB.Default.SVC.cluster.local", mdns.TypeA), mdns.RcodeSuccess, "A "+webIP)
		expect(t, queryNet(t, "tcp", srv, "web.default.svc.cluster.local", mdns.TypeA), mdns.RcodeSuccess, "A "+webIP)
	})
	t.Run("NODATA", func(t *testing.T) {
		expect(t, query(t, srv, "web.default.svc.cluster.local", mdns.TypeAAAA), mdns.RcodeSuccess)
		expect(t, query(t, srv, "web.default.svc.cluster.local", mdns.TypeMX), mdns.RcodeSuccess)
		expect(t, query(t, srv, "_http._tcp.web.default.svc.cluster.local", mdns.TypeA), mdns.RcodeSuccess)
		expect(t, query(t, srv, "default.svc.cluster.local", mdns.TypeA), mdns.RcodeSuccess)
		expect(t, query(t, srv, "svc.cluster.local", mdns.TypeA), mdns.RcodeSuccess)
	})
	t.Run("NXDOMAIN", func(t *testing.T) {
		for _, n := range []string{
			"nope.default.svc.cluster.local", "web.nope.svc.cluster.local", "nope.svc.cluster.local",
			"_nope._tcp.web.default.svc.cluster.local", "_http._udp.web.default.svc.cluster.local",
			"db-9.db.default.svc.cluster.local", "x.web.default.svc.cluster.local", "foo.cluster.local",
			"10-1-2.default.pod.cluster.local",
		} {
			expect(t, query(t, srv, n, mdns.TypeA), mdns.RcodeNameError)
		}
	})
	t.Run("SOA", func(t *testing.T) {
		expect(t, query(t, srv, "cluster.local", mdns.TypeSOA), mdns.RcodeSuccess, "SOA ns.dns.cluster.local.")
	})
	t.Run("SRV", func(t *testing.T) {
		m := query(t, srv, "_http._tcp.web.default.svc.cluster.local", mdns.TypeSRV)
		expect(t, m, mdns.RcodeSuccess, "SRV 80 web.default.svc.cluster.local.")
		if len(m.Extra) != 1 || m.Extra[0].(*mdns.A).A.String() != webIP {
			t.Errorf("additional %v: want web's A record", m.Extra)
		}
		expect(t, query(t, srv, "_dns._udp.web.default.svc.cluster.local", mdns.TypeSRV), mdns.RcodeSuccess,
			"SRV 53 web.default.svc.cluster.local.")
	})
	t.Run("Headless", func(t *testing.T) {
		expect(t, query(t, srv, "db.default.svc.cluster.local", mdns.TypeA), mdns.RcodeSuccess, "A 10.244.1.5", "A 10.244.2.5")
		expect(t, query(t, srv, "db-0.db.default.svc.cluster.local", mdns.TypeA), mdns.RcodeSuccess, "A 10.244.1.5")
		expect(t, query(t, srv, "10-244-2-5.db.default.svc.cluster.local", mdns.TypeA), mdns.RcodeSuccess, "A 10.244.2.5")
		expect(t, query(t, srv, "db-2.db.default.svc.cluster.local", mdns.TypeA), mdns.RcodeNameError) // not ready
		m := query(t, srv, "_pg._tcp.db.default.svc.cluster.local", mdns.TypeSRV)
		expect(t, m, mdns.RcodeSuccess, "SRV 15432 db-0.db.default.svc.cluster.local.", "SRV 15432 10-244-2-5.db.default.svc.cluster.local.")
		if len(m.Extra) != 2 {
			t.Errorf("additional %v: want the 2 endpoints' A records", m.Extra)
		}
	})
	t.Run("ExternalNameCNAME", func(t *testing.T) {
		expect(t, query(t, srv, "ext.default.svc.cluster.local", mdns.TypeCNAME), mdns.RcodeSuccess, "CNAME target.example.org.")
		// Followed through the upstream...
		expect(t, query(t, srv, "ext.default.svc.cluster.local", mdns.TypeA), mdns.RcodeSuccess,
			"CNAME target.example.org.", "A 192.0.2.8")
		// ... or through the cache for a name in the cluster.
		expect(t, query(t, srv, "alias.default.svc.cluster.local", mdns.TypeA), mdns.RcodeSuccess,
			"CNAME web.default.svc.cluster.local.", "A "+webIP)
	})
	t.Run("Pod", func(t *testing.T) {
		expect(t, query(t, srv, "10-244-1-2.default.pod.cluster.local", mdns.TypeA), mdns.RcodeSuccess, "A 10.244.1.2")
		expect(t, query(t, srv, "10-244-1-2.default.pod.cluster.local", mdns.TypeAAAA), mdns.RcodeSuccess)
	})
	t.Run("Forwarded", func(t *testing.T) {
		m := query(t, srv, "example.com", mdns.TypeA)
		expect(t, m, mdns.RcodeSuccess, "A 192.0.2.7")
		if m.Authoritative {
			t.Error("forwarded answer marked authoritative")
		}
		if m := query(t, srv, "nope.example.com", mdns.TypeA); m.Rcode != mdns.RcodeNameError {
			t.Errorf("upstream NXDOMAIN came back as %s", mdns.RcodeToString[m.Rcode])
		}
	})
	t.Run("SearchPath", func(t *testing.T) {
		// The resolv.conf the kubelet writes for a pod in "default".
		search := []string{"default.svc.cluster.local", "svc.cluster.local", "cluster.local"}
		for _, tc := range []struct{ name, want string }{
			{"redis", redisDefault.GetSpec().GetClusterIp()},
			{"redis.other-ns", redisOther.GetSpec().GetClusterIp()},
			{"redis.other-ns.svc", redisOther.GetSpec().GetClusterIp()},
			{"web", webIP},
			{"example.com", "192.0.2.7"},
		} {
			got, tried := resolveSearch(t, srv, tc.name, search, 5)
			if got != tc.want {
				t.Errorf("%s resolved to %q after trying %v, want %s", tc.name, got, tried, tc.want)
			}
		}
		if got, tried := resolveSearch(t, srv, "nothing-here", search, 5); got != "" {
			t.Errorf("nothing-here resolved to %q after trying %v", got, tried)
		}
	})
	t.Run("Updates", func(t *testing.T) {
		eps, err := a.Client.Endpoints().Get(f.ctx, "default", "db")
		if err != nil {
			t.Fatal(err)
		}
		eps.Subsets[0].Addresses = []*corev1.EndpointAddress{addr("10.244.4.5", "db-0")}
		if _, err := a.Client.Endpoints().Update(f.ctx, eps); err != nil {
			t.Fatal(err)
		}
		waitAnswer(t, srv, "db.default.svc.cluster.local", mdns.TypeA, "A 10.244.4.5")
		waitAnswer(t, srv, "db-0.db.default.svc.cluster.local", mdns.TypeA, "A 10.244.4.5")

		ext, err := a.Client.Services().Get(f.ctx, "default", "ext")
		if err != nil {
			t.Fatal(err)
		}
		ext.Spec.ExternalName = "elsewhere.example.net"
		if _, err := a.Client.Services().Update(f.ctx, ext); err != nil {
			t.Fatal(err)
		}
		waitAnswer(t, srv, "ext.default.svc.cluster.local", mdns.TypeCNAME, "CNAME elsewhere.example.net.")

		if _, err := a.Client.Services().Delete(f.ctx, &metav1.DeleteRequest{Namespace: "default", Name: "web"}); err != nil {
			t.Fatal(err)
		}
		cxtest.Eventually(t, 10*time.Second, func() bool {
			return query(t, srv, "web.default.svc.cluster.local", mdns.TypeA).Rcode == mdns.RcodeNameError
		}, "deleted service still resolves")
	})
	t.Run("Metrics", func(t *testing.T) {
		if n := testutil.ToFloat64(s.metrics.requests.WithLabelValues("A", "NXDOMAIN")); n < 9 {
			t.Errorf("requests{A,NXDOMAIN} = %v, want at least 9", n)
		}
		if n := testutil.ToFloat64(s.metrics.requests.WithLabelValues("SRV", "NOERROR")); n != 3 {
			t.Errorf("requests{SRV,NOERROR} = %v, want 3", n)
		}
		if n, err := testutil.GatherAndCount(reg, "coxswain_dns_request_duration_seconds"); err != nil || n < 2 {
			t.Errorf("duration series %d (%v), want cluster and upstream", n, err)
		}
	})
}

func waitAnswer(t *testing.T, srv, name string, qtype uint16, want ...string) {
	t.Helper()
	var got []string
	cxtest.Eventually(t, 10*time.Second, func() bool {
		got = values(query(t, srv, name, qtype))
		return slices.Equal(got, want)
	}, "%s: answer %v, want %v", name, &got, want)
}

// resolveSearch resolves name's A record like a stub resolver with the
// given search list and ndots: names with at least ndots dots are tried as
// they are first; otherwise each search domain is appended in turn
// (NXDOMAIN and NODATA move on to the next), then the name as it is. It
// returns the first address found and the names tried.
func resolveSearch(t *testing.T, srv, name string, search []string, ndots int) (string, []string) {
	t.Helper()
	var candidates []string
	if strings.Count(name, ".") >= ndots {
		candidates = append(candidates, name)
	}
	for _, s := range search {
		candidates = append(candidates, name+"."+s)
	}
	if strings.Count(name, ".") < ndots {
		candidates = append(candidates, name)
	}
	var tried []string
	for _, c := range candidates {
		tried = append(tried, c)
		m := query(t, srv, c, mdns.TypeA)
		if m.Rcode != mdns.RcodeSuccess {
			continue
		}
		for _, rr := range m.Answer {
			if a, ok := rr.(*mdns.A); ok {
				return a.A.String(), tried
			}
		}
	}
	return "", tried
}

func TestUpstreams(t *testing.T) {
	a := cxtest.StartAPIServer(t)
	t.Run("NoneRefusesOtherNames", func(t *testing.T) {
		s := startDNS(t, a.Client, []string{}, nil)
		m := query(t, s.Addr(), "example.com", mdns.TypeA)
		if m.Rcode != mdns.RcodeRefused {
			t.Fatalf("rcode %s, want REFUSED", mdns.RcodeToString[m.Rcode])
		}
		if m.RecursionAvailable {
			t.Error("recursion available without upstreams")
		}
		// Cluster names still work.
		expect(t, query(t, s.Addr(), "10-1-2-3.default.pod.cluster.local", mdns.TypeA), mdns.RcodeSuccess, "A 10.1.2.3")
	})
	t.Run("DeadUpstreamIsSERVFAIL", func(t *testing.T) {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0") // bound, never answers
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		s, err := New(Config{Client: a.Client, Listen: "127.0.0.1:0", Upstreams: []string{pc.LocalAddr().String()},
			UpstreamTimeout: 200 * time.Millisecond, Logger: cxtest.Logger()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		defer func() { cancel(); <-done }()
		if m := query(t, s.Addr(), "example.com", mdns.TypeA); m.Rcode != mdns.RcodeServerFailure {
			t.Fatalf("rcode %s, want SERVFAIL", mdns.RcodeToString[m.Rcode])
		}
	})
	t.Run("FromResolvConf", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "resolv.conf")
		if err := os.WriteFile(path, []byte("search example.org\nnameserver 192.0.2.53\nnameserver 127.0.0.1\noptions ndots:2\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		// Listening on 127.0.0.1:53 would make 127.0.0.1 ourselves; on
		// another port it is a real upstream.
		s, err := New(Config{Client: a.Client, Listen: "127.0.0.1:0", ResolvConf: path, Logger: cxtest.Logger()})
		if err != nil {
			t.Fatal(err)
		}
		defer s.closeListeners()
		if got, want := s.Upstreams(), []string{"192.0.2.53:53", "127.0.0.1:53"}; !slices.Equal(got, want) {
			t.Fatalf("upstreams %v, want %v", got, want)
		}
	})
	t.Run("BadUpstream", func(t *testing.T) {
		_, err := New(Config{Client: a.Client, Listen: "127.0.0.1:0", Upstreams: []string{"dns.example.com"}})
		if err == nil || !strings.Contains(err.Error(), "upstreams[0]") {
			t.Fatalf("New = %v, want an error naming upstreams[0]", err)
		}
	})
}
