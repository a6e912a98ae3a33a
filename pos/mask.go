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
