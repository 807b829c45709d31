package dns

import (
	"fmt"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coxswain_dns_requests_total",
			Help: "DNS requests answered, by query type and response code.",
		}, []string{"type", "rcode"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "coxswain_dns_request_duration_seconds",
			Help:    "Time to answer a DNS request, by source of the answer (cluster, upstream, none).",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 18),
		}, []string{"source"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("dns: register metrics: %w", err)
		}
	}
	return m, nil
}

// knownTypes bound the cardinality of the type label.
var knownTypes = map[uint16]bool{
	mdns.TypeA: true, mdns.TypeAAAA: true, mdns.TypeSRV: true, mdns.TypeCNAME: true, mdns.TypePTR: true,
	mdns.TypeMX: true, mdns.TypeTXT: true, mdns.TypeNS: true, mdns.TypeSOA: true, mdns.TypeANY: true,
}

func typeLabel(t uint16) string {
	if knownTypes[t] {
		return mdns.TypeToString[t]
	}
	return "other"
}

func rcodeLabel(rc int) string {
	if s, ok := mdns.RcodeToString[rc]; ok {
		return s
	}
	return "other"
}
