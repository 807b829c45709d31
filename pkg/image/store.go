package image

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/prometheus/client_golang/prometheus"
)

// StoreConfig configures a Store.
type StoreConfig struct {
	// Root is the store directory (created if missing).
	Root string
	// Insecure lists registries (host[:port], or a bare host for every port)
	// reached over plain http or TLS without certificate verification.
	Insecure []string
	// Auth holds credentials per registry, used after pull secrets.
	Auth RegistryAuth
	// Platform is the node's "os/arch[/variant]"; default runtime.GOOS/GOARCH.
	Platform string
	// RootCAs verifies registry certificates; nil means the system pool.
	RootCAs *x509.CertPool
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives the store's metrics; nil registers none.
	Registerer prometheus.Registerer
}

// Image describes a stored image.
type Image struct {
	Ref    string // normalised reference, e.g. index.docker.io/library/nginx:1.27
	Digest string // manifest digest
	ID     string // config digest (the image ID)
	Size   int64  // config plus compressed layers, in bytes
	Pulled bool   // set by Ensure when it pulled from the registry just now
}

// ImageConfig is the part of an image configuration the runtime needs.
type ImageConfig struct {
	Entrypoint   []string
	Cmd          []string
	Env          []string
	WorkingDir   string
	User         string
	StopSignal   string
	Labels       map[string]string
	ExposedPorts []string // "8080/tcp", sorted
	OS           string
	Architecture string
	Variant      string
}

// Platform renders os/arch[/variant].
func (c ImageConfig) Platform() string {
	return platformString(v1.Platform{OS: c.OS, Architecture: c.Architecture, Variant: c.Variant})
}

type refEntry struct {
	Digest    string          `json:"digest"`
	MediaType types.MediaType `json:"mediaType"`
}

type refsFile struct {
	Refs map[string]refEntry `json:"refs"`
}

// Store is a local image store. It is safe for concurrent use.
type Store struct {
	cfg       StoreConfig
	platform  v1.Platform
	blobs     *blobStore
	tmp       string
	rootfs    string
	transport *guardTransport
	log       *slog.Logger
	metrics   *metrics

	mu   sync.Mutex
	refs map[string]refEntry

	pulls   keyedMutex[string]
	unpacks keyedMutex[string]
}

// NewStore opens (or creates) the store at cfg.Root.
func NewStore(cfg StoreConfig) (*Store, error) {
	if cfg.Root == "" {
		return nil, errors.New("image store: root: must not be empty")
	}
	p, err := parsePlatform(cfg.Platform)
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	for i, r := range cfg.Insecure {
		if normalizeRegistry(r) == "" {
			return nil, fmt.Errorf("image store: insecure[%d]: empty registry", i)
		}
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("image store: metrics: %w", err)
	}
	s := &Store{
		cfg:       cfg,
		platform:  p,
		tmp:       filepath.Join(cfg.Root, "tmp"),
		rootfs:    filepath.Join(cfg.Root, "rootfs"),
		blobs:     &blobStore{dir: filepath.Join(cfg.Root, "blobs", "sha256"), tmp: filepath.Join(cfg.Root, "tmp")},
		transport: newGuardTransport(cfg.Insecure, cfg.RootCAs),
		log:       cfg.Logger,
		metrics:   m,
		refs:      map[string]refEntry{},
	}
	// Leftovers of an interrupted pull or unpack are garbage.
	if err := os.RemoveAll(s.tmp); err != nil {
		return nil, fmt.Errorf("image store: cleaning %s: %w", s.tmp, err)
	}
	for _, d := range []string{s.blobs.dir, s.tmp, s.rootfs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
	}
	data, err := os.ReadFile(s.refsPath())
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("image store: %w", err)
	default:
		var rf refsFile
		if err := json.Unmarshal(data, &rf); err != nil {
			return nil, fmt.Errorf("image store: %s: %w", s.refsPath(), err)
		}
		if rf.Refs != nil {
			s.refs = rf.Refs
		}
	}
	return s, nil
}

func (s *Store) refsPath() string { return filepath.Join(s.cfg.Root, "refs.json") }

// setRefs records refs → e and persists the table atomically.
func (s *Store) setRefs(keys []string, e refEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		s.refs[k] = e
	}
	data, err := json.MarshalIndent(refsFile{Refs: s.refs}, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(s.tmp, "refs-")
	if err != nil {
		return fmt.Errorf("saving refs: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("saving refs: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("saving refs: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("saving refs: %w", err)
	}
	if err := os.Rename(f.Name(), s.refsPath()); err != nil {
		return fmt.Errorf("saving refs: %w", err)
	}
	return nil
}

// parseRef parses a user-given image reference.
func parseRef(ref string) (name.Reference, error) {
	if strings.TrimSpace(ref) == "" {
		return nil, &Error{Reason: ReasonInvalidImageName, Image: ref, Err: errors.New("image reference is empty")}
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, &Error{Reason: ReasonInvalidImageName, Image: ref, Err: fmt.Errorf("image %q: %w", ref, err)}
	}
	return r, nil
}

// effectivePolicy applies the Kubernetes default for an empty policy.
func effectivePolicy(ref string, r name.Reference, p PullPolicy) (PullPolicy, error) {
	switch p {
	case PullAlways, PullIfNotPresent, PullNever:
		return p, nil
	case "":
		if t, ok := r.(name.Tag); ok && t.TagStr() == "latest" {
			return PullAlways, nil
		}
		return PullIfNotPresent, nil
	}
	return "", fmt.Errorf("image %q: imagePullPolicy %q: must be Always, IfNotPresent or Never", ref, p)
}

// lookup finds the entry of r: by its exact name, or for a digest reference
// any tag of the same repository with that manifest digest.
func (s *Store) lookup(r name.Reference) (refEntry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.refs[r.Name()]; ok {
		return e, true
	}
	d, ok := r.(name.Digest)
	if !ok {
		return refEntry{}, false
	}
	for k, e := range s.refs {
		if e.Digest != d.DigestStr() {
			continue
		}
		if kr, err := name.ParseReference(k); err == nil && kr.Context().Name() == d.Context().Name() {
			return e, true
		}
	}
	return refEntry{}, false
}

func (s *Store) info(key string, e refEntry) (Image, error) {
	h, err := v1.NewHash(e.Digest)
	if err != nil {
		return Image{}, fmt.Errorf("image %s: stored digest: %w", key, err)
	}
	raw, err := s.blobs.read(h)
	if err != nil {
		return Image{}, fmt.Errorf("image %s: %w", key, err)
	}
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return Image{}, fmt.Errorf("image %s: manifest %s: %w", key, h, err)
	}
	size := m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	return Image{Ref: key, Digest: e.Digest, ID: m.Config.Digest.String(), Size: size}, nil
}

// Ensure makes ref present according to policy (see PullPolicy) and returns
// it. Pull secrets, each the content of one image pull secret (see
// ParseDockerConfig), are tried in order before StoreConfig.Auth. Errors are
// *Error with reason ErrImagePull, ErrImageNeverPull or InvalidImageName.
func (s *Store) Ensure(ctx context.Context, ref string, policy PullPolicy, pullSecrets ...RegistryAuth) (Image, error) {
	r, err := parseRef(ref)
	if err != nil {
		return Image{}, err
	}
	policy, err = effectivePolicy(ref, r, policy)
	if err != nil {
		return Image{}, err
	}
	key := r.Name()
	unlock, err := s.pulls.lock(ctx, key)
	if err != nil {
		return Image{}, &Error{Reason: ReasonErrImagePull, Image: ref, Err: fmt.Errorf("pulling image %q: %w", ref, err)}
	}
	defer unlock()
	if policy != PullAlways {
		if e, ok := s.lookup(r); ok {
			if img, err := s.info(key, e); err == nil {
				return img, nil
			} else if policy == PullNever {
				return Image{}, &Error{Reason: ReasonErrImageNeverPull, Image: ref, Err: err}
			}
		}
	}
	if policy == PullNever {
		return Image{}, &Error{Reason: ReasonErrImageNeverPull, Image: ref,
			Err: fmt.Errorf("container image %q is not present with pull policy of Never", ref)}
	}
	return s.pull(ctx, ref, r, pullSecrets)
}

func (s *Store) pull(ctx context.Context, ref string, r name.Reference, secrets []RegistryAuth) (Image, error) {
	start := time.Now()
	fail := func(err error) (Image, error) {
		s.metrics.pulls.WithLabelValues("failure").Inc()
		var phe *PlainHTTPError
		if errors.As(err, &phe) {
			err = phe // the scheme mix-up is the whole story
		}
		s.log.Warn("image pull failed", "image", ref, "err", err)
		return Image{}, &Error{Reason: ReasonErrImagePull, Image: ref, Err: fmt.Errorf("pulling image %q: %w", ref, err)}
	}
	if s.transport.isInsecure(r.Context().RegistryStr()) {
		// Lets go-containerregistry fall back to http; the transport still
		// decides what may go out.
		var err error
		if r, err = name.ParseReference(ref, name.Insecure); err != nil {
			return fail(err)
		}
	}
	kc := keychain(append(slices.Clone(secrets), s.cfg.Auth))
	img, err := remote.Image(r,
		remote.WithContext(ctx),
		remote.WithTransport(s.transport),
		remote.WithPlatform(s.platform),
		remote.WithAuthFromKeychain(kc),
		remote.WithUserAgent("coxswain"),
	)
	if err != nil {
		return fail(err)
	}
	digest, mt, err := s.blobs.writeImage(img)
	if err != nil {
		return fail(err)
	}
	e := refEntry{Digest: digest.String(), MediaType: mt}
	if err := s.setRefs([]string{r.Name()}, e); err != nil {
		return fail(err)
	}
	info, err := s.info(r.Name(), e)
	if err != nil {
		return fail(err)
	}
	info.Pulled = true
	s.metrics.pulls.WithLabelValues("success").Inc()
	s.metrics.pullDuration.Observe(time.Since(start).Seconds())
	s.log.Info("image pulled", "image", ref, "digest", info.Digest, "size", info.Size, "duration", time.Since(start))
	return info, nil
}

// List returns the stored images sorted by reference.
func (s *Store) List() ([]Image, error) {
	s.mu.Lock()
	refs := make(map[string]refEntry, len(s.refs))
	for k, e := range s.refs {
		refs[k] = e
	}
	s.mu.Unlock()
	out := make([]Image, 0, len(refs))
	for k, e := range refs {
		img, err := s.info(k, e)
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	slices.SortFunc(out, func(a, b Image) int { return strings.Compare(a.Ref, b.Ref) })
	return out, nil
}

// image opens the stored image of ref.
func (s *Store) image(ref string) (v1.Image, error) {
	r, err := parseRef(ref)
	if err != nil {
		return nil, err
	}
	e, ok := s.lookup(r)
	if !ok {
		return nil, fmt.Errorf("image %q: not in the store", ref)
	}
	h, err := v1.NewHash(e.Digest)
	if err != nil {
		return nil, fmt.Errorf("image %q: stored digest: %w", ref, err)
	}
	img, err := s.blobs.image(h, e.MediaType)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", ref, err)
	}
	return img, nil
}

// Config returns the runtime configuration of a stored image.
func (s *Store) Config(ref string) (ImageConfig, error) {
	img, err := s.image(ref)
	if err != nil {
		return ImageConfig{}, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return ImageConfig{}, fmt.Errorf("image %q: config: %w", ref, err)
	}
	c := ImageConfig{
		Entrypoint:   cf.Config.Entrypoint,
		Cmd:          cf.Config.Cmd,
		Env:          cf.Config.Env,
		WorkingDir:   cf.Config.WorkingDir,
		User:         cf.Config.User,
		StopSignal:   cf.Config.StopSignal,
		Labels:       cf.Config.Labels,
		OS:           cf.OS,
		Architecture: cf.Architecture,
		Variant:      cf.Variant,
	}
	for p := range cf.Config.ExposedPorts {
		c.ExposedPorts = append(c.ExposedPorts, p)
	}
	slices.Sort(c.ExposedPorts)
	return c, nil
}

// CheckPlatform returns an error naming both platforms when the image of ref
// is built for another platform than the node's (why a container fails with
// "exec format error"). An image that declares no platform passes.
func (s *Store) CheckPlatform(ref string) error {
	c, err := s.Config(ref)
	if err != nil {
		return err
	}
	if c.OS == "" && c.Architecture == "" {
		return nil
	}
	ip := v1.Platform{OS: c.OS, Architecture: c.Architecture, Variant: c.Variant}
	if platformMatches(ip, s.platform) {
		return nil
	}
	return fmt.Errorf("image %q is built for %s but this node is %s", ref, platformString(ip), platformString(s.platform))
}

// RootFS returns the cached root filesystem of ref's image, extracting it on
// first use into <root>/rootfs/<image ID hex>. The directory is shared by
// every container of the image: callers must treat it as read-only (for
// example as an overlay lower directory).
func (s *Store) RootFS(ctx context.Context, ref string) (string, error) {
	img, err := s.image(ref)
	if err != nil {
		return "", err
	}
	id, err := img.ConfigName()
	if err != nil {
		return "", fmt.Errorf("image %q: %w", ref, err)
	}
	dir := filepath.Join(s.rootfs, id.Hex)
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	unlock, err := s.unpacks.lock(ctx, id.Hex)
	if err != nil {
		return "", fmt.Errorf("image %q: unpack: %w", ref, err)
	}
	defer unlock()
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	start := time.Now()
	tmp, err := os.MkdirTemp(s.tmp, "rootfs-")
	if err != nil {
		return "", fmt.Errorf("image %q: unpack: %w", ref, err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", fmt.Errorf("image %q: unpack: %w", ref, err)
	}
	st, err := unpackImage(ctx, img, tmp)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", ref, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", fmt.Errorf("image %q: unpack: %w", ref, err)
	}
	s.metrics.unpackDuration.Observe(time.Since(start).Seconds())
	s.log.Info("image unpacked", "image", ref, "id", id.String(), "dir", dir,
		"entries", st.Entries, "skipped", st.Skipped, "duration", time.Since(start))
	return dir, nil
}

// Unpack extracts ref's image into dir (created if missing; must be empty).
func (s *Store) Unpack(ctx context.Context, ref, dir string) error {
	img, err := s.image(ref)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("image %q: unpack: %w", ref, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("image %q: unpack: %w", ref, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("image %q: unpack: directory %s is not empty", ref, dir)
	}
	if _, err := unpackImage(ctx, img, dir); err != nil {
		return fmt.Errorf("image %q: %w", ref, err)
	}
	return nil
}

// Load imports every tagged image of a `docker save` tarball or an OCI image
// layout tarball and returns them. Images without a name are skipped.
func (s *Store) Load(ctx context.Context, tarballPath string) ([]Image, error) {
	names, err := tarMembers(tarballPath)
	if err != nil {
		return nil, err
	}
	var loaded []Image
	switch {
	case names["manifest.json"]:
		loaded, err = s.loadDocker(ctx, tarballPath)
	case names["index.json"] && names["oci-layout"]:
		loaded, err = s.loadOCI(ctx, tarballPath)
	default:
		return nil, fmt.Errorf("load %s: neither a docker save tarball (no manifest.json) nor an OCI layout (no index.json and oci-layout)", tarballPath)
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", tarballPath, err)
	}
	if len(loaded) == 0 {
		return nil, fmt.Errorf("load %s: no named image in the tarball", tarballPath)
	}
	return loaded, nil
}

// tarMembers lists the top-level file names of an uncompressed tar.
func tarMembers(p string) (map[string]bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		return nil, fmt.Errorf("load %s: gzip-compressed; decompress it first", p)
	}
	names := map[string]bool{}
	tr := tar.NewReader(br)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, nil
		}
		if err != nil {
			return nil, fmt.Errorf("load %s: not a tar archive: %w", p, err)
		}
		names[strings.TrimPrefix(filepath.Clean(hdr.Name), "/")] = true
	}
}

func (s *Store) loadDocker(ctx context.Context, p string) ([]Image, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(p) }
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	var out []Image
	for i, d := range m {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(d.RepoTags) == 0 {
			s.log.Warn("skipping untagged image in tarball", "tarball", p, "config", d.Config)
			continue
		}
		tags := make([]name.Tag, 0, len(d.RepoTags))
		for _, rt := range d.RepoTags {
			t, err := name.NewTag(rt)
			if err != nil {
				return nil, fmt.Errorf("manifest.json entry %d: tag %q: %w", i, rt, err)
			}
			tags = append(tags, t)
		}
		img, err := tarball.Image(opener, &tags[0])
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", tags[0], err)
		}
		imgs, err := s.store(img, refNames(tags))
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", tags[0], err)
		}
		out = append(out, imgs...)
	}
	return out, nil
}

func refNames[R name.Reference](rs []R) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Name()
	}
	return out
}

// store writes img and points keys at it.
func (s *Store) store(img v1.Image, keys []string) ([]Image, error) {
	digest, mt, err := s.blobs.writeImage(img)
	if err != nil {
		return nil, err
	}
	e := refEntry{Digest: digest.String(), MediaType: mt}
	if err := s.setRefs(keys, e); err != nil {
		return nil, err
	}
	out := make([]Image, 0, len(keys))
	for _, k := range keys {
		info, err := s.info(k, e)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
		s.log.Info("image loaded", "image", k, "digest", info.Digest)
	}
	return out, nil
}

// Annotations naming an image in an OCI layout.
const (
	annotationContainerdName = "io.containerd.image.name"
	annotationRefName        = "org.opencontainers.image.ref.name"
)

// ociRefName returns the full reference an index entry names, if any. A bare
// tag in org.opencontainers.image.ref.name (no repository) cannot be used.
func ociRefName(ann map[string]string) (name.Reference, bool) {
	for _, k := range []string{annotationContainerdName, annotationRefName} {
		v := ann[k]
		if v == "" || !strings.ContainsAny(v, "/:@") {
			continue
		}
		if r, err := name.ParseReference(v); err == nil {
			return r, true
		}
	}
	return nil, false
}

func (s *Store) loadOCI(ctx context.Context, p string) ([]Image, error) {
	dir, err := os.MkdirTemp(s.tmp, "oci-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	_, err = untar(ctx, f, dir)
	f.Close()
	if err != nil {
		return nil, err
	}
	ii, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("oci layout: %w", err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("oci layout: index.json: %w", err)
	}
	var out []Image
	for _, d := range im.Manifests {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r, ok := ociRefName(d.Annotations)
		if !ok {
			s.log.Warn("skipping unnamed image in OCI layout", "tarball", p, "digest", d.Digest.String())
			continue
		}
		var img v1.Image
		switch {
		case d.MediaType.IsImage():
			img, err = ii.Image(d.Digest)
		case d.MediaType.IsIndex():
			img, err = s.platformImage(ii, d.Digest)
		default:
			s.log.Warn("skipping OCI layout entry of unknown media type", "tarball", p, "mediaType", string(d.MediaType))
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", r, err)
		}
		imgs, err := s.store(img, []string{r.Name()})
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", r, err)
		}
		out = append(out, imgs...)
	}
	return out, nil
}

// platformImage picks the node's platform from a nested index.
func (s *Store) platformImage(parent v1.ImageIndex, h v1.Hash) (v1.Image, error) {
	ii, err := parent.ImageIndex(h)
	if err != nil {
		return nil, err
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return nil, err
	}
	var seen []string
	for _, d := range im.Manifests {
		if d.Platform == nil || !d.MediaType.IsImage() {
			continue
		}
		if platformMatches(*d.Platform, s.platform) {
			return ii.Image(d.Digest)
		}
		seen = append(seen, platformString(*d.Platform))
	}
	return nil, fmt.Errorf("index %s: no image for %s (has %s)", h, platformString(s.platform), strings.Join(seen, ", "))
}
