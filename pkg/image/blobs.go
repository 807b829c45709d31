package image

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// blobStore is a directory of sha256 content-addressed files. A blob file is
// only ever created by renaming a verified temporary file, so a present file
// is complete.
type blobStore struct {
	dir string // <root>/blobs/sha256
	tmp string // <root>/tmp
}

func (b *blobStore) path(h v1.Hash) string { return filepath.Join(b.dir, h.Hex) }

func validHash(h v1.Hash) error {
	if h.Algorithm != "sha256" {
		return fmt.Errorf("digest %s: unsupported algorithm %q", h, h.Algorithm)
	}
	if len(h.Hex) != 64 {
		return fmt.Errorf("digest %s: want 64 hex digits", h)
	}
	if _, err := hex.DecodeString(h.Hex); err != nil {
		return fmt.Errorf("digest %s: %w", h, err)
	}
	return nil
}

func (b *blobStore) has(h v1.Hash, size int64) bool {
	fi, err := os.Stat(b.path(h))
	return err == nil && fi.Mode().IsRegular() && (size < 0 || fi.Size() == size)
}

// put stores r under h after checking its digest (and size unless < 0).
func (b *blobStore) put(h v1.Hash, size int64, r io.Reader) error {
	if err := validHash(h); err != nil {
		return err
	}
	if b.has(h, size) {
		return nil
	}
	f, err := os.CreateTemp(b.tmp, "blob-")
	if err != nil {
		return fmt.Errorf("blob %s: %w", h, err)
	}
	defer os.Remove(f.Name())
	hasher := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, hasher), r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("blob %s: writing: %w", h, err)
	}
	if got := hex.EncodeToString(hasher.Sum(nil)); got != h.Hex {
		return fmt.Errorf("blob %s: content has digest sha256:%s", h, got)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("blob %s: got %d bytes, want %d", h, n, size)
	}
	if err := os.Chmod(f.Name(), 0o444); err != nil {
		return fmt.Errorf("blob %s: %w", h, err)
	}
	if err := os.Rename(f.Name(), b.path(h)); err != nil {
		return fmt.Errorf("blob %s: %w", h, err)
	}
	return nil
}

func (b *blobStore) read(h v1.Hash) ([]byte, error) {
	if err := validHash(h); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(b.path(h))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", h, err)
	}
	return data, nil
}

// writeImage copies img's config, layers and manifest into the blob store,
// manifest last, and returns the manifest digest and media type.
func (b *blobStore) writeImage(img v1.Image) (v1.Hash, types.MediaType, error) {
	rawManifest, err := img.RawManifest()
	if err != nil {
		return v1.Hash{}, "", fmt.Errorf("reading manifest: %w", err)
	}
	digest, err := img.Digest()
	if err != nil {
		return v1.Hash{}, "", fmt.Errorf("manifest digest: %w", err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return v1.Hash{}, "", fmt.Errorf("manifest media type: %w", err)
	}
	if !mt.IsImage() {
		return v1.Hash{}, "", fmt.Errorf("manifest %s: media type %q is not an image manifest", digest, mt)
	}
	m, err := img.Manifest()
	if err != nil {
		return v1.Hash{}, "", fmt.Errorf("parsing manifest %s: %w", digest, err)
	}
	if !b.has(m.Config.Digest, m.Config.Size) {
		rawConfig, err := img.RawConfigFile()
		if err != nil {
			return v1.Hash{}, "", fmt.Errorf("reading config %s: %w", m.Config.Digest, err)
		}
		if err := b.put(m.Config.Digest, m.Config.Size, bytes.NewReader(rawConfig)); err != nil {
			return v1.Hash{}, "", fmt.Errorf("config: %w", err)
		}
	}
	for i, d := range m.Layers {
		if b.has(d.Digest, d.Size) {
			continue
		}
		layer, err := img.LayerByDigest(d.Digest)
		if err != nil {
			return v1.Hash{}, "", fmt.Errorf("layer %d (%s): %w", i, d.Digest, err)
		}
		rc, err := layer.Compressed()
		if err != nil {
			return v1.Hash{}, "", fmt.Errorf("layer %d (%s): %w", i, d.Digest, err)
		}
		err = b.put(d.Digest, d.Size, rc)
		rc.Close()
		if err != nil {
			return v1.Hash{}, "", fmt.Errorf("layer %d: %w", i, err)
		}
	}
	if err := b.put(digest, int64(len(rawManifest)), bytes.NewReader(rawManifest)); err != nil {
		return v1.Hash{}, "", fmt.Errorf("manifest: %w", err)
	}
	return digest, mt, nil
}

// image opens a stored image by manifest digest.
func (b *blobStore) image(digest v1.Hash, mt types.MediaType) (v1.Image, error) {
	raw, err := b.read(digest)
	if err != nil {
		return nil, err
	}
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", digest, err)
	}
	return partial.CompressedToImage(&storedImage{blobs: b, mt: mt, raw: raw, manifest: &m})
}

type storedImage struct {
	blobs    *blobStore
	mt       types.MediaType
	raw      []byte
	manifest *v1.Manifest
}

func (s *storedImage) MediaType() (types.MediaType, error) { return s.mt, nil }
func (s *storedImage) RawManifest() ([]byte, error)        { return s.raw, nil }
func (s *storedImage) RawConfigFile() ([]byte, error) {
	return s.blobs.read(s.manifest.Config.Digest)
}

func (s *storedImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == s.manifest.Config.Digest {
		return &storedBlob{blobs: s.blobs, desc: s.manifest.Config}, nil
	}
	for _, d := range s.manifest.Layers {
		if d.Digest == h {
			return &storedBlob{blobs: s.blobs, desc: d}, nil
		}
	}
	return nil, fmt.Errorf("layer %s: not in manifest", h)
}

type storedBlob struct {
	blobs *blobStore
	desc  v1.Descriptor
}

func (l *storedBlob) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *storedBlob) Size() (int64, error)                { return l.desc.Size, nil }
func (l *storedBlob) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }
func (l *storedBlob) Compressed() (io.ReadCloser, error) {
	f, err := os.Open(l.blobs.path(l.desc.Digest))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: missing from the store", l.desc.Digest)
	}
	return f, err
}
