package discount

import (
	"strings"
	"testing"
)

// tidy's shortcut (tidied) returns a string as it is only when the full
// tidying would leave it so.
func FuzzTidied(f *testing.F) {
	for _, s := range []string{"", " ", "Здравствуйте, Василий Петрович!", "Hi ,  Ann !", " lead", "trail ", "a\tb", "a  b",
		"!start", "a !", "a\u00a0b", "a\u2003b", "ok.", "a ?b", "\u0085x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		full := strings.Join(strings.Fields(s), " ")
		for _, p := range []string{" !", " ,", " .", " ?"} {
			full = strings.ReplaceAll(full, p, p[1:])
		}
		if got := tidy(s); got != full {
			t.Fatalf("tidy(%q) = %q, want %q", s, got, full)
		}
		if tidied(s) && full != s {
			t.Fatalf("tidied(%q) but tidying gives %q", s, full)
		}
	})
}
