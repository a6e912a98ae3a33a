// Package tomlpos finds the line of every key and table in a TOML document, for
// error messages that say where: the rules file's and tilld.toml's.
package tomlpos

import (
	"strconv"
	"strings"
)

// The TOML library records one position per key path, shared by every element
// of an array of tables, so it cannot say on which line the id of the third
// [[rule]] is. locate does: a small scanner over a document the TOML library
// has already accepted, recording the first line of every table header and
// every key, with array-of-tables elements numbered from 1:
//
//	rule[3]                  the [[rule]] header of the third rule
//	rule[3].percent          its percent key
//	rule[2].tier[1].from     the from key of the second rule's first tier
//
// The scanner is only a source of line numbers for messages: on anything it
// does not understand it stops and keeps what it found, and a problem without a
// line is still reported. It never panics and always terminates (fuzzed).

// Locator maps key paths to the line (from 1) they first appear on.
type Locator map[string]int

// Line returns the line of path, or of the nearest enclosing table or key
// that has one, or 0.
func (l Locator) Line(path string) int {
	for path != "" {
		if n, ok := l[path]; ok {
			return n
		}
		if strings.HasSuffix(path, "]") {
			if i := strings.LastIndexByte(path, '['); i >= 0 {
				path = path[:i]
				continue
			}
		}
		i := strings.LastIndexByte(path, '.')
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// Locate scans a document the TOML library has accepted.
func Locate(src []byte) Locator {
	l := Locator{}
	s := &scanner{src: src, line: 1}
	arrays := map[string]int{} // array-of-tables path → elements seen so far
	table := ""
	for {
		s.skipBlank()
		if s.eof() {
			return l
		}
		start, line := s.pos, s.line
		if s.peek(0) == '[' {
			double := s.peek(1) == '['
			s.pos++
			if double {
				s.pos++
			}
			keys, ok := s.keyPath(']')
			if !ok {
				return l
			}
			s.pos++ // ']'
			if double {
				if s.peek(0) != ']' {
					return l
				}
				s.pos++
			}
			table = resolve(keys, arrays, double)
			l.note(table, line)
			s.skipLine()
		} else {
			keys, ok := s.keyPath('=')
			if !ok {
				return l
			}
			s.pos++ // '='
			path := strings.Join(keys, ".")
			if table != "" {
				path = table + "." + path
			}
			l.note(path, line)
			s.skipValue()
		}
		if s.pos == start {
			return l
		}
	}
}

func (l Locator) note(path string, line int) {
	if _, ok := l[path]; !ok {
		l[path] = line
	}
}

// resolve turns a header's keys into a path with array elements numbered; a
// [[header]] adds an element to its own array.
func resolve(keys []string, arrays map[string]int, double bool) string {
	path := ""
	for i, k := range keys {
		if path != "" {
			path += "."
		}
		path += k
		if double && i == len(keys)-1 {
			arrays[path]++
		}
		if n, ok := arrays[path]; ok {
			path += "[" + strconv.Itoa(n) + "]"
		}
	}
	return path
}

type scanner struct {
	src  []byte
	pos  int
	line int
}

func (s *scanner) eof() bool { return s.pos >= len(s.src) }

// peek returns the byte i ahead, or 0 past the end.
func (s *scanner) peek(i int) byte {
	if s.pos+i < len(s.src) {
		return s.src[s.pos+i]
	}
	return 0
}

func (s *scanner) advance() {
	if s.src[s.pos] == '\n' {
		s.line++
	}
	s.pos++
}

// skipBlank skips white space, newlines and comments.
func (s *scanner) skipBlank() {
	for !s.eof() {
		switch s.peek(0) {
		case ' ', '\t', '\r', '\n':
			s.advance()
		case '#':
			s.skipLine()
		default:
			return
		}
	}
}

// skipLine skips to the end of the line, newline included.
func (s *scanner) skipLine() {
	for !s.eof() {
		c := s.peek(0)
		s.advance()
		if c == '\n' {
			return
		}
	}
}

// keyPath reads a dotted key up to (not including) term.
func (s *scanner) keyPath(term byte) ([]string, bool) {
	var keys []string
	for {
		s.skipSpace()
		k, ok := s.key()
		if !ok {
			return nil, false
		}
		keys = append(keys, k)
		s.skipSpace()
		switch s.peek(0) {
		case '.':
			s.pos++
		case term:
			return keys, !s.eof()
		default:
			return nil, false
		}
	}
}

func (s *scanner) skipSpace() {
	for c := s.peek(0); c == ' ' || c == '\t'; c = s.peek(0) {
		s.pos++
	}
}

// key reads one bare or quoted key; escapes in quoted keys are kept as written.
func (s *scanner) key() (string, bool) {
	switch q := s.peek(0); q {
	case '"', '\'':
		s.pos++
		start := s.pos
		for !s.eof() && s.peek(0) != q && s.peek(0) != '\n' {
			if q == '"' && s.peek(0) == '\\' && s.pos+1 < len(s.src) {
				s.pos++
			}
			s.pos++
		}
		if s.peek(0) != q {
			return "", false
		}
		k := string(s.src[start:s.pos])
		s.pos++
		return k, true
	default:
		start := s.pos
		for c := s.peek(0); c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'; c = s.peek(0) {
			s.pos++
		}
		return string(s.src[start:s.pos]), s.pos > start
	}
}

// skipValue skips a value (which may span lines inside brackets or triple
// quotes) and the rest of its line.
func (s *scanner) skipValue() {
	depth := 0
	for !s.eof() {
		switch c := s.peek(0); c {
		case '"', '\'':
			s.skipString(c)
		case '#':
			for !s.eof() && s.peek(0) != '\n' {
				s.pos++
			}
		case '[', '{':
			depth++
			s.pos++
		case ']', '}':
			depth--
			s.pos++
		case '\n':
			s.advance()
			if depth <= 0 {
				return
			}
		default:
			s.pos++
		}
	}
}

// skipString skips a basic or literal string, single- or multi-line.
func (s *scanner) skipString(q byte) {
	if s.peek(1) == q && s.peek(2) == q {
		s.pos += 3
		for !s.eof() {
			if s.peek(0) == q && s.peek(1) == q && s.peek(2) == q {
				s.pos += 3
				// A closing delimiter may carry up to two more quotes of content.
				for i := 0; i < 2 && s.peek(0) == q; i++ {
					s.pos++
				}
				return
			}
			if q == '"' && s.peek(0) == '\\' && s.pos+1 < len(s.src) {
				s.pos++
			}
			s.advance()
		}
		return
	}
	s.pos++
	for !s.eof() {
		switch c := s.peek(0); {
		case c == q:
			s.pos++
			return
		case c == '\n':
			return // not valid TOML; let skipValue end the line
		case q == '"' && c == '\\' && s.pos+1 < len(s.src) && s.src[s.pos+1] != '\n':
			s.pos += 2
		default:
			s.pos++
		}
	}
}
