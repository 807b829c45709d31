//go:build linux

package cgroups

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseOOMKills(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		err  bool
	}{
		{"low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\noom_group_kill 0\n", 2, false},
		{"oom_kill_disable 0\nunder_oom 0\noom_kill 5\n", 5, false},
		{"oom_kill_disable 0\nunder_oom 0\n", 0, false},
		{"oom_kill x\n", 0, true},
		{"", 0, false},
	}
	for _, tc := range tests {
		got, err := ParseOOMKills([]byte(tc.in))
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseOOMKills(%q) = %d, %v; want %d (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func FuzzParseOOMKills(f *testing.F) {
	f.Add([]byte("oom_kill 1\n"))
	f.Add([]byte("oom_kill_disable 0\noom_kill 18446744073709551615"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := ParseOOMKills(data)
		if err == nil && n > 0 && !strings.Contains(string(data), "oom_kill") {
			t.Fatalf("count %d from data without oom_kill", n)
		}
	})
}

func TestQuota(t *testing.T) {
	for milli, want := range map[int64]int64{1000: 100000, 500: 50000, 2500: 250000, 1: 1000} {
		if got := quota(milli); got != want {
			t.Errorf("quota(%d) = %d, want %d", milli, got, want)
		}
	}
}

// TestManager exercises the real hierarchy of this machine.
func TestManager(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("creating cgroups needs root")
	}
	rel := fmt.Sprintf("coxswain-cgtest-%d", os.Getpid())
	m, err := New(rel, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version() == Disabled {
		t.Skip("no usable cgroup hierarchy with cpu or memory on this machine")
	}
	t.Cleanup(func() { _ = m.Destroy("") })
	lim := Limits{CPUMilli: 250, MemoryBytes: 64 << 20}
	if err := m.Create("pod/ctr", lim); err != nil {
		t.Fatal(err)
	}
	dirs := m.Dirs("pod/ctr")
	read := func(dir, file string) string {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	switch m.Version() {
	case V2:
		if m.CPU() && read(dirs[""], "cpu.max") != "25000 100000" {
			t.Errorf("cpu.max = %q", read(dirs[""], "cpu.max"))
		}
		if m.Memory() && read(dirs[""], "memory.max") != "67108864" {
			t.Errorf("memory.max = %q", read(dirs[""], "memory.max"))
		}
	case V1:
		if m.CPU() && read(dirs["cpu"], "cpu.cfs_quota_us") != "25000" {
			t.Errorf("cpu.cfs_quota_us = %q", read(dirs["cpu"], "cpu.cfs_quota_us"))
		}
		if m.Memory() && read(dirs["memory"], "memory.limit_in_bytes") != "67108864" {
			t.Errorf("memory.limit_in_bytes = %q", read(dirs["memory"], "memory.limit_in_bytes"))
		}
	}
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	if err := m.AddProc("pod/ctr", cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	procs, err := m.Procs("pod/ctr")
	if err != nil || len(procs) != 1 || procs[0] != cmd.Process.Pid {
		t.Fatalf("Procs = %v, %v; want [%d]", procs, err, cmd.Process.Pid)
	}
	if n, err := m.OOMKills("pod/ctr"); err != nil || n != 0 {
		t.Fatalf("OOMKills = %d, %v", n, err)
	}
	if err := m.Destroy("pod"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		t.Fatal("process in destroyed cgroup still running")
	}
	for _, d := range m.Dirs("pod") {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("cgroup %s still exists: %v", d, err)
		}
	}
}
