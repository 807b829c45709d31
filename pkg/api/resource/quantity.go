package resource

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Format is the notation a quantity was written in; String keeps it.
type Format string

// The formats of quantities.
const (
	DecimalExponent Format = "DecimalExponent" // e.g. 12e6
	BinarySI        Format = "BinarySI"        // e.g. 12Mi (12 * 2^20)
	DecimalSI       Format = "DecimalSI"       // e.g. 12M (12 * 10^6)
)

// Scale is a power of ten, used by ScaledValue and NewScaledQuantity.
type Scale int32

// Common scales.
const (
	Nano  Scale = -9
	Micro Scale = -6
	Milli Scale = -3
	Kilo  Scale = 3
	Mega  Scale = 6
	Giga  Scale = 9
	Tera  Scale = 12
	Peta  Scale = 15
	Exa   Scale = 18
)

var (
	// ErrFormatWrong is returned (wrapped) for input that is not a number
	// followed by a suffix.
	ErrFormatWrong = errors.New("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
	// ErrSuffix is returned (wrapped) for an unknown suffix.
	ErrSuffix = errors.New("unable to parse quantity's suffix")
	// ErrTooLarge is returned (wrapped) for a value whose magnitude is 2^128
	// nano-units (about 3.4e29) or more.
	ErrTooLarge = errors.New("quantity is too large: the magnitude must be less than 2^128 nano-units (about 3.4e29)")
)

// Quantity is a fixed-point number with nano (10^-9) precision and a Format.
// The zero value is 0. Quantities are values: copying one copies it, and
// only Add and Sub (on a pointer) change one in place.
type Quantity struct {
	neg bool
	mag u128 // magnitude in nano-units

	// Format is the notation String uses.
	Format Format
}

const nanosPerUnit = 1_000_000_000

// NewQuantity returns the quantity value (whole units) in the given format.
func NewQuantity(value int64, format Format) Quantity {
	return newScaled(value, 0, format)
}

// NewMilliQuantity returns the quantity value/1000 in the given format.
func NewMilliQuantity(milli int64, format Format) Quantity {
	return newScaled(milli, Milli, format)
}

// NewScaledQuantity returns value * 10^scale in DecimalSI format. Precision
// beyond nano is rounded away from zero; magnitudes too large saturate.
func NewScaledQuantity(value int64, scale Scale) Quantity {
	return newScaled(value, scale, DecimalSI)
}

func newScaled(value int64, scale Scale, format Format) Quantity {
	q := Quantity{neg: value < 0, Format: format}
	mag := u128{lo: uint64(value)}
	if value < 0 {
		mag.lo = uint64(-(value + 1)) + 1 // |MinInt64| without overflow
	}
	e := int(scale) + 9
	switch {
	case e >= 0:
		var ok bool
		if mag, ok = mag.mulPow10(e); !ok {
			mag = maxU128
		}
	default:
		mag = ceilDivPow10(mag, -e)
	}
	q.mag = mag
	q.normalize()
	return q
}

// ceilDivPow10 returns ceil(a / 10^n).
func ceilDivPow10(a u128, n int) u128 {
	if a.isZero() {
		return a
	}
	if n > 38 {
		return u128{lo: 1}
	}
	rem := false
	for n > 0 {
		k := min(n, 19)
		var r uint64
		a, r = a.divmod(pow10[k])
		rem = rem || r != 0
		n -= k
	}
	if rem {
		a, _ = a.add(u128{lo: 1}) // cannot overflow: a was divided by >= 10
	}
	return a
}

// normalize clears the sign of zero and demotes BinarySI below 1Ki to
// DecimalSI, as Kubernetes does.
func (q *Quantity) normalize() {
	if q.mag.isZero() {
		q.neg = false
	}
	if q.Format == BinarySI && q.mag.cmp(u128{lo: 1024 * nanosPerUnit}) < 0 && !q.mag.isZero() {
		q.Format = DecimalSI
	}
}

// MustParse is ParseQuantity for constants; it panics on error.
func MustParse(s string) Quantity {
	q, err := ParseQuantity(s)
	if err != nil {
		panic(fmt.Sprintf("resource.MustParse: %v", err))
	}
	return q
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// ParseQuantity parses a quantity such as "500m", "1.5Gi", "1e3" or "-2".
// Errors wrap ErrFormatWrong, ErrSuffix or ErrTooLarge and name the input.
func ParseQuantity(s string) (Quantity, error) {
	fail := func(err error) (Quantity, error) {
		return Quantity{}, fmt.Errorf("invalid quantity %q: %w", s, err)
	}
	pos := 0
	neg := false
	if pos < len(s) && (s[pos] == '+' || s[pos] == '-') {
		neg = s[pos] == '-'
		pos++
	}
	start := pos
	for pos < len(s) && isDigit(s[pos]) {
		pos++
	}
	intPart := s[start:pos]
	fracPart := ""
	if pos < len(s) && s[pos] == '.' {
		pos++
		start = pos
		for pos < len(s) && isDigit(s[pos]) {
			pos++
		}
		fracPart = s[start:pos]
	}
	if intPart == "" && fracPart == "" {
		return fail(ErrFormatWrong)
	}
	suffix := s[pos:]
	if !wellFormedSuffix(suffix) {
		return fail(ErrFormatWrong)
	}
	base, exp, format, ok := interpretSuffix(suffix)
	if !ok {
		return fail(ErrSuffix)
	}

	// The value is digits * 10^scale10 * base^exp.
	digits := strings.TrimLeft(intPart+fracPart, "0")
	scale10 := -int64(len(fracPart))
	trimmed := strings.TrimRight(digits, "0")
	scale10 += int64(len(digits) - len(trimmed))
	digits = trimmed

	q := Quantity{neg: neg, Format: format}
	if digits != "" {
		var shift uint
		e := scale10 + 9 // power of ten of the magnitude in nano-units
		if base == 10 {
			e += exp
		} else {
			shift = uint(exp)
		}
		mag, ok := magnitude(digits, e, shift)
		if !ok {
			return fail(ErrTooLarge)
		}
		q.mag = mag
	}
	q.normalize()
	return q, nil
}

// magnitude returns ceil(digits * 10^e * 2^shift), digits being a decimal
// number without leading or trailing zeros, and whether it fits 128 bits.
func magnitude(digits string, e int64, shift uint) (u128, bool) {
	n := int64(len(digits))
	if e >= 0 && n+e > 39 {
		return u128{}, false // at least 10^39 > 2^128
	}
	if n <= 19 && e >= 0 {
		// Fast path: digits fits a uint64 and digits*10^e < 10^39.
		d, err := strconv.ParseUint(digits, 10, 64)
		if err != nil {
			return u128{}, false
		}
		m, ok := u128{lo: d}.mulPow10(int(e))
		if !ok {
			return u128{}, false
		}
		return m.shl(shift)
	}
	if e < 0 && -e >= n+19 {
		// digits*2^shift < 10^n * 2^60 < 10^(n+19) <= 10^-e: rounds up to 1.
		return u128{lo: 1}, true
	}
	num, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return u128{}, false
	}
	ten := big.NewInt(10)
	if e >= 0 {
		num.Mul(num, new(big.Int).Exp(ten, big.NewInt(e), nil))
	}
	num.Lsh(num, shift)
	if e < 0 {
		den := new(big.Int).Exp(ten, big.NewInt(-e), nil)
		var rem big.Int
		num.QuoRem(num, den, &rem)
		if rem.Sign() != 0 {
			num.Add(num, big.NewInt(1))
		}
	}
	return u128FromBig(num)
}

// wellFormedSuffix reports whether s matches [eEinumkKMGTP]*[-+]?[0-9]*.
func wellFormedSuffix(s string) bool {
	i := 0
	for i < len(s) && strings.IndexByte("eEinumkKMGTP", s[i]) >= 0 {
		i++
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i == len(s)
}

// interpretSuffix returns the base and exponent a suffix stands for and the
// format it implies.
func interpretSuffix(s string) (base, exp int64, format Format, ok bool) {
	switch s {
	case "":
		return 10, 0, DecimalSI, true
	case "n":
		return 10, -9, DecimalSI, true
	case "u":
		return 10, -6, DecimalSI, true
	case "m":
		return 10, -3, DecimalSI, true
	case "k":
		return 10, 3, DecimalSI, true
	case "M":
		return 10, 6, DecimalSI, true
	case "G":
		return 10, 9, DecimalSI, true
	case "T":
		return 10, 12, DecimalSI, true
	case "P":
		return 10, 15, DecimalSI, true
	case "E":
		return 10, 18, DecimalSI, true
	case "Ki":
		return 2, 10, BinarySI, true
	case "Mi":
		return 2, 20, BinarySI, true
	case "Gi":
		return 2, 30, BinarySI, true
	case "Ti":
		return 2, 40, BinarySI, true
	case "Pi":
		return 2, 50, BinarySI, true
	case "Ei":
		return 2, 60, BinarySI, true
	}
	if len(s) > 1 && (s[0] == 'e' || s[0] == 'E') {
		n, err := strconv.ParseInt(s[1:], 10, 32)
		if err != nil {
			return 0, 0, "", false
		}
		return 10, n, DecimalExponent, true
	}
	return 0, 0, "", false
}

var decimalSuffixes = map[int]string{-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}

var binarySuffixes = [...]string{"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"}

// String returns the canonical form of q:
//   - zero is "0";
//   - BinarySI: a whole number of at least 1Ki is written with the largest
//     binary suffix that divides it ("1536Mi", "1Gi"); anything else as DecimalSI;
//   - DecimalSI: an integer mantissa with the largest decimal suffix that
//     keeps it whole ("500m", "1500", "2k");
//   - DecimalExponent (and an unset Format): the same with "eN" instead of a
//     suffix, N a multiple of 3 ("1e3", "1500e-3").
func (q Quantity) String() string {
	if q.mag.isZero() {
		return "0"
	}
	format := q.Format
	switch format {
	case DecimalSI, DecimalExponent:
	case BinarySI:
		if q.mag.cmp(u128{lo: 1024 * nanosPerUnit}) < 0 {
			format = DecimalSI
		} else if _, r := q.mag.divmod(nanosPerUnit); r != 0 {
			format = DecimalSI
		}
	default:
		format = DecimalExponent
	}
	sign := ""
	if q.neg {
		sign = "-"
	}
	if format == BinarySI {
		units, _ := q.mag.divmod(nanosPerUnit)
		exp := 0
		for exp < len(binarySuffixes)-1 {
			d, r := units.divmod(1024)
			if r != 0 {
				break
			}
			units = d
			exp++
		}
		return sign + units.String() + binarySuffixes[exp]
	}

	amount, exp := q.mag, -9
	for {
		d, r := amount.divmod(10)
		if r != 0 {
			break
		}
		amount = d
		exp++
	}
	for exp%3 != 0 {
		amount, _ = amount.mul(10) // cannot overflow: undoes a division above
		exp--
	}
	if format == DecimalExponent {
		if exp == 0 {
			return sign + amount.String()
		}
		return sign + amount.String() + "e" + strconv.Itoa(exp)
	}
	if exp > 18 {
		amount, _ = amount.mulPow10(exp - 18) // cannot overflow, as above
		exp = 18
	}
	return sign + amount.String() + decimalSuffixes[exp]
}

// IsZero reports whether q is zero.
func (q Quantity) IsZero() bool { return q.mag.isZero() }

// Sign returns -1, 0 or 1 as q is negative, zero or positive.
func (q Quantity) Sign() int {
	switch {
	case q.mag.isZero():
		return 0
	case q.neg:
		return -1
	}
	return 1
}

// Cmp returns -1, 0 or 1 as q is less than, equal to or greater than y.
// The formats are ignored.
func (q Quantity) Cmp(y Quantity) int {
	if q.neg != y.neg {
		if q.neg {
			return -1
		}
		return 1
	}
	c := q.mag.cmp(y.mag)
	if q.neg {
		return -c
	}
	return c
}

// CmpInt64 compares q with the whole number n.
func (q Quantity) CmpInt64(n int64) int {
	return q.Cmp(NewQuantity(n, DecimalSI))
}

// Equal reports whether q and y have the same value, whatever their formats.
func (q Quantity) Equal(y Quantity) bool { return q.Cmp(y) == 0 }

// Neg returns -q.
func (q Quantity) Neg() Quantity {
	q.neg = !q.neg
	q.normalize()
	return q
}

// Add sets q to q+y. If q was zero it takes y's format. Results beyond the
// representable range saturate.
func (q *Quantity) Add(y Quantity) {
	if q.mag.isZero() {
		q.Format = y.Format
	}
	if q.neg == y.neg {
		var ok bool
		if q.mag, ok = q.mag.add(y.mag); !ok {
			q.mag = maxU128
		}
	} else if q.mag.cmp(y.mag) >= 0 {
		q.mag = q.mag.sub(y.mag)
	} else {
		q.mag = y.mag.sub(q.mag)
		q.neg = y.neg
	}
	q.normalize()
}

// Sub sets q to q-y. If q was zero it takes y's format.
func (q *Quantity) Sub(y Quantity) {
	q.Add(Quantity{neg: !y.neg, mag: y.mag, Format: y.Format})
}

// ScaledValue returns ceil(q / 10^scale), rounded away from zero and
// saturated to the int64 range.
func (q Quantity) ScaledValue(scale Scale) int64 {
	e := int(scale) + 9
	var m u128
	if e >= 0 {
		m = ceilDivPow10(q.mag, e)
	} else {
		var ok bool
		if m, ok = q.mag.mulPow10(-e); !ok {
			m = maxU128
		}
	}
	return toInt64(q.neg, m)
}

func toInt64(neg bool, m u128) int64 {
	if neg {
		if m.hi != 0 || m.lo > 1<<63 {
			return math.MinInt64
		}
		return -int64(m.lo-1) - 1
	}
	if m.hi != 0 || m.lo > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(m.lo)
}

// Value returns q in whole units, rounded away from zero ("1.5" is 2, "100m"
// is 1) and saturated to the int64 range.
func (q Quantity) Value() int64 { return q.ScaledValue(0) }

// MilliValue returns q in thousandths, rounded away from zero and saturated.
func (q Quantity) MilliValue() int64 { return q.ScaledValue(Milli) }

// AsInt64 returns q in whole units if it is a whole number that fits an
// int64.
func (q Quantity) AsInt64() (int64, bool) {
	units, r := q.mag.divmod(nanosPerUnit)
	if r != 0 || units.hi != 0 || units.lo > math.MaxInt64 {
		return 0, false
	}
	if q.neg {
		return -int64(units.lo), true
	}
	return int64(units.lo), true
}

// AsApproximateFloat64 returns q as a float64, possibly losing precision.
func (q Quantity) AsApproximateFloat64() float64 {
	f := q.mag.float64() / nanosPerUnit
	if q.neg {
		return -f
	}
	return f
}

// MarshalText implements encoding.TextMarshaler with the canonical form.
func (q Quantity) MarshalText() ([]byte, error) { return []byte(q.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; surrounding whitespace
// is ignored.
func (q *Quantity) UnmarshalText(text []byte) error {
	p, err := ParseQuantity(strings.TrimSpace(string(text)))
	if err != nil {
		return err
	}
	*q = p
	return nil
}

// MarshalJSON encodes q as a JSON string in canonical form.
func (q Quantity) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, q.String()), nil
}

// UnmarshalJSON accepts a JSON string ("500m"), a JSON number (0.5) or null
// (zero), like Kubernetes.
func (q *Quantity) UnmarshalJSON(data []byte) error {
	s := strings.TrimSpace(string(data))
	if s == "null" {
		*q = Quantity{}
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal([]byte(s), &s); err != nil {
			return fmt.Errorf("invalid quantity %s: %w", data, err)
		}
	}
	return q.UnmarshalText([]byte(s))
}
