package pcsc

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tilld/tilld/device"
)

func h(s string) []byte {
	b, err := parseHex("test", s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestParseResponse(t *testing.T) {
	for _, tt := range []struct {
		in   string
		data string
		sw   uint16
		err  bool
	}{
		{"04112233 9000", "04112233", 0x9000, false},
		{"6A82", "", 0x6A82, false},
		{"90", "", 0, true},
		{"", "", 0, true},
	} {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseResponse(h(tt.in))
			if tt.err {
				if !errors.Is(err, ErrShortResponse) {
					t.Fatalf("err = %v, want ErrShortResponse", err)
				}
				return
			}
			if err != nil || !bytes.Equal(r.Data, h(tt.data)) || r.SW != tt.sw {
				t.Fatalf("ParseResponse = %X %04X %v", r.Data, r.SW, err)
			}
		})
	}
}

// card is a scripted card: each command must match the next step.
type card struct {
	t     *testing.T
	steps []struct{ cmd, resp string }
}

func (c *card) transmit(cmd []byte) ([]byte, error) {
	if len(c.steps) == 0 {
		c.t.Fatalf("unexpected command % X", cmd)
	}
	s := c.steps[0]
	c.steps = c.steps[1:]
	if !bytes.Equal(cmd, h(s.cmd)) {
		c.t.Fatalf("command % X, want %s", cmd, s.cmd)
	}
	if s.resp == "ERR" {
		return nil, errors.New("scard: card removed")
	}
	return h(s.resp), nil
}

func script(t *testing.T, steps ...string) *card {
	c := &card{t: t}
	for i := 0; i+1 < len(steps); i += 2 {
		c.steps = append(c.steps, struct{ cmd, resp string }{steps[i], steps[i+1]})
	}
	return c
}

func TestReadCard(t *testing.T) {
	aidPlan := plan{selectAID: selectCommand(h("F054494C4C44")), read: cmdReadBinary, number: "ascii"}
	const sel = "00A4040006F054494C4C4400"
	tests := []struct {
		name string
		plan plan
		card []string
		want string
		err  string
	}{
		{"UID", plan{number: "hex"}, []string{"FFCA000000", "04A1B2C3D4E5F6 9000"}, "04A1B2C3D4E5F6", ""},
		{"UID refused", plan{number: "hex"}, []string{"FFCA000000", "6A81"}, "", "GET DATA (UID): card answered 6A81 (function not supported)"},
		{"UID empty", plan{number: "hex"}, []string{"FFCA000000", "9000"}, "", "card returned no UID"},
		{"UID transmit fails", plan{number: "hex"}, []string{"FFCA000000", "ERR"}, "", "GET DATA (UID): scard: card removed"},
		{"AID", aidPlan, []string{sel, "9000", "00B0000000", "32303030303030303030303038 0000 9000"}, "2000000000008", ""},
		{"AID not on the card", aidPlan, []string{sel, "6A82"}, "", "SELECT: card answered 6A82 (application or file not found: not a card of this program)"},
		{"GET RESPONSE chain", aidPlan, []string{sel, "6110", "00C0000010", "6F0E8406F054494C4C44 6104", "00C0000004", "A5020000 9000",
			"00B0000000", "3235 6102", "00C0000002", "3030 9000"}, "2500", ""},
		{"wrong length retried", aidPlan, []string{sel, "9000", "00B0000000", "6C0D", "00B000000D", "32303030303030303030303038 9000"}, "2000000000008", ""},
		{"number not ascii", aidPlan, []string{sel, "9000", "00B0000000", "3230 01 30 9000"}, "", "READ: pcsc: card data is not a card number: byte 3 is 0x01"},
		{"card asks forever", aidPlan, append([]string{sel}, strings.Split(strings.Repeat("6101,00C0000001,", maxChained), ",")...), "", "card kept asking for more exchanges"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := script(t, tt.card...)
			got, err := tt.plan.readCard(c.transmit)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("readCard = %q, %v; want error %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("readCard = %q, %v; want %q", got, err, tt.want)
			}
			if len(c.steps) > 0 {
				t.Errorf("%d scripted exchanges left over", len(c.steps))
			}
		})
	}
}

func TestDecodeNumber(t *testing.T) {
	tests := []struct {
		enc, data, want, err string
	}{
		{"ascii", "2020 32303030 0000FFFF", "2000", ""},
		{"ascii", "434C55422D31", "CLUB-1", ""},
		{"ascii", "0000FF20", "", "4 bytes of padding and no number"},
		{"ascii", "3220 30", "", "byte 2 is 0x20, want printable ASCII"},
		{"bcd", "20 00 00 00 00 00 8F", "2000000000008", ""},
		{"bcd", "12 34", "1234", ""},
		{"bcd", "1F 23", "", "byte 2: digit after F padding"},
		{"bcd", "1A", "", "byte 1: nibble 2 is A, want a BCD digit"},
		{"bcd", "FF", "", "no digits in 1 bytes"},
		{"hex", "04a1b2", "04A1B2", ""},
		{"hex", "", "", "no data"},
		{"base64", "00", "", `unknown encoding "base64"`},
	}
	for _, tt := range tests {
		t.Run(tt.enc+" "+tt.data, func(t *testing.T) {
			got, err := DecodeNumber(tt.enc, h(tt.data))
			if tt.err != "" {
				if !errors.Is(err, ErrBadNumber) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("DecodeNumber = %q, %v; want ErrBadNumber saying %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("DecodeNumber = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		cfg  Config
		kind device.Kind
		msg  string
	}{
		{Config{}, device.KindUID, ""},
		{Config{Reader: "ACS ACR122U*"}, device.KindUID, ""},
		{Config{AID: "F0 54 49 4C 4C 44"}, device.KindBarcode, ""},
		{Config{AID: "F054494C4C44", Number: "bcd", ReadAPDU: "80 CA 9F 7F 00"}, device.KindBarcode, ""},
		{Config{AID: "F0:54:49:4C:4C:44", Number: "hex"}, device.KindUID, ""},
		{Config{Reader: "A*B*"}, "", `"*" may only end a name prefix`},
		{Config{Number: "bcd"}, "", "read_apdu and number need an aid"},
		{Config{AID: "F05"}, "", `aid "F05": not hex bytes`},
		{Config{AID: "F054"}, "", "2 bytes, want 5 to 16"},
		{Config{AID: "F054494C4C44", ReadAPDU: "00B0"}, "", "read_apdu \"00B0\": 2 bytes, want at least 4"},
		{Config{AID: "F054494C4C44", Number: "utf16"}, "", `number "utf16": want ascii, bcd or hex`},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v", tt.cfg), func(t *testing.T) {
			r, err := New("x", tt.cfg)
			if tt.msg == "" {
				if err != nil || r.kind != tt.kind {
					t.Fatalf("New = %v, kind %v; want kind %v", err, r.kind, tt.kind)
				}
				return
			}
			if !errors.Is(err, device.ErrBadConfig) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("New = %v, want ErrBadConfig saying %q", err, tt.msg)
			}
		})
	}
}

func TestSelects(t *testing.T) {
	for _, tt := range []struct {
		cfg, reader string
		want        bool
	}{
		{"", "anything", true},
		{"ACS ACR122U PICC Interface 00 00", "ACS ACR122U PICC Interface 00 00", true},
		{"ACS ACR122U PICC Interface 00 00", "ACS ACR122U PICC Interface 01 00", false},
		{"ACS ACR122U*", "ACS ACR122U PICC Interface 01 00", true},
		{"ACS ACR122U*", "Identiv uTrust 3700 F", false},
	} {
		r, err := New("x", Config{Reader: tt.cfg})
		if err != nil {
			t.Fatal(err)
		}
		if got := r.selects(tt.reader); got != tt.want {
			t.Errorf("reader %q selects %q = %v, want %v", tt.cfg, tt.reader, got, tt.want)
		}
	}
}

// FuzzReadCard: whatever a card answers, reading it never panics, never
// loops, and a number it accepts is what the encoding allows.
func FuzzReadCard(f *testing.F) {
	f.Add(h("9000"), h("32303030 9000"), "ascii")
	f.Add(h("6110"), h("0102 9000"), "bcd")
	f.Add(h("6C05"), h("9000"), "hex")
	f.Add([]byte{0x90}, []byte{}, "ascii")
	f.Fuzz(func(t *testing.T, first, rest []byte, enc string) {
		p := plan{selectAID: selectCommand(h("F054494C4C44")), read: cmdReadBinary, number: enc}
		calls := 0
		transmit := func(cmd []byte) ([]byte, error) {
			calls++
			if calls > 2*maxChained+2 {
				t.Fatalf("%d exchanges", calls)
			}
			if calls == 1 {
				return first, nil
			}
			return rest, nil
		}
		number, err := p.readCard(transmit)
		if err == nil && number == "" {
			t.Fatal("empty number without an error")
		}
		if err == nil && enc == "hex" {
			if _, err := hex.DecodeString(number); err != nil {
				t.Fatalf("hex number %q: %v", number, err)
			}
		}
	})
}

// FuzzDecodeNumber: no input panics; ASCII and BCD numbers are printable.
func FuzzDecodeNumber(f *testing.F) {
	f.Add("ascii", h("2020 32303030 0000FFFF"))
	f.Add("bcd", h("20 00 00 00 00 00 8F"))
	f.Add("hex", h("04a1b2"))
	f.Fuzz(func(t *testing.T, enc string, data []byte) {
		n, err := DecodeNumber(enc, data)
		if err != nil {
			return
		}
		for i := range len(n) {
			if n[i] <= ' ' || n[i] > '~' {
				t.Fatalf("DecodeNumber(%q, % X) = %q: byte %d not printable", enc, data, n, i)
			}
		}
	})
}
