package vpcdtest

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// MifareClassic1KATR is the ATR a contactless PC/SC reader makes up for a
// MIFARE Classic 1K card (PC/SC part 3, storage cards): what a loyalty card
// that carries nothing but its UID looks like.
var MifareClassic1KATR = mustHex("3B8F8001804F0CA000000306030001000000006A")

// Status words cards answer with.
var (
	swOK             = []byte{0x90, 0x00}
	swNotFound       = []byte{0x6A, 0x82}
	swInsUnsupported = []byte{0x6D, 0x00}
)

// Card is a virtual card. The zero value is a MIFARE Classic 1K that answers
// no command; give it a UID or a Respond function.
type Card struct {
	// ATR is the answer to reset; nil means MifareClassic1KATR.
	ATR []byte
	// UID is what GET DATA (FF CA 00 00 00) returns when Respond is nil.
	UID []byte
	// Respond answers a command APDU with a response APDU (data and status
	// word). It is called from the card's own goroutine, one APDU at a time.
	// Nil answers GET DATA with UID and 90 00, anything else with 6D 00.
	Respond func(cmd []byte) []byte
	// OnAPDU, when set, is called with each command just before its response
	// is written: benchmarks use it to timestamp the card's last byte on the
	// wire (after the write returns, the reader may already have acted on it).
	OnAPDU func(cmd []byte)
}

// AppletResponder answers like a card with a loyalty application: SELECT by
// name (00 A4 04 00 Lc aid) with 90 00 when aid matches (6A 82 when it does
// not), READ BINARY (00 B0) of the selected application with file and 90 00,
// and GET DATA (FF CA) with uid, as the reader itself would.
func AppletResponder(aid, file, uid []byte) func(cmd []byte) []byte {
	selected := false
	return func(cmd []byte) []byte {
		switch {
		case len(cmd) >= 5 && cmd[0] == 0x00 && cmd[1] == 0xA4 && cmd[2] == 0x04:
			lc := int(cmd[4])
			selected = len(cmd) >= 5+lc && bytes.Equal(cmd[5:5+lc], aid)
			if !selected {
				return swNotFound
			}
			return swOK
		case len(cmd) >= 4 && cmd[0] == 0x00 && cmd[1] == 0xB0:
			if !selected {
				return []byte{0x69, 0x86} // command not allowed: no current EF
			}
			return append(bytes.Clone(file), swOK...)
		case len(cmd) >= 2 && cmd[0] == 0xFF && cmd[1] == 0xCA:
			return append(bytes.Clone(uid), swOK...)
		}
		return swInsUnsupported
	}
}

func (c *Card) respond(cmd []byte) []byte {
	if c.Respond != nil {
		return c.Respond(cmd)
	}
	if bytes.Equal(cmd, []byte{0xFF, 0xCA, 0x00, 0x00, 0x00}) && len(c.UID) > 0 {
		return append(bytes.Clone(c.UID), swOK...)
	}
	return swInsUnsupported
}

// Inserted is a card on a virtual reader: the TCP connection to vpcd and the
// goroutine answering it.
type Inserted struct {
	conn  *net.TCPConn
	done  chan struct{}
	err   error // why serving ended; read after done is closed
	apdus atomic.Int64
	once  sync.Once
}

// Insert puts card on the virtual reader whose driver listens at addr
// ("127.0.0.1:35963"), retrying for up to wait while nothing listens there (the
// daemon is still starting), and answers vpcd until the card is removed or
// vpcd goes away.
func (c Card) Insert(addr string, wait time.Duration) (*Inserted, error) {
	deadline := time.Now().Add(wait)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			in := &Inserted{conn: conn.(*net.TCPConn), done: make(chan struct{})}
			go in.serve(&c)
			return in, nil
		}
		if !errors.Is(err, syscall.ECONNREFUSED) || time.Now().After(deadline) {
			return nil, fmt.Errorf("insert virtual card at %s: %w", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (in *Inserted) serve(c *Card) {
	defer close(in.done)
	atr := c.ATR
	if atr == nil {
		atr = MifareClassic1KATR
	}
	buf := make([]byte, MaxFrame)
	out := make([]byte, 0, 512)
	for {
		// Without QUICKACK every exchange waits out the peer's delayed ACK (~40 ms).
		quickAck(in.conn)
		msg, err := ReadFrame(in.conn, buf)
		if err != nil {
			in.err = err
			return
		}
		var reply []byte
		isAPDU := len(msg) > 1
		switch {
		case isAPDU:
			reply = c.respond(msg)
		case msg[0] == CtrlGetATR:
			reply = atr
		default: // power on, power off, reset: nothing to answer
			continue
		}
		out, err = AppendFrame(out[:0], reply)
		if err != nil {
			in.err = err
			return
		}
		if isAPDU && c.OnAPDU != nil {
			c.OnAPDU(msg)
		}
		if _, err := in.conn.Write(out); err != nil {
			in.err = err
			return
		}
		if isAPDU {
			in.apdus.Add(1) // counted once answered: a test may take the card away now
		}
	}
}

// APDUs is how many command APDUs the card has answered.
func (in *Inserted) APDUs() int64 { return in.apdus.Load() }

// Done is closed once the card stops answering: it was removed, or vpcd
// closed the connection (pcscd stopped).
func (in *Inserted) Done() <-chan struct{} { return in.done }

// Remove takes the card off the reader and waits until it stopped answering.
// It may be called more than once.
func (in *Inserted) Remove() {
	in.once.Do(func() { in.conn.Close() })
	<-in.done
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
