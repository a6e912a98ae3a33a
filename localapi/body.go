package localapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tilld/tilld/pos"
)

// checkBody refuses a JSON request body with a string no person or POS app
// means: invalid UTF-8 (encoding/json would store it silently replaced by
// U+FFFD), a control character such as NUL, in a key or a value; a key that
// is not a lower-case name (encoding/json matches field names whatever their
// case, so "Card" and "card" in one body would both land in one field); or a
// key given twice. The error names the field as Validate does ("lines[1].sku").
// A body that is not JSON passes: the decoder reports that.
func checkBody(body []byte) error {
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
				case !fieldName(t):
					return &pos.InputError{Field: path(), Problem: fmt.Sprintf("%q is not a field of this API (field names are lower case)", t)}
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

// maxKeys bounds the fields of one object: no request type has this many.
const maxKeys = 64

// fieldName reports whether s can be a field name of the API: lower-case
// ASCII letters, digits and underscores.
func fieldName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
