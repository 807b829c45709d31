package ipam

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// ErrExhausted is returned by Allocate when every address is in use.
var ErrExhausted = errors.New("address range exhausted")

// Config configures an Allocator.
type Config struct {
	// Prefix is the IPv4 range (at most /8, at least /30). Its network and
	// broadcast addresses are never allocated.
	Prefix netip.Prefix
	// Reserved addresses are never allocated (e.g. the gateway).
	Reserved []netip.Addr
	// StatePath, if set, is a JSON file holding the allocations; it is loaded
	// by New and rewritten atomically on every change.
	StatePath string
}

// Allocator hands out addresses of one prefix. It is safe for concurrent use.
type Allocator struct {
	mu       sync.Mutex
	base     uint32 // prefix network address
	size     uint32 // number of addresses in the prefix
	used     []uint64
	reserved map[uint32]bool
	owners   map[uint32]string
	next     uint32
	free     int
	path     string
	prefix   netip.Prefix
}

type stateFile struct {
	Prefix      string            `json:"prefix"`
	Allocations map[string]string `json:"allocations"` // address → owner
}

// New returns an allocator, loading StatePath if it exists.
func New(cfg Config) (*Allocator, error) {
	p := cfg.Prefix.Masked()
	if !p.IsValid() || !p.Addr().Is4() {
		return nil, fmt.Errorf("ipam: prefix %q: must be a valid IPv4 prefix", cfg.Prefix)
	}
	if p.Bits() < 8 || p.Bits() > 30 {
		return nil, fmt.Errorf("ipam: prefix %s: length must be between /8 and /30", p)
	}
	a := &Allocator{
		base:     u32(p.Addr()),
		size:     1 << (32 - p.Bits()),
		reserved: map[uint32]bool{},
		owners:   map[uint32]string{},
		path:     cfg.StatePath,
		prefix:   p,
	}
	a.used = make([]uint64, (a.size+63)/64)
	a.reserve(0)
	a.reserve(a.size - 1)
	for _, r := range cfg.Reserved {
		if !p.Contains(r) {
			return nil, fmt.Errorf("ipam: reserved address %s: not in prefix %s", r, p)
		}
		a.reserve(u32(r) - a.base)
	}
	a.free = int(a.size) - len(a.reserved)
	a.next = 1
	if a.path != "" {
		data, err := os.ReadFile(a.path)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("ipam: state file %s: %w", a.path, err)
		default:
			if err := a.load(data); err != nil {
				return nil, fmt.Errorf("ipam: state file %s: %w", a.path, err)
			}
		}
	}
	return a, nil
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func addr(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func (a *Allocator) reserve(off uint32) {
	a.reserved[off] = true
	a.used[off/64] |= 1 << (off % 64)
}

func (a *Allocator) isUsed(off uint32) bool { return a.used[off/64]&(1<<(off%64)) != 0 }

// load applies a persisted state (called by New before any allocation).
func (a *Allocator) load(data []byte) error {
	var st stateFile
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if st.Prefix != a.prefix.String() {
		return fmt.Errorf("prefix %q does not match configured %s", st.Prefix, a.prefix)
	}
	for s, owner := range st.Allocations {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("allocation %q: %w", s, err)
		}
		if !a.prefix.Contains(ip) {
			return fmt.Errorf("allocation %s: not in prefix %s", ip, a.prefix)
		}
		off := u32(ip) - a.base
		if a.isUsed(off) {
			return fmt.Errorf("allocation %s: reserved or duplicated", ip)
		}
		a.used[off/64] |= 1 << (off % 64)
		a.owners[off] = owner
		a.free--
	}
	return nil
}

// Allocate returns a free address recorded as belonging to owner.
func (a *Allocator) Allocate(owner string) (netip.Addr, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.free == 0 {
		return netip.Addr{}, fmt.Errorf("ipam: %s: %w", a.prefix, ErrExhausted)
	}
	for i := uint32(0); i < a.size; i++ {
		off := (a.next + i) % a.size
		if a.isUsed(off) {
			continue
		}
		a.used[off/64] |= 1 << (off % 64)
		a.owners[off] = owner
		a.free--
		a.next = (off + 1) % a.size
		if err := a.persist(); err != nil {
			a.used[off/64] &^= 1 << (off % 64)
			delete(a.owners, off)
			a.free++
			return netip.Addr{}, err
		}
		return addr(a.base + off), nil
	}
	return netip.Addr{}, fmt.Errorf("ipam: %s: %w", a.prefix, ErrExhausted)
}

// Release frees ip. Releasing a free, reserved or foreign address is a no-op.
func (a *Allocator) Release(ip netip.Addr) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.prefix.Contains(ip) {
		return nil
	}
	off := u32(ip) - a.base
	if _, ok := a.owners[off]; !ok {
		return nil
	}
	delete(a.owners, off)
	a.used[off/64] &^= 1 << (off % 64)
	a.free++
	return a.persist()
}

// Allocations returns a copy of the current allocations (address → owner).
func (a *Allocator) Allocations() map[netip.Addr]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := make(map[netip.Addr]string, len(a.owners))
	for off, o := range a.owners {
		m[addr(a.base+off)] = o
	}
	return m
}

// Free returns the number of addresses still available.
func (a *Allocator) Free() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.free
}

// persist writes the state file atomically; a.mu must be held.
func (a *Allocator) persist() error {
	if a.path == "" {
		return nil
	}
	st := stateFile{Prefix: a.prefix.String(), Allocations: make(map[string]string, len(a.owners))}
	offs := make([]uint32, 0, len(a.owners))
	for off := range a.owners {
		offs = append(offs, off)
	}
	sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
	for _, off := range offs {
		st.Allocations[addr(a.base+off).String()] = a.owners[off]
	}
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("ipam: encode state: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(a.path), 0o755); err != nil {
		return fmt.Errorf("ipam: state dir: %w", err)
	}
	tmp := a.path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("ipam: write state: %w", err)
	}
	if err := os.Rename(tmp, a.path); err != nil {
		return fmt.Errorf("ipam: write state: %w", err)
	}
	return nil
}
