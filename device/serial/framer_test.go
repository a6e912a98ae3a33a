package serial

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// frames feeds in to a new Framer in the given chunk sizes (0: all at once) and
// returns what it emits.
func frames(t testing.TB, o FramerOptions, in []byte, chunk int) ([]string, *Framer) {
	t.Helper()
	f, err := NewFramer(o)
	if err != nil {
		t.Fatalf("NewFramer(%+v): %v", o, err)
	}
	var out []string
	emit := func(s string) { out = append(out, s) }
	if chunk == 0 {
		f.Feed(in, emit)
		return out, f
	}
	for len(in) > 0 {
		n := min(chunk, len(in))
		f.Feed(in[:n], emit)
		in = in[n:]
	}
	return out, f
}

func TestFramer(t *testing.T) {
	tests := []struct {
		name    string
		opts    FramerOptions
		in      string
		want    []string
		dropped int
	}{
		{name: "default CRLF", in: "2000000000008\r\n4006381333931\r\n", want: []string{"2000000000008", "4006381333931"}},
		{name: "default CR", in: "111\r222\r", want: []string{"111", "222"}},
		{name: "default LF", in: "111\n222\n", want: []string{"111", "222"}},
		{name: "default empty frames ignored", in: "\r\n\r\n\n\r111\r\r\n", want: []string{"111"}},
		{name: "default unterminated tail kept for later", in: "111\r22", want: []string{"111"}},
		{name: "CR leaves LF in data", opts: FramerOptions{Suffix: "cr"}, in: "111\r\n222\r", want: []string{"111", "\n222"}},
		{name: "LF", opts: FramerOptions{Suffix: "LF"}, in: "111\r\n222\n", want: []string{"111\r", "222"}},
		{name: "CRLF", opts: FramerOptions{Suffix: "CRLF"}, in: "111\r\n222\r\n", want: []string{"111", "222"}},
		{name: "CRLF lone CR is data", opts: FramerOptions{Suffix: "CRLF"}, in: "1\r1\r\r\n\r\n", want: []string{"1\r1\r"}},
		{name: "ETX", opts: FramerOptions{Suffix: "ETX"}, in: "111\x03\r\n222\x03", want: []string{"111", "\r\n222"}},
		{name: "STX ETX", opts: FramerOptions{Prefix: "STX", Suffix: "ETX"}, in: "\x02111\x03\x02222\x03", want: []string{"111", "222"}},
		{name: "STX noise between frames", opts: FramerOptions{Prefix: "stx", Suffix: "ETX"}, in: "junk\x03\x02111\x03more junk\x02222\x03", want: []string{"111", "222"}},
		{name: "STX restarts a frame", opts: FramerOptions{Prefix: "STX", Suffix: "ETX"}, in: "\x02half\x02111\x03", want: []string{"111"}},
		{name: "STX CRLF", opts: FramerOptions{Prefix: "STX", Suffix: "CRLF"}, in: "\x02111\r\n222\r\n\x02333\r\n", want: []string{"111", "333"}},
		{name: "frame of exactly max", opts: FramerOptions{MaxFrame: 4}, in: "1234\r\n", want: []string{"1234"}},
		{name: "CRLF frame of exactly max", opts: FramerOptions{Suffix: "CRLF", MaxFrame: 4}, in: "1234\r\n", want: []string{"1234"}},
		{name: "overlong dropped, next kept", opts: FramerOptions{MaxFrame: 4}, in: "12345678\r\n1234\r\n", want: []string{"1234"}, dropped: 1},
		{name: "overlong with prefix resyncs at prefix", opts: FramerOptions{Prefix: "STX", Suffix: "ETX", MaxFrame: 4}, in: "\x0212345678\x02111\x03", want: []string{"111"}, dropped: 1},
		{name: "overlong twice", opts: FramerOptions{MaxFrame: 2}, in: "123\n456\n78\n", want: []string{"78"}, dropped: 2},
		{name: "binary data", in: "\x00\xff\xfe\n", want: []string{"\x00\xff\xfe"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// However the bytes are split across reads, the frames are the same.
			for _, chunk := range []int{0, 1, 2, 3, 7} {
				got, f := frames(t, tt.opts, []byte(tt.in), chunk)
				if !slices.Equal(got, tt.want) {
					t.Errorf("chunks of %d: frames %q, want %q", chunk, got, tt.want)
				}
				if f.Dropped() != tt.dropped {
					t.Errorf("chunks of %d: dropped %d, want %d", chunk, f.Dropped(), tt.dropped)
				}
			}
		})
	}
}

func TestFramerReset(t *testing.T) {
	f, err := NewFramer(FramerOptions{Suffix: "CRLF"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	emit := func(s string) { got = append(got, s) }
	f.Feed([]byte("noise\r"), emit)
	f.Reset() // the line went quiet
	f.Feed([]byte("2000000000008\r\n"), emit)
	if !slices.Equal(got, []string{"2000000000008"}) {
		t.Errorf("frames %q, want only the barcode", got)
	}
}

func TestNewFramerErrors(t *testing.T) {
	tests := []struct {
		opts FramerOptions
		msg  string
	}{
		{FramerOptions{Prefix: "SOH"}, `prefix "SOH": want "STX" or none`},
		{FramerOptions{Suffix: "TAB"}, `suffix "TAB": want CR, LF, CRLF, ETX or none (CR or LF)`},
		{FramerOptions{MaxFrame: -1}, "max_frame -1: want 1 to 65536"},
		{FramerOptions{MaxFrame: MaxMaxFrame + 1}, "max_frame 65537: want 1 to 65536"},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			if _, err := NewFramer(tt.opts); err == nil || err.Error() != tt.msg {
				t.Errorf("NewFramer(%+v) = %v, want %q", tt.opts, err, tt.msg)
			}
		})
	}
}

// framingCases are the framings the noise tests cover, with the bytes that
// carry one barcode in each.
var framingCases = []struct {
	opts         FramerOptions
	start, close string
}{
	{FramerOptions{}, "", "\r\n"},
	{FramerOptions{Suffix: "CR"}, "", "\r"},
	{FramerOptions{Suffix: "LF"}, "", "\n"},
	{FramerOptions{Suffix: "CRLF"}, "", "\r\n"},
	{FramerOptions{Suffix: "ETX"}, "", "\x03"},
	{FramerOptions{Prefix: "STX", Suffix: "ETX"}, "\x02", "\x03"},
	{FramerOptions{Prefix: "STX", Suffix: "CRLF"}, "\x02", "\r\n"},
}

// TestFramerAfterNoise sends 10 000 random bytes, then a barcode: the barcode is
// the last frame. Without a prefix nothing in the bytes says where noise ends,
// so the reader's rule applies: the line went quiet (Reset) before the barcode.
func TestFramerAfterNoise(t *testing.T) {
	const barcode = "2000000000008"
	rng := rand.New(rand.NewPCG(1, 2))
	for _, fc := range framingCases {
		t.Run(fc.opts.Prefix+"/"+fc.opts.Suffix, func(t *testing.T) {
			for trial := range 50 {
				noise := make([]byte, 10_000)
				for i := range noise {
					noise[i] = byte(rng.UintN(256))
				}
				if trial%2 == 1 { // line noise heavy in control characters
					for i := range noise {
						noise[i] &= 0x0f
					}
				}
				f, err := NewFramer(fc.opts)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				emit := func(s string) { got = append(got, s) }
				f.Feed(noise, emit)
				if fc.start == "" {
					f.Reset()
				}
				f.Feed([]byte(fc.start+barcode+fc.close), emit)
				if len(got) == 0 || got[len(got)-1] != barcode {
					t.Fatalf("trial %d: last frame of %d is %q, want %q", trial, len(got), got[max(0, len(got)-1):], barcode)
				}
				checkFrames(t, fc.opts, got)
			}
		})
	}
}

// checkFrames fails t when a frame breaks the Framer's promises.
func checkFrames(t *testing.T, o FramerOptions, got []string) {
	t.Helper()
	max := o.MaxFrame
	if max == 0 {
		max = DefaultMaxFrame
	}
	for _, fr := range got {
		switch {
		case fr == "":
			t.Fatalf("empty frame emitted")
		case len(fr) > max:
			t.Fatalf("frame of %d bytes emitted, max %d", len(fr), max)
		case o.Prefix != "" && strings.IndexByte(fr, stx) >= 0:
			t.Fatalf("frame %q contains the prefix", fr)
		}
		var forbidden string
		switch strings.ToUpper(o.Suffix) {
		case "":
			forbidden = "\r\n"
		case "CR":
			forbidden = "\r"
		case "LF":
			forbidden = "\n"
		case "ETX":
			forbidden = "\x03"
		case "CRLF":
			if strings.Contains(fr, "\r\n") {
				t.Fatalf("frame %q contains the suffix", fr)
			}
		}
		if forbidden != "" && strings.ContainsAny(fr, forbidden) {
			t.Fatalf("frame %q contains a suffix byte", fr)
		}
	}
}

func FuzzFramer(f *testing.F) {
	f.Add([]byte("2000000000008\r\n"), uint8(0), uint16(0))
	f.Add([]byte("\x02111\x03junk\x02\x02222\x03"), uint8(5), uint16(4))
	f.Add([]byte("1\r1\r\r\n\r\n12345678\r\n"), uint8(3), uint16(4))
	f.Add([]byte("\r\r\r\n\n"), uint8(6), uint16(1))
	f.Add(bytes.Repeat([]byte{0xff}, 300), uint8(0), uint16(0))
	f.Fuzz(func(t *testing.T, noise []byte, framing uint8, maxFrame uint16) {
		fc := framingCases[int(framing)%len(framingCases)]
		o := fc.opts
		o.MaxFrame = int(maxFrame%300) + 13 // room for the barcode
		whole, _ := frames(t, o, noise, 0)
		checkFrames(t, o, whole)
		// Splitting the input differently must not change the frames.
		byByte, _ := frames(t, o, noise, 1)
		if !slices.Equal(whole, byByte) {
			t.Fatalf("frames differ when fed byte by byte: %q vs %q", whole, byByte)
		}
		// After any noise (and a quiet line, when there is no prefix), a barcode
		// comes through as the last frame.
		fr, err := NewFramer(o)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		emit := func(s string) { got = append(got, s) }
		fr.Feed(noise, emit)
		if fc.start == "" {
			fr.Reset()
		}
		fr.Feed([]byte(fc.start+"2000000000008"+fc.close), emit)
		if len(got) == 0 || got[len(got)-1] != "2000000000008" {
			t.Fatalf("last frame is not the barcode: %q", got)
		}
	})
}

func TestFramerPending(t *testing.T) {
	tests := []struct {
		opts FramerOptions
		in   string
		want bool
	}{
		{FramerOptions{}, "", false},
		{FramerOptions{}, "12", true},
		{FramerOptions{}, "12\r\n", false},
		{FramerOptions{Suffix: "CRLF"}, "12\r\n", false},
		{FramerOptions{Suffix: "CRLF"}, "\r", true},
		{FramerOptions{Prefix: "STX", Suffix: "ETX"}, "junk", false},
		{FramerOptions{Prefix: "STX", Suffix: "ETX"}, "\x02", true},
		{FramerOptions{MaxFrame: 2}, "12345", true}, // inside a dropped frame
		{FramerOptions{MaxFrame: 2}, "12345\n", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v/%q", tt.opts, tt.in), func(t *testing.T) {
			_, f := frames(t, tt.opts, []byte(tt.in), 0)
			if f.Pending() != tt.want {
				t.Errorf("Pending() = %v, want %v", f.Pending(), tt.want)
			}
			f.Reset()
			if f.Pending() {
				t.Errorf("Pending() after Reset = true")
			}
		})
	}
}
