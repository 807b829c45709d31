package kubelet

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
	metav1 "github.com/coxswain/coxswain/proto/coxswain/meta/v1"
)

func TestBackoff(t *testing.T) {
	now := time.Unix(1000, 0)
	b := newBackoff(10*time.Second, 40*time.Second, 100*time.Second)
	b.now = func() time.Time { return now }
	// Each exit: the first restart is immediate, later ones wait 10s, 20s,
	// 40s, 40s (capped); an exit long after the previous one starts over.
	exit := now
	check := func(wantRemaining, wantDelay time.Duration) {
		t.Helper()
		rem, d := b.wait("k", exit)
		if rem != wantRemaining || d != wantDelay {
			t.Fatalf("at %v after exit: remaining %v delay %v, want %v %v", now.Sub(exit), rem, d, wantRemaining, wantDelay)
		}
	}
	check(0, 10*time.Second) // exit 1: restart now
	for _, d := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 40 * time.Second} {
		now = now.Add(time.Second)
		exit = now // the restarted container crashed after 1s
		check(d, d)
		now = now.Add(d / 2)
		check(d/2, d)
		if rem, _ := b.peek("k", exit); rem != d/2 {
			t.Fatalf("peek: %v, want %v", rem, d/2)
		}
		now = now.Add(d / 2)
		rem, _ := b.wait("k", exit)
		if rem != 0 {
			t.Fatalf("after the delay %v: remaining %v", d, rem)
		}
	}
	// Ran longer than reset: starts over, restart at once.
	now = now.Add(200 * time.Second)
	exit = now
	check(0, 10*time.Second)
	b.forget("k")
	if rem, d := b.peek("k", exit); rem != 0 || d != 0 {
		t.Fatalf("after forget: %v %v", rem, d)
	}
}

func TestLogWriterAndReader(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app", "0.log")
	set := newLogSet()
	lw, err := set.open(path, 200)
	if err != nil {
		t.Fatal(err)
	}
	// A "container": writes through the FIFO like the runtime does.
	f, err := os.OpenFile(lw.fifo, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	lw.started()
	var want []string
	for i := range 12 {
		line := strings.Repeat(string(rune('a'+i)), 20)
		want = append(want, line)
		if _, err := f.WriteString(line + "\n"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if _, err := f.WriteString("no newline at the end"); err != nil {
		t.Fatal(err)
	}
	want = append(want, "no newline at the end")
	f.Close()
	if !lw.waitDone(10 * time.Second) {
		t.Fatal("writer did not finish after the last writer closed")
	}
	if _, err := os.Stat(path + ".1"); err != nil {
		t.Fatalf("no rotation at 200 bytes: %v", err)
	}
	if _, err := os.Stat(lw.fifo); !os.IsNotExist(err) {
		t.Errorf("fifo left behind: %v", err)
	}
	read := func(o logOptions) string {
		var b bytes.Buffer
		if err := readLog(context.Background(), path, nil, o, &b, nil); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	// Rotation keeps one old file: the reader sees its tail plus the current file.
	all := read(logOptions{tail: -1})
	lines := strings.Split(strings.TrimSuffix(all, "\n"), "\n")
	if lines[len(lines)-1] != want[len(want)-1] || len(lines) < 3 {
		t.Fatalf("log = %q", all)
	}
	for i, l := range lines {
		if !strings.HasSuffix(strings.Join(want, "\n"), strings.Join(lines[i:], "\n")) {
			t.Fatalf("line %d %q out of order in %q", i, l, all)
		}
	}
	tests := []struct {
		name string
		opts logOptions
		want string
	}{
		{"tail 2", logOptions{tail: 2}, want[11] + "\n" + want[12] + "\n"},
		{"tail 0", logOptions{tail: 0}, ""},
		{"limit", logOptions{tail: 2, limit: 5}, want[11][:5]},
		{"since future", logOptions{tail: -1, since: time.Now().Add(time.Hour)}, ""},
	}
	for _, tc := range tests {
		if got := read(tc.opts); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	ts := read(logOptions{tail: 1, timestamps: true})
	stamp, rest, _ := strings.Cut(ts, " ")
	if _, err := time.Parse(time.RFC3339Nano, stamp); err != nil || rest != want[12]+"\n" {
		t.Errorf("timestamps: %q", ts)
	}
}

func TestLogFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c", "3.log")
	set := newLogSet()
	lw, err := set.open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(lw.fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	lw.started()
	f.WriteString("first\n")
	pr, pw := pipeWriter()
	done := make(chan error, 1)
	go func() {
		done <- readLog(context.Background(), path, set.get(path), logOptions{follow: true, tail: -1}, pw, nil)
	}()
	if got := pr.next(t); got != "first\n" {
		t.Fatalf("got %q", got)
	}
	f.WriteString("second\n")
	if got := pr.next(t); got != "second\n" {
		t.Fatalf("got %q", got)
	}
	f.Close() // the container exits: follow ends
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end when the container's output closed")
	}
}

type chanWriter struct{ ch chan string }

func pipeWriter() (*chanWriter, *chanWriter) {
	c := &chanWriter{ch: make(chan string, 16)}
	return c, c
}

func (c *chanWriter) Write(p []byte) (int, error) {
	c.ch <- string(p)
	return len(p), nil
}

func (c *chanWriter) next(t *testing.T) string {
	t.Helper()
	select {
	case s := <-c.ch:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no output")
		return ""
	}
}

func FuzzParseCRILine(f *testing.F) {
	for _, s := range []string{
		"2024-01-02T03:04:05.123456789Z stdout F hello",
		"2024-01-02T03:04:05Z stdout P part",
		"2024-01-02T03:04:05Z stderr F",
		"garbage", "", "2024-01-02T03:04:05Z stdout X y",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseCRILine([]byte(s))
		if err != nil {
			return
		}
		// A parsed line renders back to an equivalent line.
		var b bytes.Buffer
		tag := tagFull
		if e.partial {
			tag = tagPartial
		}
		appendCRILine(&b, e.t, tag, e.content)
		e2, err := parseCRILine(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
		if err != nil || !e2.t.Equal(e.t) || e2.partial != e.partial || !bytes.Equal(e2.content, e.content) {
			t.Fatalf("round trip of %q: %+v vs %+v (%v)", s, e, e2, err)
		}
	})
}

func TestExpandVars(t *testing.T) {
	vars := map[string]string{"A": "1", "B": "two"}
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"$(A)", "1"},
		{"x$(A)y$(B)z", "x1ytwoz"},
		{"$$(A)", "$(A)"},
		{"$$", "$"},
		{"$(C)", "$(C)"},
		{"$(A", "$(A"},
		{"$", "$"},
		{"a$b", "a$b"},
		{"$()", "$()"},
	}
	for _, tc := range tests {
		if got := expandVars(tc.in, vars); got != tc.want {
			t.Errorf("expandVars(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzExpandVars(f *testing.F) {
	for _, s := range []string{"$(A)", "$$(A)", "x$(", "$$$", "$(A)$(B)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := expandVars(s, map[string]string{"A": "", "B": "b"})
		// Without references or escapes, the input comes back unchanged.
		if !strings.Contains(s, "$") && out != s {
			t.Fatalf("expandVars(%q) = %q", s, out)
		}
	})
}

type fakeObjects struct {
	cms     map[string]*corev1.ConfigMap
	secrets map[string]*corev1.Secret
}

func (f fakeObjects) configMap(ns, name string) (*corev1.ConfigMap, bool) {
	c, ok := f.cms[ns+"/"+name]
	return c, ok
}
func (f fakeObjects) secret(ns, name string) (*corev1.Secret, bool) {
	s, ok := f.secrets[ns+"/"+name]
	return s, ok
}

func TestContainerEnv(t *testing.T) {
	objs := fakeObjects{
		cms:     map[string]*corev1.ConfigMap{"ns/cm": {Data: map[string]string{"k": "v", "bad key": "x", "OTHER": "o"}}},
		secrets: map[string]*corev1.Secret{"ns/s": {Data: map[string][]byte{"pw": []byte("hunter2")}}},
	}
	pod := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p", Namespace: "ns", Uid: "u1",
		Labels: map[string]string{"app": "web", "tier": "fe"}, Annotations: map[string]string{"note": "n"}},
		Spec: &corev1.PodSpec{NodeName: "node-9"}}
	ec := &envContext{pod: pod, podIP: "10.0.0.5", hostIP: "192.168.1.1", nodeCPUMilli: 4000, nodeMemory: 1 << 30, objects: objs}
	ref := func(name, path string) *corev1.EnvVar { return fieldEnv(name, path) }
	c := &corev1.Container{
		Name:      "app",
		Resources: &corev1.ResourceRequirements{Limits: map[string]string{"cpu": "1500m", "memory": "64Mi"}},
		EnvFrom:   []*corev1.EnvFromSource{{Prefix: "CM_", ConfigMapRef: &corev1.ConfigMapEnvSource{Name: "cm"}}},
		Env: []*corev1.EnvVar{
			{Name: "PATH", Value: "/custom"},
			{Name: "PLAIN", Value: "x-$(CM_k)-$(VERSION)"},
			ref("NAME", "metadata.name"), ref("NS", "metadata.namespace"), ref("UID", "metadata.uid"),
			ref("NODE", "spec.nodeName"), ref("IP", "status.podIP"), ref("HOST", "status.hostIP"),
			ref("APP", "metadata.labels['app']"), ref("NOTE", `metadata.annotations["note"]`), ref("LABELS", "metadata.labels"),
			{Name: "PW", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Name: "s", Key: "pw"}}},
			{Name: "CPU", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}},
			{Name: "MEM", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: "1Mi"}}},
			{Name: "OPT", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Name: "nope", Key: "k", Optional: boolPtr(true)}}},
		},
	}
	env, vars, err := containerEnv(ec, c, []string{"PATH=/usr/bin", "VERSION=v1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"PATH=/custom", "VERSION=v1", "CM_OTHER=o", "CM_k=v", "PLAIN=x-v-$(VERSION)", "NAME=p", "NS=ns", "UID=u1",
		"NODE=node-9", "IP=10.0.0.5", "HOST=192.168.1.1", "APP=web", "NOTE=n", "LABELS=app=\"web\"\ntier=\"fe\"", "PW=hunter2", "CPU=2", "MEM=64"}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("env =\n%q\nwant\n%q", env, want)
	}
	if vars["CM_k"] != "v" || vars["VERSION"] != "" {
		t.Errorf("vars = %v", vars)
	}
	// Missing references fail with Kubernetes' messages.
	for _, tc := range []struct {
		env  *corev1.EnvVar
		from *corev1.EnvFromSource
		want string
	}{
		{env: &corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Name: "x", Key: "k"}}}, want: `configmap "x" not found`},
		{env: &corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Name: "y", Key: "k"}}}, want: `secret "y" not found`},
		{env: &corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Name: "cm", Key: "zz"}}}, want: "couldn't find key zz in ConfigMap ns/cm"},
		{from: &corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{Name: "gone"}}, want: `secret "gone" not found`},
		{env: fieldEnv("X", "spec.bogus"), want: `env X: unsupported fieldPath "spec.bogus"`},
	} {
		c := &corev1.Container{Name: "c"}
		if tc.env != nil {
			c.Env = []*corev1.EnvVar{tc.env}
		}
		if tc.from != nil {
			c.EnvFrom = []*corev1.EnvFromSource{tc.from}
		}
		_, _, err := containerEnv(ec, c, nil)
		var ce *configError
		if err == nil || err.Error() != tc.want || !asConfigError(err, &ce) {
			t.Errorf("error = %v, want config error %q", err, tc.want)
		}
	}
}

func asConfigError(err error, target **configError) bool {
	ce, ok := err.(*configError)
	*target = ce
	return ok
}

func boolPtr(b bool) *bool { return &b }

func TestContainerArgv(t *testing.T) {
	img := &resolvedImage{}
	img.config.Entrypoint = []string{"/demo"}
	img.config.Cmd = []string{"--port", "8080"}
	vars := map[string]string{"PORT": "9090"}
	tests := []struct {
		name          string
		command, args []string
		img           *resolvedImage
		want          []string
	}{
		{"image only", nil, nil, img, []string{"/demo", "--port", "8080"}},
		{"args replace cmd", nil, []string{"--port", "$(PORT)"}, img, []string{"/demo", "--port", "9090"}},
		{"command replaces both", []string{"/bin/x"}, nil, img, []string{"/bin/x"}},
		{"command and args", []string{"/bin/x"}, []string{"a"}, img, []string{"/bin/x", "a"}},
		{"no image", []string{"sleep"}, []string{"1"}, nil, []string{"sleep", "1"}},
	}
	for _, tc := range tests {
		got := containerArgv(&corev1.Container{Command: tc.command, Args: tc.args}, tc.img, vars)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestWriteAtomic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	files := map[string]volumeFile{"a": {data: []byte("1"), mode: 0o644}, "sub/b": {data: []byte("2"), mode: 0o600}}
	changed, err := writeAtomic(dir, files)
	if err != nil || !changed {
		t.Fatalf("first write: %v %v", changed, err)
	}
	check := func(p, want string) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil || string(b) != want {
			t.Errorf("%s = %q %v, want %q", p, b, err, want)
		}
	}
	check("a", "1")
	check("sub/b", "2")
	if fi, err := os.Stat(filepath.Join(dir, "sub/b")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode of sub/b: %v %v", fi.Mode(), err)
	}
	if l, err := os.Readlink(filepath.Join(dir, "a")); err != nil || l != "..data/a" {
		t.Errorf("a is not a link through ..data: %q %v", l, err)
	}
	if changed, err := writeAtomic(dir, files); err != nil || changed {
		t.Errorf("same content rewritten: %v %v", changed, err)
	}
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	changed, err = writeAtomic(dir, map[string]volumeFile{"a": {data: []byte("new"), mode: 0o644}})
	if err != nil || !changed {
		t.Fatalf("update: %v %v", changed, err)
	}
	check("a", "new")
	if _, err := os.Lstat(filepath.Join(dir, "sub")); !os.IsNotExist(err) {
		t.Errorf("removed entry sub still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, old)); !os.IsNotExist(err) {
		t.Errorf("old data dir %s kept: %v", old, err)
	}
	for _, bad := range []string{"../x", "/abs", "a/../../b", "..data"} {
		if _, err := writeAtomic(dir, map[string]volumeFile{bad: {data: nil, mode: 0o644}}); err == nil {
			t.Errorf("path %q accepted", bad)
		}
	}
}

func TestProjectedFiles(t *testing.T) {
	data := map[string][]byte{"a": []byte("1"), "b": []byte("2")}
	mode := int32(0o400)
	files, err := projectedFiles("configmap", "c", data, []*corev1.KeyToPath{{Key: "a", Path: "x/a.txt", Mode: &mode}}, nil, false)
	if err != nil || len(files) != 1 || string(files["x/a.txt"].data) != "1" || files["x/a.txt"].mode != 0o400 {
		t.Errorf("items: %v %v", files, err)
	}
	if _, err := projectedFiles("configmap", "c", data, []*corev1.KeyToPath{{Key: "zz", Path: "z"}}, nil, false); err == nil ||
		err.Error() != `configmap "c": key "zz" not found` {
		t.Errorf("missing key: %v", err)
	}
	if files, err := projectedFiles("configmap", "c", data, []*corev1.KeyToPath{{Key: "zz", Path: "z"}}, nil, true); err != nil || len(files) != 0 {
		t.Errorf("optional missing key: %v %v", files, err)
	}
}

func TestParseFlags(t *testing.T) {
	labels, err := ParseLabels("a=1, example.com/b=two,c=")
	if err != nil || !reflect.DeepEqual(labels, map[string]string{"a": "1", "example.com/b": "two", "c": ""}) {
		t.Errorf("labels = %v %v", labels, err)
	}
	for _, bad := range []string{"a", "=x", "a=b c", "Ex.com/a=1", "a=-x"} {
		if _, err := ParseLabels(bad); err == nil {
			t.Errorf("labels %q accepted", bad)
		}
	}
	taints, err := ParseTaints("dedicated=gpu:NoSchedule,spot:PreferNoSchedule")
	if err != nil || len(taints) != 2 || taints[0].GetKey() != "dedicated" || taints[0].GetValue() != "gpu" ||
		taints[0].GetEffect() != "NoSchedule" || taints[1].GetKey() != "spot" || taints[1].GetValue() != "" {
		t.Errorf("taints = %v %v", taints, err)
	}
	for _, bad := range []string{"a=b", "a=b:Sometimes", ":NoSchedule"} {
		if _, err := ParseTaints(bad); err == nil {
			t.Errorf("taints %q accepted", bad)
		}
	}
	if m, err := ParseCPU("1500m"); err != nil || m != 1500 {
		t.Errorf("cpu = %d %v", m, err)
	}
	if b, err := ParseMemory("2Gi"); err != nil || b != 2<<30 {
		t.Errorf("memory = %d %v", b, err)
	}
	if _, err := ParseCPU("-1"); err == nil {
		t.Error("negative cpu accepted")
	}
}

func FuzzParseTaints(f *testing.F) {
	for _, s := range []string{"a=b:NoSchedule", "k:NoExecute,x=y:PreferNoSchedule", "", ":", "a=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		taints, err := ParseTaints(s)
		if err != nil {
			return
		}
		// Accepted taints validate, and render back to the same taints.
		var parts []string
		for _, tt := range taints {
			if tt.GetKey() == "" || validLabelKey(tt.GetKey()) != nil {
				t.Fatalf("invalid key accepted from %q: %v", s, tt)
			}
			kv := tt.GetKey()
			if tt.GetValue() != "" {
				kv += "=" + tt.GetValue()
			}
			parts = append(parts, kv+":"+tt.GetEffect())
		}
		again, err := ParseTaints(strings.Join(parts, ","))
		if err != nil || len(again) != len(taints) {
			t.Fatalf("round trip of %q: %v %v", s, again, err)
		}
	})
}

func FuzzParseLabels(f *testing.F) {
	for _, s := range []string{"a=1", "example.com/x=y,b=", "", "=", "a=b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		labels, err := ParseLabels(s)
		if err != nil {
			return
		}
		for k, v := range labels {
			if validLabelKey(k) != nil || validLabelValue(v) != nil {
				t.Fatalf("invalid label %q=%q accepted from %q", k, v, s)
			}
		}
	})
}

func TestLoopbackRange(t *testing.T) {
	tests := []struct{ in, want string }{
		{"10.244.1.0/24", "127.244.1.0/24"},
		{"10.244.0.0/16", "127.244.0.0/16"},
		{"192.168.7.128/25", "127.168.7.128/25"},
		{"10.0.0.0/8", "127.100.0.0/16"}, // would contain 127.0.0.1
		{"10.0.0.0/16", "127.100.0.0/16"},
	}
	for _, tc := range tests {
		got, err := loopbackRange(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("loopbackRange(%s) = %s %v, want %s", tc.in, got, err, tc.want)
		}
	}
	if _, err := loopbackRange("fd00::/64"); err == nil {
		t.Error("IPv6 CIDR accepted")
	}
}

func TestQOSClass(t *testing.T) {
	c := func(limits, requests map[string]string) *corev1.Container {
		return &corev1.Container{Resources: &corev1.ResourceRequirements{Limits: limits, Requests: requests}}
	}
	pod := func(cs ...*corev1.Container) *corev1.Pod { return &corev1.Pod{Spec: &corev1.PodSpec{Containers: cs}} }
	tests := []struct {
		pod  *corev1.Pod
		want string
	}{
		{pod(&corev1.Container{}), "BestEffort"},
		{pod(c(map[string]string{"cpu": "1", "memory": "1Gi"}, nil)), "Guaranteed"},
		{pod(c(map[string]string{"cpu": "1", "memory": "1Gi"}, map[string]string{"cpu": "1", "memory": "1Gi"})), "Guaranteed"},
		{pod(c(map[string]string{"cpu": "1", "memory": "1Gi"}, map[string]string{"cpu": "500m"})), "Burstable"},
		{pod(c(map[string]string{"memory": "1Gi"}, nil)), "Burstable"},
		{pod(c(nil, map[string]string{"cpu": "1"}), &corev1.Container{}), "Burstable"},
	}
	for i, tc := range tests {
		if got := qosClass(tc.pod); got != tc.want {
			t.Errorf("%d: %s, want %s", i, got, tc.want)
		}
	}
}
