package money

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

func TestMulDivRounding(t *testing.T) {
	for _, tc := range []struct {
		a        Amount
		num, den int64
		r        Rounding
		want     Amount
	}{
		{1999, 500, 10000, HalfUp, 100}, // 99.95 → 100
		{1999, 500, 10000, Down, 99},
		{1999, 500, 10000, Up, 100},
		{1990, 500, 10000, HalfUp, 100}, // 99.5 → 100
		{1990, 500, 10000, HalfEven, 100},
		{1970, 500, 10000, HalfEven, 98}, // 98.5 → 98
		{1970, 500, 10000, HalfUp, 99},
		{-1990, 500, 10000, HalfUp, -100}, // halves away from zero
		{-1999, 500, 10000, Down, -99},    // toward zero
		{10, 1, 3, HalfUp, 3},
		{20, 1, 3, HalfUp, 7},
		{0, 7, 9, Up, 0},
		{math.MaxInt64, 1, 1, HalfUp, math.MaxInt64},
		{math.MaxInt64, 10000, 10000, HalfUp, math.MaxInt64}, // 128-bit intermediate
	} {
		got, err := MulDiv(tc.a, tc.num, tc.den, tc.r)
		if err != nil || got != tc.want {
			t.Errorf("MulDiv(%d, %d, %d, %d) = %d, %v; want %d", tc.a, tc.num, tc.den, tc.r, got, err, tc.want)
		}
	}
	if _, err := MulDiv(math.MaxInt64, 2, 1, HalfUp); !errors.Is(err, ErrOverflow) {
		t.Errorf("MulDiv overflow: %v, want ErrOverflow", err)
	}
}

func TestPercent(t *testing.T) {
	if got := Amount(499999).Percent(500, HalfUp); got != 25000 {
		t.Errorf("5%% of 4999.99 = %d, want 25000", got)
	}
	if got := Amount(526316).Percent(500, HalfUp); got != 26316 {
		t.Errorf("5%% of 5263.16 = %d, want 26316", got)
	}
}

func TestAllocateIsExactAndProportional(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		n := 1 + rng.IntN(30)
		w := make([]Amount, n)
		var sum Amount
		for j := range w {
			w[j] = Amount(rng.IntN(100000))
			sum += w[j]
		}
		if sum == 0 {
			continue
		}
		total := Amount(rng.Int64N(int64(sum) + 1))
		if i%5 == 0 {
			total = -total
		}
		parts, err := Allocate(total, w)
		if err != nil {
			t.Fatal(err)
		}
		var got Amount
		for j, p := range parts {
			got += p
			exact := float64(total) * float64(w[j]) / float64(sum)
			if math.Abs(float64(p)-exact) >= 1 {
				t.Fatalf("part %d = %d, exact share %.3f: off by a unit or more", j, p, exact)
			}
			if w[j] == 0 && p != 0 {
				t.Fatalf("zero weight got %d", p)
			}
		}
		if got != total {
			t.Fatalf("parts add to %d, want %d (weights %v)", got, total, w)
		}
	}
}

func TestAllocateEdges(t *testing.T) {
	parts, err := Allocate(100, []Amount{1, 1, 1})
	if err != nil || parts[0] != 34 || parts[1] != 33 || parts[2] != 33 {
		t.Errorf("Allocate(100, 1:1:1) = %v, %v; want [34 33 33] (ties to the lower index)", parts, err)
	}
	if _, err := Allocate(5, []Amount{0, 0}); err == nil {
		t.Error("Allocate over zero weights: want an error")
	}
	if _, err := Allocate(5, []Amount{3, -1}); err == nil {
		t.Error("Allocate with a negative weight: want an error")
	}
	if p, err := Allocate(0, nil); err != nil || len(p) != 0 {
		t.Errorf("Allocate(0, nil) = %v, %v", p, err)
	}
}

func TestCurrencyParseFormat(t *testing.T) {
	rub, err := ParseCurrency("RUB")
	if err != nil || rub.Exponent != 2 {
		t.Fatalf("RUB = %+v, %v", rub, err)
	}
	jpy, _ := ParseCurrency("JPY")
	for _, tc := range []struct {
		c    Currency
		in   string
		want Amount
		out  string
	}{
		{rub, "4999.99", 499999, "4999.99"},
		{rub, "5 000", 500000, "5000.00"},
		{rub, "5 000,5", 500050, "5000.50"},
		{rub, "-12.5", -1250, "-12.50"},
		{rub, "0.01", 1, "0.01"},
		{rub, ".5", 50, "0.50"},
		{jpy, "1200", 1200, "1200"},
	} {
		got, err := tc.c.Parse(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("%s.Parse(%q) = %d, %v; want %d", tc.c.Code, tc.in, got, err, tc.want)
		}
		if s := tc.c.Format(got); s != tc.out {
			t.Errorf("%s.Format(%d) = %q, want %q", tc.c.Code, got, s, tc.out)
		}
	}
	for _, bad := range []string{"", "1.234", "12a", "1.2.3", "--1", "99999999999999999999", "."} {
		if _, err := rub.Parse(bad); err == nil {
			t.Errorf("RUB.Parse(%q): want an error", bad)
		}
	}
	for _, bad := range []string{"rub", "RU", "R1B", ""} {
		if _, err := ParseCurrency(bad); err == nil {
			t.Errorf("ParseCurrency(%q): want an error", bad)
		}
	}
}

func TestParseBP(t *testing.T) {
	for in, want := range map[string]BP{"5": 500, "5%": 500, "2.5 %": 250, "0.01": 1, "100%": 10000} {
		if got, err := ParseBP(in); err != nil || got != want {
			t.Errorf("ParseBP(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for bp, want := range map[BP]string{250: "2.5%", 500: "5%", 0: "0%", 1: "0.01%", 10: "0.1%", 10000: "100%", -250: "-2.5%", 1010: "10.1%"} {
		if got := bp.String(); got != want {
			t.Errorf("BP(%d).String() = %q, want %q", int64(bp), got, want)
		}
		if got := string(bp.AppendFormat([]byte("x"))); got != "x"+want {
			t.Errorf("BP(%d).AppendFormat(x) = %q, want %q", int64(bp), got, "x"+want)
		}
	}
}

// TestAppendFixed holds the allocation-free formatter to the plain
// arithmetic of major and minor units, at the edges and at random.
func TestAppendFixed(t *testing.T) {
	values := []int64{0, 1, -1, 9, 10, 99, 100, 101, -100, 123456, math.MaxInt64, math.MinInt64, math.MinInt64 + 1}
	r := rand.New(rand.NewPCG(3, 5))
	for range 2000 {
		values = append(values, r.Int64()>>r.IntN(64), -(r.Int64() >> r.IntN(64)))
	}
	for _, v := range values {
		for exp := range 5 {
			want := reference(v, exp)
			if got := formatFixed(v, exp); got != want {
				t.Fatalf("formatFixed(%d, %d) = %q, want %q", v, exp, got, want)
			}
			if got := string(appendFixed([]byte("ab"), v, exp)); got != "ab"+want {
				t.Fatalf("appendFixed(ab, %d, %d) = %q, want %q", v, exp, got, "ab"+want)
			}
		}
	}
}

// reference writes v/10^exp with exp fraction digits, by division.
func reference(v int64, exp int) string {
	sign, u := "", uint64(v)
	if v < 0 {
		sign, u = "-", -u
	}
	if exp == 0 {
		return sign + strconv.FormatUint(u, 10)
	}
	scale := uint64(1)
	for range exp {
		scale *= 10
	}
	return fmt.Sprintf("%s%d.%0*d", sign, u/scale, exp, u%scale)
}

// FuzzParse: parsing never panics, and what it accepts formats back to a value
// that parses to the same amount.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"4999.99", "5 000,00", "-1", ".5", "1e5", "", "９"} {
		f.Add(s)
	}
	rub := Currency{Code: "RUB", Exponent: 2}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := rub.Parse(s)
		if err != nil {
			return
		}
		back, err := rub.Parse(rub.Format(a))
		if err != nil || back != a {
			t.Fatalf("%q → %d → %q → %d, %v", s, a, rub.Format(a), back, err)
		}
	})
}
