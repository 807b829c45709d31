// Command coxbench benchmarks the whole control plane on hollow nodes (see docs/benchmarks.md).
package main

import (
	"github.com/coxswain/coxswain/pkg/bench"
	"github.com/coxswain/coxswain/pkg/cli"
)

func main() { cli.Main(bench.NewCommand()) }
