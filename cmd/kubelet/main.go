// Command kubelet runs coxswain's node agent.
package main

import (
	"github.com/coxswain/coxswain/pkg/cli"
	"github.com/coxswain/coxswain/pkg/kubelet"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime/native"
)

func main() {
	native.Init()
	cli.Main(kubelet.NewCommand())
}
