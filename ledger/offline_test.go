package ledger

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/pos"
)

// TestOfflineRefundLimits: refunds on a receipt's word stay within the
// money one may give back and, counted under the ledger's lock, within the
// day's, however many race; the day's count starts at its Since; a body
// without its claim is refused.
func TestOfflineRefundLimits(t *testing.T) {
	l, _ := openTest(t, Options{Terminal: "S2-T1", NoSync: true})
	claim := &pos.ReceiptClaim{Card: "2000000000015", Lines: []pos.ClaimLine{{Line: 1, SKU: "tea", Qty: 5, Paid: 1500_00, Points: 15}}}
	sale := claim.Sale("S1-T1-7-abcdef", "RUB", nil)
	sale.Lines[0].UnitPrice = 300_00 // refundPrice gives back unit prices
	body, _ := json.Marshal(sale)
	foreign := &event.Event{ID: "S1-T1-7", Terminal: "S1-T1", Seq: 7, Type: event.TypeSale, Body: body}
	price := func(id string, withClaim bool) RefundFunc {
		inner := refundPrice(id)
		return func(se event.Event, returned []pos.ReturnLine, before []int64, acct pos.Account, at time.Time) (Priced, error) {
			p, err := inner(se, returned, before, acct, at)
			if err != nil {
				return p, err
			}
			var r pos.Refund
			if err := json.Unmarshal(p.Body, &r); err != nil {
				return p, err
			}
			r.SaleTerminal = se.Terminal
			if withClaim {
				r.Claim = claim
			}
			p.Body, err = json.Marshal(r)
			return p, err
		}
	}
	lim := &OfflineLimits{PerReturn: 1000_00, PerDay: 1200_00, Since: testEpoch.Add(-time.Hour)}
	refund := func(id string, qty int64, lim *OfflineLimits, withClaim bool) error {
		_, err := l.RecordRefund(RefundRequest{ID: id, Digest: sha256.Sum256([]byte(id)), Foreign: foreign,
			Lines: []pos.ReturnLine{{Line: 1, Qty: qty}}, Offline: lim}, price(id, withClaim))
		return err
	}
	if err := refund("r1", 1, lim, true); err != nil {
		t.Fatalf("one tea, 300.00: %v", err)
	}
	var le *OfflineLimitError
	if err := refund("r2", 4, lim, true); !errors.As(err, &le) || le.Limit != LimitOfflineReturn || le.Asked != 1200_00 || le.Max != 1000_00 {
		t.Errorf("four teas, 1200.00: %v, want offline_return", err)
	} else if want := "offline_return: the return gives back 1200.00 RUB, 200.00 RUB over the 1000.00 RUB one return may give back without HQ"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if err := refund("r3", 1, lim, false); err == nil || !strings.Contains(err.Error(), "carries no claim") {
		t.Errorf("a refund under offline limits whose body has no claim: %v", err)
	}
	// Ten tills' cashiers at once, a tea each: 900.00 is left of the day.
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Go(func() { errs[i] = refund(fmt.Sprintf("c%d", i), 1, lim, true) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.As(err, &le) || le.Limit != LimitOfflineReturnsPerDay || le.Used != 1200_00 || le.Asked != 300_00:
			t.Errorf("a tea past the day's limit: %v", err)
		}
	}
	if ok != 3 {
		t.Errorf("%d of ten racing returns passed, want 3 (1200.00 a day, 300.00 each)", ok)
	}
	// The next day counts afresh: the last tea of five.
	next := *lim
	next.Since = testEpoch.Add(time.Hour)
	if err := refund("d2", 1, &next, true); err != nil {
		t.Errorf("the next day: %v", err)
	}
	if err := refund("d3", 1, &next, true); !errors.Is(err, ErrOverReturn) {
		t.Errorf("a sixth tea of a receipt of five: %v, want ErrOverReturn", err)
	}
}
