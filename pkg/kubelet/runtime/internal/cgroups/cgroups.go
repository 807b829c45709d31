//go:build linux

package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CPUPeriod is the CFS period used for CPU limits (100ms, like the kubelet).
const CPUPeriod = 100000

// Limits for one cgroup; 0 means unlimited.
type Limits struct {
	CPUMilli    int64
	MemoryBytes int64
}

// Version of the cgroup hierarchy in use.
type Version int

// Versions.
const (
	Disabled Version = 0
	V1       Version = 1
	V2       Version = 2
)

// Manager manages cgroups below one root. Paths given to its methods are
// relative to that root ("pod-x", "pod-x/ctr-y").
type Manager struct {
	version Version
	// v2: base directory. v1: base directory per controller.
	base2 string
	base1 map[string]string
	cpu   bool
	mem   bool
	log   *slog.Logger
}

type mount struct {
	point, root, fstype string
	super               []string
}

func readMounts() ([]mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mount
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		sep := -1
		for i, fl := range fields {
			if fl == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || len(fields) < sep+4 {
			continue
		}
		fstype := fields[sep+1]
		if fstype != "cgroup" && fstype != "cgroup2" {
			continue
		}
		out = append(out, mount{point: fields[4], root: fields[3], fstype: fstype, super: strings.Split(fields[sep+3], ",")})
	}
	return out, s.Err()
}

// ownCgroups parses /proc/self/cgroup: controller ("" for v2) → path.
func ownCgroups() (map[string]string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out, nil
}

// dirFor maps the root option to a directory of a hierarchy mounted at m: an
// absolute root is below the hierarchy's root, a relative one below own
// (the process's cgroup in that hierarchy).
func dirFor(m mount, root, own string) string {
	p := root
	if !path.IsAbs(root) {
		p = path.Join(own, root)
	}
	rel := strings.TrimPrefix(p, m.root)
	if m.root != "/" && !strings.HasPrefix(p, m.root) {
		rel = p // outside the mounted subtree: best effort
	}
	return filepath.Join(m.point, rel)
}

// New detects the cgroup setup and returns a manager for root: an absolute
// path is relative to the hierarchy's root, a relative one to the cgroup the
// calling process is in.
func New(root string, log *slog.Logger) (*Manager, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if root == "" {
		return nil, fmt.Errorf("cgroups: root is empty")
	}
	m := &Manager{log: log, base1: map[string]string{}}
	mounts, err := readMounts()
	if err != nil {
		return nil, fmt.Errorf("cgroups: read mountinfo: %w", err)
	}
	own, err := ownCgroups()
	if err != nil {
		return nil, fmt.Errorf("cgroups: read own cgroup: %w", err)
	}
	for _, mt := range mounts {
		if mt.fstype != "cgroup2" {
			continue
		}
		ctrls, err := os.ReadFile(filepath.Join(mt.point, "cgroup.controllers"))
		if err != nil {
			continue
		}
		set := strings.Fields(string(ctrls))
		m.cpu, m.mem = contains(set, "cpu"), contains(set, "memory")
		if m.cpu || m.mem {
			m.version = V2
			m.base2 = dirFor(mt, root, own[""])
			break
		}
	}
	if m.version == 0 {
		for _, mt := range mounts {
			if mt.fstype != "cgroup" {
				continue
			}
			for _, c := range []string{"cpu", "memory"} {
				if contains(mt.super, c) && m.base1[c] == "" {
					m.base1[c] = dirFor(mt, root, own[c])
				}
			}
		}
		m.cpu, m.mem = m.base1["cpu"] != "", m.base1["memory"] != ""
		if m.cpu || m.mem {
			m.version = V1
		}
	}
	switch {
	case m.version == Disabled:
		log.Warn("cgroup limits disabled", "reason", "no cgroup v2 or v1 hierarchy with the cpu or memory controller")
	case !m.cpu:
		log.Warn("cgroup cpu limits disabled", "reason", "cpu controller missing", "version", int(m.version))
	case !m.mem:
		log.Warn("cgroup memory limits disabled", "reason", "memory controller missing", "version", int(m.version))
	}
	if m.version == V1 {
		log.Info("using cgroup v1 controllers", "reason", "cgroup v2 hierarchy lacks cpu and memory")
	}
	return m, nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Version returns the hierarchy version in use (Disabled if none).
func (m *Manager) Version() Version { return m.version }

// CPU and Memory report whether the respective limits are enforced.
func (m *Manager) CPU() bool    { return m.cpu }
func (m *Manager) Memory() bool { return m.mem }

// Dirs returns the directories of rel, per controller ("" for v2).
func (m *Manager) Dirs(rel string) map[string]string {
	out := map[string]string{}
	switch m.version {
	case V2:
		out[""] = filepath.Join(m.base2, rel)
	case V1:
		for c, b := range m.base1 {
			out[c] = filepath.Join(b, rel)
		}
	}
	return out
}

func write(dir, file, val string) error {
	if err := os.WriteFile(filepath.Join(dir, file), []byte(val), 0o644); err != nil {
		return fmt.Errorf("cgroups: write %q to %s: %w", val, filepath.Join(dir, file), err)
	}
	return nil
}

// Create makes the cgroup rel (and its parents) and applies lim.
func (m *Manager) Create(rel string, lim Limits) error {
	switch m.version {
	case V2:
		return m.create2(rel, lim)
	case V1:
		return m.create1(rel, lim)
	}
	return nil
}

func (m *Manager) create2(rel string, lim Limits) error {
	dir := filepath.Join(m.base2, rel)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cgroups: create %s: %w", dir, err)
	}
	var enable []string
	if m.cpu {
		enable = append(enable, "+cpu")
	}
	if m.mem {
		enable = append(enable, "+memory")
	}
	// Delegate the controllers down to dir's parent: from the hierarchy
	// root is not needed where they are already enabled, so walk up from the
	// parent until a cgroup that has them.
	var chain []string
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		chain = append(chain, p)
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "cgroup.subtree_control")); err != nil || p == filepath.Dir(p) {
			break
		}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		cur, err := os.ReadFile(filepath.Join(chain[i], "cgroup.subtree_control"))
		if err != nil {
			continue
		}
		have := strings.Fields(string(cur))
		var missing []string
		for _, e := range enable {
			if !contains(have, e[1:]) {
				missing = append(missing, e)
			}
		}
		if len(missing) > 0 {
			if err := write(chain[i], "cgroup.subtree_control", strings.Join(missing, " ")); err != nil {
				return err
			}
		}
	}
	if m.cpu {
		v := "max"
		if lim.CPUMilli > 0 {
			v = strconv.FormatInt(quota(lim.CPUMilli), 10)
		}
		if err := write(dir, "cpu.max", v+" "+strconv.Itoa(CPUPeriod)); err != nil {
			return err
		}
	}
	if m.mem {
		v := "max"
		if lim.MemoryBytes > 0 {
			v = strconv.FormatInt(lim.MemoryBytes, 10)
			if _, err := os.Stat(filepath.Join(dir, "memory.swap.max")); err == nil {
				_ = write(dir, "memory.swap.max", "0")
			}
		}
		if err := write(dir, "memory.max", v); err != nil {
			return err
		}
	}
	return nil
}

func quota(milli int64) int64 {
	q := milli * CPUPeriod / 1000
	if q < 1000 {
		q = 1000 // the kernel's minimum quota is 1ms
	}
	return q
}

func (m *Manager) create1(rel string, lim Limits) error {
	for c, b := range m.base1 {
		dir := filepath.Join(b, rel)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("cgroups: create %s: %w", dir, err)
		}
		switch c {
		case "cpu":
			if err := write(dir, "cpu.cfs_period_us", strconv.Itoa(CPUPeriod)); err != nil {
				return err
			}
			q := "-1"
			if lim.CPUMilli > 0 {
				q = strconv.FormatInt(quota(lim.CPUMilli), 10)
			}
			if err := write(dir, "cpu.cfs_quota_us", q); err != nil {
				return err
			}
		case "memory":
			if lim.MemoryBytes > 0 {
				if err := write(dir, "memory.limit_in_bytes", strconv.FormatInt(lim.MemoryBytes, 10)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// AddProc moves pid into rel.
func (m *Manager) AddProc(rel string, pid int) error {
	for _, dir := range m.Dirs(rel) {
		if err := write(dir, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// OOMKills returns how many processes of rel the OOM killer killed.
func (m *Manager) OOMKills(rel string) (uint64, error) {
	var file string
	var dir string
	switch {
	case !m.mem:
		return 0, nil
	case m.version == V2:
		dir, file = filepath.Join(m.base2, rel), "memory.events"
	default:
		dir, file = filepath.Join(m.base1["memory"], rel), "memory.oom_control"
	}
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return 0, fmt.Errorf("cgroups: %w", err)
	}
	return ParseOOMKills(data)
}

// ParseOOMKills extracts the "oom_kill N" counter from memory.events (v2) or
// memory.oom_control (v1) content. A file without the line counts 0.
func ParseOOMKills(data []byte) (uint64, error) {
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok || k != "oom_kill" {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cgroups: oom_kill value %q: %w", v, err)
		}
		return n, nil
	}
	return 0, nil
}

// Procs lists the PIDs in rel (and, for v2, not its children).
func (m *Manager) Procs(rel string) ([]int, error) {
	seen := map[int]bool{}
	var out []int
	for _, dir := range m.Dirs(rel) {
		data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cgroups: %w", err)
		}
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
				seen[pid] = true
				out = append(out, pid)
			}
		}
	}
	return out, nil
}

// Destroy kills every process left in rel and its children, then removes
// the cgroups, deepest first. A missing cgroup is not an error.
func (m *Manager) Destroy(rel string) error {
	var errs []error
	for _, dir := range m.Dirs(rel) {
		if err := destroyTree(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func destroyTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cgroups: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := destroyTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := write(dir, "cgroup.kill", "1"); err != nil {
			data, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		err := syscall.Rmdir(dir)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("cgroups: remove %s: %w", dir, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
