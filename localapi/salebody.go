package localapi

import (
	"strconv"

	"github.com/tilld/tilld/internal/jsonscan"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/till"
)

// decodeSale reads a sale request that checkBody passed as one value into
// req, in one pass over its tokens, and reports whether it could: the plain
// shape a POS app sends — the request's known fields, strings without
// escapes, whole numbers that fit, true or false. Anything else (a null, an
// escape, a fraction, an unknown field, a value of another type) it leaves
// to encoding/json, whose answer, refusal or not, stands as it was; req is
// then as it was given, empty. FuzzDecodeSale holds the two to the same
// result.
func decodeSale(body []byte, req *till.SaleRequest) bool {
	d := saleDecoder{body: body}
	d.scan.Reset(body)
	if !d.sale(req) {
		*req = till.SaleRequest{}
		return false
	}
	return true
}

type saleDecoder struct {
	scan jsonscan.Scanner
	body []byte
}

func (d *saleDecoder) next() (jsonscan.Token, bool) {
	t, err := d.scan.Next()
	return t, err == nil
}

// object reads an object, calling field with each name; field reads the
// value. It reports whether every field was read.
func (d *saleDecoder) object(field func(name string) bool) bool {
	if t, ok := d.next(); !ok || t.Kind != jsonscan.ObjectStart {
		return false
	}
	return d.fields(field)
}

// fields reads an object's fields after its '{'.
func (d *saleDecoder) fields(field func(name string) bool) bool {
	for {
		t, ok := d.next()
		switch {
		case !ok:
			return false
		case t.Kind == jsonscan.ObjectEnd:
			return true
		case t.Kind != jsonscan.String || t.Escaped():
			return false
		}
		if !field(string(d.body[t.Start+1 : t.End-1])) {
			return false
		}
	}
}

func (d *saleDecoder) str(v *string) bool {
	t, ok := d.next()
	if !ok || t.Kind != jsonscan.String || t.Escaped() || t.BadUTF8() {
		return false
	}
	*v = string(d.body[t.Start+1 : t.End-1])
	return true
}

func (d *saleDecoder) int(v *int64) bool {
	t, ok := d.next()
	if !ok || t.Kind != jsonscan.Number {
		return false
	}
	n, err := strconv.ParseInt(string(d.body[t.Start:t.End]), 10, 64)
	*v = n
	return err == nil
}

func (d *saleDecoder) amount(v *money.Amount) bool {
	return d.int((*int64)(v))
}

func (d *saleDecoder) bool(v *bool) bool {
	t, ok := d.next()
	*v = t.Kind == jsonscan.True
	return ok && (t.Kind == jsonscan.True || t.Kind == jsonscan.False)
}

func (d *saleDecoder) sale(req *till.SaleRequest) bool {
	return d.object(func(name string) bool {
		switch name {
		case "id":
			return d.str(&req.ID)
		case "card":
			return d.str(&req.Card)
		case "card_type":
			return d.str(&req.CardType)
		case "lines":
			return d.lines(&req.Lines)
		case "redeem_points":
			return d.int(&req.RedeemPoints)
		case "donate":
			return d.bool(&req.Donate)
		case "store":
			return d.str(&req.Store)
		case "region":
			return d.str(&req.Region)
		case "terminal":
			return d.str(&req.Terminal)
		}
		return false
	})
}

func (d *saleDecoder) lines(v *[]pos.Line) bool {
	if t, ok := d.next(); !ok || t.Kind != jsonscan.ArrayStart {
		return false
	}
	lines := make([]pos.Line, 0, 8)
	for {
		t, ok := d.next()
		switch {
		case ok && t.Kind == jsonscan.ArrayEnd:
			*v = lines
			return true
		case !ok || t.Kind != jsonscan.ObjectStart:
			return false
		}
		var l pos.Line
		if !d.fields(d.lineField(&l)) {
			return false
		}
		lines = append(lines, l)
	}
}

// lineField reads the field name of a line into l.
func (d *saleDecoder) lineField(l *pos.Line) func(name string) bool {
	return func(name string) bool {
		switch name {
		case "sku":
			return d.str(&l.SKU)
		case "category":
			return d.str(&l.Category)
		case "qty":
			return d.int(&l.Qty)
		case "unit_price":
			return d.amount(&l.UnitPrice)
		}
		return false
	}
}
