package hidpos

import (
	"fmt"
	"slices"
)

// Boot keyboard report layout (HID 1.11, appendix B.1).
const (
	kbdReportLen = 8
	kbdMods      = 0 // modifier bits
	kbdKeysAt    = 2 // up to six usage IDs of keys held down, byte 1 is reserved
	// MaxKeyboardLine bounds the characters typed before Enter.
	MaxKeyboardLine = 512
)

// Modifier bits.
const (
	modCtrl  = 0x01 | 0x10
	modShift = 0x02 | 0x20
	modAlt   = 0x04 | 0x40
)

// Usage IDs with a meaning beyond a character (HID usage tables, page 0x07).
const (
	keyErrorRollOver = 0x01 // too many keys down: the report says nothing about them
	keyEnter         = 0x28
	keyBackspace     = 0x2A
	keyTab           = 0x2B
	keyPadEnter      = 0x58
)

// usageChars maps keyboard usage IDs to the characters a US layout types,
// unshifted and shifted: the layout barcode scanners assume.
var usageChars = func() map[byte][2]byte {
	m := map[byte][2]byte{}
	for i := range byte(26) {
		m[0x04+i] = [2]byte{'a' + i, 'A' + i}
	}
	shiftedDigits := "!@#$%^&*("
	for i := range byte(9) {
		m[0x1E+i] = [2]byte{'1' + i, shiftedDigits[i]}
	}
	m[0x27] = [2]byte{'0', ')'}
	for usage, pair := range map[byte]string{
		0x2C: "  ", 0x2D: "-_", 0x2E: "=+", 0x2F: "[{", 0x30: "]}", 0x31: `\|`,
		0x32: "#~", 0x33: ";:", 0x34: `'"`, 0x35: "`~", 0x36: ",<", 0x37: ".>", 0x38: "/?",
		// Keypad: the same with or without NumLock, as scanners use it for digits.
		0x54: "//", 0x55: "**", 0x56: "--", 0x57: "++", 0x62: "00", 0x63: "..",
	} {
		m[usage] = [2]byte{pair[0], pair[1]}
	}
	for i := range byte(9) {
		m[0x59+i] = [2]byte{'1' + i, '1' + i}
	}
	return m
}()

// KeyboardDecoder turns boot keyboard reports from a scanner in keyboard
// emulation mode into lines of text, one per barcode: a key counts when it
// appears in a report without having been down in the previous one, Shift
// (either) selects the shifted character, and Enter, keypad Enter or Tab end
// the line. Keys pressed with Ctrl or Alt and keys without a character (F1,
// arrows) are ignored; Backspace deletes the last character. A report with
// the ErrorRollOver code says nothing about which keys are down and is
// skipped. The zero value is ready to use; it is not safe for concurrent use.
type KeyboardDecoder struct {
	// ReportID, when not zero, is the ID that starts each report of a device
	// using numbered reports; it is checked and dropped.
	ReportID byte

	down     []byte // keys down in the previous report
	line     []byte
	overflow bool // the line grew too long: drop the rest of it, up to Enter
}

// Feed decodes one report and calls done with each line it completes. A
// report of the wrong size is an error wrapping ErrBadReport, as is a line
// longer than MaxKeyboardLine (the line is dropped).
func (k *KeyboardDecoder) Feed(report []byte, done func(string)) error {
	if k.ReportID != 0 {
		if len(report) == 0 || report[0] != k.ReportID {
			return nil // another report of the device (LEDs, consumer keys)
		}
		report = report[1:]
	}
	if len(report) != kbdReportLen {
		return fmt.Errorf("%w: keyboard report of %d bytes, want %d (modifiers, reserved, 6 keys)", ErrBadReport, len(report), kbdReportLen)
	}
	keys := report[kbdKeysAt:]
	if slices.Contains(keys, keyErrorRollOver) {
		return nil
	}
	mods := report[kbdMods]
	var err error
	for _, key := range keys {
		if key == 0 || slices.Contains(k.down, key) {
			continue
		}
		switch {
		case key == keyEnter || key == keyPadEnter || key == keyTab:
			if len(k.line) > 0 && !k.overflow {
				done(string(k.line))
			}
			k.line, k.overflow = k.line[:0], false
		case mods&(modCtrl|modAlt) != 0:
		case key == keyBackspace:
			if len(k.line) > 0 {
				k.line = k.line[:len(k.line)-1]
			}
		default:
			chars, ok := usageChars[key]
			if !ok {
				continue
			}
			c := chars[0]
			if mods&modShift != 0 {
				c = chars[1]
			}
			switch {
			case k.overflow:
			case len(k.line) >= MaxKeyboardLine:
				k.line, k.overflow = k.line[:0], true
				err = fmt.Errorf("%w: more than %d characters without Enter", ErrBadReport, MaxKeyboardLine)
			default:
				k.line = append(k.line, c)
			}
		}
	}
	k.down = append(k.down[:0], keys...)
	return err
}

// Pending reports whether characters wait for Enter.
func (k *KeyboardDecoder) Pending() bool { return len(k.line) > 0 || k.overflow }

// Reset drops the characters typed so far and forgets which keys are down.
func (k *KeyboardDecoder) Reset() {
	k.line, k.down, k.overflow = k.line[:0], k.down[:0], false
}
