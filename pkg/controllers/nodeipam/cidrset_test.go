package nodeipam

import (
	"net/netip"
	"strings"
	"testing"
)

func TestNewCIDRSet(t *testing.T) {
	tests := []struct {
		cidr    string
		mask    int
		n       int
		wantErr string
	}{
		{"10.244.0.0/16", 24, 256, ""},
		{"10.0.0.0/8", 24, 65536, ""},
		{"10.244.0.0/24", 24, 1, ""},
		{"fd00:10::/56", 64, 256, ""},
		{"10.244.0.1/16", 24, 0, "host bits"},
		{"10.244.0.0/16", 15, 0, "between"},
		{"10.244.0.0/16", 33, 0, "between"},
		{"10.0.0.0/8", 30, 0, "more than 2^20"},
		{"banana", 24, 0, "cluster CIDR"},
	}
	for _, tt := range tests {
		s, err := newCIDRSet(tt.cidr, tt.mask)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("newCIDRSet(%s, %d) error = %v; want %q", tt.cidr, tt.mask, err, tt.wantErr)
			}
			continue
		}
		if err != nil || s.n != tt.n {
			t.Errorf("newCIDRSet(%s, %d) = %v, %v; want %d ranges", tt.cidr, tt.mask, s, err, tt.n)
		}
	}
}

func TestCIDRSetAllocate(t *testing.T) {
	s, err := newCIDRSet("10.1.0.0/22", 24)
	if err != nil {
		t.Fatal(err)
	}
	// A range already in use (found on a node at start) is skipped.
	if fresh, err := s.occupy(netip.MustParsePrefix("10.1.1.0/24")); !fresh || err != nil {
		t.Fatalf("occupy = %v, %v", fresh, err)
	}
	if fresh, _ := s.occupy(netip.MustParsePrefix("10.1.1.0/24")); fresh {
		t.Fatalf("occupying twice reported a free range")
	}
	for _, bad := range []string{"10.2.0.0/24", "10.1.0.0/25", "10.1.0.0/23"} {
		if _, err := s.occupy(netip.MustParsePrefix(bad)); err == nil {
			t.Errorf("occupy(%s) accepted a range that is not a node range", bad)
		}
	}
	var got []string
	for {
		p, ok := s.allocate()
		if !ok {
			break
		}
		got = append(got, p.String())
	}
	want := []string{"10.1.0.0/24", "10.1.2.0/24", "10.1.3.0/24"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("allocated %v, want %v", got, want)
	}
	if s.free() != 0 {
		t.Fatalf("free = %d after exhaustion", s.free())
	}
	s.release(netip.MustParsePrefix("10.1.2.0/24"))
	s.release(netip.MustParsePrefix("10.1.2.0/24")) // twice: no-op
	if s.free() != 1 {
		t.Fatalf("free = %d after one release", s.free())
	}
	if p, ok := s.allocate(); !ok || p.String() != "10.1.2.0/24" {
		t.Fatalf("allocate after release = %v, %v", p, ok)
	}
}

func TestCIDRSetIPv6AndLarge(t *testing.T) {
	s, err := newCIDRSet("fd00:1::/48", 64)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[netip.Prefix]bool{}
	for i := range 1 << 16 {
		p, ok := s.allocate()
		if !ok {
			t.Fatalf("exhausted after %d", i)
		}
		if seen[p] || !s.cluster.Contains(p.Addr()) || p.Bits() != 64 {
			t.Fatalf("bad or duplicate range %s", p)
		}
		seen[p] = true
	}
	if _, ok := s.allocate(); ok {
		t.Fatalf("allocated more than 2^16 /64s from a /48")
	}
	if i, err := s.index(netip.MustParsePrefix("fd00:1:0:ffff::/64")); err != nil || i != 0xffff {
		t.Fatalf("index = %d, %v", i, err)
	}
}

// FuzzCIDRSet: any accepted cluster CIDR yields distinct ranges inside it, each found again by index.
func FuzzCIDRSet(f *testing.F) {
	f.Add("10.244.0.0/16", 24, 5)
	f.Add("fd00::/120", 124, 20)
	f.Add("0.0.0.0/0", 20, 3)
	f.Fuzz(func(t *testing.T, cidr string, mask int, allocs int) {
		s, err := newCIDRSet(cidr, mask)
		if err != nil {
			return
		}
		allocs = min(max(allocs, 0), 300)
		seen := map[netip.Prefix]bool{}
		for range allocs {
			p, ok := s.allocate()
			if !ok {
				if s.free() != 0 {
					t.Fatalf("allocate failed with %d free", s.free())
				}
				break
			}
			if seen[p] || !s.cluster.Contains(p.Addr()) || p.Bits() != s.mask || p.Masked() != p {
				t.Fatalf("bad or duplicate range %s from %s/%d", p, cidr, mask)
			}
			if i, err := s.index(p); err != nil || s.subnet(i) != p {
				t.Fatalf("index(%s) = %d, %v", p, i, err)
			}
			seen[p] = true
		}
		if s.count != len(seen) {
			t.Fatalf("count %d, allocated %d", s.count, len(seen))
		}
	})
}

// BenchmarkAllocateNearlyFull: allocate and release one range in a /8 of /24s with one free range left.
func BenchmarkAllocateNearlyFull(b *testing.B) {
	s, err := newCIDRSet("10.0.0.0/8", 24)
	if err != nil {
		b.Fatal(err)
	}
	for range s.n - 1 {
		s.allocate()
	}
	b.ReportAllocs()
	for b.Loop() {
		p, ok := s.allocate()
		if !ok {
			b.Fatal("full")
		}
		s.release(p)
	}
}
