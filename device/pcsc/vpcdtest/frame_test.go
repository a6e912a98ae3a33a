package vpcdtest

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestFrames(t *testing.T) {
	var stream []byte
	for _, p := range [][]byte{{CtrlGetATR}, {0xFF, 0xCA, 0x00, 0x00, 0x00}, bytes.Repeat([]byte{7}, 300)} {
		var err error
		if stream, err = AppendFrame(stream, p); err != nil {
			t.Fatal(err)
		}
	}
	r := bytes.NewReader(stream)
	buf := make([]byte, MaxFrame)
	for _, want := range []int{1, 5, 300} {
		p, err := ReadFrame(r, buf)
		if err != nil || len(p) != want {
			t.Fatalf("ReadFrame = %d bytes, %v; want %d", len(p), err, want)
		}
	}
	if _, err := ReadFrame(r, buf); err != io.EOF {
		t.Fatalf("ReadFrame at the end = %v, want io.EOF", err)
	}

	for _, tt := range []struct {
		name string
		in   []byte
		buf  int
		err  error
		msg  string
	}{
		{"empty frame", []byte{0, 0}, 10, ErrEmptyFrame, ""},
		{"cut in the length", []byte{0}, 10, io.ErrUnexpectedEOF, "read vpcd frame length"},
		{"cut in the payload", []byte{0, 5, 1, 2}, 10, io.ErrUnexpectedEOF, "read vpcd frame of 5 bytes"},
		{"too long for the buffer", []byte{0, 11}, 10, ErrFrameTooLong, "11 bytes, buffer holds 10"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadFrame(bytes.NewReader(tt.in), make([]byte, tt.buf))
			if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("ReadFrame = %v, want %v saying %q", err, tt.err, tt.msg)
			}
		})
	}
	if _, err := AppendFrame(nil, make([]byte, MaxFrame+1)); !errors.Is(err, ErrFrameTooLong) {
		t.Errorf("AppendFrame of %d bytes = %v, want ErrFrameTooLong", MaxFrame+1, err)
	}
}

// FuzzReadFrame: any byte stream decodes into frames that re-encode to
// exactly the bytes consumed, or stops with an error; it never panics.
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0, 1, 4, 0, 5, 0xFF, 0xCA, 0, 0, 0})
	f.Add([]byte{0, 0})
	f.Add([]byte{0xFF, 0xFF, 1})
	f.Fuzz(func(t *testing.T, stream []byte) {
		r := bytes.NewReader(stream)
		buf := make([]byte, 1024)
		var again []byte
		for {
			p, err := ReadFrame(r, buf)
			if err != nil {
				break
			}
			if len(p) == 0 || len(p) > len(buf) {
				t.Fatalf("frame of %d bytes", len(p))
			}
			again, _ = AppendFrame(again, p)
		}
		if !bytes.HasPrefix(stream, again) {
			t.Fatalf("re-encoded frames % X are not a prefix of the input % X", again, stream)
		}
	})
}
