package dns

import (
	"time"

	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/coxswain/coxswain/pkg/cli"
)

// NewCommand is the cluster DNS server's command line.
func NewCommand() *cobra.Command {
	var cfg Config
	var upstream string
	var logs cli.LogOptions
	cmd := &cobra.Command{
		Use:   "clusterdns",
		Short: "coxswain's cluster DNS: answers <svc>.<ns>.svc.<domain> and friends from the API, forwards the rest",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logs.Logger("clusterdns")
			if err != nil {
				return err
			}
			cfg.Logger = log
			switch upstream {
			case "":
			case "none":
				cfg.Upstreams = []string{}
			default:
				cfg.Upstreams = strings.Split(upstream, ",")
			}
			cfg.Registry = prometheus.NewRegistry()
			cfg.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			s, err := New(cfg)
			if err != nil {
				return err
			}
			return s.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.APIServer, "apiserver", "127.0.0.1:6443", "apiserver address (host:port)")
	f.StringVar(&cfg.Listen, "listen", "0.0.0.0:53", "UDP and TCP address to answer on")
	f.StringVar(&cfg.Domain, "domain", "cluster.local", "cluster domain")
	f.StringVar(&upstream, "upstream", "", "comma-separated upstream servers (ip or ip:port) for other names; default: the nameservers of /etc/resolv.conf; none: refuse other names")
	f.StringVar(&cfg.HTTPAddr, "http-listen", "127.0.0.1:9153", "address for /metrics, /healthz and /debug/pprof (empty disables)")
	f.DurationVar(&cfg.TTL, "ttl", 5*time.Second, "TTL of cluster answers")
	logs.AddFlags(cmd)
	return cmd
}
