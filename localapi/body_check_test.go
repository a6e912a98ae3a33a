package localapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/till"
)

// seedLine is a sale's line as a POS app sends it, for the fuzz tests' seeds.
const seedLine = `{"sku":"milk","category":"dairy","qty":2,"unit_price":9990}`

// FuzzCheckBody holds decodeBody, which reads a body once with jsonscan, to
// what it did before with json.Decoder.Token (tokenDecodeBody, kept here):
// the same bodies accepted, and the same problem for those it refuses, the
// checks of issue 14 (text, field names, duplicates, the number of fields)
// neither weakened nor moved.
func FuzzCheckBody(f *testing.F) {
	line := seedLine
	for _, s := range []string{
		`{"id":"pos-1","card":"2000000000022","lines":[` + line + `]}`,
		"{\"id\":\"s\xff\",\"lines\":[" + line + "]}",
		`{"id":"s\u0000","lines":[` + line + `]}`,
		`{"card":"2000000000015","card":"x"}`, `{"card":"1","Card":"2"}`, `{"c\u0061rd":"1","card":"2"}`,
		`{"a":{"b":[1,{"c":"\u0001"}]}}`, `{"a":[{"b":1,"b":2}]}`, `{"a":{"x":1},"b":{"x":1}}`,
		"{\"a\":\"x\x7f\"}", "{\"a\":\"\xc2\x85\"}", `{"a":"\n"}`, `[]`, `null`, `{} {}`, `{}x`, ``, `{"a":1,}`,
		"{\"\xff\":1}", `{"a":[1,2,{"b":"\u0085"}]}`, `"\u0000"`, `{"a":"\ud800"}`, `{"é":1}`,
		`{` + strings.Repeat(`"k":1,`, 1)[0:0] + manyKeys(64) + `}`, `{` + manyKeys(65) + `}`,
		strings.Repeat("[", 16) + strings.Repeat("]", 16), strings.Repeat("[", 17) + strings.Repeat("]", 17),
		`{"a":` + strings.Repeat(`{"b":`, 16) + "1" + strings.Repeat("}", 17), `{"` + strings.Repeat("Я", 40) + `":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var got, want any
		errGot, errWant := decodeBody(body, &got), tokenDecodeBody(body, &want)
		if (errGot == nil) != (errWant == nil) {
			t.Fatalf("%q: decodeBody %v, before %v", body, errGot, errWant)
		}
		if errGot == nil {
			return
		}
		if cut := func(err error) bool {
			return strings.Contains(err.Error(), "unexpected EOF") || strings.Contains(err.Error(), "unexpected end of JSON input")
		}; cut(errGot) || cut(errWant) || errGot == errTrailing {
			// A body cut short, or more than one value (whose second one
			// the token walk went on checking): refused either way, each
			// in its words.
			return
		}
		var ig, iw *pos.InputError
		if errors.As(errGot, &ig) != errors.As(errWant, &iw) {
			t.Fatalf("%q: decodeBody %v, before %v", body, errGot, errWant)
		}
		if ig == nil {
			return
		}
		// Syntax errors are worded by each scanner; a key's field was named
		// after the key before it (now the object holding it).
		pg, pw := ig.Problem, iw.Problem
		if strings.HasPrefix(pw, "not valid JSON") {
			pg, pw = pg[:min(len(pg), 14)], pw[:14]
		}
		if pg != pw {
			t.Fatalf("%q: decodeBody %v, before %v", body, errGot, errWant)
		}
	})
}

func manyKeys(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":%d`, i, i)
	}
	return b.String()
}

// TestCheckBodyAllocates: a body with nothing to refuse is checked with one
// allocation (the checker's state), not one per token.
func TestCheckBodyAllocates(t *testing.T) {
	body := []byte(`{"id":"pos-1","card":"2000000000022","lines":[{"sku":"milk","category":"dairy","qty":2,"unit_price":9990},{"sku":"tv","category":"electronics","qty":1,"unit_price":100000}]}`)
	if n := testing.AllocsPerRun(100, func() {
		if whole, err := checkBody(body); !whole || err != nil {
			t.Fatal(whole, err)
		}
	}); n > 1 {
		t.Fatalf("%v allocations per body", n)
	}
}

// TestCheckBodyNames: where each problem is named.
func TestCheckBodyNames(t *testing.T) {
	for body, want := range map[string]string{
		`{"card":"1","card":"2"}`:                       "card: given twice",
		`{"lines":[{"sku":"a"},{"sku":"a","sku":"b"}]}`: "lines[2].sku: given twice",
		`{"a":{"x":1},"b":{"x":1,"Y":2}}`:               `b: "Y" is not a field of this API`,
		`{"Card":"1"}`:                                  `body: "Card" is not a field of this API`,
		`{"c\u0061rd":"1","card":"2"}`:                  "card: given twice",
		`{"lines":[{"sku":"a\tb"}]}`:                    "lines[1].sku: contains control characters",
		"{\"lines\":[1,{\"sku\":\"a\xffb\"}]}":          "lines[2].sku: not valid UTF-8",
		"{\"lines\":[{\"\xff\":1}]}":                    "lines[1]: a field name that is not valid UTF-8",
		`{"lines":[{"sku":"a",}]}`:                      "lines[1]: not valid JSON: invalid character '}' looking for beginning of object key string",
		`{` + manyKeys(65) + `}`:                        "body: more than 64 fields",
	} {
		_, err := checkBody([]byte(body))
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}

// tokenDecodeBody is decodeBody as it was before jsonscan, the reference
// FuzzCheckBody holds it to.
func tokenDecodeBody(body []byte, v any) error {
	if err := tokenCheckBody(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("request body: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("request body: more than one JSON value")
	}
	return nil
}

func tokenCheckBody(body []byte) error {
	bad := -1 // offset of the first invalid UTF-8 byte
	for i := 0; i < len(body); {
		r, n := utf8.DecodeRune(body[i:])
		if r == utf8.RuneError && n <= 1 {
			bad = i
			break
		}
		i += n
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	// frame is an object or array being read: the key or index of the value
	// in it being read now.
	type frame struct {
		object  bool
		wantKey bool
		key     string
		index   int
		keys    map[string]bool
	}
	var stack []*frame
	path := func() string {
		var b strings.Builder
		for _, f := range stack {
			switch {
			case f.object && f.key != "":
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			case !f.object:
				fmt.Fprintf(&b, "[%d]", f.index+1)
			}
		}
		if b.Len() == 0 {
			return "body"
		}
		return b.String()
	}
	// valueDone moves the enclosing object or array past the value just read.
	valueDone := func() {
		if n := len(stack); n > 0 {
			if f := stack[n-1]; f.object {
				f.wantKey = true
			} else {
				f.index++
			}
		}
	}
	var prev int64
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if len(stack) == 0 {
				return nil // not JSON at all: the decoder says so
			}
			return &pos.InputError{Field: path(), Problem: "not valid JSON: " + err.Error()}
		}
		end := dec.InputOffset()
		invalid := bad >= 0 && int64(bad) >= prev && int64(bad) < end
		prev = end
		var top *frame
		if n := len(stack); n > 0 {
			top = stack[n-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			if (t == '{' || t == '[') && len(stack) >= maxBodyDepth {
				return &pos.InputError{Field: path(), Problem: fmt.Sprintf("objects and arrays nested more than %d deep: no request of this API has that shape", maxBodyDepth)}
			}
			switch t {
			case '{':
				stack = append(stack, &frame{object: true, wantKey: true, keys: map[string]bool{}})
			case '[':
				stack = append(stack, &frame{})
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
			continue
		case string:
			if top != nil && top.object && top.wantKey {
				switch {
				case invalid:
					return &pos.InputError{Field: path(), Problem: "a field name that is not valid UTF-8"}
				case !fieldName([]byte(t)):
					return &pos.InputError{Field: path(), Problem: fmt.Sprintf("%q is not a field of this API (field names are lower case)", clip([]byte(t), 64))}
				case top.keys[t]:
					return &pos.InputError{Field: path() + "." + t, Problem: "given twice"}
				}
				top.keys[t], top.key, top.wantKey = true, t, false
				if len(top.keys) > maxKeys {
					return &pos.InputError{Field: path(), Problem: fmt.Sprintf("more than %d fields", maxKeys)}
				}
				continue
			}
			switch {
			case invalid:
				return &pos.InputError{Field: path(), Problem: "not valid UTF-8"}
			case strings.ContainsFunc(t, unicode.IsControl):
				return &pos.InputError{Field: path(), Problem: "contains control characters"}
			}
		}
		valueDone()
	}
}

// BenchmarkDecodeBody decodes a sale's request body as the API does
// (jsonscan) and as it did (the json.Decoder.Token walk), side by side.
//
//	go test ./localapi -run '^$' -bench DecodeBody -benchmem
func BenchmarkDecodeBody(b *testing.B) {
	body := []byte(`{"id":"pos-1","card":"2000000000022","lines":[{"sku":"milk","category":"dairy","qty":1,"unit_price":8990},{"sku":"tv","category":"electronics","qty":1,"unit_price":100000}]}`)
	for _, bm := range []struct {
		name   string
		decode func([]byte, any) error
	}{{"jsonscan", decodeBody}, {"tokens", tokenDecodeBody}} {
		b.Run(bm.name, func(b *testing.B) {
			for b.Loop() {
				var req till.SaleRequest
				if err := bm.decode(body, &req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
