// Package printers renders API objects the way kubectl does: the per-kind tables of kubectl get (with
// kubectl's exact columns, pod STATUS logic and AGE format), -o wide, --show-labels, -A and kind/name
// prefixes, and the yaml, json and name output formats (single objects and kind: List documents).
package printers
