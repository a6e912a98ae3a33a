// Package hq is the headquarters side of tilld: it takes the terminals' ledger
// events exactly once, publishes rulesets, and answers reports. Storage sits behind
// Store, implemented on an embedded bbolt file (hq/boltstore) for a small chain or
// a demo; every implementation passes the suite in hq/storetest.
package hq

import (
	"context"
	"errors"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
)

// Errors a Store returns.
var (
	// ErrBrokenChain: an event does not follow the last one HQ holds for its
	// terminal (wrong prev hash or a hash that does not match its content).
	ErrBrokenChain = errors.New("event chain broken")
	// ErrFork: an upload carries another event under a seq HQ holds for the
	// same chain (a *ForkError says where).
	ErrFork = errors.New("upload parts from the chain HQ holds")
	// ErrNoChain: the terminal has no chain under the epoch asked for.
	ErrNoChain = errors.New("no such chain")
	// ErrOldRuleset: a ruleset is published with a version not above the current one.
	ErrOldRuleset = errors.New("ruleset version is not newer than the current one")
	// ErrNoRuleset: nothing has been published yet, or not the version asked for.
	ErrNoRuleset = errors.New("no ruleset published yet")
)

// Ruleset is a published ruleset: its version, the SHA-256 hex of Raw, the file
// exactly as published, and HQ's Ed25519 signature of it (wire.SignRules).
type Ruleset struct {
	Version   int64
	Hash      string
	Raw       []byte
	Signature []byte
}

// FromStart says whether Changes reads a terminal's feed from the start: its
// position after is of another feed than id (feed "" is this one), or is
// not one this feed has given (below 0, past head). Both stores decide so.
func FromStart(feed, id string, after, head int64) bool {
	return (feed != "" && feed != id) || after < 0 || after > head
}

// Store keeps what HQ knows. Implementations are safe for concurrent use.
type Store interface {
	// Append is AppendEpoch of the terminal's first chain (the zero Epoch).
	Append(ctx context.Context, terminal string, events []event.Event) (acked uint64, err error)
	// AppendEpoch stores the events of one of a terminal's chains that extend
	// what the store holds of it, as Extend decides inside the store's
	// transaction: it compares the events it holds by hash, ignores ones beyond
	// a gap, and returns Extension.Acked, the highest seq of the upload it holds
	// byte for byte. An event that differs from the one held under its seq is a
	// *ForkError and nothing is stored; one that should extend the chain but
	// does not link stops the batch with ErrBrokenChain (wrapped in an
	// *event.ChainError), keeping the events before it. A chain the store does
	// not have is created by its first upload that stores an event (OpenChain),
	// and the chain an upload stores events in becomes the terminal's head:
	// Acked and an Account's AsOf follow it. Each stored sale adds its total to
	// the terminal's report, and its chain's.
	AppendEpoch(ctx context.Context, terminal string, epoch event.Epoch, events []event.Event) (acked uint64, err error)
	// Acked returns the acked seq of the terminal's head chain (0 when it
	// never uploaded).
	Acked(ctx context.Context, terminal string) (uint64, error)
	// Chains returns the terminal's chains, oldest first, the head marked;
	// none when it never uploaded.
	Chains(ctx context.Context, terminal string) ([]wire.Chain, error)
	// ChainEvents returns the chain of the epoch and up to limit of the
	// events a ledger of that epoch holds after seq after, in seq order: its
	// parents' up to its base, then its own, exactly as uploaded.
	// ErrNoChain when the terminal has no such chain.
	ChainEvents(ctx context.Context, terminal, epoch string, after uint64, limit int) (wire.Chain, []event.Event, error)
	// SalesReport returns one line per terminal that uploaded, ordered by terminal.
	SalesReport(ctx context.Context) ([]wire.TerminalSales, error)
	// PublishRuleset stores a new current ruleset; ErrOldRuleset unless its version
	// is above the current one.
	PublishRuleset(ctx context.Context, rs Ruleset) error
	// CurrentRuleset returns the newest ruleset, ErrNoRuleset when none.
	CurrentRuleset(ctx context.Context) (Ruleset, error)
	// Ruleset returns the published ruleset of the version, ErrNoRuleset
	// when HQ never published it.
	Ruleset(ctx context.Context, version int64) (Ruleset, error)
	// Rulesets returns up to limit published rulesets with a version below
	// before (any when before <= 0), newest first.
	Rulesets(ctx context.Context, before int64, limit int) ([]Ruleset, error)
	Customers
	Audits
	Feedbacks
	Returns
	Close() error
}

// Customers is the part of a Store that keeps one account per card across every
// store, and the card holders' personal data.
//
// Append adds each stored sale with a card to the card's account: its total to
// the lifetime spend, its points earned minus redeemed to the points, one sale,
// the latest sale time. A sale that takes the points below zero records an
// overdraft (points redeemed beyond the balance, typically by two terminals
// offline at once); later earnings pay it back as they raise the points. Append
// also marks the card as seen by the terminal. Every change of a card's account
// or holder takes the next position of one change feed, in commit order.
type Customers interface {
	// PutHolders stores card holders: from the terminal that registered them,
	// or from an import (terminal ""). Of two versions of a card's holder the
	// one with the later Updated wins; a holder Updated at or before the card
	// was forgotten is refused (a till's stale copy). A terminal's holders mark
	// their cards as seen by it and, stored or refused, move their cards on in
	// the change feed, so that the terminal learns HQ's version (a newer one,
	// or that the holder was forgotten). It returns how many it stored.
	PutHolders(ctx context.Context, terminal string, holders []pos.CardHolder) (stored int, err error)
	// Holder returns the card's holder; ok is false when none is known.
	Holder(ctx context.Context, card string) (h pos.CardHolder, ok bool, err error)
	// ForgetHolder erases the card holder's personal data from the store and
	// records when, so that a stale copy is never stored again; the card's
	// account and every event stay. It reports whether there was a holder.
	ForgetHolder(ctx context.Context, card string, at time.Time) (bool, error)
	// Account returns the card's account for terminal, with AsOf set to the
	// terminal's acked seq read in the same transaction, and marks the card as
	// seen by the terminal (unless terminal is "", HQ staff looking).
	Account(ctx context.Context, terminal, card string) (wire.AccountAnswer, error)
	// Changes returns up to limit accounts of the cards the terminal has seen
	// whose change position is above after, in change order, Next: the
	// position to continue after (after itself when nothing changed), and
	// Feed: the feed's identity. after is a position in the feed of identity
	// feed: one of another feed, or past the feed's head (HQ's store
	// restored from a backup, or another HQ's), reads from the start; feed
	// "" is a terminal that keeps its position in memory only, and means
	// this feed.
	Changes(ctx context.Context, terminal, feed string, after int64, limit int) (wire.ChangesAnswer, error)
	// RenewFeed gives the change feed a new identity, for a store restored
	// from a backup whose identity did not change with it (docs/sync.md):
	// every terminal reads the feed from the start at its next poll. It
	// returns the identity Changes answers from now on.
	RenewFeed(ctx context.Context) (string, error)
	// Watching returns those of terminals that have seen a card whose change
	// position is above after (the ones whose change feed has something),
	// and the feed's last position (after itself when nothing changed): one
	// read for all of HQ's waiting terminals when cards changed.
	Watching(ctx context.Context, after int64, terminals []string) (watching []string, last int64, err error)
	// Overdrafts returns every card that was ever overdrawn, by card.
	Overdrafts(ctx context.Context) ([]wire.Overdraft, error)
	// HoldersByPhone returns up to limit holders whose phone's digits
	// (PhoneDigits) end with digits, by card. digits is what PhoneDigits
	// gives, at least MinPhoneDigits long.
	HoldersByPhone(ctx context.Context, digits string, limit int) ([]pos.CardHolder, error)
	// CardEvents returns up to limit of the sale and refund events that name
	// the card, from every terminal and chain, newest first (by the event's
	// time, then terminal and seq, both descending).
	CardEvents(ctx context.Context, card string, limit int) ([]CardEvent, error)
}

// CardEvent is a sale or refund event of a card, with the chain it is in.
type CardEvent struct {
	Epoch string
	event.Event
}

// MinPhoneDigits is the fewest digits a phone search takes: the last four
// of a number already narrow a chain's customers to a screenful.
const MinPhoneDigits = 4

// PhoneDigits is a phone number as HQ searches it: its digits only, so that
// "+7 900 123-45-67", "8 (900) 1234567" and "9001234567" all end in the same
// digits. A search matches the end of the number (what a caller reads out,
// and with or without the country code or trunk prefix).
func PhoneDigits(phone string) string {
	b := make([]byte, 0, len(phone))
	for i := 0; i < len(phone); i++ {
		if c := phone[i]; c >= '0' && c <= '9' {
			b = append(b, c)
		}
	}
	return string(b)
}
