package client

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Resource is the typed client of one kind.
type Resource[T api.Object] struct {
	cc  grpc.ClientConnInterface
	res *api.Resource
}

// Info describes the kind this client serves.
func (r *Resource[T]) Info() *api.Resource { return r.res }

func wrap(err error) error { return apierrors.FromGRPC(err) }

func (r *Resource[T]) call(ctx context.Context, verb string, in proto.Message) (T, error) {
	out := r.res.New().(T)
	if err := r.cc.Invoke(ctx, r.res.Method(verb), in, out); err != nil {
		var zero T
		return zero, wrap(err)
	}
	return out, nil
}

// Create stores a new object and returns it as stored (uid, resourceVersion, defaults...).
func (r *Resource[T]) Create(ctx context.Context, obj T) (T, error) {
	return r.call(ctx, "Create", obj)
}

// Get reads one object.
func (r *Resource[T]) Get(ctx context.Context, namespace, name string) (T, error) {
	return r.call(ctx, "Get", &metav1.GetRequest{Namespace: namespace, Name: name})
}

// Update replaces an object; it fails with a conflict when metadata.resourceVersion is stale.
func (r *Resource[T]) Update(ctx context.Context, obj T) (T, error) {
	return r.call(ctx, "Update", obj)
}

// UpdateStatus writes the status subresource only.
func (r *Resource[T]) UpdateStatus(ctx context.Context, obj T) (T, error) {
	return r.call(ctx, "UpdateStatus", obj)
}

// Delete deletes (or, with finalizers or a grace period, marks for deletion) an object.
func (r *Resource[T]) Delete(ctx context.Context, req *metav1.DeleteRequest) (T, error) {
	return r.call(ctx, "Delete", req)
}

// List reads one page of objects.
func (r *Resource[T]) List(ctx context.Context, opts *metav1.ListOptions) ([]T, *metav1.ListMeta, error) {
	if opts == nil {
		opts = &metav1.ListOptions{}
	}
	out := r.res.NewList()
	if err := r.cc.Invoke(ctx, r.res.Method("List"), opts, out); err != nil {
		return nil, nil, wrap(err)
	}
	m := out.ProtoReflect()
	fields := m.Descriptor().Fields()
	lm, _ := m.Get(fields.ByName("metadata")).Message().Interface().(*metav1.ListMeta)
	list := m.Get(fields.ByName("items")).List()
	items := make([]T, list.Len())
	for i := range items {
		items[i] = list.Get(i).Message().Interface().(T)
	}
	return items, lm, nil
}

// ListAll follows continue tokens until the last page (pageSize 0: one unpaginated call).
func (r *Resource[T]) ListAll(ctx context.Context, opts *metav1.ListOptions, pageSize int64) ([]T, *metav1.ListMeta, error) {
	o := &metav1.ListOptions{}
	if opts != nil {
		o = proto.Clone(opts).(*metav1.ListOptions)
	}
	o.Limit = pageSize
	var all []T
	for {
		items, lm, err := r.List(ctx, o)
		if err != nil {
			return nil, nil, err
		}
		all = append(all, items...)
		if lm.GetContinue() == "" {
			return all, lm, nil
		}
		o.Continue = lm.GetContinue()
	}
}

// EventType is the type of a watch event.
type EventType string

// The watch event types.
const (
	Added    EventType = "ADDED"
	Modified EventType = "MODIFIED"
	Deleted  EventType = "DELETED"
	Bookmark EventType = "BOOKMARK"
)

// Event is one watch event. For BOOKMARK, Object carries only metadata.resourceVersion.
type Event[T api.Object] struct {
	Type   EventType
	Object T
}

// Watch is an open watch stream.
type Watch[T api.Object] struct {
	stream grpc.ClientStream
	cancel context.CancelFunc
	res    *api.Resource
}

// Watch opens a watch from opts.ResourceVersion. A too-old version fails (now or from Next) with an
// error for which apierrors.IsExpired is true: relist, then watch from the list's version.
func (r *Resource[T]) Watch(ctx context.Context, opts *metav1.ListOptions) (*Watch[T], error) {
	if opts == nil {
		opts = &metav1.ListOptions{}
	}
	ctx, cancel := context.WithCancel(ctx)
	stream, err := r.cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, r.res.Method("Watch"))
	if err == nil {
		err = stream.SendMsg(opts)
	}
	if err == nil {
		err = stream.CloseSend()
	}
	if err != nil {
		cancel()
		return nil, wrap(err)
	}
	return &Watch[T]{stream: stream, cancel: cancel, res: r.res}, nil
}

// ErrWatchClosed is returned by Next when the server ended the stream cleanly (e.g. timeoutSeconds).
var ErrWatchClosed = errors.New("watch closed by the server")

// Next blocks for the next event.
func (w *Watch[T]) Next() (Event[T], error) {
	msg := w.res.NewWatchEvent()
	if err := w.stream.RecvMsg(msg); err != nil {
		if errors.Is(err, io.EOF) {
			return Event[T]{}, ErrWatchClosed
		}
		return Event[T]{}, wrap(err)
	}
	m := msg.ProtoReflect()
	fields := m.Descriptor().Fields()
	ev := Event[T]{Type: EventType(m.Get(fields.ByName("type")).String())}
	if st := fields.ByName("error"); m.Has(st) {
		s := m.Get(st).Message().Interface().(*metav1.Status)
		return ev, &apierrors.StatusError{Reason: apierrors.Reason(s.GetReason()), Message: s.GetMessage()}
	}
	ev.Object = objectField[T](m, fields.ByName("object"), w.res)
	return ev, nil
}

func objectField[T api.Object](m protoreflect.Message, fd protoreflect.FieldDescriptor, res *api.Resource) T {
	if m.Has(fd) {
		return m.Get(fd).Message().Interface().(T)
	}
	return res.New().(T)
}

// Stop ends the watch.
func (w *Watch[T]) Stop() { w.cancel() }
