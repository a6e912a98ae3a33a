package device

import (
	"fmt"
	"regexp"
	"sync"
)

// maxCodeLen bounds a card number captured by a pattern: the till keeps card
// numbers of at most 64 printable characters.
const maxCodeLen = 64

// patternCache keeps compiled CardPatterns: Identify runs on every scan, and
// the same few patterns come with every call.
var patternCache sync.Map // string → *regexp.Regexp

// compilePattern compiles a card pattern and checks it has one capture group.
func compilePattern(p string) (*regexp.Regexp, error) {
	if re, ok := patternCache.Load(p); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", p, err)
	}
	if n := re.NumSubexp(); n != 1 {
		return nil, fmt.Errorf("pattern %q: has %d capture groups, want exactly 1 (the card number)", p, n)
	}
	patternCache.Store(p, re)
	return re, nil
}

// matchPatterns finds the card number in data with the first of patterns
// (valid ones: Identify validated them) that matches all of data. ok says
// whether one matched; err whether what it captured is no card number.
func matchPatterns(data string, patterns []string) (card Card, ok bool, err error) {
	for _, p := range patterns {
		re, cerr := compilePattern(p)
		if cerr != nil {
			continue
		}
		loc := re.FindStringSubmatchIndex(data)
		if loc == nil || loc[0] != 0 || loc[1] != len(data) || loc[2] < 0 {
			continue
		}
		card, err := capturedCard(data[loc[2]:loc[3]])
		return card, true, err
	}
	return Card{}, false, nil
}

// capturedCard validates a number a card pattern captured.
func capturedCard(number string) (Card, error) {
	bad := func(problem string, args ...any) (Card, error) {
		return Card{}, &CardError{Scheme: "card pattern", Problem: fmt.Sprintf(problem, args...), Err: ErrFormat}
	}
	if number == "" {
		return bad("captured an empty card number")
	}
	if len(number) > maxCodeLen {
		return bad("captured %d characters, want at most %d", len(number), maxCodeLen)
	}
	digits := true
	for i := range len(number) {
		c := number[i]
		if c <= ' ' || c > '~' {
			return bad("captured byte %d is %q, want a printable ASCII character", i+1, c)
		}
		digits = digits && '0' <= c && c <= '9'
	}
	if digits {
		kind, scheme := gs1Kind(len(number))
		if kind != "" {
			if err := checkGS1(scheme, number); err != nil {
				return Card{}, err
			}
			return Card{Number: number, Kind: kind}, nil
		}
	}
	return Card{Number: number, Kind: CardCode}, nil
}

// gs1Kind names the GS1 scheme of an all-digit number of length n, "" if none.
func gs1Kind(n int) (CardKind, string) {
	switch n {
	case 13:
		return CardEAN13, "EAN-13"
	case 12:
		return CardUPCA, "UPC-A"
	case 8:
		return CardEAN8, "EAN-8"
	}
	return "", ""
}

// checkGS1 checks the GS1 check digit of number, all digits, named scheme in errors.
func checkGS1(scheme, number string) error {
	body, got := number[:len(number)-1], number[len(number)-1]
	if want := gs1CheckDigit(body); got != want {
		return &CardError{Scheme: scheme, Number: number, Problem: fmt.Sprintf("check digit is %c, want %c", got, want), Err: ErrCheckDigit}
	}
	return nil
}
