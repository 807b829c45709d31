package fsroot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxSymlinks bounds symlink expansion, like the kernel's ELOOP limit.
const maxSymlinks = 40

// DefaultPath is the PATH used for lookups when the environment has none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ErrNotFound is wrapped when LookPath finds no executable.
var ErrNotFound = errors.New("executable file not found")

// Resolve returns the host path of p interpreted inside root: symlinks are
// followed with root as "/", ".." stops at root, and components that do not
// exist are kept lexically. A relative p is taken relative to "/". The result
// always lies inside root.
func Resolve(root, p string) (string, error) {
	root = filepath.Clean(root)
	resolved := "/"
	remaining := p
	links := 0
	for remaining != "" {
		var comp string
		if i := strings.IndexByte(remaining, '/'); i >= 0 {
			comp, remaining = remaining[:i], remaining[i+1:]
		} else {
			comp, remaining = remaining, ""
		}
		switch comp {
		case "", ".":
			continue
		case "..":
			resolved = path.Dir(resolved)
			continue
		}
		next := path.Join(resolved, comp)
		fi, err := os.Lstat(filepath.Join(root, next))
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			resolved = next
			continue
		}
		links++
		if links > maxSymlinks {
			return "", fmt.Errorf("resolve %q in %s: too many levels of symbolic links", p, root)
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", fmt.Errorf("resolve %q in %s: %w", p, root, err)
		}
		if strings.HasPrefix(target, "/") {
			resolved = "/"
		}
		if remaining == "" {
			remaining = target
		} else {
			remaining = target + "/" + remaining
		}
	}
	return filepath.Join(root, resolved), nil
}

// LookPath finds the executable for argv0 inside root and returns its host
// path. An argv0 containing a slash is resolved as is (relative to workDir,
// a path inside root); otherwise each directory of pathEnv (DefaultPath if
// empty; empty entries mean workDir) is searched in order and the first
// regular file with an execute bit wins.
func LookPath(root, argv0, pathEnv, workDir string) (string, error) {
	if argv0 == "" {
		return "", fmt.Errorf("lookup: command is empty")
	}
	if workDir == "" {
		workDir = "/"
	}
	if strings.Contains(argv0, "/") {
		p := argv0
		if !path.IsAbs(p) {
			p = path.Join(workDir, p)
		}
		host, err := Resolve(root, p)
		if err != nil {
			return "", err
		}
		if err := executable(host); err != nil {
			return "", fmt.Errorf("exec %q: %w", argv0, err)
		}
		return host, nil
	}
	if pathEnv == "" {
		pathEnv = DefaultPath
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = workDir
		} else if !path.IsAbs(dir) {
			dir = path.Join(workDir, dir)
		}
		host, err := Resolve(root, path.Join(dir, argv0))
		if err != nil {
			continue
		}
		if executable(host) == nil {
			return host, nil
		}
	}
	return "", fmt.Errorf("exec %q: %w in $PATH %s", argv0, ErrNotFound, pathEnv)
}

func executable(host string) error {
	fi, err := os.Stat(host)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", host)
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s: %w", host, fs.ErrPermission)
	}
	return nil
}

// EnvValue returns the value of key in a KEY=value list (last one wins).
func EnvValue(env []string, key string) (string, bool) {
	val, ok := "", false
	for _, kv := range env {
		if k, v, found := strings.Cut(kv, "="); found && k == key {
			val, ok = v, true
		}
	}
	return val, ok
}
