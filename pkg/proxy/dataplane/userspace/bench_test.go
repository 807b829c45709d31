package userspace

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/coxswain/coxswain/pkg/proxy/dataplane"
)

// BenchmarkProxyVsDirect sends, in each iteration, one HTTP request straight
// to the backend and one through the proxy, timing each, and reports both
// request rates and their ratio.
func BenchmarkProxyVsDirect(b *testing.B) {
	be := backend(b, "ok")
	port := freePort(b)
	p, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Cleanup(context.Background()) })
	mustSync(b, p, state(sp("bench", dataplane.ProtocolTCP, "127.20.3.1", port, be)))
	direct := fmt.Sprintf("http://%s:%d/", be.IP, be.Port)
	proxied := fmt.Sprintf("http://127.20.3.1:%d/", port)

	for _, mode := range []struct {
		name      string
		keepAlive bool
	}{{"new-conn", false}, {"keepalive", true}} {
		b.Run(mode.name, func(b *testing.B) {
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: !mode.keepAlive}}
			get := func(url string) {
				resp, err := c.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, resp.Body); err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
			}
			get(direct)
			get(proxied)
			var td, tp time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				get(direct)
				t1 := time.Now()
				get(proxied)
				t2 := time.Now()
				td += t1.Sub(t0)
				tp += t2.Sub(t1)
			}
			b.ReportMetric(float64(b.N)/td.Seconds(), "direct-req/s")
			b.ReportMetric(float64(b.N)/tp.Seconds(), "proxy-req/s")
			b.ReportMetric(td.Seconds()/tp.Seconds(), "proxy/direct")
		})
	}
}
