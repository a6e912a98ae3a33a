package rulesfile

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/pos"
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
	l := locate([]byte(src))
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
			if got := l.line(tt.path); got != tt.line {
				t.Errorf("line %d, want %d", got, tt.line)
			}
		})
	}
}

// FuzzLocate: the locator sees only documents the TOML library accepted, but
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
		for path, n := range locate(src) {
			if n < 1 || n > lines {
				t.Fatalf("%s on line %d of %d", path, n, lines)
			}
		}
	})
}

// FuzzParse: Parse never panics, and whatever it accepts is a ruleset Apply
// can price a basket with, keeping every invariant.
func FuzzParse(f *testing.F) {
	f.Add(discount.Example)
	for _, broken := range [][]byte{
		bytes.Replace(discount.Example, []byte(`"3%"`), []byte(`"300%"`), 1),
		bytes.Replace(discount.Example, []byte(`from = "10000.00"`), []byte(`from = "1000.00"`), 1),
		bytes.Replace(discount.Example, []byte(`kind = "points"`), []byte(`kind = "pts"`), 1),
		bytes.Replace(discount.Example, []byte(`id = "bonus"`), []byte(`id = "club-card"`), 1),
		bytes.Replace(discount.Example, []byte(`schema = 1`), []byte(`schema = 1.0`), 1),
		bytes.Replace(discount.Example, []byte(`per = "100.00"`), []byte(`per = 1e-3`), 1),
		bytes.Replace(discount.Example, []byte(`points = 1`), []byte(`points = nan`), 1),
		bytes.Replace(discount.Example, []byte("[[rule.tier]]"), []byte("[rule.tier]"), 1),
		discount.Example[:len(discount.Example)/2],
		[]byte(header + `rule = [{id = "c", kind = "card_percent", percent = 5, x = {y = 1}}]`),
		[]byte(header + "[[rule]]\nid = \"t\"\nkind = \"tiers\"\ntier = [1, 2]\n"),
		[]byte(header + "[[rule]]\nid = \"c\"\nkind = \"card_percent\"\npercent = 1979-05-27\n"),
		[]byte(header + "[[rule]]\nid = \"c\"\nkind = \"card_percent\"\npercent = 100\n[[rule]]\nid=\"p\"\nkind=\"points\"\npoints=9223372036854775807\nper=0.01\n"),
		[]byte("\xff\xfe"),
		nil,
	} {
		f.Add(broken)
	}
	full := chain(f)
	f.Add(full)
	for _, edit := range [][2]string{
		{`prefixes = ["2771", "4276-4279"]`, `prefixes = ["2771", "4279-4276"]`},
		{`hours = ["16:00-18:00"]`, `hours = ["16:00-16:00", 5]`},
		{`starts = 2025-03-07`, `starts = "2025-13-07"`},
		{`times = "1.5"`, `times = "1.555"`},
		{`round_to = "10.00"`, `round_to = "10.00"` + "\npoints_share = 0"},
		{`text = { ru = "С днём`, `text = { ru = "С {днём`},
		{`basket_discount = "50%"`, `basket_discount = 0`},
		{`[[rule.item]]`, `[[rule.itm]]`},
		{`group = "card"`, `group = ""`},
		{`kind = "raffle"`, `kind = "greeting"`},
	} {
		f.Add(bytes.Replace(full, []byte(edit[0]), []byte(edit[1]), 1))
	}
	basket := pos.Basket{Lines: []pos.Line{
		{SKU: "a", Category: "grocery", Qty: 3, UnitPrice: 333_33},
		{SKU: "b", Category: "tobacco", Qty: 1, UnitPrice: 250_00},
		{SKU: "c", Qty: pos.MaxQty / 10_000, UnitPrice: pos.MaxUnitPrice / 100},
		{SKU: "d", Category: "dairy", Qty: 1, UnitPrice: 1},
		{SKU: "4600000000055", Category: "gifts", Qty: 2, UnitPrice: 299_00},
		{SKU: "4600000000048", Category: "gifts", Qty: 1, UnitPrice: 990_00},
		{SKU: "coffee", Category: "coffee", Qty: 2, UnitPrice: 350_00},
		{SKU: "chips", Category: "snacks", Qty: 3, UnitPrice: 120_00},
	}, RedeemPoints: 2000, Donate: true, Store: "msk-012", Region: "msk", Terminal: "msk-012-01"}
	acct := &pos.Account{Card: "2771000000001", LifetimeSpend: 12345_67, Points: 3000, Sales: 7,
		Profile: &pos.Profile{Name: "Анна", BirthMonth: 3, BirthDay: 2},
		Lots:    []pos.PointsLot{{Points: 3000, Earned: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)}}}
	now := time.Date(2025, 3, 7, 17, 0, 0, 0, time.FixedZone("MSK", 3*3600))
	f.Fuzz(func(t *testing.T, src []byte) {
		rs, warns, err := Check(src)
		if err != nil {
			var ve *discount.ValidationError
			if rs != nil || !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("error %v with ruleset %v", err, rs)
			}
			for _, p := range ve.Problems {
				if p.Msg == "" || strings.Contains(p.String(), "%!") {
					t.Fatalf("bad problem %#v", p)
				}
			}
			return
		}
		for _, w := range warns {
			if w.Msg == "" || strings.Contains(w.String(), "%!") {
				t.Fatalf("bad warning %#v", w)
			}
		}
		if err := rs.Validate(); err != nil {
			t.Fatalf("Parse accepted a ruleset Validate refuses: %v", err)
		}
		q, err := discount.ApplyWith(rs, basket, acct, now, discount.Options{Explain: true})
		if err != nil {
			// Only a ruleset not yet effective, or points that overflow.
			if errors.Is(err, discount.ErrInvalidRuleset) {
				t.Fatalf("apply: %v", err)
			}
			return
		}
		var sum int64
		for _, l := range q.Lines {
			if l.Total < 0 || l.Discount < 0 {
				t.Fatalf("negative line %+v", l)
			}
			sum += int64(l.Total)
		}
		if sum != int64(q.Total) || q.Subtotal-q.Discount != q.Total {
			t.Fatalf("lines add up to %d, total %d, subtotal %d - discount %d", sum, q.Total, q.Subtotal, q.Discount)
		}
	})
}
