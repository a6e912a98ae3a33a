// Package event defines the ledger event: the unit a terminal records durably,
// chains by hash, and forwards to HQ. Terminal and HQ compute the same hash from
// the same fields, so either side can verify a chain.
package event

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Types of event.
const (
	TypeSale = "sale"
	// TypeRefund is a return against an earlier sale (a pos.Refund).
	TypeRefund = "refund"
	// TypeFeedback is a customer's answer to the NPS question after a sale
	// (a pos.Feedback).
	TypeFeedback = "feedback"
)

// Event is one entry of a terminal's ledger. Seq is gap-free per terminal and
// starts at 1; Prev is the Hash of the event with Seq-1 (empty for Seq 1).
// Body is the full content (for a sale, a pos.Sale as JSON), stored byte for byte,
// so its hash never depends on how a reader re-encodes it.
type Event struct {
	Terminal       string          `json:"terminal"`
	Seq            uint64          `json:"seq"`
	ID             string          `json:"id"`
	Type           string          `json:"type"`
	At             time.Time       `json:"at"`
	RulesetVersion int64           `json:"ruleset_version"`
	RulesetHash    string          `json:"ruleset_hash,omitempty"`
	Prev           string          `json:"prev,omitempty"`
	Hash           string          `json:"hash"`
	Body           json.RawMessage `json:"body"`
}

// ComputeHash returns the hex SHA-256 of the event's canonical encoding: every
// field but Hash, each length-prefixed, the time as UTC nanoseconds.
func (e *Event) ComputeHash() string {
	const domain = "tilld-event-v1"
	// Seven length-prefixed fields and three numbers, eight bytes each.
	b := make([]byte, 0, 10*8+len(domain)+len(e.Terminal)+len(e.ID)+len(e.Type)+len(e.RulesetHash)+len(e.Prev)+len(e.Body))
	b = appendField(b, domain)
	b = appendField(b, e.Terminal)
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	b = appendField(b, e.ID)
	b = appendField(b, e.Type)
	b = binary.BigEndian.AppendUint64(b, uint64(e.At.UTC().UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(e.RulesetVersion))
	b = appendField(b, e.RulesetHash)
	b = appendField(b, e.Prev)
	b = appendField(b, e.Body)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// appendField appends s preceded by its length as a big-endian uint64.
func appendField[T ~string | ~[]byte](b []byte, s T) []byte {
	return append(binary.BigEndian.AppendUint64(b, uint64(len(s))), s...)
}

// Errors found by Verify.
var (
	ErrGap       = errors.New("sequence gap")
	ErrBadHash   = errors.New("hash does not match content")
	ErrBadLink   = errors.New("prev does not match the previous event's hash")
	ErrEmptyBody = errors.New("empty body")
)

// ChainError says which event broke a chain and how.
type ChainError struct {
	Terminal string
	Seq      uint64
	Err      error
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("terminal %s seq %d: %v", e.Terminal, e.Seq, e.Err)
}

func (e *ChainError) Unwrap() error { return e.Err }

// Verify checks that next follows the event (prevSeq, prevHash) in one terminal's
// chain and that its hash matches its content. Use 0 and "" for the first event.
func Verify(prevSeq uint64, prevHash string, next *Event) error {
	fail := func(err error) error { return &ChainError{Terminal: next.Terminal, Seq: next.Seq, Err: err} }
	switch {
	case next.Seq != prevSeq+1:
		return fail(fmt.Errorf("%w: want seq %d", ErrGap, prevSeq+1))
	case next.Prev != prevHash:
		return fail(ErrBadLink)
	case len(next.Body) == 0:
		return fail(ErrEmptyBody)
	case next.ComputeHash() != next.Hash:
		return fail(ErrBadHash)
	}
	return nil
}

// Epoch names one of a terminal's chains. A terminal's first ledger writes
// the chain with the empty ID; a ledger that finds HQ holds other events under
// seqs it used (it was restored from a backup, or started empty) continues in
// a new epoch, and so does every ledger created empty: its events from
// BaseSeq+1 on chain from BaseHash, the hash of event BaseSeq of the Parent
// epoch (0 and "" when the chain starts from nothing). HQ keeps each epoch's
// events beside the others, so no recovery path overwrites an acknowledged
// event. An event's hash does not cover its epoch: the epoch is where an
// event is filed, its hash is what it is.
type Epoch struct {
	ID       string `json:"id"`
	Parent   string `json:"parent,omitempty"`
	BaseSeq  uint64 `json:"base_seq,omitempty"`
	BaseHash string `json:"base_hash,omitempty"`
}

// MaxEpochLen bounds an epoch's ID. IDs use the characters of terminal ids.
const MaxEpochLen = 64

// CheckEpochID reports whether id may name an epoch: empty (a terminal's
// first chain) or at most MaxEpochLen letters, digits, '.', '_' and '-'.
func CheckEpochID(id string) error {
	if len(id) > MaxEpochLen {
		return fmt.Errorf("epoch id of %d bytes, at most %d allowed", len(id), MaxEpochLen)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("epoch id %q: unexpected character %q", id, r)
		}
	}
	return nil
}
