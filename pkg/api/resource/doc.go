// Package resource implements Kubernetes resource quantities ("500m" CPU,
// "1.5Gi" memory): parsing, arithmetic, comparison and the canonical string
// form.
//
// A quantity is written as a signed decimal number followed by a suffix:
//
//	decimal SI:      n u m "" k M G T P E   (10^-9 ... 10^18)
//	binary SI:       Ki Mi Gi Ti Pi Ei      (2^10 ... 2^60)
//	decimal exponent: e3, E-2, ...          (10^n)
//
// Values are exact to one nano-unit (10^-9); finer fractions are rounded away
// from zero, so a non-zero request never becomes zero ("0.1n" is "1n"). The
// magnitude is held in a 128-bit integer of nano-units, which makes
// arithmetic exact and allocation-free up to about 3.4e29 units; larger
// inputs are rejected and sums saturate.
//
// String renders the canonical form Kubernetes uses, keeping the format of
// the input (binary SI stays binary when the value is a whole number of at
// least 1Ki): "0.5" is "500m", "1024Mi" is "1Gi", "1000m" is "1", "1.5k" is
// "1500", "1e3" is "1e3".
//
// This package depends only on the standard library; it is used by the
// generated API code and must not import it.
package resource
