//go:build linux

package kubelet

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/coxswain/coxswain/pkg/image"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime/runtimetest"
	"github.com/coxswain/coxswain/pkg/testutil"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

var (
	nativeOnce   sync.Once
	nativeReason string
	nativeSeq    atomic.Int64
)

// requireNative skips unless the test can create network namespaces and
// mounts (root on Linux).
func requireNative(t testing.TB) {
	t.Helper()
	nativeOnce.Do(func() {
		if os.Geteuid() != 0 {
			nativeReason = "the native runtime needs root (namespaces, mounts, netlink, cgroups)"
			return
		}
		p := filepath.Join(os.TempDir(), fmt.Sprintf("kubelet-netns-probe-%d", os.Getpid()))
		if err := newNetNS(p); err != nil {
			nativeReason = fmt.Sprintf("cannot create network namespaces here: %v", err)
			return
		}
		removeNetNS(p)
	})
	if nativeReason != "" {
		t.Skip(nativeReason)
	}
}

// newNetNS creates a network namespace bind-mounted at path, with lo up.
func newNetNS(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return err
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		src := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		if err := unix.Mount(src, path, "", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("bind mount: %w", err)
			return
		}
		// lo up: a socket ioctl in this namespace.
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		ifr, err := unix.NewIfreq("lo")
		if err != nil {
			errc <- err
			return
		}
		if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
			errc <- err
			return
		}
		ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
		errc <- unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
	}()
	if err := <-errc; err != nil {
		removeNetNS(path)
		return err
	}
	return nil
}

func removeNetNS(path string) {
	_ = unix.Unmount(path, unix.MNT_DETACH)
	_ = os.Remove(path)
}

// nativeCluster starts an apiserver and a native-runtime kubelet whose node
// network is a private namespace (the host network is not touched).
func nativeCluster(t testing.TB, mutate func(*Config)) (*cluster, string) {
	t.Helper()
	requireNative(t)
	nodeNS := filepath.Join(t.TempDir(), "node-netns")
	if err := newNetNS(nodeNS); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeNetNS(nodeNS) })
	api := testutil.StartAPIServer(t)
	cl := &cluster{api: api, c: api.Client}
	cl.cfg = Config{
		APIServer: api.Addr, NodeName: "native-1", NodeIP: "127.0.0.1",
		ListenAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", RootDir: t.TempDir(),
		Runtime: RuntimeNative, PodCIDR: "10.245.1.0/24", NativeNodeNetNS: nodeNS,
		NativeCgroupRoot: fmt.Sprintf("coxswain-kubelet-test-%d-%d", os.Getpid(), nativeSeq.Add(1)),
		ImageTarballs:    []string{demoTarball(t)}, ClusterDNS: []string{"10.96.0.10"},
		HeartbeatInterval: time.Second, Logger: testutil.Logger(),
		BackoffInitial: time.Second, BackoffMax: 4 * time.Second, BackoffReset: time.Minute,
	}
	if mutate != nil {
		mutate(&cl.cfg)
	}
	cl.rootDir = cl.cfg.RootDir
	// After the kubelet stopped (cleanups run last-in first-out): sandboxes
	// left behind keep their netns mounts and cgroups; remove them.
	t.Cleanup(func() { cleanupNative(cl.cfg.RootDir, cl.cfg.NativeCgroupRoot) })
	cl.k, cl.stop = runKubelet(t, cl.cfg)
	return cl, nodeNS
}

func cleanupNative(rootDir, cgroupRoot string) {
	ents, _ := filepath.Glob(filepath.Join(rootDir, "native", "sandboxes", "*", "netns"))
	for _, p := range ents {
		_ = unix.Unmount(p, unix.MNT_DETACH)
	}
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		ctrl := strings.TrimPrefix(parts[1], "name=")
		base := filepath.Join("/sys/fs/cgroup", ctrl)
		if ctrl == "" {
			base = "/sys/fs/cgroup/unified"
			if _, err := os.Stat(base); err != nil {
				base = "/sys/fs/cgroup"
			}
		}
		root := filepath.Join(base, parts[2], cgroupRoot)
		var dirs []string
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			_ = unix.Rmdir(dirs[i])
		}
	}
}

// nsHTTP is an HTTP client that connects from the node's namespace.
func nsHTTP(nodeNS string) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialInNetNS(ctx, nodeNS, network, addr)
		}}}
}

func nsGet(nodeNS, url string) (int, string, error) {
	resp, err := nsHTTP(nodeNS).Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// imagePod runs an image's entrypoint with the demo's environment.
func imagePod(name, img string, mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: name},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{
			Name: "app", Image: img,
			Env:            []*corev1.EnvVar{fieldEnv("POD_IP", "status.podIP"), fieldEnv("POD_NAME", "metadata.name"), fieldEnv("NODE_NAME", "spec.nodeName")},
			Ports:          []*corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			ReadinessProbe: &corev1.Probe{HttpGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intStr("http")}, PeriodSeconds: 1},
		}}},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func TestNativeRuntime(t *testing.T) {
	requireNative(t)
	armBin := runtimetest.BuildTestBin(t, runtimetest.ForeignArch())
	armImg, err := image.BuildFromBinary(armBin, image.BuildOptions{Path: "/testbin", Platform: "linux/" + runtimetest.ForeignArch(), Cmd: []string{"sleep", "1000"}})
	if err != nil {
		t.Fatal(err)
	}
	armTar := filepath.Join(t.TempDir(), "arm.tar")
	if err := image.WriteTarball(armTar, map[string]v1.Image{"coxswain/x:arm": armImg}); err != nil {
		t.Fatal(err)
	}
	// Two plain-HTTP registries: the first is listed as insecure, the second is not.
	insecureReg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer insecureReg.Close()
	strictReg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer strictReg.Close()
	insecureHost := strings.TrimPrefix(insecureReg.URL, "http://")
	strictHost := strings.TrimPrefix(strictReg.URL, "http://")
	demoImg, err := image.BuildFromBinary(demoBinary(t), image.BuildOptions{Path: "/demo", Env: []string{"VERSION=v9"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{insecureHost, strictHost} {
		ref, err := name.ParseReference(host+"/coxswain/demo:v9", name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, demoImg); err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
	}

	cl, nodeNS := nativeCluster(t, func(c *Config) {
		c.ImageTarballs = append(c.ImageTarballs, armTar)
		c.InsecureRegistries = []string{insecureHost}
	})

	t.Run("DemoFromTarball", func(t *testing.T) {
		createPod(t, cl.c, imagePod("demo-a", "coxswain/demo:v1"), "native-1")
		createPod(t, cl.c, imagePod("demo-b", "coxswain/demo:v2"), "native-1")
		for _, n := range []string{"demo-a", "demo-b"} {
			p := waitPod(t, cl.c, n, 90*time.Second, "ready", podRunningReady)
			ip := p.GetStatus().GetPodIp()
			if a, err := netip.ParseAddr(ip); err != nil || !netip.MustParsePrefix("10.245.1.0/24").Contains(a) {
				t.Errorf("%s: pod IP %q not in the pod CIDR", n, ip)
			}
			version := "v1"
			if n == "demo-b" {
				version = "v2"
			}
			code, body, err := nsGet(nodeNS, "http://"+ip+":8080/")
			if err != nil || code != 200 || body != fmt.Sprintf("%s %s %s native-1\n", version, n, ip) {
				t.Errorf("%s: GET / = %d %q %v", n, code, body, err)
			}
			// Its own UTS namespace: the hostname is the pod name.
			if _, body, err := nsGet(nodeNS, "http://"+ip+":8080/hostname"); err != nil || strings.TrimSpace(body) != n {
				t.Errorf("%s: hostname = %q %v", n, body, err)
			}
			cs := p.GetStatus().GetContainerStatuses()[0]
			if !strings.Contains(cs.GetImageId(), "@sha256:") {
				t.Errorf("%s: imageID = %q", n, cs.GetImageId())
			}
		}
		// Port-forward reaches the pod through the node's bridge.
		kc, ctx := kubeletClient(t, cl.k, "")
		s, err := kc.PortForward(ctx)
		if err != nil {
			t.Fatal(err)
		}
		req := "GET /echo?msg=native HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
		if err := s.Send(&corev1.PortForwardFrame{Namespace: "default", Name: "demo-a", Port: 8080, Data: []byte(req)}); err != nil {
			t.Fatal(err)
		}
		var got strings.Builder
		for {
			f, err := s.Recv()
			if err != nil {
				break
			}
			got.Write(f.GetData())
			if f.GetClose() {
				break
			}
		}
		if !strings.HasPrefix(got.String(), "HTTP/1.1 200 OK") || !strings.HasSuffix(got.String(), "native") {
			t.Errorf("port-forward response = %q", got.String())
		}
		deletePod(t, cl.c, "demo-a", 5)
		deletePod(t, cl.c, "demo-b", 5)
	})

	t.Run("OOMKilled", func(t *testing.T) {
		createPod(t, cl.c, imagePod("hog", "coxswain/demo:v1", func(p *corev1.Pod) {
			p.Spec.RestartPolicy = "Never"
			p.Spec.Containers[0].Resources = &corev1.ResourceRequirements{Limits: map[string]string{"memory": "48Mi"}}
		}), "native-1")
		p := waitPod(t, cl.c, "hog", 90*time.Second, "ready", podRunningReady)
		_, _, _ = nsGet(nodeNS, "http://"+p.GetStatus().GetPodIp()+":8080/alloc?mb=200")
		p = waitPod(t, cl.c, "hog", 60*time.Second, "OOMKilled", func(p *corev1.Pod) bool {
			return firstStatus(p).GetState().GetTerminated().GetReason() == "OOMKilled"
		})
		term := p.GetStatus().GetContainerStatuses()[0].GetState().GetTerminated()
		if term.GetExitCode() != 137 || p.GetStatus().GetPhase() != "Failed" {
			t.Errorf("OOM status: phase %q, terminated %v", p.GetStatus().GetPhase(), term)
		}
		if p.GetStatus().GetQosClass() != "Burstable" {
			t.Errorf("qosClass = %q", p.GetStatus().GetQosClass())
		}
		deletePod(t, cl.c, "hog", 1)
	})

	t.Run("RegistryPull", func(t *testing.T) {
		createPod(t, cl.c, imagePod("pulled", insecureHost+"/coxswain/demo:v9"), "native-1")
		p := waitPod(t, cl.c, "pulled", 90*time.Second, "ready", podRunningReady)
		if _, body, err := nsGet(nodeNS, "http://"+p.GetStatus().GetPodIp()+":8080/"); err != nil || !strings.HasPrefix(body, "v9 pulled ") {
			t.Errorf("GET / = %q %v", body, err)
		}
		evs := strings.Join(podEvents(t, cl.c, "pulled"), "\n")
		for _, want := range []string{"Pulling: Pulling image", "Pulled: Successfully pulled image", "Created: Created container app", "Started: Started container app"} {
			if !strings.Contains(evs, want) {
				t.Errorf("events lack %q:\n%s", want, evs)
			}
		}
		deletePod(t, cl.c, "pulled", 5)
	})

	t.Run("MissingImage", func(t *testing.T) {
		createPod(t, cl.c, imagePod("missing", insecureHost+"/coxswain/demo:nothere"), "native-1")
		seen := map[string]string{}
		waitPod(t, cl.c, "missing", 60*time.Second, "ErrImagePull then ImagePullBackOff", func(p *corev1.Pod) bool {
			if w := firstStatus(p).GetState().GetWaiting(); w != nil {
				seen[w.GetReason()] = w.GetMessage()
			}
			return seen["ErrImagePull"] != "" && seen[reasonImagePullBackOff] != ""
		})
		for _, r := range []string{"ErrImagePull", reasonImagePullBackOff} {
			if !strings.Contains(strings.ToUpper(seen[r]), "MANIFEST_UNKNOWN") {
				t.Errorf("%s message %q lacks the registry's MANIFEST_UNKNOWN", r, seen[r])
			}
		}
		deletePod(t, cl.c, "missing", 1)
	})

	t.Run("PlainHTTPRefused", func(t *testing.T) {
		createPod(t, cl.c, imagePod("strict", strictHost+"/coxswain/demo:v9"), "native-1")
		p := waitPod(t, cl.c, "strict", 60*time.Second, "ErrImagePull", func(p *corev1.Pod) bool {
			r := firstStatus(p).GetState().GetWaiting().GetReason()
			return r == "ErrImagePull" || r == reasonImagePullBackOff
		})
		if msg := firstStatus(p).GetState().GetWaiting().GetMessage(); !strings.Contains(msg, "insecure-registries") {
			t.Errorf("message %q does not say the registry is not insecure", msg)
		}
		deletePod(t, cl.c, "strict", 1)
	})

	t.Run("ExecFormatError", func(t *testing.T) {
		createPod(t, cl.c, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "arm"},
			Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app", Image: "coxswain/x:arm"}}}}, "native-1")
		p := waitPod(t, cl.c, "arm", 60*time.Second, "CrashLoopBackOff", func(p *corev1.Pod) bool {
			return firstStatus(p).GetState().GetWaiting().GetReason() == reasonCrashLoopBackOff
		})
		last := p.GetStatus().GetContainerStatuses()[0].GetLastState().GetTerminated()
		want := fmt.Sprintf("exec format error: image coxswain/x:arm is linux/%s, node is linux/%s", runtimetest.ForeignArch(), goruntime.GOARCH)
		if last.GetReason() != "StartError" || last.GetMessage() != want {
			t.Errorf("last state = %v, want StartError with message %q", last, want)
		}
		deletePod(t, cl.c, "arm", 1)
	})
}

// BenchmarkNativePodStart measures, on the native runtime with the demo
// image pre-loaded, the time from binding a pod to observing it Running
// through a watch, for 50 pods: bound one at a time (sequential) and all at
// once (burst). It reports p50 and p99 in milliseconds.
func BenchmarkNativePodStart(b *testing.B) {
	cl, _ := nativeCluster(b, func(c *Config) { c.HeartbeatInterval = 10 * time.Second })
	for _, mode := range []string{"sequential", "burst"} {
		b.Run(mode, func(b *testing.B) {
			var lat []time.Duration
			b.StopTimer()
			for iter := range b.N {
				lat = append(lat, startPods(b, cl, fmt.Sprintf("%s-%d", mode, iter), 50, mode == "burst")...)
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
			b.ReportMetric(pct(0.50).Seconds()*1000, "p50-ms")
			b.ReportMetric(pct(0.99).Seconds()*1000, "p99-ms")
		})
	}
}

// startPods creates n pods, binds them (all at once, or each after the
// previous one runs) and returns each one's bind-to-Running latency; then
// deletes them.
func startPods(b *testing.B, cl *cluster, prefix string, n int, burst bool) []time.Duration {
	ctx := context.Background()
	w, err := cl.c.Pods().Watch(ctx, &metav1.ListOptions{Namespace: "default", FieldSelector: "spec.nodeName=native-1"})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	events := make(chan *corev1.Pod, 1024)
	go func() {
		for {
			ev, err := w.Next()
			if err != nil {
				close(events)
				return
			}
			events <- ev.Object
		}
	}()
	created := make([]*corev1.Pod, 0, n)
	for i := range n {
		p := imagePod(fmt.Sprintf("bench-%s-%d", prefix, i), "coxswain/demo:v1")
		p.Spec.Containers[0].ReadinessProbe = nil
		p.Spec.TerminationGracePeriodSeconds = proto.Int64(1)
		p.Metadata.Namespace = "default"
		out, err := cl.c.Pods().Create(ctx, p)
		if err != nil {
			b.Fatal(err)
		}
		created = append(created, out)
	}
	bound := map[string]time.Time{}
	var lat []time.Duration
	running := map[string]bool{}
	waitRunning := func(want int) {
		deadline := time.After(3 * time.Minute)
		for len(running) < want {
			select {
			case p, ok := <-events:
				if !ok {
					b.Fatal("watch ended")
				}
				name := p.GetMetadata().GetName()
				if t0, ok := bound[name]; ok && !running[name] && p.GetStatus().GetPhase() == "Running" {
					running[name] = true
					lat = append(lat, time.Since(t0))
				}
			case <-deadline:
				b.Fatalf("only %d/%d pods Running", len(running), want)
			}
		}
	}
	b.StartTimer()
	for i, p := range created {
		bound[p.Metadata.Name] = time.Now()
		if _, err := cl.c.Bind(ctx, "default", p.Metadata.Name, p.Metadata.Uid, "native-1"); err != nil {
			b.Fatal(err)
		}
		if !burst {
			waitRunning(i + 1)
		}
	}
	waitRunning(n)
	b.StopTimer()
	for _, p := range created {
		_, _ = cl.c.Pods().Delete(ctx, &metav1.DeleteRequest{Namespace: "default", Name: p.Metadata.Name, GracePeriodSeconds: proto.Int64(1)})
	}
	for {
		left, _, _ := cl.c.Pods().List(ctx, &metav1.ListOptions{Namespace: "default"})
		if len(left) == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	return lat
}
