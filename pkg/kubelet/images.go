package kubelet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/coxswain/coxswain/pkg/client/record"
	"github.com/coxswain/coxswain/pkg/image"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// How a container's image becomes a root filesystem and a command:
//
//   - native: the image is ensured (imagePullPolicy), its unpacked root
//     filesystem is the container's RootFS, and argv, Env and WorkingDir
//     follow Kubernetes: command overrides the image's Entrypoint, args its
//     Cmd, the image's Env comes before the container's.
//   - process: a container whose command names a program that exists on
//     the host (an absolute path, or a name found in the kubelet's PATH)
//     runs it on the host filesystem; the image is not needed and not
//     pulled. Otherwise the image is ensured and unpacked as for native,
//     and the process runtime runs the resolved program from the unpacked
//     root filesystem as a host process — which works for images that are
//     one static binary, like coxswain/demo.
//   - fake: images are not resolved; the command is informational.

// resolvedImage is what a container start needs from its image.
type resolvedImage struct {
	rootfs string
	config image.ImageConfig
	ref    string // the normalised reference
	id     string // imageID for the status: repo@digest
}

// imageError is an image problem with its Kubernetes waiting reason.
type imageError struct {
	reason string // ErrImagePull, ErrImageNeverPull, InvalidImageName
	msg    string
}

func (e *imageError) Error() string { return e.msg }

// hostCommand reports whether argv0 names a program on the host.
func hostCommand(argv0 string) bool {
	if argv0 == "" {
		return false
	}
	if strings.Contains(argv0, "/") {
		if !filepath.IsAbs(argv0) {
			return false
		}
		fi, err := os.Stat(argv0)
		return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
	}
	_, err := exec.LookPath(argv0)
	return err == nil
}

// needsImage reports whether the container's image must be resolved.
func (a *agent) needsImage(c *corev1.Container) bool {
	switch a.mode {
	case RuntimeFake:
		return false
	case RuntimeProcess:
		return len(c.GetCommand()) == 0 || !hostCommand(c.GetCommand()[0])
	}
	return true
}

// pullSecrets reads the pod's imagePullSecrets.
func (a *agent) pullSecrets(pod *corev1.Pod) []image.RegistryAuth {
	var out []image.RegistryAuth
	for _, ref := range pod.GetSpec().GetImagePullSecrets() {
		s, ok := a.k.secret(pod.GetMetadata().GetNamespace(), ref.GetName())
		if !ok {
			a.k.log.Warn("image pull secret not found", "pod", podKey(pod), "secret", ref.GetName())
			continue
		}
		data := s.GetData()[".dockerconfigjson"]
		if data == nil {
			data = s.GetData()[".dockercfg"]
		}
		auth, err := image.ParseDockerConfig(data)
		if err != nil {
			a.k.log.Warn("image pull secret unreadable", "pod", podKey(pod), "secret", ref.GetName(), "err", err)
			continue
		}
		out = append(out, auth)
	}
	return out
}

// ensureImage makes c's image present (recording Pulling/Pulled/Failed
// events) and unpacks it.
func (a *agent) ensureImage(ctx context.Context, pod *corev1.Pod, c *corev1.Container) (*resolvedImage, error) {
	store := a.k.images
	if store == nil {
		return nil, &imageError{reason: image.ReasonErrImagePull, msg: "no image store"}
	}
	ref := c.GetImage()
	policy := image.PullPolicy(c.GetImagePullPolicy())
	start := time.Now()
	present := false
	if policy != image.PullAlways {
		if _, err := store.Ensure(ctx, ref, image.PullNever); err == nil {
			present = true
		}
	}
	if !present && policy != image.PullNever {
		a.k.recorder.Eventf(pod, record.Normal, "Pulling", "Pulling image %q", ref)
	}
	img, err := store.Ensure(ctx, ref, policy, a.pullSecrets(pod)...)
	if err != nil {
		reason := image.Reason(err)
		if reason == "" {
			reason = image.ReasonErrImagePull
		}
		msg := err.Error()
		if reason == image.ReasonErrImageNeverPull {
			msg = fmt.Sprintf("Container image %q is not present with pull policy of Never", ref)
		}
		a.k.recorder.Eventf(pod, record.Warning, "Failed", "Failed to pull image %q: %s", ref, msg)
		a.k.recorder.Eventf(pod, record.Warning, "Failed", "Error: %s", reason)
		return nil, &imageError{reason: reason, msg: msg}
	}
	if img.Pulled {
		a.k.recorder.Eventf(pod, record.Normal, "Pulled", "Successfully pulled image %q in %s (%d bytes)", ref, time.Since(start).Round(time.Millisecond), img.Size)
	} else {
		a.k.recorder.Eventf(pod, record.Normal, "Pulled", "Container image %q already present on machine", ref)
	}
	cfg, err := store.Config(ref)
	if err != nil {
		return nil, &imageError{reason: image.ReasonErrImagePull, msg: err.Error()}
	}
	rootfs, err := store.RootFS(ctx, ref)
	if err != nil {
		return nil, &imageError{reason: image.ReasonErrImagePull, msg: err.Error()}
	}
	id := img.Digest
	if r, err := name.ParseReference(img.Ref); err == nil {
		id = r.Context().Name() + "@" + img.Digest
	}
	return &resolvedImage{rootfs: rootfs, config: cfg, ref: img.Ref, id: id}, nil
}

// platformMessage explains an exec format error with the image's platform.
func (a *agent) platformMessage(ref string, startErr string) string {
	if a.k.images == nil {
		return startErr
	}
	if err := a.k.images.CheckPlatform(ref); err == nil {
		return startErr
	}
	cfg, err := a.k.images.Config(ref)
	if err != nil {
		return startErr
	}
	return fmt.Sprintf("exec format error: image %s is %s, node is %s/%s", ref, cfg.Platform(), goruntime.GOOS, goruntime.GOARCH)
}

// containerArgv applies Kubernetes' command/args rules over the image's
// Entrypoint/Cmd and expands $(VAR) references.
func containerArgv(c *corev1.Container, img *resolvedImage, vars map[string]string) []string {
	var argv []string
	switch {
	case len(c.GetCommand()) > 0:
		argv = append(argv, c.GetCommand()...)
		argv = append(argv, c.GetArgs()...)
	case img != nil:
		argv = append(argv, img.config.Entrypoint...)
		if len(c.GetArgs()) > 0 {
			argv = append(argv, c.GetArgs()...)
		} else {
			argv = append(argv, img.config.Cmd...)
		}
	default:
		argv = append(argv, c.GetArgs()...)
	}
	for i := range argv {
		argv[i] = expandVars(argv[i], vars)
	}
	return argv
}

var errNoCommand = errors.New("no command specified: set command or use an image with an entrypoint")
