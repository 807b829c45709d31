// Command proxy runs coxswain's service proxy on a node.
package main

import (
	"github.com/coxswain/coxswain/pkg/cli"
	"github.com/coxswain/coxswain/pkg/proxy"
)

func main() { cli.Main(proxy.NewCommand()) }
