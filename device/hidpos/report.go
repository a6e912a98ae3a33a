package hidpos

import (
	"errors"
	"fmt"

	"github.com/tilld/tilld/device"
)

// Layout of a HID POS scanned-data input report, as scanners that implement
// the bar code scanner usage page send it: 64 bytes.
const (
	// DefaultReportID is the report ID of scanned-data reports.
	DefaultReportID = 2
	posLengthAt     = 1  // number of data bytes in this report
	posAIMAt        = 2  // "]", code character, modifier (zeros when off)
	posDataAt       = 5  // data bytes start here
	posDataMax      = 56 // at most this many data bytes per report
	posFlagsAt      = 63 // bit 0: more reports of this barcode follow
	posMoreData     = 0x01
	// MaxBarcode bounds one barcode reassembled from several reports: a
	// QR code holds at most about 3 KB.
	MaxBarcode = 4096
)

// ErrBadReport is wrapped by the decoders' errors for a report that breaks
// its format; the error says what is wrong and where.
var ErrBadReport = errors.New("hidpos: malformed report")

// Barcode is one decoded barcode.
type Barcode struct {
	// Symbology is the AIM symbology identifier the scanner sent ("]E0",
	// "]Q1"), empty when it sent none.
	Symbology string
	Data      []byte
}

// POSDecoder reassembles barcodes from HID POS scanned-data reports. The zero
// value expects report ID 2. It is not safe for concurrent use.
type POSDecoder struct {
	// ReportID is the ID of scanned-data reports; 0 means DefaultReportID.
	// Reports with other IDs (status, feature replies) are skipped.
	ReportID byte

	partial []byte
	aim     string
	pending bool
}

// Feed decodes one input report, as read from the device (report ID first),
// and calls done with each barcode it completes. A malformed report is an
// error wrapping ErrBadReport; it also drops any barcode being reassembled,
// since its pieces can no longer be trusted.
func (d *POSDecoder) Feed(report []byte, done func(Barcode)) error {
	id := d.ReportID
	if id == 0 {
		id = DefaultReportID
	}
	if len(report) == 0 {
		return fmt.Errorf("%w: empty report", ErrBadReport)
	}
	if report[0] != id {
		return nil
	}
	if len(report) < posDataAt {
		d.Reset()
		return fmt.Errorf("%w: report of %d bytes, want at least %d (id, length, AIM identifier)", ErrBadReport, len(report), posDataAt)
	}
	n := int(report[posLengthAt])
	room := min(len(report)-posDataAt, posDataMax)
	if n > room {
		d.Reset()
		return fmt.Errorf("%w: byte %d (length) is %d, but the report holds at most %d data bytes", ErrBadReport, posLengthAt, n, room)
	}
	more := len(report) > posFlagsAt && report[posFlagsAt]&posMoreData != 0
	if len(d.partial)+n > MaxBarcode {
		d.Reset()
		return fmt.Errorf("%w: barcode longer than %d bytes", ErrBadReport, MaxBarcode)
	}
	if !d.pending {
		aim, err := parseAIM(report[posAIMAt:posDataAt])
		if err != nil {
			return err
		}
		d.aim = aim
	}
	d.partial = append(d.partial, report[posDataAt:posDataAt+n]...)
	d.pending = more
	if more {
		return nil
	}
	bc := Barcode{Symbology: d.aim, Data: d.partial}
	d.partial, d.aim = nil, ""
	done(bc)
	return nil
}

// Pending reports whether part of a barcode waits for its next report.
func (d *POSDecoder) Pending() bool { return d.pending }

// Reset drops a barcode being reassembled.
func (d *POSDecoder) Reset() {
	d.partial, d.aim, d.pending = nil, "", false
}

// parseAIM reads the 3 AIM bytes of a report: all zero when the scanner sends
// none, else "]" and two identifier characters.
func parseAIM(b []byte) (string, error) {
	if b[0] == 0 {
		return "", nil
	}
	id, rest := device.StripAIM(string(b))
	if id == "" || rest != "" {
		return "", fmt.Errorf("%w: bytes %d-%d (AIM identifier) are % X, want \"]\" and two letters or digits, or zeros", ErrBadReport, posAIMAt, posAIMAt+2, b)
	}
	return id, nil
}
