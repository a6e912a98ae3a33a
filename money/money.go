// Package money represents amounts as integer minor units (kopecks, cents) of an
// ISO 4217 currency, percentages as basis points, and makes every rounding and every
// split of an amount explicit. There are no floats anywhere in this package.
package money

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// Amount is a sum of money in minor units of a currency (kopecks for RUB).
// The currency is carried by whatever holds the amount (a ruleset, a sale).
type Amount int64

// BP is a ratio in basis points: 10000 is 100 %, 500 is 5 %, 1 is 0.01 %.
type BP int64

// Whole is 100 % in basis points.
const Whole BP = 10000

// Rounding says which way a result that falls between two minor units goes.
type Rounding int

const (
	// HalfUp rounds to the nearest unit, halves away from zero (the till's usual rule).
	HalfUp Rounding = iota
	// Down truncates toward zero (never gives more than was earned, e.g. points).
	Down
	// HalfEven rounds to the nearest unit, halves to the even one (banker's rounding).
	HalfEven
	// Up rounds away from zero.
	Up
)

// ErrOverflow is returned when a computation does not fit in 63 bits.
var ErrOverflow = errors.New("money: amount out of range")

// MulDiv returns a*num/den rounded by r. den must be positive and num non-negative;
// it panics otherwise, since that is a programming error, not bad input.
// The product is computed in 128 bits, so only a result beyond int64 overflows.
func MulDiv(a Amount, num, den int64, r Rounding) (Amount, error) {
	if den <= 0 || num < 0 {
		panic(fmt.Sprintf("money.MulDiv: bad ratio %d/%d", num, den))
	}
	neg := a < 0
	ua := uint64(a)
	if neg {
		ua = uint64(-a) // -MinInt64 wraps to 1<<63, which is what we want as unsigned
	}
	hi, lo := bits.Mul64(ua, uint64(num))
	if hi >= uint64(den) {
		return 0, ErrOverflow
	}
	q, rem := bits.Div64(hi, lo, uint64(den))
	q = roundQuotient(q, rem, uint64(den), r)
	if q > math.MaxInt64 {
		return 0, ErrOverflow
	}
	if neg {
		return -Amount(q), nil
	}
	return Amount(q), nil
}

func roundQuotient(q, rem, den uint64, r Rounding) uint64 {
	if rem == 0 {
		return q
	}
	// Compare 2*rem with den without overflowing.
	twice := rem > den-rem // rem > den/2 exactly
	half := den%2 == 0 && rem == den/2
	switch r {
	case Down:
		return q
	case Up:
		return q + 1
	case HalfEven:
		if twice || (half && q%2 == 1) {
			return q + 1
		}
		return q
	default: // HalfUp
		if twice || half {
			return q + 1
		}
		return q
	}
}

// Percent returns bp of a, rounded by r: Amount(1999).Percent(500, HalfUp) is 100.
func (a Amount) Percent(bp BP, r Rounding) Amount {
	if bp < 0 {
		panic("money.Percent: negative basis points")
	}
	v, err := MulDiv(a, int64(bp), int64(Whole), r)
	if err != nil {
		// bp is at most a few Whole in practice; an amount near MaxInt64 is not money.
		panic(err)
	}
	return v
}

// Allocate splits total into len(weights) parts proportional to weights so that
// the parts add up to total exactly (largest remainder method). Weights must be
// non-negative; when all are zero the parts are zero and total must be zero.
// Ties in the remainder go to the lower index, so callers that need a result
// independent of input order sort their inputs first.
func Allocate(total Amount, weights []Amount) ([]Amount, error) {
	parts := make([]Amount, len(weights))
	var sum Amount
	for i, w := range weights {
		if w < 0 {
			return nil, fmt.Errorf("allocate: weight %d is negative (%d)", i, w)
		}
		if sum > math.MaxInt64-w {
			return nil, ErrOverflow
		}
		sum += w
	}
	if sum == 0 {
		if total != 0 {
			return nil, fmt.Errorf("allocate %d over zero weights", total)
		}
		return parts, nil
	}
	neg := total < 0
	t := total
	if neg {
		t = -t
	}
	rems := make([]uint64, len(weights))
	var given Amount
	for i, w := range weights {
		hi, lo := bits.Mul64(uint64(t), uint64(w))
		q, rem := bits.Div64(hi, lo, uint64(sum)) // q <= t, cannot overflow
		parts[i] = Amount(q)
		rems[i] = rem
		given += Amount(q)
	}
	// Hand out the units left over to the largest remainders, lower index first.
	for left := t - given; left > 0; left-- {
		best := -1
		for i, r := range rems {
			if weights[i] > 0 && (best < 0 || r > rems[best]) {
				best = i
			}
		}
		parts[best]++
		rems[best] = 0
	}
	if neg {
		for i := range parts {
			parts[i] = -parts[i]
		}
	}
	return parts, nil
}

// minorUnits lists ISO 4217 currencies whose minor unit is not 2 digits, plus the
// ones a chain in the seeds' region uses; every other well-formed code has 2.
var minorUnits = map[string]int{
	"JPY": 0, "KRW": 0, "VND": 0, "ISK": 0, "CLP": 0, "XOF": 0, "XAF": 0, "UGX": 0,
	"BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3, "LYD": 3, "IQD": 3,
}

// Currency is an ISO 4217 code with the number of digits of its minor unit.
type Currency struct {
	Code     string
	Exponent int
}

// ParseCurrency checks an ISO 4217 alphabetic code ("RUB") and returns it with its
// minor-unit exponent.
func ParseCurrency(code string) (Currency, error) {
	if len(code) != 3 || strings.ToUpper(code) != code || strings.IndexFunc(code, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0 {
		return Currency{}, fmt.Errorf("currency %q: want a three-letter ISO 4217 code such as RUB", code)
	}
	exp, ok := minorUnits[code]
	if !ok {
		exp = 2
	}
	return Currency{Code: code, Exponent: exp}, nil
}

// Parse reads a decimal amount in major units ("5000", "4999.99", "5 000,00",
// "-12.5") into minor units. More fraction digits than the currency has is an
// error, never a silent rounding.
func (c Currency) Parse(s string) (Amount, error) {
	v, err := parseFixed(s, c.Exponent)
	if err != nil {
		return 0, fmt.Errorf("amount %q in %s: %w", s, c.Code, err)
	}
	return Amount(v), nil
}

// Format writes a in major units with the currency's fraction digits: "4999.99".
func (c Currency) Format(a Amount) string {
	return formatFixed(int64(a), c.Exponent)
}

// AppendFormat appends a to dst as Format writes it.
func (c Currency) AppendFormat(dst []byte, a Amount) []byte {
	return appendFixed(dst, int64(a), c.Exponent)
}

// Display writes an amount for a person to read: major units with the
// currency's fraction digits, then its code: "189.81 RUB". It is the one
// formatter for money in every CLI report and log line a person reads. An
// amount without a valid currency (nothing sold yet) shows two digits and no
// code.
func Display(a Amount, currency string) string {
	c, err := ParseCurrency(currency)
	if err != nil {
		return formatFixed(int64(a), 2)
	}
	return c.Format(a) + " " + c.Code
}

// ParseBP reads a percentage ("5", "5%", "2.5 %", "0.01") into basis points.
func ParseBP(s string) (BP, error) {
	t := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%"))
	v, err := parseFixed(t, 2)
	if err != nil {
		return 0, fmt.Errorf("percentage %q: %w", s, err)
	}
	return BP(v), nil
}

// String writes basis points as a percentage: BP(250).String() is "2.5%".
func (b BP) String() string {
	return string(b.AppendFormat(make([]byte, 0, 24)))
}

// AppendFormat appends b to dst as String writes it.
func (b BP) AppendFormat(dst []byte) []byte {
	start := len(dst)
	dst = appendFixed(dst, int64(b), 2)
	n := len(dst)
	for n > start && dst[n-1] == '0' { // stops at the point: there is one
		n--
	}
	if dst[n-1] == '.' {
		n--
	}
	return append(dst[:n], '%')
}

func parseFixed(s string, exp int) (int64, error) {
	t := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\u00a0', '\u202f', '_': // digit group separators people type
			return -1
		case ',':
			return '.'
		}
		return r
	}, s)
	if t == "" {
		return 0, errors.New("empty")
	}
	neg := false
	switch t[0] {
	case '-':
		neg, t = true, t[1:]
	case '+':
		t = t[1:]
	}
	intPart, frac, hasDot := strings.Cut(t, ".")
	if intPart == "" && frac == "" || hasDot && frac == "" && intPart == "" {
		return 0, errors.New("no digits")
	}
	if len(frac) > exp {
		return 0, fmt.Errorf("more than %d digits after the decimal point", exp)
	}
	for _, part := range []string{intPart, frac} {
		for _, r := range part {
			if r < '0' || r > '9' {
				return 0, fmt.Errorf("unexpected character %q", r)
			}
		}
	}
	digits := intPart + frac + strings.Repeat("0", exp-len(frac))
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, ErrOverflow
	}
	if neg {
		v = -v
	}
	return v, nil
}

func formatFixed(v int64, exp int) string {
	return string(appendFixed(make([]byte, 0, 24), v, exp))
}

// appendFixed appends v, in units of 10^-exp, with exp fraction digits.
func appendFixed(dst []byte, v int64, exp int) []byte {
	u := uint64(v)
	if v < 0 {
		dst, u = append(dst, '-'), -u
	}
	var digits [20]byte
	s := strconv.AppendUint(digits[:0], u, 10)
	switch {
	case exp == 0:
		return append(dst, s...)
	case len(s) > exp:
		dst = append(dst, s[:len(s)-exp]...)
		dst = append(dst, '.')
		return append(dst, s[len(s)-exp:]...)
	}
	dst = append(dst, '0', '.')
	for range exp - len(s) {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}
