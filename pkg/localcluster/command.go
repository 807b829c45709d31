package localcluster

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/coxswain/coxswain/pkg/cli"
)

// NewCommand is `cluster up`.
func NewCommand() *cobra.Command {
	root := &cobra.Command{Use: "cluster", Short: "run a local coxswain cluster as separate processes"}
	var cfg Config
	var images string
	var logs cli.LogOptions
	up := &cobra.Command{
		Use:   "up",
		Short: "start the apiserver (embedded etcd), scheduler, controller-manager, DNS, and per node a kubelet and a proxy",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logs.Logger("cluster")
			if err != nil {
				return err
			}
			cfg.Logger = log
			cfg.Out = cmd.OutOrStdout()
			if images != "" {
				cfg.Images = strings.Split(images, ",")
			}
			c, err := New(cfg)
			if err != nil {
				return err
			}
			return c.Run(cmd.Context())
		},
	}
	f := up.Flags()
	f.StringVar(&cfg.BinDir, "bin-dir", "bin", "directory holding the component binaries")
	f.StringVar(&cfg.DataDir, "data-dir", "_output/cluster", "state and logs, kept across restarts")
	f.IntVar(&cfg.Nodes, "nodes", 2, "number of worker nodes")
	f.StringVar(&cfg.Runtime, "runtime", "", "native or process (default: native when root on Linux)")
	f.StringVar(&images, "images", "", "comma-separated image tarballs preloaded on every node")
	f.IntVar(&cfg.APIPort, "api-port", 6443, "apiserver gRPC port; other components use the ports after it")
	f.StringVar(&cfg.ConfigPath, "kubeconfig", "", "where to write coxctl's config (default ~/.coxswain/config; - to skip)")
	logs.AddFlags(up)
	root.AddCommand(up)
	return root
}
