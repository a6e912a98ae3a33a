package device

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/tilld/tilld/pos"
)

// CardKind names the numbering scheme of a card number.
type CardKind string

// Card kinds.
const (
	CardEAN13 CardKind = "ean13" // 13-digit GS1 barcode
	CardEAN8  CardKind = "ean8"  // 8-digit GS1 barcode
	CardUPCA  CardKind = "upca"  // 12-digit GS1 barcode
	CardPAN   CardKind = "pan"   // ISO/IEC 7812 primary account number from a magstripe
	CardUID   CardKind = "uid"   // contactless card UID, upper-case hex
	// CardCode is a card number captured by one of IdentifyOptions.CardPatterns
	// from a QR code or Code 128 payload, kept as printed.
	CardCode CardKind = "code"
)

// CardKindNames lists the card kinds for a person: what an unknown one is
// told to be instead.
const CardKindNames = "ean13, ean8, upca, pan, uid or code"

// Known reports whether k is one of the card kinds ("" is none: guessed
// from the number).
func (k CardKind) Known() bool {
	switch k {
	case CardEAN13, CardEAN8, CardUPCA, CardPAN, CardUID, CardCode:
		return true
	}
	return false
}

// Card is a validated identity read from a scan.
type Card struct {
	// Number is the normalised number: digits for barcodes and PANs (as printed,
	// check digit included), upper-case hex without separators for UIDs.
	Number string   `json:"number"`
	Kind   CardKind `json:"kind"`
	// Product is true for a valid barcode outside the card ranges (see
	// [IdentifyOptions]): the cashier scanned goods, not a customer.
	Product bool `json:"product,omitempty"`
}

// LogValue logs the card with its number masked.
func (c Card) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String(logKeyKind, string(c.Kind)),
		slog.String(logKeyCard, pos.MaskCard(c.Number)),
		slog.Bool(logKeyProduct, c.Product),
	)
}

// DefaultCardPrefixes are the barcode card ranges when [IdentifyOptions] names
// none: GS1 prefix 2, numbers for restricted (in-store) circulation, which is
// where chains put their own club cards.
var DefaultCardPrefixes = []string{"2"}

// IdentifyOptions configure [Identify]. The zero value uses the defaults below.
//
// A prefix is either a run of digits ("2", "4600") matching numbers that start
// with it, or an inclusive range of two equally long runs ("200-249") matching
// numbers whose first digits fall in it.
type IdentifyOptions struct {
	// CardPrefixes are the ranges of barcode numbers (EAN-13, EAN-8, UPC-A) that
	// are loyalty cards: the chain's own and its partners'. Any other valid barcode
	// is a product. Empty means [DefaultCardPrefixes].
	CardPrefixes []string
	// TrackPrefixes, when not empty, are the only PAN ranges accepted from
	// magstripes; a PAN outside them (say, a bank card) is [ErrForeignCard].
	// Empty accepts every PAN that passes the Luhn check.
	TrackPrefixes []string
	// CardPatterns find card numbers inside barcodes that carry more than the
	// number: a QR code on a phone ("https://club.example/c/2000000000008"), a
	// Code 128 on a partner's card ("CLUB-000123456"). Each is a Go regular
	// expression with exactly one capture group, the card number, matched
	// against the whole barcode (after any AIM symbology identifier is
	// stripped), e.g. `^https://club\.example/c/(\d{13})$`. The first that
	// matches wins and makes the scan a card, whatever CardPrefixes say. A
	// captured number of 8, 12 or 13 digits must have a valid GS1 check digit;
	// anything else is kept as printed, as a [CardCode] of at most 64 printable
	// ASCII characters without spaces. Barcodes no pattern matches are read as
	// EAN-13, EAN-8 or UPC-A. Empty means no patterns.
	CardPatterns []string
}

// Validate reports the first malformed prefix or pattern.
func (o IdentifyOptions) Validate() error {
	for _, list := range []struct {
		field    string
		prefixes []string
	}{{"card_prefixes", o.CardPrefixes}, {"track_prefixes", o.TrackPrefixes}} {
		for i, p := range list.prefixes {
			if _, _, err := parsePrefix(p); err != nil {
				return fmt.Errorf("%s[%d]: %w", list.field, i, err)
			}
		}
	}
	for i, p := range o.CardPatterns {
		if _, err := compilePattern(p); err != nil {
			return fmt.Errorf("card_patterns[%d]: %w", i, err)
		}
	}
	return nil
}

var (
	// ErrFormat is wrapped when scan data is not a number of any scheme its kind allows.
	ErrFormat = errors.New("device: unrecognised card format")
	// ErrCheckDigit is wrapped when a number's check digit (GS1 or Luhn) is wrong:
	// usually a misread, sometimes a made-up number.
	ErrCheckDigit = errors.New("device: wrong check digit")
	// ErrForeignCard is wrapped when a magstripe PAN is outside
	// IdentifyOptions.TrackPrefixes: a valid card, but not one of the program's.
	ErrForeignCard = errors.New("device: not a card of this program")
	// ErrBadOptions is wrapped when IdentifyOptions are malformed.
	ErrBadOptions = errors.New("device: bad identify options")
)

// CardError says what is wrong with scanned data. Its message masks the number
// (it ends up in logs); Number holds it in full for a screen that must show it.
type CardError struct {
	Scheme  string // "EAN-13", "UPC-A", "PAN", "UID", "barcode", "track"...
	Number  string // the offending number, when one could be read
	Problem string // what is wrong, for people: "check digit is 8, want 3"
	Err     error  // one of the sentinels above
}

func (e *CardError) Error() string {
	if e.Number == "" {
		return e.Scheme + ": " + e.Problem
	}
	return e.Scheme + " " + pos.MaskCard(e.Number) + ": " + e.Problem
}

func (e *CardError) Unwrap() error { return e.Err }

// Identify validates the data of s and names the card it holds: a UID is
// normalised, a barcode must be an EAN-13, EAN-8 or UPC-A with a correct check
// digit, a magstripe must hold a PAN (track 2 preferred, else track 1) that
// passes the Luhn check. Errors are *[CardError]s wrapping [ErrFormat],
// [ErrCheckDigit] or [ErrForeignCard].
func Identify(s Scan, opts IdentifyOptions) (Card, error) {
	if err := opts.Validate(); err != nil {
		return Card{}, fmt.Errorf("identify: %w: %w", ErrBadOptions, err)
	}
	data := strings.TrimSpace(s.Data)
	switch s.Kind {
	case KindUID:
		return identifyUID(data)
	case KindBarcode:
		return identifyBarcode(data, opts)
	case KindTrack:
		return identifyTrack(data, opts)
	}
	return Card{}, &CardError{Scheme: "scan", Problem: fmt.Sprintf("unknown kind %q", s.Kind), Err: ErrFormat}
}

// UIDs are 4, 7 or 10 bytes (ISO/IEC 14443-3), 8 for FeliCa and ISO/IEC 15693.
const minUIDBytes, maxUIDBytes = 4, 10

func identifyUID(data string) (Card, error) {
	bad := func(problem string, args ...any) (Card, error) {
		return Card{}, &CardError{Scheme: "UID", Problem: fmt.Sprintf(problem, args...), Err: ErrFormat}
	}
	var b strings.Builder
	for i, r := range data {
		switch {
		case '0' <= r && r <= '9', 'A' <= r && r <= 'F':
			b.WriteRune(r)
		case 'a' <= r && r <= 'f':
			b.WriteRune(r - 'a' + 'A')
		case r == ':' || r == '-' || r == ' ':
		default:
			return bad("byte %d is %q, want a hex digit", i+1, r)
		}
		if b.Len() > 2*maxUIDBytes {
			return bad("longer than %d bytes", maxUIDBytes)
		}
	}
	uid := b.String()
	switch {
	case uid == "":
		return bad("empty")
	case len(uid)%2 != 0:
		return bad("odd number of hex digits (%d)", len(uid))
	case len(uid) < 2*minUIDBytes:
		return bad("%d bytes, want %d to %d", len(uid)/2, minUIDBytes, maxUIDBytes)
	}
	return Card{Number: uid, Kind: CardUID}, nil
}

func identifyBarcode(data string, opts IdentifyOptions) (Card, error) {
	_, data = StripAIM(data)
	if card, ok, err := matchPatterns(data, opts.CardPatterns); ok {
		return card, err
	}
	if err := digitsOnly("barcode", data); err != nil {
		return Card{}, err
	}
	kind, scheme := gs1Kind(len(data))
	if kind == "" {
		return Card{}, &CardError{Scheme: "barcode", Problem: fmt.Sprintf("%d digits, want 13 (EAN-13), 12 (UPC-A) or 8 (EAN-8)", len(data)), Err: ErrFormat}
	}
	if err := checkGS1(scheme, data); err != nil {
		return Card{}, err
	}
	prefixes := opts.CardPrefixes
	if len(prefixes) == 0 {
		prefixes = DefaultCardPrefixes
	}
	return Card{Number: data, Kind: kind, Product: !inRanges(data, prefixes)}, nil
}

// PAN lengths per ISO/IEC 7812-1.
const minPAN, maxPAN = 8, 19

func identifyTrack(data string, opts IdentifyOptions) (Card, error) {
	pan, scheme, err := trackPAN(data)
	if err != nil {
		return Card{}, err
	}
	if err := digitsOnly(scheme+" PAN", pan); err != nil {
		return Card{}, err
	}
	return checkPAN(pan, scheme, opts)
}

// checkPAN checks a PAN of digits read from scheme (a track, or "PAN"): its
// length, its Luhn check digit and the program's ranges.
func checkPAN(pan, scheme string, opts IdentifyOptions) (Card, error) {
	if len(pan) < minPAN || len(pan) > maxPAN {
		return Card{}, &CardError{Scheme: scheme, Problem: fmt.Sprintf("PAN has %d digits, want %d to %d", len(pan), minPAN, maxPAN), Err: ErrFormat}
	}
	body, got := pan[:len(pan)-1], pan[len(pan)-1]
	if want := luhnCheckDigit(body); got != want {
		return Card{}, &CardError{Scheme: "PAN", Number: pan, Problem: fmt.Sprintf("check digit is %c, want %c", got, want), Err: ErrCheckDigit}
	}
	if len(opts.TrackPrefixes) > 0 && !inRanges(pan, opts.TrackPrefixes) {
		return Card{}, &CardError{Scheme: "PAN", Number: pan, Problem: "outside the program's card ranges", Err: ErrForeignCard}
	}
	return Card{Number: pan, Kind: CardPAN}, nil
}

// trackPAN finds the PAN in magstripe data: in track 2 (";PAN=…?") when present,
// else in track 1 ("%BPAN^NAME^…?"), else in bare track 2 content ("PAN=…").
// It returns the PAN and the name of the track it came from.
func trackPAN(data string) (pan, scheme string, err error) {
	switch {
	case strings.Contains(data, ";"):
		_, t2, _ := strings.Cut(data, ";")
		pan, _, _ = cutAny(t2, "=?")
		return pan, "track 2", nil
	case strings.HasPrefix(data, "%"):
		t1 := data[1:]
		if t1 == "" {
			return "", "", &CardError{Scheme: "track 1", Problem: "no format code after '%'", Err: ErrFormat}
		}
		if code, _ := utf8.DecodeRuneInString(t1); code != 'B' {
			return "", "", &CardError{Scheme: "track 1", Problem: fmt.Sprintf("format code is %q, want 'B'", code), Err: ErrFormat}
		}
		pan, _, found := cutAny(t1[1:], "^")
		if !found {
			return "", "", &CardError{Scheme: "track 1", Problem: "no '^' after the PAN", Err: ErrFormat}
		}
		return pan, "track 1", nil
	case data == "":
		return "", "", &CardError{Scheme: "track", Problem: "empty", Err: ErrFormat}
	}
	pan, _, _ = cutAny(data, "=?")
	return pan, "track 2", nil
}

// cutAny cuts s around the first byte of seps.
func cutAny(s, seps string) (before, after string, found bool) {
	if i := strings.IndexAny(s, seps); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

func digitsOnly(scheme, s string) error {
	if s == "" {
		return &CardError{Scheme: scheme, Problem: "empty", Err: ErrFormat}
	}
	for i, r := range s {
		if r < '0' || r > '9' {
			return &CardError{Scheme: scheme, Problem: fmt.Sprintf("byte %d is %q, want a digit", i+1, r), Err: ErrFormat}
		}
	}
	return nil
}

// gs1CheckDigit is the GS1 mod-10 check digit of body (all digits): weights 3
// and 1 alternate from the rightmost digit of body.
func gs1CheckDigit(body string) byte {
	sum := 0
	for i := range len(body) {
		d := int(body[len(body)-1-i] - '0')
		if i%2 == 0 {
			d *= 3
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

// luhnCheckDigit is the Luhn (ISO/IEC 7812-1 annex B) check digit of body.
func luhnCheckDigit(body string) byte {
	sum := 0
	for i := range len(body) {
		d := int(body[len(body)-1-i] - '0')
		if i%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

// parsePrefix parses "2" or "200-249" into its bounds, equally long digit runs.
func parsePrefix(p string) (lo, hi string, err error) {
	lo, hi, isRange := strings.Cut(p, "-")
	if !isRange {
		hi = lo
	}
	for _, b := range []string{lo, hi} {
		if b == "" || strings.Trim(b, "0123456789") != "" {
			return "", "", fmt.Errorf("prefix %q: want digits or a range of digits like \"200-249\"", p)
		}
	}
	if len(lo) != len(hi) {
		return "", "", fmt.Errorf("prefix %q: both ends of a range need the same number of digits", p)
	}
	if lo > hi {
		return "", "", fmt.Errorf("prefix %q: range runs backwards", p)
	}
	return lo, hi, nil
}

// inRanges reports whether number starts within one of prefixes, which are valid.
func inRanges(number string, prefixes []string) bool {
	for _, p := range prefixes {
		lo, hi, err := parsePrefix(p)
		if err != nil || len(number) < len(lo) {
			continue
		}
		// Equally long digit strings order like the numbers they spell.
		if head := number[:len(lo)]; lo <= head && head <= hi {
			return true
		}
	}
	return false
}
