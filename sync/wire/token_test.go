package wire

import (
	"errors"
	"strings"
	"testing"
)

func TestSplitToken(t *testing.T) {
	fp := strings.Repeat("ab", 32)
	for _, tt := range []struct {
		in, secret, fp string
		ok             bool
	}{
		{"s3cr3t." + fp, "s3cr3t", fp, true},
		{"  s3cr3t." + strings.ToUpper(fp) + "\n", "s3cr3t", fp, true},
		{"s3cr3t" + fp, "", "", false},
		{"." + fp, "", "", false},
		{"s3cr3t." + fp[:63], "", "", false},
		{"s3cr3t." + fp[:63] + "g", "", "", false},
		{"", "", "", false},
	} {
		secret, got, err := SplitToken(tt.in)
		if tt.ok != (err == nil) || secret != tt.secret || got != tt.fp {
			t.Errorf("SplitToken(%q) = %q, %q, %v", tt.in, secret, got, err)
		}
		if err != nil && !errors.Is(err, ErrMalformedToken) {
			t.Errorf("SplitToken(%q): %v is not ErrMalformedToken", tt.in, err)
		}
	}
	if s, f, err := SplitToken(JoinToken("abc", fp)); err != nil || s != "abc" || f != fp {
		t.Errorf("JoinToken does not split back: %q %q %v", s, f, err)
	}
}

// A token pasted by a person is hostile input: SplitToken never panics and
// what it accepts joins back to the trimmed token.
func FuzzSplitToken(f *testing.F) {
	f.Add("s3cr3t." + strings.Repeat("0f", 32))
	f.Add("a.b.c")
	f.Add("\xff." + strings.Repeat("A", 64))
	f.Fuzz(func(t *testing.T, token string) {
		secret, fp, err := SplitToken(token)
		if err != nil {
			return
		}
		if secret == "" || len(fp) != 64 || !strings.EqualFold(JoinToken(secret, fp), strings.TrimSpace(token)) {
			t.Fatalf("SplitToken(%q) = %q, %q", token, secret, fp)
		}
	})
}
