package runtime

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"
)

// ErrNotFound is wrapped by errors about unknown sandbox or container IDs.
var ErrNotFound = errors.New("not found")

// DNSConfig is rendered into the container's /etc/resolv.conf.
type DNSConfig struct {
	Servers  []string // nameserver lines
	Searches []string // search domains
	Options  []string // e.g. "ndots:5"
}

// ResolvConf renders d in resolv.conf(5) syntax. A nil config renders empty.
func (d *DNSConfig) ResolvConf() []byte {
	if d == nil {
		return nil
	}
	var b strings.Builder
	for _, s := range d.Servers {
		b.WriteString("nameserver " + s + "\n")
	}
	if len(d.Searches) > 0 {
		b.WriteString("search " + strings.Join(d.Searches, " ") + "\n")
	}
	if len(d.Options) > 0 {
		b.WriteString("options " + strings.Join(d.Options, " ") + "\n")
	}
	return []byte(b.String())
}

// PodSandboxConfig describes the pod-level environment shared by its containers.
type PodSandboxConfig struct {
	UID       string // pod UID; reported back in SandboxStatus
	Name      string
	Namespace string
	Hostname  string     // container hostname (native: UTS namespace)
	DNS       *DNSConfig // nil: the runtime's default resolv.conf (native: the host's)
	Labels    map[string]string
	// CPUMilliLimit and MemoryLimitBytes limit the whole pod (pod-level
	// cgroup); 0 means no limit.
	CPUMilliLimit    int64
	MemoryLimitBytes int64
}

// Mount binds a host path into a container.
type Mount struct {
	HostPath      string
	ContainerPath string
	ReadOnly      bool
}

// ContainerConfig describes one container of a sandbox.
type ContainerConfig struct {
	Name  string
	Image string // image reference; informational only
	// RootFS is the unpacked image directory. "" runs on the host filesystem
	// (process runtime only). The directory is never written to by the native
	// runtime (it uses an overlay when the kernel allows).
	RootFS string
	// Command is argv; argv[0] is resolved inside RootFS (see the
	// implementation's package documentation for the exact rules).
	Command    []string
	Env        []string // KEY=value
	WorkingDir string   // inside the container; "" = "/" (process runtime without RootFS: the kubelet's cwd)
	Mounts     []Mount
	// Resource limits; 0 means none. CPUMilliRequest is informational.
	CPUMilliLimit    int64
	CPUMilliRequest  int64
	MemoryLimitBytes int64
	// LogPath receives stdout and stderr, appended raw. The file is held open
	// while the container runs: rotate it by copy-and-truncate. "" discards.
	LogPath string
	Stdin   bool // keep stdin open (a pipe nobody writes) instead of /dev/null
	TTY     bool // run on a pseudo-terminal; its output goes to LogPath
}

// ContainerState is the coarse state of a container.
type ContainerState string

// Container states.
const (
	StateCreated ContainerState = "Created"
	StateRunning ContainerState = "Running"
	StateExited  ContainerState = "Exited"
	StateUnknown ContainerState = "Unknown"
)

// Reasons reported in ContainerStatus.Reason for exited containers.
const (
	ReasonCompleted  = "Completed"
	ReasonError      = "Error"
	ReasonOOMKilled  = "OOMKilled"
	ReasonStartError = "StartError"
)

// Exit codes with a fixed meaning.
const (
	ExitCodeStartError = 128 // the process could not be started
	ExitCodeOOMKilled  = 137 // 128 + SIGKILL
)

// ContainerStatus is a snapshot of a container.
type ContainerStatus struct {
	ID, SandboxID string
	Name          string
	Image         string
	State         ContainerState
	PID           int   // host PID while Running, else 0
	ExitCode      int32 // valid when Exited
	Reason        string
	Message       string
	CreatedAt     time.Time
	StartedAt     time.Time // zero until started
	FinishedAt    time.Time // zero until exited
}

// SandboxStatus is a snapshot of a pod sandbox.
type SandboxStatus struct {
	ID              string
	UID             string
	Name, Namespace string
	IP              string // "" once stopped
	Ready           bool   // false once stopped
	CreatedAt       time.Time
}

// TermSize is a terminal window size in character cells.
type TermSize struct {
	Width, Height uint16
}

// ExecStreams connects an exec'd command. Nil streams are discarded (or, for
// Stdin, empty). With TTY, Stdout receives the terminal output, Stderr is
// unused, and sizes from Resize are applied to the terminal.
type ExecStreams struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	TTY            bool
	Resize         <-chan TermSize
}

// Runtime runs pod sandboxes and their containers. All methods are safe for
// concurrent use.
type Runtime interface {
	// RunPodSandbox creates and starts a sandbox (network and namespaces). Its
	// IP is reported by PodSandboxStatus.
	RunPodSandbox(ctx context.Context, cfg PodSandboxConfig) (id string, err error)
	// StopPodSandbox kills the sandbox's containers and releases its network.
	StopPodSandbox(ctx context.Context, id string) error
	// RemovePodSandbox stops the sandbox if needed and removes it and its containers.
	RemovePodSandbox(ctx context.Context, id string) error
	PodSandboxStatus(ctx context.Context, id string) (SandboxStatus, error)
	ListPodSandboxes(ctx context.Context) ([]SandboxStatus, error)

	// CreateContainer prepares a container in a ready sandbox (state Created).
	CreateContainer(ctx context.Context, sandboxID string, cfg ContainerConfig) (id string, err error)
	// StartContainer starts a Created container. A start failure (e.g. exec
	// format error, command not found) is returned with the OS error text and
	// leaves the container Exited with Reason StartError.
	StartContainer(ctx context.Context, id string) error
	// StopContainer sends SIGTERM, waits up to grace, then SIGKILLs and waits
	// for the exit. Stopping an exited container is a no-op; a Created one
	// becomes Exited.
	StopContainer(ctx context.Context, id string, grace time.Duration) error
	// RemoveContainer kills the container if needed and forgets it.
	RemoveContainer(ctx context.Context, id string) error
	ContainerStatus(ctx context.Context, id string) (ContainerStatus, error)
	// ListContainers lists the containers of a sandbox, or all when sandboxID is "".
	ListContainers(ctx context.Context, sandboxID string) ([]ContainerStatus, error)

	// Exec runs cmd inside a running container and returns its exit code
	// (128+n for a death by signal n). err reports failures to run it at all.
	// Cancelling ctx kills the command.
	Exec(ctx context.Context, containerID string, cmd []string, streams ExecStreams) (exitCode int, err error)

	// Name identifies the implementation ("fake", "process", "native").
	Name() string
}
