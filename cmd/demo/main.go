// Command demo is coxswain's test workload (see package demo). Its mkimage
// subcommand packs a static demo binary into the coxswain/demo images:
//
//	demo [--port N] [--bind IP] [--udp=false]
//	demo mkimage --out demo.tar [--binary bin/demo] [--platform os/arch]
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/coxswain/coxswain/pkg/demo"
)

// version is the default of VERSION, set at build time with
// -ldflags '-X main.version=v2'.
var version = "v1"

func main() {
	var err error
	if len(os.Args) > 1 && os.Args[1] == "mkimage" {
		err = mkimage(os.Args[2:])
	} else {
		err = serve(os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func serve(args []string) error {
	cfg, err := demo.ParseFlags(args, os.Getenv, version)
	if err != nil {
		return err
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stdout, nil))
	srv, err := demo.New(cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return srv.Run(ctx)
}

func mkimage(args []string) error {
	self, _ := os.Executable()
	cfg, err := demo.ParseImageFlags(args, self)
	if err == nil {
		var tags []string
		if tags, err = demo.WriteImages(cfg); err == nil {
			fmt.Printf("wrote %s: %s\n", cfg.Out, strings.Join(tags, " "))
		}
	}
	if err != nil {
		return fmt.Errorf("mkimage: %w", err)
	}
	return nil
}
