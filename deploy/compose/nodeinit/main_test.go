//go:build linux

package main

import (
	"reflect"
	"strings"
	"syscall"
	"testing"
)

// dockerV1 is /proc/<pid>/mountinfo of a non-privileged Docker 20.10 container on a cgroup v1 host
// (captured from a container started with the workers' options).
const dockerV1 = `71 46 0:39 / / rw,nodev,noatime master:3 - fuse.fuse-overlayfs fuse-overlayfs rw,user_id=0,group_id=0
72 71 0:41 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
75 71 0:44 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro
76 75 0:45 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,mode=755
77 76 0:29 /docker/f693 /sys/fs/cgroup/cpu ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,cpu
80 76 0:32 /docker/f693 /sys/fs/cgroup/memory ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,memory
85 76 0:37 /docker/f693 /sys/fs/cgroup/systemd ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,name=systemd
87 73 0:46 / /dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k
50 72 0:41 /sys /proc/sys ro,nosuid,nodev,noexec,relatime - proc proc rw
51 72 0:47 / /proc/acpi ro,relatime - tmpfs tmpfs ro
54 75 0:48 / /sys/firmware ro,relatime - tmpfs tmpfs ro
`

func TestReadOnlyMounts(t *testing.T) {
	ro := []string{"ro", "nosuid", "nodev", "noexec", "relatime"}
	tests := []struct {
		name      string
		mountinfo string
		want      []mount
	}{
		{"docker cgroup v1: /proc/sys and the controllers, not /sys or other ro mounts", dockerV1, []mount{
			{"/sys/fs/cgroup/cpu", ro}, {"/sys/fs/cgroup/memory", ro}, {"/sys/fs/cgroup/systemd", ro}, {"/proc/sys", ro}}},
		{"docker cgroup v2", "30 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw,nsdelegate\n" +
			"31 26 0:5 /sys /proc/sys ro,nosuid - proc proc rw\n",
			[]mount{{"/sys/fs/cgroup", ro}, {"/proc/sys", []string{"ro", "nosuid"}}}},
		{"already writable (privileged)", "77 76 0:29 / /sys/fs/cgroup/cpu rw,nosuid - cgroup cgroup rw,cpu\n" +
			"50 72 0:41 /sys /proc/sys rw - proc proc rw\n", nil},
		{"tmpfs at a cgroup path is left alone", "76 75 0:45 / /sys/fs/cgroup/x ro - tmpfs tmpfs ro\n", nil},
		{"escaped mount point", `9 1 0:1 / /sys/fs/cgroup/a\040b ro - cgroup cgroup rw` + "\n", []mount{{"/sys/fs/cgroup/a b", []string{"ro"}}}},
		{"malformed lines are skipped", "garbage\n1 2 3\n1 2 0:1 / /proc/sys ro -\n", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readOnlyMounts(strings.NewReader(tc.mountinfo))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("readOnlyMounts = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRemountFlags(t *testing.T) {
	got := remountFlags(mount{"/proc/sys", []string{"ro", "nosuid", "nodev", "noexec", "relatime"}})
	want := uintptr(syscall.MS_REMOUNT | syscall.MS_BIND | syscall.MS_NOSUID | syscall.MS_NODEV | syscall.MS_NOEXEC | syscall.MS_RELATIME)
	if got != want {
		t.Errorf("remountFlags = %#x, want %#x", got, want)
	}
	if got&syscall.MS_RDONLY != 0 {
		t.Error("remountFlags keeps MS_RDONLY")
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		`/a\040b`: "/a b", `/tab\011`: "/tab\t", `/back\134slash`: `/back\slash`, `/plain`: "/plain",
		`/short\04`: `/short\04`, `/bad\089`: `/bad\089`, `\`: `\`,
	} {
		if got := unescape(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzUnescape(f *testing.F) {
	for _, s := range []string{`/a\040b`, `\134\134`, `\`, `\0`, `/x\777`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := unescape(s)
		if len(got) > len(s) {
			t.Fatalf("unescape(%q) = %q is longer than its input", s, got)
		}
		if !strings.Contains(s, `\`) && got != s {
			t.Fatalf("unescape(%q) = %q changed a string without escapes", s, got)
		}
	})
}
