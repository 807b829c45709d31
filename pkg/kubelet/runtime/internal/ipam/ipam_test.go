package ipam

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestAllocateExhaustRelease(t *testing.T) {
	tests := []struct {
		name     string
		prefix   string
		reserved []string
		want     int // allocatable addresses
	}{
		{"slash30", "10.0.0.0/30", nil, 2},
		{"slash29 with gateway", "10.0.0.0/29", []string{"10.0.0.1"}, 5},
		{"slash24 gateway", "10.244.1.0/24", []string{"10.244.1.1"}, 253},
		{"unmasked input", "127.100.3.7/22", nil, 1022},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Prefix: netip.MustParsePrefix(tc.prefix)}
			for _, r := range tc.reserved {
				cfg.Reserved = append(cfg.Reserved, netip.MustParseAddr(r))
			}
			a, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			p := cfg.Prefix.Masked()
			seen := map[netip.Addr]bool{}
			for i := 0; i < tc.want; i++ {
				ip, err := a.Allocate("o")
				if err != nil {
					t.Fatalf("allocation %d: %v", i, err)
				}
				if seen[ip] {
					t.Fatalf("duplicate %s", ip)
				}
				seen[ip] = true
				if !p.Contains(ip) || ip == p.Addr() {
					t.Fatalf("bad address %s for %s", ip, p)
				}
				for _, r := range cfg.Reserved {
					if ip == r {
						t.Fatalf("reserved %s allocated", ip)
					}
				}
			}
			if _, err := a.Allocate("o"); !errors.Is(err, ErrExhausted) {
				t.Fatalf("want ErrExhausted, got %v", err)
			}
			var one netip.Addr
			for ip := range seen {
				one = ip
				break
			}
			if err := a.Release(one); err != nil {
				t.Fatal(err)
			}
			got, err := a.Allocate("o")
			if err != nil || got != one {
				t.Fatalf("after release got %s, %v; want %s", got, err, one)
			}
		})
	}
}

func TestNextFit(t *testing.T) {
	a, err := New(Config{Prefix: netip.MustParsePrefix("10.1.0.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := a.Allocate("a")
	if err := a.Release(first); err != nil {
		t.Fatal(err)
	}
	second, _ := a.Allocate("b")
	if second == first {
		t.Fatalf("released address %s reused immediately", first)
	}
}

func TestBadConfig(t *testing.T) {
	for _, tc := range []Config{
		{},
		{Prefix: netip.MustParsePrefix("fd00::/64")},
		{Prefix: netip.MustParsePrefix("10.0.0.0/31")},
		{Prefix: netip.MustParsePrefix("10.0.0.0/7")},
		{Prefix: netip.MustParsePrefix("10.0.0.0/24"), Reserved: []netip.Addr{netip.MustParseAddr("10.0.1.1")}},
	} {
		if _, err := New(tc); err == nil {
			t.Errorf("New(%+v): want error", tc)
		}
	}
}

func TestPersistence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ipam.json")
	cfg := Config{Prefix: netip.MustParsePrefix("10.244.1.0/24"), Reserved: []netip.Addr{netip.MustParseAddr("10.244.1.1")}, StatePath: path}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := a.Allocate("x")
	y, _ := a.Allocate("y")
	z, _ := a.Allocate("z")
	if err := a.Release(y); err != nil {
		t.Fatal(err)
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := b.Allocations()
	if len(got) != 2 || got[x] != "x" || got[z] != "z" {
		t.Fatalf("reloaded allocations %v", got)
	}
	if b.Free() != 253-2 {
		t.Fatalf("free %d", b.Free())
	}
	for i := 0; i < 251; i++ {
		ip, err := b.Allocate("n")
		if err != nil {
			t.Fatal(err)
		}
		if ip == x || ip == z {
			t.Fatalf("persisted address %s handed out again", ip)
		}
	}
	// A state file for another prefix is rejected.
	if _, err := New(Config{Prefix: netip.MustParsePrefix("10.244.2.0/24"), StatePath: path}); err == nil {
		t.Fatal("want prefix mismatch error")
	}
	if err := os.WriteFile(path, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg); err == nil {
		t.Fatal("want decode error")
	}
}

func TestConcurrentUnique(t *testing.T) {
	a, err := New(Config{Prefix: netip.MustParsePrefix("127.100.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[netip.Addr]bool{}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				ip, err := a.Allocate("c")
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[ip] {
					t.Errorf("duplicate %s", ip)
				}
				seen[ip] = true
				mu.Unlock()
				if i%3 == 0 {
					mu.Lock()
					delete(seen, ip)
					mu.Unlock()
					if err := a.Release(ip); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
}

func FuzzLoadState(f *testing.F) {
	f.Add([]byte(`{"prefix":"10.244.1.0/24","allocations":{"10.244.1.2":"a"}}`))
	f.Add([]byte(`{"prefix":"10.244.1.0/24","allocations":{"10.244.1.1":"gw"}}`))
	f.Add([]byte(`{"prefix":"10.244.1.0/24","allocations":{"10.244.2.1":"x","10.244.1.255":"b"}}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "s.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		gw := netip.MustParseAddr("10.244.1.1")
		a, err := New(Config{Prefix: netip.MustParsePrefix("10.244.1.0/24"), Reserved: []netip.Addr{gw}, StatePath: path})
		if err != nil {
			return
		}
		loaded := a.Allocations()
		for ip := range loaded {
			if ip == gw || ip.As4()[3] == 0 || ip.As4()[3] == 255 {
				t.Fatalf("loaded reserved address %s", ip)
			}
		}
		if a.Free() != 253-len(loaded) {
			t.Fatalf("free %d with %d loaded", a.Free(), len(loaded))
		}
		for a.Free() > 0 {
			ip, err := a.Allocate("n")
			if err != nil {
				t.Fatal(err)
			}
			if _, dup := loaded[ip]; dup || ip == gw {
				t.Fatalf("handed out taken address %s", ip)
			}
			loaded[ip] = "n"
		}
	})
}
