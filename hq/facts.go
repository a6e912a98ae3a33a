package hq

import (
	"bytes"
	"encoding/json"
)

// decodeSaleFacts reads the SaleFacts fields of a sale body as json.Unmarshal
// would, faster: it walks the body's top-level object once, skipping the
// values it does not need (the lines, the rules applied: most of the bytes)
// with a loop that only tracks strings and nesting, and decodes the eight it
// needs with json.Unmarshal. At HQ's ingest the full json.Unmarshal of every
// sale body was a quarter of the upload handler's time (docs/benchmarks.md).
//
// body must be valid JSON, as every body decoded from an upload is (the
// upload's json.Unmarshal checks the whole request first): on valid JSON it
// gives what json.Unmarshal gives (FuzzDecodeSaleFacts holds it to that); when
// anything is not as it expects, it hands the body to json.Unmarshal.
func decodeSaleFacts(body []byte) (SaleFacts, error) {
	var s SaleFacts
	fields := []struct {
		name string
		v    any
	}{
		{"card", &s.Card}, {"currency", &s.Currency}, {"total", &s.Total},
		{"points_earned", &s.Earned}, {"points_redeemed", &s.Redeemed}, {"birthday_bonus", &s.BirthdayBonus},
		{"lots", &s.Lots}, {"points_expire", &s.Expires},
	}
	fallback := func() (SaleFacts, error) {
		var s SaleFacts
		err := json.Unmarshal(body, &s)
		return s, err
	}
	i := skipSpace(body, 0)
	if i == len(body) || body[i] != '{' {
		return fallback()
	}
	i = skipSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		i++
	} else {
		for {
			if i == len(body) || body[i] != '"' {
				return fallback()
			}
			k := skipValue(body, i)
			if k < 0 || bytes.IndexByte(body[i:k], '\\') >= 0 {
				return fallback() // an escaped key: leave it to encoding/json
			}
			key := body[i+1 : k-1]
			i = skipSpace(body, k)
			if i == len(body) || body[i] != ':' {
				return fallback()
			}
			v := skipSpace(body, i+1)
			end := skipValue(body, v)
			if end < 0 {
				return fallback()
			}
			for _, f := range fields {
				// encoding/json matches keys without regard to case, the last
				// of two equal keys winning: so does this loop.
				if bytes.EqualFold(key, []byte(f.name)) {
					if err := json.Unmarshal(body[v:end], f.v); err != nil {
						return fallback() // for json.Unmarshal's own error
					}
				}
			}
			i = skipSpace(body, end)
			if i == len(body) {
				return fallback()
			}
			if body[i] == '}' {
				i++
				break
			}
			if body[i] != ',' {
				return fallback()
			}
			i = skipSpace(body, i+1)
		}
	}
	if skipSpace(body, i) != len(body) {
		return fallback()
	}
	return s, nil
}

// skipSpace returns the index of the first byte at or after i that is not JSON
// white space.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just after the JSON value that starts at i, or
// -1 when there is none. It follows strings (with their escapes) and the
// nesting of objects and arrays; it does not check what is between.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			if i >= len(b) {
				return -1
			}
			if depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth < 0 {
				return -1
			}
			if depth == 0 {
				return i + 1
			}
		default:
			if depth == 0 {
				// A number or a literal: up to the next delimiter.
				j := i
				for j < len(b) && !bytes.ContainsRune([]byte(",}] \t\r\n"), rune(b[j])) {
					j++
				}
				if j == i {
					return -1
				}
				return j
			}
		}
	}
	return -1
}
