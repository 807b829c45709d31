package manifest

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/coxswain/coxswain/pkg/api"
	"github.com/coxswain/coxswain/pkg/api/manifest/manifesttest"
)

// TestRoundTrip checks Decode(Encode(x)) == x for random objects of every kind, in both formats, and that
// ToMap is exactly what the JSON encoding holds.
func TestRoundTrip(t *testing.T) {
	const perKind = 200
	for _, r := range api.All() {
		t.Run(r.Kind, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(len(r.Kind))))
			for i := 0; i < perKind; i++ {
				obj := manifesttest.Object(rng, r)
				for _, format := range []string{"yaml", "json"} {
					data, err := Encode(obj, format)
					if err != nil {
						t.Fatalf("Encode(%s): %v\nobject: %v", format, err, obj)
					}
					docs, err := Decode(data, "rt."+format)
					if err != nil {
						t.Fatalf("Decode(Encode(x, %s)): %v\n%s", format, err, data)
					}
					if len(docs) != 1 {
						t.Fatalf("Decode(Encode(x, %s)) gave %d documents, want 1\n%s", format, len(docs), data)
					}
					if docs[0].Resource != r {
						t.Fatalf("decoded resource %s, want %s", docs[0].Resource.Kind, r.Kind)
					}
					if !proto.Equal(docs[0].Object, obj) {
						t.Fatalf("Decode(Encode(x, %s)) != x\n%s\ndiff: %s", format, data, diff(obj, docs[0].Object))
					}
					if format == "json" {
						var fromJSON map[string]any
						if err := json.Unmarshal(data, &fromJSON); err != nil {
							t.Fatalf("Encode(json) is not JSON: %v", err)
						}
						if got := normalizeNumbers(ToMap(obj)); !reflect.DeepEqual(got, fromJSON) {
							t.Fatalf("ToMap != Encode(json)\nToMap: %v\nJSON:  %v", got, fromJSON)
						}
						// Raw holds what the user wrote; here the user wrote exactly ToMap.
						if got := normalizeNumbers(docs[0].Raw); !reflect.DeepEqual(got, fromJSON) {
							t.Fatalf("Raw != Encode(json)\nRaw:  %v\nJSON: %v", got, fromJSON)
						}
					}
				}
			}
		})
	}
}

// normalizeNumbers turns int64/uint64 into float64, as encoding/json decodes numbers.
func normalizeNumbers(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = normalizeNumbers(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = normalizeNumbers(e)
		}
		return out
	case int64:
		return float64(v)
	case uint64:
		return float64(v)
	}
	return v
}

func diff(want, got proto.Message) string {
	return cmp.Diff(want, got, protocmp.Transform())
}
