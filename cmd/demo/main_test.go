package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "demo-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "demo")
	build := exec.Command("go", "build", "-ldflags", "-s -w -X main.version=v9", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building demo: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type proc struct {
	cmd  *exec.Cmd
	base string
	mu   sync.Mutex
	out  strings.Builder
	done chan struct{}
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

var listenRe = regexp.MustCompile(`msg=listening http=(\S+)`)

// run starts the demo binary on a free loopback port and waits for its
// "listening" log line.
func run(t *testing.T, env ...string) *proc {
	t.Helper()
	return runBinary(t, binary, env...)
}

// runBinary is run for the executable at path.
func runBinary(t *testing.T, path string, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(path, "--port", "0", "--bind", "127.0.0.1")
	cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.out.WriteString(line + "\n")
			p.mu.Unlock()
			if m := listenRe.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		_ = cmd.Wait()
	})
	select {
	case a := <-addr:
		p.base = "http://" + a
	case <-p.done:
		t.Fatalf("demo exited before listening:\n%s", p.output())
	case <-time.After(20 * time.Second):
		t.Fatalf("demo not listening after 20s:\n%s", p.output())
	}
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("demo did not exit within 20s:\n%s", p.output())
	}
	err := p.cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	default:
		t.Fatalf("wait: %v", err)
		return -1
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

func TestVersionFromLdflagsAndEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"ldflags default", []string{"POD_NAME=web-0", "NODE_NAME=n1"}, "v9 web-0 127.0.0.1 n1\n"},
		{"VERSION env", []string{"VERSION=v2", "POD_NAME=web-1", "POD_IP=127.0.0.1"}, "v2 web-1 127.0.0.1 -\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := run(t, tc.env...)
			if status, body := get(t, p.base+"/"); status != 200 || body != tc.want {
				t.Errorf("GET / = %d %q, want 200 %q", status, body, tc.want)
			}
		})
	}
}

func TestSIGTERMShutsDownGracefully(t *testing.T) {
	p := run(t, "POD_NAME=p")
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0\n%s", code, p.output())
	}
	if !strings.Contains(p.output(), `msg="shutting down"`) {
		t.Errorf("output lacks \"shutting down\":\n%s", p.output())
	}
}

func TestExitEndpointSetsExitCode(t *testing.T) {
	for _, code := range []int{0, 7, 137} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			p := run(t)
			status, body := get(t, p.base+"/exit?code="+strconv.Itoa(code))
			if want := fmt.Sprintf("exiting with code %d\n", code); status != 200 || body != want {
				t.Errorf("/exit = %d %q, want 200 %q", status, body, want)
			}
			if got := p.wait(t); got != code {
				t.Errorf("exit code = %d, want %d", got, code)
			}
		})
	}
}

func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err != nil {
				t.Fatalf("VmRSS %q: %v", rest, err)
			}
			return n
		}
	}
	t.Fatal("no VmRSS in /proc/pid/status")
	return 0
}

func TestAllocMakesMemoryResident(t *testing.T) {
	p := run(t)
	before := rssKiB(t, p.cmd.Process.Pid)
	resp, err := http.Post(p.base+"/alloc?mb=64", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/alloc = %d", resp.StatusCode)
	}
	after := rssKiB(t, p.cmd.Process.Pid)
	if grown := after - before; grown < 60*1024 {
		t.Errorf("RSS grew by %d KiB after /alloc?mb=64, want >= %d", grown, 60*1024)
	}
}

func TestBadFlagExits1(t *testing.T) {
	out, err := exec.Command(binary, "--port", "x").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("demo --port x: err %v, want exit code 1", err)
	}
	if !strings.Contains(string(out), "demo: flags: invalid value \"x\" for flag -port") {
		t.Errorf("output = %q, want the flag error", out)
	}
}
