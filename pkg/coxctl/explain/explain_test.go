package explain

import (
	"bytes"
	"strings"
	"testing"
)

func TestExplain(t *testing.T) {
	for _, tc := range []struct {
		path      string
		recursive bool
		want      []string
		err       string
	}{
		{path: "pods", want: []string{"KIND:       Pod\nVERSION:    v1\n", "apiVersion\t<string>", "metadata\t<ObjectMeta>", "spec\t<PodSpec>", "status\t<PodStatus>", "collection of containers"}},
		{path: "deploy.spec", want: []string{"KIND:       Deployment\nGROUP:      apps\n", "FIELD: spec <DeploymentSpec>", "replicas\t<integer>", "template\t<PodTemplateSpec>", "paused\t<boolean>"}},
		{path: "po.spec.containers", want: []string{"FIELD: containers <[]Container>", "image\t<string>", "ports\t<[]ContainerPort>", "resources\t<ResourceRequirements>"}},
		{path: "po.spec.containers.resources", want: []string{"limits\t<map[string]string>"}},
		{path: "svc.spec.ports.targetPort", want: []string{"FIELD: targetPort <IntOrString>", "An integer or a string"}},
		{path: "pods.metadata.creationTimestamp", want: []string{"FIELD: creationTimestamp <string>", "RFC 3339"}},
		{path: "deployments.apps.spec.strategy", want: []string{"FIELD: strategy <DeploymentStrategy>", "rollingUpdate\t<RollingUpdateDeployment>"}},
		{path: "secrets.data", want: []string{"FIELD: data <map[string]string>", "Base64"}},
		{path: "rs.spec", recursive: true, want: []string{"  template\t<PodTemplateSpec>\n    metadata\t<ObjectMeta>\n", "        containerPort\t<integer>"}},
		{path: "po.spec.nope", err: `field "nope" does not exist in Pod.spec`},
		{path: "po.spec.nodeName.x", err: `field "x" does not exist: spec.nodeName is not an object`},
		{path: "foo", err: `the server doesn't have a resource type "foo"`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			var buf bytes.Buffer
			err := Explain(&buf, tc.path, Options{Recursive: tc.recursive})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, buf.String())
				}
			}
		})
	}
}
