package dns

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseName(t *testing.T) {
	const zone = "cluster.local."
	for _, tc := range []struct {
		q    string
		want name
	}{
		{"cluster.local.", name{kind: kindApex}},
		{"CLUSTER.local", name{kind: kindApex}},
		{"example.com.", name{kind: kindOutside}},
		{"notcluster.local.", name{kind: kindOutside}},
		{"svc.cluster.local.", name{kind: kindEmpty}},
		{"pod.cluster.local.", name{kind: kindEmpty}},
		{"default.pod.cluster.local.", name{kind: kindEmpty}},
		{"default.svc.cluster.local.", name{kind: kindNamespace, ns: "default"}},
		{"Web.Default.svc.cluster.local.", name{kind: kindService, svc: "web", ns: "default"}},
		{"db-0.db.default.svc.cluster.local.", name{kind: kindEndpoint, host: "db-0", svc: "db", ns: "default"}},
		{"_http._TCP.web.default.svc.cluster.local.", name{kind: kindSRV, port: "http", proto: "tcp", svc: "web", ns: "default"}},
		{"http._tcp.web.default.svc.cluster.local.", name{kind: kindUnknown}},
		{"_._tcp.web.default.svc.cluster.local.", name{kind: kindUnknown}},
		{"10-244-1-2.default.pod.cluster.local.", name{kind: kindPod, ns: "default", podIP: netip.MustParseAddr("10.244.1.2")}},
		{"10-244-1.default.pod.cluster.local.", name{kind: kindUnknown}},
		{"10-244-1-300.default.pod.cluster.local.", name{kind: kindUnknown}},
		{"a.b.c.d.e.svc.cluster.local.", name{kind: kindUnknown}},
		{"foo.cluster.local.", name{kind: kindUnknown}},
		{"web.default.cluster.local.", name{kind: kindUnknown}},
	} {
		t.Run(tc.q, func(t *testing.T) {
			if got := parseName(tc.q, zone); got != tc.want {
				t.Fatalf("parseName(%q) = %+v, want %+v", tc.q, got, tc.want)
			}
		})
	}
}

// FuzzParseName: no panic, and the kind agrees with the name's suffix.
func FuzzParseName(f *testing.F) {
	for _, s := range []string{"web.default.svc.cluster.local.", "_a._b.c.d.svc.cluster.local", "1-2-3-4.x.pod.cluster.local.",
		"cluster.local", "..cluster.local.", "example.com", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		n := parseName(q, "cluster.local.")
		lq := strings.ToLower(strings.TrimSuffix(q, "."))
		inZone := lq == "cluster.local" || strings.HasSuffix(lq, ".cluster.local")
		if inZone != (n.kind != kindOutside) {
			t.Fatalf("parseName(%q) kind %d: in zone %v", q, n.kind, inZone)
		}
		switch n.kind {
		case kindService, kindEndpoint, kindSRV, kindNamespace, kindPod:
			if n.ns == "" || strings.Contains(n.ns, ".") {
				t.Fatalf("parseName(%q) = %+v: bad namespace", q, n)
			}
		}
		if n.kind == kindPod && !n.podIP.Is4() {
			t.Fatalf("parseName(%q) = %+v: pod without IPv4", q, n)
		}
	})
}
