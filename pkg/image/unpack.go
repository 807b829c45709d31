package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// unpackImage flattens img's layers (applying whiteouts and opaque
// directories) into dir, which must exist and be empty.
func unpackImage(ctx context.Context, img v1.Image, dir string) (untarStats, error) {
	rc := mutate.Extract(img)
	defer rc.Close()
	return untar(ctx, rc, dir)
}

// untarStats counts what untar skipped.
type untarStats struct {
	Entries int
	Skipped int // devices, fifos and unknown types
}

type dirMeta struct {
	name  string
	hdr   *tar.Header
	isNew bool
}

// untar extracts a (flattened) tar stream into dir. Every file operation goes
// through an os.Root, so no entry, symlink or hard link can reach outside dir.
// An entry whose path already exists is skipped: in a flattened stream the
// upper layer comes first, and implicit parent directories made for it win
// over lower-layer entries. Directory modes and times are applied last so a
// read-only directory can still receive its children.
func untar(ctx context.Context, r io.Reader, dir string) (untarStats, error) {
	var st untarStats
	root, err := os.OpenRoot(dir)
	if err != nil {
		return st, fmt.Errorf("unpack: %w", err)
	}
	defer root.Close()
	asRoot := os.Geteuid() == 0
	var dirs []dirMeta
	type link struct{ name, target string }
	var links []link
	explicitDirs := map[string]bool{}
	buf := make([]byte, copyChunk)

	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return st, fmt.Errorf("unpack: %w", err)
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return st, fmt.Errorf("unpack: reading tar: %w", err)
		}
		st.Entries++
		name, err := cleanEntryName(hdr.Name)
		if err != nil {
			return st, err
		}
		if name == "." {
			continue
		}
		if parent := path.Dir(name); parent != "." {
			if err := root.MkdirAll(parent, 0o755); err != nil {
				return st, fmt.Errorf("unpack %q: parent directory: %w", hdr.Name, err)
			}
		}
		existing, lerr := root.Lstat(name)
		exists := lerr == nil
		switch hdr.Typeflag {
		case tar.TypeDir:
			if exists && !existing.IsDir() {
				continue
			}
			if explicitDirs[name] {
				continue
			}
			if !exists {
				if err := root.Mkdir(name, 0o700); err != nil {
					return st, fmt.Errorf("unpack %q: %w", hdr.Name, err)
				}
			}
			explicitDirs[name] = true
			dirs = append(dirs, dirMeta{name: name, hdr: hdr, isNew: !exists})
		case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse: // archive/tar expands sparse files
			if exists {
				continue
			}
			if err := writeFile(ctx, root, name, tr, buf); err != nil {
				return st, fmt.Errorf("unpack %q: %w", hdr.Name, err)
			}
			if err := setMeta(root, name, hdr, asRoot); err != nil {
				return st, fmt.Errorf("unpack %q: %w", hdr.Name, err)
			}
		case tar.TypeSymlink:
			if exists {
				continue
			}
			if err := root.Symlink(hdr.Linkname, name); err != nil {
				return st, fmt.Errorf("unpack %q: symlink: %w", hdr.Name, err)
			}
			if asRoot {
				if err := root.Lchown(name, hdr.Uid, hdr.Gid); err != nil {
					return st, fmt.Errorf("unpack %q: %w", hdr.Name, err)
				}
			}
		case tar.TypeLink:
			if exists {
				continue
			}
			target, err := cleanEntryName(hdr.Linkname)
			if err != nil {
				return st, fmt.Errorf("unpack %q: hard link: %w", hdr.Name, err)
			}
			links = append(links, link{name: name, target: target})
		default:
			// Devices and fifos belong to the runtime's /dev, not an image.
			st.Skipped++
		}
	}
	// Hard links last: in a flattened stream the target may come later.
	for _, l := range links {
		if err := root.Link(l.target, l.name); err != nil {
			return st, fmt.Errorf("unpack %q: hard link to %q: %w", l.name, l.target, err)
		}
	}
	// Deepest directories first, so a parent's mode cannot block a child.
	slices.SortFunc(dirs, func(a, b dirMeta) int { return strings.Count(b.name, "/") - strings.Count(a.name, "/") })
	for _, d := range dirs {
		if err := setMeta(root, d.name, d.hdr, asRoot); err != nil {
			return st, fmt.Errorf("unpack %q: %w", d.hdr.Name, err)
		}
	}
	return st, nil
}

// cleanEntryName makes a tar path relative to the root and rejects ".."
// components that would climb out of it.
func cleanEntryName(n string) (string, error) {
	c := path.Clean("/" + n) // a leading "/" absorbs every ".."
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return "", fmt.Errorf("unpack %q: path contains \"..\"", n)
		}
	}
	if c == "/" {
		return ".", nil
	}
	return strings.TrimPrefix(c, "/"), nil
}

// copyChunk is the unit in which file contents are copied; a chunk of zeros
// becomes a hole.
const copyChunk = 256 << 10

// writeFile creates name with r's content. Runs of zeros (sparse files, as
// archive/tar expands them, or zero-filled files) are left as holes, so a
// tiny layer declaring a huge sparse file cannot fill the disk, and ctx is
// checked between chunks, so a cancelled unpack stops inside a big file.
func writeFile(ctx context.Context, root *os.Root, name string, r io.Reader, buf []byte) error {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	err = copySparse(ctx, f, r, buf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func copySparse(ctx context.Context, f *os.File, r io.Reader, buf []byte) error {
	var off int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Fill buf; unlike io.ReadFull this keeps a truncated archive's
		// io.ErrUnexpectedEOF apart from the clean end of the entry.
		n := 0
		var rerr error
		for n < len(buf) && rerr == nil {
			var m int
			m, rerr = r.Read(buf[n:])
			n += m
		}
		if n > 0 && !allZero(buf[:n]) {
			if _, err := f.WriteAt(buf[:n], off); err != nil {
				return err
			}
		}
		off += int64(n)
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	return f.Truncate(off)
}

var zeroChunk [copyChunk]byte

func allZero(b []byte) bool {
	return b[0] == 0 && b[len(b)-1] == 0 && bytes.Equal(b, zeroChunk[:len(b)])
}

func setMeta(root *os.Root, name string, hdr *tar.Header, asRoot bool) error {
	if asRoot {
		if err := root.Lchown(name, hdr.Uid, hdr.Gid); err != nil {
			return err
		}
	}
	mode := fs.FileMode(hdr.Mode) & fs.ModePerm
	if hdr.Mode&04000 != 0 {
		mode |= fs.ModeSetuid
	}
	if hdr.Mode&02000 != 0 {
		mode |= fs.ModeSetgid
	}
	if hdr.Mode&01000 != 0 {
		mode |= fs.ModeSticky
	}
	if err := root.Chmod(name, mode); err != nil {
		return err
	}
	mtime := hdr.ModTime
	if mtime.IsZero() {
		mtime = time.Unix(0, 0)
	}
	return root.Chtimes(name, mtime, mtime)
}
