//go:build linux

package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: nodeinit COMMAND [ARG...]")
		os.Exit(2)
	}
	if err := remountWritable(); err != nil {
		fmt.Fprintf(os.Stderr, "nodeinit: %v\n", err)
		os.Exit(1)
	}
	path, err := exec.LookPath(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "nodeinit: command %q: %v\n", os.Args[1], err)
		os.Exit(127)
	}
	err = syscall.Exec(path, os.Args[1:], os.Environ())
	fmt.Fprintf(os.Stderr, "nodeinit: exec %s: %v\n", path, err)
	os.Exit(126)
}

// writable reports whether the mount at point must be writable for the native runtime: /proc/sys
// (net.ipv4.ip_forward in the node's network namespace) and the cgroup hierarchies (pod cgroups).
func writable(point, fstype string) bool {
	return point == "/proc/sys" || (strings.HasPrefix(point, "/sys/fs/cgroup/") && (fstype == "cgroup" || fstype == "cgroup2")) ||
		(point == "/sys/fs/cgroup" && fstype == "cgroup2")
}

// mount is one line of /proc/self/mountinfo that nodeinit remounts.
type mount struct {
	point string
	opts  []string // per-mount options, e.g. ro, nosuid, nodev, noexec, relatime
}

// readOnlyMounts returns the read-only mounts of a mountinfo table that writable() selects.
func readOnlyMounts(mountinfo io.Reader) ([]mount, error) {
	var out []mount
	sc := bufio.NewScanner(mountinfo)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		// id parent major:minor root mount-point mount-options [optional...] - fstype source super-options
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, fl := range fields {
			if fl == "-" {
				sep = i
				break
			}
		}
		if sep < 6 || len(fields) < sep+2 {
			continue
		}
		point, opts, fstype := unescape(fields[4]), strings.Split(fields[5], ","), fields[sep+1]
		if writable(point, fstype) && contains(opts, "ro") {
			out = append(out, mount{point, opts})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	return out, nil
}

// remountFlags are the mount(2) flags that remount m read-write, keeping its other per-mount flags
// (nosuid, nodev, noexec, atime) as they are.
func remountFlags(m mount) uintptr {
	flags := uintptr(syscall.MS_REMOUNT | syscall.MS_BIND)
	for _, o := range m.opts {
		switch o {
		case "nosuid":
			flags |= syscall.MS_NOSUID
		case "nodev":
			flags |= syscall.MS_NODEV
		case "noexec":
			flags |= syscall.MS_NOEXEC
		case "noatime":
			flags |= syscall.MS_NOATIME
		case "nodiratime":
			flags |= syscall.MS_NODIRATIME
		case "relatime":
			flags |= syscall.MS_RELATIME
		}
	}
	return flags
}

// remountWritable remounts every read-only mount writable() selects read-write.
func remountWritable() error {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	defer f.Close()
	mounts, err := readOnlyMounts(f)
	if err != nil {
		return err
	}
	for _, m := range mounts {
		if err := syscall.Mount("", m.point, "", remountFlags(m), ""); err != nil {
			return fmt.Errorf("remount %s read-write (needs CAP_SYS_ADMIN): %w", m.point, err)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// unescape decodes mountinfo's octal escapes (\040 for a space, \134 for a backslash).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	isOctal := func(c byte) bool { return c >= '0' && c <= '7' }
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
