package resource

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParseQuantityCanonical(t *testing.T) {
	tests := []struct {
		in, want string
		format   Format
	}{
		{"0", "0", DecimalSI},
		{"0n", "0", DecimalSI},
		{"-0", "0", DecimalSI},
		{"0.000", "0", DecimalSI},
		{"0Ki", "0", BinarySI},
		{"0e9", "0", DecimalExponent},
		{"1", "1", DecimalSI},
		{"+1", "1", DecimalSI},
		{"-1", "-1", DecimalSI},
		{"007", "7", DecimalSI},
		{"1.", "1", DecimalSI},
		{".5", "500m", DecimalSI},
		{"0.5", "500m", DecimalSI},
		{"0.1", "100m", DecimalSI},
		{"1m", "1m", DecimalSI},
		{"1000m", "1", DecimalSI},
		{"1500m", "1500m", DecimalSI},
		{"5.5m", "5500u", DecimalSI},
		{"1u", "1u", DecimalSI},
		{"1n", "1n", DecimalSI},
		{"1.000000001", "1000000001n", DecimalSI},
		{"0.1n", "1n", DecimalSI},
		{"-0.1n", "-1n", DecimalSI},
		{"0.0000000001", "1n", DecimalSI},
		{"1k", "1k", DecimalSI},
		{"1000", "1k", DecimalSI},
		{"1500", "1500", DecimalSI},
		{"1.5k", "1500", DecimalSI},
		{"1000k", "1M", DecimalSI},
		{"100M", "100M", DecimalSI},
		{"1G", "1G", DecimalSI},
		{"1T", "1T", DecimalSI},
		{"1P", "1P", DecimalSI},
		{"1E", "1E", DecimalSI},
		{"1000E", "1000E", DecimalSI},
		{"0.001E", "1P", DecimalSI},
		{"1024", "1024", DecimalSI},
		{"1Ki", "1Ki", BinarySI},
		{"1024Mi", "1Gi", BinarySI},
		{"1.5Gi", "1536Mi", BinarySI},
		{"0.5Gi", "512Mi", BinarySI},
		{"0.5Ki", "512", DecimalSI},
		{"1.5Ki", "1536", BinarySI},
		{"1025Ki", "1025Ki", BinarySI},
		{"10Mi", "10Mi", BinarySI},
		{"1Ti", "1Ti", BinarySI},
		{"1Pi", "1Pi", BinarySI},
		{"1Ei", "1Ei", BinarySI},
		{"1024Ei", "1024Ei", BinarySI},
		{"-1Ki", "-1Ki", BinarySI},
		{"0.0001Ki", "102400u", DecimalSI},
		{"1.0000000001Ki", "1024000000103n", BinarySI},
		{"1e3", "1e3", DecimalExponent},
		{"1E3", "1e3", DecimalExponent},
		{"1e+3", "1e3", DecimalExponent},
		{"12e6", "12e6", DecimalExponent},
		{"1e-3", "1e-3", DecimalExponent},
		{"1.5e3", "1500", DecimalExponent},
		{"1.5e0", "1500e-3", DecimalExponent},
		{"1e0", "1", DecimalExponent},
		{"100e-1", "10", DecimalExponent},
		{"1e21", "1e21", DecimalExponent},
		{"1e-10", "1e-9", DecimalExponent},
		{"1e-100000", "1e-9", DecimalExponent},
		{"340282366920938463463374607431.768211455", "340282366920938463463374607431768211455n", DecimalSI},
		{"0.00000000000000000000000000000000000000000000000001", "1n", DecimalSI},
		{"1" + strings.Repeat("0", 29), "100000000000E", DecimalSI},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			q, err := ParseQuantity(tt.in)
			if err != nil {
				t.Fatalf("ParseQuantity: %v", err)
			}
			if got := q.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if q.Format != tt.format {
				t.Errorf("Format = %q, want %q", q.Format, tt.format)
			}
			again, err := ParseQuantity(q.String())
			if err != nil || again.Cmp(q) != 0 || again.String() != q.String() {
				t.Errorf("re-parse of %q: %v %v", q.String(), again, err)
			}
		})
	}
}

func TestParseQuantityErrors(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"", ErrFormatWrong},
		{" ", ErrFormatWrong},
		{" 1", ErrFormatWrong},
		{"1 ", ErrFormatWrong},
		{"abc", ErrFormatWrong},
		{".", ErrFormatWrong},
		{"+", ErrFormatWrong},
		{"-", ErrFormatWrong},
		{"-.", ErrFormatWrong},
		{"Ki", ErrFormatWrong},
		{"1.2.3", ErrFormatWrong},
		{"1Z", ErrFormatWrong},
		{"1 Ki", ErrFormatWrong},
		{"1e3.5", ErrFormatWrong},
		{"1KiB", ErrFormatWrong},
		{"--1", ErrFormatWrong},
		{"1kk", ErrSuffix},
		{"1K", ErrSuffix},
		{"1e", ErrSuffix},
		{"1e+", ErrSuffix},
		{"1i", ErrSuffix},
		{"1mi", ErrSuffix},
		{"1-", ErrSuffix},
		{"1e2147483648", ErrSuffix},
		{"1e40", ErrTooLarge},
		{"1e1000000", ErrTooLarge},
		{"340282366920938463463374607431.768211456", ErrTooLarge},
		{"1" + strings.Repeat("0", 30), ErrTooLarge},
		{"1000000000000Ei", ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			q, err := ParseQuantity(tt.in)
			if err == nil {
				t.Fatalf("ParseQuantity(%q) = %v, want error", tt.in, q)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v is not %v", err, tt.want)
			}
			if want := `invalid quantity "` + tt.in + `": ` + tt.want.Error(); err.Error() != want {
				t.Errorf("error = %q, want %q", err, want)
			}
		})
	}
	if !strings.Contains(ErrFormatWrong.Error(), "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'") {
		t.Errorf("ErrFormatWrong = %q", ErrFormatWrong)
	}
}

func TestValues(t *testing.T) {
	tests := []struct {
		in           string
		value, milli int64
	}{
		{"0", 0, 0},
		{"1", 1, 1000},
		{"100m", 1, 100},
		{"1.5", 2, 1500},
		{"-1.5", -2, -1500},
		{"-100m", -1, -100},
		{"1n", 1, 1},
		{"-1n", -1, -1},
		{"1500u", 1, 2},
		{"1Ki", 1024, 1024000},
		{"1.5Gi", 1610612736, 1610612736000},
		{"1Ei", 1 << 60, math.MaxInt64},
		{"8Ei", math.MaxInt64, math.MaxInt64},
		{"-8Ei", math.MinInt64, math.MinInt64},
		{"9223372036854775807", math.MaxInt64, math.MaxInt64},
		{"-9223372036854775808", math.MinInt64, math.MinInt64},
		{"9223372036854775808", math.MaxInt64, math.MaxInt64},
		{"1e29", math.MaxInt64, math.MaxInt64},
		{"9223372036854775.807", 9223372036854776, math.MaxInt64},
	}
	for _, tt := range tests {
		q := MustParse(tt.in)
		if got := q.Value(); got != tt.value {
			t.Errorf("%s.Value() = %d, want %d", tt.in, got, tt.value)
		}
		if got := q.MilliValue(); got != tt.milli {
			t.Errorf("%s.MilliValue() = %d, want %d", tt.in, got, tt.milli)
		}
	}
	if got := MustParse("1.5Gi").ScaledValue(Mega); got != 1611 {
		t.Errorf("ScaledValue(Mega) = %d", got)
	}
	if got := MustParse("1").ScaledValue(Scale(-20)); got != math.MaxInt64 {
		t.Errorf("ScaledValue(-20) = %d", got)
	}
	if got := MustParse("1").ScaledValue(Scale(40)); got != 1 {
		t.Errorf("ScaledValue(40) = %d", got)
	}
	for in, want := range map[string]int64{"5": 5, "-5": -5, "1Ki": 1024, "0": 0} {
		if v, ok := MustParse(in).AsInt64(); !ok || v != want {
			t.Errorf("%s.AsInt64() = %d, %v", in, v, ok)
		}
	}
	for _, in := range []string{"1.5", "1n", "8Ei", "1e29"} {
		if v, ok := MustParse(in).AsInt64(); ok {
			t.Errorf("%s.AsInt64() = %d, true", in, v)
		}
	}
	if f := MustParse("1.5Gi").AsApproximateFloat64(); f != 1610612736 {
		t.Errorf("AsApproximateFloat64 = %v", f)
	}
	if f := MustParse("-250m").AsApproximateFloat64(); f != -0.25 {
		t.Errorf("AsApproximateFloat64 = %v", f)
	}
}

func TestConstructors(t *testing.T) {
	tests := []struct {
		q    Quantity
		want string
	}{
		{NewQuantity(5, DecimalSI), "5"},
		{NewQuantity(5000, DecimalSI), "5k"},
		{NewQuantity(1024, BinarySI), "1Ki"},
		{NewQuantity(1000, BinarySI), "1k"},
		{NewQuantity(-2048, BinarySI), "-2Ki"},
		{NewQuantity(3000, DecimalExponent), "3e3"},
		{NewQuantity(3000, ""), "3e3"},
		{NewQuantity(math.MinInt64, DecimalSI), "-9223372036854775808"},
		{NewMilliQuantity(1500, DecimalSI), "1500m"},
		{NewMilliQuantity(2000, DecimalSI), "2"},
		{NewScaledQuantity(5, Giga), "5G"},
		{NewScaledQuantity(5, Scale(-12)), "1n"},
		{NewScaledQuantity(-5, Scale(-12)), "-1n"},
		{NewScaledQuantity(5, Scale(100)), "340282366920938463463374607431768211455n"},
		{Quantity{}, "0"},
	}
	for _, tt := range tests {
		if got := tt.q.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), `invalid quantity "x"`) {
			t.Errorf("MustParse panic = %v", r)
		}
	}()
	MustParse("x")
}

func TestArithmetic(t *testing.T) {
	tests := []struct {
		a, b, sum, diff string
	}{
		{"1", "500m", "1500m", "500m"},
		{"500m", "1", "1500m", "-500m"},
		{"1Gi", "1Gi", "2Gi", "0"},
		{"1Gi", "512Mi", "1536Mi", "512Mi"},
		{"0", "1Ki", "1Ki", "-1Ki"},
		{"-1", "1", "0", "-2"},
		{"1e3", "1", "1001", "999"},
		{"100m", "-300m", "-200m", "400m"},
	}
	for _, tt := range tests {
		a, b := MustParse(tt.a), MustParse(tt.b)
		s := a
		s.Add(b)
		if s.String() != tt.sum {
			t.Errorf("%s + %s = %s, want %s", tt.a, tt.b, s.String(), tt.sum)
		}
		d := a
		d.Sub(b)
		if d.String() != tt.diff {
			t.Errorf("%s - %s = %s, want %s", tt.a, tt.b, d.String(), tt.diff)
		}
		if a.String() != MustParse(tt.a).String() {
			t.Errorf("Add/Sub changed a copy's source")
		}
	}

	var zero Quantity
	zero.Add(MustParse("2Gi"))
	if zero.Format != BinarySI || zero.String() != "2Gi" {
		t.Errorf("zero + 2Gi = %s (%s)", zero.String(), zero.Format)
	}
	big := MustParse("300000000000000000000000000000")
	big.Add(MustParse("300000000000000000000000000000"))
	if big.String() != "340282366920938463463374607431768211455n" {
		t.Errorf("saturated sum = %s", big.String())
	}
	if got := MustParse("5").Neg().String(); got != "-5" {
		t.Errorf("Neg = %s", got)
	}
	if got := MustParse("0").Neg(); got.Sign() != 0 || got.String() != "0" {
		t.Errorf("Neg(0) = %s", got.String())
	}
}

func TestCmp(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1", "1000m", 0},
		{"1Ki", "1024", 0},
		{"1Gi", "1G", 1},
		{"500m", "1", -1},
		{"-1", "1", -1},
		{"-1", "-2", 1},
		{"0", "-0", 0},
		{"1n", "0", 1},
		{"-1n", "0", -1},
		{"1e3", "1k", 0},
	}
	for _, tt := range tests {
		a, b := MustParse(tt.a), MustParse(tt.b)
		if got := a.Cmp(b); got != tt.want {
			t.Errorf("Cmp(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := b.Cmp(a); got != -tt.want {
			t.Errorf("Cmp(%s, %s) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
		if a.Equal(b) != (tt.want == 0) {
			t.Errorf("Equal(%s, %s) wrong", tt.a, tt.b)
		}
	}
	if MustParse("1500m").CmpInt64(1) != 1 || MustParse("1").CmpInt64(1) != 0 || MustParse("-1").CmpInt64(0) != -1 {
		t.Error("CmpInt64")
	}
	if MustParse("5").Sign() != 1 || MustParse("-5m").Sign() != -1 || MustParse("0").Sign() != 0 || !MustParse("0Gi").IsZero() {
		t.Error("Sign/IsZero")
	}
}

func TestJSON(t *testing.T) {
	type spec struct {
		CPU    Quantity  `json:"cpu"`
		Memory *Quantity `json:"memory,omitempty"`
	}
	var s spec
	if err := json.Unmarshal([]byte(`{"cpu": "0.5", "memory": "1024Mi"}`), &s); err != nil {
		t.Fatal(err)
	}
	if s.CPU.String() != "500m" || s.Memory.String() != "1Gi" {
		t.Fatalf("decoded %s %s", s.CPU.String(), s.Memory.String())
	}
	out, err := json.Marshal(s)
	if err != nil || string(out) != `{"cpu":"500m","memory":"1Gi"}` {
		t.Fatalf("Marshal = %s, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"cpu": 1.5}`), &s); err != nil || s.CPU.String() != "1500m" {
		t.Fatalf("number: %v %v", s.CPU.String(), err)
	}
	if err := json.Unmarshal([]byte(`{"cpu": null}`), &s); err != nil || !s.CPU.IsZero() {
		t.Fatalf("null: %v %v", s.CPU.String(), err)
	}
	if err := json.Unmarshal([]byte(`{"cpu": " 2 "}`), &s); err != nil || s.CPU.String() != "2" {
		t.Fatalf("spaces: %v %v", s.CPU.String(), err)
	}
	err = json.Unmarshal([]byte(`{"cpu": "2 cores"}`), &s)
	if !errors.Is(err, ErrFormatWrong) {
		t.Fatalf("bad value: %v", err)
	}
	var q Quantity
	if err := q.UnmarshalText([]byte("3Mi")); err != nil || q.String() != "3Mi" {
		t.Fatalf("UnmarshalText: %v %v", q.String(), err)
	}
	if txt, _ := q.MarshalText(); string(txt) != "3Mi" {
		t.Fatalf("MarshalText = %s", txt)
	}
}

func TestU128String(t *testing.T) {
	tests := []struct {
		v    u128
		want string
	}{
		{u128{}, "0"},
		{u128{lo: 42}, "42"},
		{u128{hi: 1}, "18446744073709551616"},
		{maxU128, "340282366920938463463374607431768211455"},
		{u128{hi: 5, lo: 7}, "92233720368547758087"},
	}
	for _, tt := range tests {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("%v.String() = %s, want %s", tt.v, got, tt.want)
		}
		if tt.v.big().String() != tt.want {
			t.Errorf("big() = %s", tt.v.big())
		}
	}
}

func BenchmarkParseQuantity(b *testing.B) {
	for _, s := range []string{"500m", "1.5Gi", "128974848", "1e3"} {
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseQuantity(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkString(b *testing.B) {
	for _, s := range []string{"500m", "1536Mi", "1e3"} {
		q := MustParse(s)
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = q.String()
			}
		})
	}
}

func BenchmarkAddCmp(b *testing.B) {
	x, y, limit := MustParse("250m"), MustParse("1Gi"), MustParse("1Ti")
	b.ReportAllocs()
	for b.Loop() {
		var sum Quantity
		sum.Add(x)
		sum.Add(y)
		if sum.Cmp(limit) > 0 {
			b.Fatal("over")
		}
	}
}
