package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// Limits on a SaleRequest.
const (
	MaxSaleIDLen = 128
	MaxCardLen   = 128
)

// SaleRequest identifies one sale for idempotency.
type SaleRequest struct {
	// ID is the client's sale id, the idempotency key: non-empty UTF-8, at most
	// MaxSaleIDLen bytes.
	ID string
	// Digest is the sha256 of the client's canonical request. The same ID with
	// another Digest is ErrConflict.
	Digest [32]byte
	// Card is the loyalty card presented, empty when none.
	Card string
	// OfflineSince, when set, says the till cannot reach HQ: the account handed
	// to the price function has Offline set and, in OfflineRedeemedToday, the
	// points the card redeemed in this terminal's sales HQ has not acknowledged
	// that were made at or after OfflineSince (the start of the day), so that
	// the ruleset's offline limits hold across concurrent sales.
	OfflineSince time.Time
}

// Priced is what the caller's pricing returns for a sale.
type Priced struct {
	Body           json.RawMessage // the full sale (a pos.Sale as JSON), stored as the event body
	Spend          money.Amount    // added to the account's lifetime spend
	PointsDelta    int64           // points earned minus points redeemed
	RulesetVersion int64
	RulesetHash    string
}

// PriceFunc prices a sale given the card's account as it is inside the write
// transaction (a zero Account with only Card set when the card has no record; a
// zero Account when the sale has no card) and the time the event will carry.
//
// It runs inside the write transaction, possibly on the goroutine of another
// RecordSale caller (group commit): it must be quick, must not block on I/O, and
// must not call the Ledger's methods (that would deadlock). An error from it
// aborts this sale only and nothing of it is stored.
type PriceFunc func(acct pos.Account, at time.Time) (Priced, error)

// Receipt is what a recorded sale returns to the cashier.
type Receipt struct {
	Seq     uint64
	EventID string
	At      time.Time
	Body    json.RawMessage // the stored body, in canonical form
	// Replayed is true when the sale id was already recorded with the same digest:
	// this is the original receipt and nothing new was stored.
	Replayed bool
}

// RecordSale records a sale durably and returns its receipt only once the
// transaction holding it is on disk (fsynced, unless Options.NoSync).
//
// In one transaction it: returns the stored receipt with Replayed set when
// req.ID was recorded before with the same digest (ErrConflict with another);
// otherwise reads the card's account, calls price, appends the sale event with the
// next seq chained to the previous event's hash (it joins the outbox), and updates
// the account, the sales index and the meta. Bad input is a *pos.InputError; a
// write that did not reach the disk is ErrStorage, and nothing of the sale is
// stored.
//
// It is safe for concurrent use, and concurrent sales share transactions and
// fsyncs (group commit; see commit.go): price may therefore run on another
// goroutine than the caller's, and a panic in it is re-raised in the caller's.
// Seqs stay gap-free whatever the interleaving.
func (l *Ledger) RecordSale(req SaleRequest, price PriceFunc) (Receipt, error) {
	if err := req.validate(); err != nil {
		return Receipt{}, fmt.Errorf("record sale: %w", err)
	}
	op := &commitOp{req: req, price: price, wake: make(chan bool, 1)}
	l.record(op)
	if op.panicked != nil {
		panic(op.panicked)
	}
	if op.err != nil {
		if errors.Is(op.err, ErrConflict) {
			l.log.Warn("sale id reused with a different request", logSaleID, req.ID)
		}
		return Receipt{}, fmt.Errorf("record sale %s: %w", req.ID, op.err)
	}
	r := op.r
	if r.Replayed {
		l.log.Info("sale replayed", logSaleID, req.ID, logSeq, r.Seq)
	} else {
		l.log.Debug("sale recorded", logSaleID, req.ID, logSeq, r.Seq, logCard, pos.MaskCard(req.Card))
	}
	return r, nil
}

func (req SaleRequest) validate() error {
	switch {
	case req.ID == "":
		return &pos.InputError{Field: "id", Problem: "missing"}
	case len(req.ID) > MaxSaleIDLen:
		return &pos.InputError{Field: "id", Problem: fmt.Sprintf("%d bytes, at most %d allowed", len(req.ID), MaxSaleIDLen)}
	case !utf8.ValidString(req.ID):
		return &pos.InputError{Field: "id", Problem: "not valid UTF-8"}
	case len(req.Card) > MaxCardLen:
		return &pos.InputError{Field: "card", Problem: fmt.Sprintf("%d bytes, at most %d allowed", len(req.Card), MaxCardLen)}
	case !utf8.ValidString(req.Card):
		return &pos.InputError{Field: "card", Problem: "not valid UTF-8"}
	}
	return nil
}

// apply records one sale inside tx and adds its writes to rec. It reads,
// prices and encodes everything before its first write, so an error from it leaves tx untouched: a group commit
// applies several sales in one transaction and drops only the failing one. A
// write bbolt refuses after that is a *writeError.
//
// m is the meta as of the sales before; apply moves it on past this one.
func (l *Ledger) apply(tx *bolt.Tx, m *meta, req SaleRequest, price PriceFunc, rec *journalRecord) (Receipt, error) {
	sales := tx.Bucket(bucketSales)
	events := tx.Bucket(bucketEvents)
	if v := sales.Get([]byte(req.ID)); v != nil {
		ref, err := decodeSaleRef(v)
		if err != nil {
			return Receipt{}, err
		}
		if ref.digest != req.Digest {
			return Receipt{}, ErrConflict
		}
		e, err := decodeEvent(events.Get(u64(ref.seq)))
		if err != nil {
			return Receipt{}, fmt.Errorf("read event %d: %w", ref.seq, err)
		}
		return Receipt{Seq: e.Seq, EventID: e.ID, At: e.At, Body: e.Body, Replayed: true}, nil
	}

	var err error
	accounts := tx.Bucket(bucketAccounts)
	acct := pos.Account{Card: req.Card}
	if req.Card != "" {
		if v := accounts.Get([]byte(req.Card)); v != nil {
			if acct, err = decodeAccount(v); err != nil {
				return Receipt{}, fmt.Errorf("card %s: %w", pos.MaskCard(req.Card), err)
			}
		}
	}
	if !req.OfflineSince.IsZero() && req.Card != "" {
		acct.Offline = true
		if acct.OfflineRedeemedToday, err = pendingRedeemed(tx, m.acked, req.Card, req.OfflineSince); err != nil {
			return Receipt{}, err
		}
	}
	at := l.now().UTC()
	p, err := price(acct, at)
	if err != nil {
		return Receipt{}, fmt.Errorf("price: %w", err)
	}
	body, err := canonicalBody(p.Body)
	if err != nil {
		return Receipt{}, fmt.Errorf("price: %w", err)
	}

	seq := m.lastSeq + 1
	e := event.Event{
		Terminal:       m.terminal,
		Seq:            seq,
		ID:             eventID(m.terminal, seq),
		Type:           event.TypeSale,
		At:             at,
		RulesetVersion: p.RulesetVersion,
		RulesetHash:    p.RulesetHash,
		Prev:           m.lastHash,
		Body:           body,
	}
	e.Hash = e.ComputeHash()
	ev, err := encodeEvent(&e)
	if err != nil {
		return Receipt{}, err
	}
	var acctBytes []byte
	if req.Card != "" {
		if err := applyEffect(&acct, effect{spend: p.Spend, points: p.PointsDelta}, body, at); err != nil {
			return Receipt{}, fmt.Errorf("card %s: %w", pos.MaskCard(req.Card), err)
		}
		if acctBytes, err = encodeAccount(acct); err != nil {
			return Receipt{}, err
		}
	}

	// Writes. From here on an error is bbolt's and fails the whole transaction.
	key := u64(seq)
	puts := []put{
		{bucketEvents, key, ev},
		{bucketEffects, key, encodeEffect(effect{card: req.Card, saleID: req.ID, spend: p.Spend, points: p.PointsDelta})},
		{bucketSales, []byte(req.ID), encodeSaleRef(saleRef{seq: seq, digest: req.Digest})},
		{bucketMeta, keyLastSeq, key},
		{bucketMeta, keyLastHash, []byte(e.Hash)},
	}
	if acctBytes != nil {
		puts = append(puts, put{bucketAccounts, []byte(req.Card), acctBytes})
	}
	for _, p := range puts {
		if err := p.do(tx); err != nil {
			return Receipt{}, &writeError{fmt.Errorf("write event %d: %w", seq, err)}
		}
		rec.add(p)
	}
	m.lastSeq, m.lastHash = seq, e.Hash
	return Receipt{Seq: seq, EventID: e.ID, At: at, Body: body}, nil
}

// appendFill is the page fill of the append-only buckets.
const appendFill = 0.95

// put is one write of a sale: apply does it and adds it to the journal
// record, a replay does it again.
type put struct {
	bucket, k, v []byte
}

func (p put) do(tx *bolt.Tx) error {
	b := tx.Bucket(p.bucket)
	if b == nil {
		return fmt.Errorf("no bucket %q", p.bucket)
	}
	if string(p.bucket) == string(bucketEvents) || string(p.bucket) == string(bucketEffects) {
		// Events and effects only ever get a new highest key: fill their pages
		// instead of splitting them in half (bbolt's default, for random inserts).
		b.FillPercent = appendFill
	}
	return b.Put(p.k, p.v)
}

// Account returns the loyalty view of card as this terminal knows it: the HQ
// snapshot of the card (see PutSnapshot) plus the sales recorded here after it.
// ok is false when the card has no record here.
func (l *Ledger) Account(card string) (acct pos.Account, ok bool, err error) {
	if card == "" {
		return pos.Account{}, false, nil
	}
	err = l.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketAccounts).Get([]byte(card))
		if v == nil {
			return nil
		}
		ok = true
		acct, err = decodeAccount(v)
		return err
	})
	if err != nil {
		return pos.Account{}, false, fmt.Errorf("read account %s: %w", pos.MaskCard(card), err)
	}
	return acct, ok, nil
}

// PendingRedeemed returns the points card redeemed in this terminal's sales
// that HQ has not acknowledged yet and that were made at or after since: what a
// till that cannot reach HQ counts against the ruleset's offline limits.
func (l *Ledger) PendingRedeemed(card string, since time.Time) (points int64, err error) {
	err = l.view(func(tx *bolt.Tx) error {
		m, err := readMeta(tx)
		if err != nil {
			return err
		}
		points, err = pendingRedeemed(tx, m.acked, card, since)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("pending redemptions of %s: %w", pos.MaskCard(card), err)
	}
	return points, nil
}

// pendingRedeemed walks the outbox from its newest event back, reading only
// the card's events, and stops at the first of them made before since: a day
// offline costs a look at each pending effect and a decode of the card's
// events of that day only.
func pendingRedeemed(tx *bolt.Tx, acked uint64, card string, since time.Time) (int64, error) {
	var sum int64
	events := tx.Bucket(bucketEvents)
	c := tx.Bucket(bucketEffects).Cursor()
	for k, v := c.Last(); k != nil; k, v = c.Prev() {
		seq, err := seqKey(k)
		if err != nil {
			return 0, fmt.Errorf("effects: %w", err)
		}
		if seq <= acked {
			break
		}
		f, err := decodeEffect(v)
		if err != nil {
			return 0, fmt.Errorf("effect %d: %w", seq, err)
		}
		if f.card != card {
			continue
		}
		var e struct {
			At   time.Time `json:"at"`
			Body struct {
				Redeemed int64 `json:"points_redeemed"`
			} `json:"body"`
		}
		if err := json.Unmarshal(events.Get(k), &e); err != nil {
			return 0, fmt.Errorf("event %d: %w", seq, err)
		}
		if e.At.Before(since) {
			break // sales are recorded in time order
		}
		sum += max(e.Body.Redeemed, 0)
	}
	return sum, nil
}
