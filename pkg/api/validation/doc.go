// Package validation holds the generic validators of Kubernetes-style API
// objects: DNS names (RFC 1123 labels and subdomains, RFC 1035 labels),
// qualified names used as label and annotation keys, label values, port
// numbers and names, IP addresses and CIDRs, environment variable names and
// ConfigMap keys.
//
// The Is* functions return a list of human-readable messages, empty when the
// value is valid; their wording matches Kubernetes' so that users see the same
// messages they would from a Kubernetes API server. Callers turn them into
// field errors with the package field, e.g.
//
//	for _, msg := range validation.IsDNS1123Label(name) {
//		errs = append(errs, field.Invalid(path, name, msg))
//	}
//
// ValidateLabels and ValidateAnnotations do that for object metadata.
//
// The generic validators depend only on the standard library and the field package; the kind validators
// (objects.go, pod*.go, service.go, workloads.go) use pkg/api, pkg/api/resource and the generated types.
// The package must not import pkg/labels, which imports it.
package validation
