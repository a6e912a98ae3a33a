package hidpos

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/device/hidpos/hidtest"
)

func fixture(t testing.TB, name string) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	reports, err := hidtest.ReadFixture(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return reports
}

func TestPOSDecoderFixtures(t *testing.T) {
	tests := []struct {
		fixture string
		want    []Barcode
	}{
		{"pos_ean13.hex", []Barcode{{"]E0", []byte("2000000000008")}}},
		{"pos_qr_two_reports.hex", []Barcode{{"]Q1", []byte("https://club.example/c/2000000000008?src=app&campaign=spring-loyalty")}}},
		{"pos_status_then_code128.hex", []Barcode{{"]C0", []byte("CLUB-000123456")}, {"", []byte("96385074")}}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			var d POSDecoder
			var got []Barcode
			for i, r := range fixture(t, tt.fixture) {
				if err := d.Feed(r, func(b Barcode) { got = append(got, b) }); err != nil {
					t.Fatalf("report %d: %v", i+1, err)
				}
			}
			if !slices.EqualFunc(got, tt.want, func(a, b Barcode) bool { return a.Symbology == b.Symbology && bytes.Equal(a.Data, b.Data) }) {
				t.Errorf("barcodes = %q, want %q", got, tt.want)
			}
			if d.Pending() {
				t.Error("decoder still pending after the last report")
			}
		})
	}
}

func TestPOSDecoderErrors(t *testing.T) {
	report := func(edit func(r []byte) []byte) []byte {
		return edit(hidtest.POSReports(2, "]E0", []byte("2000000000008"))[0])
	}
	tests := []struct {
		name   string
		report []byte
		msg    string
	}{
		{"empty", []byte{}, "empty report"},
		{"too short", []byte{2, 1, ']'}, "report of 3 bytes, want at least 5"},
		{"length past the end", report(func(r []byte) []byte { return r[:12] }), "byte 1 (length) is 13, but the report holds at most 7 data bytes"},
		{"length over 56", report(func(r []byte) []byte { r[1] = 57; return r }), "byte 1 (length) is 57, but the report holds at most 56"},
		{"bad AIM", report(func(r []byte) []byte { r[3] = '!'; return r }), `bytes 2-4 (AIM identifier) are 5D 21 30`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d POSDecoder
			err := d.Feed(tt.report, func(b Barcode) { t.Errorf("unexpected barcode %q", b.Data) })
			if !errors.Is(err, ErrBadReport) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Feed = %v, want ErrBadReport saying %q", err, tt.msg)
			}
		})
	}

	t.Run("bad report drops the barcode being reassembled", func(t *testing.T) {
		var d POSDecoder
		parts := hidtest.POSReports(2, "]Q1", bytes.Repeat([]byte("x"), 80))
		var got []string
		done := func(b Barcode) { got = append(got, string(b.Data)) }
		if err := d.Feed(parts[0], done); err != nil || !d.Pending() {
			t.Fatalf("first part: err %v, pending %v", err, d.Pending())
		}
		if err := d.Feed([]byte{2, 60}, done); err == nil {
			t.Fatal("short report accepted")
		}
		if d.Pending() {
			t.Fatal("still pending after a bad report")
		}
		d.Feed(hidtest.POSReports(2, "]E0", []byte("2000000000008"))[0], done)
		if !slices.Equal(got, []string{"2000000000008"}) {
			t.Errorf("got %q, want only the next barcode, whole", got)
		}
	})

	t.Run("barcode too long", func(t *testing.T) {
		var d POSDecoder
		var err error
		for _, r := range hidtest.POSReports(2, "]Q1", bytes.Repeat([]byte("x"), MaxBarcode+1)) {
			if err = d.Feed(r, func(b Barcode) { t.Errorf("barcode of %d bytes accepted", len(b.Data)) }); err != nil {
				break
			}
		}
		if !errors.Is(err, ErrBadReport) || !strings.Contains(err.Error(), "longer than 4096") {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("custom report id", func(t *testing.T) {
		d := POSDecoder{ReportID: 7}
		var got []string
		for _, id := range []byte{2, 7} {
			d.Feed(hidtest.POSReports(id, "]E0", []byte{'0' + id})[0], func(b Barcode) { got = append(got, string(b.Data)) })
		}
		if !slices.Equal(got, []string{"7"}) {
			t.Errorf("got %q, want only the report with id 7", got)
		}
	})
}

func TestKeyboardDecoderCapture(t *testing.T) {
	var k KeyboardDecoder
	var got []string
	for i, r := range fixture(t, "keyboard_card_shift_rollover.hex") {
		if err := k.Feed(r, func(s string) { got = append(got, s) }); err != nil {
			t.Fatalf("report %d: %v", i+1, err)
		}
	}
	if !slices.Equal(got, []string{"CARD:2000000000008"}) {
		t.Fatalf("lines = %q, want [\"CARD:2000000000008\"]", got)
	}
	// What the till makes of it, with the chain's card pattern configured.
	card, err := device.Identify(device.Scan{Kind: device.KindBarcode, Data: got[0]},
		device.IdentifyOptions{CardPatterns: []string{`^CARD:(\d{13})$`}})
	if err != nil || card.Number != "2000000000008" || card.Kind != device.CardEAN13 || card.Product {
		t.Errorf("Identify = %+v, %v; want club card EAN-13 2000000000008", card, err)
	}
}

func TestKeyboardDecoder(t *testing.T) {
	K := func(mods byte, keys ...byte) []byte {
		r := []byte{mods, 0, 0, 0, 0, 0, 0, 0}
		copy(r[2:], keys)
		return r
	}
	up := K(0)
	tests := []struct {
		name    string
		id      byte
		reports [][]byte
		want    []string
	}{
		{"every printable character", 0, nil, []string{"The quick brown fox: 1234567890 !@#$%^&*() -_=+[{]}\\|;:'\",<.>/?`~"}},
		{"keypad digits and enter", 0, [][]byte{K(0, 0x59), up, K(0, 0x62), up, K(0, 0x61), up, K(0, 0x58), up}, []string{"109"}},
		{"tab ends a line too", 0, [][]byte{K(0, 0x1E), up, K(0, 0x2B), up}, []string{"1"}},
		{"enter on an empty line is nothing", 0, [][]byte{K(0, 0x28), up, K(0, 0x28), up}, nil},
		{"ctrl and alt combinations are ignored", 0, [][]byte{K(0x01, 0x1E), up, K(0x40, 0x1F), up, K(0, 0x20), up, K(0, 0x28), up}, []string{"3"}},
		{"backspace deletes", 0, [][]byte{K(0, 0x1E), up, K(0, 0x1F), up, K(0, 0x2A), up, K(0, 0x20), up, K(0, 0x28), up}, []string{"13"}},
		{"keys without characters are ignored", 0, [][]byte{K(0, 0x3A), up, K(0, 0x1E), K(0, 0x1E, 0x4F), up, K(0, 0x28)}, []string{"1"}},
		{"held key is typed once", 0, [][]byte{K(0, 0x1E), K(0, 0x1E), K(0, 0x1E), up, K(0, 0x28)}, []string{"1"}},
		{"two new keys in one report, in slot order", 0, [][]byte{K(0, 0x1F, 0x1E), up, K(0, 0x28)}, []string{"21"}},
		{"numbered reports", 5, [][]byte{append([]byte{5}, K(0, 0x1E)...), {4, 1, 2}, append([]byte{5}, K(0, 0x28)...)}, []string{"1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reports := tt.reports
			if reports == nil {
				var err error
				if reports, err = hidtest.KeyboardReports(tt.want[0]); err != nil {
					t.Fatal(err)
				}
			}
			k := KeyboardDecoder{ReportID: tt.id}
			var got []string
			for i, r := range reports {
				if err := k.Feed(r, func(s string) { got = append(got, s) }); err != nil {
					t.Fatalf("report %d: %v", i+1, err)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("lines = %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("wrong size", func(t *testing.T) {
		var k KeyboardDecoder
		err := k.Feed([]byte{0, 0, 0x1E}, func(string) {})
		if !errors.Is(err, ErrBadReport) || !strings.Contains(err.Error(), "keyboard report of 3 bytes, want 8") {
			t.Errorf("err = %v", err)
		}
	})

	t.Run("line too long is dropped up to enter", func(t *testing.T) {
		var k KeyboardDecoder
		var got []string
		var errs int
		long, _ := hidtest.KeyboardReports(strings.Repeat("7", MaxKeyboardLine+10))
		short, _ := hidtest.KeyboardReports("42")
		for _, r := range append(long, short...) {
			if err := k.Feed(r, func(s string) { got = append(got, s) }); err != nil {
				errs++
			}
		}
		if errs != 1 || !slices.Equal(got, []string{"42"}) {
			t.Errorf("errors %d, lines %q; want 1 error and only \"42\"", errs, got)
		}
	})
}

// FuzzPOSDecoder: any sequence of reports, cut at random, never panics, and
// every barcode it yields fits the limits.
func FuzzPOSDecoder(f *testing.F) {
	for _, name := range []string{"pos_ean13.hex", "pos_qr_two_reports.hex", "pos_status_then_code128.hex"} {
		f.Add(bytes.Join(fixture(f, name), nil), byte(64))
	}
	f.Add([]byte{2, 200, ']', 'E', '0'}, byte(5))
	f.Add([]byte{}, byte(1))
	f.Fuzz(func(t *testing.T, stream []byte, size byte) {
		var d POSDecoder
		n := max(int(size), 1)
		for len(stream) > 0 {
			r := stream[:min(n, len(stream))]
			stream = stream[len(r):]
			d.Feed(r, func(b Barcode) {
				if len(b.Data) > MaxBarcode {
					t.Fatalf("barcode of %d bytes", len(b.Data))
				}
				if b.Symbology != "" && len(b.Symbology) != 3 {
					t.Fatalf("symbology %q", b.Symbology)
				}
			})
		}
	})
}

// FuzzKeyboardDecoder: any reports never panic and lines stay within the limit
// and printable.
func FuzzKeyboardDecoder(f *testing.F) {
	f.Add(bytes.Join(fixture(f, "keyboard_card_shift_rollover.hex"), nil), byte(0))
	f.Add([]byte{5, 0, 0, 0x1E, 0, 0, 0, 0, 0, 5, 0, 0, 0x28, 0, 0, 0, 0, 0}, byte(5))
	f.Fuzz(func(t *testing.T, stream []byte, id byte) {
		k := KeyboardDecoder{ReportID: id}
		n := 8
		if id != 0 {
			n = 9
		}
		for len(stream) > 0 {
			r := stream[:min(n, len(stream))]
			stream = stream[len(r):]
			k.Feed(r, func(s string) {
				if s == "" || len(s) > MaxKeyboardLine {
					t.Fatalf("line of %d bytes", len(s))
				}
				for i := range len(s) {
					if s[i] < ' ' || s[i] > '~' {
						t.Fatalf("line %q has byte %#x", s, s[i])
					}
				}
			})
		}
	})
}
