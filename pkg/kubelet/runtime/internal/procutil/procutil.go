package procutil

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/coxswain/coxswain/pkg/kubelet/runtime"
)

// ExitInfo converts a wait status into an exit code (128+n for a death by
// signal n), a reason (Completed for 0, Error otherwise) and a message.
func ExitInfo(ws syscall.WaitStatus) (code int32, reason, message string) {
	switch {
	case ws.Exited():
		code = int32(ws.ExitStatus())
	case ws.Signaled():
		sig := ws.Signal()
		code = 128 + int32(sig)
		message = fmt.Sprintf("killed by signal %d (%s)", int(sig), unix.SignalName(sig))
	default:
		code = -1
		message = fmt.Sprintf("unexpected wait status %#x", uint32(ws))
	}
	if code == 0 {
		return code, runtime.ReasonCompleted, message
	}
	return code, runtime.ReasonError, message
}

// OpenLog opens path for appending, creating it and its directory. An empty
// path opens /dev/null.
func OpenLog(path string) (*os.File, error) {
	if path == "" {
		return os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("log path %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("log path %s: %w", path, err)
	}
	return f, nil
}
