package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// DefaultServer is the apiserver address used when no configuration names one (make run listens there).
const DefaultServer = "127.0.0.1:6443"

// EnvVar names the environment variable that points at the configuration file.
const EnvVar = "COXSWAIN_CONFIG"

// Context is a named server and default namespace.
type Context struct {
	Name      string `yaml:"name"`
	Server    string `yaml:"server"`
	Namespace string `yaml:"namespace,omitempty"`
}

// File is the configuration file's content.
type File struct {
	CurrentContext string    `yaml:"current-context,omitempty"`
	Contexts       []Context `yaml:"contexts,omitempty"`
}

// Path returns the configuration file to use: flag, else $COXSWAIN_CONFIG, else ~/.coxswain/config.
func Path(flag string) string {
	if flag != "" {
		return flag
	}
	if p := os.Getenv(EnvVar); p != "" {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(".coxswain", "config")
	}
	return filepath.Join(home, ".coxswain", "config")
}

// Load reads a configuration file. A missing file is an empty configuration.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &File{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	var f File
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config %s: %v", path, err)
	}
	seen := map[string]bool{}
	for i, c := range f.Contexts {
		if c.Name == "" {
			return nil, fmt.Errorf("config %s: contexts[%d].name: required", path, i)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("config %s: contexts[%d].name: duplicate context %q", path, i, c.Name)
		}
		seen[c.Name] = true
	}
	return &f, nil
}

// Save writes the configuration file, creating its directory.
func (f *File) Save(path string) error {
	data, err := yaml.Marshal(f)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write config %s: %w", path, err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("write config %s: %w", path, err)
	}
	return nil
}

// Context returns the named context, nil when there is none.
func (f *File) Context(name string) *Context {
	for i := range f.Contexts {
		if f.Contexts[i].Name == name {
			return &f.Contexts[i]
		}
	}
	return nil
}

// Overrides are the command-line flags that take precedence over the file.
type Overrides struct {
	Context   string // --context
	Server    string // --server
	Namespace string // -n/--namespace
}

// Resolved is what a command uses.
type Resolved struct {
	Context   string // "" without a context
	Server    string
	Namespace string
	// ExplicitNamespace is true when -n was given.
	ExplicitNamespace bool
}

// Resolve picks the context (--context, else current-context) and applies the overrides. Naming a
// context that does not exist is an error.
func (f *File) Resolve(o Overrides) (Resolved, error) {
	r := Resolved{Server: DefaultServer, Namespace: "default"}
	name := o.Context
	if name == "" {
		name = f.CurrentContext
	}
	if name != "" {
		c := f.Context(name)
		if c == nil {
			if o.Context != "" {
				return r, fmt.Errorf("context %q not found in the configuration", name)
			}
			return r, fmt.Errorf("current-context %q not found in the configuration", name)
		}
		r.Context = name
		if c.Server != "" {
			r.Server = c.Server
		}
		if c.Namespace != "" {
			r.Namespace = c.Namespace
		}
	}
	if o.Server != "" {
		r.Server = o.Server
	}
	if o.Namespace != "" {
		r.Namespace, r.ExplicitNamespace = o.Namespace, true
	}
	return r, nil
}
