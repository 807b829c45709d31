package podstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"

	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// PortPair maps a local port (0: any free port) to a port of the pod.
type PortPair struct {
	Local, Remote int
}

// ParsePorts reads port-forward's port arguments: "8080:80", "80" (same port locally), ":80" (a free
// local port).
func ParsePorts(args []string) ([]PortPair, error) {
	var out []PortPair
	for _, a := range args {
		local, remote, found := strings.Cut(a, ":")
		if !found {
			remote = local
		}
		r, err := strconv.Atoi(remote)
		if err != nil || r <= 0 || r > 65535 {
			return nil, fmt.Errorf("invalid port %q: the remote port must be a number between 1 and 65535", a)
		}
		l := 0
		if local != "" {
			if l, err = strconv.Atoi(local); err != nil || l < 0 || l > 65535 {
				return nil, fmt.Errorf("invalid port %q: the local port must be a number between 0 and 65535", a)
			}
		}
		out = append(out, PortPair{Local: l, Remote: r})
	}
	return out, nil
}

// ForwarderConfig describes a port forwarding.
type ForwarderConfig struct {
	Client         corev1.PodServiceClient
	Namespace, Pod string
	Ports          []PortPair
	// Addresses to listen on (default 127.0.0.1).
	Addresses []string
	// Out receives kubectl's "Forwarding from ..." and "Handling connection for ..." lines; ErrOut errors
	// of single connections.
	Out, ErrOut io.Writer
}

// Forwarder listens on local ports and carries each accepted connection over its own PortForward stream.
type Forwarder struct {
	cfg       ForwarderConfig
	listeners []listener
}

type listener struct {
	net.Listener
	pair PortPair
}

// NewForwarder binds the local ports, so that Addrs is known before Run.
func NewForwarder(cfg ForwarderConfig) (*Forwarder, error) {
	if cfg.Client == nil || cfg.Pod == "" || len(cfg.Ports) == 0 {
		return nil, errors.New("port-forward: a client, a pod and at least one port are required")
	}
	if len(cfg.Addresses) == 0 {
		cfg.Addresses = []string{"127.0.0.1"}
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.ErrOut == nil {
		cfg.ErrOut = io.Discard
	}
	f := &Forwarder{cfg: cfg}
	for _, p := range cfg.Ports {
		for _, addr := range cfg.Addresses {
			if addr == "localhost" {
				addr = "127.0.0.1"
			}
			l, err := net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(p.Local)))
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("unable to listen on %s port %d: %w", addr, p.Local, err)
			}
			f.listeners = append(f.listeners, listener{Listener: l, pair: p})
		}
	}
	return f, nil
}

// Addrs are the bound local addresses, in the order of the ports and addresses.
func (f *Forwarder) Addrs() []net.Addr {
	out := make([]net.Addr, len(f.listeners))
	for i, l := range f.listeners {
		out[i] = l.Addr()
	}
	return out
}

// Close stops listening.
func (f *Forwarder) Close() {
	for _, l := range f.listeners {
		l.Close()
	}
}

// Run serves connections until ctx is cancelled.
func (f *Forwarder) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, l := range f.listeners {
		fmt.Fprintf(f.cfg.Out, "Forwarding from %s -> %d\n", l.Addr(), l.pair.Remote)
	}
	for _, l := range f.listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				conn, err := l.Accept()
				if err != nil {
					return
				}
				_, port, _ := net.SplitHostPort(l.Addr().String())
				fmt.Fprintf(f.cfg.Out, "Handling connection for %s\n", port)
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := f.forward(ctx, conn, l.pair.Remote); err != nil && ctx.Err() == nil {
						fmt.Fprintf(f.cfg.ErrOut, "error: an error occurred forwarding %s -> %d: %v\n", port, l.pair.Remote, err)
					}
				}()
			}
		}()
	}
	<-ctx.Done()
	f.Close()
	wg.Wait()
	return nil
}

// forward carries one connection: the first frame names the pod and port, then bytes flow both ways;
// a close frame (or the end of the stream) ends the connection.
func (f *Forwarder) forward(ctx context.Context, conn net.Conn, remote int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer conn.Close()
	stream, err := f.cfg.Client.PortForward(ctx)
	if err != nil {
		return apierrors.FromGRPC(err)
	}
	if err := stream.Send(&corev1.PortForwardFrame{Namespace: f.cfg.Namespace, Name: f.cfg.Pod, Port: int32(remote)}); err != nil {
		return apierrors.FromGRPC(err)
	}
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := conn.Read(buf)
			if n > 0 {
				if stream.Send(&corev1.PortForwardFrame{Data: append([]byte(nil), buf[:n]...)}) != nil {
					return
				}
			}
			if err != nil {
				_ = stream.Send(&corev1.PortForwardFrame{Close: true})
				_ = stream.CloseSend()
				return
			}
		}
	}()
	for {
		frame, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return apierrors.FromGRPC(err)
		}
		if len(frame.GetData()) > 0 {
			if _, err := conn.Write(frame.GetData()); err != nil {
				return nil // the local client went away
			}
		}
		if frame.GetClose() {
			return nil
		}
	}
}
