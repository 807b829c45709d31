package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// tarDir packs dir's files into a tarball at out (as `tar -C dir -cf out .`).
func tarDir(t testing.TB, dir, out string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_, err = tw.Write(b)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

func refsOf(imgs []Image) []string {
	var out []string
	for _, i := range imgs {
		out = append(out, i.Ref)
	}
	slices.Sort(out)
	return out
}

// TestLoadDockerTarballAndRunBinary builds images from a static binary,
// saves them as a docker save tarball, loads that into a store and runs the
// binary from the unpacked root filesystem with the image's config.
func TestLoadDockerTarballAndRunBinary(t *testing.T) {
	bin := hello(t)
	build := func(greeting string) v1.Image {
		img, err := BuildFromBinary(bin, BuildOptions{Path: "/bin/hello", Env: []string{"GREETING=" + greeting}, Cmd: []string{"a", "b"}})
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	one, two := build("one"), build("two")
	tarPath := filepath.Join(t.TempDir(), "images.tar")
	if err := WriteTarball(tarPath, map[string]v1.Image{
		"example.com/team/hello:v1": one, "hello:latest": one, "example.com/team/hello:v2": two,
	}); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, StoreConfig{})
	loaded, err := s.Load(ctxT(t), tarPath)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	wantRefs := []string{"example.com/team/hello:v1", "example.com/team/hello:v2", "index.docker.io/library/hello:latest"}
	if got := refsOf(loaded); !slices.Equal(got, wantRefs) {
		t.Fatalf("Load returned %v, want %v", got, wantRefs)
	}
	for _, img := range loaded {
		want := one
		if strings.HasSuffix(img.Ref, ":v2") {
			want = two
		}
		if img.Digest != digestOf(t, want) {
			t.Errorf("%s: digest %s, want %s (the built image's)", img.Ref, img.Digest, digestOf(t, want))
		}
	}

	for _, tc := range []struct{ ref, want string }{
		{"example.com/team/hello:v1", "hello a,b greeting=one\n"},
		{"hello", "hello a,b greeting=one\n"},
		{"docker.io/library/hello:latest", "hello a,b greeting=one\n"},
		{"example.com/team/hello:v2", "hello a,b greeting=two\n"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			if _, err := s.Ensure(ctxT(t), tc.ref, PullNever); err != nil {
				t.Fatalf("Ensure(Never): %v", err)
			}
			if err := s.CheckPlatform(tc.ref); err != nil {
				t.Errorf("CheckPlatform: %v", err)
			}
			cfg, err := s.Config(tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			root, err := s.RootFS(ctxT(t), tc.ref)
			if err != nil {
				t.Fatalf("RootFS: %v", err)
			}
			argv := append(slices.Clone(cfg.Entrypoint), cfg.Cmd...)
			cmd := exec.Command(filepath.Join(root, argv[0]), argv[1:]...)
			cmd.Env = cfg.Env
			out, err := cmd.CombinedOutput()
			if err != nil || string(out) != tc.want {
				t.Errorf("running %s from the rootfs = %q, %v; want %q", argv[0], out, err, tc.want)
			}
			t.Run("chroot", func(t *testing.T) {
				if os.Geteuid() != 0 {
					t.Skip("chroot needs root")
				}
				cmd := exec.Command(argv[0], argv[1:]...)
				cmd.Env = cfg.Env
				cmd.Dir = "/"
				cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
				out, err := cmd.CombinedOutput()
				if err != nil || string(out) != tc.want {
					t.Errorf("running %s chrooted into the rootfs = %q, %v; want %q", argv[0], out, err, tc.want)
				}
			})
		})
	}

	// Loading again is idempotent and the store survives a restart.
	if _, err := s.Load(ctxT(t), tarPath); err != nil {
		t.Fatalf("second Load: %v", err)
	}
	s2 := newStore(t, StoreConfig{Root: s.cfg.Root})
	list, err := s2.List()
	if err != nil {
		t.Fatal(err)
	}
	if got := refsOf(list); !slices.Equal(got, wantRefs) {
		t.Errorf("List after reopen = %v, want %v", got, wantRefs)
	}
}

func TestLoadOCILayout(t *testing.T) {
	dir := t.TempDir()
	lp, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	named := imageOf(t, "linux/amd64", []entry{{name: "etc/name", body: "named"}})
	bare := imageOf(t, "linux/amd64", []entry{{name: "etc/name", body: "bare"}})
	amd, arm := platformImage(t, "linux/amd64"), platformImage(t, "linux/arm64")
	multi := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	for _, step := range []error{
		lp.AppendImage(named, layout.WithAnnotations(map[string]string{annotationContainerdName: "example.com/app:v1", annotationRefName: "v1"})),
		lp.AppendImage(named, layout.WithAnnotations(map[string]string{annotationRefName: "example.com/app:also"})),
		lp.AppendImage(bare, layout.WithAnnotations(map[string]string{annotationRefName: "v2"})), // no repository: skipped
		lp.AppendImage(bare), // no name: skipped
		lp.AppendIndex(multi, layout.WithAnnotations(map[string]string{annotationContainerdName: "example.com/multi:v1"})),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
	tarPath := filepath.Join(dir, "oci.tar")
	tarDir(t, filepath.Join(dir, "layout"), tarPath)

	for _, tc := range []struct {
		platform  string
		wantMulti v1.Image
	}{
		{"linux/amd64", amd},
		{"linux/arm64/v8", arm},
	} {
		t.Run(tc.platform, func(t *testing.T) {
			s := newStore(t, StoreConfig{Platform: tc.platform})
			loaded, err := s.Load(ctxT(t), tarPath)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			wantRefs := []string{"example.com/app:also", "example.com/app:v1", "example.com/multi:v1"}
			if got := refsOf(loaded); !slices.Equal(got, wantRefs) {
				t.Fatalf("Load returned %v, want %v", got, wantRefs)
			}
			for _, img := range loaded {
				want := named
				if img.Ref == "example.com/multi:v1" {
					want = tc.wantMulti
				}
				if img.Digest != digestOf(t, want) {
					t.Errorf("%s: digest %s, want %s", img.Ref, img.Digest, digestOf(t, want))
				}
			}
			root, err := s.RootFS(ctxT(t), "example.com/app:v1")
			if err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(filepath.Join(root, "etc/name")); err != nil || string(b) != "named" {
				t.Errorf("rootfs etc/name = %q, %v; want \"named\"", b, err)
			}
			if err := s.CheckPlatform("example.com/multi:v1"); err != nil {
				t.Errorf("CheckPlatform(multi): %v", err)
			}
			tmp, err := os.ReadDir(s.tmp)
			if err != nil || len(tmp) != 0 {
				t.Errorf("store tmp holds %d entries after Load (%v), want none", len(tmp), err)
			}
		})
	}
	t.Run("no image for the node", func(t *testing.T) {
		s := newStore(t, StoreConfig{Platform: "linux/s390x"})
		_, err := s.Load(ctxT(t), tarPath)
		if err == nil || !strings.Contains(err.Error(), "no image for linux/s390x (has linux/amd64, linux/arm64)") {
			t.Errorf("Load = %v, want the missing platform named", err)
		}
	})
}

// rewriteMember copies the tar at src to dst with member name's content
// replaced.
func rewriteMember(t testing.TB, src, dst, name string, content []byte) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	tr, tw := tar.NewReader(in), tar.NewWriter(out)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == name {
			body = content
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	img := imageOf(t, "linux/amd64", []entry{{name: "f", body: "x"}})
	good := filepath.Join(dir, "good.tar")
	if err := WriteTarball(good, map[string]v1.Image{"example.com/x:v1": img}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	cfgName, _ := img.ConfigName()
	untagged := filepath.Join(dir, "untagged.tar")
	rewriteMember(t, good, untagged, "manifest.json", []byte(`[{"Config":"`+cfgName.String()+`","RepoTags":null,"Layers":[]}]`))
	corrupt := filepath.Join(dir, "corrupt.tar")
	rewriteMember(t, good, corrupt, cfgName.String(), []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	onlyReadme := write("readme.tar", tarBytes(t, []entry{{name: "README", body: "hi"}}))

	tests := []struct {
		name, path, want string
	}{
		{"missing file", filepath.Join(dir, "nope.tar"), "no such file"},
		{"gzip", write("gz.tar.gz", gz.Bytes()), "gzip-compressed; decompress it first"},
		{"not a tar", write("junk.tar", bytes.Repeat([]byte("junk"), 200)), "not a tar archive"},
		{"neither format", onlyReadme, "neither a docker save tarball"},
		{"untagged only", untagged, "no named image in the tarball"},
		{"config lists no layers", corrupt, "image example.com/x:v1: reading manifest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, StoreConfig{})
			_, err := s.Load(ctxT(t), tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load = %v, want an error containing %q", err, tc.want)
			}
			if list, _ := s.List(); len(list) != 0 {
				t.Errorf("store holds %v after a failed Load", list)
			}
		})
	}
}
