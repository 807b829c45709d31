package nftables

import (
	"encoding/base32"
	"encoding/binary"
	"hash/fnv"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/coxswain/coxswain/pkg/proxy/dataplane"
)

// DefaultTable is the name of the nf_tables table used when Config.Table is
// empty.
const DefaultTable = "coxswain"

// Names of the fixed objects of the table (see doc.go for the layout).
const (
	chainFilterPrerouting = "filter-prerouting"
	chainFilterOutput     = "filter-output"
	chainEndpointsCheck   = "service-endpoints-check"
	chainReject           = "reject-chain"
	chainNATPrerouting    = "nat-prerouting"
	chainNATOutput        = "nat-output"
	chainNATPostrouting   = "nat-postrouting"
	chainServices         = "services"
	chainMarkMasq         = "mark-for-masquerade"
	chainMasquerading     = "masquerading"

	mapServiceIPs          = "service-ips"
	mapServiceNodePorts    = "service-nodeports"
	mapNoEndpointServices  = "no-endpoint-services"
	mapNoEndpointNodePorts = "no-endpoint-nodeports"
	setNodePortIPs         = "nodeport-ips"
	setHairpin             = "hairpin-endpoints"
	mapServiceEndpoints    = "service-endpoints-" // + shard number

	masqMark = 0x4000

	maxChainName = 96
)

// priorities from nft's symbolic names
const (
	prioDstNAT = -100
	prioSrcNAT = 100
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// hashName returns a deterministic, bounded name: prefix, a 13-character hash
// of id, and as much of the human-readable label as fits.
func hashName(prefix, id, label string) string {
	h := fnv.New64a()
	h.Write([]byte(id))
	name := prefix + b32.EncodeToString(h.Sum(nil)) + "-" + label
	if len(name) > maxChainName {
		name = name[:maxChainName]
	}
	return name
}

func protoNum(p dataplane.Protocol) byte {
	if p == dataplane.ProtocolUDP {
		return unix.IPPROTO_UDP
	}
	return unix.IPPROTO_TCP
}

func protoLabel(p dataplane.Protocol) string { return strings.ToLower(string(p)) }

func svcLabel(sp *dataplane.ServicePort) string {
	return sp.Namespace + "/" + sp.Name + "/" + protoLabel(sp.Protocol) + "/" + sp.PortName
}

func svcChainName(key string, sp *dataplane.ServicePort) string {
	return hashName("svc-", key, svcLabel(sp))
}

func extChainName(key string, sp *dataplane.ServicePort) string {
	return hashName("ext-", key, svcLabel(sp))
}

// affinitySetName names the ClientIP affinity set of one endpoint of a
// service port; the timeout is part of the name because a set's timeout
// cannot be changed.
func affinitySetName(key string, ep dataplane.Endpoint, timeout int32) string {
	h := fnv.New64a()
	h.Write([]byte(key))
	h.Write([]byte{'|'})
	h.Write([]byte(ep.IP + ":" + strconv.Itoa(int(ep.Port))))
	h.Write([]byte{byte(timeout >> 24), byte(timeout >> 16), byte(timeout >> 8), byte(timeout)})
	return "aff-" + b32.EncodeToString(h.Sum(nil))
}

// --- keys ---

func ip4(s string) [4]byte {
	a, _ := netip.ParseAddr(s) // validated before
	return a.As4()
}

// ipProtoPortKey encodes ipv4_addr . inet_proto . inet_service.
func ipProtoPortKey(ip string, proto byte, port int32) string {
	a := ip4(ip)
	var k [12]byte
	copy(k[:4], a[:])
	k[4] = proto
	binary.BigEndian.PutUint16(k[8:], uint16(port))
	return string(k[:])
}

// slotKey encodes the service-endpoints key: service port id . slot, both
// in host byte order like the numgen result the lookup concatenates.
func slotKey(id, slot uint32) string {
	var k [8]byte
	binary.NativeEndian.PutUint32(k[:4], id)
	binary.NativeEndian.PutUint32(k[4:], slot)
	return string(k[:])
}

// ipPortData encodes the service-endpoints value ipv4_addr . inet_service.
func ipPortData(a [4]byte, port int32) string {
	var d [8]byte
	copy(d[:4], a[:])
	binary.BigEndian.PutUint16(d[4:], uint16(port))
	return string(d[:])
}

// protoPortKey encodes inet_proto . inet_service.
func protoPortKey(proto byte, port int32) string {
	var k [8]byte
	k[0] = proto
	binary.BigEndian.PutUint16(k[4:], uint16(port))
	return string(k[:])
}

// --- expressions ---

func ne32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

func loadDaddr(reg uint32) expr.Any {
	return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4}
}

func loadSaddr(reg uint32) expr.Any {
	return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}
}

func loadL4Proto(reg uint32) expr.Any { return &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg} }

func loadDport(reg uint32) expr.Any {
	return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}
}

func cmpEq(data []byte) expr.Any  { return &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data} }
func cmpNeq(data []byte) expr.Any { return &expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: data} }

func jump(chain string) expr.Any { return &expr.Verdict{Kind: expr.VerdictJump, Chain: chain} }
func goTo(chain string) expr.Any { return &expr.Verdict{Kind: expr.VerdictGoto, Chain: chain} }
func vmap(set string) expr.Any {
	return &expr.Lookup{SourceRegister: 1, DestRegister: 0, IsDestRegSet: true, SetName: set}
}

// matchPrefix matches reg1 (an IPv4 address) against prefix p.
func matchPrefix(p netip.Prefix, negate bool) []any {
	m := uint32(0)
	if p.Bits() > 0 {
		m = ^uint32(0) << (32 - p.Bits())
	}
	maskB := binary.BigEndian.AppendUint32(nil, m)
	a := p.Masked().Addr().As4()
	cmp := cmpEq(a[:])
	if negate {
		cmp = cmpNeq(a[:])
	}
	return []any{
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: maskB, Xor: []byte{0, 0, 0, 0}},
		cmp,
	}
}

func concat(parts ...[]any) []any {
	var out []any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// ctStateNew matches conntrack state new.
func ctStateNew() []any {
	return []any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: ne32(expr.CtStateBitNEW), Xor: ne32(0)},
		cmpNeq(ne32(0)),
	}
}

// fibDaddrLocal matches `fib daddr type local`.
func fibDaddrLocal() []any {
	return []any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		cmpEq(ne32(unix.RTN_LOCAL)),
	}
}

var loopback = netip.MustParsePrefix("127.0.0.0/8")

// Pre-encoded constant expressions of the per-service rules, which a full
// sync repeats hundreds of thousands of times.
var (
	rawLoadSaddr = mustRaw(loadSaddr(1))
	rawLoadDaddr = mustRaw(loadDaddr(1))
	rawLoadL4    = mustRaw(loadL4Proto(1))
	rawCmpTCP    = mustRaw(cmpEq([]byte{unix.IPPROTO_TCP}))
	rawCmpUDP    = mustRaw(cmpEq([]byte{unix.IPPROTO_UDP}))
	rawCmpZero   = mustRaw(cmpEq(ne32(0)))
	rawDNAT      = mustRaw(&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2})
	rawDNATSlot  = mustRaw(&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: regID, RegProtoMin: regSlot})

	lookupMu  sync.Mutex
	lookupRaw = map[string]raw{}

	numgenMu  sync.Mutex
	numgenRaw = map[numgenKey]raw{}
)

// rawNumgen is `numgen random mod m` into register 1.
func rawNumgen(m uint32) raw { return rawNumgenTo(1, m) }

type numgenKey struct{ reg, mod uint32 }

// rawNumgenTo is `numgen random mod m` into register reg.
func rawNumgenTo(reg, m uint32) raw {
	numgenMu.Lock()
	defer numgenMu.Unlock()
	k := numgenKey{reg, m}
	r, ok := numgenRaw[k]
	if !ok {
		r = mustRaw(&expr.Numgen{Register: reg, Modulus: m, Type: unix.NFT_NG_RANDOM})
		numgenRaw[k] = r
	}
	return r
}

// Registers of the endpoint lookup: the service port id and the numgen
// result form the key in reg32 0 and 1; the value (address, port) comes
// back in the same two registers.
const (
	regID   = 8 // NFT_REG32_00
	regSlot = 9 // NFT_REG32_01
)

// endpointShardSize is how many service ports share one service-endpoints
// map. The kernel checks every element added to a map against every rule
// that looks the map up: one map for 10,000 services made a full sync
// commit 100,000 x 10,000 checks (29 s). Many small maps instead would make
// every reference to a set by name a scan of all the table's sets.
const endpointShardSize = 32

// endpointsMap names the service-endpoints map of service port id.
func endpointsMap(id uint32) string {
	return mapServiceEndpoints + strconv.Itoa(int((id-1)/endpointShardSize))
}

// endpointsMapSpec describes a service-endpoints map:
// id . slot : ipv4_addr . inet_service.
func endpointsMapSpec(name string) *setSpec {
	return &setSpec{name: name, keyTypes: []keyType{ktMark, ktMark}, dataTypes: []keyType{ktIPv4, ktService}}
}

// rawLookupEndpoint looks id . slot up in map m, the value replacing them.
func rawLookupEndpoint(m string) raw {
	lookupMu.Lock()
	defer lookupMu.Unlock()
	r, ok := lookupRaw[m]
	if !ok {
		r = mustRaw(&expr.Lookup{SourceRegister: regID, DestRegister: regID, IsDestRegSet: true, SetName: m})
		lookupRaw[m] = r
	}
	return r
}

// dnatSlot is `meta l4proto P dnat to <id> . numgen random mod n map
// @service-endpoints-<shard>`: the endpoint is chosen in one rule whose
// content does not depend on the endpoints themselves.
func dnatSlot(proto byte, id uint32, n int) []any {
	cmp := rawCmpTCP
	if proto == unix.IPPROTO_UDP {
		cmp = rawCmpUDP
	}
	return []any{
		rawLoadL4, cmp,
		&expr.Immediate{Register: regID, Data: binary.NativeEndian.AppendUint32(nil, id)},
		rawNumgenTo(regSlot, uint32(n)),
		rawLookupEndpoint(endpointsMap(id)),
		rawDNATSlot,
	}
}

// dnatTo is `meta l4proto P dnat to ip:port`.
func dnatTo(proto byte, ip string, port int32) []any {
	a := ip4(ip)
	cmp := rawCmpTCP
	if proto == unix.IPPROTO_UDP {
		cmp = rawCmpUDP
	}
	return []any{
		rawLoadL4, cmp,
		&expr.Immediate{Register: 1, Data: a[:]},
		&expr.Immediate{Register: 2, Data: binary.BigEndian.AppendUint16(nil, uint16(port))},
		rawDNAT,
	}
}

// setMarkOr is `meta mark set meta mark | bit`.
func setMarkOr(bit uint32) []any {
	return []any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: ne32(^bit), Xor: ne32(bit)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
	}
}
