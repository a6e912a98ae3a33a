package hq

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
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
	Sales  []SaleFacts // what the sale and refund events among Events say, same order
	// Feedback is what the feedback events among Events say, same order:
	// the store keeps each with the events.
	Feedback []Feedback
	Next     Watermark
	// Acked is the highest seq of the upload that HQ holds byte for byte once
	// Events are stored (0 when none): the terminal's events 1..Acked are HQ's,
	// since each hash covers the one before. It is what HQ acknowledges, never
	// the watermark alone: a terminal restored from a backup must not take
	// events it never sent as acknowledged.
	Acked uint64
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
	// Lots are the card's lots the sale redeemed from, and Expires when the
	// points it earned expire (zero: never): what the card's lots at HQ
	// follow (ApplyLots).
	Lots    []pos.LotUse `json:"lots"`
	Expires time.Time    `json:"points_expire"`

	// Refund is set for a refund event (a pos.Refund): it is no purchase,
	// and its figures are the negatives of what it takes off the card, so
	// that adding it like a sale undoes its part of the sale: Total is minus
	// the spend it takes off, Earned minus the points earned it takes back,
	// Redeemed minus the points paid with it gives back. Back is the money
	// it handed back (goods and the round-up's share).
	Refund bool         `json:"-"`
	Back   money.Amount `json:"-"`
	// ReturnedLots are the lots a refund gives redeemed points back to,
	// SaleAt the time of its sale (the lot it takes earned points off).
	ReturnedLots []pos.PointsLot `json:"-"`
	SaleAt       time.Time       `json:"-"`
	// SaleTerminal and SaleSeq name a refund's sale: its terminal (empty:
	// the refund's own) and seq there; Returned the units of its lines the
	// refund returned (Line from 1, Qty), for HQ's count of each sale's
	// returns across terminals (Returns).
	SaleTerminal string           `json:"-"`
	SaleSeq      uint64           `json:"-"`
	Returned     []pos.ReturnLine `json:"-"`
	// Claim is set for a refund a till took on a receipt's word, without
	// the sale (pos.Refund.Claim): ReconcileClaims replaces what it adds to
	// the card by what the sale allows. RefundID, SaleID (the receipt code
	// then) and Seq (the refund event's) name it in the excess report.
	Claim    *pos.ReceiptClaim `json:"-"`
	RefundID string            `json:"-"`
	SaleID   string            `json:"-"`
	Seq      uint64            `json:"-"`
}

// ApplyLots applies the sale or refund to the lots of a card whose Points
// already include it, as the till's ledger does (pos.Account.SaleLots,
// RefundLots): lots expired at the event's time are gone after it, and
// their points with them.
func (s SaleFacts) ApplyLots(a *pos.Account) {
	if s.Refund {
		a.RefundLots(s.Points(), s.ReturnedLots, s.SaleAt, s.At)
		return
	}
	a.SaleLots(s.Points(), s.Lots, s.At, s.Expires)
}

// Points is what the sale or refund adds to the card's points.
func (s SaleFacts) Points() int64 { return s.Earned - s.Redeemed }

// Overdrawn returns the points newly overdrawn when the card's points go
// from before to after with this event: below zero, and below where they
// were, never more than the sale redeemed (two terminals offline spending
// the same points) or the refund took back (points already spent).
func (s SaleFacts) Overdrawn(before, after int64) int64 {
	limit := s.Redeemed
	if s.Refund {
		limit = -s.Earned
	}
	return max(min(min(before, 0)-after, limit), 0)
}

// refundFacts is what HQ reads of a refund body.
type refundFacts struct {
	Card     string          `json:"card"`
	Currency string          `json:"currency"`
	Spend    money.Amount    `json:"spend"`
	Back     money.Amount    `json:"back"`
	Reversed int64           `json:"points_reversed"`
	Returned int64           `json:"points_returned"`
	Lots     []pos.PointsLot `json:"returned_lots"`
	SaleAt   time.Time       `json:"sale_at"`
	// The sale: its terminal (absent: the refund's) and seq, and the units
	// returned of its lines.
	SaleTerminal string            `json:"sale_terminal"`
	SaleSeq      uint64            `json:"sale_seq"`
	Lines        []pos.ReturnLine  `json:"lines"`
	Claim        *pos.ReceiptClaim `json:"claim"`
	ID           string            `json:"id"`
	SaleID       string            `json:"sale_id"`
}

// decodeRefundFacts reads a refund body as the SaleFacts it adds up as.
func decodeRefundFacts(body []byte) (SaleFacts, error) {
	var r refundFacts
	if err := json.Unmarshal(body, &r); err != nil {
		return SaleFacts{}, err
	}
	if r.Spend < 0 || r.Back < 0 || r.Reversed < 0 || r.Returned < 0 {
		return SaleFacts{}, fmt.Errorf("a refund with a negative amount or points")
	}
	return SaleFacts{Card: r.Card, Currency: r.Currency, Total: -r.Spend, Earned: -r.Reversed, Redeemed: -r.Returned,
		Refund: true, Back: r.Back, ReturnedLots: r.Lots, SaleAt: r.SaleAt,
		SaleTerminal: r.SaleTerminal, SaleSeq: r.SaleSeq, Returned: r.Lines, Claim: r.Claim, RefundID: r.ID, SaleID: r.SaleID}, nil
}

// eventFacts reads what the reports and accounts add up of each type of
// event; a type without an entry adds nothing (it is stored and chained all
// the same).
var eventFacts = map[string]func(body []byte) (SaleFacts, error){
	event.TypeSale:   decodeSaleFacts,
	event.TypeRefund: decodeRefundFacts,
}

// HeldFunc returns the hashes of the events HQ holds under seqs from..to of the
// chain being extended, in seq order, "" for a seq it does not hold. Extend
// asks only for seqs at or below the chain's watermark, at most once per call.
type HeldFunc func(from, to uint64) ([]string, error)

// Extend decides which of a terminal's uploaded events extend its chain from w.
// Every Store implementation calls it inside its own transaction, so all of them
// deduplicate and verify the same way.
//
// An event under a seq HQ already holds is compared with HQ's by hash (its
// content's, recomputed): the same is a duplicate (at-least-once delivery,
// exactly-once effect), another is a fork, a *ForkError: the events before it
// are acknowledged and nothing is stored. An event above w that does not link
// is an *event.ChainError wrapping ErrBrokenChain; the Extension still holds the
// events before the break, which the store keeps. Any other error is held's.
func Extend(terminal string, w Watermark, held HeldFunc, events []event.Event) (Extension, error) {
	evs := append([]event.Event(nil), events...)
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Seq < evs[j].Seq })
	x := Extension{Next: w}
	for i := range evs {
		switch {
		case evs[i].Terminal != terminal:
			return x, &event.ChainError{Terminal: terminal, Seq: evs[i].Seq,
				Err: fmt.Errorf("%w: event names terminal %q", ErrBrokenChain, evs[i].Terminal)}
		case evs[i].Seq == 0:
			return x, &event.ChainError{Terminal: terminal, Err: fmt.Errorf("%w: an event with seq 0", ErrBrokenChain)}
		}
	}
	// The upload's events at or below the watermark: compare, never skip on the
	// seq alone. One look-up covers them and the event before the first, which
	// tells whether a fork at the first one is right after what matches.
	var heldHashes []string
	var heldFrom uint64
	if len(evs) > 0 && evs[0].Seq <= w.Seq {
		heldFrom = max(evs[0].Seq, 2) - 1
		to := w.Seq
		for _, e := range evs {
			if e.Seq <= w.Seq {
				to = e.Seq
			}
		}
		var err error
		if heldHashes, err = held(heldFrom, to); err != nil {
			return x, fmt.Errorf("read held events %d..%d: %w", heldFrom, to, err)
		}
	}
	heldHash := func(seq uint64) string {
		if seq < heldFrom || seq-heldFrom >= uint64(len(heldHashes)) {
			return ""
		}
		return heldHashes[seq-heldFrom]
	}
	for i := range evs {
		e := &evs[i]
		switch {
		case e.Seq <= w.Seq:
			// Sorted: nothing is stored yet when one of these parts from HQ's.
			if want := heldHash(e.Seq); e.Hash == want && e.ComputeHash() == want {
				x.Acked = max(x.Acked, e.Seq)
				continue
			}
			f := &ForkError{Terminal: terminal, At: e.Seq, Head: w, Acked: x.Acked}
			if prev := e.Seq - 1; prev == 0 && e.Prev == "" || prev > 0 && e.Prev != "" && e.Prev == heldHash(prev) {
				f.Acked = prev // HQ holds the event this one follows
			}
			return Extension{Next: w, Acked: f.Acked}, f
		case e.Seq <= x.Next.Seq:
			// The same seq twice in one upload: the first one was stored.
			if e.Hash == x.Events[len(x.Events)-int(x.Next.Seq-e.Seq)-1].Hash && e.ComputeHash() == e.Hash {
				continue
			}
			return x, &event.ChainError{Terminal: terminal, Seq: e.Seq,
				Err: fmt.Errorf("%w: two different events under one seq in one upload", ErrBrokenChain)}
		}
		if e.Seq > x.Next.Seq+1 {
			return x, nil // a gap: keep what links, the terminal sends the rest again
		}
		if err := event.Verify(x.Next.Seq, x.Next.Hash, e); err != nil {
			return x, fmt.Errorf("%w: %w", ErrBrokenChain, err)
		}
		if decode := eventFacts[e.Type]; decode != nil {
			s, err := decode(e.Body)
			if err != nil {
				return x, &event.ChainError{Terminal: terminal, Seq: e.Seq,
					Err: fmt.Errorf("%w: %s body: %v", ErrBrokenChain, e.Type, err)}
			}
			s.At, s.Seq = e.At, e.Seq
			if s.Refund && s.SaleTerminal == "" {
				s.SaleTerminal = terminal
			}
			x.Sales = append(x.Sales, s)
		}
		if e.Type == event.TypeFeedback {
			f, err := decodeFeedback(e)
			if err != nil {
				return x, &event.ChainError{Terminal: terminal, Seq: e.Seq,
					Err: fmt.Errorf("%w: feedback body: %v", ErrBrokenChain, err)}
			}
			x.Feedback = append(x.Feedback, f)
		}
		x.Events = append(x.Events, *e)
		x.Next = Watermark{Seq: e.Seq, Hash: e.Hash}
		x.Acked = e.Seq
	}
	return x, nil
}

// ForkError says an upload carries another event under a seq HQ holds for the
// same chain: the terminal's ledger was restored from a backup, started empty,
// or copied to another till. Nothing of the upload is stored.
type ForkError struct {
	Terminal string
	Epoch    string
	At       uint64    // the first seq whose event differs from HQ's
	Acked    uint64    // the terminal's events 1..Acked are HQ's, byte for byte
	Head     Watermark // where HQ's copy of the chain ends
}

func (e *ForkError) Error() string {
	return fmt.Sprintf("terminal %s epoch %q: seq %d differs from the event HQ holds (HQ holds the chain up to %d): the till's ledger was restored or started anew; it must continue in a new epoch",
		e.Terminal, e.Epoch, e.At, e.Head.Seq)
}

func (e *ForkError) Unwrap() error { return ErrFork }

// IsBrokenChain reports whether err says an upload did not link to HQ's chain.
func IsBrokenChain(err error) bool { return errors.Is(err, ErrBrokenChain) }

// IsFork reports whether err says an upload parts from what HQ holds.
func IsFork(err error) bool { return errors.Is(err, ErrFork) }

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
