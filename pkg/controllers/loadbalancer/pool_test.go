package loadbalancer

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParsePool(t *testing.T) {
	tests := []struct {
		in      string
		size    float64
		in1     []string
		out     []string
		wantErr string
	}{
		{in: "172.18.255.200-172.18.255.250", size: 51, in1: []string{"172.18.255.200", "172.18.255.250"}, out: []string{"172.18.255.199", "172.18.255.251", "::1"}},
		{in: "10.0.0.0/30", size: 4, in1: []string{"10.0.0.0", "10.0.0.3"}, out: []string{"10.0.0.4"}},
		{in: " 10.0.0.0/31 , 10.0.1.5 - 10.0.1.5 ", size: 3, in1: []string{"10.0.0.1", "10.0.1.5"}, out: []string{"10.0.1.4", "10.0.1.6"}},
		{in: "fd00::/120,10.0.0.1-10.0.0.1", size: 257, in1: []string{"fd00::ff", "10.0.0.1"}, out: []string{"fd00::100"}},
		{in: "10.0.0.5/24", size: 256, in1: []string{"10.0.0.0"}},
		{in: "", wantErr: "empty entry"},
		{in: "10.0.0.1-10.0.0.0", wantErr: "end is before start"},
		{in: "10.0.0.1-fd00::1", wantErr: "different IP families"},
		{in: "10.0.0.0/24,10.0.0.128-10.0.1.1", wantErr: "overlaps"},
		{in: "banana", wantErr: "not a range"},
		{in: "10.0.0.1-x", wantErr: "end"},
		{in: "fe80::1%eth0-fe80::2%eth0", wantErr: "zones"},
		{in: "::ffff:10.0.0.1-::ffff:10.0.0.2", wantErr: "IPv4-mapped"},
	}
	for _, tt := range tests {
		p, err := ParsePool(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParsePool(%q) error = %v; want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParsePool(%q): %v", tt.in, err)
			continue
		}
		if p.Size() != tt.size {
			t.Errorf("ParsePool(%q).Size() = %v, want %v", tt.in, p.Size(), tt.size)
		}
		for _, a := range tt.in1 {
			if !p.Contains(netip.MustParseAddr(a)) {
				t.Errorf("pool %q should contain %s", tt.in, a)
			}
		}
		for _, a := range tt.out {
			if p.Contains(netip.MustParseAddr(a)) {
				t.Errorf("pool %q should not contain %s", tt.in, a)
			}
		}
	}
}

func TestFirstFree(t *testing.T) {
	p, err := ParsePool("10.0.0.1-10.0.0.2,10.0.1.0/31")
	if err != nil {
		t.Fatal(err)
	}
	used := map[netip.Addr]bool{}
	var got []string
	for {
		a, ok := p.firstFree(func(a netip.Addr) bool { return used[a] })
		if !ok {
			break
		}
		used[a] = true
		got = append(got, a.String())
	}
	if want := "10.0.0.1 10.0.0.2 10.0.1.0 10.0.1.1"; strings.Join(got, " ") != want {
		t.Fatalf("allocation order %v, want %s", got, want)
	}
	delete(used, netip.MustParseAddr("10.0.0.2"))
	if a, ok := p.firstFree(func(a netip.Addr) bool { return used[a] }); !ok || a.String() != "10.0.0.2" {
		t.Fatalf("after release: %v, %v", a, ok)
	}
	// The last address of the whole space terminates the walk.
	top, _ := ParsePool("255.255.255.254/31")
	if _, ok := top.firstFree(func(netip.Addr) bool { return true }); ok {
		t.Fatalf("a full pool at the top of the space reported a free address")
	}
}

func FuzzParsePool(f *testing.F) {
	for _, s := range []string{"172.18.255.200-172.18.255.250", "10.0.0.0/30", "fd00::/120,10.0.0.1-10.0.0.1", "1.2.3.4-1.2.3.3", ","} {
		f.Add(s, uint8(3))
	}
	f.Fuzz(func(t *testing.T, s string, n uint8) {
		p, err := ParsePool(s)
		if err != nil {
			return
		}
		if p.Size() < 1 {
			t.Fatalf("pool %q has size %v", s, p.Size())
		}
		used := map[netip.Addr]bool{}
		for range int(n) {
			a, ok := p.firstFree(func(a netip.Addr) bool { return used[a] })
			if !ok {
				if float64(len(used)) != p.Size() {
					t.Fatalf("pool %q exhausted after %d of %v", s, len(used), p.Size())
				}
				return
			}
			if used[a] || !p.Contains(a) {
				t.Fatalf("pool %q handed out %s (used %v, contained %v)", s, a, used[a], p.Contains(a))
			}
			used[a] = true
		}
	})
}
