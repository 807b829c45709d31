package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// BuildOptions tune BuildFromBinary.
type BuildOptions struct {
	// Path is where the binary goes inside the image; it is also the image's
	// Entrypoint. Default "/" + the binary's base name.
	Path string
	// Platform is "os/arch[/variant]". Default: read from the binary's ELF
	// header (a given platform must agree with it).
	Platform string
	// Env holds KEY=VALUE pairs for the image config, after a default PATH
	// unless Env sets PATH.
	Env []string
	// Cmd is the image's Cmd: default arguments to the entrypoint.
	Cmd []string
}

// BuildFromBinary builds a one-layer image holding the statically linked ELF
// executable at binaryPath (an image built this way holds nothing else, so a
// dynamically linked binary is refused). The image is reproducible: same
// inputs, same digest.
func BuildFromBinary(binaryPath string, opts BuildOptions) (v1.Image, error) {
	if opts.Path == "" {
		opts.Path = "/" + filepath.Base(binaryPath)
	}
	if !path.IsAbs(opts.Path) || path.Clean(opts.Path) != opts.Path || opts.Path == "/" {
		return nil, fmt.Errorf("path %q: must be a clean absolute file path", opts.Path)
	}
	hasPath := false
	for i, kv := range opts.Env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("env[%d]: %q is not KEY=VALUE", i, kv)
		}
		hasPath = hasPath || k == "PATH"
	}
	bin, err := os.ReadFile(binaryPath)
	if err != nil {
		return nil, fmt.Errorf("binary: %w", err)
	}
	binPlatform, err := inspectBinary(bin)
	if err != nil {
		return nil, fmt.Errorf("binary %s: %w", binaryPath, err)
	}
	p := binPlatform
	if opts.Platform != "" {
		if p, err = parsePlatform(opts.Platform); err != nil {
			return nil, err
		}
		if binPlatform.Architecture != "" && p.Architecture != binPlatform.Architecture {
			return nil, fmt.Errorf("platform %q: binary %s is built for %s", opts.Platform, binaryPath, platformString(binPlatform))
		}
	} else if p.Architecture == "" {
		return nil, fmt.Errorf("binary %s: unknown ELF machine; set the platform explicitly", binaryPath)
	}

	layerTar, err := singleFileTar(strings.TrimPrefix(opts.Path, "/"), bin)
	if err != nil {
		return nil, err
	}
	// Compressed once here: go-containerregistry would compress an
	// uncompressed layer again every time it is read.
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestSpeed) // go-containerregistry's default too
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	if _, err := zw.Write(layerTar); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(gz.Bytes())), nil
	})
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cf.Config.Entrypoint = []string{opts.Path}
	cf.Config.Cmd = opts.Cmd
	cf.Config.Env = nil
	if !hasPath {
		cf.Config.Env = append(cf.Config.Env, defaultPath)
	}
	cf.Config.Env = append(cf.Config.Env, opts.Env...)
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return img, nil
}

// inspectBinary checks that bin is a statically linked ELF executable and
// returns the platform it is built for (Architecture "" when the machine is
// not one Go knows).
func inspectBinary(bin []byte) (v1.Platform, error) {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return v1.Platform{}, fmt.Errorf("not an ELF executable: %w", err)
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return v1.Platform{}, fmt.Errorf("ELF type %s is not an executable", f.Type)
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		interp, _ := io.ReadAll(io.LimitReader(p.Open(), 4096))
		return v1.Platform{}, fmt.Errorf("dynamically linked (interpreter %s), but the image holds nothing else: build it static (for Go, CGO_ENABLED=0)",
			strings.TrimRight(string(interp), "\x00"))
	}
	p := v1.Platform{OS: "linux"}
	switch f.OSABI {
	case elf.ELFOSABI_FREEBSD:
		p.OS = "freebsd"
	case elf.ELFOSABI_NETBSD:
		p.OS = "netbsd"
	case elf.ELFOSABI_OPENBSD:
		p.OS = "openbsd"
	case elf.ELFOSABI_SOLARIS:
		p.OS = "solaris"
	}
	le := f.ByteOrder.String() == "LittleEndian"
	is64 := f.Class == elf.ELFCLASS64
	switch f.Machine {
	case elf.EM_X86_64:
		p.Architecture = "amd64"
	case elf.EM_386:
		p.Architecture = "386"
	case elf.EM_AARCH64:
		p.Architecture = "arm64"
	case elf.EM_ARM:
		p.Architecture = "arm"
	case elf.EM_RISCV:
		if is64 {
			p.Architecture = "riscv64"
		}
	case elf.EM_PPC64:
		p.Architecture = pick(le, "ppc64le", "ppc64")
	case elf.EM_S390:
		p.Architecture = "s390x"
	case elf.EM_LOONGARCH:
		p.Architecture = "loong64"
	case elf.EM_MIPS, elf.EM_MIPS_RS3_LE:
		p.Architecture = pick(is64, "mips64", "mips") + pick(le, "le", "")
	}
	return p, nil
}

func pick(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}

// singleFileTar returns a tar with file's parent directories and the file
// itself (mode 0755, owner root, epoch mtime).
func singleFileTar(file string, content []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	if dir := path.Dir(file); dir != "." {
		parts := strings.Split(dir, "/")
		for i := range parts {
			d := strings.Join(parts[:i+1], "/") + "/"
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: epoch}); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: file, Mode: 0o755, Size: int64(len(content)), ModTime: epoch}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(content); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteTarball writes images, keyed by tag ("coxswain/demo:v1"), into one
// `docker save` tarball at path (replaced atomically); an image under
// several tags and layers shared between images are written once.
func WriteTarball(path string, images map[string]v1.Image) error {
	if len(images) == 0 {
		return fmt.Errorf("tarball %s: no images", path)
	}
	refs := make(map[name.Reference]v1.Image, len(images))
	for t, img := range images {
		tag, err := name.NewTag(t)
		if err != nil {
			return fmt.Errorf("tarball %s: tag %q: %w", path, t, err)
		}
		refs[tag] = img
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-")
	if err != nil {
		return fmt.Errorf("tarball %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	err = tarball.MultiRefWrite(refs, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("tarball %s: %w", path, err)
	}
	return nil
}
