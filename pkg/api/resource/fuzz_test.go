package resource

import (
	"errors"
	"math/big"
	"regexp"
	"strconv"
	"testing"
)

var refSyntax = regexp.MustCompile(`^([+-]?)([0-9]+\.?[0-9]*|\.[0-9]+)([eEinumkKMGTP]*[-+]?[0-9]*)$`)

var refMultipliers = map[string]*big.Rat{
	"": big.NewRat(1, 1), "n": big.NewRat(1, 1e9), "u": big.NewRat(1, 1e6), "m": big.NewRat(1, 1e3),
	"k": big.NewRat(1e3, 1), "M": big.NewRat(1e6, 1), "G": big.NewRat(1e9, 1), "T": big.NewRat(1e12, 1),
	"P": big.NewRat(1e15, 1), "E": big.NewRat(1e18, 1),
	"Ki": big.NewRat(1<<10, 1), "Mi": big.NewRat(1<<20, 1), "Gi": big.NewRat(1<<30, 1),
	"Ti": big.NewRat(1<<40, 1), "Pi": big.NewRat(1<<50, 1), "Ei": big.NewRat(1<<60, 1),
}

// refNanos is an independent reference for ParseQuantity built on big.Rat:
// it returns the signed value in nano-units, rounded away from zero, or
// ok=false when the input is not a quantity. Exponents beyond ±200 are not
// evaluated (skip=true).
func refNanos(s string) (nanos *big.Int, ok, skip bool) {
	m := refSyntax.FindStringSubmatch(s)
	if m == nil {
		return nil, false, false
	}
	mult, known := refMultipliers[m[3]]
	if !known {
		if len(m[3]) < 2 || (m[3][0] != 'e' && m[3][0] != 'E') {
			return nil, false, false
		}
		exp, err := strconv.ParseInt(m[3][1:], 10, 32)
		if err != nil {
			return nil, false, false
		}
		if exp > 200 || exp < -200 {
			return nil, true, true
		}
		mult = new(big.Rat).SetFrac(big.NewInt(1), big.NewInt(1))
		p := new(big.Int).Exp(big.NewInt(10), big.NewInt(abs(exp)), nil)
		if exp >= 0 {
			mult.SetInt(p)
		} else {
			mult.SetFrac(big.NewInt(1), p)
		}
	}
	num := m[2]
	if num[len(num)-1] == '.' {
		num = num[:len(num)-1]
	}
	v, good := new(big.Rat).SetString(num)
	if !good {
		panic("reference cannot parse " + num)
	}
	v.Mul(v, mult)
	v.Mul(v, big.NewRat(1e9, 1))
	q, r := new(big.Int).QuoRem(v.Num(), v.Denom(), new(big.Int))
	if r.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	if m[1] == "-" {
		q.Neg(q)
	}
	return q, true, false
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

func signedBig(q Quantity) *big.Int {
	b := q.mag.big()
	if q.neg {
		b.Neg(b)
	}
	return b
}

var limit = new(big.Int).Lsh(big.NewInt(1), 128)

func FuzzParseQuantity(f *testing.F) {
	for _, s := range []string{"0", "1", "-1", "500m", "0.5", "1.5Gi", "1024Mi", "1000m", "1e3", "1E-3", ".5", "1.",
		"0.1n", "1000E", "1e40", "1kk", "1e", "+", "-.5Ki", "1.0000000001Ki", "340282366920938463463374607431.768211455",
		"123456789012345678901234567890", "0.000000000000000000001", "12e-20", "7Ei", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuantity(s)
		want, ok, skip := refNanos(s)
		switch {
		case !ok:
			if err == nil {
				t.Fatalf("ParseQuantity(%q) = %s, reference rejects it", s, q.String())
			}
			if !errors.Is(err, ErrFormatWrong) && !errors.Is(err, ErrSuffix) {
				t.Fatalf("ParseQuantity(%q): unexpected error %v", s, err)
			}
			return
		case skip:
		case new(big.Int).Abs(want).Cmp(limit) >= 0:
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("ParseQuantity(%q) = %v, %v; want ErrTooLarge", s, q.String(), err)
			}
			return
		default:
			if err != nil {
				t.Fatalf("ParseQuantity(%q): %v; reference gives %s nanos", s, err, want)
			}
			if got := signedBig(q); got.Cmp(want) != 0 {
				t.Fatalf("ParseQuantity(%q) = %s nanos, reference %s", s, got, want)
			}
		}
		if err != nil {
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("ParseQuantity(%q): unexpected error %v", s, err)
			}
			return
		}

		str := q.String()
		again, err := ParseQuantity(str)
		if err != nil {
			t.Fatalf("String %q of %q does not parse: %v", str, s, err)
		}
		if again.Cmp(q) != 0 {
			t.Fatalf("String %q of %q parses to a different value %q", str, s, again.String())
		}
		if again.String() != str {
			t.Fatalf("String not stable for %q: %q then %q", s, str, again.String())
		}

		// Value and MilliValue round away from zero and saturate.
		for _, c := range []struct {
			got   int64
			scale int64
		}{{q.Value(), 1e9}, {q.MilliValue(), 1e6}} {
			n := signedBig(q)
			quo, rem := new(big.Int).QuoRem(n, big.NewInt(c.scale), new(big.Int))
			if rem.Sign() != 0 {
				quo.Add(quo, big.NewInt(int64(n.Sign())))
			}
			if quo.IsInt64() && quo.Int64() != c.got {
				t.Fatalf("%q: scaled value %d, want %s", s, c.got, quo)
			}
			if !quo.IsInt64() && (quo.Sign() > 0) != (c.got > 0) {
				t.Fatalf("%q: scaled value %d did not saturate toward %s", s, c.got, quo)
			}
		}
	})
}

func FuzzArithmetic(f *testing.F) {
	f.Add("1", "500m")
	f.Add("-1.5Gi", "1Gi")
	f.Add("340282366920938463463374607431", "1")
	f.Fuzz(func(t *testing.T, a, b string) {
		x, err1 := ParseQuantity(a)
		y, err2 := ParseQuantity(b)
		if err1 != nil || err2 != nil {
			return
		}
		wantCmp := signedBig(x).Cmp(signedBig(y))
		if got := x.Cmp(y); got != wantCmp {
			t.Fatalf("Cmp(%s, %s) = %d, want %d", a, b, got, wantCmp)
		}
		sum := x
		sum.Add(y)
		want := new(big.Int).Add(signedBig(x), signedBig(y))
		if new(big.Int).Abs(want).Cmp(limit) < 0 {
			if signedBig(sum).Cmp(want) != 0 {
				t.Fatalf("%s + %s = %s", a, b, sum.String())
			}
			back := sum
			back.Sub(y)
			if back.Cmp(x) != 0 {
				t.Fatalf("(%s + %s) - %s = %s", a, b, b, back.String())
			}
		} else if sum.mag != maxU128 {
			t.Fatalf("%s + %s did not saturate: %s", a, b, sum.String())
		}
		diff := x
		diff.Sub(y)
		want.Sub(signedBig(x), signedBig(y))
		if new(big.Int).Abs(want).Cmp(limit) < 0 && signedBig(diff).Cmp(want) != 0 {
			t.Fatalf("%s - %s = %s", a, b, diff.String())
		}
		if s := sum.String(); MustParse(s).Cmp(sum) != 0 {
			t.Fatalf("String %q of a sum does not round-trip", s)
		}
	})
}
