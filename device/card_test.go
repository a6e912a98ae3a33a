package device

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tilld/tilld/pos"
)

func TestIdentify(t *testing.T) {
	partner := IdentifyOptions{CardPrefixes: []string{"2", "4600-4609"}, TrackPrefixes: []string{"6276"}}
	tests := []struct {
		name string
		kind Kind
		data string
		opts IdentifyOptions
		want Card
		err  error  // sentinel, nil for success
		msg  string // substring of the error message
	}{
		{name: "club EAN-13", kind: KindBarcode, data: "2000000000008", want: Card{Number: "2000000000008", Kind: CardEAN13}},
		{name: "EAN-13 with spaces around", kind: KindBarcode, data: " 2500000000003\r\n", want: Card{Number: "2500000000003", Kind: CardEAN13}},
		{name: "product EAN-13", kind: KindBarcode, data: "4006381333931", want: Card{Number: "4006381333931", Kind: CardEAN13, Product: true}},
		{name: "partner range makes it a card", kind: KindBarcode, data: "4600000000008", opts: partner, want: Card{Number: "4600000000008", Kind: CardEAN13}},
		{name: "outside partner range", kind: KindBarcode, data: "7000000000003", opts: partner, want: Card{Number: "7000000000003", Kind: CardEAN13, Product: true}},
		{name: "EAN-13 bad check digit", kind: KindBarcode, data: "4600000000003", err: ErrCheckDigit, msg: "EAN-13 •••••••••0003: check digit is 3, want 8"},
		{name: "UPC-A product", kind: KindBarcode, data: "036000291452", want: Card{Number: "036000291452", Kind: CardUPCA, Product: true}},
		{name: "UPC-A card", kind: KindBarcode, data: "200000001230", want: Card{Number: "200000001230", Kind: CardUPCA}},
		{name: "UPC-A bad check digit", kind: KindBarcode, data: "036000291453", err: ErrCheckDigit, msg: "UPC-A ••••••••1453: check digit is 3, want 2"},
		{name: "EAN-8 card", kind: KindBarcode, data: "20000011", want: Card{Number: "20000011", Kind: CardEAN8}},
		{name: "EAN-8 product", kind: KindBarcode, data: "96385074", want: Card{Number: "96385074", Kind: CardEAN8, Product: true}},
		{name: "EAN-8 bad check digit", kind: KindBarcode, data: "96385070", err: ErrCheckDigit, msg: "check digit is 0, want 4"},
		{name: "barcode wrong length", kind: KindBarcode, data: "12345", err: ErrFormat, msg: "barcode: 5 digits, want 13 (EAN-13), 12 (UPC-A) or 8 (EAN-8)"},
		{name: "barcode with a letter", kind: KindBarcode, data: "20000x0000008", err: ErrFormat, msg: "barcode: byte 6 is 'x', want a digit"},
		{name: "barcode empty", kind: KindBarcode, data: "", err: ErrFormat, msg: "barcode: empty"},
		{name: "UID with colons", kind: KindUID, data: "04:a2:2b:1a:5c:80:01", want: Card{Number: "04A22B1A5C8001", Kind: CardUID}},
		{name: "UID plain", kind: KindUID, data: "deadbeef", want: Card{Number: "DEADBEEF", Kind: CardUID}},
		{name: "UID with dashes and spaces", kind: KindUID, data: "DE-AD BE-EF", want: Card{Number: "DEADBEEF", Kind: CardUID}},
		{name: "UID odd digits", kind: KindUID, data: "DEADBEE", err: ErrFormat, msg: "UID: odd number of hex digits (7)"},
		{name: "UID too short", kind: KindUID, data: "DEAD", err: ErrFormat, msg: "UID: 2 bytes, want 4 to 10"},
		{name: "UID too long", kind: KindUID, data: strings.Repeat("AB", 11), err: ErrFormat, msg: "UID: longer than 10 bytes"},
		{name: "UID not hex", kind: KindUID, data: "DEADBEEG", err: ErrFormat, msg: "UID: byte 8 is 'G', want a hex digit"},
		{name: "UID empty", kind: KindUID, data: "", err: ErrFormat, msg: "UID: empty"},
		{name: "track 2 with sentinels", kind: KindTrack, data: ";4111111111111111=30121010000000000000?", want: Card{Number: "4111111111111111", Kind: CardPAN}},
		{name: "track 1 and 2", kind: KindTrack, data: "%B6276000000000004^IVANOV/VASILY^3012101?;6276000000000004=3012101?", opts: partner, want: Card{Number: "6276000000000004", Kind: CardPAN}},
		{name: "track 1 only", kind: KindTrack, data: "%B79927398713^PETROV/P^?", want: Card{Number: "79927398713", Kind: CardPAN}},
		{name: "bare track 2", kind: KindTrack, data: "79927398713=2512", want: Card{Number: "79927398713", Kind: CardPAN}},
		{name: "track 2 without separator", kind: KindTrack, data: ";79927398713?", want: Card{Number: "79927398713", Kind: CardPAN}},
		{name: "PAN bad Luhn", kind: KindTrack, data: ";4111111111111112=3012?", err: ErrCheckDigit, msg: "PAN ••••••••••••1112: check digit is 2, want 1"},
		{name: "PAN foreign", kind: KindTrack, data: ";4111111111111111=3012?", opts: partner, err: ErrForeignCard, msg: "outside the program's card ranges"},
		{name: "PAN too short", kind: KindTrack, data: ";1234?", err: ErrFormat, msg: "track 2: PAN has 4 digits, want 8 to 19"},
		{name: "PAN with letters", kind: KindTrack, data: ";41111A1111111111=3012?", err: ErrFormat, msg: "track 2 PAN: byte 6 is 'A', want a digit"},
		{name: "track 1 wrong format code", kind: KindTrack, data: "%A4111111111111111^X^?", err: ErrFormat, msg: "track 1: format code is 'A', want 'B'"},
		{name: "track 1 without caret", kind: KindTrack, data: "%B4111111111111111", err: ErrFormat, msg: "track 1: no '^' after the PAN"},
		{name: "track 1 no format code", kind: KindTrack, data: "%", err: ErrFormat, msg: "track 1: no format code"},
		{name: "track empty", kind: KindTrack, data: "", err: ErrFormat, msg: "track: empty"},
		{name: "unknown kind", kind: "nfc", data: "x", err: ErrFormat, msg: `unknown kind "nfc"`},
		{name: "bad options", kind: KindBarcode, data: "2000000000008", opts: IdentifyOptions{CardPrefixes: []string{"29-20"}}, err: ErrBadOptions, msg: "card_prefixes[0]: prefix \"29-20\": range runs backwards"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Identify(Scan{Source: "test", Kind: tt.kind, Data: tt.data}, tt.opts)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("Identify(%q) error = %v, want %v", tt.data, err, tt.err)
				}
				if !strings.Contains(err.Error(), tt.msg) {
					t.Errorf("error %q does not say %q", err, tt.msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Identify(%q): %v", tt.data, err)
			}
			if got != tt.want {
				t.Errorf("Identify(%q) = %+v, want %+v", tt.data, got, tt.want)
			}
		})
	}
}

func TestCardErrorKeepsNumberButMasksMessage(t *testing.T) {
	_, err := Identify(Scan{Kind: KindBarcode, Data: "4600000000003"}, IdentifyOptions{})
	var ce *CardError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a *CardError", err)
	}
	if ce.Number != "4600000000003" {
		t.Errorf("Number = %q, want the full number for the till screen", ce.Number)
	}
	if strings.Contains(err.Error(), "460000000") {
		t.Errorf("error message %q shows the number unmasked", err)
	}
}

func TestPrefixes(t *testing.T) {
	tests := []struct {
		prefix string
		number string
		match  bool
		bad    string // error substring when the prefix is malformed
	}{
		{prefix: "2", number: "2000000000008", match: true},
		{prefix: "2", number: "4600000000008", match: false},
		{prefix: "460-469", number: "4650000000000", match: true},
		{prefix: "460-469", number: "4700000000000", match: false},
		{prefix: "460-469", number: "46", match: false},
		{prefix: "0-9", number: "5", match: true},
		{prefix: "", bad: "want digits"},
		{prefix: "2a", bad: "want digits"},
		{prefix: "20-", bad: "want digits"},
		{prefix: "-20", bad: "want digits"},
		{prefix: "20-299", bad: "same number of digits"},
		{prefix: "30-20", bad: "runs backwards"},
		{prefix: "1-2-3", bad: "want digits"},
	}
	for _, tt := range tests {
		t.Run(tt.prefix+"/"+tt.number, func(t *testing.T) {
			err := IdentifyOptions{CardPrefixes: []string{tt.prefix}}.Validate()
			if tt.bad != "" {
				if err == nil || !strings.Contains(err.Error(), tt.bad) {
					t.Fatalf("Validate(%q) = %v, want an error saying %q", tt.prefix, err, tt.bad)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate(%q): %v", tt.prefix, err)
			}
			if got := inRanges(tt.number, []string{tt.prefix}); got != tt.match {
				t.Errorf("inRanges(%q, %q) = %v, want %v", tt.number, tt.prefix, got, tt.match)
			}
		})
	}
}

func TestCheckDigits(t *testing.T) {
	// Published examples: GS1's own EAN-13 and UPC-A samples, the Luhn example
	// from ISO/IEC 7812-1, and a test Visa number.
	for _, n := range []string{"4006381333931", "036000291452", "96385074", "5901234123457"} {
		if got, want := gs1CheckDigit(n[:len(n)-1]), n[len(n)-1]; got != want {
			t.Errorf("gs1CheckDigit(%s) = %c, want %c", n[:len(n)-1], got, want)
		}
	}
	for _, n := range []string{"79927398713", "4111111111111111", "5500000000000004", "0"} {
		if got, want := luhnCheckDigit(n[:len(n)-1]), n[len(n)-1]; got != want {
			t.Errorf("luhnCheckDigit(%s) = %c, want %c", n[:len(n)-1], got, want)
		}
	}
}

// FuzzIdentify feeds arbitrary data of every kind to Identify: it must never
// panic, every card it accepts must be well formed, and every error must be a
// *CardError wrapping one of the sentinels.
func FuzzIdentify(f *testing.F) {
	seeds := []struct {
		kind Kind
		data string
	}{
		{KindBarcode, "2000000000008"}, {KindBarcode, "036000291452"}, {KindBarcode, "96385074"},
		{KindBarcode, "4600000000003"}, {KindBarcode, ""}, {KindBarcode, "٣٣٣"},
		{KindUID, "04:A2:2B:1A:5C:80:01"}, {KindUID, "deadbeef"}, {KindUID, "DEA"},
		{KindTrack, "%B6276000000000004^IVANOV/VASILY^3012101?;6276000000000004=3012101?"},
		{KindTrack, ";4111111111111111=3012?"}, {KindTrack, "%"}, {KindTrack, "%B^"}, {KindTrack, ";"},
		{"x", "1"},
	}
	for _, s := range seeds {
		f.Add(string(s.kind), s.data)
	}
	f.Add(string(KindBarcode), "CLUB-00A123")
	opts := IdentifyOptions{CardPrefixes: []string{"2", "460-469"}, CardPatterns: []string{`^CLUB-([0-9A-Z]+)$`}}
	f.Fuzz(func(t *testing.T, kind, data string) {
		c, err := Identify(Scan{Kind: Kind(kind), Data: data}, opts)
		if err == nil && !c.Product {
			// The local API parses what the scan event said as the scan did.
			if got, err := ParseCard(c.Number, c.Kind, opts); err != nil || got != c {
				t.Fatalf("scan %q %q gave %+v; ParseCard(%q, %q) = %+v, %v", kind, data, c, c.Number, c.Kind, got, err)
			}
		}
		if err != nil {
			var ce *CardError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is %T, want *CardError", err, err)
			}
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrCheckDigit) && !errors.Is(err, ErrForeignCard) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			if ce.Number != "" && strings.Contains(err.Error(), ce.Number) && len(ce.Number) > 4 {
				t.Fatalf("error %q shows number %q in full", err, ce.Number)
			}
			return
		}
		if c.Number == "" {
			t.Fatalf("Identify(%q, %q) accepted an empty number", kind, data)
		}
		checkCard(t, c, opts)
		if c.Product && c.Kind != CardEAN13 && c.Kind != CardEAN8 && c.Kind != CardUPCA {
			t.Fatalf("%s %q marked as a product", c.Kind, c.Number)
		}
		m := pos.MaskCard(data)
		if utf8.RuneCountInString(m) != utf8.RuneCountInString(data) {
			t.Fatalf("pos.MaskCard(%q) = %q changes the length", data, m)
		}
	})
}

// checkCard fails t unless c is well formed for its kind: digits with a right
// GS1 or Luhn check digit, upper-case hex bytes, or a code one of opts'
// patterns captures.
func checkCard(t *testing.T, c Card, opts IdentifyOptions) {
	t.Helper()
	switch c.Kind {
	case CardEAN13, CardEAN8, CardUPCA:
		if strings.Trim(c.Number, "0123456789") != "" || gs1CheckDigit(c.Number[:len(c.Number)-1]) != c.Number[len(c.Number)-1] {
			t.Fatalf("accepted barcode %q with a bad check digit or non-digits", c.Number)
		}
	case CardPAN:
		if strings.Trim(c.Number, "0123456789") != "" || luhnCheckDigit(c.Number[:len(c.Number)-1]) != c.Number[len(c.Number)-1] {
			t.Fatalf("accepted PAN %q failing Luhn", c.Number)
		}
	case CardUID:
		if strings.Trim(c.Number, "0123456789ABCDEF") != "" || len(c.Number)%2 != 0 {
			t.Fatalf("accepted UID %q that is not upper-case hex bytes", c.Number)
		}
	case CardCode:
		if !captured(c.Number, opts.CardPatterns) {
			t.Fatalf("accepted code %q that no pattern captures", c.Number)
		}
	default:
		t.Fatalf("unknown card kind %q", c.Kind)
	}
}
