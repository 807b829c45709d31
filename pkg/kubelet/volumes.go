package kubelet

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/coxswain/coxswain/pkg/kubelet/runtime"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// Volumes live in <pod dir>/.volumes/<volume name> (the dot keeps them apart
// from the per-container log directories, whose names are DNS labels).
// ConfigMap and Secret volumes are written like Kubernetes' atomic writer:
// the files are in a timestamped directory ..<time> that the symbolic link
// ..data points to, each visible name is a symbolic link through ..data,
// and an update writes a new directory and swaps ..data with one rename, so
// a reader never sees a half-written set.

const (
	dataDirName    = "..data"
	newDataDirName = "..data_tmp"
)

// volumeFile is one file of a projected volume.
type volumeFile struct {
	data []byte
	mode os.FileMode
}

// writeAtomic makes dir hold exactly files (relative paths). It returns
// whether anything changed.
func writeAtomic(dir string, files map[string]volumeFile) (bool, error) {
	for p := range files {
		if err := validVolumePath(p); err != nil {
			return false, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("volume dir %s: %w", dir, err)
	}
	if same, err := sameContent(dir, files); err == nil && same {
		return false, nil
	}
	oldTS, _ := os.Readlink(filepath.Join(dir, dataDirName))
	tsDir, err := os.MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return false, fmt.Errorf("volume dir %s: %w", dir, err)
	}
	if err := os.Chmod(tsDir, 0o755); err != nil {
		return false, err
	}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		f := files[p]
		full := filepath.Join(tsDir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			os.RemoveAll(tsDir)
			return false, fmt.Errorf("volume file %s: %w", p, err)
		}
		if err := os.WriteFile(full, f.data, f.mode); err != nil {
			os.RemoveAll(tsDir)
			return false, fmt.Errorf("volume file %s: %w", p, err)
		}
		if err := os.Chmod(full, f.mode); err != nil {
			os.RemoveAll(tsDir)
			return false, fmt.Errorf("volume file %s: %w", p, err)
		}
	}
	tmpLink := filepath.Join(dir, newDataDirName)
	_ = os.Remove(tmpLink)
	if err := os.Symlink(filepath.Base(tsDir), tmpLink); err != nil {
		os.RemoveAll(tsDir)
		return false, fmt.Errorf("volume dir %s: %w", dir, err)
	}
	if err := os.Rename(tmpLink, filepath.Join(dir, dataDirName)); err != nil {
		os.RemoveAll(tsDir)
		return false, fmt.Errorf("volume dir %s: %w", dir, err)
	}
	// Visible names: one link per top-level entry.
	tops := map[string]bool{}
	for p := range files {
		top, _, _ := strings.Cut(p, "/")
		tops[top] = true
	}
	for top := range tops {
		link := filepath.Join(dir, top)
		target := filepath.Join(dataDirName, top)
		if cur, err := os.Readlink(link); err == nil && cur == target {
			continue
		}
		_ = os.RemoveAll(link)
		if err := os.Symlink(target, link); err != nil {
			return true, fmt.Errorf("volume file %s: %w", top, err)
		}
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, "..") || tops[n] {
			continue
		}
		_ = os.RemoveAll(filepath.Join(dir, n))
	}
	if oldTS != "" && oldTS != filepath.Base(tsDir) {
		_ = os.RemoveAll(filepath.Join(dir, oldTS))
	}
	return true, nil
}

// sameContent reports whether dir's current ..data holds exactly files.
func sameContent(dir string, files map[string]volumeFile) (bool, error) {
	data := filepath.Join(dir, dataDirName)
	if _, err := os.Stat(data); err != nil {
		return false, err
	}
	seen := 0
	err := filepath.WalkDir(data+"/", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(data, p)
		f, ok := files[filepath.ToSlash(rel)]
		if !ok {
			return errors.New("extra file")
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode().Perm() != f.mode.Perm() {
			return errors.New("mode differs")
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !bytes.Equal(b, f.data) {
			return errors.New("content differs")
		}
		seen++
		return nil
	})
	if err != nil {
		return false, nil
	}
	return seen == len(files), nil
}

func validVolumePath(p string) error {
	if p == "" || path.IsAbs(p) || strings.HasPrefix(p, "..") || path.Clean(p) != p {
		return fmt.Errorf("volume path %q: must be a relative path without '..'", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return fmt.Errorf("volume path %q: must not contain '..'", p)
		}
	}
	return nil
}

// projectedFiles turns key/value data with optional items into files.
func projectedFiles(kind, name string, data map[string][]byte, items []*corev1.KeyToPath, defaultMode *int32, optional bool) (map[string]volumeFile, error) {
	mode := os.FileMode(0o644)
	if defaultMode != nil {
		mode = os.FileMode(*defaultMode) & 0o777
	}
	files := map[string]volumeFile{}
	if len(items) == 0 {
		for k, v := range data {
			files[k] = volumeFile{data: v, mode: mode}
		}
		return files, nil
	}
	for _, it := range items {
		v, ok := data[it.GetKey()]
		if !ok {
			if optional {
				continue
			}
			return nil, configErrorf("%s %q: key %q not found", kind, name, it.GetKey())
		}
		m := mode
		if it.Mode != nil {
			m = os.FileMode(it.GetMode()) & 0o777
		}
		p := it.GetPath()
		if p == "" {
			p = it.GetKey()
		}
		files[p] = volumeFile{data: v, mode: m}
	}
	return files, nil
}

// volumeVersion identifies the content a projected volume was written from.
func volumeVersion(files map[string]volumeFile) string {
	h := sha256.New()
	for _, p := range slices.Sorted(maps.Keys(files)) {
		fmt.Fprintf(h, "%s\x00%o\x00%d\x00", p, files[p].mode, len(files[p].data))
		h.Write(files[p].data)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// podVolumes prepares the volumes of pod under dir and returns the host
// path of each by name. versions remembers what was written last, so a sync
// rewrites a ConfigMap or Secret volume only when its content changed.
func podVolumes(objects objectSource, pod *corev1.Pod, dir string, versions map[string]string) (map[string]string, error) {
	paths := map[string]string{}
	ns := pod.GetMetadata().GetNamespace()
	var errs []error
	for _, v := range pod.GetSpec().GetVolumes() {
		vdir := filepath.Join(dir, v.GetName())
		switch {
		case v.GetHostPath() != nil:
			p, err := hostPathVolume(v.GetHostPath())
			if err != nil {
				errs = append(errs, err)
				continue
			}
			paths[v.GetName()] = p
		case v.GetEmptyDir() != nil:
			if err := os.MkdirAll(vdir, 0o777); err != nil {
				errs = append(errs, fmt.Errorf("emptyDir %s: %w", v.GetName(), err))
				continue
			}
			_ = os.Chmod(vdir, 0o777)
			paths[v.GetName()] = vdir
		case v.GetConfigMap() != nil:
			src := v.GetConfigMap()
			var data map[string][]byte
			cm, ok := objects.configMap(ns, src.GetName())
			switch {
			case ok:
				data = make(map[string][]byte, len(cm.GetData())+len(cm.GetBinaryData()))
				for k, s := range cm.GetData() {
					data[k] = []byte(s)
				}
				for k, b := range cm.GetBinaryData() {
					data[k] = b
				}
			case !src.GetOptional():
				errs = append(errs, configErrorf("configmap %q not found", src.GetName()))
				continue
			}
			files, err := projectedFiles("configmap", src.GetName(), data, src.GetItems(), src.DefaultMode, src.GetOptional())
			if err == nil {
				err = writeVersioned(vdir, files, versions, v.GetName())
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			paths[v.GetName()] = vdir
		case v.GetSecret() != nil:
			src := v.GetSecret()
			var data map[string][]byte
			s, ok := objects.secret(ns, src.GetSecretName())
			switch {
			case ok:
				data = s.GetData()
			case !src.GetOptional():
				errs = append(errs, configErrorf("secret %q not found", src.GetSecretName()))
				continue
			}
			files, err := projectedFiles("secret", src.GetSecretName(), data, src.GetItems(), src.DefaultMode, src.GetOptional())
			if err == nil {
				err = writeVersioned(vdir, files, versions, v.GetName())
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			paths[v.GetName()] = vdir
		default:
			// A volume type this kubelet does not know: an empty directory.
			if err := os.MkdirAll(vdir, 0o755); err != nil {
				errs = append(errs, err)
				continue
			}
			paths[v.GetName()] = vdir
		}
	}
	return paths, errors.Join(errs...)
}

func writeVersioned(dir string, files map[string]volumeFile, versions map[string]string, name string) error {
	ver := volumeVersion(files)
	if versions[name] == ver {
		if _, err := os.Stat(filepath.Join(dir, dataDirName)); err == nil {
			return nil
		}
	}
	if _, err := writeAtomic(dir, files); err != nil {
		return err
	}
	versions[name] = ver
	return nil
}

// hostPathVolume checks (or creates) a hostPath volume by its type.
func hostPathVolume(hp *corev1.HostPathVolumeSource) (string, error) {
	p := hp.GetPath()
	if !filepath.IsAbs(p) {
		return "", configErrorf("hostPath %q: must be absolute", p)
	}
	fi, err := os.Stat(p)
	exists := err == nil
	mismatch := func(what string) error {
		return configErrorf("hostPath type check failed: %s is not a %s", p, what)
	}
	switch hp.GetType() {
	case "":
	case "DirectoryOrCreate":
		if !exists {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return "", fmt.Errorf("hostPath %s: %w", p, err)
			}
		} else if !fi.IsDir() {
			return "", mismatch("directory")
		}
	case "Directory":
		if !exists || !fi.IsDir() {
			return "", mismatch("directory")
		}
	case "FileOrCreate":
		if !exists {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return "", fmt.Errorf("hostPath %s: %w", p, err)
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return "", fmt.Errorf("hostPath %s: %w", p, err)
			}
			f.Close()
		} else if !fi.Mode().IsRegular() {
			return "", mismatch("file")
		}
	case "File":
		if !exists || !fi.Mode().IsRegular() {
			return "", mismatch("file")
		}
	case "Socket":
		if !exists || fi.Mode()&os.ModeSocket == 0 {
			return "", mismatch("socket")
		}
	case "CharDevice":
		if !exists || fi.Mode()&os.ModeCharDevice == 0 {
			return "", mismatch("character device")
		}
	case "BlockDevice":
		if !exists || fi.Mode()&os.ModeDevice == 0 || fi.Mode()&os.ModeCharDevice != 0 {
			return "", mismatch("block device")
		}
	default:
		return "", configErrorf("hostPath %q: unknown type %q", p, hp.GetType())
	}
	return p, nil
}

// containerMounts maps c's volumeMounts onto the prepared volume paths.
func containerMounts(pod *corev1.Pod, c *corev1.Container, paths map[string]string) ([]runtime.Mount, error) {
	readOnlyVol := map[string]bool{}
	for _, v := range pod.GetSpec().GetVolumes() {
		if v.GetConfigMap() != nil || v.GetSecret() != nil {
			readOnlyVol[v.GetName()] = true
		}
	}
	var out []runtime.Mount
	for _, vm := range c.GetVolumeMounts() {
		host, ok := paths[vm.GetName()]
		if !ok {
			return nil, configErrorf("volumeMount %q: no such volume", vm.GetName())
		}
		if sp := vm.GetSubPath(); sp != "" {
			if err := validVolumePath(sp); err != nil {
				return nil, configErrorf("volumeMount %q: subPath: %v", vm.GetName(), err)
			}
			host = filepath.Join(host, sp)
			if _, err := os.Lstat(host); errors.Is(err, os.ErrNotExist) {
				if err := os.MkdirAll(host, 0o755); err != nil {
					return nil, fmt.Errorf("volumeMount %q: subPath: %w", vm.GetName(), err)
				}
			}
		}
		out = append(out, runtime.Mount{HostPath: host, ContainerPath: vm.GetMountPath(),
			ReadOnly: vm.GetReadOnly() || readOnlyVol[vm.GetName()]})
	}
	return out, nil
}

// removeAllRetry removes a directory tree, retrying briefly on EBUSY
// (a mount that is still being torn down).
func removeAllRetry(p string) error {
	var err error
	for range 5 {
		if err = os.RemoveAll(p); err == nil || !errors.Is(err, syscall.EBUSY) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}
