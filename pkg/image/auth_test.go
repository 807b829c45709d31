package image

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

func TestNormalizeRegistry(t *testing.T) {
	for in, want := range map[string]string{
		"registry.example.com:5000":    "registry.example.com:5000",
		" Registry.Example.COM:5000/ ": "registry.example.com:5000",
		"https://index.docker.io/v1/":  "index.docker.io",
		"http://docker.io":             "index.docker.io",
		"registry-1.docker.io":         "index.docker.io",
		"127.0.0.1:5000/some/path":     "127.0.0.1:5000",
		"":                             "",
	} {
		if got := normalizeRegistry(in); got != want {
			t.Errorf("normalizeRegistry(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseDockerConfig(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name     string
		data     string
		registry string // looked up after parsing
		want     Credentials
		wantErr  string
	}{
		{"dockerconfigjson auth", `{"auths":{"reg.example:5000":{"auth":"` + b64("bob:pa:ss") + `"}}}`, "reg.example:5000",
			Credentials{Username: "bob", Password: "pa:ss"}, ""},
		{"auth wins over username", `{"auths":{"reg.example":{"username":"x","password":"y","auth":"` + b64("bob:pw") + `"}}}`, "reg.example",
			Credentials{Username: "bob", Password: "pw"}, ""},
		{"identity token", `{"auths":{"reg.example":{"identitytoken":"tok"}}}`, "reg.example", Credentials{IdentityToken: "tok"}, ""},
		{"docker hub key", `{"auths":{"https://index.docker.io/v1/":{"username":"u","password":"p"}}}`, "docker.io",
			Credentials{Username: "u", Password: "p"}, ""},
		{"legacy dockercfg", `{"https://reg.example/v1/":{"username":"u","password":"p","email":"e@x"}}`, "reg.example",
			Credentials{Username: "u", Password: "p"}, ""},
		{"not json", `{`, "", Credentials{}, "docker config:"},
		{"auths not an object", `{"auths":[1]}`, "", Credentials{}, "docker config: auths:"},
		{"legacy entry not an object", `{"reg.example":"x"}`, "", Credentials{}, `docker config: entry "reg.example":`},
		{"bad base64", `{"auths":{"reg.example":{"auth":"%%%"}}}`, "", Credentials{}, `entry "reg.example": auth is not base64`},
		{"auth without colon", `{"auths":{"reg.example":{"auth":"` + b64("bob") + `"}}}`, "", Credentials{}, "auth is not base64 of user:password"},
		{"empty registry", `{"auths":{"https://":{"username":"u"}}}`, "", Credentials{}, `entry "https://": empty registry`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseDockerConfig([]byte(tc.data))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseDockerConfig = %v, %v; want error %q", a, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, ok := a.lookup(tc.registry)
			if !ok || got != tc.want {
				t.Errorf("lookup(%s) = %+v, %v; want %+v", tc.registry, got, ok, tc.want)
			}
		})
	}
}

func TestKeychainOrder(t *testing.T) {
	reg, err := name.NewRegistry("reg.example:5000")
	if err != nil {
		t.Fatal(err)
	}
	first := RegistryAuth{"reg.example:5000": {Username: "first", Password: "1"}}
	second := RegistryAuth{"https://reg.example:5000": {Username: "second", Password: "2"}}
	empty := RegistryAuth{"reg.example:5000": {}}
	other := RegistryAuth{"other.example": {Username: "o", Password: "o"}}
	for _, tc := range []struct {
		name string
		kc   keychain
		want authn.AuthConfig
	}{
		{"first match wins", keychain{other, first, second}, authn.AuthConfig{Username: "first", Password: "1"}},
		{"empty credentials are skipped", keychain{empty, second}, authn.AuthConfig{Username: "second", Password: "2"}},
		{"anonymous", keychain{other}, authn.AuthConfig{}},
		{"nothing", nil, authn.AuthConfig{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := tc.kc.Resolve(reg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := a.Authorization()
			if err != nil {
				t.Fatal(err)
			}
			if *got != tc.want {
				t.Errorf("Resolve = %+v, want %+v", *got, tc.want)
			}
		})
	}
}

// FuzzParseDockerConfig checks that parsing never panics and that every
// parsed entry can be looked up by its own key.
func FuzzParseDockerConfig(f *testing.F) {
	for _, s := range []string{
		`{"auths":{"reg.example:5000":{"auth":"Ym9iOnB3"}}}`,
		`{"https://index.docker.io/v1/":{"username":"u","password":"p"}}`,
		`{"auths":{"r":{"identitytoken":"t","registrytoken":"x"}}}`,
		`{"auths":null}`, `[]`, `{"a":{"auth":"=="}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseDockerConfig(data)
		if err != nil {
			return
		}
		for k := range a {
			if _, ok := a.lookup(k); !ok {
				t.Fatalf("entry %q parsed but not found by lookup", k)
			}
		}
		// Round trip through the dockerconfigjson form.
		type e struct {
			Username string `json:"username"`
			Password string `json:"password"`
		}
		out := map[string]map[string]e{"auths": {}}
		for k, c := range a {
			out["auths"][k] = e{c.Username, c.Password}
		}
		b, err := json.Marshal(out)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseDockerConfig(b)
		if err != nil {
			t.Fatalf("re-parsing %s: %v", b, err)
		}
		for k, c := range a {
			if !utf8.ValidString(k + c.Username + c.Password) {
				continue // JSON cannot carry it unchanged
			}
			if g := again[k]; g.Username != c.Username || g.Password != c.Password {
				t.Fatalf("round trip of %q: %+v, want %+v", k, g, c)
			}
		}
	})
}
