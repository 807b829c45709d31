// Package manifesttest builds random API objects for property tests: every field of every kind, with edge
// values (extreme integers, YAML-lookalike strings, timestamps with nanoseconds), so codecs and defaulting
// can be checked on inputs nobody thought to write down.
package manifesttest
