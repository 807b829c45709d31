package procstat

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat: USER_HZ, which Linux fixes at 100 for
// every architecture's user-space ABI (sysconf(_SC_CLK_TCK)).
const userHZ = 100

// Stat is one reading of a process.
type Stat struct {
	RSSBytes   uint64
	CPUSeconds float64 // user + system, since the process started
}

// Read reads /proc/<pid>/status and /proc/<pid>/stat.
func Read(pid int) (Stat, error) {
	return readFrom("/proc", pid)
}

func readFrom(root string, pid int) (Stat, error) {
	dir := fmt.Sprintf("%s/%d", root, pid)
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return Stat{}, fmt.Errorf("process %d: %w", pid, err)
	}
	rss, err := ParseStatusRSS(status)
	if err != nil {
		return Stat{}, fmt.Errorf("process %d: %w", pid, err)
	}
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return Stat{}, fmt.Errorf("process %d: %w", pid, err)
	}
	utime, stime, err := ParseStatCPU(stat)
	if err != nil {
		return Stat{}, fmt.Errorf("process %d: %w", pid, err)
	}
	return Stat{RSSBytes: rss, CPUSeconds: float64(utime+stime) / userHZ}, nil
}

// ParseStatusRSS returns VmRSS from the contents of /proc/<pid>/status, in bytes. A zombie or kernel
// thread has no VmRSS line: that is 0, not an error.
func ParseStatusRSS(status []byte) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("status VmRSS: want `<n> kB`, got %q", strings.TrimSpace(rest))
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("status VmRSS: %q is not a number", f[0])
		}
		return kb * 1024, nil
	}
	if !bytes.Contains(status, []byte("Name:")) {
		return 0, errors.New("status: not a /proc/<pid>/status file (no Name: line)")
	}
	return 0, nil
}

// ParseStatCPU returns utime and stime (fields 14 and 15, in clock ticks) from the contents of
// /proc/<pid>/stat. The command name (field 2) is in parentheses and may itself contain spaces and
// parentheses, so fields are counted after the last ')'.
func ParseStatCPU(stat []byte) (utime, stime uint64, err error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, errors.New("stat: no ')' closing the command name")
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state): utime (14) is f[11], stime (15) is f[12].
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("stat: %d fields after the command name, want at least 13", len(f))
	}
	if utime, err = strconv.ParseUint(f[11], 10, 64); err != nil {
		return 0, 0, fmt.Errorf("stat utime: %q is not a number", f[11])
	}
	if stime, err = strconv.ParseUint(f[12], 10, 64); err != nil {
		return 0, 0, fmt.Errorf("stat stime: %q is not a number", f[12])
	}
	return utime, stime, nil
}

// Usage is what the sampler saw of one process (or group) in the current window.
type Usage struct {
	// RSSBytes is the last sampled RSS; PeakRSSBytes the highest in the window.
	RSSBytes     uint64 `json:"rss_bytes"`
	PeakRSSBytes uint64 `json:"peak_rss_bytes"`
	// CPUSeconds is the CPU time spent since the window started.
	CPUSeconds float64 `json:"cpu_seconds"`
	// Samples counts the readings in the window; Exited is set once the process is gone.
	Samples int  `json:"samples"`
	Exited  bool `json:"exited,omitempty"`
}

type target struct {
	name    string
	pid     int
	groups  []string
	last    Stat
	base    float64 // CPU seconds at the start of the window
	peak    uint64
	samples int
	exited  bool
	seen    bool
}

// Sampler samples registered processes every Interval while Run runs.
type Sampler struct {
	interval time.Duration
	read     func(pid int) (Stat, error)

	mu        sync.Mutex
	targets   []*target
	groupLast map[string]uint64
	groupPeak map[string]uint64
}

// NewSampler returns a sampler reading every interval (200ms if <= 0).
func NewSampler(interval time.Duration) *Sampler {
	if interval <= 0 {
		interval = 200 * time.Millisecond
	}
	return &Sampler{interval: interval, read: Read, groupLast: map[string]uint64{}, groupPeak: map[string]uint64{}}
}

// Add registers process pid under name (unique), counted in the given groups, and reads it once (the
// groups' sums start with the next Sample).
func (s *Sampler) Add(name string, pid int, groups ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.ContainsFunc(s.targets, func(t *target) bool { return t.name == name }) {
		return fmt.Errorf("procstat: process name %q already added", name)
	}
	t := &target{name: name, pid: pid, groups: groups}
	st, err := s.read(pid)
	if err != nil {
		return fmt.Errorf("procstat: %s: %w", name, err)
	}
	t.last, t.base, t.peak, t.samples, t.seen = st, st.CPUSeconds, st.RSSBytes, 1, true
	s.targets = append(s.targets, t)
	return nil
}

// Run samples until ctx ends.
func (s *Sampler) Run(ctx context.Context) {
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.Sample()
		}
	}
}

// Sample reads every live process once now.
func (s *Sampler) Sample() {
	s.mu.Lock()
	targets := slices.Clone(s.targets)
	s.mu.Unlock()
	type reading struct {
		st  Stat
		err error
	}
	readings := make([]reading, len(targets))
	for i, t := range targets {
		if t.exited {
			continue
		}
		readings[i].st, readings[i].err = s.read(t.pid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sums := map[string]uint64{}
	for i, t := range targets {
		if !t.exited {
			if readings[i].err != nil {
				t.exited = true
				t.last.RSSBytes = 0
			} else {
				t.last = readings[i].st
				t.peak = max(t.peak, t.last.RSSBytes)
				t.samples++
			}
		}
		for _, g := range t.groups {
			sums[g] += t.last.RSSBytes
		}
	}
	for g, v := range sums {
		s.groupLast[g] = v
		s.groupPeak[g] = max(s.groupPeak[g], v)
	}
}

// Reset starts a new window: peaks restart from the current RSS, CPU counts from now.
func (s *Sampler) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.targets {
		t.base, t.peak, t.samples = t.last.CPUSeconds, t.last.RSSBytes, 0
	}
	for g := range s.groupPeak {
		s.groupPeak[g] = s.groupLast[g]
	}
}

// Usage returns the window's usage of each process by name.
func (s *Sampler) Usage() map[string]Usage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Usage, len(s.targets))
	for _, t := range s.targets {
		out[t.name] = Usage{RSSBytes: t.last.RSSBytes, PeakRSSBytes: t.peak, CPUSeconds: t.last.CPUSeconds - t.base,
			Samples: t.samples, Exited: t.exited}
	}
	return out
}

// GroupUsage returns a group's usage: the last and peak of the summed RSS of its processes (sampled
// at the same instants) and the sum of their CPU seconds in the window.
func (s *Sampler) GroupUsage(group string) Usage {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := Usage{RSSBytes: s.groupLast[group], PeakRSSBytes: s.groupPeak[group]}
	for _, t := range s.targets {
		if slices.Contains(t.groups, group) {
			u.CPUSeconds += t.last.CPUSeconds - t.base
			u.Samples = max(u.Samples, t.samples)
		}
	}
	return u
}
