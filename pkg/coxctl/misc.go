package coxctl

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"gopkg.in/yaml.v3"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/coxctl/config"
	"github.com/coxswain/coxswain/pkg/coxctl/explain"
	"github.com/coxswain/coxswain/pkg/coxctl/printers"
)

func newExplainCommand(f *factory) *cobra.Command {
	var recursive bool
	cmd := &cobra.Command{
		Use:   "explain TYPE[.FIELD.PATH]",
		Short: "Describe the fields of a kind",
		Example: `  coxctl explain pods
  coxctl explain deploy.spec.strategy
  coxctl explain pods.spec.containers --recursive`,
		Args: cobra.ExactArgs(1),
		ValidArgsFunction: func(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return completeKinds(toComplete), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(_ *cobra.Command, args []string) error {
			return explain.Explain(f.streams.Out, args[0], explain.Options{Recursive: recursive})
		},
	}
	cmd.Flags().BoolVar(&recursive, "recursive", false, "print every nested field")
	return cmd
}

// clientVersion is coxctl's version from the build information.
func clientVersion() (version, commit string) {
	version, commit = "v0.0.0-dev", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			version = v
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				commit = s.Value
			}
		}
	}
	return version, commit
}

type versionInfo struct {
	ClientVersion struct {
		Version   string `json:"version" yaml:"version"`
		GitCommit string `json:"gitCommit" yaml:"gitCommit"`
		GoVersion string `json:"goVersion" yaml:"goVersion"`
		Platform  string `json:"platform" yaml:"platform"`
	} `json:"clientVersion" yaml:"clientVersion"`
	ServerVersion *struct {
		Address  string   `json:"address" yaml:"address"`
		Health   string   `json:"health" yaml:"health"`
		APIs     []string `json:"apiVersions" yaml:"apiVersions"`
		Services []string `json:"services,omitempty" yaml:"services,omitempty"`
	} `json:"serverVersion,omitempty" yaml:"serverVersion,omitempty"`
}

func newVersionCommand(f *factory) *cobra.Command {
	var clientOnly bool
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the client and server version information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var info versionInfo
			info.ClientVersion.Version, info.ClientVersion.GitCommit = clientVersion()
			info.ClientVersion.GoVersion = runtime.Version()
			info.ClientVersion.Platform = runtime.GOOS + "/" + runtime.GOARCH
			var serverErr error
			if !clientOnly {
				serverErr = serverVersion(cmd.Context(), f, &info)
			}
			out := f.streams.Out
			switch output {
			case "json":
				b, _ := json.MarshalIndent(info, "", "  ")
				fmt.Fprintln(out, string(b))
			case "yaml":
				b, _ := yaml.Marshal(info)
				fmt.Fprint(out, string(b))
			case "":
				fmt.Fprintf(out, "Client Version: %s (commit %s, %s, %s)\n", info.ClientVersion.Version, info.ClientVersion.GitCommit,
					info.ClientVersion.GoVersion, info.ClientVersion.Platform)
				if s := info.ServerVersion; s != nil {
					fmt.Fprintf(out, "Server Address: %s\n", s.Address)
					fmt.Fprintf(out, "Server Health: %s\n", s.Health)
					fmt.Fprintf(out, "Server API Versions: %s\n", strings.Join(s.APIs, ", "))
				}
			default:
				return fmt.Errorf("--output must be 'yaml' or 'json'")
			}
			return serverErr
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "only print the client version (no server needed)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "yaml or json")
	return cmd
}

// serverVersion asks the apiserver's health service and lists its API services by gRPC reflection.
func serverVersion(ctx context.Context, f *factory, info *versionInfo) error {
	c, err := f.Client(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	hr, err := healthpb.NewHealthClient(c.Conn()).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return fmt.Errorf("the apiserver at %s did not answer its health check: %w", c.Server(), err)
	}
	info.ServerVersion = &struct {
		Address  string   `json:"address" yaml:"address"`
		Health   string   `json:"health" yaml:"health"`
		APIs     []string `json:"apiVersions" yaml:"apiVersions"`
		Services []string `json:"services,omitempty" yaml:"services,omitempty"`
	}{Address: c.Server(), Health: hr.GetStatus().String()}
	stream, err := reflectionpb.NewServerReflectionClient(c.Conn()).ServerReflectionInfo(ctx)
	if err != nil {
		return fmt.Errorf("list the apiserver's services: %w", err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		return fmt.Errorf("list the apiserver's services: %w", err)
	}
	resp, err := stream.Recv()
	if err != nil {
		return fmt.Errorf("list the apiserver's services: %w", err)
	}
	_ = stream.CloseSend()
	served := map[string]bool{}
	for _, s := range resp.GetListServicesResponse().GetService() {
		info.ServerVersion.Services = append(info.ServerVersion.Services, s.GetName())
		served[s.GetName()] = true
	}
	sort.Strings(info.ServerVersion.Services)
	apis := map[string]bool{}
	for _, r := range api.All() {
		if served[r.Service] {
			apis[r.APIVersion()] = true
		}
	}
	for v := range apis {
		info.ServerVersion.APIs = append(info.ServerVersion.APIs, v)
	}
	sort.Strings(info.ServerVersion.APIs)
	return nil
}

func newAPIResourcesCommand(f *factory) *cobra.Command {
	var output string
	var noHeaders bool
	var namespaced string
	cmd := &cobra.Command{
		Use:   "api-resources",
		Short: "Print the supported API resources",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			rs := api.All()
			sort.SliceStable(rs, func(i, j int) bool {
				if (rs[i].Group == "") != (rs[j].Group == "") {
					return rs[i].Group == ""
				}
				if rs[i].Group != rs[j].Group {
					return rs[i].Group < rs[j].Group
				}
				return rs[i].Plural < rs[j].Plural
			})
			t := &printers.Table{Header: []string{"NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"}}
			for _, r := range rs {
				if namespaced != "" && fmt.Sprint(r.Namespaced) != namespaced {
					continue
				}
				if output == "name" {
					n := r.Plural
					if r.Group != "" {
						n += "." + r.Group
					}
					fmt.Fprintln(f.streams.Out, n)
					continue
				}
				t.Rows = append(t.Rows, []string{r.Plural, strings.Join(r.ShortNames, ","), r.APIVersion(), fmt.Sprint(r.Namespaced), r.Kind})
			}
			if output == "name" {
				return nil
			}
			if output != "" && output != "wide" {
				return fmt.Errorf("--output must be 'wide' or 'name'")
			}
			return t.Write(f.streams.Out, noHeaders)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "name or wide")
	cmd.Flags().BoolVar(&noHeaders, "no-headers", false, "do not print headers")
	cmd.Flags().StringVar(&namespaced, "namespaced", "", "true or false: only namespaced or cluster-scoped resources")
	return cmd
}

func newConfigCommand(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config SUBCOMMAND",
		Short: "View and change coxctl's configuration file (~/.coxswain/config)",
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "view",
			Short: "Print the configuration",
			Args:  cobra.NoArgs,
			RunE: func(*cobra.Command, []string) error {
				file, _, err := f.config()
				if err != nil {
					return err
				}
				b, err := yaml.Marshal(file)
				if err != nil {
					return err
				}
				fmt.Fprint(f.streams.Out, string(b))
				return nil
			},
		},
		&cobra.Command{
			Use:   "current-context",
			Short: "Print the current context",
			Args:  cobra.NoArgs,
			RunE: func(*cobra.Command, []string) error {
				file, _, err := f.config()
				if err != nil {
					return err
				}
				if file.CurrentContext == "" {
					return fmt.Errorf("current-context is not set")
				}
				fmt.Fprintln(f.streams.Out, file.CurrentContext)
				return nil
			},
		},
		&cobra.Command{
			Use:   "get-contexts",
			Short: "List the contexts",
			Args:  cobra.NoArgs,
			RunE: func(*cobra.Command, []string) error {
				file, _, err := f.config()
				if err != nil {
					return err
				}
				t := &printers.Table{Header: []string{"CURRENT", "NAME", "SERVER", "NAMESPACE"}}
				for _, c := range file.Contexts {
					cur := ""
					if c.Name == file.CurrentContext {
						cur = "*"
					}
					t.Rows = append(t.Rows, []string{cur, c.Name, c.Server, c.Namespace})
				}
				return t.Write(f.streams.Out, false)
			},
		},
		&cobra.Command{
			Use:   "use-context NAME",
			Short: "Set the current context",
			Args:  cobra.ExactArgs(1),
			RunE: func(_ *cobra.Command, args []string) error {
				file, path, err := f.config()
				if err != nil {
					return err
				}
				if file.Context(args[0]) == nil {
					return fmt.Errorf("no context exists with the name: %q", args[0])
				}
				file.CurrentContext = args[0]
				if err := file.Save(path); err != nil {
					return err
				}
				fmt.Fprintf(f.streams.Out, "Switched to context %q.\n", args[0])
				return nil
			},
		},
		newSetContextCommand(f),
	)
	return cmd
}

func newSetContextCommand(f *factory) *cobra.Command {
	var current bool
	cmd := &cobra.Command{
		Use:   "set-context NAME [--server=HOST:PORT] [--namespace=NS] [--current]",
		Short: "Create or change a context",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			file, path, err := f.config()
			if err != nil {
				return err
			}
			c := file.Context(args[0])
			verb := "modified"
			if c == nil {
				file.Contexts = append(file.Contexts, config.Context{Name: args[0], Server: config.DefaultServer})
				c = &file.Contexts[len(file.Contexts)-1]
				verb = "created"
			}
			// The global --server and -n flags give the context's values.
			if f.server != "" {
				c.Server = f.server
			}
			if f.namespace != "" {
				c.Namespace = f.namespace
			}
			if current || file.CurrentContext == "" {
				file.CurrentContext = args[0]
			}
			if err := file.Save(path); err != nil {
				return err
			}
			fmt.Fprintf(f.streams.Out, "Context %q %s.\n", args[0], verb)
			return nil
		},
	}
	cmd.Flags().BoolVar(&current, "current", false, "make it the current context")
	return cmd
}
