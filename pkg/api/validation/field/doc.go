// Package field describes validation failures of API objects in terms of the
// field that failed: a [Path] locates the field (spec.containers[0].image,
// metadata.labels[app]) and an [Error] records the kind of failure, the
// offending value and a human-readable detail. An [ErrorList] collects the
// failures of one object and turns into a single error with
// [ErrorList.ToAggregate]; the aggregate keeps the individual errors so that
// the gRPC edge can report one violation per field.
//
// The rendering of errors follows Kubernetes' apimachinery so that messages
// look familiar, e.g.
//
//	spec.containers[0].image: Required value
//	metadata.name: Invalid value: "Foo_": a lowercase RFC 1123 label must consist of ...
//
// This package has no dependencies outside the standard library; it is used by
// the generated API code and must not import it.
package field
