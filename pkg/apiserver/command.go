package apiserver

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/coxswain/coxswain/pkg/cli"
)

// NewCommand is the apiserver's command line.
func NewCommand() *cobra.Command {
	var cfg Config
	var etcd string
	var logs cli.LogOptions
	cmd := &cobra.Command{
		Use:   "apiserver",
		Short: "coxswain's API server: the only etcd client, serving the typed gRPC API with watches",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logs.Logger("apiserver")
			if err != nil {
				return err
			}
			if etcd != "" {
				cfg.EtcdServers = strings.Split(etcd, ",")
			}
			cfg.Logger = log
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
	f.StringVar(&cfg.GRPCAddr, "listen", "127.0.0.1:6443", "gRPC API listen address")
	f.StringVar(&cfg.HTTPAddr, "http-listen", "127.0.0.1:8080", "HTTP listen address for /metrics, /healthz, /readyz, /debug/pprof (empty disables)")
	f.StringVar(&etcd, "etcd-servers", "", "comma-separated etcd endpoints; empty starts an embedded etcd in --data-dir")
	f.StringVar(&cfg.DataDir, "data-dir", "", "data directory of the embedded etcd")
	f.StringVar(&cfg.ServiceClusterIPRange, "service-cluster-ip-range", "10.96.0.0/16", "CIDR ClusterIPs are allocated from")
	f.StringVar(&cfg.ServiceNodePortRange, "service-node-port-range", "30000-32767", "range NodePorts are allocated from")
	f.IntVar(&cfg.WatchCacheWindow, "watch-cache-window", 10000, "recent events kept per resource for resuming watches")
	f.DurationVar(&cfg.BookmarkInterval, "bookmark-interval", 0, "interval of watch BOOKMARK events (default 5s)")
	f.StringVar(&cfg.KubeletToken, "kubelet-token", "", "token presented to kubelets when proxying logs, exec and port-forward")
	logs.AddFlags(cmd)
	return cmd
}
