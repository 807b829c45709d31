package apiserver_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coxswain/coxswain/pkg/testutil"
)

// grpcurl finds the grpcurl binary: $GRPCURL, the repo's bin/ (make tools installs it there), or PATH.
func grpcurl(t *testing.T) string {
	if p := os.Getenv("GRPCURL"); p != "" {
		return p
	}
	if p, err := filepath.Abs("../../bin/grpcurl"); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("grpcurl"); err == nil {
		return p
	}
	t.Skip("grpcurl not found: run `make tools` (installs it into bin/ from the Go module proxy)")
	return ""
}

// grpcurl explores a running apiserver with no proto files, through server reflection.
func TestGrpcurlExploration(t *testing.T) {
	bin := grpcurl(t)
	a := testutil.StartAPIServer(t)
	// run calls grpcurl with flags, the apiserver's address, then the positional arguments.
	run := func(flags []string, positional ...string) string {
		t.Helper()
		args := append(append(append([]string{"-plaintext"}, flags...), a.Addr), positional...)
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("grpcurl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	list := run(nil, "list")
	for _, svc := range []string{"coxswain.core.v1.PodService", "coxswain.apps.v1.DeploymentService", "grpc.health.v1.Health"} {
		if !strings.Contains(list, svc) {
			t.Fatalf("grpcurl list lacks %s:\n%s", svc, list)
		}
	}
	if d := run(nil, "describe", "coxswain.core.v1.PodService"); !strings.Contains(d, "rpc Bind") {
		t.Fatalf("describe PodService:\n%s", d)
	}
	created := run([]string{"-d", `{"metadata":{"name":"from-grpcurl","namespace":"default"},"data":{"k":"v"}}`}, "coxswain.core.v1.ConfigMapService/Create")
	var obj struct {
		Metadata struct {
			Name, UID, ResourceVersion string
		}
	}
	if err := json.Unmarshal([]byte(created), &obj); err != nil || obj.Metadata.ResourceVersion == "" {
		t.Fatalf("create answered %q (%v)", created, err)
	}
	if got := run([]string{"-d", `{"namespace":"default","name":"from-grpcurl"}`}, "coxswain.core.v1.ConfigMapService/Get"); !strings.Contains(got, `"k": "v"`) {
		t.Fatalf("get answered:\n%s", got)
	}
	// A list spliced from the watch cache's stored bytes (each item followed by a metadata field with only
	// resourceVersion) decodes, through reflection, to whole items with their resourceVersion.
	listed := run([]string{"-d", `{"namespace":"default"}`}, "coxswain.core.v1.ConfigMapService/List")
	var cms struct {
		Metadata struct{ ResourceVersion string }
		Items    []struct {
			Metadata struct{ Name, UID, ResourceVersion string }
			Data     map[string]string
		}
	}
	if err := json.Unmarshal([]byte(listed), &cms); err != nil || cms.Metadata.ResourceVersion == "" || len(cms.Items) != 1 {
		t.Fatalf("list answered %q (%v)", listed, err)
	}
	if it := cms.Items[0]; it.Metadata.Name != "from-grpcurl" || it.Metadata.UID != obj.Metadata.UID ||
		it.Metadata.ResourceVersion != obj.Metadata.ResourceVersion || it.Data["k"] != "v" {
		t.Fatalf("listed item %+v, want the created %+v with data k=v", it, obj.Metadata)
	}
	if h := run(nil, "grpc.health.v1.Health/Check"); !strings.Contains(h, "SERVING") {
		t.Fatalf("health: %s", h)
	}
}
