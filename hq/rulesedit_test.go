package hq

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/discount/rulesfile"
)

func TestSetRulesKey(t *testing.T) {
	for _, c := range []struct {
		name, raw, key, value, want string
	}{
		{"replace", "schema = 1\nversion = 1\ncurrency = \"RUB\"\n", "version", "7", "schema = 1\nversion = 7\ncurrency = \"RUB\"\n"},
		{"insert after version", "schema = 1\nversion = 1\n[[rule]]\nid = \"a\"\n", "effective", `"2026-03-01"`, "schema = 1\nversion = 1\neffective = \"2026-03-01\"\n[[rule]]\nid = \"a\"\n"},
		{"crlf", "version = 1\r\ncurrency = \"RUB\"\r\n", "effective", `"2026-03-01"`, "version = 1\r\neffective = \"2026-03-01\"\r\ncurrency = \"RUB\"\r\n"},
		{"version last, no newline", "schema = 1\nversion = 1", "effective", `"2026-03-01"`, "schema = 1\nversion = 1\neffective = \"2026-03-01\"\n"},
		{"no version line", "schema = 1\n", "effective", `"x"`, "effective = \"x\"\nschema = 1\n"},
		{"remove", "version = 1\neffective = \"2026-03-01\"\ncurrency = \"RUB\"\n", "effective", "", "version = 1\ncurrency = \"RUB\"\n"},
		{"remove absent", "version = 1\n", "effective", "", "version = 1\n"},
		{"a rule's key is left alone", "version = 1\n[[rule]]\nversion = 3\n", "version", "2", "version = 2\n[[rule]]\nversion = 3\n"},
		{"indented", "  version = 1 # first\n", "version", "2", "version = 2\n"},
		{"not a prefix match", "versioning = 1\nversion = 1\n", "version", "2", "versioning = 1\nversion = 2\n"},
	} {
		if got := string(SetRulesKey([]byte(c.raw), c.key, c.value)); got != c.want {
			t.Errorf("%s: SetRulesKey(%q, %s, %s) = %q, want %q", c.name, c.raw, c.key, c.value, got, c.want)
		}
	}
}

func TestWithEffective(t *testing.T) {
	out, err := withEffective(discount.Example, "2026-12-24T18:00:00+03:00")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rulesfile.Parse(out)
	if err != nil || rs.Effective.String() != "2026-12-24T18:00:00+03:00" || rs.Version != 1 {
		t.Fatalf("effective set: %v, %v", rs, err)
	}
	back, err := withEffective(out, "")
	if err != nil || !bytes.Equal(back, discount.Example) {
		t.Fatalf("effective removed again: %v\n%s", err, back)
	}
	for _, bad := range []string{`2026-12-24"` + "\nversion = 9", "tomorrow", "2026-13-45"} {
		if _, err := withEffective(discount.Example, bad); err == nil || !strings.Contains(err.Error(), "effective") {
			t.Errorf("withEffective(%q) = %v, want an error naming effective", bad, err)
		}
	}
}

// FuzzSetRulesKey: whatever the file, setting a key leaves exactly one
// top-level line for it with the value, again gives the same file, and
// removing it leaves none.
func FuzzSetRulesKey(f *testing.F) {
	f.Add(discount.Example, "2026-03-01")
	f.Add([]byte("version = 1\r\n[[rule]]\neffective = 2\n"), "x")
	f.Add([]byte("effective = 1\neffective = 2\n"), "")
	f.Add([]byte("[a]\nversion = 1"), "1")
	f.Fuzz(func(t *testing.T, raw []byte, v string) {
		if strings.ContainsAny(v, "\r\n") {
			return
		}
		value := `"` + v + `"`
		out := SetRulesKey(raw, "effective", value)
		if !bytes.Contains(out, []byte("effective = "+value)) {
			t.Fatalf("SetRulesKey(%q) = %q: no effective line", raw, out)
		}
		if again := SetRulesKey(out, "effective", value); !bytes.Equal(again, out) {
			t.Fatalf("set twice: %q, then %q", out, again)
		}
		gone := SetRulesKey(out, "effective", "")
		if len(gone) >= len(out) {
			t.Fatalf("removing from %q gave %q", out, gone)
		}
	})
}
