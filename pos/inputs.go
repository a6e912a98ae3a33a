package pos

import (
	"errors"
	"time"
)

// NewSaleInputs returns what a sale of basket b, priced against acct (nil
// without a card) at the till's wall-clock time at, keeps for HQ's audit.
// ReplayInputs is its inverse: the two are kept side by side so that the
// till's side and HQ's agree.
func NewSaleInputs(b Basket, acct *Account, at time.Time) *SaleInputs {
	_, offset := at.Zone()
	in := &SaleInputs{Store: b.Store, Region: b.Region, RedeemPoints: b.RedeemPoints, Donate: b.Donate, UTCOffset: offset}
	if acct != nil {
		a := *acct
		a.Profile = nil // personal data: never in an event
		if b.RedeemPoints <= 0 {
			a.Lots = nil // read only to pay with points; a regular's lots are many
		}
		in.Account = &a
	}
	return in
}

// ErrNoInputs: a sale recorded before tills kept what they priced with
// (SaleInputs) cannot be priced again.
var ErrNoInputs = errors.New("the sale does not say what it was priced with")

// ReplayInputs returns the basket, the account (nil without a card) and the
// till's wall-clock time to price sale s again, as terminal priced it at
// time at. The holder's profile is not in a sale: the account has none (when
// the quote says Birthday, the caller gives it a birthday that puts the
// customer inside the windows of the birthday rules that applied). ErrNoInputs
// when s has no Inputs.
func ReplayInputs(s Sale, terminal string, at time.Time) (Basket, *Account, time.Time, error) {
	in := s.Inputs
	if in == nil {
		return Basket{}, nil, time.Time{}, ErrNoInputs
	}
	b := Basket{Card: s.Card, Lines: make([]Line, len(s.Lines)), RedeemPoints: in.RedeemPoints, Donate: in.Donate,
		Store: in.Store, Region: in.Region, Terminal: terminal}
	for i, l := range s.Lines {
		b.Lines[i] = l.Line
	}
	at = at.In(time.FixedZone("", in.UTCOffset))
	if s.Card == "" {
		return b, nil, at, nil
	}
	var a Account
	if in.Account != nil {
		a = *in.Account
	}
	a.Card, a.Profile = s.Card, nil
	return b, &a, at, nil
}
