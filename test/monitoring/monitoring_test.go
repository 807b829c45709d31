package monitoring

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/api/manifest"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/test/monitoring/promcheck"
)

func composeDir(t testing.TB) string { return filepath.Join(repoRoot(t), "deploy", "compose") }

// composePrometheusConfig is the Prometheus configuration shipped with the compose cluster.
func composePrometheusConfig(t testing.TB) string {
	return filepath.Join(composeDir(t), "prometheus", "prometheus.yml")
}

// dashboardQueries are every panel query of the committed dashboards.
func dashboardQueries(t testing.TB) []promcheck.Query {
	t.Helper()
	qs, err := promcheck.LoadDashboards(filepath.Join(composeDir(t), "grafana", "dashboards"))
	if err != nil {
		t.Fatal(err)
	}
	return qs
}

// TestPromtoolCheckConfig validates the compose cluster's Prometheus configuration with promtool.
func TestPromtoolCheckConfig(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (apt-get install prometheus): cannot check deploy/compose/prometheus/prometheus.yml")
	}
	out, err := exec.Command(promtool, "check", "config", composePrometheusConfig(t)).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool check config did not report SUCCESS:\n%s", out)
	}
}

// TestDashboardsAreGenerated checks the committed dashboards are exactly what grafana/generate.py writes
// (the script is the source: edit it, then run it).
func TestDashboardsAreGenerated(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed: cannot regenerate the dashboards to compare them")
	}
	grafana := filepath.Join(repoRoot(t), "deploy", "compose", "grafana")
	out := t.TempDir()
	if b, err := exec.Command(python, filepath.Join(grafana, "generate.py"), out).CombinedOutput(); err != nil {
		t.Fatalf("generate.py: %v\n%s", err, b)
	}
	generated, _ := filepath.Glob(filepath.Join(out, "*.json"))
	committed, _ := filepath.Glob(filepath.Join(grafana, "dashboards", "*.json"))
	if len(generated) == 0 || len(generated) != len(committed) {
		t.Fatalf("generate.py wrote %d dashboards, %d are committed", len(generated), len(committed))
	}
	for _, g := range generated {
		want, _ := os.ReadFile(g)
		got, err := os.ReadFile(filepath.Join(grafana, "dashboards", filepath.Base(g)))
		if err != nil {
			t.Errorf("%s: generated but not committed: %v", filepath.Base(g), err)
			continue
		}
		if string(got) != string(want) {
			t.Errorf("dashboards/%s is stale: run deploy/compose/grafana/generate.py", filepath.Base(g))
		}
	}
	// Every panel has a query; the queries themselves are checked against a real Prometheus below.
	if qs := dashboardQueries(t); len(qs) == 0 {
		t.Fatal("the dashboards have no queries")
	}
}

// workload is what the test runs so that every dashboard metric moves: a Deployment of the demo image
// with a readiness probe (probes, pod starts, runtime operations) behind a Service (endpoints, proxy
// syncs), scaled up and down while Prometheus scrapes (scheduling attempts, reconciles, workqueues).
const workload = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: demo
        image: coxswain/demo:v1
        imagePullPolicy: IfNotPresent
        ports: [{name: http, containerPort: 8080}]
        env:
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
        - {name: NODE_NAME, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
        readinessProbe: {httpGet: {path: /readyz, port: http}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{name: http, port: 8080, targetPort: http}]  # not a privileged port: the test may run unprivileged
`

// TestDashboardQueriesReturnData starts a real cluster and a real Prometheus scraping it, and runs every
// query of every dashboard panel through Prometheus' HTTP API: each must return at least one series with
// a number (not NaN), i.e. a line on the graph.
func TestDashboardQueriesReturnData(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole cluster and Prometheus (-short)")
	}
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not installed (apt-get install prometheus): cannot check the dashboards' queries against a real Prometheus")
	}
	queries := dashboardQueries(t)
	bin := buildBinaries(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	path := func(name string) string { return filepath.Join(bin, name) }

	// Control plane: a one-member etcd (the real binary, scraped like the compose cluster's members),
	// the apiserver on it, the controller-manager, the scheduler and the cluster DNS.
	etcdClient, etcdPeer := hostPort(freePort(t)), hostPort(freePort(t))
	etcd := startProc(t, dir, "etcd", path("etcd"), "--name", "m1", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", "http://"+etcdClient, "--advertise-client-urls", "http://"+etcdClient,
		"--listen-peer-urls", "http://"+etcdPeer, "--initial-advertise-peer-urls", "http://"+etcdPeer,
		"--initial-cluster", "m1=http://"+etcdPeer, "--log-level", "warn")
	waitHTTP(t, ctx, etcd, "http://"+etcdClient+"/health", time.Minute)

	apiAddr, apiHTTP := hostPort(freePort(t)), hostPort(freePort(t))
	const token = "monitoring-test-token"
	apiserver := startProc(t, dir, "apiserver", path("apiserver"), "--etcd-servers", "http://"+etcdClient,
		"--listen", apiAddr, "--http-listen", apiHTTP, "--kubelet-token", token,
		// ClusterIPs on loopback: the userspace proxy binds them.
		"--service-cluster-ip-range", "127.20.0.0/16")
	waitHTTP(t, ctx, apiserver, "http://"+apiHTTP+"/readyz", time.Minute)

	cmHTTP, schedHTTP, dnsHTTP, dnsAddr := hostPort(freePort(t)), hostPort(freePort(t)), hostPort(freePort(t)), hostPort(freePort(t))
	kubeletHTTP, kubeletAPI, proxyHTTP := hostPort(freePort(t)), hostPort(freePort(t)), hostPort(freePort(t))
	procs := []*proc{
		startProc(t, dir, "controller-manager", path("controller-manager"), "--apiserver", apiAddr,
			"--http-listen", cmHTTP, "--cluster-cidr", "10.244.0.0/16"),
		startProc(t, dir, "scheduler", path("scheduler"), "--apiserver", apiAddr, "--http-listen", schedHTTP),
		startProc(t, dir, "clusterdns", path("clusterdns"), "--apiserver", apiAddr,
			"--listen", dnsAddr, "--http-listen", dnsHTTP, "--upstream", "none"),
		startProc(t, dir, "kubelet", path("kubelet"), "--apiserver", apiAddr, "--node-name", "node-1",
			"--runtime", "process", "--node-ip", "127.0.0.1", "--listen", kubeletAPI, "--http-listen", kubeletHTTP,
			"--root-dir", filepath.Join(dir, "kubelet"), "--kubelet-token", token,
			"--image-tarballs", path("demo.tar"), "--heartbeat-interval", "2s"),
		startProc(t, dir, "proxy", path("proxy"), "--apiserver", apiAddr, "--node-name", "node-1",
			"--mode", "userspace", "--http-listen", proxyHTTP),
	}
	for _, p := range procs {
		addr := map[string]string{"controller-manager": cmHTTP, "scheduler": schedHTTP, "clusterdns": dnsHTTP,
			"kubelet": kubeletHTTP, "proxy": proxyHTTP}[p.name]
		waitHTTP(t, ctx, p, "http://"+addr+"/metrics", time.Minute)
	}

	// Prometheus, configured from the compose file with the local addresses.
	promAddr := hostPort(freePort(t))
	promCfg := filepath.Join(dir, "prometheus.yml")
	scrape := map[string][]string{
		"apiserver": {apiHTTP}, "scheduler": {schedHTTP}, "controller-manager": {cmHTTP},
		"kubelet": {kubeletHTTP}, "proxy": {proxyHTTP}, "clusterdns": {dnsHTTP}, "etcd": {etcdClient},
	}
	raw, err := os.ReadFile(composePrometheusConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := promcheck.RewriteConfig(raw, scrape, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(promCfg, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	prom := startProc(t, dir, "prometheus", promBin, "--config.file", promCfg,
		"--storage.tsdb.path", filepath.Join(dir, "tsdb"), "--web.listen-address", promAddr)
	pc := &promcheck.Client{URL: "http://" + promAddr}
	waitHTTP(t, ctx, prom, pc.URL+"/-/ready", time.Minute)

	// The workload.
	c, err := client.New(client.Config{Server: apiAddr, UserAgent: "monitoring-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, ctx, 90*time.Second, "node-1 Ready", func() (bool, string) {
		n, err := c.Nodes().Get(ctx, "", "node-1")
		if err != nil {
			return false, err.Error()
		}
		for _, cond := range n.GetStatus().GetConditions() {
			if cond.GetType() == "Ready" {
				return cond.GetStatus() == "True", "Ready=" + cond.GetStatus()
			}
		}
		return false, "no Ready condition"
	})
	docs, err := manifest.Decode([]byte(workload), "workload")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		if _, err := client.For[api.Object](c, d.Resource).Create(ctx, d.Object); err != nil {
			t.Fatalf("create %s %s: %v", d.Resource.Kind, api.Key(d.Object), err)
		}
	}
	waitReady := func(replicas int32) {
		waitFor(t, ctx, 2*time.Minute, fmt.Sprintf("deployment web: %d available replicas and endpoints", replicas), func() (bool, string) {
			d, err := c.Deployments().Get(ctx, "default", "web")
			if err != nil {
				return false, err.Error()
			}
			ep, err := c.Endpoints().Get(ctx, "default", "web")
			if err != nil {
				return false, err.Error()
			}
			n := 0
			for _, s := range ep.GetSubsets() {
				n += len(s.GetAddresses())
			}
			st := d.GetStatus()
			return st.GetAvailableReplicas() == replicas && st.GetUpdatedReplicas() == replicas && n == int(replicas),
				fmt.Sprintf("available %d, updated %d, endpoint addresses %d", st.GetAvailableReplicas(), st.GetUpdatedReplicas(), n)
		})
	}
	waitReady(2)

	// The Service answers through the proxy: the data comes from a working cluster.
	svc, err := c.Services().Get(ctx, "default", "web")
	if err != nil {
		t.Fatal(err)
	}
	svcURL := fmt.Sprintf("http://%s:8080/", svc.GetSpec().GetClusterIp())
	waitFor(t, ctx, time.Minute, "GET "+svcURL+" through the userspace proxy", func() (bool, string) {
		hc := &http.Client{Timeout: 2 * time.Second}
		resp, err := hc.Get(svcURL)
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == 200 && strings.Contains(string(b), "web-"), fmt.Sprintf("%s %q", resp.Status, b)
	})

	// The cluster DNS answers the Service's name.
	svcName := "web.default.svc.cluster.local"
	waitFor(t, ctx, time.Minute, "DNS "+svcName+" at "+dnsAddr, func() (bool, string) {
		addrs, err := lookup(ctx, dnsAddr, svcName)
		return err == nil && len(addrs) == 1 && addrs[0] == svc.GetSpec().GetClusterIp(),
			fmt.Sprintf("%v %v (want %s)", addrs, err, svc.GetSpec().GetClusterIp())
	})

	// Keep the cluster busy while the queries run: scale between 2 and 3 replicas every few seconds
	// (scheduling, pod starts, probes, endpoint and proxy syncs, reconciles all move).
	churnCtx, stopChurn := context.WithCancel(ctx)
	var churn sync.WaitGroup
	churn.Add(1)
	go func() {
		defer churn.Done()
		for i := 0; ; i++ {
			select {
			case <-churnCtx.Done():
				return
			case <-time.After(6 * time.Second):
			}
			if err := scale(churnCtx, c, int32(2+(i+1)%2)); err != nil && churnCtx.Err() == nil {
				t.Logf("scale: %v", err)
			}
			if _, err := lookup(churnCtx, dnsAddr, svcName); err != nil && churnCtx.Err() == nil {
				t.Logf("DNS lookup: %v", err)
			}
		}
	}()
	defer func() { stopChurn(); churn.Wait() }()

	// Every target is scraped successfully.
	waitFor(t, ctx, time.Minute, "every Prometheus target up", func() (bool, string) {
		ts, err := pc.Targets(ctx)
		if err != nil {
			return false, err.Error()
		}
		return promcheck.AllUp(ts, len(scrape))
	})

	// Every dashboard query returns data. Rates over [1m] need two scrapes and the histograms a few
	// observations since the churn started: each query is retried until a deadline shared by all.
	deadline := time.Now().Add(3 * time.Minute)
	for _, q := range queries {
		t.Run(q.File+"/"+q.Panel+"/"+q.RefID, func(t *testing.T) {
			for {
				ok, desc, err := pc.HasData(ctx, q)
				switch {
				case promcheck.BadQuery(err):
					t.Fatalf("%s: Prometheus refuses the query: %v", q, err)
				case ok:
					t.Logf("%s: %s", q.Expr, desc)
					return
				case err != nil:
					desc = err.Error()
				}
				for _, p := range append(procs, etcd, apiserver, prom) {
					if p.exited() {
						t.Fatalf("%s exited while querying %s", p.name, q)
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: no data from Prometheus: %s", q, desc)
				}
				time.Sleep(time.Second)
			}
		})
	}
}

// lookup resolves name at the DNS server at addr.
func lookup(ctx context.Context, addr, name string) ([]string, error) {
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return r.LookupHost(ctx, name)
}

// scale sets the replicas of deployment default/web, retrying conflicts.
func scale(ctx context.Context, c *client.Client, replicas int32) error {
	for {
		d, err := c.Deployments().Get(ctx, "default", "web")
		if err != nil {
			return err
		}
		d.Spec.Replicas = &replicas
		if _, err = c.Deployments().Update(ctx, d); err == nil || !apierrors.IsConflict(err) {
			return err
		}
	}
}

// waitFor polls cond every 200ms until it holds, failing the test with cond's last explanation after
// timeout.
func waitFor(t *testing.T, ctx context.Context, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: not reached within %v: %s", what, timeout, why)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
