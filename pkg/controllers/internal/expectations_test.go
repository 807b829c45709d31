package internal

import (
	"testing"
	"time"
)

func TestExpectations(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	tests := []struct {
		name string
		run  func(e *Expectations)
		want bool
	}{
		{"no record", func(e *Expectations) {}, true},
		{"creations pending", func(e *Expectations) { e.ExpectCreations("ns/rs", 2); e.CreationObserved("ns/rs") }, false},
		{"creations observed", func(e *Expectations) {
			e.ExpectCreations("ns/rs", 2)
			e.CreationObserved("ns/rs")
			e.CreationObserved("ns/rs")
		}, true},
		{"deletion observed twice counts once", func(e *Expectations) {
			e.ExpectDeletions("ns/rs", []string{"ns/a", "ns/b"})
			e.DeletionObserved("ns/rs", "ns/a")
			e.DeletionObserved("ns/rs", "ns/a")
		}, false},
		{"unexpected deletion ignored", func(e *Expectations) {
			e.ExpectDeletions("ns/rs", []string{"ns/a"})
			e.DeletionObserved("ns/rs", "ns/zzz")
		}, false},
		{"deletions observed", func(e *Expectations) {
			e.ExpectDeletions("ns/rs", []string{"ns/a", "ns/b"})
			e.DeletionObserved("ns/rs", "ns/b")
			e.DeletionObserved("ns/rs", "ns/a")
		}, true},
		{"expired", func(e *Expectations) {
			e.ExpectCreations("ns/rs", 5)
			now = now.Add(ExpectationsTimeout + time.Second)
		}, true},
		{"other key", func(e *Expectations) { e.ExpectCreations("ns/other", 5) }, true},
		{"deleted", func(e *Expectations) { e.ExpectCreations("ns/rs", 5); e.Delete("ns/rs") }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now = time.Unix(1000, 0)
			e := NewExpectationsWithClock(ExpectationsTimeout, clock)
			tt.run(e)
			if got := e.Satisfied("ns/rs"); got != tt.want {
				a, d := e.Pending("ns/rs")
				t.Fatalf("Satisfied = %v, want %v (pending adds %d dels %d)", got, tt.want, a, d)
			}
		})
	}
}
