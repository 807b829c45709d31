package image

import (
	"archive/tar"
	"bytes"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

var (
	helloOnce sync.Once
	helloDir  string
	helloBin  string
	helloErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if helloDir != "" {
		os.RemoveAll(helloDir)
	}
	os.Exit(code)
}

// hello builds testdata/hello as a static binary once per test run.
func hello(t testing.TB) string {
	t.Helper()
	helloOnce.Do(func() {
		helloDir, helloErr = os.MkdirTemp("", "image-hello-")
		if helloErr != nil {
			return
		}
		helloBin = filepath.Join(helloDir, "hello")
		cmd := exec.Command("go", "build", "-ldflags", "-s -w", "-o", helloBin, "./testdata/hello")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			helloErr = fmt.Errorf("building hello: %v\n%s", err, out)
		}
	})
	if helloErr != nil {
		t.Fatal(helloErr)
	}
	return helloBin
}

func newStore(t testing.TB, cfg StoreConfig) *Store {
	t.Helper()
	if cfg.Root == "" {
		cfg.Root = t.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := NewStore(cfg)
	if err != nil {
		t.Fatalf("NewStore: %v", err)
	}
	return s
}

// testRegistry is an in-process registry on a real loopback socket.
type testRegistry struct {
	srv  *httptest.Server
	host string // 127.0.0.1:port
	// counters of requests seen, by kind
	manifests atomic.Int64
	blobs     atomic.Int64
	total     atomic.Int64
}

type registryOpts struct {
	tls  bool
	user string // basic auth required when set
	pass string
	hang <-chan struct{} // when set, every request blocks until it closes
}

func startRegistry(t testing.TB, o registryOpts) *testRegistry {
	t.Helper()
	tr := &testRegistry{}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.total.Add(1)
		if o.hang != nil {
			select {
			case <-o.hang:
			case <-r.Context().Done():
			}
			return
		}
		if o.user != "" {
			if u, p, ok := r.BasicAuth(); !ok || u != o.user || p != o.pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
				return
			}
		}
		switch {
		case strings.Contains(r.URL.Path, "/manifests/"):
			tr.manifests.Add(1)
		case strings.Contains(r.URL.Path, "/blobs/") && r.Method == http.MethodGet:
			tr.blobs.Add(1)
		}
		reg.ServeHTTP(w, r)
	})
	tr.srv = httptest.NewUnstartedServer(h)
	// Handshake failures are expected in the TLS tests; keep them off stderr.
	tr.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if o.tls {
		tr.srv.StartTLS()
	} else {
		tr.srv.Start()
	}
	t.Cleanup(tr.srv.Close)
	tr.host = tr.srv.Listener.Addr().String()
	return tr
}

// roots returns a pool trusting the TLS registry's certificate.
func (tr *testRegistry) roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(tr.srv.Certificate())
	return p
}

// push uploads img (or an index) as repo:tag and returns the reference string.
func (tr *testRegistry) push(t testing.TB, repoTag string, img v1.Image) string {
	t.Helper()
	ref := tr.host + "/" + repoTag
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	opts := []remote.Option{remote.WithTransport(tr.srv.Client().Transport)}
	if tr.srv.TLS == nil {
		opts = []remote.Option{remote.WithTransport(http.DefaultTransport)}
	}
	if err := remote.Write(tag, img, opts...); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return ref
}

func (tr *testRegistry) pushIndex(t testing.TB, repoTag string, ii v1.ImageIndex) string {
	t.Helper()
	ref := tr.host + "/" + repoTag
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(tag, ii, remote.WithTransport(tr.srv.Client().Transport)); err != nil {
		t.Fatalf("push index %s: %v", ref, err)
	}
	return ref
}

// entry is one tar member of a hand-made layer.
type entry struct {
	name     string
	typ      byte // tar.TypeReg when 0
	body     string
	mode     int64
	linkname string
	uid, gid int
}

func tarBytes(t testing.TB, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.linkname, Uid: e.uid, Gid: e.gid, ModTime: time.Unix(1700000000, 0)}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := io.WriteString(tw, e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func layerOf(t testing.TB, entries []entry) v1.Layer {
	t.Helper()
	b := tarBytes(t, entries)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// imageOf builds an image from layers (bottom first) for platform.
func imageOf(t testing.TB, platform string, layers ...[]entry) v1.Image {
	t.Helper()
	img := empty.Image
	for _, l := range layers {
		var err error
		if img, err = mutate.AppendLayers(img, layerOf(t, l)); err != nil {
			t.Fatal(err)
		}
	}
	p, err := parsePlatform(platform)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Config.Cmd = []string{"/bin/sh"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

func digestOf(t testing.TB, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func remoteWrite(tag name.Tag, img v1.Image, rt http.RoundTripper, kc keychain) error {
	return remote.Write(tag, img, remote.WithTransport(rt), remote.WithAuthFromKeychain(kc))
}
