// Package podstreamtest is a fake PodService for tests of the pod stream clients: a real gRPC server whose
// Logs, Exec and PortForward behave like a tiny kubelet, and whose Get and List serve a fixed set of pods.
//
// Exec understands a few commands: "echo ARGS..." (stdout), "stderr ARGS..." (stderr), "exit N",
// "cat" (stdin to stdout until stdin closes), "size" (waits for a terminal resize and prints WxH) and
// "env" (prints the exec options it received). PortForward connects the stream to Ports[port], a local
// address the test chose (an httptest server...).
package podstreamtest

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/labels"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Server is the fake PodService.
type Server struct {
	corev1.UnimplementedPodServiceServer
	// Addr is the gRPC address.
	Addr string
	// Pods are served by Get and List.
	Pods []*corev1.Pod
	// LogText maps "namespace/pod/container" to the log text.
	LogText map[string]string
	// Ports maps a pod port to the local address PortForward connects to.
	Ports map[int32]string

	mu       sync.Mutex
	logCalls []*corev1.PodLogOptions
	execs    []*corev1.ExecOptions
}

// Start serves a fake PodService on a free port until the test ends.
func Start(t testing.TB, s *Server) *Server {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	corev1.RegisterPodServiceServer(g, s)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	s.Addr = lis.Addr().String()
	return s
}

// LogCalls returns the options of every Logs call so far.
func (s *Server) LogCalls() []*corev1.PodLogOptions {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*corev1.PodLogOptions(nil), s.logCalls...)
}

// Execs returns the options of every Exec call so far.
func (s *Server) Execs() []*corev1.ExecOptions {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*corev1.ExecOptions(nil), s.execs...)
}

func (s *Server) pod(ns, name string) (*corev1.Pod, error) {
	if ns == "" {
		ns = "default"
	}
	for _, p := range s.Pods {
		if p.GetMetadata().GetNamespace() == ns && p.GetMetadata().GetName() == name {
			return p, nil
		}
	}
	return nil, apierrors.ToGRPC(apierrors.NotFound("pods", name))
}

// Get serves a pod of Pods.
func (s *Server) Get(_ context.Context, req *metav1.GetRequest) (*corev1.Pod, error) {
	return s.pod(req.GetNamespace(), req.GetName())
}

// List serves the pods of a namespace matching the label selector.
func (s *Server) List(_ context.Context, opts *metav1.ListOptions) (*corev1.PodList, error) {
	sel, err := labels.Parse(opts.GetLabelSelector())
	if err != nil {
		return nil, apierrors.ToGRPC(apierrors.BadRequest("%v", err))
	}
	out := &corev1.PodList{Metadata: &metav1.ListMeta{ResourceVersion: "1"}}
	for _, p := range s.Pods {
		if (opts.GetNamespace() == "" || p.GetMetadata().GetNamespace() == opts.GetNamespace()) && sel.Matches(p.GetMetadata().GetLabels()) {
			out.Items = append(out.Items, p)
		}
	}
	return out, nil
}

// Logs streams the configured log, honouring tailLines, timestamps and follow (a line per 20ms).
func (s *Server) Logs(opts *corev1.PodLogOptions, stream corev1.PodService_LogsServer) error {
	s.mu.Lock()
	s.logCalls = append(s.logCalls, proto.Clone(opts).(*corev1.PodLogOptions))
	s.mu.Unlock()
	if _, err := s.pod(opts.GetNamespace(), opts.GetName()); err != nil {
		return err
	}
	key := opts.GetNamespace() + "/" + opts.GetName() + "/" + opts.GetContainer()
	text, ok := s.LogText[key]
	if !ok {
		return status.Errorf(codes.InvalidArgument, "container %q is not valid for pod %s", opts.GetContainer(), opts.GetName())
	}
	lines := strings.SplitAfter(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if opts.TailLines != nil && int(opts.GetTailLines()) < len(lines) {
		lines = lines[len(lines)-int(opts.GetTailLines()):]
	}
	prefix := func(l string) string {
		if opts.GetTimestamps() {
			return "2025-03-01T12:00:00.000000000Z " + l
		}
		return l
	}
	for _, l := range lines {
		if err := stream.Send(&corev1.LogChunk{Data: []byte(prefix(l))}); err != nil {
			return err
		}
	}
	for i := 0; opts.GetFollow(); i++ {
		select {
		case <-stream.Context().Done():
			return nil
		case <-time.After(20 * time.Millisecond):
		}
		if err := stream.Send(&corev1.LogChunk{Data: []byte(prefix(fmt.Sprintf("follow %d\n", i)))}); err != nil {
			return err
		}
	}
	return nil
}

// Exec runs one of the fake commands.
func (s *Server) Exec(stream corev1.PodService_ExecServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	opts := first.GetOptions()
	if opts == nil {
		return status.Error(codes.InvalidArgument, "the first exec message must carry options")
	}
	s.mu.Lock()
	s.execs = append(s.execs, proto.Clone(opts).(*corev1.ExecOptions))
	s.mu.Unlock()
	if _, err := s.pod(opts.GetNamespace(), opts.GetName()); err != nil {
		return err
	}
	if len(opts.GetCommand()) == 0 {
		return status.Error(codes.InvalidArgument, "no command")
	}
	exit := func(code int32) error { return stream.Send(&corev1.ExecOutput{Exited: true, ExitCode: code}) }
	out := func(b string) error { return stream.Send(&corev1.ExecOutput{Stdout: []byte(b)}) }
	cmd, args := opts.GetCommand()[0], opts.GetCommand()[1:]
	switch cmd {
	case "echo":
		if err := out(strings.Join(args, " ") + "\n"); err != nil {
			return err
		}
		return exit(0)
	case "stderr":
		if err := stream.Send(&corev1.ExecOutput{Stderr: []byte(strings.Join(args, " ") + "\n")}); err != nil {
			return err
		}
		return exit(1)
	case "exit":
		code, err := strconv.Atoi(args[0])
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "exit %q", args[0])
		}
		return exit(int32(code))
	case "env":
		if err := out(fmt.Sprintf("container=%s stdin=%v stdout=%v stderr=%v tty=%v\n", opts.GetContainer(),
			opts.GetStdin(), opts.GetStdout(), opts.GetStderr(), opts.GetTty())); err != nil {
			return err
		}
		return exit(0)
	case "cat", "size":
		for {
			in, err := stream.Recv()
			if err == io.EOF {
				return exit(0)
			}
			if err != nil {
				return err
			}
			if cmd == "size" && in.GetResize() != nil {
				if err := out(fmt.Sprintf("%dx%d\n", in.GetResize().GetWidth(), in.GetResize().GetHeight())); err != nil {
					return err
				}
				return exit(0)
			}
			if len(in.GetStdin()) > 0 {
				if err := out(string(in.GetStdin())); err != nil {
					return err
				}
			}
			if in.GetCloseStdin() {
				return exit(0)
			}
		}
	}
	if err := stream.Send(&corev1.ExecOutput{Stderr: []byte(cmd + ": command not found\n")}); err != nil {
		return err
	}
	return exit(127)
}

// PortForward connects the stream to Ports[port].
func (s *Server) PortForward(stream corev1.PodService_PortForwardServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	if _, err := s.pod(first.GetNamespace(), first.GetName()); err != nil {
		return err
	}
	addr, ok := s.Ports[first.GetPort()]
	if !ok {
		return status.Errorf(codes.Unavailable, "pod %s has nothing listening on port %d", first.GetName(), first.GetPort())
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return status.Errorf(codes.Unavailable, "dial %s: %v", addr, err)
	}
	defer conn.Close()
	go func() {
		for {
			f, err := stream.Recv()
			if err != nil {
				conn.Close()
				return
			}
			if len(f.GetData()) > 0 {
				if _, err := conn.Write(f.GetData()); err != nil {
					return
				}
			}
			if f.GetClose() {
				if tc, ok := conn.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			if err := stream.Send(&corev1.PortForwardFrame{Data: append([]byte(nil), buf[:n]...)}); err != nil {
				return err
			}
		}
		if err != nil {
			return stream.Send(&corev1.PortForwardFrame{Close: true})
		}
	}
}

// Pod builds a running pod with the given containers, for Pods.
func Pod(ns, name string, lbls map[string]string, containers ...string) *corev1.Pod {
	p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name, Labels: lbls}, Spec: &corev1.PodSpec{NodeName: "node-1"},
		Status: &corev1.PodStatus{Phase: "Running", Conditions: []*metav1.Condition{{Type: "Ready", Status: "True"}}}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, &corev1.Container{Name: c, Image: "busybox",
			Ports: []*corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: "TCP"}}})
	}
	api.Meta(p)
	return p
}
