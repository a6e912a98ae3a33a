package pos

import (
	"strings"
	"unicode/utf8"
)

// MaskCard hides all but the last four characters of a card number behind
// "•", so "2000000012345" becomes "•••••••••2345": the one form a card number
// takes in logs, errors, reports and on screens, on the till and at HQ.
// Numbers shorter than eight characters keep only half of them, so none is
// ever shown whole. It keeps the number's length in characters.
func MaskCard(number string) string {
	n := utf8.RuneCountInString(number)
	keep := min(4, n/2)
	var b strings.Builder
	b.Grow(len(number) + 2*(n-keep))
	i := 0
	for _, r := range number {
		if i < n-keep {
			b.WriteString("•")
		} else {
			b.WriteRune(r)
		}
		i++
	}
	return b.String()
}

// MaskPhone hides every digit of a phone number but the last four, keeping
// how it is written: "+7 900 123-45-67" is "+• ••• •••-45-67".
func MaskPhone(phone string) string {
	digits := 0
	for _, r := range phone {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	var b strings.Builder
	seen := 0
	for _, r := range phone {
		if r >= '0' && r <= '9' {
			seen++
			if seen <= digits-4 {
				b.WriteString("•")
				continue
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}
