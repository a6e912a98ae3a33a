package till

import (
	"time"

	"github.com/tilld/tilld/discount"

	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/pos"
)

// ScanEvent is what the till screen hears when a reader delivers something: a
// loyalty card with its customer, a product code, or a scan that made no sense.
type ScanEvent struct {
	Reader   string    `json:"reader"`
	At       time.Time `json:"at"`
	Kind     string    `json:"kind"`                // what the reader delivered: uid, barcode, track
	Card     string    `json:"card,omitempty"`      // the card number, when it is a loyalty card
	CardType string    `json:"card_type,omitempty"` // ean13, uid, pan, ...
	Product  string    `json:"product,omitempty"`   // a product code (the POS app adds it to the basket)
	Customer *Customer `json:"customer,omitempty"`
	// Welcome is what the screens show of the card before any basket: the
	// greeting the rules build, the tier's privileges, the next tier.
	Welcome *discount.Welcome `json:"welcome,omitempty"`
	Error   string            `json:"error,omitempty"` // why the scan was not understood
	// Refreshed marks the second event of a scan: HQ's answer changed the
	// card's figures after the first was shown.
	Refreshed bool `json:"refreshed,omitempty"`
}

// HandleScan identifies a scan and tells every subscriber. It is the device
// manager's OnScan.
func (t *Till) HandleScan(s device.Scan) {
	ev := ScanEvent{Reader: s.Source, At: s.At, Kind: string(s.Kind)}
	card, err := device.Identify(s, t.opts.Cards)
	switch {
	case err != nil:
		ev.Error = err.Error()
		t.log.Info("scan not understood", "reader", s.Source, "err", err)
	case card.Product:
		ev.Product = card.Number
	default:
		ev.Card, ev.CardType = card.Number, string(card.Kind)
		t.log.Info("card scanned", "reader", s.Source, "card", pos.MaskCard(card.Number))
		// Greet at once from what the till knows; then ask HQ, and when its
		// answer changes the card's figures, tell the screens again.
		t.fill(&ev)
		if t.opts.Lookup == nil {
			break
		}
		t.publish(ev)
		before := ev.Customer
		t.lookup(card.Number)
		t.fill(&ev)
		if before != nil && ev.Customer != nil && before.Points == ev.Customer.Points &&
			before.LifetimeSpend == ev.Customer.LifetimeSpend && before.Sales == ev.Customer.Sales {
			return
		}
		ev.Refreshed = true
	}
	t.publish(ev)
}

// fill sets a card's scan event's customer and welcome from the till's
// view of its account.
func (t *Till) fill(ev *ScanEvent) {
	c, err := t.account(ev.Card)
	if err != nil {
		t.log.Error("account for scanned card", "card", pos.MaskCard(ev.Card), "err", err)
		return
	}
	ev.Customer = &c
	ev.Welcome = t.Welcome(ev.Card)
}

func (t *Till) publish(ev ScanEvent) { t.Publish("scan", ev) }

// Present makes a software reader deliver data, as if a card were presented.
func (t *Till) Present(reader, data string) error {
	if t.opts.Present == nil {
		return ErrUnknownReader
	}
	return t.opts.Present(reader, data)
}

// Welcome builds what the screens show of a card the moment it is
// presented (discount.Greet); nil without rules.
func (t *Till) Welcome(card string) *discount.Welcome {
	a, err := t.active()
	if err != nil {
		return nil
	}
	acct, _, _, err := t.read(card)
	if err != nil {
		return nil
	}
	return t.welcome(a, card, acct)
}

// AccountWelcome is Account and Welcome of a card already parsed from one
// read of the ledger: the screens' event of a sale shows both.
func (t *Till) AccountWelcome(card string) (Customer, *discount.Welcome, error) {
	c, acct, a, err := t.view(card)
	if err != nil || a == nil {
		return c, nil, err
	}
	return c, t.welcome(a, card, acct), nil
}

// welcome is Welcome with the rules and the card's account read.
func (t *Till) welcome(a *activeRules, card string, acct pos.Account) *discount.Welcome {
	scope := pos.Basket{Card: card}
	t.place(&scope)
	w, err := discount.Greet(a.rs, scope, &acct, t.opts.Now())
	if err != nil {
		t.log.Warn("greeting", "card", pos.MaskCard(card), "err", err)
		return nil
	}
	return &w
}
