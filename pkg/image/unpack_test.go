package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// tree describes every entry under root: "d 0755", "f 0644 <content>" or
// "l <target>"; setuid/setgid/sticky add "u", "g", "t".
func tree(t testing.TB, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		mode := fmt.Sprintf("%04o", fi.Mode().Perm())
		for _, b := range []struct {
			m fs.FileMode
			s string
		}{{fs.ModeSetuid, "u"}, {fs.ModeSetgid, "g"}, {fs.ModeSticky, "t"}} {
			if fi.Mode()&b.m != 0 {
				mode += b.s
			}
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "l " + target
		case fi.IsDir():
			out[rel] = "d " + mode
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = "f " + mode + " " + string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func diffTree(t *testing.T, got, want map[string]string) {
	t.Helper()
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got[k] != want[k] {
			t.Errorf("%s: got %q, want %q", k, got[k], want[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected %q", k, got[k])
		}
	}
}

// layeredImage has a lower layer and an upper layer exercising whiteouts,
// opaque directories, overrides, links, modes and ownership.
func layeredImage(t testing.TB) ([]entry, []entry) {
	lower := []entry{
		{name: "etc/", typ: tar.TypeDir},
		{name: "etc/a", body: "a1"},
		{name: "etc/b", body: "b1"},
		{name: "etc/hard", typ: tar.TypeLink, linkname: "etc/b"},
		{name: "etc/abs", typ: tar.TypeSymlink, linkname: "/etc/b"},
		{name: "opq/", typ: tar.TypeDir, mode: 0o750},
		{name: "opq/x", body: "x1"},
		{name: "opq/sub/", typ: tar.TypeDir},
		{name: "opq/sub/y", body: "y1"},
		{name: "gone/", typ: tar.TypeDir},
		{name: "gone/f", body: "f1"},
		{name: "keep", body: "k1"},
		{name: "bin/", typ: tar.TypeDir},
		{name: "bin/tool", body: "tool", mode: 0o4755},
		{name: "private/", typ: tar.TypeDir, mode: 0o700},
		{name: "private/secret", body: "s", mode: 0o600, uid: 1234, gid: 4321},
		{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
		{name: "usr/lib/libx.so", body: "libx"},
		{name: "lib", typ: tar.TypeSymlink, linkname: "usr/lib"},
		{name: "dev/null", typ: tar.TypeChar},
		{name: "fifo", typ: tar.TypeFifo},
	}
	upper := []entry{
		{name: "etc/.wh.a"},
		{name: "opq/.wh..wh..opq"},
		{name: "opq/z", body: "z2"},
		{name: ".wh.gone"},
		{name: "keep", body: "k2", mode: 0o600},
		{name: "etc/c", body: "c2"},
		{name: "new/deep/file", body: "d2"},
		{name: "./dot/slash", body: "ds"},
	}
	return lower, upper
}

func layeredTree() map[string]string {
	return map[string]string{
		"etc":             "d 0755",
		"etc/b":           "f 0644 b1",
		"etc/hard":        "f 0644 b1",
		"etc/abs":         "l /etc/b",
		"etc/c":           "f 0644 c2",
		"opq":             "d 0750",
		"opq/z":           "f 0644 z2",
		"keep":            "f 0600 k2",
		"bin":             "d 0755",
		"bin/tool":        "f 0755u tool",
		"private":         "d 0700",
		"private/secret":  "f 0600 s",
		"tmp":             "d 0777t",
		"usr":             "d 0755",
		"usr/lib":         "d 0755",
		"usr/lib/libx.so": "f 0644 libx",
		"lib":             "l usr/lib",
		"dev":             "d 0755",
		"new":             "d 0755",
		"new/deep":        "d 0755",
		"new/deep/file":   "f 0644 d2",
		"dot":             "d 0755",
		"dot/slash":       "f 0644 ds",
	}
}

func TestRootFSAppliesLayers(t *testing.T) {
	s := newStore(t, StoreConfig{})
	lower, upper := layeredImage(t)
	img := imageOf(t, "linux/amd64", lower, upper)
	if _, err := s.store(img, []string{"example.com/layered:v1"}); err != nil {
		t.Fatal(err)
	}
	root, err := s.RootFS(ctxT(t), "example.com/layered:v1")
	if err != nil {
		t.Fatalf("RootFS: %v", err)
	}
	cn, _ := img.ConfigName()
	if want := filepath.Join(s.cfg.Root, "rootfs", cn.Hex); root != want {
		t.Errorf("RootFS = %s, want %s", root, want)
	}
	diffTree(t, tree(t, root), layeredTree())

	var a, b syscall.Stat_t
	if err := syscall.Stat(filepath.Join(root, "etc/hard"), &a); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(filepath.Join(root, "etc/b"), &b); err != nil {
		t.Fatal(err)
	}
	if a.Ino != b.Ino {
		t.Error("etc/hard is not a hard link to etc/b")
	}
	wantUID, wantGID := uint32(os.Geteuid()), uint32(os.Getegid())
	if os.Geteuid() == 0 {
		wantUID, wantGID = 1234, 4321
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(root, "private/secret"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != wantUID || st.Gid != wantGID {
		t.Errorf("private/secret owned by %d:%d, want %d:%d", st.Uid, st.Gid, wantUID, wantGID)
	}
	fi, err := os.Stat(filepath.Join(root, "etc/c"))
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(time.Unix(1700000000, 0)) {
		t.Errorf("etc/c mtime %v, want the tar's", fi.ModTime())
	}

	// Unpack into a fresh directory gives the same tree.
	dir := filepath.Join(t.TempDir(), "copy")
	if err := s.Unpack(ctxT(t), "example.com/layered:v1", dir); err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	diffTree(t, tree(t, dir), layeredTree())
	if err := s.Unpack(ctxT(t), "example.com/layered:v1", dir); err == nil || !strings.Contains(err.Error(), "is not empty") {
		t.Errorf("Unpack into a non-empty directory = %v, want an error", err)
	}
	if err := s.Unpack(ctxT(t), "example.com/absent:v1", t.TempDir()); err == nil || !strings.Contains(err.Error(), `image "example.com/absent:v1": not in the store`) {
		t.Errorf("Unpack of an absent image = %v", err)
	}
}

func unpackCount(t *testing.T, s *Store) uint64 {
	t.Helper()
	var m dto.Metric
	if err := s.metrics.unpackDuration.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

func TestRootFSUnpacksOnce(t *testing.T) {
	s := newStore(t, StoreConfig{})
	img := imageOf(t, "linux/amd64", []entry{{name: "f", body: "1"}})
	other := imageOf(t, "linux/amd64", []entry{{name: "f", body: "2"}})
	if _, err := s.store(img, []string{"example.com/a:v1", "example.com/b:v1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.store(other, []string{"example.com/c:v1"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	dirs := make([]string, 8)
	for i := range dirs {
		ref := []string{"example.com/a:v1", "example.com/b:v1"}[i%2]
		wg.Go(func() {
			d, err := s.RootFS(ctxT(t), ref)
			if err != nil {
				t.Error(err)
			}
			dirs[i] = d
		})
	}
	wg.Wait()
	for _, d := range dirs[1:] {
		if d != dirs[0] {
			t.Fatalf("RootFS returned %s and %s for the same image", dirs[0], d)
		}
	}
	if n := unpackCount(t, s); n != 1 {
		t.Errorf("unpacked %d times, want once for 8 concurrent calls on one image", n)
	}
	marker := filepath.Join(dirs[0], "marker")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	oc, err := s.RootFS(ctxT(t), "example.com/c:v1")
	if err != nil {
		t.Fatal(err)
	}
	if oc == dirs[0] {
		t.Error("two different images share a rootfs")
	}
	if b, _ := os.ReadFile(filepath.Join(oc, "f")); string(b) != "2" {
		t.Errorf("other image's f = %q, want 2", b)
	}
	// A reopened store reuses the extracted tree.
	s2 := newStore(t, StoreConfig{Root: s.cfg.Root})
	d, err := s2.RootFS(ctxT(t), "example.com/a:v1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d, "marker")); d != dirs[0] || err != nil {
		t.Errorf("reopened store RootFS = %s (marker: %v), want the existing %s", d, err, dirs[0])
	}
	if n := unpackCount(t, s2); n != 0 {
		t.Errorf("reopened store unpacked %d times, want 0", n)
	}
}

func TestRootFSHonoursContext(t *testing.T) {
	s := newStore(t, StoreConfig{})
	img := imageOf(t, "linux/amd64", []entry{{name: "f", body: "1"}})
	if _, err := s.store(img, []string{"example.com/a:v1"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.RootFS(ctx, "example.com/a:v1"); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("RootFS with a cancelled context = %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(s.cfg.Root, "rootfs")); len(entries) != 0 {
		t.Errorf("a cancelled unpack left %d rootfs entries", len(entries))
	}
	if entries, _ := os.ReadDir(s.tmp); len(entries) != 0 {
		t.Errorf("a cancelled unpack left %d tmp entries", len(entries))
	}
}

// TestUntarStaysInside feeds hostile tar streams straight to untar (as an
// OCI layout tarball is) and checks nothing lands outside the directory.
func TestUntarStaysInside(t *testing.T) {
	tests := []struct {
		name    string
		entries func(outside string) []entry
		wantErr string
		want    map[string]string
	}{
		{"dot-dot", func(string) []entry { return []entry{{name: "../escape", body: "x"}} }, `path contains ".."`, nil},
		{"nested dot-dot", func(string) []entry { return []entry{{name: "a/../../escape", body: "x"}} }, `path contains ".."`, nil},
		{"absolute name stays inside", func(string) []entry { return []entry{{name: "/abs/file", body: "x"}} }, "",
			map[string]string{"abs": "d 0755", "abs/file": "f 0644 x"}},
		{"through absolute symlink", func(out string) []entry {
			return []entry{{name: "link", typ: tar.TypeSymlink, linkname: out}, {name: "link/pwned", body: "x"}}
		}, "unpack \"link/pwned\"", nil},
		{"through relative symlink", func(string) []entry {
			return []entry{{name: "rel", typ: tar.TypeSymlink, linkname: "../../../../../../tmp"}, {name: "rel/pwned", body: "x"}}
		}, "unpack \"rel/pwned\"", nil},
		{"symlinked directory then file", func(out string) []entry {
			return []entry{{name: "d", typ: tar.TypeSymlink, linkname: out}, {name: "d/", typ: tar.TypeDir}, {name: "d/pwned", body: "x"}}
		}, "unpack \"d/pwned\"", nil},
		{"hard link out", func(string) []entry {
			return []entry{{name: "h", typ: tar.TypeLink, linkname: "../../etc/passwd"}}
		}, `path contains ".."`, nil},
		{"hard link through symlink", func(out string) []entry {
			return []entry{{name: "s", typ: tar.TypeSymlink, linkname: out}, {name: "h", typ: tar.TypeLink, linkname: "s/target"}}
		}, "hard link", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			outside := filepath.Join(base, "outside")
			dir := filepath.Join(base, "dir")
			for _, d := range []string{outside, dir} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(outside, "target"), []byte("secret"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := untar(context.Background(), bytes.NewReader(tarBytes(t, tc.entries(outside))), dir)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("untar = %v, want an error containing %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatalf("untar: %v", err)
			}
			if tc.want != nil {
				diffTree(t, tree(t, dir), tc.want)
			}
			diffTree(t, tree(t, outside), map[string]string{"target": "f 0644 secret"})
			if entries, _ := os.ReadDir(base); len(entries) != 2 {
				t.Errorf("untar created %d entries next to the target directory", len(entries)-2)
			}
		})
	}
}

func TestCleanEntryName(t *testing.T) {
	for _, tc := range []struct{ in, want, wantErr string }{
		{"a/b", "a/b", ""},
		{"./a/b/", "a/b", ""},
		{"/a//b", "a/b", ""},
		{".", ".", ""},
		{"/", ".", ""},
		{"", ".", ""},
		{"a/../b", "", `path contains ".."`},
		{"..", "", `path contains ".."`},
		{"a/..b", "a/..b", ""},
	} {
		got, err := cleanEntryName(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("cleanEntryName(%q) = %q, %v; want error %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("cleanEntryName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func FuzzCleanEntryName(f *testing.F) {
	for _, s := range []string{"a/b", "../x", "/", "./a/../b", "a//b/", "..."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, n string) {
		got, err := cleanEntryName(n)
		if err != nil {
			return
		}
		if got == "" || strings.HasPrefix(got, "/") || filepath.Clean(got) != got {
			t.Fatalf("cleanEntryName(%q) = %q: not a clean relative path", n, got)
		}
		for part := range strings.SplitSeq(got, "/") {
			if part == ".." {
				t.Fatalf("cleanEntryName(%q) = %q climbs out", n, got)
			}
		}
	})
}

// FuzzUntar checks that no tar stream, however malformed, makes untar panic
// or write outside its directory. Run it with -fuzzminimizetime=0: every
// execution touches the disk, so minimising inputs is slow.
func FuzzUntar(f *testing.F) {
	// Small seeds: tar headers are 512 bytes, and the fuzzer minimises every
	// interesting input by running it again and again.
	f.Add(tarBytes(f, []entry{{name: "d/", typ: tar.TypeDir, mode: 0o500}, {name: "d/f", body: "x"}}))
	f.Add(tarBytes(f, []entry{{name: "l", typ: tar.TypeSymlink, linkname: "/"}, {name: "l/x", body: "x"}}))
	f.Add(tarBytes(f, []entry{{name: "f", body: "x"}, {name: "h", typ: tar.TypeLink, linkname: "f"}}))
	f.Add([]byte("not a tar"))
	f.Fuzz(func(t *testing.T, data []byte) {
		base := t.TempDir()
		dir := filepath.Join(base, "dir")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		_, _ = untar(context.Background(), bytes.NewReader(data), dir)
		entries, err := os.ReadDir(base)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].Name() != "dir" {
			t.Fatalf("untar wrote next to its directory: %v", entries)
		}
		// Make the tree removable whatever modes the stream set.
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				_ = os.Chmod(p, 0o755)
			}
			return nil
		})
	})
}

func BenchmarkUnpack(b *testing.B) {
	var lower, upper []entry
	body := strings.Repeat("x", 4096)
	for i := range 500 {
		lower = append(lower, entry{name: fmt.Sprintf("d%02d/f%03d", i%20, i), body: body})
		upper = append(upper, entry{name: fmt.Sprintf("u%02d/f%03d", i%20, i), body: body})
	}
	img := imageOf(b, "linux/amd64", lower, upper)
	s := newStore(b, StoreConfig{})
	if _, err := s.store(img, []string{"example.com/bench:v1"}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Unpack(context.Background(), "example.com/bench:v1", b.TempDir()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(1000, "files/op")
}

// gnuSparseTar hand-writes a tar holding one old-GNU sparse file ('S') of
// realSize bytes whose only data is "x" at the last offset; archive/tar can
// read such files but no longer writes them.
func gnuSparseTar(t testing.TB, name string, realSize int64) []byte {
	t.Helper()
	var h [512]byte
	octal := func(b []byte, v int64) { copy(b, fmt.Sprintf("%0*o\x00", len(b)-1, v)) }
	copy(h[0:100], name)
	octal(h[100:108], 0o644)
	octal(h[108:116], 0)
	octal(h[116:124], 0)
	octal(h[124:136], 1) // bytes stored in the archive
	octal(h[136:148], 1700000000)
	h[156] = 'S'
	copy(h[257:265], "ustar  \x00")
	octal(h[386:398], realSize-1) // sparse[0].offset
	octal(h[398:410], 1)          // sparse[0].numbytes
	octal(h[483:495], realSize)
	copy(h[148:156], "        ")
	sum := 0
	for _, c := range h {
		sum += int(c)
	}
	copy(h[148:156], fmt.Sprintf("%06o\x00 ", sum))
	out := append([]byte{}, h[:]...)
	data := make([]byte, 512)
	data[0] = 'x'
	out = append(out, data...)
	return append(out, make([]byte, 1024)...)
}

// cancelAfter cancels ctx once n bytes have been read through it.
type cancelAfter struct {
	r      io.Reader
	n      int64
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.n -= int64(n); c.n <= 0 {
		c.cancel()
	}
	return n, err
}

func TestUntarFileContents(t *testing.T) {
	zeros := strings.Repeat("\x00", 3*copyChunk+17)
	full := bytes.Repeat([]byte("0123456789abcdef"), copyChunk/4) // 4 chunks, no zeros
	tests := []struct {
		name      string
		tar       []byte
		file      string
		want      func() []byte
		maxBlocks int64 // upper bound of 512-byte blocks allocated; 0 = no check
		wantErr   string
	}{
		{"zeros then data", tarBytes(t, []entry{{name: "f", body: zeros + "tail"}}), "f",
			func() []byte { return []byte(zeros + "tail") }, 2 * copyChunk / 512, ""},
		{"data then zeros keeps the size", tarBytes(t, []entry{{name: "f", body: "head" + zeros}}), "f",
			func() []byte { return []byte("head" + zeros) }, 2 * copyChunk / 512, ""},
		{"empty", tarBytes(t, []entry{{name: "f"}}), "f", func() []byte { return nil }, 0, ""},
		{"dense", tarBytes(t, []entry{{name: "f", body: string(full)}}), "f", func() []byte { return full }, 0, ""},
		{"gnu sparse 1 GiB", gnuSparseTar(t, "sparse", 1<<30), "sparse", nil, 2 * copyChunk / 512, ""},
		{"truncated archive", tarBytes(t, []entry{{name: "f", body: string(full)}})[:512+copyChunk+100], "f", nil, 0, "unexpected EOF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := untar(context.Background(), bytes.NewReader(tc.tar), dir)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("untar = %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("untar: %v", err)
			}
			p := filepath.Join(dir, tc.file)
			var st syscall.Stat_t
			if err := syscall.Stat(p, &st); err != nil {
				t.Fatal(err)
			}
			if tc.want != nil {
				got, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, tc.want()) {
					t.Errorf("content differs: %d bytes, want %d", len(got), len(tc.want()))
				}
			} else {
				// The sparse file: 1 GiB, "x" at the end, almost no blocks.
				f, err := os.Open(p)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				last := make([]byte, 2)
				if _, err := f.ReadAt(last, st.Size-2); err != nil || string(last) != "\x00x" || st.Size != 1<<30 {
					t.Errorf("sparse file size %d ends %q (%v), want 1 GiB ending \"\\x00x\"", st.Size, last, err)
				}
			}
			if tc.maxBlocks > 0 && st.Blocks > tc.maxBlocks {
				t.Errorf("%s allocates %d blocks of 512 bytes, want at most %d (holes kept)", tc.file, st.Blocks, tc.maxBlocks)
			}
		})
	}
}

func TestUntarCancelsInsideAFile(t *testing.T) {
	// 1 TiB sparse file: without a context check inside the copy this would
	// take minutes of reading zeros.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &cancelAfter{r: bytes.NewReader(gnuSparseTar(t, "huge", 1<<40)), n: 1, cancel: cancel}
	start := time.Now()
	_, err := untar(ctx, r, t.TempDir())
	if !errors.Is(err, context.Canceled) {
		t.Errorf("untar = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("untar took %v to notice the cancellation", d)
	}
}

// BenchmarkEnsurePresent measures the path the kubelet takes on every sync
// of a running pod: an IfNotPresent Ensure of a stored image.
func BenchmarkEnsurePresent(b *testing.B) {
	img := imageOf(b, "linux/amd64", []entry{{name: "f", body: "x"}})
	s := newStore(b, StoreConfig{})
	if _, err := s.store(img, []string{"example.com/bench:v1"}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Ensure(ctx, "example.com/bench:v1", PullIfNotPresent); err != nil {
			b.Fatal(err)
		}
	}
}
