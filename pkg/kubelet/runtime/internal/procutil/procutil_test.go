package procutil

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/coxswain/coxswain/pkg/kubelet/runtime"
)

func TestExitInfo(t *testing.T) {
	tests := []struct {
		name   string
		script string
		code   int32
		reason string
	}{
		{"success", "exit 0", 0, runtime.ReasonCompleted},
		{"failure", "exit 3", 3, runtime.ReasonError},
		{"sigterm", "kill -TERM $$", 143, runtime.ReasonError},
		{"sigkill", "kill -KILL $$", 137, runtime.ReasonError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := exec.Command("/bin/sh", "-c", tc.script).Run()
			ws := syscall.WaitStatus(0)
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				ws = ee.Sys().(syscall.WaitStatus)
			} else if err != nil {
				t.Fatal(err)
			}
			code, reason, msg := ExitInfo(ws)
			if code != tc.code || reason != tc.reason {
				t.Fatalf("got %d %s (%s), want %d %s", code, reason, msg, tc.code, tc.reason)
			}
			if ws.Signaled() && msg == "" {
				t.Fatal("signal death without message")
			}
		})
	}
}

func TestOpenLogAppends(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a", "b", "c.log")
	for _, s := range []string{"one\n", "two\n"} {
		f, err := OpenLog(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "one\ntwo\n" {
		t.Fatalf("got %q, %v", b, err)
	}
	f, err := OpenLog("")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}
