// Package cli holds what every coxswain command shares: signal handling, logging flags and the exit path,
// so each cmd/*/main.go is one line.
package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// LogOptions are the logging flags of every component.
type LogOptions struct {
	Level  string
	Format string
}

// AddFlags registers --log-level and --log-format.
func (o *LogOptions) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.Level, "log-level", "info", "log level: debug, info, warn, error")
	cmd.Flags().StringVar(&o.Format, "log-format", "text", "log format: text or json")
}

// Logger builds the slog logger and makes it the default.
func (o *LogOptions) Logger(component string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(o.Level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: must be debug, info, warn or error", o.Level)
	}
	hopts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler
	switch strings.ToLower(o.Format) {
	case "text", "":
		h = slog.NewTextHandler(os.Stderr, hopts)
	case "json":
		h = slog.NewJSONHandler(os.Stderr, hopts)
	default:
		return nil, fmt.Errorf("--log-format %q: must be text or json", o.Format)
	}
	l := slog.New(h).With("component", component)
	slog.SetDefault(l)
	return l, nil
}

// Main runs a command with a context cancelled on SIGINT/SIGTERM and exits non-zero on error.
func Main(cmd *cobra.Command) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd.SilenceUsage = true
	if err := cmd.ExecuteContext(ctx); err != nil {
		stop()
		os.Exit(1)
	}
}
