package runtimetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

const testbinPkg = "github.com/coxswain/coxswain/pkg/kubelet/runtime/internal/testbin"

var (
	binMu    sync.Mutex
	binCache = map[string][]byte{} // goarch → testbin, built once per test process
)

// BuildTestBin builds the static testbin helper for goarch ("" = the host's)
// and writes it into a temporary directory of t, returning its path. The
// build runs once per process and architecture.
func BuildTestBin(t testing.TB, goarch string) string {
	t.Helper()
	if goarch == "" {
		goarch = runtime.GOARCH
	}
	out := filepath.Join(t.TempDir(), "testbin-"+goarch)
	binMu.Lock()
	defer binMu.Unlock()
	if data, ok := binCache[goarch]; ok {
		if err := os.WriteFile(out, data, 0o755); err != nil {
			t.Fatal(err)
		}
		return out
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	goos := "linux"
	if goarch == runtime.GOARCH {
		goos = runtime.GOOS
	}
	cmd := exec.Command(goBin, "build", "-trimpath", "-buildvcs=false", "-o", out, testbinPkg)
	if _, file, _, ok := runtime.Caller(0); ok {
		cmd.Dir = filepath.Dir(file) // inside the module, whatever the test's cwd
	}
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build testbin for %s: %v\n%s", goarch, err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	binCache[goarch] = data
	return out
}

// ForeignArch returns an architecture whose binaries the host cannot run.
func ForeignArch() string {
	if runtime.GOARCH == "arm64" {
		return "amd64"
	}
	return "arm64"
}

// MakeRootFS creates a minimal image rootfs in a temporary directory of t:
// bin is copied to /bin/testbin, and /etc, /tmp, /proc, /dev, /sys exist.
func MakeRootFS(t testing.TB, bin string) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"bin", "etc", "tmp", "proc", "dev", "sys"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "testbin"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

// lines splits s into trimmed, non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimRight(l, "\r "); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func contains(haystack []string, needle string) bool {
	for _, h := range haystack {
		if h == needle {
			return true
		}
	}
	return false
}

func mustf(t testing.TB, err error, format string, a ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(format, a...), err)
	}
}
