package merge

import (
	"encoding/json"
	"reflect"
	"testing"
)

func parse(t testing.TB, s string) map[string]any {
	t.Helper()
	if s == "" {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad fixture %s: %v", s, err)
	}
	return m
}

func TestThreeWay(t *testing.T) {
	for _, tc := range []struct {
		name                        string
		original, modified, current string
		want                        string
	}{
		{
			name:     "first apply keeps server fields",
			modified: `{"metadata":{"name":"a","labels":{"app":"x"}},"spec":{"replicas":3}}`,
			current:  `{"metadata":{"name":"a","uid":"u1","resourceVersion":"7","labels":{"app":"x"}},"spec":{"replicas":3,"strategy":{"type":"RollingUpdate"}},"status":{"replicas":3}}`,
			want:     `{"metadata":{"name":"a","uid":"u1","resourceVersion":"7","labels":{"app":"x"}},"spec":{"replicas":3,"strategy":{"type":"RollingUpdate"}},"status":{"replicas":3}}`,
		},
		{
			name:     "label removed from the manifest is removed",
			original: `{"metadata":{"name":"a","labels":{"app":"x","tier":"web"}}}`,
			modified: `{"metadata":{"name":"a","labels":{"app":"x"}}}`,
			current:  `{"metadata":{"name":"a","labels":{"app":"x","tier":"web","added-by-hand":"y"}}}`,
			want:     `{"metadata":{"name":"a","labels":{"app":"x","added-by-hand":"y"}}}`,
		},
		{
			name:     "whole map removed",
			original: `{"metadata":{"name":"a","labels":{"app":"x"}}}`,
			modified: `{"metadata":{"name":"a"}}`,
			current:  `{"metadata":{"name":"a","labels":{"app":"x"},"uid":"u"}}`,
			want:     `{"metadata":{"name":"a","uid":"u"}}`,
		},
		{
			name:     "scalar changed by hand is reset by apply",
			original: `{"spec":{"replicas":3}}`,
			modified: `{"spec":{"replicas":3}}`,
			current:  `{"spec":{"replicas":5}}`,
			want:     `{"spec":{"replicas":3}}`,
		},
		{
			name:     "null deletes",
			original: `{"spec":{"replicas":3}}`,
			modified: `{"spec":{"replicas":null}}`,
			current:  `{"spec":{"replicas":3,"paused":true}}`,
			want:     `{"spec":{"paused":true}}`,
		},
		{
			name:     "service ports keep the allocated nodePort",
			original: `{"spec":{"type":"NodePort","ports":[{"port":80,"targetPort":8080}]}}`,
			modified: `{"spec":{"type":"NodePort","ports":[{"port":80,"targetPort":8081}]}}`,
			current:  `{"spec":{"type":"NodePort","clusterIP":"10.96.0.5","ports":[{"port":80,"protocol":"TCP","targetPort":8080,"nodePort":31000}]}}`,
			want:     `{"spec":{"type":"NodePort","clusterIP":"10.96.0.5","ports":[{"port":80,"protocol":"TCP","targetPort":8081,"nodePort":31000}]}}`,
		},
		{
			name:     "tcp and udp port 53 are two elements",
			modified: `{"ports":[{"port":53,"protocol":"UDP"},{"port":53}]}`,
			current:  `{"ports":[{"port":53,"protocol":"TCP","nodePort":1},{"port":53,"protocol":"UDP","nodePort":2}]}`,
			want:     `{"ports":[{"port":53,"protocol":"UDP","nodePort":2},{"port":53,"protocol":"TCP","nodePort":1}]}`,
		},
		{
			name:     "containers merge by name; removed container goes, server-added stays",
			original: `{"containers":[{"name":"a","image":"x:1"},{"name":"b","image":"y"}]}`,
			modified: `{"containers":[{"name":"a","image":"x:2"}]}`,
			current:  `{"containers":[{"name":"a","image":"x:1","imagePullPolicy":"IfNotPresent"},{"name":"b","image":"y"},{"name":"injected","image":"z"}]}`,
			want:     `{"containers":[{"name":"a","image":"x:2","imagePullPolicy":"IfNotPresent"},{"name":"injected","image":"z"}]}`,
		},
		{
			name:     "env entry removed inside a container",
			original: `{"containers":[{"name":"a","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]}]}`,
			modified: `{"containers":[{"name":"a","env":[{"name":"A","value":"1"}]}]}`,
			current:  `{"containers":[{"name":"a","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"terminationMessagePath":"/dev/termination-log"}]}`,
			want:     `{"containers":[{"name":"a","env":[{"name":"A","value":"1"}],"terminationMessagePath":"/dev/termination-log"}]}`,
		},
		{
			name:     "lists without merge key are replaced",
			original: `{"args":["a","b"],"tolerations":[{"key":"k"}]}`,
			modified: `{"args":["a"],"tolerations":[{"key":"j"}]}`,
			current:  `{"args":["a","b"],"tolerations":[{"key":"k","operator":"Equal"}]}`,
			want:     `{"args":["a"],"tolerations":[{"key":"j"}]}`,
		},
		{
			name:     "duplicate keys fall back to replacing",
			modified: `{"containers":[{"name":"a","image":"1"},{"name":"a","image":"2"}]}`,
			current:  `{"containers":[{"name":"a","image":"0","x":"y"}]}`,
			want:     `{"containers":[{"name":"a","image":"1"},{"name":"a","image":"2"}]}`,
		},
		{
			name:     "type change of a field replaces it",
			modified: `{"spec":{"selector":{"app":"x"}}}`,
			current:  `{"spec":{"selector":"weird"}}`,
			want:     `{"spec":{"selector":{"app":"x"}}}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, m, c := parse(t, tc.original), parse(t, tc.modified), parse(t, tc.current)
			cBefore := parse(t, tc.current)
			got := ThreeWay(o, m, c)
			if want := parse(t, tc.want); !reflect.DeepEqual(got, want) {
				gj, _ := json.Marshal(got)
				t.Errorf("got  %s\nwant %s", gj, tc.want)
			}
			if !reflect.DeepEqual(c, cBefore) {
				t.Errorf("ThreeWay modified its current argument")
			}
		})
	}
}

// TestThreeWayIdempotent: merging the same configuration into its own result changes nothing.
func TestThreeWayIdempotent(t *testing.T) {
	m := parse(t, `{"metadata":{"labels":{"a":"1"}},"spec":{"ports":[{"port":80}],"containers":[{"name":"c","env":[{"name":"X","value":"1"}]}]}}`)
	c := parse(t, `{"metadata":{"uid":"u"},"spec":{"ports":[{"port":80,"nodePort":30001,"protocol":"TCP"}],"containers":[{"name":"c","image":"i"}]}}`)
	once := ThreeWay(nil, m, c)
	twice := ThreeWay(m, m, once)
	if !Equal(once, twice) {
		t.Errorf("not idempotent:\n%v\n%v", once, twice)
	}
}

func FuzzThreeWay(f *testing.F) {
	f.Add(`{"a":{"b":1}}`, `{"a":{"c":2}}`, `{"a":{"b":1,"d":3}}`)
	f.Add(`{"ports":[{"port":80}]}`, `{"ports":[{"port":81}]}`, `{"ports":[{"port":80,"nodePort":3}]}`)
	f.Add(`{"containers":[{"name":"a"}]}`, `{"containers":[{"name":"a"},{"name":"a"}]}`, `{"containers":"x"}`)
	f.Fuzz(func(t *testing.T, o, m, c string) {
		var om, mm, cm map[string]any
		if json.Unmarshal([]byte(o), &om) != nil || json.Unmarshal([]byte(m), &mm) != nil || json.Unmarshal([]byte(c), &cm) != nil {
			return
		}
		out := ThreeWay(om, mm, cm)
		// Every non-null top-level field of modified is in the result; every field of original that
		// modified dropped is gone.
		for k, v := range mm {
			if _, ok := out[k]; (v != nil) != ok {
				t.Fatalf("field %q: present=%v, modified value %v", k, ok, v)
			}
		}
		for k := range om {
			if _, inM := mm[k]; !inM {
				if _, ok := out[k]; ok {
					t.Fatalf("field %q was removed from the configuration but kept", k)
				}
			}
		}
		// Applying the same configuration again changes nothing.
		if again := ThreeWay(mm, mm, out); !Equal(again, out) {
			t.Fatalf("not idempotent: %v then %v", out, again)
		}
	})
}
