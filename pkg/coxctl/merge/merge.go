package merge

import (
	"fmt"
	"reflect"
)

// ThreeWay returns the object to write: current with modified's fields set and the fields deleted since
// original removed. original may be nil (no last-applied configuration: nothing is removed). The inputs are
// not modified.
func ThreeWay(original, modified, current map[string]any) map[string]any {
	return mergeMap(original, modified, current)
}

func mergeMap(original, modified, current map[string]any) map[string]any {
	out := make(map[string]any, len(current)+len(modified))
	for k, v := range current {
		out[k] = v
	}
	for k := range original {
		if _, ok := modified[k]; !ok {
			delete(out, k)
		}
	}
	for k, mv := range modified {
		if mv == nil {
			delete(out, k)
			continue
		}
		out[k] = mergeValue(k, original[k], mv, current[k])
	}
	return out
}

func mergeValue(field string, original, modified, current any) any {
	switch m := modified.(type) {
	case map[string]any:
		c, ok := current.(map[string]any)
		if !ok {
			return deepCopy(m)
		}
		o, _ := original.(map[string]any)
		return mergeMap(o, m, c)
	case []any:
		c, ok := current.([]any)
		if !ok {
			return deepCopy(m)
		}
		o, _ := original.([]any)
		if keyFn := mergeKey(field, m); keyFn != nil {
			if merged, ok := mergeList(keyFn, field, o, m, c); ok {
				return merged
			}
		}
		return deepCopy(m)
	}
	return modified
}

// mergeKeys are the merge keys of Kubernetes' strategic merge patch for the list fields coxswain's kinds have.
var mergeKeys = map[string]string{
	"containers":       "name",
	"initContainers":   "name",
	"env":              "name",
	"volumes":          "name",
	"imagePullSecrets": "name",
	"volumeMounts":     "mountPath",
	"conditions":       "type",
	"ownerReferences":  "uid",
	"hostAliases":      "ip",
}

// mergeKey returns the key function of a list field, or nil when the list is replaced as a whole.
func mergeKey(field string, list []any) func(map[string]any) (string, bool) {
	if field == "ports" {
		// Container ports merge on containerPort and service ports on port (with the protocol, defaulted to
		// TCP, so that a TCP and a UDP port 53 are two elements).
		for _, name := range []string{"containerPort", "port"} {
			if allHave(list, name) {
				return func(e map[string]any) (string, bool) {
					v, ok := e[name]
					if !ok || v == nil {
						return "", false
					}
					proto, _ := e["protocol"].(string)
					if proto == "" {
						proto = "TCP"
					}
					return fmt.Sprintf("%v/%s", v, proto), true
				}
			}
		}
		return nil
	}
	name, ok := mergeKeys[field]
	if !ok || !allHave(list, name) {
		return nil
	}
	return func(e map[string]any) (string, bool) {
		v, ok := e[name]
		if !ok || v == nil {
			return "", false
		}
		return fmt.Sprint(v), true
	}
}

func allHave(list []any, key string) bool {
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return false
		}
		if v, ok := m[key]; !ok || v == nil {
			return false
		}
	}
	return true
}

// mergeList merges lists element by element on a key. Elements of modified come first, in its order,
// merged with the current element of the same key; then current elements the user never wrote (not in
// original), in their order. It reports false when an element lacks the key or a key repeats, and the
// list is then replaced.
func mergeList(key func(map[string]any) (string, bool), field string, original, modified, current []any) ([]any, bool) {
	index := func(list []any) (map[string]map[string]any, []string, bool) {
		idx := make(map[string]map[string]any, len(list))
		order := make([]string, 0, len(list))
		for _, e := range list {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, nil, false
			}
			k, ok := key(m)
			if !ok {
				return nil, nil, false
			}
			if _, dup := idx[k]; dup {
				return nil, nil, false
			}
			idx[k] = m
			order = append(order, k)
		}
		return idx, order, true
	}
	mi, morder, ok := index(modified)
	if !ok {
		return nil, false
	}
	ci, corder, ok := index(current)
	if !ok {
		return nil, false
	}
	oi := map[string]map[string]any{}
	if original != nil {
		if oi, _, ok = index(original); !ok {
			oi = map[string]map[string]any{}
		}
	}
	out := make([]any, 0, len(modified)+len(current))
	for _, k := range morder {
		if c, ok := ci[k]; ok {
			out = append(out, mergeMap(oi[k], mi[k], c))
		} else {
			out = append(out, deepCopy(mi[k]))
		}
	}
	for _, k := range corder {
		if _, inModified := mi[k]; inModified {
			continue
		}
		if _, wasApplied := oi[k]; wasApplied {
			continue // removed from the manifest
		}
		out = append(out, ci[k])
	}
	return out, true
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if e == nil {
				continue // a null in the manifest means "not set"
			}
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

// Equal reports whether two plain-map objects are equal.
func Equal(a, b map[string]any) bool { return reflect.DeepEqual(a, b) }
