package record

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/testutil"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// Broadcaster must satisfy the interface components depend on, and so must the fake.
var (
	_ Recorder = (*Broadcaster)(nil)
	_ Recorder = (*FakeRecorder)(nil)
)

func runBroadcaster(t *testing.T, b *Broadcaster) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return after its context ended")
		}
	})
}

// eventsAbout lists the events of namespace ns whose involvedObject is name.
func eventsAbout(t *testing.T, c *client.Client, ns, name string) []*corev1.Event {
	t.Helper()
	evs, _, err := c.Events().List(testutil.Context(t), &metav1.ListOptions{Namespace: ns, FieldSelector: "involvedObject.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func waitEvents(t *testing.T, c *client.Client, ns, name string, cond func([]*corev1.Event) bool) []*corev1.Event {
	t.Helper()
	var evs []*corev1.Event
	testutil.Eventually(t, 15*time.Second, func() bool {
		evs = eventsAbout(t, c, ns, name)
		return cond(evs)
	}, "events about %s/%s: %v", ns, name, func() any { return evs })
	return evs
}

func TestEventsAreWritten(t *testing.T) {
	t.Parallel()
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)
	cm, err := a.Client.ConfigMaps().Create(ctx, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Namespace: "kube-public", Name: "settings"}})
	if err != nil {
		t.Fatal(err)
	}
	node, err := a.Client.Nodes().Create(ctx, &corev1.Node{Metadata: &metav1.ObjectMeta{Name: "node-1"}})
	if err != nil {
		t.Fatal(err)
	}
	b := NewBroadcaster(a.Client, "test-controller", "host-1", testutil.Logger())
	runBroadcaster(t, b)
	tests := []struct {
		name    string
		obj     api.Object
		eventNS string // where the Event lives
		typ     string
		ref     *corev1.ObjectReference
	}{
		{"namespaced object", cm, "kube-public", Warning, &corev1.ObjectReference{Kind: "ConfigMap", ApiVersion: "v1",
			Namespace: "kube-public", Name: "settings", Uid: cm.Metadata.Uid, ResourceVersion: cm.Metadata.ResourceVersion}},
		{"cluster-scoped object", node, "default", Normal, &corev1.ObjectReference{Kind: "Node", ApiVersion: "v1",
			Name: "node-1", Uid: node.Metadata.Uid, ResourceVersion: node.Metadata.ResourceVersion}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now().Add(-time.Second)
			b.Eventf(tc.obj, tc.typ, "Checked", "checked %d times by %s", 1, "the test")
			evs := waitEvents(t, a.Client, tc.eventNS, tc.obj.GetMetadata().GetName(), func(e []*corev1.Event) bool { return len(e) > 0 })
			if len(evs) != 1 {
				t.Fatalf("%d events, want 1: %v", len(evs), evs)
			}
			ev := evs[0]
			got := ev.GetInvolvedObject()
			if got.GetKind() != tc.ref.Kind || got.GetApiVersion() != tc.ref.ApiVersion || got.GetNamespace() != tc.ref.Namespace ||
				got.GetName() != tc.ref.Name || got.GetUid() != tc.ref.Uid || got.GetResourceVersion() != tc.ref.ResourceVersion {
				t.Errorf("involvedObject %v, want %v", got, tc.ref)
			}
			if ev.Reason != "Checked" || ev.Type != tc.typ || ev.Message != "checked 1 times by the test" || ev.Count != 1 {
				t.Errorf("reason %q type %q message %q count %d", ev.Reason, ev.Type, ev.Message, ev.Count)
			}
			if ev.GetSource().GetComponent() != "test-controller" || ev.GetSource().GetHost() != "host-1" ||
				ev.ReportingComponent != "test-controller" || ev.ReportingInstance != "host-1" {
				t.Errorf("source %v, reporting %q/%q", ev.GetSource(), ev.ReportingComponent, ev.ReportingInstance)
			}
			first, last := ev.GetFirstTimestamp().AsTime(), ev.GetLastTimestamp().AsTime()
			if !first.Equal(last) || first.Before(before) || first.After(time.Now()) {
				t.Errorf("timestamps first %v last %v", first, last)
			}
			if ev.GetMetadata().GetNamespace() != tc.eventNS || ev.GetMetadata().GetName() == "" {
				t.Errorf("event metadata %v", ev.GetMetadata())
			}
		})
	}
}

func TestRepeatedEventsAreFolded(t *testing.T) {
	t.Parallel()
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)
	obj, err := a.Client.ConfigMaps().Create(ctx, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "flappy"}})
	if err != nil {
		t.Fatal(err)
	}
	b := NewBroadcaster(a.Client, "test-controller", "host-1", testutil.Logger())
	runBroadcaster(t, b)

	b.Eventf(obj, Warning, "Failed", "it failed: %v", "boom")
	first := waitEvents(t, a.Client, "default", "flappy", func(e []*corev1.Event) bool { return len(e) == 1 })[0]
	prev := first
	for n := int32(2); n <= 4; n++ {
		time.Sleep(20 * time.Millisecond) // lastTimestamp must move
		b.Eventf(obj, Warning, "Failed", "it failed: %v", "boom")
		evs := waitEvents(t, a.Client, "default", "flappy", func(e []*corev1.Event) bool { return len(e) != 1 || e[0].Count >= n })
		if len(evs) != 1 {
			t.Fatalf("repeat %d created another Event: %v", n, evs)
		}
		ev := evs[0]
		if ev.Count != n || ev.Metadata.Name != first.Metadata.Name || ev.Metadata.Uid != first.Metadata.Uid {
			t.Fatalf("repeat %d: count %d on %s (%s), want %d on %s (%s)", n, ev.Count, ev.Metadata.Name, ev.Metadata.Uid, n, first.Metadata.Name, first.Metadata.Uid)
		}
		if !ev.LastTimestamp.AsTime().After(prev.LastTimestamp.AsTime()) || !ev.FirstTimestamp.AsTime().Equal(first.FirstTimestamp.AsTime()) {
			t.Fatalf("repeat %d: first %v last %v; before: first %v last %v", n, ev.FirstTimestamp.AsTime(), ev.LastTimestamp.AsTime(),
				first.FirstTimestamp.AsTime(), prev.LastTimestamp.AsTime())
		}
		prev = ev
	}

	// A different message, type or reason is a different Event.
	b.Eventf(obj, Warning, "Failed", "it failed: %v", "differently")
	b.Eventf(obj, Normal, "Failed", "it failed: %v", "boom")
	b.Eventf(obj, Warning, "Recovered", "it failed: %v", "boom")
	evs := waitEvents(t, a.Client, "default", "flappy", func(e []*corev1.Event) bool { return len(e) >= 4 })
	var got []string
	for _, ev := range evs {
		got = append(got, ev.Type+" "+ev.Reason+" "+ev.Message+" x"+string(rune('0'+ev.Count)))
	}
	slices.Sort(got)
	want := []string{"Normal Failed it failed: boom x1", "Warning Failed it failed: boom x4", "Warning Failed it failed: differently x1", "Warning Recovered it failed: boom x1"}
	if !slices.Equal(got, want) {
		t.Fatalf("events\n  got  %q\n  want %q", got, want)
	}
}

// fill calls Eventf n times without anything draining the queue; it fails if a call blocks.
func fill(t *testing.T, b *Broadcaster, obj api.Object, n int) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n {
			b.Eventf(obj, Normal, "Spam", "same thing again")
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Eventf blocked on a full queue")
	}
}

func TestFullQueueDropsWithoutBlocking(t *testing.T) {
	t.Parallel()
	a := testutil.StartAPIServer(t)
	ctx := testutil.Context(t)
	obj, err := a.Client.ConfigMaps().Create(ctx, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "noisy"}})
	if err != nil {
		t.Fatal(err)
	}
	// The real queue: nothing drains it, the calls past its capacity return at once.
	var logged bytes.Buffer
	b := NewBroadcaster(a.Client, "test-controller", "host-1", slog.New(slog.NewTextHandler(&logged, nil)))
	fill(t, b, obj, cap(b.ch)+500)
	if len(b.ch) != cap(b.ch) {
		t.Fatalf("queue holds %d events, want its capacity %d", len(b.ch), cap(b.ch))
	}
	// The first drop is logged at once; the next 499, within the same 10 s, are only counted.
	if lines := strings.Count(logged.String(), "events dropped"); lines != 1 || !strings.Contains(logged.String(), "dropped=1 ") {
		t.Errorf("drop log lines = %d, want one (dropped=1):\n%s", lines, logged.String())
	}
	if n := b.dropped.Load(); n != 499 {
		t.Errorf("drops counted since the log line = %d, want 499", n)
	}

	// A small queue, so that writing what it holds is quick: the queued events are written (folded
	// into one Event), the dropped ones never are.
	small := NewBroadcaster(a.Client, "test-controller", "host-1", testutil.Logger())
	const capacity = 20
	small.ch = make(chan pending, capacity)
	fill(t, small, obj, capacity+30)
	runBroadcaster(t, small)
	waitEvents(t, a.Client, "default", "noisy", func(e []*corev1.Event) bool { return len(e) == 1 && e[0].Count >= capacity })
	time.Sleep(200 * time.Millisecond)
	evs := eventsAbout(t, a.Client, "default", "noisy")
	if len(evs) != 1 || evs[0].Count != capacity {
		t.Fatalf("events %v; want one with count %d", evs, capacity)
	}
	// Once drained, the queue takes events again.
	small.Eventf(obj, Normal, "Spam", "same thing again")
	waitEvents(t, a.Client, "default", "noisy", func(e []*corev1.Event) bool { return len(e) == 1 && e[0].Count == capacity+1 })
}

func TestFakeRecorder(t *testing.T) {
	var f FakeRecorder
	var r Recorder = &f
	pod := &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "web"}}
	r.Eventf(pod, Warning, "FailedScheduling", "0/%d nodes are available", 3)
	r.Eventf(pod, Normal, "Scheduled", "Successfully assigned %s to %s", "default/web", "node-1")
	got := f.Recorded()
	want := []string{"Warning FailedScheduling 0/3 nodes are available", "Normal Scheduled Successfully assigned default/web to node-1"}
	if !slices.Equal(got, want) {
		t.Fatalf("recorded %q, want %q", got, want)
	}
	got[0] = "mutated"
	if f.Recorded()[0] == "mutated" {
		t.Fatal("Recorded returned the internal slice")
	}
}
