package localapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tilld/tilld/internal/jsonscan"
	"github.com/tilld/tilld/pos"
)

// checkBody refuses a JSON request body with a string no person or POS app
// means: invalid UTF-8 (encoding/json would store it silently replaced by
// U+FFFD), a control character such as NUL, in a key or a value; a key that
// is not a lower-case name (encoding/json matches field names whatever their
// case, so "Card" and "card" in one body would both land in one field); or a
// key given twice. The error names the field as Validate does ("lines[1].sku").
// A body that is not JSON at its top level, or is cut short, passes: the
// decoder reports that.
// whole says the body is one JSON value and white space only after it.
//
// It reads the body once, token by token (jsonscan), allocating only its
// state unless it has something to refuse.
func checkBody(body []byte) (whole bool, err error) {
	var c bodyChecker
	c.scan.Reset(body)
	return c.check(body)
}

// bodyChecker is checkBody's state: the objects and arrays open, and the
// field names of each object open (names, in one buffer).
type bodyChecker struct {
	scan   jsonscan.Scanner
	frames []bodyFrame
	names  []byte // the field names of the objects open, one after the other
	ends   []int  // where each name in names ends
	fbuf   [8]bodyFrame
	nbuf   [256]byte
	ebuf   [32]int
}

// bodyFrame is an object or array being read.
type bodyFrame struct {
	object bool
	index  int // of an array: the elements before the one being read
	first  int // of an object: its first name in ends
	key    int // of an object: the name of the value being read in ends, -1 between values
}

func (c *bodyChecker) check(body []byte) (bool, error) {
	c.frames, c.names, c.ends = c.fbuf[:0], c.nbuf[:0], c.ebuf[:0]
	for {
		t, err := c.scan.Next()
		if err != nil {
			var se *jsonscan.SyntaxError
			if c.scan.Depth() == 0 || errors.As(err, &se) && se.Offset == len(body) {
				return false, nil // not JSON at all, more after it, or cut short: the decoder says so
			}
			return false, &pos.InputError{Field: c.path(), Problem: "not valid JSON: " + err.Error()}
		}
		var top *bodyFrame
		if n := len(c.frames); n > 0 {
			top = &c.frames[n-1]
		}
		switch t.Kind {
		case jsonscan.None:
			return true, nil
		case jsonscan.ObjectStart, jsonscan.ArrayStart:
			if len(c.frames) >= maxBodyDepth {
				return false, &pos.InputError{Field: c.path(), Problem: fmt.Sprintf("objects and arrays nested more than %d deep: no request of this API has that shape", maxBodyDepth)}
			}
			c.frames = append(c.frames, bodyFrame{object: t.Kind == jsonscan.ObjectStart, first: len(c.ends), key: -1})
			continue
		case jsonscan.ObjectEnd, jsonscan.ArrayEnd:
			if top.object && top.first > 0 {
				c.names = c.names[:c.ends[top.first-1]]
			} else if top.object {
				c.names = c.names[:0]
			}
			if top.object {
				c.ends = c.ends[:top.first]
			}
			c.frames = c.frames[:len(c.frames)-1]
		case jsonscan.String:
			if t.Key() {
				if err := c.key(top, body[t.Start:t.End], t); err != nil {
					return false, err
				}
				continue
			}
			switch {
			case t.BadUTF8():
				return false, &pos.InputError{Field: c.path(), Problem: "not valid UTF-8"}
			case t.Control():
				return false, &pos.InputError{Field: c.path(), Problem: "contains control characters"}
			}
		}
		c.valueDone()
	}
}

// key checks the field name raw (with its quotes) of the object top and
// makes it the one being read.
func (c *bodyChecker) key(top *bodyFrame, raw []byte, t jsonscan.Token) error {
	if t.BadUTF8() {
		return &pos.InputError{Field: c.path(), Problem: "a field name that is not valid UTF-8"}
	}
	name := raw[1 : len(raw)-1]
	if t.Escaped() {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return &pos.InputError{Field: c.path(), Problem: "not valid JSON: " + err.Error()}
		}
		name = []byte(s)
	}
	if !fieldName(name) {
		return &pos.InputError{Field: c.path(), Problem: fmt.Sprintf("%q is not a field of this API (field names are lower case)", clip(name, 64))}
	}
	start := 0
	if top.first > 0 {
		start = c.ends[top.first-1]
	}
	for i := top.first; i < len(c.ends); i++ {
		if bytes.Equal(c.names[start:c.ends[i]], name) {
			field := string(name)
			if p := c.path(); p != "body" {
				field = p + "." + field
			}
			return &pos.InputError{Field: field, Problem: "given twice"}
		}
		start = c.ends[i]
	}
	if len(c.ends)-top.first >= maxKeys {
		return &pos.InputError{Field: c.path(), Problem: fmt.Sprintf("more than %d fields", maxKeys)}
	}
	c.names = append(c.names, name...)
	c.ends = append(c.ends, len(c.names))
	top.key = len(c.ends) - 1
	return nil
}

// valueDone moves the enclosing object or array past the value just read.
func (c *bodyChecker) valueDone() {
	if n := len(c.frames); n > 0 {
		if f := &c.frames[n-1]; f.object {
			f.key = -1
		} else {
			f.index++
		}
	}
}

// path names the value being read as Validate does ("lines[1].sku"); "body"
// for the body itself.
func (c *bodyChecker) path() string {
	var b strings.Builder
	for _, f := range c.frames {
		switch {
		case f.object && f.key >= 0:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			start := 0
			if f.key > 0 {
				start = c.ends[f.key-1]
			}
			b.Write(c.names[start:c.ends[f.key]])
		case !f.object:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(f.index + 1))
			b.WriteByte(']')
		}
	}
	if b.Len() == 0 {
		return "body"
	}
	return b.String()
}

// maxKeys bounds the fields of one object: no request type has this many.
const maxKeys = 64

// maxBodyDepth bounds how deep a request's objects and arrays nest: the
// deepest request (a refund's claim.lines[n].sku) is 4. It keeps the path
// an error names short: at most maxBodyDepth names of 64 bytes.
const maxBodyDepth = 16

// clip is b, cut to at most n bytes at a character's start, with "…" when
// it was cut: a part of the request an error quotes.
func clip(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return string(b[:n]) + "…"
}

// fieldName reports whether s can be a field name of the API: lower-case
// ASCII letters, digits and underscores.
func fieldName(s []byte) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// errTrailing is a body with more after its JSON value.
var errTrailing = errors.New("request body: more than one JSON value")
