//go:build !linux

package kubelet

import (
	"context"
	"errors"
	"net"
)

const nativeSupported = false

func dialInNetNS(ctx context.Context, nsPath, network, addr string) (net.Conn, error) {
	if nsPath != "" {
		return nil, errors.New("network namespaces need Linux")
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}
