// Package hq is the headquarters side of tilld: it takes the terminals' ledger
// events exactly once, publishes rulesets, and answers reports. Storage sits behind
// Store, implemented on an embedded bbolt file (hq/boltstore) for a small chain or
// a demo; every implementation passes the suite in hq/storetest.
package hq

import (
	"context"
	"errors"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/sync/wire"
)

// Errors a Store returns.
var (
	// ErrBrokenChain: an event does not follow the last one HQ holds for its
	// terminal (wrong prev hash or a hash that does not match its content).
	ErrBrokenChain = errors.New("event chain broken")
	// ErrOldRuleset: a ruleset is published with a version not above the current one.
	ErrOldRuleset = errors.New("ruleset version is not newer than the current one")
	// ErrNoRuleset: nothing has been published yet.
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

// Store keeps what HQ knows. Implementations are safe for concurrent use.
type Store interface {
	// Append stores the events of one terminal that directly extend what the store
	// holds (seq = acked+1, prev = the held event's hash), skips the ones it already
	// holds, ignores ones beyond a gap, and returns the new acked seq: the highest
	// seq such that every event 1..seq is held. An event that should extend the
	// chain but does not link to it stops the batch with ErrBrokenChain (wrapped in
	// an *event.ChainError), keeping the events before it.
	// Each stored sale adds its total to the terminal's report.
	Append(ctx context.Context, terminal string, events []event.Event) (acked uint64, err error)
	// Acked returns the terminal's acked seq (0 when it never uploaded).
	Acked(ctx context.Context, terminal string) (uint64, error)
	// SalesReport returns one line per terminal that uploaded, ordered by terminal.
	SalesReport(ctx context.Context) ([]wire.TerminalSales, error)
	// PublishRuleset stores a new current ruleset; ErrOldRuleset unless its version
	// is above the current one.
	PublishRuleset(ctx context.Context, rs Ruleset) error
	// CurrentRuleset returns the newest ruleset, ErrNoRuleset when none.
	CurrentRuleset(ctx context.Context) (Ruleset, error)
	Close() error
}
