// Package jsonscan reads JSON text token by token without allocating: the
// local API checks a request body with it in one pass (field names, text,
// duplicate keys; localapi/body.go) and the ledger tells with it whether a
// sale body is already canonical (ledger/codec.go). It accepts exactly what
// encoding/json's Valid accepts, and its strings are what encoding/json
// decodes them to (FuzzScanner holds it to both).
package jsonscan

import (
	"strconv"
	"unicode/utf8"
)

// Kind is the kind of a token.
type Kind uint8

// The kinds of token. None is no token: the end of the text.
const (
	None Kind = iota
	ObjectStart
	ObjectEnd
	ArrayStart
	ArrayEnd
	String
	Number
	True
	False
	Null
)

// Token is one token of the text: data[Start:End] is its bytes (a string's
// with its quotes). It is small enough to be passed in registers.
type Token struct {
	Kind       Kind
	flags      uint8
	Start, End int
}

const (
	fKey uint8 = 1 << iota
	fEscaped
	fBadUTF8
	fControl
	fHTML
)

// Key says a String names an object's member.
func (t Token) Key() bool { return t.flags&fKey != 0 }

// Escaped says a String has backslash escapes: its bytes between the quotes
// are not its value.
func (t Token) Escaped() bool { return t.flags&fEscaped != 0 }

// BadUTF8 says a String holds bytes that are not valid UTF-8 (encoding/json
// decodes each to U+FFFD).
func (t Token) BadUTF8() bool { return t.flags&fBadUTF8 != 0 }

// Control says a String's value holds a control character
// (unicode.IsControl: U+0000–U+001F, U+007F–U+009F), raw or escaped.
func (t Token) Control() bool { return t.flags&fControl != 0 }

// HTML says a String holds <, >, &, U+2028 or U+2029 unescaped: what
// json.HTMLEscape (and so json.Marshal of a json.RawMessage) changes.
func (t Token) HTML() bool { return t.flags&fHTML != 0 }

// SyntaxError is text that is not JSON: what and at which byte, worded as
// encoding/json words it.
type SyntaxError struct {
	Msg    string
	Offset int
}

func (e *SyntaxError) Error() string { return e.Msg }

// MaxDepth is how deep objects and arrays may nest, as in encoding/json.
const MaxDepth = 10000

type state uint8

const (
	stValue       state = iota // a value (the first, after ':', after ',' in an array)
	stArrayFirst               // a value or ']'
	stObjectFirst              // a key or '}'
	stKey                      // a key (after ',' in an object)
	stColon                    // ':'
	stAfterValue               // ',' or the end of the enclosing object or array
	stDone                     // the value is complete: only white space may follow
)

// Scanner reads the tokens of one JSON value. The zero Scanner is not
// ready: use New or Reset.
type Scanner struct {
	data   []byte
	pos    int
	state  state
	spaced bool
	stack  []byte // '{' or '[' of each object and array open
	buf    [32]byte
}

// New returns a scanner of data.
func New(data []byte) *Scanner {
	s := &Scanner{}
	s.Reset(data)
	return s
}

// Reset makes s read data from its start.
func (s *Scanner) Reset(data []byte) {
	s.data, s.pos, s.state, s.spaced = data, 0, stValue, false
	s.stack = s.buf[:0]
}

// Depth is how many objects and arrays are open.
func (s *Scanner) Depth() int { return len(s.stack) }

// Spaced reports whether white space was skipped between the tokens read
// so far: false for compact text, as json.Compact writes it.
func (s *Scanner) Spaced() bool { return s.spaced }

// Next returns the next token. After the value's last token it returns a
// token of Kind None and a nil error when only white space follows, and a
// *SyntaxError when anything else does. Any error is final.
func (s *Scanner) Next() (Token, error) {
	d := s.data
	for {
		for s.pos < len(d) && isSpace(d[s.pos]) {
			s.pos++
			s.spaced = true
		}
		if s.pos == len(d) {
			if s.state == stDone {
				return Token{}, nil
			}
			return Token{}, s.fail("unexpected end of JSON input")
		}
		c := d[s.pos]
		switch s.state {
		case stDone:
			return Token{}, s.fail("invalid character " + quoteChar(c) + " after top-level value")
		case stColon:
			if c != ':' {
				return Token{}, s.fail("invalid character " + quoteChar(c) + " after object key")
			}
			s.pos++
			s.state = stValue
			continue
		case stAfterValue:
			top := s.stack[len(s.stack)-1]
			switch {
			case c == ',':
				s.pos++
				if top == '{' {
					s.state = stKey
				} else {
					s.state = stValue
				}
				continue
			case c == '}' && top == '{':
				return s.end(ObjectEnd), nil
			case c == ']' && top == '[':
				return s.end(ArrayEnd), nil
			case top == '{':
				return Token{}, s.fail("invalid character " + quoteChar(c) + " after object key:value pair")
			default:
				return Token{}, s.fail("invalid character " + quoteChar(c) + " after array element")
			}
		case stObjectFirst, stKey:
			if c == '}' && s.state == stObjectFirst {
				return s.end(ObjectEnd), nil
			}
			if c != '"' {
				return Token{}, s.fail("invalid character " + quoteChar(c) + " looking for beginning of object key string")
			}
			t, err := s.str()
			t.flags |= fKey
			s.state = stColon
			return t, err
		case stArrayFirst:
			if c == ']' {
				return s.end(ArrayEnd), nil
			}
		}
		return s.value(c)
	}
}

// value reads the value starting with c at s.pos.
func (s *Scanner) value(c byte) (Token, error) {
	start := s.pos
	switch {
	case c == '{' || c == '[':
		if len(s.stack) >= MaxDepth {
			return Token{}, s.fail("exceeded max depth")
		}
		s.stack = append(s.stack, c)
		s.pos++
		if c == '{' {
			s.state = stObjectFirst
			return Token{Kind: ObjectStart, Start: start, End: s.pos}, nil
		}
		s.state = stArrayFirst
		return Token{Kind: ArrayStart, Start: start, End: s.pos}, nil
	case c == '"':
		t, err := s.str()
		s.done()
		return t, err
	case c == '-' || '0' <= c && c <= '9':
		if err := s.number(); err != nil {
			return Token{}, err
		}
		s.done()
		return Token{Kind: Number, Start: start, End: s.pos}, nil
	case c == 't':
		return s.literal("true", True)
	case c == 'f':
		return s.literal("false", False)
	case c == 'n':
		return s.literal("null", Null)
	}
	return Token{}, s.fail("invalid character " + quoteChar(c) + " looking for beginning of value")
}

// end closes the object or array whose closing byte is at s.pos.
func (s *Scanner) end(k Kind) Token {
	s.stack = s.stack[:len(s.stack)-1]
	s.pos++
	s.done()
	return Token{Kind: k, Start: s.pos - 1, End: s.pos}
}

// done moves past a complete value.
func (s *Scanner) done() {
	if len(s.stack) == 0 {
		s.state = stDone
	} else {
		s.state = stAfterValue
	}
}

func (s *Scanner) literal(word string, k Kind) (Token, error) {
	start := s.pos
	for i := 1; i < len(word); i++ {
		p := start + i
		if p == len(s.data) {
			s.pos = p
			return Token{}, s.fail("unexpected end of JSON input")
		}
		if s.data[p] != word[i] {
			s.pos = p
			return Token{}, s.fail("invalid character " + quoteChar(s.data[p]) + " in literal " + word + " (expecting " + quoteChar(word[i]) + ")")
		}
	}
	s.pos = start + len(word)
	s.done()
	return Token{Kind: k, Start: start, End: s.pos}, nil
}

// number reads a number at s.pos: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *Scanner) number() error {
	d := s.data
	i := s.pos
	digits := func(what string) error {
		if i == len(d) {
			s.pos = i
			return s.fail("unexpected end of JSON input")
		}
		if !isDigit(d[i]) {
			s.pos = i
			return s.fail("invalid character " + quoteChar(d[i]) + " " + what)
		}
		for i < len(d) && isDigit(d[i]) {
			i++
		}
		return nil
	}
	if d[i] == '-' {
		i++
		if i == len(d) {
			s.pos = i
			return s.fail("unexpected end of JSON input")
		}
		if !isDigit(d[i]) {
			s.pos = i
			return s.fail("invalid character " + quoteChar(d[i]) + " in numeric literal")
		}
	}
	if d[i] == '0' {
		i++
	} else if err := digits("in numeric literal"); err != nil {
		return err
	}
	if i < len(d) && d[i] == '.' {
		i++
		if err := digits("after decimal point in numeric literal"); err != nil {
			return err
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if err := digits("in exponent of numeric literal"); err != nil {
			return err
		}
	}
	s.pos = i
	return nil
}

// str reads a string whose opening quote is at s.pos.
func (s *Scanner) str() (Token, error) {
	d := s.data
	t := Token{Kind: String, Start: s.pos}
	i := s.pos + 1
	for i < len(d) {
		c := d[i]
		if plain[c] {
			i++
			continue
		}
		switch {
		case c == '"':
			s.pos = i + 1
			t.End = s.pos
			return t, nil
		case c == '\\':
			t.flags |= fEscaped
			i++
			if i == len(d) {
				s.pos = i
				return Token{}, s.fail("unexpected end of JSON input")
			}
			switch d[i] {
			case '"', '\\', '/':
				i++
			case 'b', 'f', 'n', 'r', 't':
				t.flags |= fControl
				i++
			case 'u':
				var r rune
				for j := 1; j <= 4; j++ {
					if i+j == len(d) {
						s.pos = i + j
						return Token{}, s.fail("unexpected end of JSON input")
					}
					h := hexValue(d[i+j])
					if h < 0 {
						s.pos = i + j
						return Token{}, s.fail("invalid character " + quoteChar(d[i+j]) + " in \\u hexadecimal character escape")
					}
					r = r<<4 | rune(h)
				}
				if isControl(r) {
					t.flags |= fControl
				}
				i += 5
			default:
				s.pos = i
				return Token{}, s.fail("invalid character " + quoteChar(d[i]) + " in string escape code")
			}
		case c < 0x20:
			s.pos = i
			return Token{}, s.fail("invalid character " + quoteChar(c) + " in string literal")
		case c < utf8.RuneSelf: // DEL, <, >, &
			if c == 0x7f {
				t.flags |= fControl
			} else {
				t.flags |= fHTML
			}
			i++
		default:
			r, n := utf8.DecodeRune(d[i:])
			switch {
			case r == utf8.RuneError && n == 1:
				t.flags |= fBadUTF8
			case isControl(r):
				t.flags |= fControl
			case r == '\u2028' || r == '\u2029':
				t.flags |= fHTML
			}
			i += n
		}
	}
	s.pos = i
	return Token{}, s.fail("unexpected end of JSON input")
}

func (s *Scanner) fail(msg string) error {
	return &SyntaxError{Msg: msg, Offset: s.pos}
}

// plain is the bytes a string holds as they are, with nothing to note:
// printable ASCII but ", \, <, > and &.
var plain = func() (p [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		p[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return p
}()

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isControl is unicode.IsControl.
func isControl(r rune) bool { return r < 0x20 || 0x7f <= r && r <= 0x9f }

func hexValue(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// quoteChar formats c as encoding/json does in its errors.
func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	q := strconv.Quote(string(rune(c)))
	return "'" + q[1:len(q)-1] + "'"
}
