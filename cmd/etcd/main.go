// Command etcd is etcd itself, built from its Go module with the rest of coxswain, so the compose cluster's
// etcd members run from our own static binary (no container registry needed).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
