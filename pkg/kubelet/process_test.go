package kubelet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	apierrors "github.com/coxswain/coxswain/pkg/api/errors"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/testutil"
	coordinationv1 "github.com/coxswain/coxswain/proto/coxswain/coordination/v1"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

// The process-runtime tests share one apiserver and one kubelet (short
// back-off: 1s doubling to 4s) to keep the suite fast on a small machine.
func TestProcessRuntime(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("needs /bin/sh for the test workloads")
	}
	cl := startCluster(t, func(c *Config) { c.ImageTarballs = []string{demoTarball(t)} })
	t.Run("Node", func(t *testing.T) { testNode(t, cl) })
	t.Run("ImageEntrypoint", func(t *testing.T) { testImageEntrypoint(t, cl) })
	t.Run("ThreeReplicas", func(t *testing.T) { testThreeReplicas(t, cl) })
	t.Run("CrashLoopBackOff", func(t *testing.T) { testCrashLoop(t, cl) })
	t.Run("RestartPolicies", func(t *testing.T) { testRestartPolicies(t, cl) })
	t.Run("InitContainers", func(t *testing.T) { testInitContainers(t, cl) })
	t.Run("Liveness", func(t *testing.T) { testLiveness(t, cl) })
	t.Run("Readiness", func(t *testing.T) { testReadiness(t, cl) })
	t.Run("GracefulTermination", func(t *testing.T) { testGracefulTermination(t, cl) })
	t.Run("ForceDelete", func(t *testing.T) { testForceDelete(t, cl) })
	t.Run("PreviousLogs", func(t *testing.T) { testPreviousLogs(t, cl) })
	t.Run("Exec", func(t *testing.T) { testExec(t, cl) })
	t.Run("PortForward", func(t *testing.T) { testPortForward(t, cl) })
	t.Run("ConfigMap", func(t *testing.T) { testConfigMap(t, cl) })
	t.Run("MissingConfigMap", func(t *testing.T) { testMissingConfigMap(t, cl) })
	t.Run("Metrics", func(t *testing.T) { testMetrics(t, cl) })
}

func testNode(t *testing.T, cl *cluster) {
	ctx := testutil.Context(t)
	var node *corev1.Node
	testutil.Eventually(t, 30*time.Second, func() bool {
		n, err := cl.c.Nodes().Get(ctx, "", "node-1")
		node = n
		return err == nil && conditionStatus(n.GetStatus().GetConditions(), condReady) == "True"
	}, "node-1 Ready")
	m := node.GetMetadata()
	for k, v := range map[string]string{"kubernetes.io/hostname": "node-1", "kubernetes.io/os": "linux"} {
		if m.GetLabels()[k] != v {
			t.Errorf("label %s = %q, want %q", k, m.GetLabels()[k], v)
		}
	}
	if node.GetSpec().GetPodCidr() != "10.244.1.0/24" {
		t.Errorf("podCIDR = %q, want the --pod-cidr 10.244.1.0/24", node.GetSpec().GetPodCidr())
	}
	st := node.GetStatus()
	if got := st.GetDaemonEndpoints().GetKubeletEndpoint().GetPort(); int(got) != cl.k.grpcPort {
		t.Errorf("kubelet port = %d, want %d", got, cl.k.grpcPort)
	}
	addrs := map[string]string{}
	for _, a := range st.GetAddresses() {
		addrs[a.GetType()] = a.GetAddress()
	}
	if addrs["InternalIP"] != "127.0.0.1" || addrs["Hostname"] != "node-1" {
		t.Errorf("addresses = %v", addrs)
	}
	for _, r := range []string{"cpu", "memory", "pods"} {
		if st.GetCapacity()[r] == "" || st.GetAllocatable()[r] == "" {
			t.Errorf("capacity/allocatable %s missing: %v / %v", r, st.GetCapacity(), st.GetAllocatable())
		}
	}
	if st.GetCapacity()["pods"] != "110" {
		t.Errorf("pods capacity = %q, want 110", st.GetCapacity()["pods"])
	}
	for _, c := range []string{condMemoryPressure, condDiskPressure, condPIDPressure} {
		cond := findCondition(st.GetConditions(), c)
		if cond == nil || cond.GetLastHeartbeatTime() == nil || cond.GetLastTransitionTime() == nil {
			t.Errorf("condition %s missing or without times: %v", c, cond)
		}
	}
	if st.GetNodeInfo().GetKubeletVersion() != Version || st.GetNodeInfo().GetContainerRuntimeVersion() != "process://"+Version {
		t.Errorf("nodeInfo = %v", st.GetNodeInfo())
	}
	// The lease is renewed every heartbeat interval (1s here).
	// The Node is registered before the first lease is written.
	var l1 *coordinationv1.Lease
	testutil.Eventually(t, 20*time.Second, func() bool {
		l, err := cl.c.Leases().Get(ctx, NodeLeaseNamespace, "node-1")
		l1 = l
		return err == nil
	}, "node lease created")
	if l1.GetSpec().GetHolderIdentity() != "node-1" || l1.GetSpec().GetLeaseDurationSeconds() != leaseDurationSeconds {
		t.Errorf("lease spec = %v", l1.GetSpec())
	}
	testutil.Eventually(t, 20*time.Second, func() bool {
		l2, err := cl.c.Leases().Get(ctx, NodeLeaseNamespace, "node-1")
		return err == nil && l2.GetSpec().GetRenewTime().AsTime().After(l1.GetSpec().GetRenewTime().AsTime())
	}, "lease renewed")
}

// An image that is one static binary runs from its unpacked root
// filesystem as a host process, with the image's Env (VERSION=v2).
func testImageEntrypoint(t *testing.T, cl *cluster) {
	createPod(t, cl.c, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "from-image"}, Spec: &corev1.PodSpec{Containers: []*corev1.Container{{
		Name: "app", Image: "coxswain/demo:v2", Args: []string{"--udp=false"},
		Env: []*corev1.EnvVar{fieldEnv("POD_IP", "status.podIP"), fieldEnv("POD_NAME", "metadata.name")},
	}}}}, "node-1")
	p := waitPod(t, cl.c, "from-image", 60*time.Second, "running", podRunning)
	waitServing(t, p.GetStatus().GetPodIp())
	if _, body, err := httpGet("http://" + p.GetStatus().GetPodIp() + ":8080/"); err != nil || !strings.HasPrefix(body, "v2 from-image "+p.GetStatus().GetPodIp()) {
		t.Errorf("GET / = %q %v", body, err)
	}
	if id := firstStatus(p).GetImageId(); !strings.HasPrefix(id, "index.docker.io/coxswain/demo@sha256:") {
		t.Errorf("imageID = %q", id)
	}
	evs := strings.Join(podEvents(t, cl.c, "from-image"), "\n")
	if !strings.Contains(evs, `Pulled: Container image "coxswain/demo:v2" already present on machine`) {
		t.Errorf("events lack Pulled:\n%s", evs)
	}
	// Never pull an image that is not there.
	createPod(t, cl.c, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "never"}, Spec: &corev1.PodSpec{Containers: []*corev1.Container{{
		Name: "app", Image: "coxswain/absent:v1", ImagePullPolicy: "Never",
	}}}}, "node-1")
	p = waitPod(t, cl.c, "never", 30*time.Second, "ErrImageNeverPull", func(p *corev1.Pod) bool {
		return firstStatus(p).GetState().GetWaiting().GetReason() == "ErrImageNeverPull"
	})
	if msg := firstStatus(p).GetState().GetWaiting().GetMessage(); msg != `Container image "coxswain/absent:v1" is not present with pull policy of Never` {
		t.Errorf("message = %q", msg)
	}
	deletePod(t, cl.c, "from-image", 5)
	deletePod(t, cl.c, "never", 1)
}

func testThreeReplicas(t *testing.T, cl *cluster) {
	names := []string{"web-a", "web-b", "web-c"}
	probe := &corev1.Probe{HttpGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intStr("http")}, PeriodSeconds: 1}
	for _, n := range names {
		createPod(t, cl.c, demoPod(t, n, func(p *corev1.Pod) { p.Spec.Containers[0].ReadinessProbe = probe }), "node-1")
	}
	ips := map[string]bool{}
	for _, n := range names {
		p := waitPod(t, cl.c, n, 60*time.Second, "running and ready", podRunningReady)
		st := p.GetStatus()
		ip, err := netip.ParseAddr(st.GetPodIp())
		if err != nil || !netip.MustParsePrefix("127.244.1.0/24").Contains(ip) {
			t.Errorf("%s: podIP %q not in the loopback range of 10.244.1.0/24", n, st.GetPodIp())
		}
		if ips[st.GetPodIp()] {
			t.Errorf("%s: podIP %s is shared", n, st.GetPodIp())
		}
		ips[st.GetPodIp()] = true
		if len(st.GetPodIps()) != 1 || st.GetPodIps()[0].GetIp() != st.GetPodIp() || st.GetHostIp() != "127.0.0.1" || st.GetStartTime() == nil {
			t.Errorf("%s: podIPs/hostIP/startTime = %v %q %v", n, st.GetPodIps(), st.GetHostIp(), st.GetStartTime())
		}
		for _, c := range []string{condPodScheduled, condInitialized, condContainersReady, condReady} {
			cond := findCondition(st.GetConditions(), c)
			if cond.GetStatus() != "True" || cond.GetLastTransitionTime() == nil {
				t.Errorf("%s: condition %s = %v", n, c, cond)
			}
		}
		cs := st.GetContainerStatuses()
		if len(cs) != 1 || cs[0].GetState().GetRunning() == nil || !cs[0].GetReady() || !cs[0].GetStarted() ||
			cs[0].GetRestartCount() != 0 || !strings.HasPrefix(cs[0].GetContainerId(), "coxswain://") || cs[0].GetImage() != "coxswain/demo:v1" {
			t.Errorf("%s: containerStatuses = %v", n, cs)
		}
		if st.GetQosClass() != "BestEffort" {
			t.Errorf("%s: qosClass = %q", n, st.GetQosClass())
		}
		// Each replica answers on its own IP, same port.
		code, body, err := httpGet("http://" + st.GetPodIp() + ":8080/")
		if err != nil || code != 200 || body != fmt.Sprintf("v1 %s %s node-1\n", n, st.GetPodIp()) {
			t.Errorf("%s: GET / = %d %q %v", n, code, body, err)
		}
	}
	for _, n := range names {
		deletePod(t, cl.c, n, 5)
	}
}

func intStr(s string) *metav1.IntOrString {
	if n, err := strconv.Atoi(s); err == nil {
		return &metav1.IntOrString{Value: &metav1.IntOrString_IntVal{IntVal: int32(n)}}
	}
	return &metav1.IntOrString{Value: &metav1.IntOrString_StrVal{StrVal: s}}
}

// deletePod deletes a pod gracefully and waits until it is gone.
func deletePod(t *testing.T, c *client.Client, name string, grace int64) {
	t.Helper()
	_, err := c.Pods().Delete(context.Background(), &metav1.DeleteRequest{Namespace: "default", Name: name, GracePeriodSeconds: proto.Int64(grace)})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("delete %s: %v", name, err)
	}
	testutil.Eventually(t, time.Duration(grace)*time.Second+30*time.Second, func() bool {
		_, err := c.Pods().Get(context.Background(), "default", name)
		return apierrors.IsNotFound(err)
	}, "pod %s deleted", name)
}

// instance is one terminated container instance seen in a status.
type instance struct{ started, finished time.Time }

func testCrashLoop(t *testing.T, cl *cluster) {
	p := createPod(t, cl.c, shPod("crasher", "echo crashing; exit 3"), "node-1")
	ctx := testutil.Context(t)
	w, err := cl.c.Pods().Watch(ctx, &metav1.ListOptions{Namespace: "default", FieldSelector: "metadata.name=crasher"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	seen := map[time.Time]time.Time{}
	backoffMsg := ""
	deadline := time.Now().Add(90 * time.Second)
	for {
		ev, err := w.Next()
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		cs := ev.Object.GetStatus().GetContainerStatuses()
		if len(cs) == 1 {
			for _, term := range []*corev1.ContainerStateTerminated{cs[0].GetState().GetTerminated(), cs[0].GetLastState().GetTerminated()} {
				if term != nil {
					if term.GetExitCode() != 3 || term.GetReason() != "Error" {
						t.Errorf("terminated = %v, want exit code 3, reason Error", term)
					}
					seen[term.GetStartedAt().AsTime()] = term.GetFinishedAt().AsTime()
				}
			}
			if wt := cs[0].GetState().GetWaiting(); wt.GetReason() == reasonCrashLoopBackOff {
				backoffMsg = wt.GetMessage()
				if ev.Object.GetStatus().GetPhase() != "Running" {
					t.Errorf("phase while in CrashLoopBackOff = %q, want Running", ev.Object.GetStatus().GetPhase())
				}
			}
			if cs[0].GetRestartCount() >= 5 && len(seen) >= 5 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out; instances seen: %d", len(seen))
		}
	}
	wantMsg := fmt.Sprintf("restarting failed container=app pod=crasher_default(%s)", p.Metadata.Uid)
	if !strings.HasPrefix(backoffMsg, "back-off ") || !strings.HasSuffix(backoffMsg, wantMsg) {
		t.Errorf("CrashLoopBackOff message = %q, want back-off <d> %s", backoffMsg, wantMsg)
	}
	var insts []instance
	for s, f := range seen {
		insts = append(insts, instance{s, f})
	}
	sort.Slice(insts, func(i, j int) bool { return insts[i].started.Before(insts[j].started) })
	// Delays: the first restart at once (within a relist), then 1s, 2s, 4s, 4s.
	want := []time.Duration{0, time.Second, 2 * time.Second, 4 * time.Second}
	for i, d := range want {
		got := insts[i+1].started.Sub(insts[i].finished)
		if got < d-50*time.Millisecond || got > d+5*time.Second {
			t.Errorf("restart %d came %v after the exit, want %v (+ at most 5s)", i+1, got, d)
		}
	}
	evs := strings.Join(podEvents(t, cl.c, "crasher"), "\n")
	if !strings.Contains(evs, "BackOff: Back-off restarting failed container app") {
		t.Errorf("no BackOff event in:\n%s", evs)
	}
	deletePod(t, cl.c, "crasher", 1)
}

func testRestartPolicies(t *testing.T, cl *cluster) {
	never := func(p *corev1.Pod) { p.Spec.RestartPolicy = "Never" }
	onFailure := func(p *corev1.Pod) { p.Spec.RestartPolicy = "OnFailure" }
	tests := []struct {
		name       string
		script     string
		mutate     func(*corev1.Pod)
		phase      string
		reason     string
		code       int32
		minRestart int32
	}{
		{"never-ok", "exit 0", never, "Succeeded", "Completed", 0, 0},
		{"never-fail", "exit 4", never, "Failed", "Error", 4, 0},
		{"onfailure-ok", "exit 0", onFailure, "Succeeded", "Completed", 0, 0},
		{"onfailure-retry", "if [ -e $MARK ]; then exit 0; fi; touch $MARK; exit 1", onFailure, "Succeeded", "Completed", 0, 1},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		createPod(t, cl.c, shPod(tc.name, tc.script, tc.mutate, func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []*corev1.EnvVar{{Name: "MARK", Value: filepath.Join(dir, tc.name)}}
		}), "node-1")
	}
	for _, tc := range tests {
		p := waitPod(t, cl.c, tc.name, 60*time.Second, "phase "+tc.phase, func(p *corev1.Pod) bool {
			return p.GetStatus().GetPhase() == tc.phase
		})
		cs := p.GetStatus().GetContainerStatuses()[0]
		term := cs.GetState().GetTerminated()
		if term.GetReason() != tc.reason || term.GetExitCode() != tc.code || cs.GetRestartCount() < tc.minRestart {
			t.Errorf("%s: container status = %v", tc.name, cs)
		}
		if c := findCondition(p.GetStatus().GetConditions(), condReady); c.GetStatus() != "False" {
			t.Errorf("%s: Ready = %v, want False", tc.name, c)
		}
	}
	// A finished pod's sandbox is stopped and its IP released.
	testutil.Eventually(t, 30*time.Second, func() bool {
		w := cl.k.agentList[0].worker("default/never-ok")
		if w == nil {
			return false
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.finished
	}, "never-ok finished")
	for _, tc := range tests {
		deletePod(t, cl.c, tc.name, 1)
	}
}

func testInitContainers(t *testing.T, cl *cluster) {
	dir := t.TempDir()
	mark := filepath.Join(dir, "init-ran")
	p := shPod("with-init", "cat "+mark+"; sleep 1000", func(p *corev1.Pod) {
		p.Spec.InitContainers = []*corev1.Container{
			{Name: "first", Image: "busybox", Command: []string{"/bin/sh", "-c", "echo one > " + mark}},
			{Name: "second", Image: "busybox", Command: []string{"/bin/sh", "-c", "echo two >> " + mark}},
		}
	})
	createPod(t, cl.c, p, "node-1")
	got := waitPod(t, cl.c, "with-init", 60*time.Second, "running", podRunning)
	for _, s := range got.GetStatus().GetInitContainerStatuses() {
		if term := s.GetState().GetTerminated(); term.GetReason() != "Completed" || term.GetExitCode() != 0 {
			t.Errorf("init container %s: %v", s.GetName(), s.GetState())
		}
	}
	if b, _ := os.ReadFile(mark); string(b) != "one\ntwo\n" {
		t.Errorf("init containers ran out of order: %q", b)
	}
	if c := findCondition(got.GetStatus().GetConditions(), condInitialized); c.GetStatus() != "True" {
		t.Errorf("Initialized = %v", c)
	}

	// A failing init container with restartPolicy Never fails the pod;
	// the containers never start.
	createPod(t, cl.c, shPod("init-fails", "sleep 1000", func(p *corev1.Pod) {
		p.Spec.RestartPolicy = "Never"
		p.Spec.InitContainers = []*corev1.Container{{Name: "setup", Image: "busybox", Command: []string{"/bin/sh", "-c", "exit 2"}}}
	}), "node-1")
	failed := waitPod(t, cl.c, "init-fails", 60*time.Second, "Failed", func(p *corev1.Pod) bool { return p.GetStatus().GetPhase() == "Failed" })
	if c := findCondition(failed.GetStatus().GetConditions(), condInitialized); c.GetStatus() != "False" || c.GetReason() != "ContainersNotInitialized" {
		t.Errorf("Initialized = %v", c)
	}
	if w := failed.GetStatus().GetContainerStatuses()[0].GetState().GetWaiting(); w.GetReason() != reasonPodInitializing {
		t.Errorf("app state = %v, want waiting PodInitializing", failed.GetStatus().GetContainerStatuses()[0].GetState())
	}
	deletePod(t, cl.c, "with-init", 1)
	deletePod(t, cl.c, "init-fails", 1)
}

func testLiveness(t *testing.T, cl *cluster) {
	createPod(t, cl.c, demoPod(t, "live", func(p *corev1.Pod) {
		p.Spec.Containers[0].LivenessProbe = &corev1.Probe{HttpGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intStr("8080")},
			PeriodSeconds: 1, FailureThreshold: 2}
		p.Spec.TerminationGracePeriodSeconds = proto.Int64(5)
	}), "node-1")
	p := waitPod(t, cl.c, "live", 60*time.Second, "running", podRunning)
	waitServing(t, p.GetStatus().GetPodIp())
	if err := httpPost("http://" + p.GetStatus().GetPodIp() + ":8080/fail/live"); err != nil {
		t.Fatal(err)
	}
	p = waitPod(t, cl.c, "live", 60*time.Second, "restarted and running", func(p *corev1.Pod) bool {
		return podRunning(p) && p.GetStatus().GetContainerStatuses()[0].GetRestartCount() == 1
	})
	if last := p.GetStatus().GetContainerStatuses()[0].GetLastState().GetTerminated(); last == nil {
		t.Errorf("lastState = %v, want terminated", p.GetStatus().GetContainerStatuses()[0].GetLastState())
	}
	// The new instance is healthy again.
	if code, _, err := httpGet("http://" + p.GetStatus().GetPodIp() + ":8080/healthz"); err != nil || code != 200 {
		t.Errorf("healthz after restart: %d %v", code, err)
	}
	evs := strings.Join(podEvents(t, cl.c, "live"), "\n")
	for _, want := range []string{"Unhealthy: Liveness probe failed: HTTP probe failed with statuscode: 503", "Killing: Container app failed liveness probe, will be restarted"} {
		if !strings.Contains(evs, want) {
			t.Errorf("events lack %q:\n%s", want, evs)
		}
	}
	deletePod(t, cl.c, "live", 5)
}

func testReadiness(t *testing.T, cl *cluster) {
	createPod(t, cl.c, demoPod(t, "ready", func(p *corev1.Pod) {
		p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{HttpGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intStr("http")},
			PeriodSeconds: 1, FailureThreshold: 1}
	}), "node-1")
	p := waitPod(t, cl.c, "ready", 60*time.Second, "ready", podRunningReady)
	ip := p.GetStatus().GetPodIp()
	if err := httpPost("http://" + ip + ":8080/fail/ready"); err != nil {
		t.Fatal(err)
	}
	p = waitPod(t, cl.c, "ready", 30*time.Second, "not ready", func(p *corev1.Pod) bool {
		return conditionStatus(p.GetStatus().GetConditions(), condReady) == "False"
	})
	cs := p.GetStatus().GetContainerStatuses()[0]
	if cs.GetReady() || cs.GetState().GetRunning() == nil || cs.GetRestartCount() != 0 || p.GetStatus().GetPhase() != "Running" {
		t.Errorf("unready container status = %v", cs)
	}
	if c := findCondition(p.GetStatus().GetConditions(), condContainersReady); c.GetStatus() != "False" || c.GetReason() != "ContainersNotReady" {
		t.Errorf("ContainersReady = %v", c)
	}
	if err := httpPost("http://" + ip + ":8080/recover"); err != nil {
		t.Fatal(err)
	}
	waitPod(t, cl.c, "ready", 30*time.Second, "ready again", podRunningReady)
	deletePod(t, cl.c, "ready", 5)
}

func testGracefulTermination(t *testing.T, cl *cluster) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		script   string
		grace    int64
		minGone  time.Duration
		wantMark string
	}{
		// Handles SIGTERM, takes 2s to finish, exits.
		{"term-handler", `trap 'echo term >> $MARK; sleep 2; echo exited >> $MARK; exit 0' TERM; echo $$$$ > $MARK.pid; while true; do sleep 0.1; done`, 30, 2 * time.Second, "term\nexited\n"},
		// Ignores SIGTERM: killed when the 2s grace period ends.
		{"term-ignorer", `trap '' TERM; echo $$$$ > $MARK.pid; while true; do sleep 0.1; done`, 2, 2 * time.Second, ""},
	}
	for _, tc := range tests {
		mark := filepath.Join(dir, tc.name)
		createPod(t, cl.c, shPod(tc.name, tc.script, func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []*corev1.EnvVar{{Name: "MARK", Value: mark}}
		}), "node-1")
		waitPod(t, cl.c, tc.name, 60*time.Second, "running", podRunning)
		var pid int
		testutil.Eventually(t, 10*time.Second, func() bool {
			b, err := os.ReadFile(mark + ".pid")
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			return err == nil && pid > 0
		}, "pid file")
		start := time.Now()
		if _, err := cl.c.Pods().Delete(context.Background(), &metav1.DeleteRequest{Namespace: "default", Name: tc.name, GracePeriodSeconds: proto.Int64(tc.grace)}); err != nil {
			t.Fatal(err)
		}
		// The object stays (with a deletionTimestamp) while the process lives.
		for {
			_, err := cl.c.Pods().Get(context.Background(), "default", tc.name)
			if apierrors.IsNotFound(err) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if time.Since(start) > time.Duration(tc.grace)*time.Second+30*time.Second {
				t.Fatalf("%s: pod not gone", tc.name)
			}
			time.Sleep(20 * time.Millisecond)
		}
		gone := time.Since(start)
		if gone < tc.minGone {
			t.Errorf("%s: pod object gone after %v, before its process could finish (%v)", tc.name, gone, tc.minGone)
		}
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s: process %d still exists after the pod was deleted (kill 0: %v)", tc.name, pid, err)
		}
		if tc.wantMark != "" {
			if b, _ := os.ReadFile(mark); string(b) != tc.wantMark {
				t.Errorf("%s: marker = %q, want %q (SIGTERM handled before the object went)", tc.name, b, tc.wantMark)
			}
		}
		if tc.name == "term-ignorer" && gone > time.Duration(tc.grace)*time.Second+10*time.Second {
			t.Errorf("%s: killed only after %v, grace was %ds", tc.name, gone, tc.grace)
		}
	}
}

func testForceDelete(t *testing.T, cl *cluster) {
	mark := filepath.Join(t.TempDir(), "pid")
	createPod(t, cl.c, shPod("forced", "echo $$$$ > "+mark+"; exec sleep 1000", func(p *corev1.Pod) {
		p.Spec.TerminationGracePeriodSeconds = proto.Int64(1)
	}), "node-1")
	waitPod(t, cl.c, "forced", 60*time.Second, "running", podRunning)
	var pid int
	testutil.Eventually(t, 10*time.Second, func() bool {
		b, err := os.ReadFile(mark)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0
	}, "pid file")
	if _, err := cl.c.Pods().Delete(context.Background(), &metav1.DeleteRequest{Namespace: "default", Name: "forced", GracePeriodSeconds: proto.Int64(0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.c.Pods().Get(context.Background(), "default", "forced"); !apierrors.IsNotFound(err) {
		t.Fatalf("force-deleted pod still there: %v", err)
	}
	testutil.Eventually(t, 30*time.Second, func() bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) },
		"process %d of the force-deleted pod killed", pid)
	testutil.Eventually(t, 30*time.Second, func() bool { return cl.k.agentList[0].worker("default/forced") == nil },
		"pod record forgotten")
}

func testPreviousLogs(t *testing.T, cl *cluster) {
	createPod(t, cl.c, demoPod(t, "logs"), "node-1")
	p := waitPod(t, cl.c, "logs", 60*time.Second, "running", podRunning)
	waitServing(t, p.GetStatus().GetPodIp())
	if _, _, err := httpGet("http://" + p.GetStatus().GetPodIp() + ":8080/exit?code=3"); err != nil {
		t.Fatal(err)
	}
	waitPod(t, cl.c, "logs", 60*time.Second, "restarted", func(p *corev1.Pod) bool {
		return podRunning(p) && p.GetStatus().GetContainerStatuses()[0].GetRestartCount() == 1
	})
	kc, ctx := kubeletClient(t, cl.k, testToken)
	logs := func(o *corev1.PodLogOptions) string {
		t.Helper()
		o.Namespace, o.Name = "default", "logs"
		s, err := kc.Logs(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		out, err := readLogs(s.Recv)
		if err != nil {
			t.Fatalf("logs %v: %v", o, err)
		}
		return out
	}
	prev := logs(&corev1.PodLogOptions{Previous: true})
	if !strings.Contains(prev, "exiting on request") || !strings.Contains(prev, "listening") {
		t.Errorf("previous log lacks the first instance's lines:\n%s", prev)
	}
	cur := ""
	testutil.Eventually(t, 10*time.Second, func() bool {
		cur = logs(&corev1.PodLogOptions{})
		return strings.Contains(cur, "listening")
	}, "current log")
	if strings.Contains(cur, "exiting on request") {
		t.Errorf("current log has the previous instance's lines:\n%s", cur)
	}
	if got := logs(&corev1.PodLogOptions{Previous: true, TailLines: proto.Int64(1)}); strings.Count(got, "\n") != 1 || !strings.Contains(got, "stopped") && !strings.Contains(got, "exiting") {
		t.Errorf("tailLines=1 = %q", got)
	}
	ts := logs(&corev1.PodLogOptions{Previous: true, Timestamps: true})
	for _, line := range strings.Split(strings.TrimSpace(ts), "\n") {
		stamp, _, _ := strings.Cut(line, " ")
		if _, err := time.Parse(time.RFC3339Nano, stamp); err != nil {
			t.Errorf("timestamps: line %q does not start with a timestamp", line)
		}
	}
	if got := logs(&corev1.PodLogOptions{Previous: true, LimitBytes: proto.Int64(10)}); len(got) != 10 {
		t.Errorf("limitBytes=10 gave %d bytes: %q", len(got), got)
	}
	// Through the apiserver, and follow: a request shows up in a followed log.
	fctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fs, err := cl.c.PodStreams().Logs(fctx, &corev1.PodLogOptions{Namespace: "default", Name: "logs", Follow: true, SinceSeconds: proto.Int64(3600)})
	if err != nil {
		t.Fatal(err)
	}
	p, _ = cl.c.Pods().Get(context.Background(), "default", "logs")
	waitServing(t, p.GetStatus().GetPodIp())
	go func() {
		time.Sleep(500 * time.Millisecond)
		_, _, _ = httpGet("http://" + p.GetStatus().GetPodIp() + ":8080/echo?msg=x")
	}()
	var got bytes.Buffer
	for !strings.Contains(got.String(), "path=/echo") {
		ch, err := fs.Recv()
		if err != nil {
			t.Fatalf("follow: %v (got %q)", err, got.String())
		}
		got.Write(ch.GetData())
	}
	cancel()
	deletePod(t, cl.c, "logs", 5)
}

func testExec(t *testing.T, cl *cluster) {
	createPod(t, cl.c, shPod("exec", "exec sleep 1000", func(p *corev1.Pod) {
		p.Spec.Containers[0].Env = []*corev1.EnvVar{fieldEnv("POD_NAME", "metadata.name")}
	}), "node-1")
	waitPod(t, cl.c, "exec", 60*time.Second, "running", podRunning)
	type result struct {
		stdout, stderr string
		code           int32
	}
	run := func(t *testing.T, stream interface {
		Send(*corev1.ExecInput) error
		Recv() (*corev1.ExecOutput, error)
		CloseSend() error
	}, cmd []string, stdin string) result {
		t.Helper()
		o := &corev1.ExecOptions{Namespace: "default", Name: "exec", Command: cmd, Stdout: true, Stderr: true, Stdin: stdin != ""}
		if err := stream.Send(&corev1.ExecInput{Options: o}); err != nil {
			t.Fatal(err)
		}
		if stdin != "" {
			if err := stream.Send(&corev1.ExecInput{Stdin: []byte(stdin)}); err != nil {
				t.Fatal(err)
			}
			if err := stream.Send(&corev1.ExecInput{CloseStdin: true}); err != nil {
				t.Fatal(err)
			}
		}
		var r result
		for {
			out, err := stream.Recv()
			if err != nil {
				t.Fatalf("exec %v: %v", cmd, err)
			}
			r.stdout += string(out.GetStdout())
			r.stderr += string(out.GetStderr())
			if out.GetExited() {
				r.code = out.GetExitCode()
				return r
			}
		}
	}
	tests := []struct {
		name  string
		cmd   []string
		stdin string
		want  result
	}{
		{"exit-code", []string{"/bin/sh", "-c", "echo out; echo err >&2; exit 7"}, "", result{"out\n", "err\n", 7}},
		{"env", []string{"/bin/sh", "-c", "echo $POD_NAME"}, "", result{"exec\n", "", 0}},
		{"stdin", []string{"cat"}, "hello stdin", result{"hello stdin", "", 0}},
	}
	kc, kctx := kubeletClient(t, cl.k, testToken)
	for _, tc := range tests {
		t.Run("kubelet/"+tc.name, func(t *testing.T) {
			s, err := kc.Exec(kctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := run(t, s, tc.cmd, tc.stdin); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
		t.Run("apiserver/"+tc.name, func(t *testing.T) {
			s, err := cl.c.PodStreams().Exec(testutil.Context(t))
			if err != nil {
				t.Fatal(err)
			}
			if got := run(t, s, tc.cmd, tc.stdin); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	// With a terminal: stdin is a tty and output comes through it.
	t.Run("tty", func(t *testing.T) {
		s, err := kc.Exec(kctx)
		if err != nil {
			t.Fatal(err)
		}
		o := &corev1.ExecOptions{Namespace: "default", Name: "exec", Tty: true, Stdin: true, Stdout: true,
			Command: []string{"/bin/sh", "-c", "test -t 0 && echo is-a-tty; exit 3"}}
		if err := s.Send(&corev1.ExecInput{Options: o, Resize: &corev1.TerminalSize{Width: 100, Height: 30}}); err != nil {
			t.Fatal(err)
		}
		var out string
		for {
			m, err := s.Recv()
			if err != nil {
				t.Fatalf("recv: %v (output %q)", err, out)
			}
			out += string(m.GetStdout())
			if m.GetExited() {
				if m.GetExitCode() != 3 || !strings.Contains(out, "is-a-tty") {
					t.Errorf("tty exec: code %d output %q", m.GetExitCode(), out)
				}
				break
			}
		}
	})
	// Without the token the kubelet refuses.
	for _, token := range []string{"", "wrong"} {
		kc, kctx := kubeletClient(t, cl.k, token)
		s, err := kc.Exec(kctx)
		if err == nil {
			_ = s.Send(&corev1.ExecInput{Options: &corev1.ExecOptions{Namespace: "default", Name: "exec", Command: []string{"true"}}})
			_, err = s.Recv()
		}
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("exec with token %q: err = %v, want Unauthenticated", token, err)
		}
	}
	deletePod(t, cl.c, "exec", 1)
}

func testPortForward(t *testing.T, cl *cluster) {
	createPod(t, cl.c, demoPod(t, "pf", func(p *corev1.Pod) {
		p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{TcpSocket: &corev1.TCPSocketAction{Port: intStr("http")}, PeriodSeconds: 1}
	}), "node-1")
	waitPod(t, cl.c, "pf", 60*time.Second, "ready", podRunningReady)
	type pfStream interface {
		Send(*corev1.PortForwardFrame) error
		Recv() (*corev1.PortForwardFrame, error)
	}
	do := func(t *testing.T, s pfStream) {
		t.Helper()
		req := "GET /echo?msg=forwarded HTTP/1.1\r\nHost: pf\r\nConnection: close\r\n\r\n"
		if err := s.Send(&corev1.PortForwardFrame{Namespace: "default", Name: "pf", Port: 8080, Data: []byte(req)}); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		for {
			f, err := s.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("recv: %v (got %q)", err, got.String())
			}
			got.Write(f.GetData())
			if f.GetClose() {
				break
			}
		}
		if !strings.HasPrefix(got.String(), "HTTP/1.1 200 OK") || !strings.HasSuffix(got.String(), "forwarded") {
			t.Errorf("response = %q", got.String())
		}
	}
	t.Run("kubelet", func(t *testing.T) {
		kc, ctx := kubeletClient(t, cl.k, testToken)
		s, err := kc.PortForward(ctx)
		if err != nil {
			t.Fatal(err)
		}
		do(t, s)
	})
	t.Run("apiserver", func(t *testing.T) {
		s, err := cl.c.PodStreams().PortForward(testutil.Context(t))
		if err != nil {
			t.Fatal(err)
		}
		do(t, s)
	})
	deletePod(t, cl.c, "pf", 5)
}

func testConfigMap(t *testing.T, cl *cluster) {
	ctx := testutil.Context(t)
	cm, err := cl.c.ConfigMaps().Create(ctx, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "settings", Namespace: "default"},
		Data: map[string]string{"greeting": "hello", "color": "blue"}})
	if err != nil {
		t.Fatal(err)
	}
	p := createPod(t, cl.c, shPod("cm", "exec sleep 1000", func(p *corev1.Pod) {
		c := p.Spec.Containers[0]
		c.Env = []*corev1.EnvVar{{Name: "GREETING", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Name: "settings", Key: "greeting"}}},
			{Name: "MSG", Value: "$(GREETING) world"}}
		c.EnvFrom = []*corev1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{Name: "settings"}}}
		c.VolumeMounts = []*corev1.VolumeMount{{Name: "conf", MountPath: "/etc/conf"}}
		p.Spec.Volumes = []*corev1.Volume{{Name: "conf", ConfigMap: &corev1.ConfigMapVolumeSource{Name: "settings"}}}
	}), "node-1")
	waitPod(t, cl.c, "cm", 60*time.Second, "running", podRunning)
	kc, kctx := kubeletClient(t, cl.k, testToken)
	s, err := kc.Exec(kctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&corev1.ExecInput{Options: &corev1.ExecOptions{Namespace: "default", Name: "cm", Stdout: true,
		Command: []string{"/bin/sh", "-c", "echo $GREETING/$MSG/$CFG_color"}}}); err != nil {
		t.Fatal(err)
	}
	var out string
	for {
		o, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		out += string(o.GetStdout())
		if o.GetExited() {
			break
		}
	}
	if out != "hello/hello world/blue\n" {
		t.Errorf("env = %q", out)
	}
	// The volume (on the host: the process runtime does not mount) follows updates.
	file := filepath.Join(cl.rootDir, "pods", p.Metadata.Uid, ".volumes", "conf", "greeting")
	if b, err := os.ReadFile(file); err != nil || string(b) != "hello" {
		t.Fatalf("volume file = %q, %v", b, err)
	}
	cm.Data["greeting"] = "bonjour"
	delete(cm.Data, "color")
	if _, err := cl.c.ConfigMaps().Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, func() bool {
		b, err := os.ReadFile(file)
		return err == nil && string(b) == "bonjour"
	}, "volume updated")
	testutil.Eventually(t, 10*time.Second, func() bool {
		_, err := os.Lstat(filepath.Join(filepath.Dir(file), "color"))
		return errors.Is(err, os.ErrNotExist)
	}, "removed key gone from the volume")
	deletePod(t, cl.c, "cm", 1)
}

func testMissingConfigMap(t *testing.T, cl *cluster) {
	createPod(t, cl.c, shPod("nocm", "exec sleep 1000", func(p *corev1.Pod) {
		p.Spec.Containers[0].Env = []*corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Name: "absent", Key: "x"}}}}
	}), "node-1")
	p := waitPod(t, cl.c, "nocm", 60*time.Second, "CreateContainerConfigError", func(p *corev1.Pod) bool {
		cs := p.GetStatus().GetContainerStatuses()
		return len(cs) == 1 && cs[0].GetState().GetWaiting().GetReason() == reasonConfigError
	})
	if msg := p.GetStatus().GetContainerStatuses()[0].GetState().GetWaiting().GetMessage(); msg != `configmap "absent" not found` {
		t.Errorf("message = %q", msg)
	}
	if p.GetStatus().GetPhase() != "Pending" {
		t.Errorf("phase = %q, want Pending", p.GetStatus().GetPhase())
	}
	// Creating the ConfigMap lets the container start.
	if _, err := cl.c.ConfigMaps().Create(context.Background(), &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "absent", Namespace: "default"},
		Data: map[string]string{"x": "1"}}); err != nil {
		t.Fatal(err)
	}
	waitPod(t, cl.c, "nocm", 30*time.Second, "running", podRunning)
	deletePod(t, cl.c, "nocm", 1)
}

func testMetrics(t *testing.T, cl *cluster) {
	code, body, err := httpGet("http://" + cl.k.HTTPAddr() + "/metrics")
	if err != nil || code != 200 {
		t.Fatalf("GET /metrics: %d %v", code, err)
	}
	for _, m := range []string{"kubelet_pod_start_sli_duration_seconds_count", "kubelet_running_pods", "kubelet_running_containers",
		"kubelet_restart_count_total", `prober_probe_total{probe_type="Liveness",result="failed"}`, `prober_probe_total{probe_type="Readiness",result="successful"}`,
		`kubelet_runtime_operations_duration_seconds_count{operation_type="start_container"}`, `workqueue_adds_total{name="kubelet"}`} {
		if !strings.Contains(body, m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	if code, body, err := httpGet("http://" + cl.k.HTTPAddr() + "/healthz"); err != nil || code != 200 || body != "ok" {
		t.Errorf("/healthz = %d %q %v", code, body, err)
	}
}

// A restarted kubelet (same root directory) picks its pods up again: a
// running container comes back counting one restart, a completed pod of a
// Never policy is not run again, and the Node is re-registered.
func TestKubeletRestart(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("needs /bin/sh for the test workloads")
	}
	cl := startCluster(t, nil)
	runs := filepath.Join(t.TempDir(), "runs")
	createPod(t, cl.c, shPod("survivor", "exec sleep 1000"), "node-1")
	createPod(t, cl.c, shPod("once", "echo ran >> "+runs, func(p *corev1.Pod) { p.Spec.RestartPolicy = "Never" }), "node-1")
	waitPod(t, cl.c, "survivor", 60*time.Second, "running", podRunning)
	waitPod(t, cl.c, "once", 60*time.Second, "Succeeded", func(p *corev1.Pod) bool { return p.GetStatus().GetPhase() == "Succeeded" })
	cl.stop()

	k2, _ := runKubelet(t, cl.cfg)
	p := waitPod(t, cl.c, "survivor", 60*time.Second, "running again", func(p *corev1.Pod) bool {
		return podRunning(p) && firstStatus(p).GetRestartCount() == 1
	})
	if firstStatus(p).GetLastState().GetTerminated() == nil {
		t.Errorf("lastState = %v, want the instance the restart stopped", firstStatus(p).GetLastState())
	}
	ctx := testutil.Context(t)
	testutil.Eventually(t, 30*time.Second, func() bool {
		n, err := cl.c.Nodes().Get(ctx, "", "node-1")
		return err == nil && int(n.GetStatus().GetDaemonEndpoints().GetKubeletEndpoint().GetPort()) == k2.grpcPort
	}, "node reports the new kubelet's port")
	time.Sleep(2 * time.Second)
	if p, err := cl.c.Pods().Get(ctx, "default", "once"); err != nil || p.GetStatus().GetPhase() != "Succeeded" {
		t.Errorf("completed pod after restart: %v %v", p.GetStatus(), err)
	}
	if b, _ := os.ReadFile(runs); string(b) != "ran\n" {
		t.Errorf("the Never pod ran again: %q", b)
	}
}
