package printers

import (
	"fmt"
	"io"
	"testing"

	"github.com/coxswain/coxswain/pkg/api"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// BenchmarkPodTable renders get pods for 10,000 pods.
func BenchmarkPodTable(b *testing.B) {
	base := pods()
	objs := make([]api.Object, 0, 10000)
	for i := 0; len(objs) < 10000; i++ {
		p := api.Clone(base[i%len(base)].(*corev1.Pod))
		p.Metadata.Name = fmt.Sprintf("pod-%05d", i)
		objs = append(objs, p)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := BuildTable(api.Pods, objs, Options{Wide: true, Now: now}).Write(io.Discard, false); err != nil {
			b.Fatal(err)
		}
	}
}
