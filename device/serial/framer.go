package serial

import (
	"fmt"
	"strings"
)

// Framing control characters.
const (
	stx = 0x02
	etx = 0x03
	cr  = '\r'
	lf  = '\n'
)

// suffix is how a frame ends.
type suffix int

const (
	suffixEOL  suffix = iota // CR or LF; a CRLF pair ends one frame, the empty one after it is ignored
	suffixCR                 // CR only
	suffixLF                 // LF only
	suffixCRLF               // the pair CR LF; a lone CR is data
	suffixETX                // ETX
)

// FramerOptions say how frames are delimited. The zero value means: no prefix,
// any CR or LF ends a frame, frames of up to DefaultMaxFrame bytes.
type FramerOptions struct {
	// Prefix is "" (frames start right after the previous one) or "STX".
	Prefix string
	// Suffix is "" (CR or LF), "CR", "LF", "CRLF" or "ETX"; case does not matter.
	Suffix string
	// MaxFrame is the longest frame kept, in bytes; a longer one is dropped.
	// Zero means DefaultMaxFrame. At most MaxMaxFrame.
	MaxFrame int
}

// Frame length limits.
const (
	DefaultMaxFrame = 256
	MaxMaxFrame     = 64 << 10
)

// Framer cuts the byte stream of a scanner into frames. It is pure: bytes in,
// frames out, no I/O and no clock.
//
// Empty frames are never emitted. With a prefix, bytes outside prefix…suffix are
// noise and discarded, and a prefix inside a frame starts the frame over. A frame
// that outgrows MaxFrame is dropped, counted in Dropped, and everything up to the
// next suffix (or prefix) is discarded with it, so one garbled frame never spoils
// the next.
//
// A Framer is not safe for concurrent use.
type Framer struct {
	prefix    bool // frames start with STX
	suffix    suffix
	max       int
	buf       []byte
	inFrame   bool // with a prefix: the prefix was seen and the suffix not yet
	dropping  bool // the frame outgrew max: discard up to its end
	pendingCR bool // CRLF: a CR that ends the frame if LF follows, else is data
	dropped   int
}

// NewFramer returns a Framer, or an error naming the option that is wrong.
func NewFramer(o FramerOptions) (*Framer, error) {
	f := &Framer{max: o.MaxFrame}
	switch strings.ToUpper(o.Prefix) {
	case "":
	case "STX":
		f.prefix = true
	default:
		return nil, fmt.Errorf("prefix %q: want \"STX\" or none", o.Prefix)
	}
	switch strings.ToUpper(o.Suffix) {
	case "":
		f.suffix = suffixEOL
	case "CR":
		f.suffix = suffixCR
	case "LF":
		f.suffix = suffixLF
	case "CRLF":
		f.suffix = suffixCRLF
	case "ETX":
		f.suffix = suffixETX
	default:
		return nil, fmt.Errorf("suffix %q: want CR, LF, CRLF, ETX or none (CR or LF)", o.Suffix)
	}
	switch {
	case f.max == 0:
		f.max = DefaultMaxFrame
	case f.max < 0 || f.max > MaxMaxFrame:
		return nil, fmt.Errorf("max_frame %d: want 1 to %d", f.max, MaxMaxFrame)
	}
	f.buf = make([]byte, 0, min(f.max, DefaultMaxFrame))
	return f, nil
}

// Feed consumes p and calls emit for every frame it completes, in order.
func (f *Framer) Feed(p []byte, emit func(frame string)) {
	for _, c := range p {
		f.feed(c, emit)
	}
}

func (f *Framer) feed(c byte, emit func(string)) {
	if f.prefix {
		if c == stx {
			// A new frame, whatever was going on: this is how the framer resyncs.
			f.Reset()
			f.inFrame = true
			return
		}
		if !f.inFrame {
			return
		}
	}
	switch f.suffix {
	case suffixEOL:
		if c == cr || c == lf {
			f.end(emit)
			return
		}
	case suffixCR:
		if c == cr {
			f.end(emit)
			return
		}
	case suffixLF:
		if c == lf {
			f.end(emit)
			return
		}
	case suffixETX:
		if c == etx {
			f.end(emit)
			return
		}
	case suffixCRLF:
		if f.pendingCR {
			f.pendingCR = false
			if c == lf {
				f.end(emit)
				return
			}
			f.add(cr)
		}
		if c == cr {
			f.pendingCR = true
			return
		}
	}
	f.add(c)
}

func (f *Framer) add(c byte) {
	if f.dropping {
		return
	}
	if len(f.buf) == f.max {
		f.dropping = true
		f.dropped++
		f.buf = f.buf[:0]
		return
	}
	f.buf = append(f.buf, c)
}

func (f *Framer) end(emit func(string)) {
	if !f.dropping && len(f.buf) > 0 {
		emit(string(f.buf))
	}
	f.Reset()
}

// Reset discards a partly received frame. The serial reader calls it when the
// line stays quiet in the middle of a frame: a scanner sends a frame in one
// burst, so a stalled one is noise.
func (f *Framer) Reset() {
	f.buf = f.buf[:0]
	f.inFrame = false
	f.dropping = false
	f.pendingCR = false
}

// Pending reports whether the Framer holds part of a frame: a prefix, bytes,
// or the discarded start of an overlong frame.
func (f *Framer) Pending() bool {
	return f.inFrame || f.dropping || f.pendingCR || len(f.buf) > 0
}

// Dropped is how many frames were dropped for being longer than MaxFrame.
func (f *Framer) Dropped() int { return f.dropped }
