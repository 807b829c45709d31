package procstat

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	tail := "S 1 2 3 4 5 6 7 8 9 10 250 75 0 0 20 0 1 0 100 1000 10"
	tests := []struct {
		name         string
		in           string
		utime, stime uint64
		wantErr      string
	}{
		{name: "plain", in: "42 (apiserver) " + tail, utime: 250, stime: 75},
		{name: "spaces and parens in comm", in: "42 (a b) (c)) " + tail, utime: 250, stime: 75},
		{name: "trailing newline", in: "42 (x) " + tail + "\n", utime: 250, stime: 75},
		{name: "no paren", in: "42 x " + tail, wantErr: "no ')'"},
		{name: "truncated", in: "42 (x) S 1 2 3", wantErr: "fields after the command name"},
		{name: "bad utime", in: "42 (x) S 1 2 3 4 5 6 7 8 9 10 u 75 0", wantErr: "utime"},
		{name: "bad stime", in: "42 (x) S 1 2 3 4 5 6 7 8 9 10 1 s 0", wantErr: "stime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, s, err := ParseStatCPU([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || u != tt.utime || s != tt.stime {
				t.Fatalf("ParseStatCPU = %d, %d, %v; want %d, %d", u, s, err, tt.utime, tt.stime)
			}
		})
	}
}

func TestParseStatusRSS(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    uint64
		wantErr string
	}{
		{name: "normal", in: "Name:\tetcd\nVmPeak:\t  999 kB\nVmRSS:\t   30576 kB\nThreads: 9\n", want: 30576 * 1024},
		{name: "zombie has no VmRSS", in: "Name:\tx\nState:\tZ (zombie)\n", want: 0},
		{name: "bad unit", in: "Name:\tx\nVmRSS:\t12 MB\n", wantErr: "kB"},
		{name: "bad number", in: "Name:\tx\nVmRSS:\tlots kB\n", wantErr: "not a number"},
		{name: "not a status file", in: "hello\n", wantErr: "not a /proc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStatusRSS([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseStatusRSS = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func TestReadFromFakeProc(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "7")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "status"), []byte("Name:\tx\nVmRSS:\t2048 kB\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "stat"), []byte("7 (x) S 1 2 3 4 5 6 7 8 9 10 150 50 0 0\n"), 0o644)
	st, err := readFrom(root, 7)
	if err != nil {
		t.Fatal(err)
	}
	if st.RSSBytes != 2<<20 || st.CPUSeconds != 2 {
		t.Fatalf("readFrom = %+v, want 2MiB and 2 CPU seconds", st)
	}
	if _, err := readFrom(root, 8); err == nil || !strings.Contains(err.Error(), "process 8") {
		t.Fatalf("missing process: err = %v", err)
	}
}

// TestSamplerFakeReadings drives the sampler with scripted readings: per-process and group peaks,
// CPU windows and exits.
func TestSamplerFakeReadings(t *testing.T) {
	readings := map[int][]Stat{
		1: {{RSSBytes: 100, CPUSeconds: 1}, {RSSBytes: 300, CPUSeconds: 2}, {RSSBytes: 200, CPUSeconds: 4}, {RSSBytes: 150, CPUSeconds: 5}},
		2: {{RSSBytes: 50, CPUSeconds: 0}, {RSSBytes: 50, CPUSeconds: 1}, {RSSBytes: 400, CPUSeconds: 1}},
	}
	s := NewSampler(time.Hour)
	s.read = func(pid int) (Stat, error) {
		r := readings[pid]
		if len(r) == 0 {
			return Stat{}, fmt.Errorf("process %d: gone", pid)
		}
		readings[pid] = r[1:]
		return r[0], nil
	}
	if err := s.Add("a", 1, "cp"); err != nil {
		t.Fatal(err)
	}
	if err := s.Add("b", 2, "cp", "other"); err != nil {
		t.Fatal(err)
	}
	if err := s.Add("a", 3); err == nil {
		t.Fatal("duplicate name accepted")
	}
	s.Sample() // a=300 b=50 -> sum 350
	s.Sample() // a=200 b=400 -> sum 600
	u := s.Usage()
	if u["a"].PeakRSSBytes != 300 || u["a"].RSSBytes != 200 || u["a"].CPUSeconds != 3 {
		t.Fatalf("a = %+v, want peak 300, last 200, cpu 3", u["a"])
	}
	if u["b"].PeakRSSBytes != 400 || u["b"].CPUSeconds != 1 {
		t.Fatalf("b = %+v, want peak 400, cpu 1", u["b"])
	}
	// The group's peak is the peak of the sum at one instant (600), not the sum of the peaks (700).
	if g := s.GroupUsage("cp"); g.PeakRSSBytes != 600 || g.RSSBytes != 600 || g.CPUSeconds != 4 {
		t.Fatalf("cp = %+v, want peak 600, last 600, cpu 4", g)
	}
	s.Reset()
	s.Sample() // a=150 (cpu 5), b gone
	u = s.Usage()
	if u["a"].PeakRSSBytes != 200 || u["a"].CPUSeconds != 1 || u["a"].Samples != 1 {
		t.Fatalf("a after reset = %+v, want peak 200 (the RSS at reset), cpu 1, 1 sample", u["a"])
	}
	if !u["b"].Exited || u["b"].RSSBytes != 0 {
		t.Fatalf("b = %+v, want exited with no RSS", u["b"])
	}
	if g := s.GroupUsage("cp"); g.RSSBytes != 150 || g.PeakRSSBytes != 600 {
		t.Fatalf("cp after reset = %+v, want last 150, peak 600 (kept from reset)", g)
	}
	if err := s.Add("c", 99); err == nil {
		t.Fatal("Add of a missing process succeeded")
	}
}

// TestSamplerRealProcess samples a real child process that allocates and touches 64 MiB and burns CPU.
func TestSamplerRealProcess(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "PROCSTAT_HELPER=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	s := NewSampler(20 * time.Millisecond)
	if err := s.Add("helper", cmd.Process.Pid, "all"); err != nil {
		t.Fatal(err)
	}
	self := os.Getpid()
	if err := s.Add("self", self, "all"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	buf := make([]byte, 5)
	if _, err := stdout.Read(buf); err != nil || string(buf) != "ready" {
		t.Fatalf("helper did not report ready: %q %v", buf, err)
	}
	time.Sleep(200 * time.Millisecond)
	u := s.Usage()["helper"]
	if u.PeakRSSBytes < 60<<20 {
		t.Errorf("helper peak RSS = %d MiB, want >= 60 MiB", u.PeakRSSBytes>>20)
	}
	if u.CPUSeconds < 0.2 {
		t.Errorf("helper CPU = %.2fs, want >= 0.2s (it spun for 300ms)", u.CPUSeconds)
	}
	if u.Samples < 3 {
		t.Errorf("helper samples = %d, want several at 20ms", u.Samples)
	}
	if g := s.GroupUsage("all"); g.PeakRSSBytes < u.PeakRSSBytes {
		t.Errorf("group peak %d < member peak %d", g.PeakRSSBytes, u.PeakRSSBytes)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for !s.Usage()["helper"].Exited {
		if time.Now().After(deadline) {
			t.Fatal("sampler did not notice the helper exited")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
}

// TestHelperProcess is the child of TestSamplerRealProcess.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("PROCSTAT_HELPER") != "1" {
		t.Skip("helper process of TestSamplerRealProcess, not a test by itself")
	}
	mem := make([]byte, 64<<20)
	for i := range mem {
		if i%4096 == 0 {
			mem[i] = 1
		}
	}
	end := time.Now().Add(300 * time.Millisecond)
	x := 0
	for time.Now().Before(end) {
		x++
	}
	fmt.Print("ready")
	time.Sleep(time.Minute)
	_ = mem[x%len(mem)]
}

func FuzzParseStatCPU(f *testing.F) {
	f.Add([]byte("42 (apiserver) S 1 2 3 4 5 6 7 8 9 10 250 75 0 0"))
	f.Add([]byte("1 ((() S"))
	f.Fuzz(func(t *testing.T, in []byte) {
		u, s, err := ParseStatCPU(in)
		if err != nil && (u != 0 || s != 0) {
			t.Fatalf("error with non-zero values: %d %d %v", u, s, err)
		}
	})
}

func FuzzParseStatusRSS(f *testing.F) {
	f.Add([]byte("Name:\tx\nVmRSS:\t2048 kB\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		rss, err := ParseStatusRSS(in)
		if err == nil && rss%1024 != 0 {
			t.Fatalf("RSS %d is not a whole number of kB", rss)
		}
	})
}
