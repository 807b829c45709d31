package image

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func randomImage(t testing.TB) v1.Image {
	t.Helper()
	img, err := random.Image(4096, 3)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestEnsurePullsOverTLSAndHonoursPolicy(t *testing.T) {
	reg := startRegistry(t, registryOpts{tls: true})
	img := randomImage(t)
	ref := reg.push(t, "app/random:v1", img)
	s := newStore(t, StoreConfig{RootCAs: reg.roots()})
	ctx := ctxT(t)

	got, err := s.Ensure(ctx, ref, PullIfNotPresent)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if want := digestOf(t, img); got.Digest != want || !got.Pulled {
		t.Fatalf("Ensure = %+v, want digest %s and Pulled", got, want)
	}
	if got.Ref != ref {
		t.Errorf("Ref = %q, want %q", got.Ref, ref)
	}
	cn, _ := img.ConfigName()
	if got.ID != cn.String() {
		t.Errorf("ID = %s, want config digest %s", got.ID, cn)
	}
	blobsAfterFirst := reg.blobs.Load()
	if blobsAfterFirst != 4 { // config + 3 layers
		t.Errorf("first pull fetched %d blobs, want 4", blobsAfterFirst)
	}

	steps := []struct {
		policy        PullPolicy
		wantPulled    bool
		wantManifests bool // whether the registry is asked again
	}{
		{PullIfNotPresent, false, false},
		{PullNever, false, false},
		{PullAlways, true, true},
	}
	for _, st := range steps {
		before := reg.manifests.Load()
		got, err := s.Ensure(ctx, ref, st.policy)
		if err != nil {
			t.Fatalf("Ensure(%s): %v", st.policy, err)
		}
		asked := reg.manifests.Load() > before
		if got.Pulled != st.wantPulled || asked != st.wantManifests {
			t.Errorf("Ensure(%s): Pulled=%v asked registry=%v, want %v/%v", st.policy, got.Pulled, asked, st.wantPulled, st.wantManifests)
		}
	}
	if n := reg.blobs.Load(); n != blobsAfterFirst {
		t.Errorf("re-pull with Always fetched %d more blobs, want 0 (content already stored)", n-blobsAfterFirst)
	}

	// The store survives a restart.
	s2 := newStore(t, StoreConfig{Root: s.cfg.Root})
	list, err := s2.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Ref != ref || list[0].Digest != digestOf(t, img) {
		t.Errorf("List after reopen = %+v, want the pulled image", list)
	}
}

func TestEnsureErrors(t *testing.T) {
	tlsReg := startRegistry(t, registryOpts{tls: true})
	tlsRef := tlsReg.push(t, "app/random:v1", randomImage(t))
	httpReg := startRegistry(t, registryOpts{})
	httpRef := httpReg.push(t, "app/random:v1", randomImage(t))
	authReg := startRegistry(t, registryOpts{tls: true, user: "alice", pass: "s3cret"})

	tests := []struct {
		name       string
		cfg        StoreConfig
		ref        string
		policy     PullPolicy
		wantReason string
		wantMsg    []string
	}{
		{"missing tag keeps registry message", StoreConfig{RootCAs: tlsReg.roots()}, tlsReg.host + "/app/random:nope", PullIfNotPresent,
			ReasonErrImagePull, []string{"MANIFEST_UNKNOWN: Unknown manifest", `pulling image "` + tlsReg.host + `/app/random:nope"`}},
		{"missing repository", StoreConfig{RootCAs: tlsReg.roots()}, tlsReg.host + "/nobody/here:v1", PullAlways,
			ReasonErrImagePull, []string{"NAME_UNKNOWN"}},
		{"plain http refused", StoreConfig{}, httpRef, PullIfNotPresent,
			ReasonErrImagePull, []string{"registry " + httpReg.host + " answered over plain http; add it to --insecure-registries"}},
		{"plain http refused although another registry is insecure", StoreConfig{Insecure: []string{"10.0.0.1:5000"}}, httpRef, PullIfNotPresent,
			ReasonErrImagePull, []string{"answered over plain http"}},
		{"unknown certificate", StoreConfig{}, tlsRef, PullIfNotPresent,
			ReasonErrImagePull, []string{"certificate"}},
		{"never and absent", StoreConfig{RootCAs: tlsReg.roots()}, tlsRef, PullNever,
			ReasonErrImageNeverPull, []string{`container image "` + tlsRef + `" is not present with pull policy of Never`}},
		{"invalid name", StoreConfig{}, "Bad/UPPER:case", PullIfNotPresent, ReasonInvalidImageName, []string{"Bad/UPPER:case"}},
		{"empty name", StoreConfig{}, "", PullIfNotPresent, ReasonInvalidImageName, []string{"empty"}},
		{"bad policy", StoreConfig{}, "busybox:1", "Sometimes", "", []string{`imagePullPolicy "Sometimes"`}},
		{"auth required", StoreConfig{RootCAs: authReg.roots()}, authReg.host + "/app/x:v1", PullIfNotPresent,
			ReasonErrImagePull, []string{"UNAUTHORIZED"}},
		{"wrong password", StoreConfig{RootCAs: authReg.roots(), Auth: RegistryAuth{authReg.host: {Username: "alice", Password: "nope"}}},
			authReg.host + "/app/x:v1", PullIfNotPresent, ReasonErrImagePull, []string{"UNAUTHORIZED"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, tc.cfg)
			_, err := s.Ensure(ctxT(t), tc.ref, tc.policy)
			if err == nil {
				t.Fatal("Ensure succeeded, want an error")
			}
			if r := Reason(err); r != tc.wantReason {
				t.Errorf("Reason = %q, want %q (err %v)", r, tc.wantReason, err)
			}
			for _, m := range tc.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q lacks %q", err, m)
				}
			}
			if list, _ := s.List(); len(list) != 0 {
				t.Errorf("store holds %v after a failed Ensure", list)
			}
		})
	}
}

func TestEnsureInsecureRegistries(t *testing.T) {
	httpReg := startRegistry(t, registryOpts{})
	img := randomImage(t)
	httpRef := httpReg.push(t, "app/random:v1", img)
	tlsReg := startRegistry(t, registryOpts{tls: true})
	tlsRef := tlsReg.push(t, "app/random:v1", img)

	tests := []struct {
		name     string
		insecure []string
		ref      string
	}{
		{"http with host:port", []string{httpReg.host}, httpRef},
		{"http with bare host", []string{"127.0.0.1"}, httpRef},
		{"http with scheme-prefixed entry", []string{"http://" + httpReg.host + "/"}, httpRef},
		{"tls with unverifiable certificate", []string{tlsReg.host}, tlsRef},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, StoreConfig{Insecure: tc.insecure})
			got, err := s.Ensure(ctxT(t), tc.ref, PullAlways)
			if err != nil {
				t.Fatalf("Ensure: %v", err)
			}
			if got.Digest != digestOf(t, img) {
				t.Errorf("digest %s, want %s", got.Digest, digestOf(t, img))
			}
		})
	}
}

func TestEnsureAuthentication(t *testing.T) {
	reg := startRegistry(t, registryOpts{tls: true, user: "alice", pass: "s3cret"})
	img := randomImage(t)
	ref := pushWithAuth(t, reg, "app/private:v1", img, "alice", "s3cret")
	b64 := base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))

	secret := func(js string) RegistryAuth {
		a, err := ParseDockerConfig([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	tests := []struct {
		name    string
		cfg     StoreConfig
		secrets []RegistryAuth
	}{
		{"dockerconfigjson secret with auth field", StoreConfig{}, []RegistryAuth{secret(fmt.Sprintf(`{"auths":{"%s":{"auth":"%s"}}}`, reg.host, b64))}},
		{"legacy dockercfg secret with https key", StoreConfig{}, []RegistryAuth{secret(fmt.Sprintf(`{"https://%s/v1/":{"username":"alice","password":"s3cret"}}`, reg.host))}},
		{"second secret matches", StoreConfig{}, []RegistryAuth{{"other.example": {Username: "x", Password: "y"}}, {reg.host: {Username: "alice", Password: "s3cret"}}}},
		{"store auth", StoreConfig{Auth: RegistryAuth{reg.host: {Username: "alice", Password: "s3cret"}}}, nil},
		{"secret wins over wrong store auth", StoreConfig{Auth: RegistryAuth{reg.host: {Username: "alice", Password: "bad"}}},
			[]RegistryAuth{{reg.host: {Username: "alice", Password: "s3cret"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.RootCAs = reg.roots()
			s := newStore(t, tc.cfg)
			got, err := s.Ensure(ctxT(t), ref, PullIfNotPresent, tc.secrets...)
			if err != nil {
				t.Fatalf("Ensure: %v", err)
			}
			if got.Digest != digestOf(t, img) {
				t.Errorf("digest %s, want %s", got.Digest, digestOf(t, img))
			}
		})
	}
}

func TestDefaultPullPolicy(t *testing.T) {
	reg := startRegistry(t, registryOpts{tls: true})
	img := randomImage(t)
	reg.push(t, "app/random:v1", img)
	reg.push(t, "app/random:latest", img)
	d := digestOf(t, img)
	tests := []struct {
		ref         string
		wantRefetch bool
	}{
		{reg.host + "/app/random:v1", false},
		{reg.host + "/app/random:latest", true},
		{reg.host + "/app/random", true},
		{reg.host + "/app/random@" + d, false},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			s := newStore(t, StoreConfig{RootCAs: reg.roots()})
			if _, err := s.Ensure(ctxT(t), tc.ref, ""); err != nil {
				t.Fatalf("first Ensure: %v", err)
			}
			before := reg.manifests.Load()
			got, err := s.Ensure(ctxT(t), tc.ref, "")
			if err != nil {
				t.Fatalf("second Ensure: %v", err)
			}
			refetched := reg.manifests.Load() > before
			if refetched != tc.wantRefetch || got.Pulled != tc.wantRefetch {
				t.Errorf("second Ensure asked registry=%v Pulled=%v, want %v", refetched, got.Pulled, tc.wantRefetch)
			}
		})
	}
}

func TestDigestReferenceFindsTaggedImage(t *testing.T) {
	reg := startRegistry(t, registryOpts{tls: true})
	img := randomImage(t)
	ref := reg.push(t, "app/random:v1", img)
	s := newStore(t, StoreConfig{RootCAs: reg.roots()})
	if _, err := s.Ensure(ctxT(t), ref, PullIfNotPresent); err != nil {
		t.Fatal(err)
	}
	reg.srv.Close()
	byDigest := reg.host + "/app/random@" + digestOf(t, img)
	if _, err := s.Ensure(ctxT(t), byDigest, PullNever); err != nil {
		t.Errorf("Ensure by digest of a stored tag: %v", err)
	}
	if _, err := s.Config(byDigest); err != nil {
		t.Errorf("Config by digest: %v", err)
	}
	other := reg.host + "/other/repo@" + digestOf(t, img)
	if _, err := s.Ensure(ctxT(t), other, PullNever); Reason(err) != ReasonErrImageNeverPull {
		t.Errorf("Ensure of the digest in another repository = %v, want ErrImageNeverPull", err)
	}
}

func platformImage(t testing.TB, platform string) v1.Image {
	return imageOf(t, platform, []entry{{name: "etc/arch", body: platform}})
}

func TestEnsurePicksNodePlatformFromIndex(t *testing.T) {
	reg := startRegistry(t, registryOpts{tls: true})
	amd, arm := platformImage(t, "linux/amd64"), platformImage(t, "linux/arm64")
	ii := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	ref := reg.pushIndex(t, "app/multi:v1", ii)
	tests := []struct {
		platform string
		want     v1.Image
		wantErr  string
	}{
		{"linux/amd64", amd, ""},
		{"linux/arm64", arm, ""},
		{"linux/s390x", nil, "s390x"},
	}
	for _, tc := range tests {
		t.Run(tc.platform, func(t *testing.T) {
			s := newStore(t, StoreConfig{RootCAs: reg.roots(), Platform: tc.platform})
			got, err := s.Ensure(ctxT(t), ref, PullIfNotPresent)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || Reason(err) != ReasonErrImagePull {
					t.Fatalf("Ensure = %v, want ErrImagePull naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Digest != digestOf(t, tc.want) {
				t.Errorf("digest %s, want %s", got.Digest, digestOf(t, tc.want))
			}
			if err := s.CheckPlatform(ref); err != nil {
				t.Errorf("CheckPlatform: %v", err)
			}
			c, err := s.Config(ref)
			if err != nil {
				t.Fatal(err)
			}
			if c.Platform() != tc.platform {
				t.Errorf("Config platform %s, want %s", c.Platform(), tc.platform)
			}
		})
	}
}

func TestCheckPlatform(t *testing.T) {
	reg := startRegistry(t, registryOpts{tls: true})
	tests := []struct {
		image, node string
		wantErr     string
	}{
		{"linux/arm64", "linux/amd64", `is built for linux/arm64 but this node is linux/amd64`},
		{"linux/amd64", "linux/amd64", ""},
		{"linux/arm64/v8", "linux/arm64", ""},
		{"linux/arm/v7", "linux/arm/v6", "is built for linux/arm/v7 but this node is linux/arm/v6"},
		{"linux/arm/v7", "linux/arm", ""},
		{"windows/amd64", "linux/amd64", "is built for windows/amd64"},
	}
	for _, tc := range tests {
		t.Run(tc.image+" on "+tc.node, func(t *testing.T) {
			ref := reg.push(t, "app/plat:"+strings.ReplaceAll(tc.image, "/", "-"), platformImage(t, tc.image))
			s := newStore(t, StoreConfig{RootCAs: reg.roots(), Platform: tc.node})
			if _, err := s.Ensure(ctxT(t), ref, PullIfNotPresent); err != nil {
				t.Fatal(err)
			}
			err := s.CheckPlatform(ref)
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("CheckPlatform = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("CheckPlatform = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestConcurrentEnsurePullsOnce(t *testing.T) {
	reg := startRegistry(t, registryOpts{tls: true})
	ref := reg.push(t, "app/random:v1", randomImage(t))
	s := newStore(t, StoreConfig{RootCAs: reg.roots()})
	var wg sync.WaitGroup
	pulled := make(chan bool, 8)
	for range 8 {
		wg.Go(func() {
			img, err := s.Ensure(ctxT(t), ref, PullIfNotPresent)
			if err != nil {
				t.Error(err)
				return
			}
			pulled <- img.Pulled
		})
	}
	wg.Wait()
	close(pulled)
	n := 0
	for p := range pulled {
		if p {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d of 8 concurrent Ensure calls pulled, want exactly 1", n)
	}
	if b := reg.blobs.Load(); b != 4 {
		t.Errorf("registry served %d blob GETs, want 4 (each blob once)", b)
	}
}

func TestEnsureHonoursContext(t *testing.T) {
	// A registry that never answers: Ensure must give up when ctx ends.
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	reg := startRegistry(t, registryOpts{tls: true, hang: hang})
	s := newStore(t, StoreConfig{RootCAs: reg.roots()})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Ensure(ctx, reg.host+"/app/x:v1", PullAlways)
	if err == nil || Reason(err) != ReasonErrImagePull {
		t.Fatalf("Ensure = %v, want ErrImagePull", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "deadline") {
		t.Errorf("error %q does not mention the deadline", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("Ensure took %v after a 500ms deadline", d)
	}
}

func TestMetrics(t *testing.T) {
	reg := startRegistry(t, registryOpts{tls: true})
	ref := reg.push(t, "app/random:v1", randomImage(t))
	pr := prometheus.NewRegistry()
	s := newStore(t, StoreConfig{RootCAs: reg.roots(), Registerer: pr})
	if _, err := s.Ensure(ctxT(t), ref, PullAlways); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ensure(ctxT(t), reg.host+"/app/random:missing", PullAlways); err == nil {
		t.Fatal("missing tag pulled")
	}
	if _, err := s.RootFS(ctxT(t), ref); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		result string
		want   float64
	}{{"success", 1}, {"failure", 1}} {
		if got := testutil.ToFloat64(s.metrics.pulls.WithLabelValues(tc.result)); got != tc.want {
			t.Errorf("pulls{result=%s} = %v, want %v", tc.result, got, tc.want)
		}
	}
	if n := testutil.CollectAndCount(pr, "coxswain_image_pull_duration_seconds", "coxswain_image_unpack_duration_seconds"); n != 2 {
		t.Errorf("collected %d duration histograms, want 2", n)
	}
	if _, err := NewStore(StoreConfig{Root: t.TempDir(), Registerer: pr}); err == nil {
		t.Error("second store on the same registerer: want a duplicate registration error")
	}
}

func TestNewStoreValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  StoreConfig
		want string
	}{
		{"no root", StoreConfig{}, "root: must not be empty"},
		{"bad platform", StoreConfig{Root: t.TempDir(), Platform: "linux"}, `platform "linux"`},
		{"empty insecure", StoreConfig{Root: t.TempDir(), Insecure: []string{" "}}, "insecure[0]: empty registry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewStore(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewStore = %v, want %q", err, tc.want)
			}
		})
	}
}

// pushWithAuth pushes through a registry that requires basic auth.
func pushWithAuth(t testing.TB, reg *testRegistry, repoTag string, img v1.Image, user, pass string) string {
	t.Helper()
	ref := reg.host + "/" + repoTag
	s := keychain{RegistryAuth{reg.host: {Username: user, Password: pass}}}
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remoteWrite(tag, img, reg.srv.Client().Transport, s); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return ref
}
