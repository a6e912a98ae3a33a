// Package hidtest makes the reports HID barcode scanners send, for tests and
// for device simulators (the QEMU test's USB gadget): HID POS scanned-data
// reports and boot keyboard reports. It also reads report fixtures, text
// files of one report per line in hex.
package hidtest

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
)

// POSReportLen is the size of a HID POS scanned-data report, report ID included.
const POSReportLen = 64

// POSReports splits a barcode into 64-byte HID POS scanned-data reports:
// report ID, length, the 3-byte AIM identifier (zeros when aim is ""), up to
// 56 data bytes, and in the last byte bit 0 set on every report but the last.
func POSReports(reportID byte, aim string, data []byte) [][]byte {
	var out [][]byte
	for first := true; first || len(data) > 0; first = false {
		n := min(len(data), 56)
		r := make([]byte, POSReportLen)
		r[0], r[1] = reportID, byte(n)
		copy(r[2:5], aim)
		copy(r[5:], data[:n])
		data = data[n:]
		if len(data) > 0 {
			r[63] = 0x01
		}
		out = append(out, r)
	}
	return out
}

// Keyboard usage IDs and modifier bits used below.
const (
	LeftShift  = 0x02
	RightShift = 0x20
	KeyEnter   = 0x28
)

// KeyboardReports types text followed by Enter as a US-layout boot keyboard
// does: for each character a report with its key (and Left Shift when needed)
// and a report with no keys. It fails on characters a US keyboard cannot type.
func KeyboardReports(text string) ([][]byte, error) {
	var out [][]byte
	for i, c := range []byte(text + "\n") {
		usage, shift, ok := keyFor(c)
		if !ok {
			return nil, fmt.Errorf("character %d (%q) has no key on a US keyboard", i+1, c)
		}
		var mods byte
		if shift {
			mods = LeftShift
		}
		out = append(out, []byte{mods, 0, usage, 0, 0, 0, 0, 0}, make([]byte, 8))
	}
	return out, nil
}

// keyFor finds the key that types c on a US layout.
func keyFor(c byte) (usage byte, shift, ok bool) {
	switch {
	case c >= 'a' && c <= 'z':
		return 0x04 + c - 'a', false, true
	case c >= 'A' && c <= 'Z':
		return 0x04 + c - 'A', true, true
	case c >= '1' && c <= '9':
		return 0x1E + c - '1', false, true
	case c == '0':
		return 0x27, false, true
	case c == '\n':
		return KeyEnter, false, true
	}
	const plain, shifted = " -=[]\\;'`,./", " _+{}|:\"~<>?"
	usages := []byte{0x2C, 0x2D, 0x2E, 0x2F, 0x30, 0x31, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38}
	if i := strings.IndexByte(plain, c); i >= 0 {
		return usages[i], false, true
	}
	if i := strings.IndexByte(shifted, c); i >= 0 {
		return usages[i], true, true
	}
	if i := strings.IndexByte("!@#$%^&*()", c); i >= 0 {
		return 0x1E + byte(i), true, true
	}
	return 0, false, false
}

// ReadFixture reads reports from a fixture: one report per line as hex bytes
// (spaces allowed between them), blank lines and "#" comments ignored.
func ReadFixture(r io.Reader) ([][]byte, error) {
	var out [][]byte
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.ReplaceAll(strings.TrimSpace(line), " ", "")
		if line == "" {
			continue
		}
		b, err := hex.DecodeString(line)
		if err != nil {
			return nil, fmt.Errorf("fixture line %d: %w", n, err)
		}
		out = append(out, b)
	}
	return out, sc.Err()
}
