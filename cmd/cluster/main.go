// Command cluster runs a local coxswain cluster (`make run`).
package main

import (
	"github.com/coxswain/coxswain/pkg/cli"
	"github.com/coxswain/coxswain/pkg/localcluster"
)

func main() { cli.Main(localcluster.NewCommand()) }
