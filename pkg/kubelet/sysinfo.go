package kubelet

import (
	"bufio"
	"bytes"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Pressure thresholds (Kubernetes' default hard eviction thresholds, and a
// PID reserve of 5%).
const (
	memoryPressureBytes = 100 << 20
	diskPressureRatio   = 0.10
	pidPressureRatio    = 0.05
)

// machineInfo is what the Node reports about the machine.
type machineInfo struct {
	cpuMilli    int64
	memoryBytes int64
	kernel      string
	osImage     string
	machineID   string
	bootID      string
}

func readMachineInfo() machineInfo {
	mi := machineInfo{cpuMilli: int64(goruntime.NumCPU()) * 1000, osImage: goruntime.GOOS}
	if m, ok := meminfo(); ok {
		mi.memoryBytes = m["MemTotal"]
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		mi.kernel = string(bytes.TrimRight(u.Release[:], "\x00"))
	}
	if data, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				mi.osImage = strings.Trim(v, `"'`)
			}
		}
	}
	if data, err := os.ReadFile("/etc/machine-id"); err == nil {
		mi.machineID = strings.TrimSpace(string(data))
	}
	if data, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		mi.bootID = strings.TrimSpace(string(data))
	}
	return mi
}

// meminfo reads /proc/meminfo in bytes.
func meminfo() (map[string]int64, bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return nil, false
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fs := strings.Fields(rest)
		if len(fs) == 0 {
			continue
		}
		n, err := strconv.ParseInt(fs[0], 10, 64)
		if err != nil {
			continue
		}
		if len(fs) > 1 && fs[1] == "kB" {
			n *= 1024
		}
		out[k] = n
	}
	return out, len(out) > 0
}

// pressure is the measured state of the pressure conditions; ok is false
// when a measurement was impossible (the condition is then False).
type pressure struct {
	memory, disk, pid bool
	memoryAvailable   int64
	diskAvailable     float64
	pidsAvailable     float64
}

func measurePressure(dir string) pressure {
	var p pressure
	if m, ok := meminfo(); ok {
		if avail, ok := m["MemAvailable"]; ok {
			p.memoryAvailable = avail
			p.memory = avail < memoryPressureBytes
		}
	}
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) == nil && st.Blocks > 0 {
		p.diskAvailable = float64(st.Bavail) / float64(st.Blocks)
		p.disk = p.diskAvailable < diskPressureRatio
	}
	if data, err := os.ReadFile("/proc/sys/kernel/pid_max"); err == nil {
		if max, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && max > 0 {
			if ents, err := os.ReadDir("/proc"); err == nil {
				n := 0
				for _, e := range ents {
					if c := e.Name()[0]; c >= '0' && c <= '9' {
						n++
					}
				}
				p.pidsAvailable = 1 - float64(n)/float64(max)
				p.pid = p.pidsAvailable < pidPressureRatio
			}
		}
	}
	return p
}
