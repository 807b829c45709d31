//go:build linux

package kubelet

import (
	"context"
	"fmt"
	"net"
	goruntime "runtime"

	"github.com/vishvananda/netns"
)

const nativeSupported = true

// dialInNetNS dials addr from the network namespace at nsPath ("" = ours).
// The socket is created while the calling thread is in that namespace and
// keeps it afterwards.
func dialInNetNS(ctx context.Context, nsPath, network, addr string) (net.Conn, error) {
	var d net.Dialer
	if nsPath == "" {
		return d.DialContext(ctx, network, addr)
	}
	target, err := netns.GetFromPath(nsPath)
	if err != nil {
		return nil, fmt.Errorf("netns %s: %w", nsPath, err)
	}
	defer target.Close()
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("current netns: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(target); err != nil {
		return nil, fmt.Errorf("enter netns %s: %w", nsPath, err)
	}
	conn, derr := d.DialContext(ctx, network, addr)
	if err := netns.Set(orig); err != nil {
		// The thread is stuck in the wrong namespace: never reuse it.
		goruntime.LockOSThread() // left locked: the thread dies with the goroutine
		if conn != nil {
			conn.Close()
		}
		return nil, fmt.Errorf("leave netns %s: %w", nsPath, err)
	}
	return conn, derr
}
