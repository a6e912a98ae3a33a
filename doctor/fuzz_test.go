package doctor

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// FuzzParseCert feeds the certificate check's parser arbitrary files: it must
// return a certificate or an error, never panic.
func FuzzParseCert(f *testing.F) {
	dir := f.TempDir()
	now := time.Date(2025, 11, 20, 12, 0, 0, 0, time.UTC)
	valid, err := os.ReadFile(writeCert(f, dir, "S1-T1", now, now.AddDate(1, 0, 0)))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][]byte{
		valid,
		valid[:len(valid)/2],
		[]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
		[]byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"),
		[]byte("not a certificate"),
		nil,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseCert(data)
		if (c == nil) == (err == nil) {
			t.Fatalf("parseCert = %v, %v: want exactly one", c, err)
		}
	})
}

// FuzzParseUSBID checks the HID check's parser of "vid:pid" settings: it never
// panics, and what it accepts prints back to the same ids.
func FuzzParseUSBID(f *testing.F) {
	for _, seed := range []string{"1eab:1310", "0c2e:0b61", "1:2", "ffff:ffff", "10000:1", "1eab", ":", "1eab:1310:0", "-1:2", "0x1e:2"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		vid, pid, err := parseUSBID(s)
		if err != nil {
			return
		}
		again, again2, err := parseUSBID(fmt.Sprintf("%04x:%04x", vid, pid))
		if err != nil || again != vid || again2 != pid {
			t.Fatalf("parseUSBID(%q) = %04x:%04x, which does not parse back: %04x:%04x, %v", s, vid, pid, again, again2, err)
		}
	})
}
