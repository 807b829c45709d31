// Command coxctl controls a coxswain cluster, as kubectl controls Kubernetes.
package main

import "github.com/coxswain/coxswain/pkg/coxctl"

func main() { coxctl.Main() }
