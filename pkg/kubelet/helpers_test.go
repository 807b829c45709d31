package kubelet

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/coxswain/coxswain/pkg/apiserver"
	"github.com/coxswain/coxswain/pkg/client"
	"github.com/coxswain/coxswain/pkg/demo"
	"github.com/coxswain/coxswain/pkg/kubelet/runtime/native"
	"github.com/coxswain/coxswain/pkg/testutil"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	kubeletv1 "github.com/coxswain/coxswain/proto/coxswain/kubelet/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

var (
	buildDir  string
	demoOnce  sync.Once
	demoBin   string
	demoErr   error
	testToken = "s3cret-kubelet-token"
)

func TestMain(m *testing.M) {
	native.Init()
	var err error
	if buildDir, err = os.MkdirTemp("", "kubelet-test-bin-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(buildDir)
	os.Exit(code)
}

// demoBinary builds cmd/demo (static) once per test binary.
func demoBinary(t testing.TB) string {
	t.Helper()
	demoOnce.Do(func() {
		demoBin = filepath.Join(buildDir, "demo")
		goBin := filepath.Join(goruntime.GOROOT(), "bin", "go")
		cmd := exec.Command(goBin, "build", "-trimpath", "-o", demoBin, "github.com/coxswain/coxswain/cmd/demo")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			demoErr = fmt.Errorf("build demo: %v\n%s", err, out)
		}
	})
	if demoErr != nil {
		t.Fatal(demoErr)
	}
	return demoBin
}

// cluster is an apiserver plus one kubelet.
type cluster struct {
	api     *testutil.APIServer
	c       *client.Client
	k       *Kubelet
	cfg     Config
	stop    func()
	rootDir string
}

// startCluster starts an apiserver (with the kubelet token) and a kubelet
// on the process runtime unless mutate says otherwise.
func startCluster(t *testing.T, mutate func(*Config)) *cluster {
	t.Helper()
	api := testutil.StartAPIServer(t, func(c *apiserver.Config) { c.KubeletToken = testToken })
	cl := &cluster{api: api, c: api.Client}
	cl.cfg = Config{
		APIServer: api.Addr, NodeName: "node-1", NodeIP: "127.0.0.1",
		ListenAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", RootDir: t.TempDir(),
		Runtime: RuntimeProcess, PodCIDR: "10.244.1.0/24", KubeletToken: testToken,
		HeartbeatInterval: time.Second, Logger: testutil.Logger(),
		BackoffInitial: time.Second, BackoffMax: 4 * time.Second, BackoffReset: time.Minute,
	}
	if mutate != nil {
		mutate(&cl.cfg)
	}
	cl.rootDir = cl.cfg.RootDir
	cl.k, cl.stop = runKubelet(t, cl.cfg)
	return cl
}

func runKubelet(t testing.TB, cfg Config) (*Kubelet, func()) {
	t.Helper()
	k, err := New(cfg)
	if err != nil {
		t.Fatalf("kubelet.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx) }()
	select {
	case <-k.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("kubelet exited: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("kubelet not ready after 60s")
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				t.Errorf("kubelet did not stop within 60s")
			}
		})
	}
	t.Cleanup(stop)
	return k, stop
}

// createPod creates pod in default and binds it to node.
func createPod(t *testing.T, c *client.Client, pod *corev1.Pod, node string) *corev1.Pod {
	t.Helper()
	ctx := testutil.Context(t)
	if pod.Metadata.Namespace == "" {
		pod.Metadata.Namespace = "default"
	}
	out, err := c.Pods().Create(ctx, pod)
	if err != nil {
		t.Fatalf("create pod %s: %v", pod.Metadata.Name, err)
	}
	if node != "" {
		if out, err = c.Bind(ctx, out.Metadata.Namespace, out.Metadata.Name, out.Metadata.Uid, node); err != nil {
			t.Fatalf("bind pod %s: %v", pod.Metadata.Name, err)
		}
	}
	return out
}

// waitPod polls the pod until cond holds.
func waitPod(t testing.TB, c *client.Client, name string, timeout time.Duration, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last *corev1.Pod
	for {
		p, err := c.Pods().Get(context.Background(), "default", name)
		if err == nil {
			last = p
			if cond(p) {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s: timed out after %v waiting for %s; last status: %s", name, timeout, what, statusString(last))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func statusString(p *corev1.Pod) string {
	if p == nil {
		return "<none>"
	}
	return protojson.Format(p.GetStatus())
}

func podRunningReady(p *corev1.Pod) bool {
	return p.GetStatus().GetPhase() == "Running" && conditionStatus(p.GetStatus().GetConditions(), "Ready") == "True"
}

func podRunning(p *corev1.Pod) bool {
	if p.GetStatus().GetPhase() != "Running" {
		return false
	}
	for _, c := range p.GetStatus().GetContainerStatuses() {
		if c.GetState().GetRunning() == nil {
			return false
		}
	}
	return len(p.GetStatus().GetContainerStatuses()) > 0
}

func fieldEnv(name, path string) *corev1.EnvVar {
	return &corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
}

// demoPod is a pod running the demo server on $POD_IP:8080.
func demoPod(t testing.TB, name string, mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "demo"}},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{
			Name: "app", Image: "coxswain/demo:v1", Command: []string{demoBinary(t), "--udp=false"},
			Env:   []*corev1.EnvVar{fieldEnv("POD_IP", "status.podIP"), fieldEnv("POD_NAME", "metadata.name"), fieldEnv("NODE_NAME", "spec.nodeName")},
			Ports: []*corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		}}},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

// shPod is a pod running one shell command.
func shPod(name, script string, mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: name},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{
			Name: "app", Image: "busybox", Command: []string{"/bin/sh", "-c", script},
		}}},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

// httpGet fetches a URL with a short timeout.
func httpGet(url string) (int, string, error) {
	cl := &http.Client{Timeout: 3 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func httpPost(url string) error {
	cl := &http.Client{Timeout: 3 * time.Second}
	resp, err := cl.Post(url, "text/plain", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("POST %s: %s", url, resp.Status)
	}
	return nil
}

// kubeletClient dials the kubelet's KubeletService, presenting token.
func kubeletClient(t *testing.T, k *Kubelet, token string) (kubeletv1.KubeletServiceClient, context.Context) {
	t.Helper()
	cc, err := grpc.NewClient(k.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	ctx := testutil.Context(t)
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, TokenHeader, token)
	}
	return kubeletv1.NewKubeletServiceClient(cc), ctx
}

// readLogs collects a Logs stream.
func readLogs(recv func() (*corev1.LogChunk, error)) (string, error) {
	var b strings.Builder
	for {
		ch, err := recv()
		if err == io.EOF {
			return b.String(), nil
		}
		if err != nil {
			return b.String(), err
		}
		b.Write(ch.GetData())
	}
}

// events returns "reason: message" of the events about a pod.
func podEvents(t *testing.T, c *client.Client, name string) []string {
	t.Helper()
	evs, _, err := c.Events().List(context.Background(), &metav1.ListOptions{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		if e.GetInvolvedObject().GetName() == name {
			out = append(out, e.GetReason()+": "+e.GetMessage())
		}
	}
	return out
}

// waitServing waits until the demo server of a pod answers.
func waitServing(t testing.TB, ip string) {
	t.Helper()
	testutil.Eventually(t, 30*time.Second, func() bool {
		code, _, err := httpGet("http://" + ip + ":8080/healthz")
		return err == nil && code == 200
	}, "demo serving on %s", ip)
}

// firstStatus is the status of the pod's first container (nil if none yet).
func firstStatus(p *corev1.Pod) *corev1.ContainerStatus {
	if cs := p.GetStatus().GetContainerStatuses(); len(cs) > 0 {
		return cs[0]
	}
	return nil
}

var (
	tarOnce sync.Once
	tarPath string
	tarErr  error
)

// demoTarball writes the coxswain/demo images (pkg/image, from the demo
// binary) once per test binary.
func demoTarball(t testing.TB) string {
	t.Helper()
	bin := demoBinary(t)
	tarOnce.Do(func() {
		tarPath = filepath.Join(buildDir, "demo.tar")
		_, tarErr = demo.WriteImages(demo.ImagesConfig{Binary: bin, Out: tarPath})
	})
	if tarErr != nil {
		t.Fatal(tarErr)
	}
	return tarPath
}
