package testing

import (
	"context"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// LaggingWatches returns a dial option that delivers every message of the watch streams of the given
// services (e.g. "coxswain.core.v1.PodService") delay after it arrived, keeping the order: an informer fed
// by such a client sees the apiserver's state delay late. Lists and other calls are not delayed.
func LaggingWatches(delay time.Duration, services ...string) grpc.DialOption {
	return grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn,
		method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		s, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil || !strings.HasSuffix(method, "/Watch") || !hasService(method, services) {
			return s, err
		}
		return &laggingStream{ClientStream: s, delay: delay, items: make(chan lagged, 4096)}, nil
	})
}

func hasService(method string, services []string) bool {
	for _, s := range services {
		if strings.HasPrefix(method, "/"+s+"/") {
			return true
		}
	}
	return false
}

type lagged struct {
	msg proto.Message
	err error
	at  time.Time
}

// laggingStream reads ahead in a goroutine, stamping each message with its arrival, and hands it out once
// it is delay old.
type laggingStream struct {
	grpc.ClientStream
	delay   time.Duration
	items   chan lagged
	started bool
}

func (s *laggingStream) RecvMsg(m any) error {
	pm, ok := m.(proto.Message)
	if !ok {
		return s.ClientStream.RecvMsg(m)
	}
	if !s.started {
		s.started = true
		go s.pump(pm.ProtoReflect().Type())
	}
	it, ok := <-s.items
	if !ok {
		return context.Canceled
	}
	if wait := time.Until(it.at.Add(s.delay)); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.Context().Done():
			t.Stop()
			return s.Context().Err()
		}
	}
	if it.err != nil {
		return it.err
	}
	proto.Reset(pm)
	proto.Merge(pm, it.msg)
	return nil
}

func (s *laggingStream) pump(mt protoreflect.MessageType) {
	for {
		msg := mt.New().Interface()
		err := s.ClientStream.RecvMsg(msg)
		select {
		case s.items <- lagged{msg: msg, err: err, at: time.Now()}:
		case <-s.Context().Done():
			close(s.items)
			return
		}
		if err != nil {
			close(s.items)
			return
		}
	}
}
