package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// profileCPU collects, concurrently, a CPU profile of length d from every component that serves
// /debug/pprof (the Cluster's Debug URLs), into dir/<component>.pprof. It returns at once; wait
// returns the files written and the components that could not be profiled.
func profileCPU(ctx context.Context, debug map[string]string, d time.Duration, dir string) (wait func() (files, failed []string)) {
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		ok  []string
		bad []string
	)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return func() ([]string, []string) { return nil, []string{fmt.Sprintf("profiles: %v", err)} }
	}
	client := &http.Client{Timeout: d + 30*time.Second}
	for name, base := range debug {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := filepath.Join(dir, name+".pprof")
			err := fetchProfile(ctx, client, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, int(d.Seconds())), path)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				bad = append(bad, fmt.Sprintf("%s: %v", name, err))
				return
			}
			ok = append(ok, path)
		}()
	}
	return func() ([]string, []string) {
		wg.Wait()
		sort.Strings(ok)
		sort.Strings(bad)
		return ok, bad
	}
}

// profileHeap writes the heap profile of every component with Debug URLs into dir/<component>.heap.pprof
// and returns the files written and the components that could not be profiled.
func profileHeap(ctx context.Context, debug map[string]string, dir string) (files, failed []string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, []string{fmt.Sprintf("profiles: %v", err)}
	}
	client := &http.Client{Timeout: time.Minute}
	for name, base := range debug {
		path := filepath.Join(dir, name+".heap.pprof")
		if err := fetchProfile(ctx, client, base+"/debug/pprof/heap", path); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		files = append(files, path)
	}
	sort.Strings(files)
	sort.Strings(failed)
	return files, failed
}

func fetchProfile(ctx context.Context, client *http.Client, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
