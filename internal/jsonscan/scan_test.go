package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// tokens reads all of data's tokens; err is the scanner's error, if any.
func tokens(data []byte) ([]Token, error) {
	s := New(data)
	var out []Token
	for {
		t, err := s.Next()
		if err != nil {
			return out, err
		}
		if t.Kind == None {
			return out, nil
		}
		out = append(out, t)
	}
}

// compare checks the scanner against encoding/json on data: it accepts what
// json.Valid accepts, and its tokens are json.Decoder's, each string's span
// decoding to the decoder's string and its flags saying what the string holds.
func compare(t *testing.T, data []byte) {
	t.Helper()
	toks, err := tokens(data)
	if valid := json.Valid(data); valid != (err == nil) {
		t.Fatalf("%q: json.Valid %v, scanner error %v", data, valid, err)
	}
	if err != nil {
		var se *SyntaxError
		if !errors.As(err, &se) || se.Offset < 0 || se.Offset > len(data) {
			t.Fatalf("%q: error %#v", data, err)
		}
		return
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for i, tok := range toks {
		want, err := dec.Token()
		if err != nil {
			t.Fatalf("%q: token %d: decoder: %v", data, i, err)
		}
		raw := data[tok.Start:tok.End]
		switch w := want.(type) {
		case json.Delim:
			k := map[json.Delim]Kind{'{': ObjectStart, '}': ObjectEnd, '[': ArrayStart, ']': ArrayEnd}[w]
			if tok.Kind != k || string(raw) != w.String() {
				t.Fatalf("%q: token %d: %+v %q, want %v", data, i, tok, raw, w)
			}
		case json.Number:
			if tok.Kind != Number || string(raw) != string(w) {
				t.Fatalf("%q: token %d: %+v %q, want number %s", data, i, tok, raw, w)
			}
		case bool:
			if (w && tok.Kind != True) || (!w && tok.Kind != False) {
				t.Fatalf("%q: token %d: %+v, want %v", data, i, tok, w)
			}
		case nil:
			if tok.Kind != Null || string(raw) != "null" {
				t.Fatalf("%q: token %d: %+v, want null", data, i, tok)
			}
		case string:
			var s string
			if err := json.Unmarshal(raw, &s); err != nil || s != w || tok.Kind != String {
				t.Fatalf("%q: token %d: %+v %q (%q, %v), want string %q", data, i, tok, raw, s, err, w)
			}
			inner := raw[1 : len(raw)-1]
			if tok.Escaped() != (bytes.IndexByte(inner, '\\') >= 0) ||
				tok.BadUTF8() != !utf8.Valid(inner) ||
				tok.Control() != strings.ContainsFunc(w, unicode.IsControl) ||
				tok.HTML() != (bytes.ContainsAny(inner, "<>&") || bytes.Contains(inner, []byte("\u2028")) || bytes.Contains(inner, []byte("\u2029"))) {
				t.Fatalf("%q: token %d: %+v: flags wrong for %q", data, i, tok, w)
			}
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("%q: the decoder has more tokens than the scanner's %d: %v", data, len(toks), err)
	}
	var c bytes.Buffer
	if err := json.Compact(&c, data); err != nil {
		t.Fatal(err)
	}
	if compact := bytes.Equal(c.Bytes(), data); compact == New(data).scanAll().Spaced() {
		t.Fatalf("%q: compact %v, Spaced says otherwise", data, compact)
	}
}

func (s *Scanner) scanAll() *Scanner {
	for {
		if t, err := s.Next(); err != nil || t.Kind == None {
			return s
		}
	}
}

var seeds = []string{
	`{"id":"pos-1","card":"2000000000015","lines":[{"sku":"milk","category":"dairy","qty":2,"unit_price":9990}]}`,
	` { "a" : [ 1 , -2.5e+3 , true , false , null , "x" ] } `,
	`"\u0000\b\f\n\r\t\"\\\/\u00e9\ud83d\ude00\ud800\u007f\u0080\u009f\u00a0"`,
	"\"\x7f\xc2\x80\xc2\x9f\xc2\xa0\xe2\x80\xa8\xff<>&\"",
	`[]`, `{}`, `[[],{}]`, `0`, `-0.0e0`, `01`, `1.`, `1e`, `-`, `tru`, `nul`, `falsey`,
	`{"a":1,}`, `[1,]`, `{"a" 1}`, `{1:2}`, `"\x"`, `"\u12"`, `"abc`, "\"a\x01\"", `{} {}`, `{}x`, ``, ` `,
	`[1 2]`, `{"a":1 "b":2}`, `]`, `}`, `{"a":}`, `[-]`, `1e+`, `"\u00e9"`, `{"a":{"b":[1,{"c":"\u0001"}]}}`,
}

func TestScanner(t *testing.T) {
	for _, s := range seeds {
		compare(t, []byte(s))
	}
	deep := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	compare(t, []byte(deep))
	compare(t, []byte("["+deep+"]"))
}

// TestScannerAllocates nothing for a request body.
func TestScannerAllocates(t *testing.T) {
	data := []byte(seeds[0])
	var s Scanner
	if n := testing.AllocsPerRun(100, func() {
		s.Reset(data)
		s.scanAll()
	}); n != 0 {
		t.Fatalf("%v allocations per scan", n)
	}
}

// FuzzScanner holds the scanner to encoding/json: the same texts accepted,
// the same tokens, and flags that say what each string holds.
func FuzzScanner(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		compare(t, data)
	})
}

func BenchmarkScan(b *testing.B) {
	data := []byte(seeds[0])
	var s Scanner
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		s.Reset(data)
		s.scanAll()
	}
}

func BenchmarkValidStd(b *testing.B) {
	data := []byte(seeds[0])
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		json.Valid(data)
	}
}
