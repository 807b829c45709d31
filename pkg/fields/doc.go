// Package fields implements Kubernetes field selectors, as used by list and
// watch requests (?fieldSelector=spec.nodeName=node-1) and kubectl
// --field-selector: a comma-separated conjunction of terms
//
//	field=value   field==value   field!=value
//
// Field names are dotted paths such as metadata.name or status.phase. Values
// are taken literally; a ',', '=' or '\' inside a value is escaped with a
// backslash (see EscapeValue). Only the three operators above exist; any other
// (in, notin, <, >, exists) is an error.
//
// Which fields a resource supports is the caller's business: a Selector is
// matched through a getter that returns the value of a field of one object.
// RequiresExactMatch lets storage use an index (e.g. pods by spec.nodeName).
//
// This package depends only on the standard library; it is used by the
// generated API code and must not import it.
package fields
