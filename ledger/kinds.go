package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/pos"
)

// kind is what the ledger does with one type of event: how the event's
// client id is kept in the idempotency index and what the event does to its
// card's account. Every type the ledger records is one entry of kinds;
// RecordSale, RecordRefund, Verify, Prune, PutSnapshot and Restore all read
// it, so a new type (NPS feedback, say: an index prefix, no account effect)
// is one entry and the function that records it.
type kind struct {
	// index prefixes the event's client id in the idempotency index (the
	// sales bucket). Sales have none: their ids have been the index's keys
	// since schema 1. Every other type's prefix starts with a zero byte,
	// which no sale id may (SaleRequest.validate), so ids never collide
	// across types, and the index stays one bucket that Verify, Prune and
	// Restore already keep.
	index string
	// purchase says the event is a purchase: it adds one to the account's
	// Sales and may move its LastSale.
	purchase bool
	// body applies what the event's body says beyond the spend and points
	// of its effect (lots, the birthday bonus); nil: nothing. The points of
	// the effect are already added to a.Points.
	body func(a *pos.Account, f effect, body []byte, at time.Time)
}

var kinds = map[string]kind{
	event.TypeSale:   {purchase: true, body: saleBody},
	event.TypeRefund: {index: "\x00refund\x00", body: refundBody},
	// Feedback is indexed by the id of the sale it answers: one per sale.
	event.TypeFeedback: {index: "\x00feedback\x00"},
}

// indexKey is the key of a client id of an event type in the idempotency
// index.
func indexKey(typ, id string) []byte { return []byte(kinds[typ].index + id) }

// applyEffect applies the effect of one event of type typ, made at at, to
// its card's account: the spend and the net points, refusing an overflow
// rather than wrapping around, and what the type reads of the body (see
// kinds). The account views, their rebuild by Verify, the folding of pruned
// events and HQ's snapshots all go through here, so they agree.
func applyEffect(a *pos.Account, f effect, typ string, body []byte, at time.Time) error {
	k, ok := kinds[typ]
	if !ok {
		return fmt.Errorf("event type %q is not one this ledger records", typ)
	}
	spend, points := f.spend, f.points
	if (spend > 0 && a.LifetimeSpend > math.MaxInt64-spend) || (spend < 0 && a.LifetimeSpend < math.MinInt64-spend) {
		return fmt.Errorf("lifetime spend %d + %d overflows", a.LifetimeSpend, spend)
	}
	if (points > 0 && a.Points > math.MaxInt64-points) || (points < 0 && a.Points < math.MinInt64-points) {
		return fmt.Errorf("points %d + %d overflow", a.Points, points)
	}
	a.LifetimeSpend += spend
	a.Points += points
	if k.purchase {
		// LastSale is the latest sale the account knows of, whichever came first.
		a.Sales++
		if at.After(a.LastSale) {
			a.LastSale = at
		}
	}
	if k.body != nil {
		k.body(a, f, body, at)
	}
	return nil
}

// saleBody applies a sale body: the time of a sale that paid the card's
// birthday bonus (the body's "birthday_bonus", see
// pos.Account.BirthdayBonus); and the card's lots (pos.Account.SaleLots):
// the lots the sale redeemed from (the body's "lots" member, pos.LotUse
// indexes into the account's lots as they were when the sale was priced)
// and a new lot for the points it earned, expiring at the body's
// "points_expire" when set.
func saleBody(a *pos.Account, f effect, body []byte, at time.Time) {
	var b struct {
		Lots          []pos.LotUse `json:"lots"`
		BirthdayBonus int64        `json:"birthday_bonus"`
		PointsExpire  time.Time    `json:"points_expire"`
	}
	// The body is decoded only when it may hold any of them: most sales
	// have none, and a sale is recorded faster without a second decode.
	bonus := bytes.Contains(body, birthdayBonusKey)
	expiring := bytes.Contains(body, pointsExpireKey)
	if (len(a.Lots) > 0 || bonus || expiring) && len(body) > 0 && body[0] == '{' {
		_ = json.Unmarshal(body, &b) // a body without them redeemed from no lot and paid no bonus
	}
	if bonus && b.BirthdayBonus > 0 && at.After(a.BirthdayBonus) {
		a.BirthdayBonus = at
	}
	a.SaleLots(f.points, b.Lots, at, b.PointsExpire)
}

// pointsExpireKey is the member of a sale body that says when its points
// expire (pos.Quote.PointsExpire).
var pointsExpireKey = []byte(`"points_expire"`)

// refundBody applies a refund body (pos.Refund) to the card's lots
// (pos.Account.RefundLots): the redeemed points it gives back go to the lots
// they came from ("returned_lots"), and the earned points it takes back come
// off the lot its sale earned ("sale_at"), then off the newest.
func refundBody(a *pos.Account, f effect, body []byte, at time.Time) {
	var b struct {
		Lots   []pos.PointsLot `json:"returned_lots"`
		SaleAt time.Time       `json:"sale_at"`
	}
	if len(body) > 0 && body[0] == '{' {
		_ = json.Unmarshal(body, &b)
	}
	a.RefundLots(f.points, b.Lots, b.SaleAt, at)
}

// returnsRecord is what the returns bucket keeps of a sale that refunds
// returned units of: the units of each of its lines returned so far.
type returnsRecord struct {
	Lines []int64 `json:"lines"`
}

func encodeReturns(r returnsRecord) []byte {
	b, _ := json.Marshal(r) // a slice of numbers always encodes
	return b
}

func decodeReturns(b []byte, lines int) (returnsRecord, error) {
	var r returnsRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return returnsRecord{}, fmt.Errorf("decode returns: %w", err)
	}
	if len(r.Lines) != lines {
		return returnsRecord{}, fmt.Errorf("decode returns: %d lines counted for a sale of %d", len(r.Lines), lines)
	}
	if err := r.checkCounts(); err != nil {
		return returnsRecord{}, err
	}
	return r, nil
}

// checkCounts refuses a count below zero: it would cancel the returns
// another count adds to it.
func (r returnsRecord) checkCounts() error {
	for i, n := range r.Lines {
		if n < 0 {
			return fmt.Errorf("decode returns: line %d counted %d", i+1, n)
		}
	}
	return nil
}
