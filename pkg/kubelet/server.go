package kubelet

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	kubeletv1 "github.com/coxswain/coxswain/proto/coxswain/kubelet/v1"
)

// TokenHeader is the metadata key the apiserver presents its token in.
const TokenHeader = "x-coxswain-kubelet-token"

// kubeletService implements KubeletService.
type kubeletService struct {
	kubeletv1.UnimplementedKubeletServiceServer
	k *Kubelet
}

func (k *Kubelet) newGRPCServer() *grpc.Server {
	check := func(ctx context.Context) error {
		if k.cfg.KubeletToken == "" {
			return nil
		}
		md, _ := metadata.FromIncomingContext(ctx)
		for _, v := range md.Get(TokenHeader) {
			if subtle.ConstantTimeCompare([]byte(v), []byte(k.cfg.KubeletToken)) == 1 {
				return nil
			}
		}
		return status.Error(codes.Unauthenticated, "kubelet: missing or wrong "+TokenHeader)
	}
	srv := grpc.NewServer(
		grpc.MaxRecvMsgSize(client.MaxMessageBytes),
		grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := check(ctx); err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := check(ss.Context()); err != nil {
				return err
			}
			return h(srv, ss)
		}),
	)
	kubeletv1.RegisterKubeletServiceServer(srv, &kubeletService{k: k})
	return srv
}

func (k *Kubelet) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(k.cfg.Registry, promhttp.HandlerOpts{Registry: k.cfg.Registry}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		for _, a := range k.agentList {
			if ok, _, msg := a.runtimeReady(); !ok {
				http.Error(w, a.name+": "+msg, http.StatusServiceUnavailable)
				return
			}
		}
		select {
		case <-k.ready:
		default:
			http.Error(w, "informers not synced", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// target is a pod (and container) a stream is about.
type target struct {
	a   *agent
	w   *podWorker
	pod *corev1.Pod
	c   *corev1.Container
}

// lookup finds a pod of this node and one of its containers ("" = the
// first, init containers included by name).
func (k *Kubelet) lookup(ns, name, container string) (*target, error) {
	key := ns + "/" + name
	pod, ok := k.pods.GetByKey(key)
	if !ok {
		return nil, apierrors.NotFound("pods", name)
	}
	a, ok := k.agents[pod.GetSpec().GetNodeName()]
	if !ok {
		return nil, apierrors.NotFound("pods", name)
	}
	t := &target{a: a, pod: pod}
	if w := a.worker(key); w != nil && w.uid == pod.GetMetadata().GetUid() {
		t.w = w
	}
	if container == "" {
		cs := pod.GetSpec().GetContainers()
		if len(cs) == 0 {
			return nil, apierrors.BadRequest("pod %s has no containers", name)
		}
		t.c = cs[0]
		return t, nil
	}
	for _, c := range append(append([]*corev1.Container(nil), pod.GetSpec().GetContainers()...), pod.GetSpec().GetInitContainers()...) {
		if c.GetName() == container {
			t.c = c
			return t, nil
		}
	}
	return nil, apierrors.BadRequest("container %s is not valid for pod %s", container, name)
}

// Logs streams a container's log.
func (s *kubeletService) Logs(opts *corev1.PodLogOptions, stream grpc.ServerStreamingServer[corev1.LogChunk]) error {
	t, err := s.k.lookup(opts.GetNamespace(), opts.GetName(), opts.GetContainer())
	if err != nil {
		return apierrors.ToGRPC(err)
	}
	uid := t.pod.GetMetadata().GetUid()
	dir := filepath.Join(s.k.podDir(uid), t.c.GetName())
	var cur int32 = -1
	if t.w != nil {
		t.w.mu.Lock()
		if cs := t.w.containers[t.c.GetName()]; cs != nil && (cs.hasInst || cs.restartCount > 0) {
			cur = cs.restartCount
			if !cs.hasInst {
				cur--
			}
		}
		t.w.mu.Unlock()
	}
	if cur < 0 {
		if ns := instanceNumbers(dir); len(ns) > 0 {
			cur = int32(ns[len(ns)-1])
		}
	}
	n := cur
	if opts.GetPrevious() {
		n = cur - 1
		if n < 0 || len(logFiles(s.k.logPath(uid, t.c.GetName(), n))) == 0 {
			return apierrors.ToGRPC(apierrors.BadRequest("previous terminated container %q in pod %q not found", t.c.GetName(), opts.GetName()))
		}
	} else if n < 0 {
		return apierrors.ToGRPC(apierrors.BadRequest("container %q in pod %q is waiting to start", t.c.GetName(), opts.GetName()))
	}
	path := s.k.logPath(uid, t.c.GetName(), n)
	lo := logOptions{follow: opts.GetFollow() && !opts.GetPrevious(), tail: -1, timestamps: opts.GetTimestamps()}
	if opts.TailLines != nil {
		lo.tail = max(opts.GetTailLines(), 0)
	}
	if opts.SinceSeconds != nil && opts.GetSinceSeconds() > 0 {
		lo.since = time.Now().Add(-time.Duration(opts.GetSinceSeconds()) * time.Second)
	}
	if opts.LimitBytes != nil {
		lo.limit = opts.GetLimitBytes()
	}
	var lw *logWriter
	if lo.follow {
		lw = s.k.logs.get(path)
	}
	w := &chunkWriter{send: func(b []byte) error { return stream.Send(&corev1.LogChunk{Data: b}) }}
	err = readLog(stream.Context(), path, lw, lo, w, w.flush)
	if ferr := w.flush(); err == nil {
		err = ferr
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return apierrors.ToGRPC(err)
	}
	return nil
}

// chunkWriter batches small writes into chunks of up to 32 KiB.
type chunkWriter struct {
	send func([]byte) error
	buf  []byte
}

func (c *chunkWriter) Write(p []byte) (int, error) {
	c.buf = append(c.buf, p...)
	if len(c.buf) >= 32<<10 {
		if err := c.flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (c *chunkWriter) flush() error {
	if len(c.buf) == 0 {
		return nil
	}
	b := c.buf
	c.buf = nil
	return c.send(b)
}

// runningContainer returns the runtime ID of t's running container.
func (t *target) runningContainer() (string, error) {
	if t.w == nil {
		return "", apierrors.BadRequest("pod %s is not running on this node", t.pod.GetMetadata().GetName())
	}
	t.w.mu.Lock()
	defer t.w.mu.Unlock()
	cs := t.w.containers[t.c.GetName()]
	if cs == nil || cs.id == "" || cs.st.State != runtime.StateRunning {
		return "", apierrors.New(apierrors.ReasonPrecondition, "container %s is not running", t.c.GetName())
	}
	return cs.id, nil
}

// Exec runs a command in a container; the last message carries its exit code.
func (s *kubeletService) Exec(stream grpc.BidiStreamingServer[corev1.ExecInput, corev1.ExecOutput]) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	o := first.GetOptions()
	if o == nil || len(o.GetCommand()) == 0 {
		return apierrors.ToGRPC(apierrors.BadRequest("exec: the first message must carry options with a command"))
	}
	t, err := s.k.lookup(o.GetNamespace(), o.GetName(), o.GetContainer())
	if err != nil {
		return apierrors.ToGRPC(err)
	}
	id, err := t.runningContainer()
	if err != nil {
		return apierrors.ToGRPC(err)
	}
	rt := t.a.runtime()
	if rt == nil {
		return apierrors.ToGRPC(apierrors.New(apierrors.ReasonServiceUnavailable, "container runtime is not ready"))
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	var sendMu sync.Mutex
	send := func(out *corev1.ExecOutput) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return stream.Send(out)
	}
	streams := runtime.ExecStreams{TTY: o.GetTty()}
	if o.GetStdout() || o.GetTty() {
		streams.Stdout = writerFunc(func(p []byte) error { return send(&corev1.ExecOutput{Stdout: append([]byte(nil), p...)}) })
	}
	if o.GetStderr() && !o.GetTty() {
		streams.Stderr = writerFunc(func(p []byte) error { return send(&corev1.ExecOutput{Stderr: append([]byte(nil), p...)}) })
	}
	var stdinW *io.PipeWriter
	if o.GetStdin() {
		var r *io.PipeReader
		r, stdinW = io.Pipe()
		streams.Stdin = r
	}
	resize := make(chan runtime.TermSize, 4)
	if o.GetTty() {
		streams.Resize = resize
	}
	deliver := func(in *corev1.ExecInput) {
		if len(in.GetStdin()) > 0 && stdinW != nil {
			_, _ = stdinW.Write(in.GetStdin())
		}
		if r := in.GetResize(); r != nil && o.GetTty() {
			select {
			case resize <- runtime.TermSize{Width: uint16(r.GetWidth()), Height: uint16(r.GetHeight())}:
			default:
			}
		}
		if in.GetCloseStdin() && stdinW != nil {
			stdinW.Close()
		}
	}
	deliver(first)
	go func() {
		for {
			in, err := stream.Recv()
			if err != nil {
				if stdinW != nil {
					stdinW.Close()
				}
				if !errors.Is(err, io.EOF) {
					cancel()
				}
				return
			}
			deliver(in)
		}
	}()
	code, err := rt.Exec(ctx, id, o.GetCommand(), streams)
	if stdinW != nil {
		stdinW.CloseWithError(io.EOF)
	}
	if err != nil {
		if ctx.Err() != nil {
			return status.Error(codes.Canceled, "exec: cancelled")
		}
		return apierrors.ToGRPC(apierrors.BadRequest("exec in container %s: %v", t.c.GetName(), err))
	}
	return send(&corev1.ExecOutput{Exited: true, ExitCode: int32(code)})
}

type writerFunc func(p []byte) error

func (f writerFunc) Write(p []byte) (int, error) {
	if err := f(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// PortForward relays one TCP connection to a pod port.
func (s *kubeletService) PortForward(stream grpc.BidiStreamingServer[corev1.PortForwardFrame, corev1.PortForwardFrame]) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	port := first.GetPort()
	if port <= 0 || port > 65535 {
		return apierrors.ToGRPC(apierrors.BadRequest("port-forward: invalid port %d", port))
	}
	t, err := s.k.lookup(first.GetNamespace(), first.GetName(), "")
	if err != nil {
		return apierrors.ToGRPC(err)
	}
	ip := ""
	if t.w != nil {
		t.w.mu.Lock()
		ip = t.w.podIP
		t.w.mu.Unlock()
	}
	if ip == "" {
		return apierrors.ToGRPC(apierrors.New(apierrors.ReasonPrecondition, "pod %s has no IP yet", first.GetName()))
	}
	ctx, cancel := context.WithTimeout(stream.Context(), 10*time.Second)
	conn, err := t.a.dial(ctx, "tcp", net.JoinHostPort(ip, strconv.Itoa(int(port))))
	cancel()
	if err != nil {
		return apierrors.ToGRPC(apierrors.New(apierrors.ReasonServiceUnavailable, "port-forward to %s port %d: %v", first.GetName(), port, err))
	}
	defer conn.Close()
	if len(first.GetData()) > 0 {
		if _, err := conn.Write(first.GetData()); err != nil {
			return nil
		}
	}
	errc := make(chan error, 1)
	go func() {
		for {
			in, err := stream.Recv()
			if err != nil {
				closeWrite(conn)
				errc <- nil
				return
			}
			if len(in.GetData()) > 0 {
				if _, err := conn.Write(in.GetData()); err != nil {
					errc <- err
					return
				}
			}
			if in.GetClose() {
				closeWrite(conn)
				errc <- nil
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, rerr := conn.Read(buf)
		if n > 0 {
			if err := stream.Send(&corev1.PortForwardFrame{Data: append([]byte(nil), buf[:n]...)}); err != nil {
				return nil
			}
		}
		if rerr != nil {
			_ = stream.Send(&corev1.PortForwardFrame{Close: true})
			return nil
		}
	}
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
		return
	}
	c.Close()
}
