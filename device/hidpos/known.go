package hidpos

import "fmt"

// Mode is the dialect a scanner speaks over HID.
type Mode string

// Modes.
const (
	// ModePOS: HID POS scanned-data reports (usage page 0x8C).
	ModePOS Mode = "pos"
	// ModeKeyboard: keyboard emulation, boot keyboard reports.
	ModeKeyboard Mode = "keyboard"
)

// KnownScanner is a USB scanner this package recognises without configuration.
type KnownScanner struct {
	VendorID, ProductID uint16
	Mode                Mode
	Name                string
}

// ID is the scanner's "vid:pid", as a reader's device setting takes it.
func (k KnownScanner) ID() string { return fmt.Sprintf("%04x:%04x", k.VendorID, k.ProductID) }

// Known lists scanners by the USB IDs their makers registered for them (as
// the usb.ids database names them). A reader with no device configured reads
// the first of these it finds. Scanners not listed here work too: configure
// their "vid:pid" and mode.
var Known = []KnownScanner{
	{0x1eab, 0x0110, ModePOS, "Newland HR200 (HID POS)"},
	{0x1eab, 0x0103, ModeKeyboard, "Newland HR200 (keyboard)"},
	{0x1eab, 0x0c10, ModePOS, "Newland HR100/HR3260/HR3290/BS80 (HID POS)"},
	{0x1eab, 0x0c03, ModeKeyboard, "Newland HR100/HR3260/HR3290/BS80 (keyboard)"},
	{0x1eab, 0x1310, ModePOS, "Newland EM30xx/EM20xx/HR3260/HR200C (HID POS)"},
	{0x1eab, 0x1303, ModeKeyboard, "Newland EM30xx/EM20xx/HR3260/HR200C (keyboard)"},
	{0x1eab, 0x1a10, ModePOS, "Newland HR3290/HR22 (HID POS)"},
	{0x1eab, 0x1a03, ModeKeyboard, "Newland HR3290/HR22 (keyboard)"},
	{0x1eab, 0x1c10, ModePOS, "Newland HR2150 (HID POS)"},
	{0x1eab, 0x1c03, ModeKeyboard, "Newland HR2150 (keyboard)"},
	{0x1eab, 0x8210, ModePOS, "Newland EM3080/EM3095/FR20/FM30 (HID POS)"},
	{0x1eab, 0x8203, ModeKeyboard, "Newland EM3080/EM3095/FR20/FM30 (keyboard)"},
	{0x0db5, 0x013b, ModePOS, "Access IS barcode module (HID)"},
	{0x0db5, 0x013a, ModeKeyboard, "Access IS barcode module (keyboard)"},
	{0x05f9, 0x2206, ModeKeyboard, "Datalogic Gryphon (keyboard)"},
	{0x0c2e, 0x0204, ModeKeyboard, "Metrologic MS7120 (keyboard)"},
	{0x065a, 0x0001, ModeKeyboard, "Opticon OPR-2001/NLV-1001 (keyboard)"},
}

// knownScanner looks vid:pid up in Known.
func knownScanner(vid, pid uint16) (KnownScanner, bool) {
	for _, k := range Known {
		if k.VendorID == vid && k.ProductID == pid {
			return k, true
		}
	}
	return KnownScanner{}, false
}
