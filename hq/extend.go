package hq

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/money"
)

// Watermark is where a terminal's chain stands at HQ: every event 1..Seq is held
// and Hash is the hash of event Seq.
type Watermark struct {
	Seq  uint64
	Hash string
}

// Extension is what Extend decided: the events to store, in order, and where the
// chain stands after them, with what each sale adds to the report.
type Extension struct {
	Events []event.Event
	Sales  []SaleFacts // what the sale events among Events say, same order
	Next   Watermark
}

// SaleFacts is what HQ reads of a sale event's body: what the sales report and
// the card's account add up. Extend decodes these fields only.
type SaleFacts struct {
	Card     string       `json:"card"`
	Currency string       `json:"currency"`
	Total    money.Amount `json:"total"`
	Earned   int64        `json:"points_earned"`
	Redeemed int64        `json:"points_redeemed"`
	// BirthdayBonus is the points the sale's birthday bonus gave: the
	// card's bonus for this birthday is spent (pos.Account.BirthdayBonus).
	BirthdayBonus int64     `json:"birthday_bonus"`
	At            time.Time `json:"-"` // the event's time
}

// Extend decides which of a terminal's uploaded events extend its chain from w.
// Every Store implementation calls it inside its own transaction, so all of them
// deduplicate and verify the same way. The returned error, when not nil, is an
// *event.ChainError wrapping ErrBrokenChain; the Extension still holds the events
// before the break, which the store keeps.
func Extend(terminal string, w Watermark, events []event.Event) (Extension, error) {
	evs := append([]event.Event(nil), events...)
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Seq < evs[j].Seq })
	x := Extension{Next: w}
	for i := range evs {
		e := &evs[i]
		if e.Terminal != terminal {
			return x, &event.ChainError{Terminal: terminal, Seq: e.Seq,
				Err: fmt.Errorf("%w: event names terminal %q", ErrBrokenChain, e.Terminal)}
		}
		switch {
		case e.Seq <= x.Next.Seq:
			continue // already held: at-least-once delivery, exactly-once effect
		case e.Seq > x.Next.Seq+1:
			return x, nil // a gap: keep what links, the terminal sends the rest again
		}
		if err := event.Verify(x.Next.Seq, x.Next.Hash, e); err != nil {
			return x, fmt.Errorf("%w: %w", ErrBrokenChain, err)
		}
		if e.Type == event.TypeSale {
			s, err := decodeSaleFacts(e.Body)
			if err != nil {
				return x, &event.ChainError{Terminal: terminal, Seq: e.Seq,
					Err: fmt.Errorf("%w: sale body: %v", ErrBrokenChain, err)}
			}
			s.At = e.At
			x.Sales = append(x.Sales, s)
		}
		x.Events = append(x.Events, *e)
		x.Next = Watermark{Seq: e.Seq, Hash: e.Hash}
	}
	return x, nil
}

// IsBrokenChain reports whether err says an upload did not link to HQ's chain.
func IsBrokenChain(err error) bool { return errors.Is(err, ErrBrokenChain) }

// SalesByCard groups the sales that name a card by card, each card's in event
// order (an overdraft depends on it), and returns the cards in byte order, the
// order in which every store locks and writes them.
func SalesByCard(sales []SaleFacts) (byCard map[string][]SaleFacts, cards []string) {
	byCard = map[string][]SaleFacts{}
	for _, s := range sales {
		if s.Card == "" {
			continue
		}
		if _, ok := byCard[s.Card]; !ok {
			cards = append(cards, s.Card)
		}
		byCard[s.Card] = append(byCard[s.Card], s)
	}
	slices.Sort(cards)
	return byCard, cards
}
