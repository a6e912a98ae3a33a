package pos

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMaskCard(t *testing.T) {
	tests := []struct{ in, want string }{
		{"2000000012345", "•••••••••2345"},
		{"4111111111111111", "••••••••••••1111"},
		{"4000001234567899", "••••••••••••7899"},
		{"96385074", "••••5074"},
		{"DEADBEEF", "••••BEEF"},
		{"123456", "•••456"},
		{"1234", "••34"},
		{"123", "••3"},
		{"1", "•"},
		{"", ""},
		{"карта12345", "••••••2345"},
		{"ЖЖЖЖЖЖ", "•••ЖЖЖ"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := MaskCard(tt.in); got != tt.want {
				t.Errorf("MaskCard(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// MaskCard never shows a number of more than one character whole, never
// more than four of its characters, and keeps its length.
func FuzzMaskCard(f *testing.F) {
	for _, s := range []string{"2000000012345", "1234", "ЖЖЖЖЖЖ", "\xff\xfe12345678", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, number string) {
		m := MaskCard(number)
		n := utf8.RuneCountInString(number)
		if utf8.RuneCountInString(m) != n {
			t.Fatalf("MaskCard(%q) = %q changes the length", number, m)
		}
		shown := utf8.RuneCountInString(strings.TrimLeft(m, "•"))
		if shown > 4 || n > 1 && shown >= n && !strings.HasPrefix(number, "•") {
			t.Fatalf("MaskCard(%q) = %q shows %d characters", number, m, shown)
		}
	})
}

func TestMaskPhone(t *testing.T) {
	for in, want := range map[string]string{
		"+7 900 123-45-67": "+• ••• •••-45-67",
		"8 (900) 1234567":  "• (•••) •••4567",
		"4567":             "4567",
		"567":              "567",
		"":                 "",
		"+44 20 7946 0958": "+•• •• •••• 0958",
		"1234567":          "•••4567",
	} {
		if got := MaskPhone(in); got != want {
			t.Errorf("MaskPhone(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzMaskPhone: a masked phone keeps its length in characters and every
// character that is not a digit, and shows at most its last four digits.
func FuzzMaskPhone(f *testing.F) {
	for _, s := range []string{"+7 900 123-45-67", "8 (900) 1234567", "12", "", "٣٤٥٦٧٨", "\xff1234567"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, phone string) {
		m := MaskPhone(phone)
		in, out := []rune(phone), []rune(m)
		if len(in) != len(out) {
			t.Fatalf("MaskPhone(%q) = %q: %d characters, want %d", phone, m, len(out), len(in))
		}
		shown := 0
		for i, r := range in {
			switch {
			case r < '0' || r > '9':
				if out[i] != r {
					t.Fatalf("MaskPhone(%q) = %q changed %q", phone, m, r)
				}
			case out[i] == r:
				shown++
			case out[i] != '•':
				t.Fatalf("MaskPhone(%q) = %q: a digit became %q", phone, m, out[i])
			}
		}
		if shown > 4 {
			t.Fatalf("MaskPhone(%q) = %q shows %d digits", phone, m, shown)
		}
	})
}
