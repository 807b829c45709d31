package native

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/coxswain/coxswain/pkg/kubelet/runtime"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime/internal/fsroot"
)

// initEnv marks a re-exec of the kubelet binary in the container init role
// (value "container"): set up the container and exec its command.
const initEnv = "_COXSWAIN_NATIVE_INIT"

// Fds the container init receives (after stdin, stdout, stderr).
const (
	initConfigFd = 3
	initErrorFd  = 4
)

// initConfig is what the runtime sends the container init over fd 3.
type initConfig struct {
	Lower, Upper, Work, Target string // rootfs: overlay of Lower with Upper/Work, mounted at Target
	Overlay                    bool   // false: bind Lower at Target
	NetNS                      string
	Hostname                   string
	Mounts                     []runtime.Mount // including /etc/hosts, /etc/resolv.conf, /etc/hostname
	Args, Env                  []string
	WorkingDir                 string
}

type initError struct {
	Error string `json:"error"`
}

// keptCaps is the capability bounding set left to containers (Docker's
// default set); everything else is dropped before exec.
var keptCaps = map[int]bool{
	unix.CAP_CHOWN: true, unix.CAP_DAC_OVERRIDE: true, unix.CAP_FOWNER: true, unix.CAP_FSETID: true,
	unix.CAP_KILL: true, unix.CAP_SETGID: true, unix.CAP_SETUID: true, unix.CAP_SETPCAP: true,
	unix.CAP_NET_BIND_SERVICE: true, unix.CAP_NET_RAW: true, unix.CAP_SYS_CHROOT: true,
	unix.CAP_MKNOD: true, unix.CAP_AUDIT_WRITE: true, unix.CAP_SETFCAP: true,
}

// Init runs the hidden init step of the native runtime when the process was
// started in that role, and never returns then; otherwise it returns at once.
// It must be the first call in main() of any binary that creates a native
// Runtime (and in TestMain of tests that do).
func Init() {
	role := os.Getenv(initEnv)
	if role == "" {
		return
	}
	goruntime.LockOSThread()
	switch role {
	case "container":
		err := containerInit()
		msg, _ := json.Marshal(initError{Error: err.Error()})
		errPipe := os.NewFile(initErrorFd, "init-error")
		_, _ = errPipe.Write(msg)
		os.Exit(1)
	default:
		fmt.Fprintf(os.Stderr, "%s: unknown role %q\n", initEnv, role)
		os.Exit(126)
	}
}

func dropCaps() error {
	last := unix.CAP_LAST_CAP
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		fmt.Sscan(strings.TrimSpace(string(b)), &last)
	}
	for c := 0; c <= last; c++ {
		if keptCaps[c] {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("drop capability %d: %w", c, err)
		}
	}
	return nil
}

func containerInit() error {
	cfgFile := os.NewFile(initConfigFd, "init-config")
	data, err := io.ReadAll(cfgFile)
	cfgFile.Close()
	if err != nil {
		return fmt.Errorf("read init config: %w", err)
	}
	var cfg initConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("decode init config: %w", err)
	}
	unix.CloseOnExec(initErrorFd)

	fd, err := unix.Open(cfg.NetNS, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open netns %s: %w", cfg.NetNS, err)
	}
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("join netns %s: %w", cfg.NetNS, err)
	}
	unix.Close(fd)

	if err := setupRootfs(&cfg); err != nil {
		return err
	}
	if cfg.Hostname != "" {
		if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
			return fmt.Errorf("sethostname: %w", err)
		}
	}
	if err := enterRoot(cfg.Target); err != nil {
		return err
	}
	wd := cfg.WorkingDir
	if wd == "" {
		wd = "/"
	}
	if err := os.MkdirAll(wd, 0o755); err != nil {
		return fmt.Errorf("working dir %s: %w", wd, err)
	}
	if err := unix.Chdir(wd); err != nil {
		return fmt.Errorf("working dir %s: %w", wd, err)
	}
	pathEnv, _ := fsroot.EnvValue(cfg.Env, "PATH")
	path, err := fsroot.LookPath("/", cfg.Args[0], pathEnv, wd)
	if err != nil {
		return err
	}
	if err := dropCaps(); err != nil {
		return err
	}
	if err := unix.Exec(path, cfg.Args, cfg.Env); err != nil {
		return fmt.Errorf("exec %q: %w", cfg.Args[0], err)
	}
	return nil
}

func mountErr(what, target string, err error) error {
	return fmt.Errorf("mount %s on %s: %w", what, target, err)
}

// setupRootfs builds the container's filesystem at cfg.Target in the new
// mount namespace.
func setupRootfs(cfg *initConfig) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return mountErr("private propagation", "/", err)
	}
	root := cfg.Target
	if cfg.Overlay {
		opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", cfg.Lower, cfg.Upper, cfg.Work)
		if err := unix.Mount("overlay", root, "overlay", 0, opts); err != nil {
			return mountErr("overlay", root, err)
		}
	} else if err := unix.Mount(cfg.Lower, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return mountErr(cfg.Lower, root, err)
	}
	in := func(p string) (string, error) {
		host, err := fsroot.Resolve(root, p)
		if err != nil {
			return "", err
		}
		return host, os.MkdirAll(host, 0o755)
	}
	proc, err := in("/proc")
	if err != nil {
		return fmt.Errorf("/proc: %w", err)
	}
	if err := unix.Mount("proc", proc, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return mountErr("proc", proc, err)
	}
	if err := setupDev(in); err != nil {
		return err
	}
	sys, err := in("/sys")
	if err != nil {
		return fmt.Errorf("/sys: %w", err)
	}
	if err := unix.Mount("sysfs", sys, "sysfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return mountErr("sysfs", sys, err)
	}
	for _, m := range cfg.Mounts {
		if err := bindMount(root, m); err != nil {
			return err
		}
	}
	return nil
}

func setupDev(in func(string) (string, error)) error {
	dev, err := in("/dev")
	if err != nil {
		return fmt.Errorf("/dev: %w", err)
	}
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k"); err != nil {
		return mountErr("tmpfs", dev, err)
	}
	for _, n := range []string{"null", "zero", "random", "urandom", "tty", "full"} {
		p := filepath.Join(dev, n)
		if err := os.WriteFile(p, nil, 0o666); err != nil {
			return fmt.Errorf("/dev/%s: %w", n, err)
		}
		if err := unix.Mount("/dev/"+n, p, "", unix.MS_BIND, ""); err != nil {
			return mountErr("/dev/"+n, p, err)
		}
	}
	for link, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx"} {
		if err := os.Symlink(target, filepath.Join(dev, link)); err != nil {
			return fmt.Errorf("/dev/%s: %w", link, err)
		}
	}
	shm := filepath.Join(dev, "shm")
	if err := os.Mkdir(shm, 0o1777); err != nil {
		return fmt.Errorf("/dev/shm: %w", err)
	}
	if err := unix.Mount("shm", shm, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=65536k"); err != nil {
		return mountErr("shm", shm, err)
	}
	pts := filepath.Join(dev, "pts")
	if err := os.Mkdir(pts, 0o755); err != nil {
		return fmt.Errorf("/dev/pts: %w", err)
	}
	if err := unix.Mount("devpts", pts, "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return mountErr("devpts", pts, err)
	}
	return nil
}

func bindMount(root string, m runtime.Mount) error {
	fi, err := os.Stat(m.HostPath)
	if err != nil {
		return fmt.Errorf("mount %s: %w", m.HostPath, err)
	}
	dst, err := fsroot.Resolve(root, m.ContainerPath)
	if err != nil {
		return fmt.Errorf("mount %s: %w", m.ContainerPath, err)
	}
	if fi.IsDir() {
		err = os.MkdirAll(dst, 0o755)
	} else if err = os.MkdirAll(filepath.Dir(dst), 0o755); err == nil {
		var f *os.File
		if f, err = os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("mount target %s: %w", m.ContainerPath, err)
	}
	if err := unix.Mount(m.HostPath, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return mountErr(m.HostPath, m.ContainerPath, err)
	}
	if m.ReadOnly {
		if err := unix.Mount("", dst, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return mountErr(m.HostPath+" read-only", m.ContainerPath, err)
		}
	}
	return nil
}

// enterRoot makes root the process's root: pivot_root, or chroot where
// pivot_root is impossible (e.g. a rootfs on initramfs).
func enterRoot(root string) error {
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("chdir %s: %w", root, err)
	}
	if err := unix.PivotRoot(".", "."); err == nil {
		if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
			return fmt.Errorf("detach old root: %w", err)
		}
	} else if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("pivot_root and chroot %s: %w", root, err)
	}
	return unix.Chdir("/")
}
