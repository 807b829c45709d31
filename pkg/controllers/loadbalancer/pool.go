package loadbalancer

import (
	"fmt"
	"math/big"
	"net/netip"
	"strings"
)

// addrRange is an inclusive range of addresses of one family.
type addrRange struct{ first, last netip.Addr }

// Pool is a set of addresses that can be handed out.
type Pool struct {
	ranges []addrRange
	text   string
}

// ParsePool parses a comma-separated list of address ranges ("a-b") and CIDRs. Ranges must not overlap.
func ParsePool(s string) (*Pool, error) {
	p := &Pool{text: strings.TrimSpace(s)}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("address pool %q: empty entry", s)
		}
		var r addrRange
		if lo, hi, ok := strings.Cut(part, "-"); ok {
			first, err := netip.ParseAddr(strings.TrimSpace(lo))
			if err != nil {
				return nil, fmt.Errorf("address pool entry %q: start: %w", part, err)
			}
			last, err := netip.ParseAddr(strings.TrimSpace(hi))
			if err != nil {
				return nil, fmt.Errorf("address pool entry %q: end: %w", part, err)
			}
			if first.Zone() != "" || last.Zone() != "" {
				return nil, fmt.Errorf("address pool entry %q: zones are not allowed", part)
			}
			if first.Is4() != last.Is4() {
				return nil, fmt.Errorf("address pool entry %q: start and end are of different IP families", part)
			}
			if last.Less(first) {
				return nil, fmt.Errorf("address pool entry %q: end is before start", part)
			}
			r = addrRange{first, last}
		} else {
			pfx, err := netip.ParsePrefix(part)
			if err != nil {
				return nil, fmt.Errorf("address pool entry %q: not a range (a-b) or a CIDR: %w", part, err)
			}
			pfx = pfx.Masked()
			r = addrRange{pfx.Addr(), lastAddr(pfx)}
		}
		if r.first.Is4In6() || r.last.Is4In6() {
			return nil, fmt.Errorf("address pool entry %q: IPv4-mapped IPv6 addresses are not allowed", part)
		}
		for _, o := range p.ranges {
			if o.first.Is4() == r.first.Is4() && !r.last.Less(o.first) && !o.last.Less(r.first) {
				return nil, fmt.Errorf("address pool entry %q overlaps %s-%s", part, o.first, o.last)
			}
		}
		p.ranges = append(p.ranges, r)
	}
	return p, nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// String is the pool as configured ("" for a nil pool).
func (p *Pool) String() string {
	if p == nil {
		return ""
	}
	return p.text
}

// Contains reports whether a is in the pool.
func (p *Pool) Contains(a netip.Addr) bool {
	for _, r := range p.ranges {
		if a.Is4() == r.first.Is4() && !a.Less(r.first) && !r.last.Less(a) {
			return true
		}
	}
	return false
}

// Size is the number of addresses in the pool (as a float: IPv6 pools can be huge).
func (p *Pool) Size() float64 {
	total := new(big.Int)
	for _, r := range p.ranges {
		n := new(big.Int).Sub(new(big.Int).SetBytes(r.last.AsSlice()), new(big.Int).SetBytes(r.first.AsSlice()))
		total.Add(total, n.Add(n, big.NewInt(1)))
	}
	f, _ := new(big.Float).SetInt(total).Float64()
	return f
}

// firstFree returns the lowest address of the pool, in configuration order, for which used is false.
// Each range is walked from its start, so the cost is at most the number of used addresses plus one.
func (p *Pool) firstFree(used func(netip.Addr) bool) (netip.Addr, bool) {
	for _, r := range p.ranges {
		for a := r.first; ; a = a.Next() {
			if !used(a) {
				return a, true
			}
			if a == r.last {
				break
			}
		}
	}
	return netip.Addr{}, false
}
