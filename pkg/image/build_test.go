package image

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// fakeELF returns a minimal ELF header (plus a PT_INTERP program header when
// interp is set): enough for debug/elf, not for the kernel.
func fakeELF(t testing.TB, is64, bigEndian bool, osabi elf.OSABI, typ elf.Type, machine elf.Machine, interp string) []byte {
	t.Helper()
	var order binary.ByteOrder = binary.LittleEndian
	data := elf.ELFDATA2LSB
	if bigEndian {
		order, data = binary.BigEndian, elf.ELFDATA2MSB
	}
	class := elf.ELFCLASS32
	if is64 {
		class = elf.ELFCLASS64
	}
	ident := [elf.EI_NIDENT]byte{0x7f, 'E', 'L', 'F', byte(class), byte(data), byte(elf.EV_CURRENT), byte(osabi)}
	var buf bytes.Buffer
	phnum := uint16(0)
	if interp != "" {
		phnum = 1
	}
	write := func(v any) {
		if err := binary.Write(&buf, order, v); err != nil {
			t.Fatal(err)
		}
	}
	if is64 {
		const ehsize, phsize = 64, 56
		write(elf.Header64{Ident: ident, Type: uint16(typ), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT),
			Phoff: ehsize, Ehsize: ehsize, Phentsize: phsize, Phnum: phnum})
		if interp != "" {
			write(elf.Prog64{Type: uint32(elf.PT_INTERP), Off: ehsize + phsize, Filesz: uint64(len(interp) + 1), Memsz: uint64(len(interp) + 1)})
		}
	} else {
		const ehsize, phsize = 52, 32
		write(elf.Header32{Ident: ident, Type: uint16(typ), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT),
			Phoff: ehsize, Ehsize: ehsize, Phentsize: phsize, Phnum: phnum})
		if interp != "" {
			write(elf.Prog32{Type: uint32(elf.PT_INTERP), Off: ehsize + phsize, Filesz: uint32(len(interp) + 1), Memsz: uint32(len(interp) + 1)})
		}
	}
	if interp != "" {
		buf.WriteString(interp + "\x00")
	}
	return buf.Bytes()
}

func TestInspectBinary(t *testing.T) {
	const le, be = false, true
	tests := []struct {
		name    string
		bin     []byte
		want    string // platform, "" when Architecture is unknown
		wantErr string
	}{
		{"amd64", fakeELF(t, true, le, elf.ELFOSABI_NONE, elf.ET_EXEC, elf.EM_X86_64, ""), "linux/amd64", ""},
		{"arm64 linux abi", fakeELF(t, true, le, elf.ELFOSABI_LINUX, elf.ET_EXEC, elf.EM_AARCH64, ""), "linux/arm64", ""},
		{"static pie", fakeELF(t, true, le, elf.ELFOSABI_NONE, elf.ET_DYN, elf.EM_AARCH64, ""), "linux/arm64", ""},
		{"386", fakeELF(t, false, le, elf.ELFOSABI_NONE, elf.ET_EXEC, elf.EM_386, ""), "linux/386", ""},
		{"arm", fakeELF(t, false, le, elf.ELFOSABI_NONE, elf.ET_EXEC, elf.EM_ARM, ""), "linux/arm", ""},
		{"riscv64", fakeELF(t, true, le, elf.ELFOSABI_NONE, elf.ET_EXEC, elf.EM_RISCV, ""), "linux/riscv64", ""},
		{"riscv32 unknown", fakeELF(t, false, le, elf.ELFOSABI_NONE, elf.ET_EXEC, elf.EM_RISCV, ""), "", ""},
		{"ppc64le", fakeELF(t, true, le, elf.ELFOSABI_NONE, elf.ET_EXEC, elf.EM_PPC64, ""), "linux/ppc64le", ""},
		{"ppc64", fakeELF(t, true, be, elf.ELFOSABI_NONE, elf.ET_EXEC, elf.EM_PPC64, ""), "linux/ppc64", ""},
		{"s390x", fakeELF(t, true, be, elf.ELFOSABI_NONE, elf.ET_EXEC, elf.EM_S390, ""), "linux/s390x", ""},
		{"loong64", fakeELF(t, true, le, elf.ELFOSABI_NONE, elf.ET_EXEC, elf.EM_LOONGARCH, ""), "linux/loong64", ""},
		{"mips", fakeELF(t, false, be, elf.ELFOSABI_NONE, elf.ET_EXEC, elf.EM_MIPS, ""), "linux/mips", ""},
		{"mipsle", fakeELF(t, false, le, elf.ELFOSABI_NONE, elf.ET_EXEC, elf.EM_MIPS, ""), "linux/mipsle", ""},
		{"mips64le", fakeELF(t, true, le, elf.ELFOSABI_NONE, elf.ET_EXEC, elf.EM_MIPS, ""), "linux/mips64le", ""},
		{"freebsd", fakeELF(t, true, le, elf.ELFOSABI_FREEBSD, elf.ET_EXEC, elf.EM_X86_64, ""), "freebsd/amd64", ""},
		{"unknown machine", fakeELF(t, true, le, elf.ELFOSABI_NONE, elf.ET_EXEC, elf.EM_SPARCV9, ""), "", ""},
		{"dynamic", fakeELF(t, true, le, elf.ELFOSABI_NONE, elf.ET_EXEC, elf.EM_X86_64, "/lib64/ld-linux-x86-64.so.2"), "",
			"dynamically linked (interpreter /lib64/ld-linux-x86-64.so.2)"},
		{"object file", fakeELF(t, true, le, elf.ELFOSABI_NONE, elf.ET_REL, elf.EM_X86_64, ""), "", "ELF type ET_REL is not an executable"},
		{"script", []byte("#!/bin/sh\necho hi\n"), "", "not an ELF executable"},
		{"empty", nil, "", "not an ELF executable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := inspectBinary(tc.bin)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("inspectBinary = %v, %v; want error %q", p, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if p.Architecture != "" {
				got = platformString(p)
			}
			if got != tc.want {
				t.Errorf("platform %q, want %q", got, tc.want)
			}
		})
	}
}

// layerFiles lists the regular files of img's only layer with their modes.
func layerFiles(t *testing.T, img v1.Image) map[string]string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		out[h.Name] = string(rune(h.Typeflag)) + " " + os.FileMode(h.Mode).String() + " " + string(body[:min(len(body), 4)])
	}
}

func TestBuildFromBinary(t *testing.T) {
	bin := hello(t)
	native := runtime.GOOS + "/" + runtime.GOARCH
	content, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	magic := string(content[:4])
	tests := []struct {
		name       string
		opts       BuildOptions
		wantEntry  string
		wantEnv    []string
		wantCmd    []string
		wantPlat   string
		wantLayer  map[string]string
		wantErrSub string
	}{
		{"defaults", BuildOptions{}, "/hello", []string{defaultPath}, nil, native,
			map[string]string{"hello": "0 -rwxr-xr-x " + magic}, ""},
		{"nested path env cmd", BuildOptions{Path: "/usr/local/bin/hi", Env: []string{"GREETING=hey", "A=b=c"}, Cmd: []string{"x", "y"}},
			"/usr/local/bin/hi", []string{defaultPath, "GREETING=hey", "A=b=c"}, []string{"x", "y"}, native,
			map[string]string{"usr/": "5 -rwxr-xr-x ", "usr/local/": "5 -rwxr-xr-x ", "usr/local/bin/": "5 -rwxr-xr-x ", "usr/local/bin/hi": "0 -rwxr-xr-x " + magic}, ""},
		{"own PATH", BuildOptions{Env: []string{"PATH=/x"}}, "/hello", []string{"PATH=/x"}, nil, native, nil, ""},
		{"explicit matching platform with variant", BuildOptions{Platform: native + "/v9"}, "/hello", nil, nil, native + "/v9", nil, ""},
		{"platform disagrees with binary", BuildOptions{Platform: "linux/s390x"}, "", nil, nil, "", nil, `platform "linux/s390x": binary ` + bin + " is built for " + native},
		{"bad platform", BuildOptions{Platform: "linux"}, "", nil, nil, "", nil, `platform "linux"`},
		{"relative path", BuildOptions{Path: "demo"}, "", nil, nil, "", nil, `path "demo": must be a clean absolute file path`},
		{"unclean path", BuildOptions{Path: "/a/../demo"}, "", nil, nil, "", nil, `path "/a/../demo"`},
		{"root path", BuildOptions{Path: "/"}, "", nil, nil, "", nil, `path "/"`},
		{"bad env", BuildOptions{Env: []string{"GREETING"}}, "", nil, nil, "", nil, `env[0]: "GREETING" is not KEY=VALUE`},
		{"empty env key", BuildOptions{Env: []string{"A=1", "=x"}}, "", nil, nil, "", nil, `env[1]: "=x" is not KEY=VALUE`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := BuildFromBinary(bin, tc.opts)
			if tc.wantErrSub != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrSub) {
					t.Fatalf("BuildFromBinary = %v, want error %q", err, tc.wantErrSub)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if got := platformString(v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}); got != tc.wantPlat {
				t.Errorf("platform %s, want %s", got, tc.wantPlat)
			}
			if !slices.Equal(cf.Config.Entrypoint, []string{tc.wantEntry}) {
				t.Errorf("entrypoint %q, want [%s]", cf.Config.Entrypoint, tc.wantEntry)
			}
			if tc.wantEnv != nil && !slices.Equal(cf.Config.Env, tc.wantEnv) {
				t.Errorf("env %q, want %q", cf.Config.Env, tc.wantEnv)
			}
			if !slices.Equal(cf.Config.Cmd, tc.wantCmd) {
				t.Errorf("cmd %q, want %q", cf.Config.Cmd, tc.wantCmd)
			}
			if tc.wantLayer != nil {
				got := layerFiles(t, img)
				if len(got) != len(tc.wantLayer) {
					t.Errorf("layer holds %v, want %v", got, tc.wantLayer)
				}
				for k, v := range tc.wantLayer {
					if got[k] != v {
						t.Errorf("layer entry %s = %q, want %q", k, got[k], v)
					}
				}
			}
		})
	}
}

func TestBuildFromBinaryRefusesNonStatic(t *testing.T) {
	dir := t.TempDir()
	dyn := filepath.Join(dir, "dyn")
	if err := os.WriteFile(dyn, fakeELF(t, true, false, elf.ELFOSABI_NONE, elf.ET_EXEC, elf.EM_X86_64, "/lib/ld-musl-x86_64.so.1"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "script")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	unknown := filepath.Join(dir, "sparc")
	if err := os.WriteFile(unknown, fakeELF(t, true, true, elf.ELFOSABI_NONE, elf.ET_EXEC, elf.EM_SPARCV9, ""), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		bin, platform, want string
	}{
		{dyn, "", "binary " + dyn + ": dynamically linked (interpreter /lib/ld-musl-x86_64.so.1)"},
		{script, "", "binary " + script + ": not an ELF executable"},
		{unknown, "", "binary " + unknown + ": unknown ELF machine; set the platform explicitly"},
		{filepath.Join(dir, "missing"), "", "binary: open"},
	} {
		if _, err := BuildFromBinary(tc.bin, BuildOptions{Platform: tc.platform}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("BuildFromBinary(%s) = %v, want %q", filepath.Base(tc.bin), err, tc.want)
		}
	}
	// An architecture Go does not know is accepted when named explicitly.
	img, err := BuildFromBinary(unknown, BuildOptions{Platform: "linux/sparc64"})
	if err != nil {
		t.Fatalf("BuildFromBinary(sparc, linux/sparc64): %v", err)
	}
	if cf, err := img.ConfigFile(); err != nil || cf.Architecture != "sparc64" {
		t.Errorf("architecture = %v (%v), want sparc64", cf, err)
	}
}

func TestBuildFromBinaryIsReproducible(t *testing.T) {
	bin := hello(t)
	opts := BuildOptions{Env: []string{"GREETING=x"}}
	a, err := BuildFromBinary(bin, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := BuildFromBinary(bin, opts)
	if err != nil {
		t.Fatal(err)
	}
	if digestOf(t, a) != digestOf(t, b) {
		t.Errorf("same inputs gave digests %s and %s", digestOf(t, a), digestOf(t, b))
	}
	c, err := BuildFromBinary(bin, BuildOptions{Env: []string{"GREETING=y"}})
	if err != nil {
		t.Fatal(err)
	}
	if digestOf(t, a) == digestOf(t, c) {
		t.Error("different env gave the same digest")
	}
	la, _ := a.Layers()
	lc, _ := c.Layers()
	da, _ := la[0].Digest()
	dc, _ := lc[0].Digest()
	if da != dc {
		t.Errorf("layer digests %s and %s differ although only the config differs", da, dc)
	}
}

func TestWriteTarball(t *testing.T) {
	bin := hello(t)
	v1img, err := BuildFromBinary(bin, BuildOptions{Env: []string{"VERSION=v1"}})
	if err != nil {
		t.Fatal(err)
	}
	v2img, err := BuildFromBinary(bin, BuildOptions{Env: []string{"VERSION=v2"}})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "images.tar")
	if err := WriteTarball(out, map[string]v1.Image{"x/hello:v1": v1img, "x/hello:latest": v1img, "x/hello:v2": v2img}); err != nil {
		t.Fatal(err)
	}
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(out) })
	if err != nil {
		t.Fatal(err)
	}
	var tags [][]string
	layers := map[string]bool{}
	for _, d := range m {
		tags = append(tags, slices.Sorted(slices.Values(d.RepoTags)))
		for _, l := range d.Layers {
			layers[l] = true
		}
	}
	want := [][]string{{"x/hello:latest", "x/hello:v1"}, {"x/hello:v2"}}
	if !slices.EqualFunc(tags, want, slices.Equal) {
		t.Errorf("manifest.json tags %q, want %q", tags, want)
	}
	if len(layers) != 1 {
		t.Errorf("tarball references %d layer files, want the shared layer once", len(layers))
	}

	for _, tc := range []struct {
		name   string
		images map[string]v1.Image
		want   string
	}{
		{"none", nil, "no images"},
		{"bad tag", map[string]v1.Image{"UPPER/case:v1": v1img}, `tag "UPPER/case:v1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "o.tar")
			if err := WriteTarball(p, tc.images); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("WriteTarball = %v, want %q", err, tc.want)
			}
			if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("failed WriteTarball left %s (stat %v)", p, err)
			}
		})
	}
}
