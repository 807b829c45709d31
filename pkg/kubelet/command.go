package kubelet

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/coxswain/coxswain/pkg/cli"
)

// NewCommand is the kubelet's command line.
func NewCommand() *cobra.Command {
	var cfg Config
	var logs cli.LogOptions
	var labels, taints, cpu, memory string
	cmd := &cobra.Command{
		Use:   "kubelet",
		Short: "coxswain's node agent: registers the node and runs the pods bound to it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logs.Logger("kubelet")
			if err != nil {
				return err
			}
			if cfg.NodeLabels, err = ParseLabels(labels); err != nil {
				return err
			}
			if cfg.Taints, err = ParseTaints(taints); err != nil {
				return err
			}
			if cpu != "" {
				if cfg.CPUMilli, err = ParseCPU(cpu); err != nil {
					return err
				}
			}
			if memory != "" {
				if cfg.MemoryBytes, err = ParseMemory(memory); err != nil {
					return err
				}
			}
			cfg.Logger = log
			cfg.Registry = prometheus.NewRegistry()
			cfg.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			k, err := New(cfg)
			if err != nil {
				return err
			}
			return k.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.APIServer, "apiserver", "127.0.0.1:6443", "apiserver address, host:port")
	f.StringVar(&cfg.NodeName, "node-name", "", "name of the Node to register (default: the host name)")
	f.StringVar(&cfg.NodeIP, "node-ip", "", "InternalIP to report (default: the first non-loopback IPv4 address, or 127.0.0.1)")
	f.StringVar(&cfg.ListenAddr, "listen", "0.0.0.0:10250", "KubeletService (logs, exec, port-forward) gRPC listen address")
	f.StringVar(&cfg.HTTPAddr, "http-listen", "127.0.0.1:10255", "listen address of /metrics, /healthz and /debug/pprof (\"-\" disables)")
	f.StringVar(&cfg.RootDir, "root-dir", "/var/lib/coxswain/kubelet", "directory of logs, volumes, images and runtime state")
	f.StringVar(&cfg.Runtime, "runtime", "", "container runtime: native, process or fake (default: native as root on Linux, else process)")
	f.StringSliceVar(&cfg.ImageTarballs, "image-tarballs", nil, "comma-separated docker-save or OCI layout tarballs to load at start")
	f.StringSliceVar(&cfg.InsecureRegistries, "insecure-registries", nil, "comma-separated registries (host[:port]) reached over plain HTTP")
	f.StringVar(&cfg.PodCIDR, "pod-cidr", "", "pod CIDR of this node (default: Node.spec.podCIDR from the controller-manager)")
	f.StringVar(&cfg.Bridge, "bridge", "cox0", "node bridge of the native runtime")
	f.StringSliceVar(&cfg.ClusterDNS, "cluster-dns", nil, "comma-separated nameserver IPs of ClusterFirst pods")
	f.StringVar(&cfg.ClusterDomain, "cluster-domain", "cluster.local", "cluster domain for pods' DNS search path")
	f.StringVar(&labels, "node-labels", "", "labels to add to the Node, k=v,...")
	f.StringVar(&taints, "register-with-taints", "", "taints to register the Node with, key=value:Effect,...")
	f.StringVar(&cfg.KubeletToken, "kubelet-token", "", "token the apiserver must present on KubeletService calls")
	f.IntVar(&cfg.MaxPods, "max-pods", 110, "pods capacity of the node")
	f.StringVar(&cpu, "cpu", "", "CPU capacity override, e.g. 4 or 3500m (default: the machine's)")
	f.StringVar(&memory, "memory", "", "memory capacity override, e.g. 8Gi (default: the machine's)")
	f.DurationVar(&cfg.HeartbeatInterval, "heartbeat-interval", 10*time.Second, "lease renewal and node status interval")
	f.IntVar(&cfg.HollowNodes, "hollow-nodes", 0, "run this many hollow kubelets in this process (fake runtime only)")
	f.StringVar(&cfg.HollowNodePrefix, "hollow-node-prefix", "hollow-node", "name prefix of hollow nodes (<prefix>-<i>)")
	f.DurationVar(&cfg.BackoffInitial, "backoff-initial", 10*time.Second, "first crash-loop back-off delay (the first restart is immediate)")
	f.DurationVar(&cfg.BackoffMax, "backoff-max", 5*time.Minute, "longest crash-loop back-off delay")
	f.DurationVar(&cfg.BackoffReset, "backoff-reset", 10*time.Minute, "a container that ran this long restarts without back-off")
	logs.AddFlags(cmd)
	return cmd
}
