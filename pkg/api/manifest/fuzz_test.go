package manifest

import (
	"errors"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/api/manifest/manifesttest"
)

// FuzzDecode checks that Decode never panics or hangs, that failures are *DecodeErrors with located
// messages, and that whatever it accepts encodes to YAML and JSON that decode back to an equal object.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		deploymentYAML, nodePortServiceYAML, podJSON, configMapYAML, secretYAML, scalarFormsYAML,
		"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: a}\n",
		"apiVersion: v1\nkind: Pod\nmetadata: &m {name: a, labels: &l {a: b}}\nspec: {nodeSelector: *l}\n",
		"apiVersion: v1\nkind: Pod\nmetadata:\n  labels: &l\n    <<: *l\n",
		"apiVersion: v1\nkind: Service\nspec:\n  ports: [{port: 80, targetPort: \"80\"}, {targetPort: 2147483648}]\n",
		"apiVersion: v1\nkind: Node\nstatus: {capacity: {cpu: 4, memory: 1.5e9}, daemonEndpoints: {kubeletEndpoint: {Port: 10250}}}\n",
		"apiVersion: v1\nkind: Event\nfirstTimestamp: 2024-01-01T00:00:00Z\ncount: 0x10\n",
		"---\n---\n", "", "null", "[]", "{", "a: [", "\t", "apiVersion: v1\nkind: Pod\n\x00",
	} {
		f.Add([]byte(s))
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for _, r := range api.All() {
		obj := manifesttest.Object(rng, r)
		for _, format := range []string{"yaml", "json"} {
			data, err := Encode(obj, format)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, err := Decode(data, "fuzz.yaml")
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || len(de.Errors) == 0 {
				t.Fatalf("error %v (%T) is not a non-empty *DecodeError", err, err)
			}
			for _, fe := range de.Errors {
				if fe.Message == "" || fe.Source != "fuzz.yaml" {
					t.Fatalf("error without a message or source: %+v", fe)
				}
			}
		}
		for _, d := range docs {
			if d.Object == nil || d.Resource == nil || d.Raw == nil || d.Index < 1 || d.Line < 1 {
				t.Fatalf("incomplete document %+v", d)
			}
			for _, format := range []string{"yaml", "json"} {
				out, err := Encode(d.Object, format)
				if err != nil {
					t.Fatalf("Encode(%s) of a decoded object: %v", format, err)
				}
				again, err := Decode(out, "again")
				if err != nil {
					t.Fatalf("re-decoding the %s encoding: %v\ninput: %q\nencoding:\n%s", format, err, data, out)
				}
				if len(again) != 1 || !proto.Equal(again[0].Object, d.Object) {
					t.Fatalf("the %s encoding does not decode to the same object\ninput: %q\nencoding:\n%s", format, data, out)
				}
			}
		}
	})
}
