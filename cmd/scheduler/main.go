// Command scheduler runs coxswain's scheduler.
package main

import (
	"github.com/coxswain/coxswain/pkg/cli"
	"github.com/coxswain/coxswain/pkg/scheduler"
)

func main() { cli.Main(scheduler.NewCommand()) }
