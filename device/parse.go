package device

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"
)

// ErrNotCard is wrapped by [ParseCard] when a number is a valid barcode outside
// the card ranges and no card pattern captures it: a product, not a customer.
var ErrNotCard = errors.New("device: a product code, not a loyalty card")

// ParseCard checks a card number that did not come from a reader: one the POS
// app sends to the local API (the Card.Number of a scan event) or a person
// types. It accepts exactly the numbers a scan of a card can give and returns
// the Card that scan gives: a barcode needs its GS1 check digit and must be in
// IdentifyOptions.CardPrefixes (or captured by a card pattern), a PAN must pass
// the Luhn check and be in TrackPrefixes when those are set, a UID is 4 to 10
// bytes of hex (normalised to upper case without separators), and a code must
// be what one of CardPatterns' capture groups matches.
//
// kind is the Card.Kind the scan reported (the scan event's card_type) when
// the caller knows it, else empty: then the number is read by its shape, with
// what a pattern's capture group matches read first as a pattern's capture,
// then 8, 12 or 13 digits as a barcode, other runs of 8 to 19 digits as a
// PAN, and hex with a letter or separators as a UID. A UID that happens to be
// all decimal digits therefore needs kind [CardUID].
//
// Errors are *[CardError]s wrapping [ErrFormat], [ErrCheckDigit],
// [ErrForeignCard] or [ErrNotCard]; malformed options wrap [ErrBadOptions].
func ParseCard(number string, kind CardKind, opts IdentifyOptions) (Card, error) {
	if err := opts.Validate(); err != nil {
		return Card{}, fmt.Errorf("parse card: %w: %w", ErrBadOptions, err)
	}
	number = strings.TrimSpace(number)
	if number == "" {
		return Card{}, &CardError{Scheme: "card", Problem: "empty", Err: ErrFormat}
	}
	guessed := kind == ""
	if guessed {
		kind = shapeOf(number, opts)
	}
	switch kind {
	case CardEAN13, CardEAN8, CardUPCA:
		return parseGS1(number, kind, opts)
	case CardPAN:
		if err := digitsOnly("PAN", number); err != nil {
			return Card{}, err
		}
		return checkPAN(number, "PAN", opts)
	case CardUID:
		c, err := identifyUID(number)
		var ce *CardError
		if guessed && errors.As(err, &ce) {
			// Letters in a number are more often a mistyped barcode than a UID.
			return Card{}, &CardError{Scheme: "card", Number: number, Err: ErrFormat,
				Problem: "not a card number: a barcode or magstripe number has digits only, and as a contactless UID it has " + ce.Problem}
		}
		return c, err
	case CardCode:
		if !captured(number, opts.CardPatterns) {
			return Card{}, &CardError{Scheme: "card code", Number: number, Problem: "no card pattern (card_patterns) captures it", Err: ErrFormat}
		}
		return capturedCard(number)
	case "":
		return Card{}, &CardError{Scheme: "card", Number: number,
			Problem: "not a card number: a barcode or magstripe number is 8 to 19 digits, a contactless UID 4 to 10 bytes of hex", Err: ErrFormat}
	}
	return Card{}, &CardError{Scheme: "card", Problem: fmt.Sprintf("unknown card type %q: want %s", kind, CardKindNames), Err: ErrFormat}
}

// shapeOf names the kind a number without one is read as; "" when it has the
// shape of none.
func shapeOf(number string, opts IdentifyOptions) CardKind {
	if captured(number, opts.CardPatterns) {
		return CardCode
	}
	if strings.Trim(number, "0123456789") == "" {
		if kind, _ := gs1Kind(len(number)); kind != "" {
			return kind
		}
		return CardPAN
	}
	if strings.Trim(number, "0123456789abcdefABCDEF:- ") == "" {
		return CardUID
	}
	return ""
}

// parseGS1 checks a barcode number of the kind named, which must be a card.
func parseGS1(number string, kind CardKind, opts IdentifyOptions) (Card, error) {
	want := gs1Digits[kind]
	_, scheme := gs1Kind(want)
	if len(number) != want {
		return Card{}, &CardError{Scheme: scheme, Number: number, Problem: fmt.Sprintf("%d characters, want %d digits", len(number), want), Err: ErrFormat}
	}
	if err := digitsOnly(scheme, number); err != nil {
		return Card{}, err
	}
	if err := checkGS1(scheme, number); err != nil {
		return Card{}, err
	}
	prefixes := opts.CardPrefixes
	if len(prefixes) == 0 {
		prefixes = DefaultCardPrefixes
	}
	if !inRanges(number, prefixes) && !captured(number, opts.CardPatterns) {
		return Card{}, &CardError{Scheme: scheme, Number: number, Problem: "a product code: outside the card ranges (card_prefixes)", Err: ErrNotCard}
	}
	return Card{Number: number, Kind: kind}, nil
}

// gs1Digits is the length of each GS1 kind's numbers.
var gs1Digits = map[CardKind]int{CardEAN13: 13, CardUPCA: 12, CardEAN8: 8}

// captures keeps each card pattern's capture group compiled on its own,
// anchored at both ends.
var captures sync.Map // string → *regexp.Regexp

// captured reports whether the capture group of one of patterns (valid ones)
// matches all of number: whether a scan could have captured it.
func captured(number string, patterns []string) bool {
	for _, p := range patterns {
		re, err := captureOf(p)
		if err == nil && re.MatchString(number) {
			return true
		}
	}
	return false
}

// captureOf compiles the capture group of pattern p on its own.
func captureOf(p string) (*regexp.Regexp, error) {
	if re, ok := captures.Load(p); ok {
		return re.(*regexp.Regexp), nil
	}
	tree, err := syntax.Parse(p, syntax.Perl)
	if err != nil {
		return nil, err
	}
	group := findCapture(tree)
	if group == nil || len(group.Sub) != 1 {
		return nil, fmt.Errorf("pattern %q: no capture group", p)
	}
	re, err := regexp.Compile(`^(?:` + group.Sub[0].String() + `)$`)
	if err != nil {
		return nil, err
	}
	captures.Store(p, re)
	return re, nil
}

func findCapture(re *syntax.Regexp) *syntax.Regexp {
	if re.Op == syntax.OpCapture {
		return re
	}
	for _, s := range re.Sub {
		if c := findCapture(s); c != nil {
			return c
		}
	}
	return nil
}
