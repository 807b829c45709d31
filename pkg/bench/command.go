package bench

import (
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/coxswain/coxswain/pkg/cli"
)

// NewCommand is coxbench's command line: one subcommand per workload, sharing the cluster and
// output flags.
func NewCommand() *cobra.Command {
	var cfg Config
	var logs cli.LogOptions
	var nodes int
	var out string
	root := &cobra.Command{
		Use:   "coxbench",
		Short: "density and load benchmark of the whole coxswain control plane on hollow nodes",
		Long: `coxbench starts the real control plane as separate processes from --bin-dir (etcd, apiserver,
scheduler, controller-manager) plus hollow nodes (kubelets on the fake runtime), runs a workload,
and reports throughput, latencies, API call latencies from the apiserver's histograms, scheduler
attempts, each component's peak RSS and CPU, and a raw etcd put reference measured in the same run.`,
		SilenceUsage: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&cfg.BinDir, "bin-dir", "bin", "directory of the component binaries (make build)")
	pf.StringVar(&out, "out", "_output/bench", "output directory for result.json, pods.png and logs/ (a path ending in .json names the result file)")
	pf.IntVar(&nodes, "nodes", 0, "hollow nodes (0: the workload's default: density and startup 100, churn 50, watch 10)")
	pf.IntVar(&cfg.Runs, "runs", 1, "repeat on a fresh cluster this many times and report medians")
	pf.BoolVar(&cfg.ExternalEtcd, "etcd", true, "run bin/etcd as its own process (false: the apiserver's embedded etcd)")
	pf.StringVar(&cfg.KubeletMode, "kubelet-mode", KubeletAuto, "auto, hollow (--hollow-nodes) or plain (one fake-runtime kubelet process per node)")
	pf.IntVar(&cfg.NodesPerKubelet, "nodes-per-kubelet", 1000, "hollow nodes per kubelet process")
	pf.StringVar(&cfg.NodeCPU, "node-cpu", "4", "CPU capacity of each node")
	pf.StringVar(&cfg.NodeMemory, "node-memory", "16Gi", "memory capacity of each node")
	pf.IntVar(&cfg.MaxPods, "max-pods", 110, "pods capacity of each node")
	pf.StringVar(&cfg.ComponentLogLevel, "component-log-level", "warn", "--log-level of the components (their logs go to <out>/logs/run-N/)")
	pf.StringVar(&cfg.DataDir, "data-dir", "", "directory for etcd data and kubelet state (default: a temporary directory)")
	pf.BoolVar(&cfg.KeepData, "keep-data", false, "keep the data directory after the run")
	pf.DurationVar(&cfg.IdleSettle, "idle-settle", 5*time.Second, "how long the started cluster idles before the workload (idle RSS window)")
	pf.DurationVar(&cfg.SampleInterval, "sample-interval", 200*time.Millisecond, "/proc sampling period of RSS and CPU")
	pf.DurationVar(&cfg.EtcdRefDuration, "etcd-ref-duration", 5*time.Second, "length of the raw etcd put reference")
	pf.BoolVar(&cfg.HeapProfile, "heap-profile", false, "collect every component's heap profile when the workload ends, into <out>/profiles/run-<n>/")
	pf.DurationVar(&cfg.CPUProfile, "cpu-profile", 0, "collect a CPU profile of this length from every component from the workload's start, into <out>/profiles/run-<n>/ (0 = off)")
	pf.IntVar(&cfg.EtcdRefConcurrency, "etcd-ref-concurrency", 0, "writers of the etcd reference (0: the workload's measured mean in-flight mutating requests)")
	pf.DurationVar(&cfg.RunTimeout, "run-timeout", time.Hour, "bound of each run: start, workload, reference and stop")
	pf.StringVar(&logs.Level, "log-level", "info", "coxbench's log level: debug, info, warn, error")
	pf.StringVar(&logs.Format, "log-format", "text", "coxbench's log format: text or json")

	run := func(cmd *cobra.Command, w Workload) error {
		log, err := logs.Logger("coxbench")
		if err != nil {
			return err
		}
		c := cfg
		c.Workload, c.Logger, c.Out = w, log, cmd.OutOrStdout()
		if strings.HasSuffix(out, ".json") {
			c.OutDir, c.ResultPath = filepath.Dir(out), out
		} else {
			c.OutDir = out
		}
		c.Params = map[string]string{}
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			switch f.Name {
			case "help", "log-level", "log-format":
				return
			}
			c.Params[f.Name] = f.Value.String()
		})
		c.Params["nodes"] = idx(w.Nodes())
		r, err := New(c)
		if err != nil {
			return err
		}
		_, err = r.Run(cmd.Context())
		return err
	}
	nodesOr := func(def int) int {
		if nodes > 0 {
			return nodes
		}
		return def
	}

	d := &Density{}
	density := &cobra.Command{
		Use:   "density",
		Short: "create --pods pods as Deployments of --deployment-size and measure end-to-end pods/s to all Running",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d.NodeCount = nodesOr(100)
			return run(cmd, d)
		},
	}
	f := density.Flags()
	f.IntVar(&d.Pods, "pods", 3000, "pods in total")
	f.IntVar(&d.DeploymentSize, "deployment-size", 30, "replicas of each Deployment")
	f.Float64Var(&d.QPS, "qps", 50, "Deployment creations per second (0: unlimited)")
	f.IntVar(&d.Workers, "workers", 10, "Deployment creations in flight")
	f.IntVar(&d.Namespaces, "namespaces", 0, "namespaces the Deployments are spread over (0: one per 100 nodes, like ClusterLoader2)")
	f.DurationVar(&d.Timeout, "timeout", 10*time.Minute, "bound of the wait for all pods Running")

	s := &Startup{}
	startup := &cobra.Command{
		Use:   "startup",
		Short: "create pods at a fixed --rate and measure pod startup latency (create -> observed Running)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s.NodeCount = nodesOr(100)
			return run(cmd, s)
		},
	}
	f = startup.Flags()
	f.IntVar(&s.Pods, "pods", 1000, "pods in total")
	f.Float64Var(&s.Rate, "rate", 100, "pod creations per second")
	f.IntVar(&s.Workers, "workers", 20, "creations in flight")
	f.BoolVar(&s.Deployments, "deployments", false, "create Deployments of 1 instead of bare Pods")
	f.DurationVar(&s.Timeout, "timeout", 10*time.Minute, "bound of the wait for all pods Running")

	ch := &Churn{}
	churn := &cobra.Command{
		Use:   "churn",
		Short: "create, scale, roll out and delete Deployments at --rate for --duration, then measure convergence",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ch.NodeCount = nodesOr(50)
			return run(cmd, ch)
		},
	}
	f = churn.Flags()
	f.DurationVar(&ch.Duration, "duration", time.Minute, "how long operations are issued")
	f.Float64Var(&ch.Rate, "rate", 10, "operations per second")
	f.IntVar(&ch.Deployments, "deployments", 20, "Deployment population the operations hover around")
	f.IntVar(&ch.MaxReplicas, "max-replicas", 10, "largest Deployment size")
	f.IntVar(&ch.Workers, "workers", 4, "operations in flight")
	f.DurationVar(&ch.ConvergeTimeout, "converge-timeout", 5*time.Minute, "bound of the wait for convergence")
	f.Uint64Var(&ch.Seed, "seed", 1, "seed of the operation mix")

	wt := &Watch{}
	watch := &cobra.Command{
		Use:   "watch",
		Short: "--watchers watches on pods while --rate writes/s happen: delivery latency and events/s",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			wt.NodeCount = nodesOr(10)
			return run(cmd, wt)
		},
	}
	f = watch.Flags()
	f.IntVar(&wt.Watchers, "watchers", 10, "concurrent watches")
	f.Float64Var(&wt.Rate, "rate", 100, "writes per second")
	f.DurationVar(&wt.Duration, "duration", 30*time.Second, "how long writes are issued")
	f.IntVar(&wt.Workers, "workers", 8, "writes in flight")
	f.IntVar(&wt.Pool, "pool", 0, "pods the writes cycle through (0: max(100, rate))")
	f.IntVar(&wt.Connections, "connections", 0, "gRPC connections the watchers share (0: one per 10 watchers, at most 16)")

	root.AddCommand(density, startup, churn, watch)
	return root
}
