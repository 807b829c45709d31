// Package monitoring checks the observability setup shipped in deploy/compose against a real cluster: it
// starts etcd, the apiserver, the scheduler, the controller-manager, a kubelet (process runtime), a proxy
// (userspace mode) and the cluster DNS as separate processes built from cmd/, drives a Deployment and a
// Service through them, scrapes every component with the real `prometheus` binary (configured from
// deploy/compose/prometheus/prometheus.yml with the local ports), and runs every query of every Grafana
// dashboard in deploy/compose/grafana/dashboards through Prometheus' HTTP API, requiring data from each.
// It also runs `promtool check config` on the compose Prometheus config and checks that the committed
// dashboards are what grafana/generate.py produces.
//
// The tests skip, saying so, when `prometheus`/`promtool` (Debian package prometheus) or python3 are
// missing.
package monitoring
