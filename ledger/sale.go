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
	// Body is the full sale (a pos.Sale as JSON), stored as the event body.
	// Already canonical (json.Marshal's output), it is kept as it is, and
	// the receipt's Body is it: the caller must not change it afterwards.
	Body           json.RawMessage
	Spend          money.Amount // added to the account's lifetime spend
	PointsDelta    int64        // points earned minus points redeemed
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
	Hash    string          // the event's hash
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
	return l.commitOne(event.TypeSale, req.ID, req.Card, func(tx *bolt.Tx, m *meta, rec *journalRecord) (Receipt, error) {
		return l.apply(tx, m, req, price, rec)
	})
}

// commitOne records one event of type typ under the client's id through the
// group commit (apply records it inside the transaction) and logs what
// happened. A panic in apply is re-raised here, in the caller's goroutine.
func (l *Ledger) commitOne(typ, id, card string, apply func(tx *bolt.Tx, m *meta, rec *journalRecord) (Receipt, error)) (Receipt, error) {
	op := &commitOp{id: id, wake: make(chan bool, 1), apply: apply}
	l.record(op)
	if op.panicked != nil {
		panic(op.panicked)
	}
	if op.err != nil {
		if errors.Is(op.err, ErrConflict) {
			l.log.Warn(typ+" id reused with a different request", logSaleID, id)
		}
		return Receipt{}, fmt.Errorf("record %s %s: %w", typ, id, op.err)
	}
	r := op.r
	if r.Replayed {
		l.log.Info(typ+" replayed", logSaleID, id, logSeq, r.Seq)
	} else {
		l.log.Debug(typ+" recorded", logSaleID, id, logSeq, r.Seq, logCard, pos.MaskCard(card))
	}
	return r, nil
}

// checkClientID checks a client's id of an event (sale, refund): the
// idempotency key, non-empty UTF-8 of at most MaxSaleIDLen bytes.
func checkClientID(id string) error {
	switch {
	case id == "":
		return &pos.InputError{Field: "id", Problem: "missing"}
	case len(id) > MaxSaleIDLen:
		return &pos.InputError{Field: "id", Problem: fmt.Sprintf("%d bytes, at most %d allowed", len(id), MaxSaleIDLen)}
	case !utf8.ValidString(id):
		return &pos.InputError{Field: "id", Problem: "not valid UTF-8"}
	}
	return nil
}

func (req SaleRequest) validate() error {
	if err := checkClientID(req.ID); err != nil {
		return err
	}
	switch {
	case req.ID[0] == 0:
		return &pos.InputError{Field: "id", Problem: "starts with a zero byte"} // the index's other types (kinds)
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
	idx := indexKey(event.TypeSale, req.ID)
	if r, ok, err := replayed(tx, idx, req.Digest); ok || err != nil {
		return r, err
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
		if acct.OfflineRedeemedToday, err = l.pendingRedeemed(tx, m.acked, rec.base, req.Card, req.OfflineSince); err != nil {
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

	var acctp *pos.Account
	if req.Card != "" {
		acctp = &acct
	}
	return l.appendEvent(tx, m, rec, event.TypeSale, at, p, body, effect{card: req.Card, saleID: string(idx), spend: p.Spend, points: p.PointsDelta}, req.Digest, acctp)
}

// replayed returns the receipt of the event recorded under the index key
// idx, ok when there is one; ErrConflict when it was recorded with another
// digest.
func replayed(tx *bolt.Tx, idx []byte, digest [32]byte) (r Receipt, ok bool, err error) {
	v := tx.Bucket(bucketSales).Get(idx)
	if v == nil {
		return Receipt{}, false, nil
	}
	ref, err := decodeSaleRef(v)
	if err != nil {
		return Receipt{}, false, err
	}
	if ref.digest != digest {
		return Receipt{}, false, ErrConflict
	}
	e, err := decodeEvent(tx.Bucket(bucketEvents).Get(u64(ref.seq)))
	if err != nil {
		return Receipt{}, false, fmt.Errorf("read event %d: %w", ref.seq, err)
	}
	return Receipt{Seq: e.Seq, EventID: e.ID, At: e.At, Hash: e.Hash, Body: e.Body, Replayed: true}, true, nil
}

// appendEvent chains an event of type typ with the canonical body after the
// last one of m and writes it with its effect f, its idempotency index entry
// (f.saleID, the index key, with digest), acct changed by the effect (nil
// for an event without a card) and the extra writes, adding every write to
// rec. It encodes everything before its first write; a write bbolt refuses
// is a *writeError. m moves on past the event.
func (l *Ledger) appendEvent(tx *bolt.Tx, m *meta, rec *journalRecord, typ string, at time.Time, p Priced, body []byte, f effect, digest [32]byte, acct *pos.Account, extra ...put) (Receipt, error) {
	seq := m.lastSeq + 1
	e := event.Event{
		Terminal:       m.terminal,
		Seq:            seq,
		ID:             eventID(m.terminal, seq),
		Type:           typ,
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
	if acct != nil {
		if err := applyEffect(acct, f, typ, body, at); err != nil {
			return Receipt{}, fmt.Errorf("card %s: %w", pos.MaskCard(f.card), err)
		}
		if acctBytes, err = encodeAccount(*acct); err != nil {
			return Receipt{}, err
		}
	}

	// Writes. From here on an error is bbolt's and fails the whole transaction.
	key := u64(seq)
	puts := append([]put{
		{bucketEvents, key, ev},
		{bucketEffects, key, encodeEffect(f)},
		{bucketSales, []byte(f.saleID), encodeSaleRef(saleRef{seq: seq, digest: digest})},
		{bucketMeta, keyLastSeq, key},
		{bucketMeta, keyLastHash, []byte(e.Hash)},
	}, extra...)
	if acctBytes != nil {
		puts = append(puts, put{bucketAccounts, []byte(f.card), acctBytes})
	}
	for _, p := range puts {
		if err := p.do(tx); err != nil {
			return Receipt{}, &writeError{fmt.Errorf("write event %d: %w", seq, err)}
		}
		rec.add(p)
	}
	m.lastSeq, m.lastHash = seq, e.Hash
	return Receipt{Seq: seq, EventID: e.ID, At: at, Hash: e.Hash, Body: body}, nil
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
	if b == nil && (string(p.bucket) == string(bucketReturns) || string(p.bucket) == string(bucketAsked)) {
		var err error
		if b, err = tx.CreateBucket(p.bucket); err != nil {
			return err
		}
	}
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
		points, err = l.pendingRedeemed(tx, m.acked, m.lastSeq, card, since)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("pending redemptions of %s: %w", pos.MaskCard(card), err)
	}
	return points, nil
}
