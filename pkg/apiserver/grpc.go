package apiserver

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/apiserver/registry"
	"github.com/coxswain/coxswain/pkg/apiserver/storage"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// rawCodec is the server's protobuf codec; it sends pre-encoded watch events as they are, so an event
// fanned out to a thousand watchers is marshalled once.
type rawCodec struct{}

type rawMessage []byte

func (rawCodec) Marshal(v any) ([]byte, error) {
	if b, ok := v.(rawMessage); ok {
		return b, nil
	}
	return proto.Marshal(v.(proto.Message))
}

func (rawCodec) Unmarshal(data []byte, v any) error { return proto.Unmarshal(data, v.(proto.Message)) }
func (rawCodec) Name() string                       { return "proto" }

// serviceDesc builds the gRPC service of one resource: one generic implementation per verb, registered
// under the generated service name so reflection describes it with its typed messages.
func (s *Server) serviceDesc(r *api.Resource) *grpc.ServiceDesc {
	rest := func() *registry.REST { return s.rests[r] }
	obj := func() proto.Message { return r.New() }
	desc := &grpc.ServiceDesc{ServiceName: r.Service, HandlerType: (*any)(nil)}
	add := func(verb string, newIn func() proto.Message, fn func(ctx context.Context, in proto.Message) (any, error)) {
		desc.Methods = append(desc.Methods, grpc.MethodDesc{MethodName: verb, Handler: unaryHandler(r.Method(verb), newIn, fn)})
	}
	add("Create", obj, func(ctx context.Context, in proto.Message) (any, error) {
		if r == api.Services {
			return registry.RetryAllocation(func() (api.Object, error) { return rest().Create(ctx, in.(api.Object)) })
		}
		return rest().Create(ctx, in.(api.Object))
	})
	add("Get", func() proto.Message { return &metav1.GetRequest{} }, func(ctx context.Context, in proto.Message) (any, error) {
		return rest().Get(ctx, in.(*metav1.GetRequest))
	})
	add("List", func() proto.Message { return &metav1.ListOptions{} }, func(ctx context.Context, in proto.Message) (any, error) {
		res, err := rest().List(ctx, in.(*metav1.ListOptions), indexField(r))
		if err != nil {
			return nil, err
		}
		if res.Encoded != nil {
			return rawMessage(res.Encoded), nil
		}
		return buildList(r, res.Items, res.Meta), nil
	})
	add("Update", obj, func(ctx context.Context, in proto.Message) (any, error) {
		if r == api.Services {
			return registry.RetryAllocation(func() (api.Object, error) { return rest().Update(ctx, in.(api.Object)) })
		}
		return rest().Update(ctx, in.(api.Object))
	})
	if r.HasStatus {
		add("UpdateStatus", obj, func(ctx context.Context, in proto.Message) (any, error) {
			return rest().UpdateStatus(ctx, in.(api.Object))
		})
	}
	add("Delete", func() proto.Message { return &metav1.DeleteRequest{} }, func(ctx context.Context, in proto.Message) (any, error) {
		return rest().Delete(ctx, in.(*metav1.DeleteRequest))
	})
	desc.Streams = append(desc.Streams, grpc.StreamDesc{StreamName: "Watch", ServerStreams: true,
		Handler: func(_ any, stream grpc.ServerStream) error {
			opts := &metav1.ListOptions{}
			if err := stream.RecvMsg(opts); err != nil {
				return err
			}
			return apierrors.ToGRPC(s.watch(stream.Context(), r, opts, stream))
		}})
	if r == api.Pods {
		add("Bind", func() proto.Message { return &corev1.Binding{} }, func(ctx context.Context, in proto.Message) (any, error) {
			return registry.Bind(ctx, rest(), in.(*corev1.Binding))
		})
		desc.Streams = append(desc.Streams,
			grpc.StreamDesc{StreamName: "Logs", ServerStreams: true, Handler: s.proxyLogs},
			grpc.StreamDesc{StreamName: "Exec", ServerStreams: true, ClientStreams: true, Handler: s.proxyExec},
			grpc.StreamDesc{StreamName: "PortForward", ServerStreams: true, ClientStreams: true, Handler: s.proxyPortForward},
		)
	}
	return desc
}

func indexField(r *api.Resource) string {
	if r == api.Pods {
		return registry.PodIndexField
	}
	return ""
}

func unaryHandler(method string, newIn func() proto.Message, fn func(ctx context.Context, in proto.Message) (any, error)) grpc.MethodHandler {
	return func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
		in := newIn()
		if err := dec(in); err != nil {
			return nil, err
		}
		h := func(ctx context.Context, req any) (any, error) {
			out, err := fn(ctx, req.(proto.Message))
			if err != nil {
				return nil, apierrors.ToGRPC(err)
			}
			return out, nil
		}
		if ic == nil {
			return h(ctx, in)
		}
		return ic(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: method}, h)
	}
}

func buildList(r *api.Resource, items []api.Object, lm *metav1.ListMeta) proto.Message {
	list := r.NewList()
	m := list.ProtoReflect()
	fields := m.Descriptor().Fields()
	m.Set(fields.ByName("metadata"), protoreflect.ValueOfMessage(lm.ProtoReflect()))
	l := m.Mutable(fields.ByName("items")).List()
	for _, it := range items {
		l.Append(protoreflect.ValueOfMessage(it.ProtoReflect()))
	}
	return list
}

// watch serves one client watch from the cache (or, for a version older than the cache's window, from
// etcd's history), with bookmarks when asked and an optional timeout.
func (s *Server) watch(ctx context.Context, r *api.Resource, opts *metav1.ListOptions, stream grpc.ServerStream) error {
	rest := s.rests[r]
	p, err := rest.Predicate(opts, indexField(r))
	if err != nil {
		return err
	}
	if t := opts.GetTimeoutSeconds(); t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(t)*time.Second)
		defer cancel()
	}
	rev := int64(-1)
	if v := opts.GetResourceVersion(); v != "" && v != "0" {
		if rev, err = strconv.ParseInt(v, 10, 64); err != nil || rev < 0 {
			return apierrors.BadRequest("invalid resourceVersion %q", v)
		}
	}
	if rev < 0 && opts.SendInitialEvents != nil && !opts.GetSendInitialEvents() {
		// start at the current revision without initial events
		cur, err := rest.Store.CurrentRevision(ctx)
		if err != nil {
			return err
		}
		rev = cur
		if err := rest.Cache.WaitFresh(ctx, cur); err != nil && !errors.Is(err, storage.ErrNotFresh) {
			return err
		}
	}
	send := func(e *storage.Event, typ string) error {
		var b []byte
		var err error
		if typ == storage.Bookmark {
			bm := r.New()
			api.Meta(bm).ResourceVersion = strconv.FormatInt(e.Rev, 10)
			b, err = storage.EncodeWatchEvent(r, storage.Bookmark, bm)
		} else {
			b, err = e.Encoded(r, typ)
		}
		if err != nil {
			return apierrors.Internal(err)
		}
		return stream.SendMsg(rawMessage(b))
	}
	w, err := rest.Cache.Watch(ctx, rev, p, opts.GetAllowWatchBookmarks())
	if errors.Is(err, storage.ErrTooOld) {
		return s.watchHistory(ctx, rest, rev, p, send)
	}
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		e, typ, err := w.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil // client went away or timeoutSeconds passed: a clean end
			}
			return err
		}
		if err := send(e, typ); err != nil {
			return err
		}
	}
}

func (s *Server) watchHistory(ctx context.Context, rest *registry.REST, rev int64, p *storage.Predicate, send func(*storage.Event, string) error) error {
	err := rest.Store.WatchHistory(ctx, rev, func(e *storage.Event) error {
		if typ := storage.TypeFor(p, e); typ != "" {
			return send(e, typ)
		}
		return nil
	})
	if ctx.Err() != nil && !apierrors.IsExpired(err) {
		return nil
	}
	return err
}

// methodParts splits "/coxswain.core.v1.PodService/List" into the resource and the verb.
func (s *Server) methodParts(full string) (*api.Resource, string) {
	svc, verb, _ := strings.Cut(strings.TrimPrefix(full, "/"), "/")
	for _, r := range api.All() {
		if r.Service == svc {
			return r, verb
		}
	}
	return nil, verb
}

func requestTarget(in any) (namespace, name string) {
	switch m := in.(type) {
	case *metav1.GetRequest:
		return m.GetNamespace(), m.GetName()
	case *metav1.DeleteRequest:
		return m.GetNamespace(), m.GetName()
	case *metav1.ListOptions:
		return m.GetNamespace(), ""
	case api.Object:
		return m.GetMetadata().GetNamespace(), m.GetMetadata().GetName()
	}
	return "", ""
}

var verbNames = map[string]string{"Create": "create", "Get": "get", "List": "list", "Watch": "watch", "Update": "update",
	"UpdateStatus": "update", "Delete": "delete", "Bind": "create", "Logs": "get", "Exec": "create", "PortForward": "create"}

func (s *Server) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	r, verb := s.methodParts(info.FullMethod)
	if r == nil {
		return h(ctx, req)
	}
	start := time.Now()
	kind := "readOnly"
	if verb != "Get" && verb != "List" {
		kind = "mutating"
	}
	s.metrics.inflight.WithLabelValues(kind).Inc()
	defer s.metrics.inflight.WithLabelValues(kind).Dec()
	ns, name := requestTarget(req)
	ctx, err := s.authorize(ctx, verbNames[verb], subresource(r, verb), ns, name)
	var out any
	if err != nil {
		err = apierrors.ToGRPC(err)
	} else {
		out, err = h(ctx, req)
	}
	s.observe(r, verb, err, start)
	return out, err
}

func subresource(r *api.Resource, verb string) string {
	switch verb {
	case "UpdateStatus":
		return r.GroupResource() + "/status"
	case "Bind":
		return r.GroupResource() + "/binding"
	case "Logs":
		return r.GroupResource() + "/log"
	case "Exec":
		return r.GroupResource() + "/exec"
	case "PortForward":
		return r.GroupResource() + "/portforward"
	}
	return r.GroupResource()
}

func (s *Server) observe(r *api.Resource, verb string, err error, start time.Time) {
	code := status.Code(err)
	s.metrics.requests.WithLabelValues(r.Plural, strings.ToUpper(verb), code.String()).Inc()
	s.metrics.duration.WithLabelValues(r.Plural, strings.ToUpper(verb)).Observe(time.Since(start).Seconds())
	if code == codes.Internal || code == codes.Unknown {
		s.log.Error("request failed", "resource", r.Plural, "verb", verb, "err", err)
	}
}

func (s *Server) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	r, verb := s.methodParts(info.FullMethod)
	if r == nil {
		return h(srv, ss)
	}
	s.metrics.inflight.WithLabelValues("watch").Inc()
	defer s.metrics.inflight.WithLabelValues("watch").Dec()
	ctx, err := s.authorize(ss.Context(), verbNames[verb], subresource(r, verb), "", "")
	if err != nil {
		s.observe(r, verb, apierrors.ToGRPC(err), time.Now())
		return apierrors.ToGRPC(err)
	}
	err = h(srv, &ctxStream{ServerStream: ss, ctx: ctx})
	s.metrics.requests.WithLabelValues(r.Plural, strings.ToUpper(verb), status.Code(err).String()).Inc()
	return err
}

type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (c *ctxStream) Context() context.Context { return c.ctx }
