package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	if err := os.WriteFile(path, []byte(`current-context: lab
contexts:
- name: lab
  server: 10.0.0.1:6443
  namespace: team
- name: local
  server: 127.0.0.1:7443
`), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		o    Overrides
		want Resolved
		err  string
	}{
		{"current context", Overrides{}, Resolved{Context: "lab", Server: "10.0.0.1:6443", Namespace: "team"}, ""},
		{"--context", Overrides{Context: "local"}, Resolved{Context: "local", Server: "127.0.0.1:7443", Namespace: "default"}, ""},
		{"--server and -n win", Overrides{Server: "h:1", Namespace: "x"}, Resolved{Context: "lab", Server: "h:1", Namespace: "x", ExplicitNamespace: true}, ""},
		{"unknown context", Overrides{Context: "nope"}, Resolved{}, `context "nope" not found`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.Resolve(tc.o)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	// A missing file is the default configuration.
	f, err := Load(filepath.Join(dir, "missing"))
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := f.Resolve(Overrides{}); r.Server != DefaultServer || r.Namespace != "default" {
		t.Errorf("defaults: %+v", r)
	}
	for name, content := range map[string]string{
		"unknown field": "current-context: a\nservers: []\n",
		"nameless":      "contexts:\n- server: x\n",
		"duplicate":     "contexts:\n- name: a\n- name: a\n",
		"not yaml":      "contexts: [\n",
		"wrong type":    "contexts: 3\n",
		"dangling":      "current-context: b\ncontexts:\n- name: a\n",
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		os.WriteFile(p, []byte(content), 0o600)
		f, err := Load(p)
		if name == "dangling" {
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if _, err := f.Resolve(Overrides{}); err == nil || !strings.Contains(err.Error(), `current-context "b" not found`) {
				t.Errorf("%s: resolve err = %v", name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v, want an error naming the file", name, err)
		}
	}
	// An empty file is fine; Save then Load round-trips.
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	if _, err := Load(empty); err != nil {
		t.Errorf("empty file: %v", err)
	}
	saved := &File{CurrentContext: "a", Contexts: []Context{{Name: "a", Server: "s:1", Namespace: "n"}}}
	p := filepath.Join(dir, "sub", "config")
	if err := saved.Save(p); err != nil {
		t.Fatal(err)
	}
	back, err := Load(p)
	if err != nil || back.CurrentContext != "a" || len(back.Contexts) != 1 || back.Contexts[0] != saved.Contexts[0] {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}
