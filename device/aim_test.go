package device

import (
	"errors"
	"strings"
	"testing"
)

func TestStripAIM(t *testing.T) {
	tests := []struct{ in, id, rest string }{
		{"]E02000000000008", "]E0", "2000000000008"},
		{"]C1CLUB-1", "]C1", "CLUB-1"},
		{"]Q1https://x", "]Q1", "https://x"},
		{"]d2010460", "]d2", "010460"},
		{"]E0", "]E0", ""},
		{"2000000000008", "", "2000000000008"},
		{"]E", "", "]E"},
		{"]1E0", "", "]1E0"}, // code character must be a letter
		{"]E-0", "", "]E-0"}, // modifier must be a letter or digit
		{"x]E0", "", "x]E0"}, // only at the start
		{"", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			id, rest := StripAIM(tt.in)
			if id != tt.id || rest != tt.rest {
				t.Errorf("StripAIM(%q) = %q, %q; want %q, %q", tt.in, id, rest, tt.id, tt.rest)
			}
		})
	}
}

func FuzzStripAIM(f *testing.F) {
	for _, s := range []string{"]E02000000000008", "]Q1", "]", "]]]]", "2000000000008", "]é0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, rest := StripAIM(s)
		if id+rest != s {
			t.Fatalf("StripAIM(%q) = %q + %q, does not rebuild the input", s, id, rest)
		}
		if id != "" && (len(id) != 3 || id[0] != ']') {
			t.Fatalf("StripAIM(%q): identifier %q", s, id)
		}
	})
}

func TestIdentifyPatternsAndAIM(t *testing.T) {
	opts := IdentifyOptions{CardPatterns: []string{
		`^https://club\.example/c/(\d+)(?:\?.*)?$`,
		`^CLUB-([0-9A-Z]+)$`,
		`^LONG:(.*)$`,
	}}
	tests := []struct {
		name string
		data string
		opts IdentifyOptions
		want Card
		err  error
		msg  string
	}{
		{name: "AIM prefix stripped", data: "]E02000000000008", want: Card{Number: "2000000000008", Kind: CardEAN13}},
		{name: "AIM prefix on a product", data: "]E04006381333931", want: Card{Number: "4006381333931", Kind: CardEAN13, Product: true}},
		{name: "QR with an EAN-13 inside", data: "]Q1https://club.example/c/4006381333931?src=app", opts: opts, want: Card{Number: "4006381333931", Kind: CardEAN13}},
		{name: "QR with a bad check digit", data: "https://club.example/c/4006381333932", opts: opts, err: ErrCheckDigit, msg: "check digit is 2, want 1"},
		{name: "Code 128 code", data: "]C0CLUB-00A123", opts: opts, want: Card{Number: "00A123", Kind: CardCode}},
		{name: "pattern must match the whole barcode", data: "XCLUB-00A123", opts: opts, err: ErrFormat, msg: "barcode: byte 1 is 'X'"},
		{name: "no pattern matches: GS1 rules", data: "2000000000008", opts: opts, want: Card{Number: "2000000000008", Kind: CardEAN13}},
		{name: "captured code too long", data: "LONG:" + strings.Repeat("A", 65), opts: opts, err: ErrFormat, msg: "captured 65 characters, want at most 64"},
		{name: "captured code with a space", data: "LONG:A B", opts: opts, err: ErrFormat, msg: "captured byte 2 is ' '"},
		{name: "captured nothing", data: "LONG:", opts: opts, err: ErrFormat, msg: "captured an empty card number"},
		{name: "pattern without a group", data: "1", opts: IdentifyOptions{CardPatterns: []string{`^\d+$`}}, err: ErrBadOptions, msg: "card_patterns[0]: pattern \"^\\\\d+$\": has 0 capture groups, want exactly 1"},
		{name: "pattern that does not compile", data: "1", opts: IdentifyOptions{CardPatterns: []string{`(`}}, err: ErrBadOptions, msg: "card_patterns[0]: pattern \"(\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Identify(Scan{Kind: KindBarcode, Data: tt.data}, tt.opts)
			if tt.err == nil {
				if err != nil || got != tt.want {
					t.Fatalf("Identify(%q) = %+v, %v; want %+v", tt.data, got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Identify(%q) = %+v, %v; want %v saying %q", tt.data, got, err, tt.err, tt.msg)
			}
		})
	}
}
