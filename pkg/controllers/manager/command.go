package manager

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/coxswain/coxswain/pkg/cli"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/controllers/nodeipam"
	"github.com/coxswain/coxswain/pkg/controllers/nodelifecycle"
)

// NewCommand is the controller-manager's command line.
func NewCommand() *cobra.Command {
	var cfg Config
	var apiserver string
	var notReadySecs, unreachableSecs int64
	var logs cli.LogOptions
	cmd := &cobra.Command{
		Use:   "controller-manager",
		Short: "coxswain's controller-manager: the endpoints, node lifecycle, node IPAM, garbage collection, namespace, load-balancer, ReplicaSet and Deployment controllers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logs.Logger(Component)
			if err != nil {
				return err
			}
			if cfg.NodeMonitorGracePeriod <= 0 || cfg.NodeMonitorPeriod <= 0 {
				return fmt.Errorf("--node-monitor-grace-period and --node-monitor-period must be positive")
			}
			if notReadySecs < 0 || unreachableSecs < 0 {
				return fmt.Errorf("--default-not-ready-toleration-seconds and --default-unreachable-toleration-seconds must not be negative")
			}
			c, err := client.New(client.Config{Server: apiserver, UserAgent: Component})
			if err != nil {
				return err
			}
			defer c.Close()
			cfg.Client, cfg.Logger = c, log
			cfg.DefaultNotReadyTolerationSeconds, cfg.DefaultUnreachableTolerationSeconds = &notReadySecs, &unreachableSecs
			cfg.Registry = prometheus.NewRegistry()
			cfg.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			m, err := New(cfg)
			if err != nil {
				return err
			}
			return m.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&apiserver, "apiserver", "127.0.0.1:6443", "gRPC address of the apiserver")
	f.StringVar(&cfg.HTTPAddr, "http-listen", "127.0.0.1:10257", "HTTP listen address for /metrics, /healthz and /debug/pprof (empty disables)")
	f.StringSliceVar(&cfg.Controllers, "controllers", []string{"*"}, fmt.Sprintf("controllers to run: * for all, name to enable, -name to disable; known: %v", Controllers()))
	f.IntVar(&cfg.Workers, "concurrent-syncs", 0, "parallel syncs of every controller (0: each controller's default)")
	f.DurationVar(&cfg.ResyncPeriod, "resync-period", 0, "period of the informers' full re-delivery to the controllers (0: never)")
	f.DurationVar(&cfg.NodeMonitorGracePeriod, "node-monitor-grace-period", nodelifecycle.DefaultGracePeriod, "how long a node may stop posting status before it is marked Unknown")
	f.DurationVar(&cfg.NodeMonitorPeriod, "node-monitor-period", nodelifecycle.DefaultMonitorPeriod, "how often node health is checked")
	f.Int64Var(&notReadySecs, "default-not-ready-toleration-seconds", nodelifecycle.DefaultTolerationSeconds, "toleration of the not-ready:NoExecute taint for pods without one")
	f.Int64Var(&unreachableSecs, "default-unreachable-toleration-seconds", nodelifecycle.DefaultTolerationSeconds, "toleration of the unreachable:NoExecute taint for pods without one")
	f.StringVar(&cfg.ClusterCIDR, "cluster-cidr", nodeipam.DefaultClusterCIDR, "CIDR the nodes' pod CIDRs are carved from")
	f.IntVar(&cfg.NodeCIDRMaskSize, "node-cidr-mask-size", 0, "prefix length of each node's pod CIDR (0: 24 for IPv4, 64 for IPv6)")
	f.StringVar(&cfg.LoadBalancerPool, "lb-pool", "", "load-balancer address pool: comma-separated ranges (a-b) and CIDRs; empty leaves LoadBalancer services pending")
	f.BoolVar(&cfg.LeaderElect, "leader-elect", true, "elect a leader among replicas before running the controllers")
	f.DurationVar(&cfg.LeaseDuration, "leader-elect-lease-duration", 15*time.Second, "how long a standby waits before taking over a lease that is not renewed")
	f.DurationVar(&cfg.RenewDeadline, "leader-elect-renew-deadline", 10*time.Second, "how long the leader tries to renew before it gives up leading")
	f.DurationVar(&cfg.RetryPeriod, "leader-elect-retry-period", 2*time.Second, "interval between attempts to acquire or renew the lease")
	f.StringVar(&cfg.Identity, "leader-elect-identity", "", "identity in the leader election (default hostname_random)")
	logs.AddFlags(cmd)
	return cmd
}
