package fsroot

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mkroot(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "bin"), 0o755))
	must(os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755))
	must(os.MkdirAll(filepath.Join(root, "app"), 0o755))
	must(os.WriteFile(filepath.Join(root, "bin/busybox"), []byte("x"), 0o755))
	must(os.WriteFile(filepath.Join(root, "usr/bin/data"), []byte("x"), 0o644))
	must(os.WriteFile(filepath.Join(root, "app/run"), []byte("x"), 0o755))
	must(os.Symlink("/bin/busybox", filepath.Join(root, "bin/sh")))
	must(os.Symlink("../../bin/busybox", filepath.Join(root, "usr/bin/ls")))
	must(os.Symlink("/etc/passwd", filepath.Join(root, "escape")))
	must(os.Symlink("../../../../../../etc", filepath.Join(root, "up")))
	must(os.Symlink("loop2", filepath.Join(root, "loop1")))
	must(os.Symlink("loop1", filepath.Join(root, "loop2")))
	must(os.Symlink("/usr/bin", filepath.Join(root, "ubin")))
	return root
}

func TestResolve(t *testing.T) {
	root := mkroot(t)
	tests := []struct {
		in, want string
		err      bool
	}{
		{"/bin/busybox", "/bin/busybox", false},
		{"/bin/sh", "/bin/busybox", false},
		{"/usr/bin/ls", "/bin/busybox", false},
		{"/escape", "/etc/passwd", false},
		{"/up/shadow", "/etc/shadow", false},
		{"../../..", "/", false},
		{"/ubin/ls", "/bin/busybox", false},
		{"/missing/../bin/sh", "/bin/busybox", false},
		{"/loop1", "", true},
		{"relative/x", "/relative/x", false},
	}
	for _, tc := range tests {
		got, err := Resolve(root, tc.in)
		if tc.err {
			if err == nil {
				t.Errorf("Resolve(%q) = %q, want error", tc.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("Resolve(%q): %v", tc.in, err)
			continue
		}
		if want := filepath.Join(root, tc.want); got != want {
			t.Errorf("Resolve(%q) = %q, want %q", tc.in, got, want)
		}
	}
}

func TestLookPath(t *testing.T) {
	root := mkroot(t)
	tests := []struct {
		argv0, pathEnv, wd, want string
		notFound                 bool
	}{
		{"sh", "", "/", "/bin/busybox", false},
		{"ls", "/usr/bin", "/", "/bin/busybox", false},
		{"data", "/usr/bin", "/", "", true}, // not executable
		{"run", "/usr/bin:/app", "/", "/app/run", false},
		{"run", "/usr/bin:", "/app", "/app/run", false}, // empty entry = workdir
		{"./run", "", "/app", "/app/run", false},
		{"/app/run", "", "/", "/app/run", false},
		{"nosuch", "", "/", "", true},
		{"app", "/", "/", "", true}, // directory
	}
	for _, tc := range tests {
		got, err := LookPath(root, tc.argv0, tc.pathEnv, tc.wd)
		if tc.notFound {
			if err == nil {
				t.Errorf("LookPath(%q) = %q, want error", tc.argv0, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("LookPath(%q): %v", tc.argv0, err)
			continue
		}
		if want := filepath.Join(root, tc.want); got != want {
			t.Errorf("LookPath(%q) = %q, want %q", tc.argv0, got, want)
		}
	}
	if _, err := LookPath(root, "nosuch", "", "/"); !errors.Is(err, ErrNotFound) {
		t.Errorf("want ErrNotFound, got %v", err)
	}
}

func TestEnvValue(t *testing.T) {
	v, ok := EnvValue([]string{"PATH=/a", "X=1", "PATH=/b:/c", "bogus"}, "PATH")
	if !ok || v != "/b:/c" {
		t.Fatalf("got %q %v", v, ok)
	}
	if _, ok := EnvValue([]string{"PATHX=1"}, "PATH"); ok {
		t.Fatal("prefix matched")
	}
}

func FuzzResolveStaysInRoot(f *testing.F) {
	root := mkroot(f)
	for _, s := range []string{"/bin/sh", "../..", "/up/x/../../..", "escape/..", "ubin/../../..", "/loop1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, err := Resolve(root, p)
		if err != nil {
			return
		}
		if got != root && !strings.HasPrefix(got, root+string(filepath.Separator)) {
			t.Fatalf("Resolve(%q) = %q escapes %q", p, got, root)
		}
	})
}
