package proxy

import (
	"time"

	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/coxswain/coxswain/pkg/cli"
)

// NewCommand is the proxy's command line.
func NewCommand() *cobra.Command {
	var cfg Config
	var mode, nodeIPs string
	var cleanup bool
	var logs cli.LogOptions
	hostname, _ := os.Hostname()
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "coxswain's service proxy: programs this node's data plane (nftables or userspace) from Services and Endpoints",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logs.Logger("proxy")
			if err != nil {
				return err
			}
			cfg.Logger = log
			cfg.Mode = Mode(mode)
			if nodeIPs != "" {
				cfg.NodeIPs = strings.Split(nodeIPs, ",")
			}
			cfg.Registry = prometheus.NewRegistry()
			cfg.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			if cleanup {
				cfg.HTTPAddr = ""
			}
			p, err := New(cfg)
			if err != nil {
				return err
			}
			if cleanup {
				return p.Cleanup(cmd.Context())
			}
			return p.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.APIServer, "apiserver", "127.0.0.1:6443", "apiserver address (host:port)")
	f.StringVar(&cfg.NodeName, "node-name", hostname, "this node's name")
	f.StringVar(&mode, "mode", string(DefaultMode()), "data plane: nftables (needs root) or userspace")
	f.StringVar(&nodeIPs, "node-ips", "", "comma-separated local IPv4 addresses accepting NodePorts (nftables; default: every local address)")
	f.StringVar(&cfg.Table, "table", "coxswain", "nftables table name (two proxies sharing a host need different tables)")
	f.StringVar(&cfg.NodePortAddress, "nodeport-address", "0.0.0.0", "address NodePorts listen on (userspace)")
	f.StringVar(&cfg.ClusterCIDR, "cluster-cidr", "", "pod network CIDR: ClusterIP traffic from outside it is masqueraded (nftables)")
	f.BoolVar(&cfg.MasqueradeAll, "masquerade-all", false, "masquerade all ClusterIP traffic (nftables)")
	f.BoolVar(&cfg.LocalhostNodePorts, "localhost-nodeports", false, "also accept NodePorts on 127.0.0.0/8 from the node (nftables; sets route_localnet)")
	f.StringVar(&cfg.NetNSPath, "netns", "", "program the nftables data plane in the network namespace bound at this path")
	f.DurationVar(&cfg.MinSyncPeriod, "min-sync-period", 50*time.Millisecond, "least time between two syncs; changes meanwhile are batched into one")
	f.StringVar(&cfg.HTTPAddr, "http-listen", "127.0.0.1:10256", "address for /metrics, /healthz and /debug/pprof (empty disables)")
	f.BoolVar(&cfg.CleanupOnExit, "cleanup-on-exit", false, "remove the nftables table when the proxy stops")
	f.BoolVar(&cleanup, "cleanup", false, "remove the nftables table and exit")
	logs.AddFlags(cmd)
	return cmd
}
