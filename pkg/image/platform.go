package image

import (
	"fmt"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// parsePlatform parses "os/arch[/variant]"; "" means this machine's.
func parsePlatform(s string) (v1.Platform, error) {
	if s == "" {
		return v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}, nil
	}
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return v1.Platform{}, fmt.Errorf("platform %q: %w", s, err)
	}
	if p.OS == "" || p.Architecture == "" {
		return v1.Platform{}, fmt.Errorf("platform %q: want os/arch[/variant]", s)
	}
	return *p, nil
}

// platformString renders os/arch[/variant].
func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// normVariant folds the default variants into "".
func normVariant(arch, variant string) string {
	if arch == "arm64" && variant == "v8" {
		return ""
	}
	return variant
}

// platformMatches reports whether an image built for img runs on node. The
// variant is compared only when both sides name one.
func platformMatches(img, node v1.Platform) bool {
	if img.OS != node.OS || img.Architecture != node.Architecture {
		return false
	}
	iv, nv := normVariant(img.Architecture, img.Variant), normVariant(node.Architecture, node.Variant)
	return iv == "" || nv == "" || iv == nv
}
