package nodeipam

import (
	"errors"
	"fmt"
	"math/big"
	"net/netip"
)

// maxSubnetBits bounds the number of node ranges (2^20) so the bitmap stays small.
const maxSubnetBits = 20

// cidrSet hands out the node-sized subnets of a cluster CIDR. It is not safe for concurrent use.
type cidrSet struct {
	cluster  netip.Prefix
	mask     int // node mask size
	n        int // number of subnets
	used     []uint64
	count    int
	next     int // where the search for a free subnet starts
	hostBits int
}

// newCIDRSet parses the cluster CIDR and checks the node mask against it.
func newCIDRSet(clusterCIDR string, mask int) (*cidrSet, error) {
	p, err := netip.ParsePrefix(clusterCIDR)
	if err != nil {
		return nil, fmt.Errorf("cluster CIDR %q: %w", clusterCIDR, err)
	}
	if p.Masked() != p {
		return nil, fmt.Errorf("cluster CIDR %q: has host bits set (did you mean %s?)", clusterCIDR, p.Masked())
	}
	total := p.Addr().BitLen()
	if mask < p.Bits() || mask > total {
		return nil, fmt.Errorf("node CIDR mask size %d: must be between the cluster CIDR's %d and %d", mask, p.Bits(), total)
	}
	if mask-p.Bits() > maxSubnetBits {
		return nil, fmt.Errorf("node CIDR mask size %d: more than 2^%d node ranges in cluster CIDR %s; use a larger mask size or a smaller cluster CIDR",
			mask, maxSubnetBits, clusterCIDR)
	}
	n := 1 << (mask - p.Bits())
	return &cidrSet{cluster: p, mask: mask, n: n, used: make([]uint64, (n+63)/64), hostBits: total - mask}, nil
}

func (s *cidrSet) subnet(i int) netip.Prefix {
	base := new(big.Int).SetBytes(s.cluster.Addr().AsSlice())
	base.Add(base, new(big.Int).Lsh(big.NewInt(int64(i)), uint(s.hostBits)))
	b := base.FillBytes(make([]byte, s.cluster.Addr().BitLen()/8))
	a, _ := netip.AddrFromSlice(b)
	return netip.PrefixFrom(a, s.mask)
}

var errNotInCluster = errors.New("not a node range of the cluster CIDR")

// index returns the position of p in the set, or errNotInCluster.
func (s *cidrSet) index(p netip.Prefix) (int, error) {
	if p.Bits() != s.mask || !s.cluster.Contains(p.Addr()) || p.Masked() != p {
		return 0, errNotInCluster
	}
	off := new(big.Int).Sub(new(big.Int).SetBytes(p.Addr().AsSlice()), new(big.Int).SetBytes(s.cluster.Addr().AsSlice()))
	return int(off.Rsh(off, uint(s.hostBits)).Int64()), nil
}

func (s *cidrSet) isUsed(i int) bool { return s.used[i/64]&(1<<(i%64)) != 0 }

// occupy marks p used; it reports whether it was free before.
func (s *cidrSet) occupy(p netip.Prefix) (bool, error) {
	i, err := s.index(p)
	if err != nil {
		return false, err
	}
	if s.isUsed(i) {
		return false, nil
	}
	s.used[i/64] |= 1 << (i % 64)
	s.count++
	return true, nil
}

// release frees p (a no-op when it is free or outside the set).
func (s *cidrSet) release(p netip.Prefix) {
	i, err := s.index(p)
	if err != nil || !s.isUsed(i) {
		return
	}
	s.used[i/64] &^= 1 << (i % 64)
	s.count--
}

// allocate takes the next free subnet after the last one handed out; false when all are used.
func (s *cidrSet) allocate() (netip.Prefix, bool) {
	if s.count == s.n {
		return netip.Prefix{}, false
	}
	for k := 0; k < s.n; {
		i := (s.next + k) % s.n
		if i%64 == 0 && s.used[i/64] == ^uint64(0) && i+64 <= s.n {
			k += 64 // a full word
			continue
		}
		if !s.isUsed(i) {
			s.used[i/64] |= 1 << (i % 64)
			s.count++
			s.next = (i + 1) % s.n
			return s.subnet(i), true
		}
		k++
	}
	return netip.Prefix{}, false
}

// free is the number of unused subnets.
func (s *cidrSet) free() int { return s.n - s.count }
