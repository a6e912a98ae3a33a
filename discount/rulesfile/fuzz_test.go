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

// FuzzParse: Parse never panics, and whatever it accepts is a ruleset Apply
// can price a basket with, keeping every invariant.
//
// Its inputs are whole rules files (the seeds are the example and the
// complete chain, kilobytes each, to reach every kind), so it runs at
// 3 000-4 000 a second between the pauses Go takes to minimize each new
// interesting input of that size (the worker fuzzes nothing meanwhile;
// make fuzz-long bounds each to FUZZMINIMIZE): about 1 100 a second over
// its first 25 s on a quiet core, fewer while the machine is busy.
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
