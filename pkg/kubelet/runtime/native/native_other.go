//go:build !linux

package native

import (
	"context"
	"errors"
	"net/netip"

	"github.com/coxswain/coxswain/pkg/kubelet/runtime"
)

var errNotLinux = errors.New("native runtime: requires Linux")

// Runtime is unavailable outside Linux.
type Runtime struct{ runtime.Runtime }

// Init does nothing outside Linux.
func Init() {}

// New fails outside Linux.
func New(cfg Config) (*Runtime, error) { return nil, errNotLinux }

// Run fails outside Linux.
func (r *Runtime) Run(ctx context.Context) error { return errNotLinux }

// SyncRoutes fails outside Linux.
func (r *Runtime) SyncRoutes(ctx context.Context, routes map[netip.Prefix]netip.Addr) error {
	return errNotLinux
}
