package demo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseImageFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    ImagesConfig
		wantErr string
	}{
		{"defaults", []string{"--out", "d.tar"}, ImagesConfig{Binary: "/self/demo", Out: "d.tar", Repo: DefaultImageRepo}, ""},
		{"all flags", []string{"--binary", "bin/demo", "--out", "o.tar", "--repo", "example.com/demo", "--platform", "linux/arm64"},
			ImagesConfig{Binary: "bin/demo", Out: "o.tar", Repo: "example.com/demo", Platform: "linux/arm64"}, ""},
		{"no out", nil, ImagesConfig{}, "flags: --out: required"},
		{"empty binary", []string{"--out", "o.tar", "--binary", ""}, ImagesConfig{}, "flags: --binary: required"},
		{"unknown flag", []string{"--port", "1"}, ImagesConfig{}, "flags: flag provided but not defined: -port"},
		{"stray argument", []string{"--out", "o.tar", "x"}, ImagesConfig{}, `flags: unexpected argument "x"`},
		{"help", []string{"--help"}, ImagesConfig{}, "usage: demo mkimage --out TARBALL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseImageFlags(tc.args, "/self/demo")
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want prefix %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("ParseImageFlags = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseFlagsHelpListsFlags(t *testing.T) {
	_, err := ParseFlags([]string{"-h"}, func(string) string { return "" }, "v1")
	if err == nil {
		t.Fatal("ParseFlags(-h) succeeded")
	}
	for _, want := range []string{"usage: demo", "-port", "-bind", "-udp", "mkimage"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("help %q lacks %q", err, want)
		}
	}
}

func TestWriteImagesErrors(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "text")
	if err := os.WriteFile(text, []byte("not a program"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  ImagesConfig
		want string
	}{
		{"no binary", ImagesConfig{Out: filepath.Join(dir, "o.tar")}, "binary and out: both required"},
		{"no out", ImagesConfig{Binary: text}, "binary and out: both required"},
		{"not ELF", ImagesConfig{Binary: text, Out: filepath.Join(dir, "o.tar")}, "demo image v1: binary " + text + ": not an ELF executable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := WriteImages(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("WriteImages = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "o.tar")); err == nil {
		t.Error("a failed WriteImages wrote o.tar")
	}
}
