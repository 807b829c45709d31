// Package labels implements Kubernetes label selectors: parsing the textual
// form used by list and watch requests and by kubectl -l, building selectors
// from a LabelSelector's matchLabels and matchExpressions, and matching them
// against an object's labels.
//
// The grammar is Kubernetes':
//
//	selector    = [ requirement { "," requirement } ]
//	requirement = [ "!" ] key
//	            | key ( "=" | "==" | "!=" ) value
//	            | key ( "in" | "notin" ) "(" [ value { "," value } ] ")"
//	            | key ( ">" | "<" ) integer
//
// Keys must be qualified names ("app", "example.com/tier") and values valid
// label values, as checked by package validation. A Selector is immutable;
// its String form is canonical (requirements sorted, set values sorted and
// de-duplicated) and parses back to an equivalent selector. The empty
// selector matches everything.
//
// This package depends only on the standard library and the validation
// packages; it is used by the generated API code and must not import it.
package labels
