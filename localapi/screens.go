package localapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

// The screens (the cashier's page at / and the customer's display at
// /display) follow the till's event stream: scans from the till, and what
// the POS app does through this API, published by the handlers as the
// views below. A view carries what the screens show and nothing more: the
// card masked, no holder's personal data but the greeting the rules built.

// BasketView is a quote or a sale as the screens show it ("quote" and
// "sale" events): the lines, every discount with its reason, what was
// dropped (in explain mode), the totals and points; after a sale, the
// receipt's figures, the card's new figures and whether to ask the NPS
// question.
type BasketView struct {
	SaleID         string           `json:"sale_id,omitempty"`
	Seq            uint64           `json:"seq,omitempty"`
	ReceiptCode    string           `json:"receipt_code,omitempty"`
	Card           string           `json:"card,omitempty"`
	Currency       string           `json:"currency"`
	Lines          []pos.PricedLine `json:"lines"`
	Subtotal       money.Amount     `json:"subtotal"`
	Discount       money.Amount     `json:"discount"`
	Total          money.Amount     `json:"total"`
	PointsEarned   int64            `json:"points_earned"`
	PointsRedeemed int64            `json:"points_redeemed,omitempty"`
	Tier           string           `json:"tier,omitempty"`
	Applied        []pos.Applied    `json:"applied"`
	Dropped        []pos.Dropped    `json:"dropped,omitempty"`
	Greeting       string           `json:"greeting,omitempty"`
	Flags          []string         `json:"flags,omitempty"`
	AskNPS         bool             `json:"ask_nps,omitempty"`
	// Customer is the card's account after the sale, for the figures.
	Customer *till.Customer    `json:"customer,omitempty"`
	Welcome  *discount.Welcome `json:"welcome,omitempty"`
}

func basketView(q pos.Quote, card string) BasketView {
	return BasketView{Card: pos.MaskCard(card), Currency: q.Currency, Lines: q.Lines, Subtotal: q.Subtotal, Discount: q.Discount,
		Total: q.Total, PointsEarned: q.PointsEarned, PointsRedeemed: q.PointsRedeemed, Tier: q.Tier, Applied: q.Applied,
		Dropped: q.Dropped, Greeting: q.Greeting, Flags: q.Flags}
}

// FeedbackView is a recorded NPS answer as the screens show it.
type FeedbackView struct {
	SaleID string `json:"sale_id"`
	Score  int    `json:"score"`
	Card   string `json:"card,omitempty"`
}

// CustomerView is a card holder signed up or corrected at the till.
type CustomerView struct {
	Card    string `json:"card"`
	Created bool   `json:"created"`
}

// publishSale publishes a recorded sale with the card's new figures.
func (a *api) publishSale(res till.SaleResult) {
	v := basketView(res.Quote, res.Card)
	v.SaleID, v.Seq, v.ReceiptCode, v.AskNPS = res.ID, res.Seq, res.ReceiptCode, res.AskNPS
	v.Greeting = res.Greeting
	if res.Card != "" {
		c, welcome, err := a.Till.AccountWelcome(res.Card)
		if err == nil {
			c.Card, c.Holder = v.Card, nil
			v.Customer = &c
		}
		v.Welcome = welcome
	}
	a.Till.Publish("sale", v)
}

// scanRewards answers what the card of a scan can get for its points now
// (GET /v1/scans/{id}/rewards, id the scan event's id on the stream): the
// cashier's page has the card only masked, so it names the scan instead.
// Only a card scanned at this till, of an event the till still keeps,
// is answered: the page cannot look up any card it likes. The answer
// (discount.Rewards) carries the balance the scan event already shows and
// the catalog, no holder.
func (a *api) scanRewards(w http.ResponseWriter, r *http.Request) {
	ev, ok := a.scanEvent(r.PathValue("id"))
	if !ok || ev.Card == "" {
		wire.WriteError(w, http.StatusNotFound, "no_such_scan", "The till keeps no card scan of that id: scan the card again.")
		return
	}
	rw, err := a.Till.Rewards(ev.Card, ev.CardType, pos.Basket{})
	if err != nil {
		a.fail(w, r, "rewards", err, about{})
		return
	}
	wire.WriteJSON(w, http.StatusOK, rw)
}

// scanEvent finds the scan event of an id ("boot-seq", as the stream
// gives it) among those the till keeps.
func (a *api) scanEvent(id string) (till.ScanEvent, bool) {
	boot, seq, ok := strings.Cut(id, "-")
	n, err := strconv.ParseUint(seq, 10, 64)
	if !ok || err != nil || n == 0 {
		return till.ScanEvent{}, false
	}
	missed, _, cancel := a.Till.Follow(boot + "-" + strconv.FormatUint(n-1, 10))
	cancel()
	if len(missed) == 0 || missed[0].Seq != n || a.Till.EventID(missed[0]) != id {
		return till.ScanEvent{}, false
	}
	ev, ok := missed[0].Data.(till.ScanEvent)
	return ev, ok
}
