package image

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	pulls          *prometheus.CounterVec
	pullDuration   prometheus.Histogram
	unpackDuration prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		pulls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coxswain_image_pulls_total",
			Help: "Image pulls from registries, by result (success or failure).",
		}, []string{"result"}),
		pullDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "coxswain_image_pull_duration_seconds",
			Help:    "Duration of successful image pulls.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
		}),
		unpackDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "coxswain_image_unpack_duration_seconds",
			Help:    "Duration of extracting an image into its cached root filesystem.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.pulls, m.pullDuration, m.unpackDuration} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
