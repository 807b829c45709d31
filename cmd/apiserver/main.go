// Command apiserver runs coxswain's API server.
package main

import (
	"github.com/coxswain/coxswain/pkg/apiserver"
	"github.com/coxswain/coxswain/pkg/cli"
)

func main() { cli.Main(apiserver.NewCommand()) }
