//go:build compose

package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coxswain/coxswain/pkg/api"
	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/api/manifest"
	"github.com/coxswain/coxswain/pkg/client"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
	"github.com/coxswain/coxswain/test/monitoring/promcheck"
)

// The compose cluster's fixed addresses (deploy/compose/docker-compose.yaml).
const (
	api1      = "172.28.0.11:6443" // apiserver-1 (its container address: the published host ports may differ)
	api2      = "172.28.0.12:6443" // apiserver-2
	dnsIP     = "172.28.0.53"      // clusterdns container
	dnsSvcIP  = "10.96.0.10"       // kube-dns Service (kubelets' --cluster-dns)
	nodeCount = 3
)

func workerIP(i int) string { return fmt.Sprintf("172.28.1.%d", i) }

// timings are the measured failover times, printed at the end.
type timings struct {
	mu   sync.Mutex
	rows [][2]string
}

func (tm *timings) add(t *testing.T, what string, d time.Duration) {
	t.Helper()
	tm.mu.Lock()
	defer tm.mu.Unlock()
	tm.rows = append(tm.rows, [2]string{what, d.Round(100 * time.Millisecond).String()})
	t.Logf("TIMING %s: %v", what, d.Round(100*time.Millisecond))
}

func (tm *timings) print() {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	fmt.Println("\n=== measured failover times (compose cluster; from the moment docker-compose kill/stop/start returned)")
	for _, r := range tm.rows {
		fmt.Printf("  %-92s %s\n", r[0], r[1])
	}
}

// compose runs docker-compose with the environment's COMPOSE_FILE and COMPOSE_PROJECT_NAME.
func compose(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker-compose", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker-compose %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// waitFor polls cond every 250ms until it holds; after timeout the test fails with cond's last word.
func waitFor(t *testing.T, ctx context.Context, timeout time.Duration, what string, cond func(ctx context.Context) (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, why := cond(cctx)
		cancel()
		if ok {
			return time.Since(start)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: not reached within %v: %s", what, timeout, why)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func newClient(t *testing.T, addr string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{Server: addr, UserAgent: "compose-e2e"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func isReady(conds []*metav1.Condition) bool {
	for _, c := range conds {
		if c.GetType() == "Ready" {
			return c.GetStatus() == "True"
		}
	}
	return false
}

func nodeReady(ctx context.Context, c *client.Client, name string) (bool, string) {
	n, err := c.Nodes().Get(ctx, "", name)
	if err != nil {
		return false, err.Error()
	}
	for _, cond := range n.GetStatus().GetConditions() {
		if cond.GetType() == "Ready" {
			return cond.GetStatus() == "True", "Ready=" + cond.GetStatus() + " " + cond.GetReason()
		}
	}
	return false, "no Ready condition"
}

// apply creates every object of a YAML manifest.
func apply(t *testing.T, ctx context.Context, c *client.Client, yaml string) {
	t.Helper()
	docs, err := manifest.Decode([]byte(yaml), "test manifest")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := client.For[api.Object](c, d.Resource).Create(cctx, d.Object)
		cancel()
		if err != nil {
			t.Fatalf("create %s %s: %v", d.Resource.Kind, api.Key(d.Object), err)
		}
	}
}

func deployment(name string, replicas int) string {
	return fmt.Sprintf(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s, namespace: default}
spec:
  replicas: %[2]d
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      terminationGracePeriodSeconds: 5
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
        resources: {requests: {cpu: 50m, memory: 32Mi}}
`, name, replicas)
}

// readyPods lists the Ready, not terminating pods of app.
func readyPods(ctx context.Context, c *client.Client, app string) ([]*corev1.Pod, error) {
	pods, _, err := c.Pods().List(ctx, &metav1.ListOptions{Namespace: "default", LabelSelector: "app=" + app})
	if err != nil {
		return nil, err
	}
	var out []*corev1.Pod
	for _, p := range pods {
		if p.GetMetadata().GetDeletionTimestamp() == nil && isReady(p.GetStatus().GetConditions()) {
			out = append(out, p)
		}
	}
	return out, nil
}

// waitAvailable waits for app's Deployment to report replicas available and that many Ready pods, none
// of them on avoidNode.
func waitAvailable(t *testing.T, ctx context.Context, c *client.Client, app string, replicas int, avoidNode string, timeout time.Duration) time.Duration {
	t.Helper()
	return waitFor(t, ctx, timeout, fmt.Sprintf("deployment %s: %d available replicas (not on %q)", app, replicas, avoidNode), func(ctx context.Context) (bool, string) {
		d, err := c.Deployments().Get(ctx, "default", app)
		if err != nil {
			return false, err.Error()
		}
		pods, err := readyPods(ctx, c, app)
		if err != nil {
			return false, err.Error()
		}
		elsewhere := 0
		var where []string
		for _, p := range pods {
			where = append(where, p.GetMetadata().GetName()+"@"+p.GetSpec().GetNodeName())
			if p.GetSpec().GetNodeName() != avoidNode {
				elsewhere++
			}
		}
		st := d.GetStatus()
		return int(st.GetAvailableReplicas()) == replicas && elsewhere >= replicas,
			fmt.Sprintf("available %d, ready pods %v", st.GetAvailableReplicas(), where)
	})
}

var httpClient = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// demoAnswer is what the demo server's GET / says: "<version> <pod> <pod IP> <node>".
type demoAnswer struct{ version, pod, ip, node string }

func getDemo(url string) (demoAnswer, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return demoAnswer{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return demoAnswer{}, fmt.Errorf("%s: %s %q", url, resp.Status, b)
	}
	f := strings.Fields(string(b))
	if len(f) != 4 {
		return demoAnswer{}, fmt.Errorf("%s: answer %q is not '<version> <pod> <ip> <node>'", url, b)
	}
	return demoAnswer{f[0], f[1], f[2], f[3]}, nil
}

// checkServiceAnswers sends n requests to each worker IP's NodePort; every one must be answered by a
// Ready pod of app (its name, IP and node as the API says). It returns the nodes that answered.
func checkServiceAnswers(t *testing.T, ctx context.Context, c *client.Client, app string, nodePort int32, workers []int, n int) map[string]int {
	t.Helper()
	pods, err := readyPods(ctx, c, app)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*corev1.Pod{}
	for _, p := range pods {
		byName[p.GetMetadata().GetName()] = p
	}
	nodes := map[string]int{}
	for _, w := range workers {
		url := fmt.Sprintf("http://%s:%d/", workerIP(w), nodePort)
		// The proxy may still be programming the rules: wait for the first answer, then require n in a row.
		waitFor(t, ctx, 90*time.Second, "first answer from "+url, func(context.Context) (bool, string) {
			_, err := getDemo(url)
			return err == nil, fmt.Sprint(err)
		})
		for i := 0; i < n; i++ {
			a, err := getDemo(url)
			if err != nil {
				t.Fatalf("request %d to %s: %v", i, url, err)
			}
			p, ok := byName[a.pod]
			if !ok {
				t.Fatalf("%s answered from pod %q, which is not a Ready pod of %s (%v)", url, a.pod, app, keys(byName))
			}
			if a.ip != p.GetStatus().GetPodIp() || a.node != p.GetSpec().GetNodeName() {
				t.Fatalf("%s: pod %s says IP %s node %s, the API says %s on %s", url, a.pod, a.ip, a.node,
					p.GetStatus().GetPodIp(), p.GetSpec().GetNodeName())
			}
			nodes[a.node]++
		}
	}
	return nodes
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// lookup resolves name at the cluster DNS container.
func lookup(ctx context.Context, name string) ([]string, error) {
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, net.JoinHostPort(dnsIP, "53"))
	}}
	return r.LookupHost(ctx, name)
}

// TestCompose runs the end-to-end checks in order on the running compose cluster.
func TestCompose(t *testing.T) {
	if os.Getenv("COMPOSE_PROJECT_NAME") == "" || os.Getenv("COMPOSE_FILE") == "" {
		t.Skip("run by deploy/compose/e2e.sh: needs COMPOSE_FILE and COMPOSE_PROJECT_NAME of a running compose cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 11*time.Minute)
	defer cancel()
	c := newClient(t, api1)
	var tm timings
	defer tm.print()

	var nodePort int32
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"nodes-ready", func(t *testing.T) {
			d := waitFor(t, ctx, 3*time.Minute, "3 Ready nodes", func(ctx context.Context) (bool, string) {
				ready := 0
				for i := 1; i <= nodeCount; i++ {
					if ok, _ := nodeReady(ctx, c, fmt.Sprintf("worker-%d", i)); ok {
						ready++
					}
				}
				return ready == nodeCount, fmt.Sprintf("%d of %d Ready", ready, nodeCount)
			})
			tm.add(t, "3 nodes Ready (after the test started)", d)
		}},
		{"cluster-dns-service", func(t *testing.T) { ensureDNSService(t, ctx, c) }},
		{"nodeport-service-on-every-worker", func(t *testing.T) {
			apply(t, ctx, c, deployment("web", 3)+`
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
`)
			d := waitAvailable(t, ctx, c, "web", 3, "", 3*time.Minute)
			tm.add(t, "deployment web: 3 replicas available after creation", d)
			svc, err := c.Services().Get(ctx, "default", "web")
			if err != nil {
				t.Fatal(err)
			}
			nodePort = svc.GetSpec().GetPorts()[0].GetNodePort()
			if nodePort == 0 {
				t.Fatal("service web has no NodePort")
			}
			nodes := checkServiceAnswers(t, ctx, c, "web", nodePort, []int{1, 2, 3}, 30)
			t.Logf("NodePort %d answered from nodes %v", nodePort, nodes)
			if len(nodes) < 2 {
				t.Fatalf("90 requests at 3 workers were all answered by pods of one node (%v): no load balancing across nodes", nodes)
			}
			// The cluster DNS serves the service (queried at the DNS container itself).
			waitFor(t, ctx, 30*time.Second, "DNS web.default.svc.cluster.local", func(ctx context.Context) (bool, string) {
				addrs, err := lookup(ctx, "web.default.svc.cluster.local")
				return err == nil && len(addrs) == 1 && addrs[0] == svc.GetSpec().GetClusterIp(),
					fmt.Sprintf("%v %v (want %s)", addrs, err, svc.GetSpec().GetClusterIp())
			})
		}},
		{"prometheus-scrapes-every-component", func(t *testing.T) { prometheusScrapes(t, ctx, c) }},
		{"worker-failure", func(t *testing.T) { workerFailure(t, ctx, c, &tm, nodePort) }},
		{"leader-failover", func(t *testing.T) { leaderFailover(t, ctx, c, &tm) }},
		{"etcd-member-outage", func(t *testing.T) { etcdOutage(t, ctx, c, &tm) }},
		{"apiserver-failover", func(t *testing.T) { apiserverFailover(t, ctx, &tm) }},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.Fatalf("step %s failed; later steps depend on it", s.name)
		}
	}
}

// ensureDNSService creates the kube-dns Service (10.96.0.10) and its Endpoints at the DNS container,
// unless the cluster already has them.
func ensureDNSService(t *testing.T, ctx context.Context, c *client.Client) {
	svc, err := c.Services().Get(ctx, "kube-system", "kube-dns")
	switch {
	case apierrors.IsNotFound(err):
		apply(t, ctx, c, `
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  clusterIP: `+dnsSvcIP+`
  ports: [{name: dns, port: 53, protocol: UDP}, {name: dns-tcp, port: 53, protocol: TCP}]
`)
	case err != nil:
		t.Fatal(err)
	case svc.GetSpec().GetClusterIp() != dnsSvcIP:
		t.Fatalf("kube-system/kube-dns exists with clusterIP %s, the kubelets use %s", svc.GetSpec().GetClusterIp(), dnsSvcIP)
	}
	if _, err := c.Endpoints().Get(ctx, "kube-system", "kube-dns"); apierrors.IsNotFound(err) {
		apply(t, ctx, c, `
apiVersion: v1
kind: Endpoints
metadata: {name: kube-dns, namespace: kube-system}
subsets:
- addresses: [{ip: `+dnsIP+`}]
  ports: [{name: dns, port: 53, protocol: UDP}, {name: dns-tcp, port: 53, protocol: TCP}]
`)
	} else if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, time.Minute, "DNS kube-dns.kube-system.svc.cluster.local at "+dnsIP, func(ctx context.Context) (bool, string) {
		addrs, err := lookup(ctx, "kube-dns.kube-system.svc.cluster.local")
		return err == nil && len(addrs) == 1 && addrs[0] == dnsSvcIP, fmt.Sprintf("%v %v", addrs, err)
	})
}

// workerFailure kills the worker (and its proxy) running most web pods: the node goes Unknown, its pods
// are evicted and recreated on the other workers, and the service keeps answering at their IPs; then the
// worker comes back.
func workerFailure(t *testing.T, ctx context.Context, c *client.Client, tm *timings, nodePort int32) {
	pods, err := readyPods(ctx, c, "web")
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, p := range pods {
		count[p.GetSpec().GetNodeName()]++
	}
	victim := ""
	for _, n := range keys(count) {
		if victim == "" || count[n] > count[victim] {
			victim = n
		}
	}
	var vi int
	if _, err := fmt.Sscanf(victim, "worker-%d", &vi); err != nil {
		t.Fatalf("pods run on %q, not a compose worker", victim)
	}
	var others []int
	for i := 1; i <= nodeCount; i++ {
		if i != vi {
			others = append(others, i)
		}
	}
	t.Logf("killing %s (and proxy-%d), which runs %d web pods", victim, vi, count[victim])
	compose(t, "kill", fmt.Sprintf("proxy-%d", vi), victim)
	start := time.Now() // failover times are measured from the moment docker-compose kill returned

	waitFor(t, ctx, 2*time.Minute, victim+" not Ready", func(ctx context.Context) (bool, string) {
		ok, why := nodeReady(ctx, c, victim)
		return !ok && why != "", why
	})
	tm.add(t, "worker killed → node "+victim+" marked not Ready", time.Since(start))
	waitAvailable(t, ctx, c, "web", 3, victim, 4*time.Minute)
	tm.add(t, "worker killed → its pods recreated on other workers, 3 available", time.Since(start))
	nodes := checkServiceAnswers(t, ctx, c, "web", nodePort, others, 20)
	if nodes[victim] > 0 {
		t.Fatalf("pods of the dead node %s answered: %v", victim, nodes)
	}
	t.Logf("service answered from %v at workers %v", nodes, others)

	compose(t, "start", victim, fmt.Sprintf("proxy-%d", vi))
	restart := time.Now()
	waitFor(t, ctx, 3*time.Minute, victim+" Ready again", func(ctx context.Context) (bool, string) { return nodeReady(ctx, c, victim) })
	tm.add(t, "worker restarted → node "+victim+" Ready again", time.Since(restart))
	// Its proxy programs the service again: the NodePort answers at its IP too.
	checkServiceAnswers(t, ctx, c, "web", nodePort, []int{vi}, 10)
}

// leaderFailover kills the scheduler and the controller-manager holding their leases: the standbys take
// the leases and a new Deployment still converges.
func leaderFailover(t *testing.T, ctx context.Context, c *client.Client, tm *timings) {
	leases := map[string]string{"coxswain-scheduler": "scheduler", "coxswain-controller-manager": "controller-manager"}
	holders := map[string]string{}
	for _, lease := range keys(leases) {
		waitFor(t, ctx, time.Minute, "lease "+lease+" held", func(ctx context.Context) (bool, string) {
			l, err := c.Leases().Get(ctx, "kube-system", lease)
			if err != nil {
				return false, err.Error()
			}
			holders[lease] = l.GetSpec().GetHolderIdentity()
			return strings.HasPrefix(holders[lease], leases[lease]+"-"), "holder " + holders[lease]
		})
	}
	t.Logf("leaders: %v", holders)
	compose(t, "kill", holders["coxswain-scheduler"], holders["coxswain-controller-manager"])
	start := time.Now()
	var wg sync.WaitGroup
	for _, lease := range keys(leases) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Since(start) < 2*time.Minute {
				cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				l, err := c.Leases().Get(cctx, "kube-system", lease)
				cancel()
				if err == nil && l.GetSpec().GetHolderIdentity() != "" && l.GetSpec().GetHolderIdentity() != holders[lease] {
					tm.add(t, fmt.Sprintf("leader %s killed → %s takes lease %s", holders[lease], l.GetSpec().GetHolderIdentity(), lease), time.Since(start))
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
			t.Errorf("lease %s: no new holder 2m after killing %s", lease, holders[lease])
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	created := time.Now()
	apply(t, ctx, c, deployment("after-failover", 2))
	waitAvailable(t, ctx, c, "after-failover", 2, "", 2*time.Minute)
	tm.add(t, "new deployment (2 replicas) available under the new leaders", time.Since(created))
	compose(t, "start", holders["coxswain-scheduler"], holders["coxswain-controller-manager"])
}

// objectNames lists the default namespace's ConfigMaps, Deployments, Services and Pods (kind/name).
func objectNames(ctx context.Context, c *client.Client) (map[string]bool, error) {
	out := map[string]bool{}
	opts := &metav1.ListOptions{Namespace: "default"}
	cms, _, err := c.ConfigMaps().List(ctx, opts)
	if err != nil {
		return nil, err
	}
	for _, o := range cms {
		out["configmap/"+o.GetMetadata().GetName()] = true
	}
	ds, _, err := c.Deployments().List(ctx, opts)
	if err != nil {
		return nil, err
	}
	for _, o := range ds {
		out["deployment/"+o.GetMetadata().GetName()] = true
	}
	ss, _, err := c.Services().List(ctx, opts)
	if err != nil {
		return nil, err
	}
	for _, o := range ss {
		out["service/"+o.GetMetadata().GetName()] = true
	}
	ps, _, err := c.Pods().List(ctx, opts)
	if err != nil {
		return nil, err
	}
	for _, o := range ps {
		if o.GetMetadata().GetDeletionTimestamp() == nil {
			out["pod/"+o.GetMetadata().GetName()] = true
		}
	}
	return out, nil
}

// writeConfigMaps creates n ConfigMaps prefix-0..n-1, retrying while etcd elects a leader.
func writeConfigMaps(t *testing.T, ctx context.Context, c *client.Client, prefix string, n int) time.Duration {
	t.Helper()
	start := time.Now()
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("%s-%d", prefix, i)
		waitFor(t, ctx, time.Minute, "create configmap "+name, func(ctx context.Context) (bool, string) {
			_, err := c.ConfigMaps().Create(ctx, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: name},
				Data: map[string]string{"i": fmt.Sprint(i)}})
			return err == nil || apierrors.IsAlreadyExists(err), fmt.Sprint(err)
		})
	}
	return time.Since(start)
}

// etcdOutage stops one etcd member, writes, restarts it; then stops another member so that the restarted
// one is needed for quorum, and checks every object written before and during the outages is there.
func etcdOutage(t *testing.T, ctx context.Context, c *client.Client, tm *timings) {
	before, err := objectNames(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	writeConfigMaps(t, ctx, c, "before-outage", 10)
	compose(t, "stop", "-t", "5", "etcd-2")
	d := writeConfigMaps(t, ctx, c, "during-etcd-2-outage", 20)
	tm.add(t, "20 writes with etcd-2 stopped (2 of 3 members)", d)
	compose(t, "start", "etcd-2")
	// Give etcd-2 time to rejoin and catch up, then make it necessary: with etcd-1 stopped, quorum is
	// etcd-2 + etcd-3.
	time.Sleep(10 * time.Second)
	compose(t, "stop", "-t", "5", "etcd-1")
	d = writeConfigMaps(t, ctx, c, "during-etcd-1-outage", 10)
	tm.add(t, "etcd-1 stopped → 10 writes on etcd-2 + etcd-3 (incl. any leader election)", d)
	want := map[string]bool{}
	for k := range before {
		if !strings.HasPrefix(k, "pod/") { // pods come and go with the controllers
			want[k] = true
		}
	}
	for _, p := range []struct {
		prefix string
		n      int
	}{{"before-outage", 10}, {"during-etcd-2-outage", 20}, {"during-etcd-1-outage", 10}} {
		for i := 0; i < p.n; i++ {
			want[fmt.Sprintf("configmap/%s-%d", p.prefix, i)] = true
		}
	}
	check := func(when string) {
		var missing []string
		waitFor(t, ctx, time.Minute, "list every object "+when, func(ctx context.Context) (bool, string) {
			have, err := objectNames(ctx, c)
			if err != nil {
				return false, err.Error()
			}
			missing = missing[:0]
			for k := range want {
				if !have[k] {
					missing = append(missing, k)
				}
			}
			return len(missing) == 0, fmt.Sprintf("missing %v", missing)
		})
	}
	check("with etcd-1 stopped")
	compose(t, "start", "etcd-1")
	check("with all members back")
	t.Logf("%d objects listed, none lost", len(want))
}

// apiserverFailover kills apiserver-1: apiserver-2 keeps serving (reads and writes), and the components
// (which reach the apiservers through the shared "apiserver" DNS name) converge a new Deployment.
func apiserverFailover(t *testing.T, ctx context.Context, tm *timings) {
	c2 := newClient(t, api2)
	compose(t, "kill", "apiserver-1")
	start := time.Now()
	waitFor(t, ctx, time.Minute, "apiserver-2 serves reads and writes", func(ctx context.Context) (bool, string) {
		if _, _, err := c2.Nodes().List(ctx, &metav1.ListOptions{}); err != nil {
			return false, err.Error()
		}
		_, err := c2.ConfigMaps().Create(ctx, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "apiserver-1-down"}})
		return err == nil || apierrors.IsAlreadyExists(err), fmt.Sprint(err)
	})
	tm.add(t, "apiserver-1 killed → apiserver-2 answers a list and a create", time.Since(start))
	apply(t, ctx, c2, deployment("after-apiserver-failover", 2))
	waitAvailable(t, ctx, c2, "after-apiserver-failover", 2, "", 3*time.Minute)
	tm.add(t, "apiserver-1 killed → new deployment available through apiserver-2", time.Since(start))
	for i := 1; i <= nodeCount; i++ {
		if ok, why := nodeReady(ctx, c2, fmt.Sprintf("worker-%d", i)); !ok {
			t.Errorf("worker-%d not Ready with apiserver-1 down: %s", i, why)
		}
	}
	compose(t, "start", "apiserver-1")
	c1 := newClient(t, api1)
	waitFor(t, ctx, time.Minute, "apiserver-1 serves again", func(ctx context.Context) (bool, string) {
		_, err := c1.ConfigMaps().Get(ctx, "default", "apiserver-1-down")
		return err == nil, fmt.Sprint(err)
	})
}

// repoRoot is the module root (test/e2e is two levels below it).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// serviceIP is the address of a compose service's container on the cluster network.
func serviceIP(t *testing.T, service string) string {
	t.Helper()
	id := strings.TrimSpace(compose(t, "ps", "-q", service))
	out, err := exec.Command("docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", id).CombinedOutput()
	ip := strings.TrimSpace(string(out))
	if err != nil || net.ParseIP(ip) == nil {
		t.Fatalf("address of %s (container %q): %v %q", service, id, err, out)
	}
	return ip
}

// prometheusScrapes runs the host's prometheus binary on the compose cluster's prometheus.yml (its
// targets resolved to the containers' addresses: the host cannot resolve compose service names) while
// the cluster works, and checks every target is up and every dashboard query returns data, as the
// compose monitoring profile's Prometheus and Grafana would see it.
func prometheusScrapes(t *testing.T, ctx context.Context, c *client.Client) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not installed (apt-get install prometheus): the compose Prometheus config is not checked against the cluster")
	}
	composeDir := filepath.Join(repoRoot(t), "deploy", "compose")
	raw, err := os.ReadFile(filepath.Join(composeDir, "prometheus", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	static, err := promcheck.StaticTargets(raw)
	if err != nil {
		t.Fatal(err)
	}
	resolved := map[string][]string{}
	count := 0
	for job, targets := range static {
		for _, tg := range targets {
			host, port, err := net.SplitHostPort(tg)
			if err != nil {
				t.Fatalf("job %s: target %q: %v", job, tg, err)
			}
			resolved[job] = append(resolved[job], net.JoinHostPort(serviceIP(t, host), port))
			count++
		}
	}
	cfg, err := promcheck.RewriteConfig(raw, resolved, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	queries, err := promcheck.LoadDashboards(filepath.Join(composeDir, "grafana", "dashboards"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	prom := exec.Command(promBin, "--config.file", filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path", filepath.Join(dir, "tsdb"), "--web.listen-address", addr)
	prom.Stdout, prom.Stderr = logf, logf
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = prom.Process.Kill()
		_ = prom.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("prometheus log:\n%s", b)
		}
	}()
	pc := &promcheck.Client{URL: "http://" + addr}
	waitFor(t, ctx, time.Minute, fmt.Sprintf("all %d compose targets up", count), func(ctx context.Context) (bool, string) {
		ts, err := pc.Targets(ctx)
		if err != nil {
			return false, err.Error()
		}
		return promcheck.AllUp(ts, count)
	})

	// Work for the metrics while the queries run: scale web up and down, ask the DNS.
	churnCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; churnCtx.Err() == nil; i++ {
			if err := scale(churnCtx, c, "web", int32(3+(i+1)%2)); err != nil && churnCtx.Err() == nil {
				t.Logf("scale web: %v", err)
			}
			_, _ = lookup(churnCtx, "web.default.svc.cluster.local")
			select {
			case <-churnCtx.Done():
			case <-time.After(5 * time.Second):
			}
		}
	}()
	defer func() {
		stop()
		<-done
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := scale(cctx, c, "web", 3); err != nil {
			t.Errorf("scale web back to 3: %v", err)
		}
		waitAvailable(t, ctx, c, "web", 3, "", 2*time.Minute)
	}()

	deadline := time.Now().Add(3 * time.Minute)
	for _, q := range queries {
		for {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			ok, desc, err := pc.HasData(cctx, q)
			cancel()
			if promcheck.BadQuery(err) {
				t.Fatalf("%s: Prometheus refuses the query: %v", q, err)
			}
			if ok {
				t.Logf("%s: %s", q.Expr, desc)
				break
			}
			if err != nil {
				desc = err.Error()
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no data from the compose cluster: %s", q, desc)
			}
			time.Sleep(time.Second)
		}
	}
}

// scale sets the replicas of Deployment default/name, retrying conflicts.
func scale(ctx context.Context, c *client.Client, name string, replicas int32) error {
	for {
		d, err := c.Deployments().Get(ctx, "default", name)
		if err != nil {
			return err
		}
		d.Spec.Replicas = &replicas
		if _, err = c.Deployments().Update(ctx, d); err == nil || !apierrors.IsConflict(err) {
			return err
		}
	}
}
