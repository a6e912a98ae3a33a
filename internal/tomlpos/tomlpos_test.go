package tomlpos

import (
	"bytes"
	"testing"

	"github.com/tilld/tilld/discount"
)

func TestLocate(t *testing.T) {
	src := `# comment with [[rule]] and key = 1
schema = 1 # trailing
"version" = 2
currency = """
multi-line [[rule]]
x = 1
"""

[[rule]]
id = 'lit # not a comment'
exclude_categories = [
  "a", # comment ]
  'b',
]
  [[rule.tier]]
  name = "esc \" [[rule]]"
  message = '''
also [[not a header]]
'''
  [[rule.tier]]
  from = 2

[[rule]]
  id = "second"
  inline = { a = [1, 2], b = "}" }
  [[rule.tier]]
  percent = 5

[other.table]
key.dotted = 1
`
	l := Locate([]byte(src))
	tests := []struct {
		path string
		line int
	}{
		{"schema", 2},
		{"version", 3},
		{"currency", 4},
		{"rule[1]", 9},
		{"rule[1].id", 10},
		{"rule[1].exclude_categories", 11},
		{"rule[1].exclude_categories[2]", 11}, // a list element: the line of its key
		{"rule[1].tier[1]", 15},
		{"rule[1].tier[1].name", 16},
		{"rule[1].tier[1].message", 17},
		{"rule[1].tier[2]", 20},
		{"rule[1].tier[2].from", 21},
		{"rule[1].tier[2].percent", 20}, // missing key: its table
		{"rule[2]", 23},
		{"rule[2].id", 24},
		{"rule[2].inline", 25},
		{"rule[2].tier[1].percent", 27},
		{"rule[3].id", 0}, // no such rule, and no "rule" key either
		{"other.table.key.dotted", 30},
		{"nowhere", 0},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if got := l.Line(tt.path); got != tt.line {
				t.Errorf("line %d, want %d", got, tt.line)
			}
		})
	}
}

// FuzzLocate: the Locator sees only documents the TOML library accepted, but
// it must never panic or loop on anything, and its lines must exist.
func FuzzLocate(f *testing.F) {
	f.Add(discount.Example)
	f.Add([]byte("a = \"\"\"\n\n"))
	f.Add([]byte("[[a.b]]\n[[a]]\n[[a.b]]\nx=1"))
	f.Add([]byte("a = [\n'''\n]\n'''\n]"))
	f.Add([]byte("[\"q\\\"\".b]\nk = \"\\"))
	f.Add([]byte("\"\\"))
	f.Fuzz(func(t *testing.T, src []byte) {
		lines := bytes.Count(src, []byte("\n")) + 1
		for path, n := range Locate(src) {
			if n < 1 || n > lines {
				t.Fatalf("%s on line %d of %d", path, n, lines)
			}
		}
	})
}
