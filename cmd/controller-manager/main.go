// Command controller-manager runs coxswain's controllers.
package main

import (
	"github.com/coxswain/coxswain/pkg/cli"
	"github.com/coxswain/coxswain/pkg/controllers/manager"
)

func main() { cli.Main(manager.NewCommand()) }
