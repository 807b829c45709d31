// Package record writes Events about objects, like client-go's event recorder: Eventf never blocks the
// caller; repeated events (same object, type, reason and message) are folded into one Event whose count
// and lastTimestamp grow, and writes are best-effort.
package record

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/client"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Event types.
const (
	Normal  = "Normal"
	Warning = "Warning"
)

// Recorder records events; components take this small interface so tests can use a FakeRecorder.
type Recorder interface {
	Eventf(obj api.Object, eventType, reason, format string, args ...any)
}

type pending struct {
	ref     *corev1.ObjectReference
	typ     string
	reason  string
	message string
	at      time.Time
}

// Broadcaster writes events through the API.
type Broadcaster struct {
	events    *client.Resource[*corev1.Event]
	component string
	host      string
	log       *slog.Logger
	ch        chan pending

	mu   sync.Mutex
	seen map[string]*corev1.Event // fold key → last written event

	dropped     atomic.Int64 // events dropped since the last drop was logged
	lastDropLog atomic.Int64 // unix nanoseconds of that log line
}

// dropLogInterval spaces the "events dropped" log lines, so an overloaded component does not also
// flood its log.
const dropLogInterval = 10 * time.Second

// NewBroadcaster returns a Broadcaster for component (e.g. "default-scheduler") on host.
func NewBroadcaster(c *client.Client, component, host string, log *slog.Logger) *Broadcaster {
	if log == nil {
		log = slog.Default()
	}
	return &Broadcaster{events: c.Events(), component: component, host: host, log: log,
		ch: make(chan pending, 1000), seen: map[string]*corev1.Event{}}
}

// Eventf queues an event; when the queue is full the event is dropped (drops are counted and logged at
// most every 10 s, with the count).
func (b *Broadcaster) Eventf(obj api.Object, eventType, reason, format string, args ...any) {
	r, err := api.ForObject(obj)
	if err != nil {
		return
	}
	m := obj.GetMetadata()
	ref := &corev1.ObjectReference{Kind: r.Kind, ApiVersion: r.APIVersion(), Namespace: m.GetNamespace(), Name: m.GetName(),
		Uid: m.GetUid(), ResourceVersion: m.GetResourceVersion()}
	p := pending{ref: ref, typ: eventType, reason: reason, message: fmt.Sprintf(format, args...), at: time.Now()}
	select {
	case b.ch <- p:
	default:
		n := b.dropped.Add(1)
		now, last := p.at.UnixNano(), b.lastDropLog.Load()
		if now-last >= int64(dropLogInterval) && b.lastDropLog.CompareAndSwap(last, now) {
			n = b.dropped.Swap(0)
			b.log.Warn("events dropped: queue full", "dropped", n, "last_reason", reason, "last_object", api.Key(obj))
		}
	}
}

// Run writes queued events until ctx ends.
func (b *Broadcaster) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-b.ch:
			b.write(ctx, p)
		}
	}
}

func (b *Broadcaster) write(ctx context.Context, p pending) {
	ns := p.ref.GetNamespace()
	if ns == "" {
		ns = "default"
	}
	key := strings.Join([]string{ns, p.ref.GetKind(), p.ref.GetName(), p.ref.GetUid(), p.typ, p.reason, p.message}, "\x00")
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	b.mu.Lock()
	prev := b.seen[key]
	b.mu.Unlock()
	if prev != nil {
		next := api.Clone(prev)
		next.Count++
		next.LastTimestamp = timestamppb.New(p.at)
		next.Metadata.ResourceVersion = ""
		if out, err := b.events.Update(ctx, next); err == nil {
			b.remember(key, out)
			return
		}
	}
	ev := &corev1.Event{
		Metadata:       &metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("%s.%x", p.ref.GetName(), p.at.UnixNano())},
		InvolvedObject: p.ref, Reason: p.reason, Message: p.message, Type: p.typ, Count: 1,
		Source:         &corev1.EventSource{Component: b.component, Host: b.host},
		FirstTimestamp: timestamppb.New(p.at), LastTimestamp: timestamppb.New(p.at),
		ReportingComponent: b.component, ReportingInstance: b.host,
	}
	out, err := b.events.Create(ctx, ev)
	if err != nil {
		b.log.Debug("event not written", "err", err, "reason", p.reason)
		return
	}
	b.remember(key, out)
}

func (b *Broadcaster) remember(key string, ev *corev1.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.seen) > 4096 {
		clear(b.seen)
	}
	b.seen[key] = ev
}

// FakeRecorder collects events as strings ("Warning FailedScheduling 0/3 nodes are available...") for tests.
type FakeRecorder struct {
	mu     sync.Mutex
	Events []string
}

// Eventf implements Recorder.
func (f *FakeRecorder) Eventf(_ api.Object, eventType, reason, format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Events = append(f.Events, eventType+" "+reason+" "+fmt.Sprintf(format, args...))
}

// Recorded returns a copy of the events so far.
func (f *FakeRecorder) Recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.Events...)
}
