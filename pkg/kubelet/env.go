package kubelet

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/coxswain/coxswain/pkg/api/resource"
	corev1 "github.com/coxswain/coxswain/proto/coxswain/core/v1"
)

// configError is a container configuration problem reported as the waiting
// reason CreateContainerConfigError (a missing ConfigMap, Secret or key).
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

func configErrorf(format string, args ...any) error {
	return &configError{msg: fmt.Sprintf(format, args...)}
}

// objectSource finds ConfigMaps and Secrets (the informer caches).
type objectSource interface {
	configMap(namespace, name string) (*corev1.ConfigMap, bool)
	secret(namespace, name string) (*corev1.Secret, bool)
}

// envContext is what environment variables may refer to.
type envContext struct {
	pod    *corev1.Pod
	podIP  string
	hostIP string
	// nodeCPUMilli and nodeMemory stand in for unset limits in
	// resourceFieldRef, as in Kubernetes.
	nodeCPUMilli, nodeMemory int64
	objects                  objectSource
}

// containerEnv builds the environment of c: the image's Env, then envFrom
// in order, then env in order (later definitions win), with $(VAR)
// references expanded as Kubernetes does (against the container's own
// variables defined before, not the image's). The result keeps
// first-definition order; vars are the container's own variables, for
// expanding command and args.
func containerEnv(ec *envContext, c *corev1.Container, imageEnv []string) (env []string, vars map[string]string, err error) {
	var order []string
	vals := map[string]string{}
	vars = map[string]string{}
	set := func(k, v string, own bool) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
		if own {
			vars[k] = v
		}
	}
	for _, kv := range imageEnv {
		k, v, _ := strings.Cut(kv, "=")
		if k != "" {
			set(k, v, false)
		}
	}
	ns := ec.pod.GetMetadata().GetNamespace()
	for _, ef := range c.GetEnvFrom() {
		switch {
		case ef.GetConfigMapRef() != nil:
			ref := ef.GetConfigMapRef()
			cm, ok := ec.objects.configMap(ns, ref.GetName())
			if !ok {
				if ref.GetOptional() {
					continue
				}
				return nil, nil, configErrorf("configmap %q not found", ref.GetName())
			}
			for _, k := range slices.Sorted(maps.Keys(cm.GetData())) {
				if name := ef.GetPrefix() + k; validEnvName(name) {
					set(name, cm.GetData()[k], true)
				}
			}
		case ef.GetSecretRef() != nil:
			ref := ef.GetSecretRef()
			s, ok := ec.objects.secret(ns, ref.GetName())
			if !ok {
				if ref.GetOptional() {
					continue
				}
				return nil, nil, configErrorf("secret %q not found", ref.GetName())
			}
			for _, k := range slices.Sorted(maps.Keys(s.GetData())) {
				if name := ef.GetPrefix() + k; validEnvName(name) {
					set(name, string(s.GetData()[k]), true)
				}
			}
		}
	}
	for _, e := range c.GetEnv() {
		v, ok, err := envValue(ec, c, e)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			continue
		}
		if e.GetValueFrom() == nil {
			v = expandVars(v, vars)
		}
		set(e.GetName(), v, true)
	}
	env = make([]string, 0, len(order))
	for _, k := range order {
		env = append(env, k+"="+vals[k])
	}
	return env, vars, nil
}

// envValue resolves one env entry; ok is false for an optional reference
// that is missing.
func envValue(ec *envContext, c *corev1.Container, e *corev1.EnvVar) (string, bool, error) {
	src := e.GetValueFrom()
	if src == nil {
		return e.GetValue(), true, nil
	}
	ns := ec.pod.GetMetadata().GetNamespace()
	switch {
	case src.GetFieldRef() != nil:
		v, err := podFieldValue(ec, src.GetFieldRef().GetFieldPath())
		if err != nil {
			return "", false, configErrorf("env %s: %v", e.GetName(), err)
		}
		return v, true, nil
	case src.GetResourceFieldRef() != nil:
		v, err := resourceFieldValue(ec, c, src.GetResourceFieldRef())
		if err != nil {
			return "", false, configErrorf("env %s: %v", e.GetName(), err)
		}
		return v, true, nil
	case src.GetConfigMapKeyRef() != nil:
		ref := src.GetConfigMapKeyRef()
		cm, ok := ec.objects.configMap(ns, ref.GetName())
		if !ok {
			if ref.GetOptional() {
				return "", false, nil
			}
			return "", false, configErrorf("configmap %q not found", ref.GetName())
		}
		v, ok := cm.GetData()[ref.GetKey()]
		if !ok {
			if b, bok := cm.GetBinaryData()[ref.GetKey()]; bok {
				return string(b), true, nil
			}
			if ref.GetOptional() {
				return "", false, nil
			}
			return "", false, configErrorf("couldn't find key %s in ConfigMap %s/%s", ref.GetKey(), ns, ref.GetName())
		}
		return v, true, nil
	case src.GetSecretKeyRef() != nil:
		ref := src.GetSecretKeyRef()
		s, ok := ec.objects.secret(ns, ref.GetName())
		if !ok {
			if ref.GetOptional() {
				return "", false, nil
			}
			return "", false, configErrorf("secret %q not found", ref.GetName())
		}
		v, ok := s.GetData()[ref.GetKey()]
		if !ok {
			if ref.GetOptional() {
				return "", false, nil
			}
			return "", false, configErrorf("couldn't find key %s in Secret %s/%s", ref.GetKey(), ns, ref.GetName())
		}
		return string(v), true, nil
	}
	return e.GetValue(), true, nil
}

// podFieldValue resolves a downward API field path.
func podFieldValue(ec *envContext, path string) (string, error) {
	m := ec.pod.GetMetadata()
	if key, ok := subscript(path, "metadata.labels"); ok {
		return m.GetLabels()[key], nil
	}
	if key, ok := subscript(path, "metadata.annotations"); ok {
		return m.GetAnnotations()[key], nil
	}
	switch path {
	case "metadata.name":
		return m.GetName(), nil
	case "metadata.namespace":
		return m.GetNamespace(), nil
	case "metadata.uid":
		return m.GetUid(), nil
	case "metadata.labels":
		return formatMap(m.GetLabels()), nil
	case "metadata.annotations":
		return formatMap(m.GetAnnotations()), nil
	case "spec.nodeName":
		return ec.pod.GetSpec().GetNodeName(), nil
	case "spec.serviceAccountName":
		return ec.pod.GetSpec().GetServiceAccountName(), nil
	case "status.podIP", "status.podIPs":
		return ec.podIP, nil
	case "status.hostIP", "status.hostIPs":
		return ec.hostIP, nil
	}
	return "", fmt.Errorf("unsupported fieldPath %q", path)
}

// subscript parses `prefix['key']` (or with double quotes).
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"[")
	if !ok || !strings.HasSuffix(rest, "]") || len(rest) < 3 {
		return "", false
	}
	rest = rest[:len(rest)-1]
	q := rest[0]
	if (q != '\'' && q != '"') || rest[len(rest)-1] != q || len(rest) < 2 {
		return "", false
	}
	return rest[1 : len(rest)-1], true
}

// formatMap renders labels like the downward API: key="value" lines, sorted.
func formatMap(m map[string]string) string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(k + "=" + strconv.Quote(m[k]))
	}
	return b.String()
}

func resourceFieldValue(ec *envContext, c *corev1.Container, ref *corev1.ResourceFieldSelector) (string, error) {
	target := c
	if n := ref.GetContainerName(); n != "" && n != c.GetName() {
		target = nil
		for _, cc := range append(slices.Clone(ec.pod.GetSpec().GetContainers()), ec.pod.GetSpec().GetInitContainers()...) {
			if cc.GetName() == n {
				target = cc
			}
		}
		if target == nil {
			return "", fmt.Errorf("resourceFieldRef: container %q not found", n)
		}
	}
	kind, name, ok := strings.Cut(ref.GetResource(), ".")
	if !ok || kind != "limits" && kind != "requests" {
		return "", fmt.Errorf("resourceFieldRef: resource %q: want limits.<name> or requests.<name>", ref.GetResource())
	}
	var raw string
	if kind == "limits" {
		raw = target.GetResources().GetLimits()[name]
	} else {
		raw = target.GetResources().GetRequests()[name]
		if raw == "" {
			raw = target.GetResources().GetLimits()[name]
		}
	}
	divisor := resource.MustParse("1")
	if d := ref.GetDivisor(); d != "" {
		q, err := resource.ParseQuantity(d)
		if err != nil || q.Sign() <= 0 {
			return "", fmt.Errorf("resourceFieldRef: divisor %q: must be a positive quantity", d)
		}
		divisor = q
	}
	switch name {
	case "cpu":
		milli := int64(0)
		if raw != "" {
			q, err := resource.ParseQuantity(raw)
			if err != nil {
				return "", fmt.Errorf("resourceFieldRef: %s %q: %w", ref.GetResource(), raw, err)
			}
			milli = q.MilliValue()
		} else if kind == "limits" {
			milli = ec.nodeCPUMilli
		}
		d := divisor.MilliValue()
		return strconv.FormatInt((milli+d-1)/d, 10), nil
	case "memory", "ephemeral-storage":
		v := int64(0)
		if raw != "" {
			q, err := resource.ParseQuantity(raw)
			if err != nil {
				return "", fmt.Errorf("resourceFieldRef: %s %q: %w", ref.GetResource(), raw, err)
			}
			v = q.Value()
		} else if kind == "limits" && name == "memory" {
			v = ec.nodeMemory
		}
		d := divisor.Value()
		return strconv.FormatInt((v+d-1)/d, 10), nil
	}
	return "", fmt.Errorf("resourceFieldRef: resource %q: unsupported", ref.GetResource())
}

// validEnvName accepts C identifiers plus '-' and '.', as Kubernetes does.
func validEnvName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '-' || c == '.' || isAlnum(c)) {
			return false
		}
	}
	return true
}

// expandVars expands $(VAR) with vars; $$ escapes a '$'; unknown
// references are kept as written (Kubernetes' third_party/forked/golang/expansion).
func expandVars(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := vars[name]; ok && name != "" {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}
