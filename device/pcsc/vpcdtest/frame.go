// Package vpcdtest runs the PC/SC stack without hardware, for tests and
// benchmarks: a private pcscd whose vsmartcard-vpcd driver makes virtual
// readers listen on TCP ports, and virtual cards that connect to those ports
// and answer APDUs, as vpcd's protocol wants. Code under test then talks to
// the real PC/SC client library and daemon, exactly as it would to a reader on
// a USB port.
//
// The protocol: each message is a frame, a 2-byte big-endian length and that
// many bytes. vpcd (the reader side) sends a 1-byte frame for control — power
// off, power on, reset, or "send your ATR" — and any longer frame is a command
// APDU; the card answers the ATR request and every APDU with one frame. A card
// is present while its TCP connection is open.
//
// Importing this package points the process's PC/SC client library at the
// private daemon's socket (see [SocketPath]): import it from tests only.
package vpcdtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Control messages vpcd sends as 1-byte frames.
const (
	CtrlPowerOff byte = 0
	CtrlPowerOn  byte = 1
	CtrlReset    byte = 2
	CtrlGetATR   byte = 4
)

// MaxFrame is the longest payload a frame can carry (its length is 16 bits).
const MaxFrame = 0xFFFF

var (
	// ErrEmptyFrame is returned by ReadFrame for a frame of length 0, which vpcd never sends.
	ErrEmptyFrame = errors.New("vpcd: empty frame")
	// ErrFrameTooLong is returned by ReadFrame when a frame does not fit the
	// buffer, and by WriteFrame for a payload longer than MaxFrame.
	ErrFrameTooLong = errors.New("vpcd: frame too long")
)

// ReadFrame reads one frame from r into buf and returns its payload, a slice
// of buf. A stream that ends cleanly between frames gives io.EOF; one that ends
// inside a frame gives io.ErrUnexpectedEOF.
func ReadFrame(r io.Reader, buf []byte) ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("read vpcd frame length: %w", err)
		}
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr[:]))
	if n == 0 {
		return nil, ErrEmptyFrame
	}
	if n > len(buf) {
		return nil, fmt.Errorf("read vpcd frame: %w: %d bytes, buffer holds %d", ErrFrameTooLong, n, len(buf))
	}
	if _, err := io.ReadFull(r, buf[:n]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read vpcd frame of %d bytes: %w", n, err)
	}
	return buf[:n], nil
}

// AppendFrame appends payload, framed, to dst.
func AppendFrame(dst, payload []byte) ([]byte, error) {
	if len(payload) > MaxFrame {
		return dst, fmt.Errorf("write vpcd frame: %w: %d bytes", ErrFrameTooLong, len(payload))
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(payload)))
	return append(dst, payload...), nil
}

// WriteFrame writes payload as one frame, in one write.
func WriteFrame(w io.Writer, payload []byte) error {
	b, err := AppendFrame(make([]byte, 0, 2+len(payload)), payload)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
