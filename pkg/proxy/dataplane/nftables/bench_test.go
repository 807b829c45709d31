package nftables

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/coxswain/coxswain/pkg/proxy/dataplane"
	"github.com/coxswain/coxswain/pkg/proxy/netnstest"
)

// benchState builds nsvc TCP services with neps ready endpoints each. Every
// tenth service also has a NodePort.
func benchState(nsvc, neps int) dataplane.State {
	s := make(dataplane.State, nsvc)
	for i := 0; i < nsvc; i++ {
		sp := &dataplane.ServicePort{
			Namespace: fmt.Sprintf("ns%d", i%50), Name: fmt.Sprintf("svc%d", i), PortName: "http",
			Protocol: dataplane.ProtocolTCP, Port: 80,
			ClusterIP: fmt.Sprintf("10.96.%d.%d", (i+1)/256, (i+1)%256),
		}
		if i%10 == 0 {
			sp.NodePort = int32(30000 + i/10)
		}
		for e := 0; e < neps; e++ {
			idx := i*neps + e + 1
			sp.Endpoints = append(sp.Endpoints, dataplane.Endpoint{
				IP: fmt.Sprintf("10.%d.%d.%d", 128+idx/65536, (idx/256)%256, idx%256), Port: 8080, Ready: true,
			})
		}
		s[dataplane.Key(sp)] = sp
	}
	return s
}

func benchProxier(b *testing.B) *Proxier {
	return benchProxierOn(b, "")
}

func benchProxierOn(b *testing.B, nodeName string) *Proxier {
	b.Helper()
	netnstest.Require(b)
	node := netnstest.New(b, "bench")
	p, err := New(Config{NetNSPath: node.Path, ClusterCIDR: "10.128.0.0/9", NodeName: nodeName})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Cleanup(context.Background()); p.Close() })
	return p
}

// BenchmarkSyncFull10kServices programs 10,000 services x 10 endpoints into
// an empty network namespace in one transaction. The endpoints' node is
// unknown, so all 100,000 go into the hairpin set (the worst case).
func BenchmarkSyncFull10kServices(b *testing.B) {
	benchFull(b, benchProxier(b), benchState(10000, 10))
}

// BenchmarkSyncFull10kServicesOn100Nodes is the same state seen by the
// proxy of one node of 100: only the endpoints on that node go into the
// hairpin set.
func BenchmarkSyncFull10kServicesOn100Nodes(b *testing.B) {
	s := benchState(10000, 10)
	i := 0
	for _, sp := range s {
		for e := range sp.Endpoints {
			sp.Endpoints[e].NodeName = fmt.Sprintf("node%d", i%100)
			i++
		}
	}
	benchFull(b, benchProxierOn(b, "node0"), s)
}

func benchFull(b *testing.B, p *Proxier, s dataplane.State) {
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := p.Cleanup(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := p.Sync(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(p.lastBatch), "msgs/op")
	b.ReportMetric(float64(p.lastPrepare.Milliseconds()), "prepare-ms")
	b.ReportMetric(float64(p.lastSend.Milliseconds()), "commit-ms")
	b.ReportMetric(float64(p.lastSendCPU.Milliseconds()), "commit-cpu-ms")
}

// BenchmarkSyncOneEndpointChange changes one endpoint of one service of the
// 10,000-service state per Sync.
func BenchmarkSyncOneEndpointChange(b *testing.B) {
	p := benchProxier(b)
	s := benchState(10000, 10)
	ctx := context.Background()
	if err := p.Sync(ctx, s); err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	var prepare, commit, commitCPU time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := keys[i%len(keys)]
		sp := s[k].Clone()
		sp.Endpoints[0].IP = fmt.Sprintf("10.127.%d.%d", (i/256)%256, i%256)
		s[k] = sp
		if err := p.Sync(ctx, s); err != nil {
			b.Fatal(err)
		}
		if p.lastBatch == 0 {
			b.Fatal("endpoint change sent nothing")
		}
		prepare += p.lastPrepare
		commit += p.lastSend
		commitCPU += p.lastSendCPU
	}
	b.ReportMetric(float64(p.lastBatch), "msgs/op")
	b.ReportMetric(float64(prepare.Microseconds())/float64(b.N)/1000, "prepare-ms")
	b.ReportMetric(float64(commit.Microseconds())/float64(b.N)/1000, "commit-ms")
	b.ReportMetric(float64(commitCPU.Microseconds())/float64(b.N)/1000, "commit-cpu-ms")
}

// BenchmarkSyncEndpointCountChange adds or removes one endpoint of one
// service of the 10,000-service state per Sync: the service chain's rule is
// rewritten (the endpoint count is its numgen modulus), so the kernel
// re-validates the table.
func BenchmarkSyncEndpointCountChange(b *testing.B) {
	p := benchProxier(b)
	s := benchState(10000, 10)
	ctx := context.Background()
	if err := p.Sync(ctx, s); err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	var prepare, commit, commitCPU time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := keys[(i/2)%len(keys)]
		sp := s[k].Clone()
		if i%2 == 0 {
			sp.Endpoints = append(sp.Endpoints, dataplane.Endpoint{IP: fmt.Sprintf("10.127.%d.%d", (i/256)%256, i%256), Port: 8080, Ready: true})
		} else {
			sp.Endpoints = sp.Endpoints[:len(sp.Endpoints)-1]
		}
		s[k] = sp
		if err := p.Sync(ctx, s); err != nil {
			b.Fatal(err)
		}
		prepare += p.lastPrepare
		commit += p.lastSend
		commitCPU += p.lastSendCPU
	}
	b.ReportMetric(float64(p.lastBatch), "msgs/op")
	b.ReportMetric(float64(prepare.Microseconds())/float64(b.N)/1000, "prepare-ms")
	b.ReportMetric(float64(commit.Microseconds())/float64(b.N)/1000, "commit-ms")
	b.ReportMetric(float64(commitCPU.Microseconds())/float64(b.N)/1000, "commit-cpu-ms")
}
