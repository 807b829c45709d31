// Command clusterdns runs coxswain's cluster DNS server.
package main

import (
	"github.com/coxswain/coxswain/pkg/cli"
	"github.com/coxswain/coxswain/pkg/dns"
)

func main() { cli.Main(dns.NewCommand()) }
