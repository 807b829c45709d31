package replicaset

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type podOpt func(*corev1.Pod)

func node(n string) podOpt   { return func(p *corev1.Pod) { p.Spec.NodeName = n } }
func phase(ph string) podOpt { return func(p *corev1.Pod) { p.Status.Phase = ph } }
func created(d time.Duration) podOpt {
	return func(p *corev1.Pod) { p.Metadata.CreationTimestamp = timestamppb.New(t0.Add(d)) }
}
func readySince(d time.Duration) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Conditions = []*metav1.Condition{{Type: "Ready", Status: "True", LastTransitionTime: timestamppb.New(t0.Add(d))}}
	}
}
func restarts(n int32) podOpt {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, &corev1.ContainerStatus{Name: "c", RestartCount: n})
	}
}
func cost(c string) podOpt {
	return func(p *corev1.Pod) {
		p.Metadata.Annotations = map[string]string{"controller.kubernetes.io/pod-deletion-cost": c}
	}
}

// pod builds a scheduled, Running, ready pod created at t0 unless opts say otherwise.
func pod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "ns", Uid: name, CreationTimestamp: timestamppb.New(t0)},
		Spec: &corev1.PodSpec{NodeName: "n-" + name}, Status: &corev1.PodStatus{Phase: "Running"}}
	for _, o := range append([]podOpt{readySince(0)}, opts...) {
		o(p)
	}
	return p
}

func notReady(p *corev1.Pod) *corev1.Pod {
	p.Status.Conditions = []*metav1.Condition{{Type: "Ready", Status: "False"}}
	return p
}

func TestPodsToDeleteOrder(t *testing.T) {
	tests := []struct {
		name string
		// first must be deleted before second.
		first, second *corev1.Pod
		related       []*corev1.Pod
	}{
		{"unscheduled before scheduled", notReady(pod("a", node(""), phase("Pending"))), pod("b"), nil},
		{"pending before unknown", notReady(pod("a", phase("Pending"))), notReady(pod("b", phase("Unknown"))), nil},
		{"unknown before running", notReady(pod("a", phase("Unknown"))), notReady(pod("b")), nil},
		{"pending before running even if newer running", notReady(pod("a", phase("Pending"), created(-time.Hour))), notReady(pod("b", created(time.Hour))), nil},
		{"not ready before ready", notReady(pod("a", created(-time.Hour))), pod("b", created(time.Hour)), nil},
		{"lower deletion cost first", pod("a", cost("-5")), pod("b", cost("10"), created(time.Hour)), nil},
		{"doubled up node first", pod("a", node("crowded"), created(-time.Hour)), pod("b", node("alone")),
			[]*corev1.Pod{pod("x", node("crowded")), pod("y", node("crowded")), pod("z", node("alone"))}},
		{"ready more recently first", pod("a", readySince(time.Minute), created(-time.Hour)), pod("b", readySince(0)), nil},
		{"more restarts first", pod("a", restarts(3), created(-time.Hour)), pod("b", restarts(1)), nil},
		{"newer first", pod("a", created(time.Minute)), pod("b", created(0)), nil},
		{"not ready newer with restarts before older", notReady(pod("a", created(time.Minute), restarts(1))), notReady(pod("b")), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, pods := range [][]*corev1.Pod{{tt.first, tt.second}, {tt.second, tt.first}} {
				got := podsToDelete(pods, tt.related, 1)
				if len(got) != 1 || got[0] != tt.first {
					t.Fatalf("podsToDelete picked %s, want %s", got[0].Metadata.Name, tt.first.Metadata.Name)
				}
			}
		})
	}
}

func TestPodsToDeleteFullOrder(t *testing.T) {
	want := []*corev1.Pod{
		notReady(pod("unscheduled", node(""), phase("Pending"))),
		notReady(pod("pending", phase("Pending"))),
		notReady(pod("unknown", phase("Unknown"))),
		notReady(pod("running-not-ready")),
		pod("ready-recently", readySince(time.Hour)),
		pod("restarted", restarts(5)),
		pod("newest", created(time.Hour)),
		pod("oldest", created(-time.Hour)),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		in := append([]*corev1.Pod(nil), want...)
		rng.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
		got := podsToDelete(in, nil, len(in)-1)
		if err := sameOrder(got, want[:len(want)-1]); err != nil {
			t.Fatal(err)
		}
	}
	// Asking for more pods than exist returns them all, unsorted work skipped.
	if got := podsToDelete(want[:3], nil, 10); len(got) != 3 {
		t.Fatalf("got %d pods, want 3", len(got))
	}
}

func sameOrder(got, want []*corev1.Pod) error {
	if len(got) != len(want) {
		return fmt.Errorf("got %d pods, want %d", len(got), len(want))
	}
	var errs []error
	for i := range want {
		if got[i] != want[i] {
			errs = append(errs, fmt.Errorf("position %d: got %s, want %s", i, got[i].Metadata.Name, want[i].Metadata.Name))
		}
	}
	return errors.Join(errs...)
}

func TestSlowStartBatch(t *testing.T) {
	tests := []struct {
		name          string
		count         int
		failFrom      int // calls are numbered from 1; calls from this one on fail (0: none fails)
		wantSuccesses int
		wantCalls     int
	}{
		{"all succeed", 10, 0, 10, 10},
		{"zero", 0, 0, 0, 0},
		{"first fails", 10, 1, 0, 1},
		// Batches of 1, 2, 4, 3: calls 4-7 form the third batch, which fails and ends the run.
		{"third batch fails", 10, 4, 3, 7},
		{"last batch fails", 10, 8, 7, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			calls := 0
			got, err := slowStartBatch(tt.count, 1, func() error {
				mu.Lock()
				calls++
				n := calls
				mu.Unlock()
				if tt.failFrom > 0 && n >= tt.failFrom {
					return errors.New("boom")
				}
				return nil
			})
			if got != tt.wantSuccesses || calls != tt.wantCalls {
				t.Fatalf("successes = %d, calls = %d; want %d, %d", got, calls, tt.wantSuccesses, tt.wantCalls)
			}
			if wantErr := tt.failFrom > 0; (err != nil) != wantErr {
				t.Fatalf("err = %v, want error: %v", err, wantErr)
			}
		})
	}
}
