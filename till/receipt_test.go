package till

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzParseReceiptCode: a receipt code typed at the till never panics its
// parser, and what it reads prints as a code that reads the same.
func FuzzParseReceiptCode(f *testing.F) {
	for _, seed := range []string{"T042-17-3fa9c2", "S1-T1-5-ABCDEF", "T1-0-abcdef", "T1--abcdef", "-1-abcdef", "T1-1-abcdeg", "T1-1", "", "T1-18446744073709551616-abcdef"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, code string) {
		terminal, seq, hash, err := parseReceiptCode(code)
		if err != nil {
			return
		}
		if seq == 0 || terminal == "" || len(hash) != 6 {
			t.Fatalf("%q: terminal %q seq %d hash %q", code, terminal, seq, hash)
		}
		printed := ReceiptCode(terminal+"-"+strconv.FormatUint(seq, 10), hash)
		t2, s2, h2, err := parseReceiptCode(printed)
		if err != nil || t2 != terminal || s2 != seq || h2 != hash {
			t.Fatalf("%q reads as %s %d %s, printed %q, which reads as %s %d %s (%v)", code, terminal, seq, hash, printed, t2, s2, h2, err)
		}
	})
}

func TestParseReceiptCode(t *testing.T) {
	for code, ok := range map[string]bool{
		"T042-17-3fa9c2": true, " S1-T1-5-ABCDEF ": true, "T1-0-abcdef": false, "T1-5-abcde": false, "T1-5-abcdeg": false,
		"T1-x-abcdef": false, "5-abcdef": false, "": false,
		strings.Repeat("T", 64) + "-18446744073709551615-abcdef": true, strings.Repeat("T", 65) + "-18446744073709551615-abcdef": false,
	} {
		terminal, seq, _, err := parseReceiptCode(code)
		if (err == nil) != ok {
			t.Errorf("%q: %s %d %v, want ok=%v", code, terminal, seq, err, ok)
		}
	}
}
