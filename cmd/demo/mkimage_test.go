package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coxswain/coxswain/pkg/image"
)

// TestMkImage packs the demo binary with `demo mkimage`, loads the tarball
// into an image store, and runs each image's unpacked binary with the
// image's environment.
func TestMkImage(t *testing.T) {
	dir := t.TempDir()
	tarPath := filepath.Join(dir, "images", "demo.tar")
	if err := os.MkdirAll(filepath.Dir(tarPath), 0o755); err != nil {
		t.Fatal(err)
	}
	// As the Makefile calls it: the binary packs itself, named explicitly.
	out, err := exec.Command(binary, "mkimage", "--binary", binary, "--out", tarPath).CombinedOutput()
	if err != nil {
		t.Fatalf("demo mkimage: %v\n%s", err, out)
	}
	if want := "wrote " + tarPath + ": coxswain/demo:latest coxswain/demo:v1 coxswain/demo:v2\n"; string(out) != want {
		t.Errorf("demo mkimage printed %q, want %q", out, want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	store, err := image.NewStore(image.StoreConfig{Root: filepath.Join(dir, "store"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := store.Load(ctx, tarPath)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	var refs []string
	for _, img := range loaded {
		refs = append(refs, img.Ref)
	}
	slices.Sort(refs)
	wantRefs := []string{"index.docker.io/coxswain/demo:latest", "index.docker.io/coxswain/demo:v1", "index.docker.io/coxswain/demo:v2"}
	if !slices.Equal(refs, wantRefs) {
		t.Fatalf("loaded %v, want %v", refs, wantRefs)
	}
	self, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ ref, version string }{
		{"coxswain/demo:latest", "v1"},
		{"coxswain/demo:v1", "v1"},
		{"coxswain/demo:v2", "v2"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			if _, err := store.Ensure(ctx, tc.ref, image.PullNever); err != nil {
				t.Fatalf("Ensure(Never) of a loaded image: %v", err)
			}
			if err := store.CheckPlatform(tc.ref); err != nil {
				t.Errorf("CheckPlatform: %v", err)
			}
			cfg, err := store.Config(tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(cfg.Entrypoint, []string{"/demo"}) || !slices.Contains(cfg.Env, "VERSION="+tc.version) {
				t.Errorf("config entrypoint %q env %q, want [/demo] and VERSION=%s", cfg.Entrypoint, cfg.Env, tc.version)
			}
			root, err := store.RootFS(ctx, tc.ref)
			if err != nil {
				t.Fatalf("RootFS: %v", err)
			}
			packed, err := os.ReadFile(filepath.Join(root, "demo"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(packed, self) {
				t.Errorf("rootfs /demo (%d bytes) differs from the demo binary (%d bytes)", len(packed), len(self))
			}
			p := runBinary(t, filepath.Join(root, cfg.Entrypoint[0]), append(cfg.Env, "POD_NAME=from-image")...)
			want := tc.version + " from-image 127.0.0.1 -\n"
			if status, body := get(t, p.base+"/"); status != 200 || body != want {
				t.Errorf("GET / = %d %q, want 200 %q", status, body, want)
			}
		})
	}
}

func TestMkImageErrors(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "script.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no out", []string{"mkimage"}, "demo: mkimage: flags: --out: required"},
		{"not ELF", []string{"mkimage", "--binary", script, "--out", filepath.Join(dir, "x.tar")}, "not an ELF executable"},
		{"missing binary", []string{"mkimage", "--binary", filepath.Join(dir, "nope"), "--out", filepath.Join(dir, "x.tar")}, "no such file"},
		{"wrong platform", []string{"mkimage", "--platform", "linux/s390x", "--out", filepath.Join(dir, "x.tar")}, `platform "linux/s390x": binary`},
		{"stray argument", []string{"mkimage", "--out", filepath.Join(dir, "x.tar"), "extra"}, `unexpected argument "extra"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(binary, tc.args...).CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("demo %v: err %v, want exit code 1\n%s", tc.args, err, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("output %q lacks %q", out, tc.want)
			}
		})
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "script.sh" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("failed mkimage runs left files behind: %v", names)
	}
}
