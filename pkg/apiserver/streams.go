package apiserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	kubeletv1 "github.com/coxswain/coxswain/proto/coxswain/kubelet/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// KubeletTokenHeader carries the apiserver's token on calls to kubelets.
const KubeletTokenHeader = "x-coxswain-kubelet-token"

// kubeletDialer keeps one connection per kubelet address.
type kubeletDialer struct {
	token string
	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

func newKubeletDialer(token string) *kubeletDialer {
	return &kubeletDialer{token: token, conns: map[string]*grpc.ClientConn{}}
}

func (d *kubeletDialer) client(ctx context.Context, addr string) (kubeletv1.KubeletServiceClient, context.Context, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	cc, ok := d.conns[addr]
	if !ok {
		var err error
		cc, err = grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, ctx, err
		}
		d.conns[addr] = cc
	}
	if d.token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, KubeletTokenHeader, d.token)
	}
	return kubeletv1.NewKubeletServiceClient(cc), ctx, nil
}

// kubeletFor finds the kubelet serving a pod: its node's InternalIP and kubelet port.
func (s *Server) kubeletFor(ctx context.Context, namespace, name string) (kubeletv1.KubeletServiceClient, context.Context, error) {
	obj, err := s.rests[api.Pods].Get(ctx, &metav1.GetRequest{Namespace: namespace, Name: name})
	if err != nil {
		return nil, ctx, err
	}
	pod := obj.(*corev1.Pod)
	nodeName := pod.GetSpec().GetNodeName()
	if nodeName == "" {
		return nil, ctx, apierrors.BadRequest("pod %s does not have a host assigned", name)
	}
	nobj, err := s.rests[api.Nodes].Get(ctx, &metav1.GetRequest{Name: nodeName})
	if err != nil {
		return nil, ctx, err
	}
	node := nobj.(*corev1.Node)
	port := node.GetStatus().GetDaemonEndpoints().GetKubeletEndpoint().GetPort()
	host := ""
	for _, a := range node.GetStatus().GetAddresses() {
		if a.GetType() == "InternalIP" {
			host = a.GetAddress()
			break
		}
	}
	if host == "" || port == 0 {
		return nil, ctx, apierrors.New(apierrors.ReasonServiceUnavailable, "node %s has not reported its kubelet endpoint", nodeName)
	}
	return s.kubelets.client(ctx, net.JoinHostPort(host, strconv.Itoa(int(port))))
}

func streamErr(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	return apierrors.ToGRPC(err)
}

func (s *Server) proxyLogs(_ any, stream grpc.ServerStream) error {
	opts := &corev1.PodLogOptions{}
	if err := stream.RecvMsg(opts); err != nil {
		return err
	}
	kc, ctx, err := s.kubeletFor(stream.Context(), opts.GetNamespace(), opts.GetName())
	if err != nil {
		return apierrors.ToGRPC(err)
	}
	up, err := kc.Logs(ctx, opts)
	if err != nil {
		return err
	}
	for {
		chunk, err := up.Recv()
		if err != nil {
			return streamErr(err)
		}
		if err := stream.SendMsg(chunk); err != nil {
			return err
		}
	}
}

// pipe copies client→kubelet and kubelet→client messages until either side ends.
func pipe[In, Out any](stream grpc.ServerStream, up grpc.BidiStreamingClient[In, Out], first *In) error {
	if err := up.Send(first); err != nil {
		return err
	}
	go func() {
		for {
			in := new(In)
			if err := stream.RecvMsg(in); err != nil {
				_ = up.CloseSend()
				return
			}
			if err := up.Send(in); err != nil {
				return
			}
		}
	}()
	for {
		out, err := up.Recv()
		if err != nil {
			return streamErr(err)
		}
		if err := stream.SendMsg(out); err != nil {
			return err
		}
	}
}

func (s *Server) proxyExec(_ any, stream grpc.ServerStream) error {
	first := &corev1.ExecInput{}
	if err := stream.RecvMsg(first); err != nil {
		return err
	}
	o := first.GetOptions()
	if o == nil || len(o.GetCommand()) == 0 {
		return apierrors.ToGRPC(apierrors.BadRequest("exec: the first message must carry options with a command"))
	}
	kc, ctx, err := s.kubeletFor(stream.Context(), o.GetNamespace(), o.GetName())
	if err != nil {
		return apierrors.ToGRPC(err)
	}
	up, err := kc.Exec(ctx)
	if err != nil {
		return err
	}
	return pipe(stream, up, first)
}

func (s *Server) proxyPortForward(_ any, stream grpc.ServerStream) error {
	first := &corev1.PortForwardFrame{}
	if err := stream.RecvMsg(first); err != nil {
		return err
	}
	if first.GetPort() <= 0 || first.GetPort() > 65535 {
		return apierrors.ToGRPC(apierrors.BadRequest("port-forward: invalid port %d", first.GetPort()))
	}
	kc, ctx, err := s.kubeletFor(stream.Context(), first.GetNamespace(), first.GetName())
	if err != nil {
		return apierrors.ToGRPC(err)
	}
	up, err := kc.PortForward(ctx)
	if err != nil {
		return fmt.Errorf("port-forward: %w", err)
	}
	return pipe(stream, up, first)
}
