// Package manifest is the one codec between Kubernetes-format manifests (YAML or JSON objects with apiVersion,
// kind, metadata, spec, status...) and coxswain's protobuf objects. It is written once over protoreflect, so a
// new kind or field needs no code here: field names are the descriptors' JSON names (Kubernetes' names), and a
// few well-known message types have Kubernetes' manifest shapes:
//
//   - coxswain.meta.v1.IntOrString is a plain number or string (targetPort: 8080, targetPort: http, maxSurge: 25%);
//   - google.protobuf.Timestamp is an RFC 3339 string;
//   - bytes fields and map<string, bytes> values (Secret.data, ConfigMap.binaryData) are base64 strings;
//   - resource quantities (limits, requests, capacity, allocatable...) are strings that may be written as
//     numbers (cpu: 1, cpu: 0.5); the text is kept as written.
//
// Decode is strict like kubectl's server-side validation: an unknown or duplicate field, a value of the wrong
// type, an integer out of range or an unsupported apiVersion/kind is an error, and every error of a file is
// reported at once, each with the file, the document, the line and the field path, e.g.
//
//	deploy.yaml: document 2: line 14: spec.template.spec.containers[0].ports[0].containerPort: expected an integer, got string "http"
//
// Encode writes objects the way kubectl get -o yaml/json does: apiVersion and kind first, then the fields in
// declaration order, leaving out unset and empty fields. Decode(Encode(x)) gives back x.
package manifest
