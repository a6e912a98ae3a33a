package pcsc

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Commands this package sends.
var (
	// cmdGetUID is PC/SC part 3's GET DATA for the card's UID, answered by the
	// reader itself for any contactless card.
	cmdGetUID = []byte{0xFF, 0xCA, 0x00, 0x00, 0x00}
	// cmdReadBinary reads the selected application's data: READ BINARY from
	// offset 0, as many bytes as there are (Le = 0 means up to 256).
	cmdReadBinary = []byte{0x00, 0xB0, 0x00, 0x00, 0x00}
)

// Limits on what a card may answer.
const (
	// maxResponse bounds a response assembled from GET RESPONSE chunks.
	maxResponse = 4096
	// maxChained bounds the GET RESPONSE and wrong-length retries of one command.
	maxChained = 16
)

var (
	// ErrShortResponse is wrapped when a card's response lacks a status word.
	ErrShortResponse = errors.New("pcsc: response shorter than a status word")
	// ErrBadNumber is wrapped when the data a card returns is not a card number
	// in the configured encoding.
	ErrBadNumber = errors.New("pcsc: card data is not a card number")
)

// Response is a response APDU: data and a status word.
type Response struct {
	Data []byte
	SW   uint16 // SW1 in the high byte, SW2 in the low
}

// ParseResponse splits a response APDU into data and status word.
func ParseResponse(b []byte) (Response, error) {
	if len(b) < 2 {
		return Response{}, fmt.Errorf("%w: %d bytes", ErrShortResponse, len(b))
	}
	n := len(b) - 2
	return Response{Data: b[:n], SW: uint16(b[n])<<8 | uint16(b[n+1])}, nil
}

// StatusError is a status word other than 90 00 in answer to a command.
type StatusError struct {
	Command string // what was asked: "GET DATA (UID)", "SELECT", "READ"
	SW      uint16
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: card answered %04X (%s)", e.Command, e.SW, swMeaning(e.SW))
}

// swMeaning explains the status words a loyalty reader meets (ISO/IEC 7816-4, PC/SC part 3).
func swMeaning(sw uint16) string {
	switch {
	case sw == 0x9000:
		return "success"
	case sw == 0x6A82:
		return "application or file not found: not a card of this program"
	case sw == 0x6A81:
		return "function not supported"
	case sw == 0x6D00:
		return "instruction not supported"
	case sw == 0x6E00:
		return "class not supported"
	case sw == 0x6986:
		return "command not allowed: no application selected"
	case sw == 0x6982:
		return "security status not satisfied"
	case sw == 0x6700:
		return "wrong length"
	case sw>>8 == 0x63 || sw>>8 == 0x62:
		return "warning"
	case sw>>8 == 0x64 || sw>>8 == 0x65:
		return "execution error"
	}
	return "error"
}

// transmitFunc sends a command APDU and returns the response APDU.
type transmitFunc func(cmd []byte) ([]byte, error)

// exchange sends cmd and returns the response data, following the transport
// rules of ISO/IEC 7816-4: 61 xx asks for GET RESPONSE of xx more bytes, 6C xx
// for the same command again with Le = xx. Any final status but 90 00 is a
// *StatusError.
func exchange(transmit transmitFunc, name string, cmd []byte) ([]byte, error) {
	var data []byte
	for range maxChained {
		raw, err := transmit(cmd)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		resp, err := ParseResponse(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		data = append(data, resp.Data...)
		if len(data) > maxResponse {
			return nil, fmt.Errorf("%s: response longer than %d bytes", name, maxResponse)
		}
		switch sw1, sw2 := byte(resp.SW>>8), byte(resp.SW); {
		case resp.SW == 0x9000:
			return data, nil
		case sw1 == 0x61:
			cmd = []byte{0x00, 0xC0, 0x00, 0x00, sw2} // GET RESPONSE
		case sw1 == 0x6C && len(cmd) >= 5:
			data = data[:0]
			cmd = append(cmd[:len(cmd)-1:len(cmd)-1], sw2) // resend with the right Le
		default:
			return nil, &StatusError{Command: name, SW: resp.SW}
		}
	}
	return nil, fmt.Errorf("%s: card kept asking for more exchanges (over %d)", name, maxChained)
}

// plan is what a reader does with each card: the commands it sends and how
// it turns the answer into scan data.
type plan struct {
	selectAID []byte // SELECT command; nil reads the UID
	read      []byte // command that returns the card number after SELECT
	number    string // encoding of the number: "ascii", "bcd" or "hex"
}

// readCard reads the card number (or the UID) with transmit.
func (p plan) readCard(transmit transmitFunc) (string, error) {
	if p.selectAID == nil {
		uid, err := exchange(transmit, "GET DATA (UID)", cmdGetUID)
		if err != nil {
			return "", err
		}
		if len(uid) == 0 {
			return "", fmt.Errorf("GET DATA (UID): %w: card returned no UID", ErrBadNumber)
		}
		return strings.ToUpper(hex.EncodeToString(uid)), nil
	}
	if _, err := exchange(transmit, "SELECT", p.selectAID); err != nil {
		return "", err
	}
	data, err := exchange(transmit, "READ", p.read)
	if err != nil {
		return "", err
	}
	number, err := DecodeNumber(p.number, data)
	if err != nil {
		return "", fmt.Errorf("READ: %w", err)
	}
	return number, nil
}

// selectCommand builds SELECT by name (DF name = AID) with Le = 0.
func selectCommand(aid []byte) []byte {
	cmd := []byte{0x00, 0xA4, 0x04, 0x00, byte(len(aid))}
	cmd = append(cmd, aid...)
	return append(cmd, 0x00)
}

// DecodeNumber turns the data an application returned into a card number.
// Encodings:
//
//   - "ascii": the number as text, padded at either end with spaces, NUL or
//     FF bytes, which are dropped; what is left must be printable ASCII.
//   - "bcd": packed BCD digits, two per byte, padded at the end with F nibbles.
//   - "hex": the bytes themselves, as upper-case hex.
//
// Errors wrap [ErrBadNumber] and say which byte is wrong.
func DecodeNumber(encoding string, data []byte) (string, error) {
	bad := func(format string, args ...any) (string, error) {
		return "", fmt.Errorf("%w: %s", ErrBadNumber, fmt.Sprintf(format, args...))
	}
	switch encoding {
	case "ascii":
		start, end := 0, len(data)
		pad := func(c byte) bool { return c == 0x00 || c == 0xFF || c == ' ' }
		for start < end && pad(data[start]) {
			start++
		}
		for end > start && pad(data[end-1]) {
			end--
		}
		if start == end {
			return bad("%d bytes of padding and no number", len(data))
		}
		for i := start; i < end; i++ {
			if c := data[i]; c <= ' ' || c > '~' {
				return bad("byte %d is 0x%02X, want printable ASCII", i+1, c)
			}
		}
		return string(data[start:end]), nil
	case "bcd":
		var b strings.Builder
		padding := false
		for i, c := range data {
			for j, nib := range [2]byte{c >> 4, c & 0x0F} {
				switch {
				case nib == 0x0F:
					padding = true
				case padding:
					return bad("byte %d: digit after F padding", i+1)
				case nib > 9:
					return bad("byte %d: nibble %d is %X, want a BCD digit", i+1, j+1, nib)
				default:
					b.WriteByte('0' + nib)
				}
			}
		}
		if b.Len() == 0 {
			return bad("no digits in %d bytes", len(data))
		}
		return b.String(), nil
	case "hex":
		if len(data) == 0 {
			return bad("no data")
		}
		return strings.ToUpper(hex.EncodeToString(data)), nil
	}
	return bad("unknown encoding %q", encoding)
}

// parseHex reads hex bytes written with optional spaces or colons: "A0 00 00 06 47".
func parseHex(field, s string) ([]byte, error) {
	clean := strings.Map(func(r rune) rune {
		if r == ' ' || r == ':' {
			return -1
		}
		return r
	}, s)
	b, err := hex.DecodeString(clean)
	if err != nil {
		return nil, fmt.Errorf("%s %q: not hex bytes: %w", field, s, err)
	}
	return b, nil
}
