package image

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
)

// Credentials authenticate to one registry.
type Credentials struct {
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
	RegistryToken string `json:"registrytoken,omitempty"`
}

func (c Credentials) empty() bool { return c == Credentials{} }

// RegistryAuth maps a registry host (e.g. "registry.example.com:5000",
// "docker.io") to its credentials. Keys may be written as in a docker config
// ("https://index.docker.io/v1/"); they are normalised on lookup.
type RegistryAuth map[string]Credentials

// lookup finds the credentials of registry (a host[:port]).
func (a RegistryAuth) lookup(registry string) (Credentials, bool) {
	want := normalizeRegistry(registry)
	for k, c := range a {
		if normalizeRegistry(k) == want {
			return c, true
		}
	}
	return Credentials{}, false
}

// normalizeRegistry turns a docker-config key or a registry name into a bare
// lower-case host[:port], folding Docker Hub's aliases into index.docker.io.
func normalizeRegistry(k string) string {
	k = strings.ToLower(strings.TrimSpace(k))
	k = strings.TrimPrefix(k, "https://")
	k = strings.TrimPrefix(k, "http://")
	if i := strings.IndexByte(k, '/'); i >= 0 {
		k = k[:i]
	}
	switch k {
	case "docker.io", "registry-1.docker.io", "index.docker.io":
		return "index.docker.io"
	}
	return k
}

type dockerAuthEntry struct {
	Username      string `json:"username"`
	Password      string `json:"password"`
	Auth          string `json:"auth"`
	IdentityToken string `json:"identitytoken"`
	RegistryToken string `json:"registrytoken"`
}

// ParseDockerConfig parses the content of a kubernetes.io/dockerconfigjson
// secret ({"auths": {...}}) or of a legacy kubernetes.io/dockercfg secret
// (the same map without the "auths" wrapper).
func ParseDockerConfig(data []byte) (RegistryAuth, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("docker config: %w", err)
	}
	entries := map[string]dockerAuthEntry{}
	if raw, ok := top["auths"]; ok {
		if err := json.Unmarshal(raw, &entries); err != nil {
			return nil, fmt.Errorf("docker config: auths: %w", err)
		}
	} else {
		for k, raw := range top {
			var e dockerAuthEntry
			if err := json.Unmarshal(raw, &e); err != nil {
				return nil, fmt.Errorf("docker config: entry %q: %w", k, err)
			}
			entries[k] = e
		}
	}
	out := make(RegistryAuth, len(entries))
	for k, e := range entries {
		if normalizeRegistry(k) == "" {
			return nil, fmt.Errorf("docker config: entry %q: empty registry", k)
		}
		c := Credentials{Username: e.Username, Password: e.Password, IdentityToken: e.IdentityToken, RegistryToken: e.RegistryToken}
		if e.Auth != "" {
			dec, err := base64.StdEncoding.DecodeString(e.Auth)
			if err != nil {
				return nil, fmt.Errorf("docker config: entry %q: auth is not base64: %w", k, err)
			}
			user, pass, ok := strings.Cut(string(dec), ":")
			if !ok {
				return nil, fmt.Errorf("docker config: entry %q: auth is not base64 of user:password", k)
			}
			c.Username, c.Password = user, pass
		}
		out[k] = c
	}
	return out, nil
}

// keychain resolves credentials from pull secrets first, then the store's
// configured auth, and falls back to anonymous.
type keychain []RegistryAuth

func (kc keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	for _, a := range kc {
		if c, ok := a.lookup(r.RegistryStr()); ok && !c.empty() {
			return authn.FromConfig(authn.AuthConfig{
				Username: c.Username, Password: c.Password,
				IdentityToken: c.IdentityToken, RegistryToken: c.RegistryToken,
			}), nil
		}
	}
	return authn.Anonymous, nil
}
