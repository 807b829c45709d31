package resource

import (
	"math/big"
	"math/bits"
	"strconv"
)

// u128 is an unsigned 128-bit integer.
type u128 struct{ hi, lo uint64 }

var maxU128 = u128{hi: ^uint64(0), lo: ^uint64(0)}

func (a u128) isZero() bool { return a.hi == 0 && a.lo == 0 }

func (a u128) cmp(b u128) int {
	switch {
	case a.hi < b.hi:
		return -1
	case a.hi > b.hi:
		return 1
	case a.lo < b.lo:
		return -1
	case a.lo > b.lo:
		return 1
	}
	return 0
}

// add returns a+b and whether it did not overflow.
func (a u128) add(b u128) (u128, bool) {
	lo, c := bits.Add64(a.lo, b.lo, 0)
	hi, c := bits.Add64(a.hi, b.hi, c)
	return u128{hi, lo}, c == 0
}

// sub returns a-b; a must not be less than b.
func (a u128) sub(b u128) u128 {
	lo, borrow := bits.Sub64(a.lo, b.lo, 0)
	hi, _ := bits.Sub64(a.hi, b.hi, borrow)
	return u128{hi, lo}
}

// mul returns a*m and whether it did not overflow.
func (a u128) mul(m uint64) (u128, bool) {
	h1, lo := bits.Mul64(a.lo, m)
	h2, l2 := bits.Mul64(a.hi, m)
	hi, c := bits.Add64(l2, h1, 0)
	return u128{hi, lo}, h2 == 0 && c == 0
}

// divmod returns a/d and a%d; d must not be zero.
func (a u128) divmod(d uint64) (u128, uint64) {
	qhi, r := a.hi/d, a.hi%d
	qlo, r := bits.Div64(r, a.lo, d)
	return u128{qhi, qlo}, r
}

// shl returns a<<n and whether no set bit was shifted out.
func (a u128) shl(n uint) (u128, bool) {
	if n == 0 || a.isZero() {
		return a, true
	}
	lz := uint(bits.LeadingZeros64(a.hi))
	if a.hi == 0 {
		lz = 64 + uint(bits.LeadingZeros64(a.lo))
	}
	if n > lz {
		return u128{}, false
	}
	if n >= 64 {
		return u128{hi: a.lo << (n - 64)}, true
	}
	return u128{hi: a.hi<<n | a.lo>>(64-n), lo: a.lo << n}, true
}

// pow10 holds 10^0 ... 10^19, the powers that fit a uint64.
var pow10 = func() [20]uint64 {
	var p [20]uint64
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// mulPow10 returns a*10^n and whether it did not overflow.
func (a u128) mulPow10(n int) (u128, bool) {
	for n > 0 {
		k := min(n, 19)
		var ok bool
		if a, ok = a.mul(pow10[k]); !ok {
			return u128{}, false
		}
		n -= k
	}
	return a, true
}

func (a u128) String() string {
	if a.hi == 0 {
		return strconv.FormatUint(a.lo, 10)
	}
	// Peel off 19 decimal digits at a time.
	var chunks []uint64
	for a.hi != 0 {
		var r uint64
		a, r = a.divmod(pow10[19])
		chunks = append(chunks, r)
	}
	buf := strconv.AppendUint(make([]byte, 0, 40), a.lo, 10)
	for i := len(chunks) - 1; i >= 0; i-- {
		s := strconv.FormatUint(chunks[i], 10)
		for range 19 - len(s) {
			buf = append(buf, '0')
		}
		buf = append(buf, s...)
	}
	return string(buf)
}

func (a u128) big() *big.Int {
	b := new(big.Int).SetUint64(a.hi)
	b.Lsh(b, 64)
	return b.Or(b, new(big.Int).SetUint64(a.lo))
}

// u128FromBig converts b (non-negative) and reports whether it fits.
func u128FromBig(b *big.Int) (u128, bool) {
	if b.Sign() < 0 || b.BitLen() > 128 {
		return u128{}, false
	}
	lo := new(big.Int).And(b, new(big.Int).SetUint64(^uint64(0))).Uint64()
	hi := new(big.Int).Rsh(b, 64).Uint64()
	return u128{hi, lo}, true
}

func (a u128) float64() float64 {
	return float64(a.hi)*(1<<64) + float64(a.lo)
}
