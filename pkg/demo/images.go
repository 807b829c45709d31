package demo

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"

	"github.com/coxswain/coxswain/pkg/image"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// DefaultImageRepo is the repository WriteImages tags its images in.
const DefaultImageRepo = "coxswain/demo"

// ImagePath is where the binary sits inside the demo images.
const ImagePath = "/demo"

// ImageVersions are the tags WriteImages writes, each image with
// VERSION=<tag> in its environment; "latest" is the first of them.
var ImageVersions = []string{"v1", "v2"}

// ImagesConfig configures WriteImages.
type ImagesConfig struct {
	// Binary is the statically linked demo binary to pack.
	Binary string
	// Out is the `docker save` tarball to write.
	Out string
	// Repo is the image repository; default DefaultImageRepo.
	Repo string
	// Platform is "os/arch[/variant]"; default read from the binary.
	Platform string
}

// ParseImageFlags builds an ImagesConfig from the arguments of
// `demo mkimage`. self, the running executable, is the default --binary.
func ParseImageFlags(args []string, self string) (ImagesConfig, error) {
	fs := flag.NewFlagSet("demo mkimage", flag.ContinueOnError)
	var cfg ImagesConfig
	fs.StringVar(&cfg.Binary, "binary", self, "static demo binary to pack")
	fs.StringVar(&cfg.Out, "out", "", "docker save tarball to write (required)")
	fs.StringVar(&cfg.Repo, "repo", DefaultImageRepo, "image repository")
	fs.StringVar(&cfg.Platform, "platform", "", "image platform os/arch[/variant] (default: read from the binary)")
	if err := parseFlagSet(fs, args, "demo mkimage --out TARBALL [--binary PATH]"); err != nil {
		return ImagesConfig{}, err
	}
	if cfg.Out == "" {
		return ImagesConfig{}, errors.New("flags: --out: required")
	}
	if cfg.Binary == "" {
		return ImagesConfig{}, errors.New("flags: --binary: required")
	}
	return cfg, nil
}

// WriteImages packs cfg.Binary into <repo>:v1 and <repo>:v2 (VERSION=v1 and
// VERSION=v2 in their environment) and <repo>:latest (= v1), and saves them
// as one tarball at cfg.Out. It returns the tags written, sorted.
func WriteImages(cfg ImagesConfig) ([]string, error) {
	if cfg.Binary == "" || cfg.Out == "" {
		return nil, errors.New("demo images: binary and out: both required")
	}
	if cfg.Repo == "" {
		cfg.Repo = DefaultImageRepo
	}
	images := map[string]v1.Image{}
	for _, v := range ImageVersions {
		img, err := image.BuildFromBinary(cfg.Binary, image.BuildOptions{
			Path:     ImagePath,
			Platform: cfg.Platform,
			Env:      []string{"VERSION=" + v},
		})
		if err != nil {
			return nil, fmt.Errorf("demo image %s: %w", v, err)
		}
		images[cfg.Repo+":"+v] = img
	}
	images[cfg.Repo+":latest"] = images[cfg.Repo+":"+ImageVersions[0]]
	if err := image.WriteTarball(cfg.Out, images); err != nil {
		return nil, fmt.Errorf("demo images: %w", err)
	}
	tags := make([]string, 0, len(images))
	for t := range images {
		tags = append(tags, t)
	}
	slices.Sort(tags)
	return tags, nil
}

// parseFlagSet parses args, rejecting positional arguments; -h/--help yields
// an error holding the usage.
func parseFlagSet(fs *flag.FlagSet, args []string, synopsis string) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		var b bytes.Buffer
		fs.SetOutput(&b)
		fs.PrintDefaults()
		return fmt.Errorf("usage: %s\n%s", synopsis, b.String())
	}
	if err != nil {
		return fmt.Errorf("flags: %w", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("flags: unexpected argument %q", fs.Arg(0))
	}
	return nil
}
