package nftables

import (
	"encoding/binary"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/coxswain/coxswain/pkg/proxy/dataplane"
)

// walkAttrs checks that attributes in b are well formed, recursing into
// nested ones, and returns how many top-level attributes there are.
func walkAttrs(t *testing.T, b []byte) int {
	t.Helper()
	n := 0
	for len(b) > 0 {
		if len(b) < 4 {
			t.Fatalf("truncated attribute header: %d bytes", len(b))
		}
		l := int(binary.NativeEndian.Uint16(b[0:]))
		typ := binary.NativeEndian.Uint16(b[2:])
		if l < 4 || l > len(b) {
			t.Fatalf("attribute length %d outside 4..%d", l, len(b))
		}
		if typ&unix.NLA_F_NESTED != 0 {
			walkAttrs(t, b[4:l])
		}
		n++
		b = b[min((l+3)&^3, len(b)):]
	}
	return n
}

func TestBatchFraming(t *testing.T) {
	b := newBatch(DefaultTable, 0, 0)
	b.addTable()
	b.addChain("base", &baseChain{"nat", unix.NF_INET_PRE_ROUTING, prioDstNAT})
	b.addChain("regular", nil)
	rule, err := encodeRule(nil, append(dnatTo(unix.IPPROTO_TCP, "10.0.0.1", 8080), goTo("regular"))...)
	if err != nil {
		t.Fatal(err)
	}
	b.addRule("base", rule)
	b.addSet(&setSpec{name: "m", keyTypes: []keyType{ktIPv4, ktProto, ktService}, isVmap: true})
	var elems []element
	for i := 0; i < 2000; i++ {
		elems = append(elems, element{key: ipProtoPortKey("10.96.0.1", unix.IPPROTO_TCP, int32(i+1)), chain: "regular"})
	}
	b.setElements("m", true, elems)
	b.setElements("m", false, elems[:10])
	buf := b.finish()

	msgs, err := syscall.ParseNetlinkMessage(buf)
	if err != nil {
		t.Fatal(err)
	}
	if msgs[0].Header.Type != unix.NFNL_MSG_BATCH_BEGIN || msgs[len(msgs)-1].Header.Type != unix.NFNL_MSG_BATCH_END {
		t.Fatalf("batch not framed by begin/end: first %d last %d", msgs[0].Header.Type, msgs[len(msgs)-1].Header.Type)
	}
	if len(msgs)-2 != b.count || b.count != len(b.descs) {
		t.Fatalf("%d messages between begin and end, count %d, descs %d", len(msgs)-2, b.count, len(b.descs))
	}
	newElemMsgs, elemTotal := 0, 0
	for i, m := range msgs {
		if m.Header.Seq != uint32(i) && i < len(msgs)-1 {
			t.Fatalf("message %d has sequence %d", i, m.Header.Seq)
		}
		if m.Header.Flags&unix.NLM_F_ACK != 0 {
			t.Fatalf("message %d requests an ACK before send()", i)
		}
		if i == 0 || i == len(msgs)-1 {
			continue
		}
		walkAttrs(t, m.Data[nfgenHdrLen:])
		if m.Header.Type == unix.NFNL_SUBSYS_NFTABLES<<8|unix.NFT_MSG_NEWSETELEM {
			newElemMsgs++
			// third attribute is the element list
			attrs := m.Data[nfgenHdrLen:]
			for j := 0; j < 2; j++ {
				l := int(binary.NativeEndian.Uint16(attrs))
				attrs = attrs[(l+3)&^3:]
			}
			l := int(binary.NativeEndian.Uint16(attrs))
			elemTotal += walkAttrs(t, attrs[4:l])
		}
	}
	if newElemMsgs < 2 {
		t.Errorf("2000 elements went into %d message(s); want them split below 64 KiB", newElemMsgs)
	}
	if elemTotal != 2000 {
		t.Errorf("encoded %d elements, want 2000", elemTotal)
	}
}

func TestNamesAreDeterministicAndBounded(t *testing.T) {
	long := &dataplane.ServicePort{Namespace: strings.Repeat("n", 63), Name: strings.Repeat("s", 63),
		PortName: strings.Repeat("p", 63), Protocol: dataplane.ProtocolTCP}
	k := dataplane.Key(long)
	e := dataplane.Endpoint{IP: "10.0.0.1", Port: 80}
	names := map[string]string{
		"svc": svcChainName(k, long), "ext": extChainName(k, long),
		"aff": affinitySetName(k, e, 10), "aff2": affinitySetName(k, dataplane.Endpoint{IP: "10.0.0.1", Port: 81}, 10),
	}
	seen := map[string]bool{}
	for what, n := range names {
		if len(n) > maxChainName {
			t.Errorf("%s name is %d bytes, want <= %d", what, len(n), maxChainName)
		}
		if seen[n] {
			t.Errorf("%s name %q collides", what, n)
		}
		seen[n] = true
	}
	if svcChainName(k, long) != names["svc"] || affinitySetName(k, e, 10) != names["aff"] {
		t.Error("names are not deterministic")
	}
	if a, b := affinitySetName(k, e, 10), affinitySetName(k, e, 11); a == b {
		t.Error("affinity set name ignores the timeout")
	}
}

func TestRenderLayout(t *testing.T) {
	p := &Proxier{clusterCIDR: netip.MustParsePrefix("10.244.0.0/16")}
	eps := []dataplane.Endpoint{
		{IP: "10.244.1.2", Port: 5353, Ready: true},
		{IP: "10.244.2.2", Port: 5353, Ready: true},
		{IP: "10.244.3.2", Port: 5353, Ready: true},
		{IP: "10.244.4.2", Port: 5353, Ready: false},
	}
	sp := &dataplane.ServicePort{Namespace: "ns", Name: "web", PortName: "http", Protocol: dataplane.ProtocolUDP,
		ClusterIP: "10.96.0.10", Port: 53, NodePort: 30053, ExternalIPs: []string{"192.0.2.1"}, Endpoints: eps}
	k := dataplane.Key(sp)
	svcName, extName := svcChainName(k, sp), extChainName(k, sp)
	vipElems := map[elemKey]elemVal{
		{mapServiceIPs, ipProtoPortKey("10.96.0.10", unix.IPPROTO_UDP, 53)}: {chain: svcName},
		{mapServiceIPs, ipProtoPortKey("192.0.2.1", unix.IPPROTO_UDP, 53)}:  {chain: extName},
		{mapServiceNodePorts, protoPortKey(unix.IPPROTO_UDP, 30053)}:        {chain: extName},
	}
	checkElems := func(t *testing.T, got, want map[elemKey]elemVal) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%d elements, want %d", len(got), len(want))
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("element %q in %s -> %+v, want %+v", k.key, k.set, got[k], v)
			}
		}
	}

	t.Run("random", func(t *testing.T) {
		r, err := p.render(k, sp, nil, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.chains) != 2 || r.chains[0].name != svcName || r.chains[1].name != extName {
			t.Fatalf("chains %v: want exactly the service and external chains", r.chains)
		}
		// one dnat through service-endpoints (masquerading is decided
		// once for all services, in the services chain)
		if n := len(r.chains[0].rules); n != 1 {
			t.Errorf("service chain has %d rules, want 1", n)
		}
		if n := len(r.chains[1].rules); n != 2 {
			t.Errorf("external chain has %d rules, want 2", n)
		}
		if len(r.sets) != 0 || len(r.applied.sets) != 0 {
			t.Errorf("sets %v: want none without affinity", r.sets)
		}
		checkElems(t, r.applied.elems, vipElems)
		var wantSlots []string
		for _, ep := range eps[:3] {
			wantSlots = append(wantSlots, ipPortData(ip4(ep.IP), ep.Port))
		}
		if !slices.Equal(r.applied.slots, wantSlots) || r.applied.epMap != endpointsMap(7) {
			t.Errorf("slots %q in %s, want %q in %s", r.applied.slots, r.applied.epMap, wantSlots, endpointsMap(7))
		}
		if len(r.applied.udpEPs) != 3 || r.applied.endpoints != 3 || len(r.applied.hairpin) != 3 {
			t.Errorf("udp endpoints %d, endpoints %d, hairpin %d; want 3 each", len(r.applied.udpEPs), r.applied.endpoints, len(r.applied.hairpin))
		}

		// Replacing an endpoint changes its slot's element only: the
		// chains are identical, so a Sync writes no rule.
		sp2 := sp.Clone()
		sp2.Endpoints[1] = dataplane.Endpoint{IP: "10.244.0.9", Port: 5353, Ready: true}
		r2, err := p.render(k, sp2, r.applied, 7)
		if err != nil {
			t.Fatal(err)
		}
		for i := range r.chains {
			if r.chains[i].hash != r2.chains[i].hash {
				t.Errorf("chain %s changed with an endpoint", r.chains[i].name)
			}
		}
		checkElems(t, r2.applied.elems, r.applied.elems)
		dels, adds := map[string][]element{}, map[string][]element{}
		diffSlots(r.applied, r2.applied, dels, adds)
		wantDel := map[string][]element{endpointsMap(7): {{key: slotKey(7, 1)}}}
		wantAdd := map[string][]element{endpointsMap(7): {{key: slotKey(7, 1), data: ipPortData(ip4("10.244.0.9"), 5353)}}}
		if !reflect.DeepEqual(dels, wantDel) || !reflect.DeepEqual(adds, wantAdd) {
			t.Errorf("element changes: delete %q add %q; want only slot 1 rewritten", dels, adds)
		}
		// Removing the service deletes all its slots.
		dels, adds = map[string][]element{}, map[string][]element{}
		diffSlots(r2.applied, nil, dels, adds)
		if len(dels[endpointsMap(7)]) != 3 || len(adds) != 0 {
			t.Errorf("removal: delete %q add %q; want the 3 slots deleted", dels, adds)
		}
	})

	t.Run("affinity", func(t *testing.T) {
		sticky := sp.Clone()
		sticky.SessionAffinityClientIP = true
		r, err := p.render(k, sticky, nil, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.chains) != 2 || r.chains[0].name != svcName || r.chains[1].name != extName {
			t.Fatalf("chains %v: want exactly the service and external chains", r.chains)
		}
		// 3 affinity checks + 3 rungs (the last without numgen)
		if n := len(r.chains[0].rules); n != 6 {
			t.Errorf("service chain has %d rules, want 6", n)
		}
		if len(r.sets) != 3 || len(r.applied.sets) != 3 || r.applied.slots != nil {
			t.Errorf("%d sets, %d slots: want 3 affinity sets and no slots", len(r.sets), len(r.applied.slots))
		}
		for _, s := range r.sets {
			if s.timeout != dataplane.DefaultAffinityTimeoutSeconds*1000 {
				t.Errorf("set %s timeout %dms, want the default", s.name, s.timeout)
			}
		}
		checkElems(t, r.applied.elems, vipElems)
	})

	t.Run("hairpin only for local endpoints", func(t *testing.T) {
		local := &Proxier{cfg: Config{NodeName: "n1"}}
		sp := sp.Clone()
		sp.Endpoints = []dataplane.Endpoint{
			{IP: "10.244.1.2", Port: 80, Ready: true, NodeName: "n1"},
			{IP: "10.244.2.2", Port: 80, Ready: true, NodeName: "n2"},
			{IP: "10.244.3.2", Port: 80, Ready: true},
		}
		r, err := local.render(k, sp, nil, 7)
		if err != nil {
			t.Fatal(err)
		}
		want := []uint32{0x0af40102, 0x0af40302} // 10.244.1.2 (n1), 10.244.3.2 (node unknown)
		if !slices.Equal(r.applied.hairpin, want) {
			t.Errorf("hairpin %x, want %x", r.applied.hairpin, want)
		}
	})

	t.Run("no endpoints", func(t *testing.T) {
		none := sp.Clone()
		none.Endpoints = nil
		r, err := p.render(k, none, nil, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.chains) != 0 || len(r.applied.elems) != 3 {
			t.Fatalf("%d chains, %d elements; want 0 and 3 reject elements", len(r.chains), len(r.applied.elems))
		}
		for k, v := range r.applied.elems {
			if v.chain != chainReject || (k.set != mapNoEndpointServices && k.set != mapNoEndpointNodePorts) {
				t.Errorf("no-endpoint element %s -> %+v", k.set, v)
			}
		}
	})
}

func TestAssignSlots(t *testing.T) {
	d := func(ips ...string) []string {
		var out []string
		for _, ip := range ips {
			out = append(out, ipPortData(ip4(ip), 80))
		}
		return out
	}
	e := d
	for _, tc := range []struct {
		name string
		prev []string
		eps  []string
		want []string
	}{
		{"fresh", nil, e("10.0.0.1", "10.0.0.2"), d("10.0.0.1", "10.0.0.2")},
		{"replace one keeps the others", d("10.0.0.1", "10.0.0.2", "10.0.0.3"), e("10.0.0.0", "10.0.0.1", "10.0.0.3"),
			d("10.0.0.1", "10.0.0.0", "10.0.0.3")},
		{"grow appends", d("10.0.0.2", "10.0.0.1"), e("10.0.0.1", "10.0.0.2", "10.0.0.3"), d("10.0.0.2", "10.0.0.1", "10.0.0.3")},
		{"shrink moves the last into the hole", d("10.0.0.1", "10.0.0.2", "10.0.0.3"), e("10.0.0.1", "10.0.0.3"),
			d("10.0.0.1", "10.0.0.3")},
		{"all new", d("10.0.0.1"), e("10.0.0.7", "10.0.0.8"), d("10.0.0.7", "10.0.0.8")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := assignSlots(tc.prev, tc.eps)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("slots %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzExtAckMsg: the kernel reply decoder must not panic on any input.
func FuzzExtAckMsg(f *testing.F) {
	f.Add([]byte{})
	f.Add(append(make([]byte, 20), 9, 0, 1, 0, 'b', 'a', 'd', 0, 0, 0, 0, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := extAckMsg(b)
		if s != "" && !strings.HasPrefix(s, " (") {
			t.Fatalf("extAckMsg = %q", s)
		}
	})
}
