package scheduler

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/coxswain/coxswain/pkg/cli"
	"github.com/coxswain/coxswain/pkg/client"
)

// NewCommand is the scheduler's command line.
func NewCommand() *cobra.Command {
	var cfg Config
	var apiserver string
	var logs cli.LogOptions
	cmd := &cobra.Command{
		Use:   "scheduler",
		Short: "coxswain's scheduler: assigns pending pods to nodes (filters, then scores), with leader election",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logs.Logger("scheduler")
			if err != nil {
				return err
			}
			c, err := client.New(client.Config{Server: apiserver, UserAgent: "coxswain-scheduler"})
			if err != nil {
				return err
			}
			defer c.Close()
			cfg.Client, cfg.Logger = c, log
			cfg.Registry = prometheus.NewRegistry()
			cfg.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			s, err := New(cfg)
			if err != nil {
				return err
			}
			err = s.Run(cmd.Context())
			if err != nil {
				log.Error("scheduler stopped", "err", err)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&apiserver, "apiserver", "127.0.0.1:6443", "apiserver gRPC address, host:port")
	f.StringVar(&cfg.HTTPAddr, "http-listen", "127.0.0.1:10251", "HTTP listen address for /metrics, /healthz, /readyz, /debug/pprof (empty disables)")
	f.StringVar(&cfg.SchedulerName, "scheduler-name", DefaultSchedulerName, "schedule the pods whose spec.schedulerName is this")
	f.BoolVar(&cfg.LeaderElect, "leader-elect", true, "run leader election: only the holder of the lease schedules")
	f.StringVar(&cfg.LeaseNamespace, "lease-namespace", DefaultLeaseNamespace, "namespace of the leader election Lease")
	f.StringVar(&cfg.LeaseName, "lease-name", DefaultLeaseName, "name of the leader election Lease")
	f.StringVar(&cfg.Identity, "identity", "", "leader election identity (default hostname_random)")
	f.DurationVar(&cfg.LeaseDuration, "leader-elect-lease-duration", DefaultLeaseDuration, "how long a standby waits after the last renewal before taking the lease over")
	f.DurationVar(&cfg.RenewDeadline, "leader-elect-renew-deadline", DefaultRenewDeadline, "how long the leader keeps trying to renew before it stops leading")
	f.DurationVar(&cfg.RetryPeriod, "leader-elect-retry-period", DefaultRetryPeriod, "interval between lease acquire/renew attempts")
	f.IntVar(&cfg.Parallelism, "parallelism", 0, "goroutines filtering and scoring nodes for one pod (default GOMAXPROCS)")
	f.IntVar(&cfg.Workers, "workers", DefaultWorkers, "concurrent API writes: bindings and pod status updates")
	f.Int32Var(&cfg.PercentageOfNodesToScore, "percentage-of-nodes-to-score", 0, "stop searching once this percentage of nodes is found feasible (0: adaptive, 100: all)")
	logs.AddFlags(cmd)
	return cmd
}
