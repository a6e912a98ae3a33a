// Package till is the terminal's core: it turns scans into known customers, prices
// baskets with the active ruleset, records sales in the ledger, and keeps the
// rulesets HQ sends. The local API (package localapi) is a thin HTTP skin over it.
package till

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/discount/rulesfile"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
)

// Errors the till returns; the local API maps them to HTTP statuses.
var (
	// ErrNoRules: no ruleset has reached this terminal yet, so nothing can be priced.
	ErrNoRules = errors.New("no ruleset yet")
	// ErrConflict: a sale id was used before with a different basket.
	ErrConflict = ledger.ErrConflict
	// ErrUnknownReader: a scan was presented to a reader that is not configured
	// or cannot be driven by software.
	ErrUnknownReader = errors.New("no such reader that accepts presented cards")
)

// Options configure a Till.
type Options struct {
	Terminal string
	Ledger   *ledger.Ledger // required
	Logger   *slog.Logger
	Now      func() time.Time // default time.Now
	// RulesKey is HQ's Ed25519 public key: every ruleset must carry a signature
	// that verifies with it. Required to accept rules.
	RulesKey ed25519.PublicKey
	// Cards tells card numbers from product codes on scans.
	Cards device.IdentifyOptions
	// OnSale is called after each new sale is durable (e.g. to wake the forwarder).
	OnSale func()
	// Present drives a software reader (the demo's fake reader); nil when none.
	Present func(reader, data string) error
	// Link and Devices report the HQ link and the readers for Status; nil: none.
	Link    func() Link
	Devices func() []device.Health
	// Discover lists the readers attached to the machine, configured or not.
	Discover func(ctx context.Context) ([]device.Discovered, error)
}

type activeRules struct {
	rs      *discount.Ruleset
	version int64
	hash    string
}

// Till is safe for concurrent use.
type Till struct {
	opts  Options
	log   *slog.Logger
	rules atomic.Pointer[activeRules]

	mu   sync.Mutex
	subs map[chan ScanEvent]struct{}
}

// New returns a Till that prices with the ruleset cached in the ledger, if any.
func New(opts Options) (*Till, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Till{opts: opts, log: opts.Logger, subs: make(map[chan ScanEvent]struct{})}
	version, raw, hash, err := opts.Ledger.Ruleset()
	switch {
	case errors.Is(err, ledger.ErrNoRuleset):
		t.log.Warn("no cached ruleset; waiting for HQ before pricing")
	case err != nil:
		return nil, fmt.Errorf("load cached ruleset: %w", err)
	default:
		rs, err := rulesfile.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("cached ruleset version %d: %w", version, err)
		}
		t.rules.Store(&activeRules{rs: rs, version: version, hash: hash})
	}
	return t, nil
}

// Ledger is the ledger the till records in (the local API verifies and exports it).
func (t *Till) Ledger() *ledger.Ledger { return t.opts.Ledger }

// RulesVersion returns the active ruleset's version, 0 when there is none.
func (t *Till) RulesVersion() int64 {
	if a := t.rules.Load(); a != nil {
		return a.version
	}
	return 0
}

// ErrRulesKey: the till has no HQ public key to check ruleset signatures with.
var ErrRulesKey = errors.New("no HQ rules key configured (enroll the terminal or set hq_key)")

// ApplyRules verifies a ruleset from HQ, caches it in the ledger and makes it
// active. It refuses a file without a valid signature of HQ's key, one that does
// not parse, whose version differs from the one announced, or that is older than
// the active one.
func (t *Till) ApplyRules(version int64, hash string, signature, raw []byte) error {
	if len(t.opts.RulesKey) != ed25519.PublicKeySize {
		return ErrRulesKey
	}
	if err := wire.VerifyRules(t.opts.RulesKey, raw, signature); err != nil {
		return fmt.Errorf("ruleset version %d: %w", version, err)
	}
	if cur := t.RulesVersion(); version < cur {
		return fmt.Errorf("ruleset version %d is older than the active version %d: %w", version, cur, ledger.ErrOldRuleset)
	}
	rs, err := rulesfile.Parse(raw)
	if err != nil {
		return fmt.Errorf("ruleset version %d: %w", version, err)
	}
	if rs.Version != version {
		return fmt.Errorf("ruleset announced as version %d says version %d", version, rs.Version)
	}
	sum := sha256.Sum256(raw)
	if got := fmt.Sprintf("%x", sum); hash != "" && got != hash {
		return fmt.Errorf("ruleset version %d: hash %s does not match the announced %s", version, got, hash)
	}
	if err := t.opts.Ledger.PutRuleset(version, raw, signature); err != nil {
		return fmt.Errorf("cache ruleset version %d: %w", version, err)
	}
	if err := t.opts.Ledger.ActivateRuleset(version); err != nil {
		return fmt.Errorf("activate ruleset version %d: %w", version, err)
	}
	_, _, stored, err := t.opts.Ledger.Ruleset()
	if err != nil {
		return fmt.Errorf("cache ruleset version %d: %w", version, err)
	}
	t.rules.Store(&activeRules{rs: rs, version: version, hash: stored})
	return nil
}

func (t *Till) active() (*activeRules, error) {
	a := t.rules.Load()
	if a == nil {
		return nil, ErrNoRules
	}
	return a, nil
}

// Customer is what the till shows about a card holder.
type Customer struct {
	Card          string `json:"card"`
	Known         bool   `json:"known"`
	LifetimeSpend int64  `json:"lifetime_spend"`
	Points        int64  `json:"points"`
	Sales         int64  `json:"sales"`
	Tier          string `json:"tier,omitempty"`
}

func (t *Till) customer(a *activeRules, acct pos.Account, known bool) Customer {
	c := Customer{Card: acct.Card, Known: known, LifetimeSpend: int64(acct.LifetimeSpend), Points: acct.Points, Sales: acct.Sales}
	if a != nil {
		c.Tier, _ = a.rs.TierFor(acct.LifetimeSpend)
	}
	return c
}

// Account returns the card's account view.
func (t *Till) Account(card string) (Customer, error) {
	card, err := normalizeCard(card)
	if err != nil || card == "" {
		return Customer{}, &pos.InputError{Field: "card", Problem: "missing or malformed card number"}
	}
	acct, known, err := t.opts.Ledger.Account(card)
	if err != nil {
		return Customer{}, fmt.Errorf("account %s: %w", device.Mask(card), err)
	}
	acct.Card = card
	return t.customer(t.rules.Load(), acct, known), nil
}

// QuoteResult is a priced basket with the customer it was priced for.
type QuoteResult struct {
	pos.Quote
	Customer *Customer `json:"customer"`
}

// Quote prices a basket without recording anything.
func (t *Till) Quote(b pos.Basket) (QuoteResult, error) {
	a, err := t.active()
	if err != nil {
		return QuoteResult{}, err
	}
	card, err := normalizeCard(b.Card)
	if err != nil {
		return QuoteResult{}, err
	}
	b.Card = card
	if err := b.Validate(); err != nil {
		return QuoteResult{}, err
	}
	var acctp *pos.Account
	var cust *Customer
	if card != "" {
		acct, known, err := t.opts.Ledger.Account(card)
		if err != nil {
			return QuoteResult{}, fmt.Errorf("quote: account: %w", err)
		}
		acct.Card = card
		acctp = &acct
		c := t.customer(a, acct, known)
		cust = &c
	}
	q, err := discount.Apply(a.rs, b, acctp, t.opts.Now())
	if err != nil {
		return QuoteResult{}, err
	}
	return QuoteResult{Quote: q, Customer: cust}, nil
}

// SaleRequest is a basket the customer pays for, under the POS app's own sale id.
type SaleRequest struct {
	ID string `json:"id"`
	pos.Basket
}

// SaleResult is the answer to a recorded sale: the sale as stored, its sequence
// number and event id. A retry with the same id and basket gets the same answer.
type SaleResult struct {
	Seq     uint64 `json:"seq"`
	EventID string `json:"event_id"`
	pos.Sale
}

// Sale prices and records a sale; it returns only once the sale is durable.
// replayed is true when the id was recorded before with the same basket.
func (t *Till) Sale(req SaleRequest) (res SaleResult, replayed bool, err error) {
	a, err := t.active()
	if err != nil {
		return SaleResult{}, false, err
	}
	req.ID = strings.TrimSpace(req.ID)
	if req.ID == "" || len(req.ID) > 128 {
		return SaleResult{}, false, &pos.InputError{Field: "id", Problem: "a sale id of 1 to 128 characters is required"}
	}
	if req.Card, err = normalizeCard(req.Card); err != nil {
		return SaleResult{}, false, err
	}
	if err := req.Validate(); err != nil {
		return SaleResult{}, false, err
	}
	canon, err := json.Marshal(req)
	if err != nil {
		return SaleResult{}, false, fmt.Errorf("record sale %s: %w", req.ID, err)
	}
	rcpt, err := t.opts.Ledger.RecordSale(ledger.SaleRequest{ID: req.ID, Digest: sha256.Sum256(canon), Card: req.Card},
		func(acct pos.Account, at time.Time) (ledger.Priced, error) {
			var acctp *pos.Account
			if req.Card != "" {
				acct.Card = req.Card
				acctp = &acct
			}
			q, err := discount.Apply(a.rs, req.Basket, acctp, at)
			if err != nil {
				return ledger.Priced{}, err
			}
			body, err := json.Marshal(pos.Sale{ID: req.ID, Card: req.Card, At: at, Quote: q})
			if err != nil {
				return ledger.Priced{}, err
			}
			return ledger.Priced{Body: body, Spend: q.Total, PointsDelta: q.PointsEarned, RulesetVersion: a.version, RulesetHash: a.hash}, nil
		})
	if err != nil {
		return SaleResult{}, false, fmt.Errorf("record sale %s: %w", req.ID, err)
	}
	res = SaleResult{Seq: rcpt.Seq, EventID: rcpt.EventID}
	if err := json.Unmarshal(rcpt.Body, &res.Sale); err != nil {
		return SaleResult{}, false, fmt.Errorf("record sale %s: stored body: %w", req.ID, err)
	}
	if !rcpt.Replayed && t.opts.OnSale != nil {
		t.opts.OnSale()
	}
	return res, rcpt.Replayed, nil
}

// normalizeCard trims a card number typed or pasted by a person; "" stays "".
func normalizeCard(card string) (string, error) {
	card = strings.TrimSpace(card)
	if len(card) > 64 {
		return "", &pos.InputError{Field: "card", Problem: "longer than 64 characters"}
	}
	for _, r := range card {
		if r <= ' ' || r > '~' {
			return "", &pos.InputError{Field: "card", Problem: fmt.Sprintf("unexpected character %q", r)}
		}
	}
	return card, nil
}

// Link is the state of the terminal's connection to HQ.
type Link struct {
	Online    bool      `json:"online"`
	LastSync  time.Time `json:"last_sync,omitzero"`
	LastError string    `json:"last_error,omitempty"`
}

// Status is the terminal's health at a glance.
type Status struct {
	Terminal       string          `json:"terminal"`
	Online         bool            `json:"online"`
	LastSync       time.Time       `json:"last_sync,omitzero"`
	LastSyncError  string          `json:"last_sync_error,omitempty"`
	Outbox         uint64          `json:"outbox"`
	OldestUnsynced time.Time       `json:"oldest_unsynced,omitzero"`
	LastSeq        uint64          `json:"last_seq"`
	Acked          uint64          `json:"acked"`
	RulesetVersion int64           `json:"ruleset_version"`
	Devices        []device.Health `json:"devices"`
}

// Devices is what the till knows of card readers: the configured ones with their
// health, and every reader attached to the machine.
type Devices struct {
	Configured    []device.Health     `json:"configured"`
	Discovered    []device.Discovered `json:"discovered"`
	DiscoverError string              `json:"discover_error,omitempty"`
}

// DeviceList returns the configured readers and what discovery finds.
func (t *Till) DeviceList(ctx context.Context) Devices {
	d := Devices{Configured: []device.Health{}, Discovered: []device.Discovered{}}
	if t.opts.Devices != nil {
		d.Configured = append(d.Configured, t.opts.Devices()...)
	}
	if t.opts.Discover != nil {
		found, err := t.opts.Discover(ctx)
		d.Discovered = append(d.Discovered, found...)
		if err != nil {
			d.DiscoverError = err.Error()
		}
	}
	return d
}

// Status gathers the ledger's, the link's and the readers' state.
func (t *Till) Status() (Status, error) {
	st, err := t.opts.Ledger.Stats()
	if err != nil {
		return Status{}, fmt.Errorf("status: %w", err)
	}
	s := Status{
		Terminal: t.opts.Terminal, Outbox: st.Outbox, OldestUnsynced: st.OldestPending,
		LastSeq: st.LastSeq, Acked: st.Acked, RulesetVersion: t.RulesVersion(), Devices: []device.Health{},
	}
	if t.opts.Link != nil {
		l := t.opts.Link()
		s.Online, s.LastSync, s.LastSyncError = l.Online, l.LastSync, l.LastError
	}
	if t.opts.Devices != nil {
		s.Devices = append(s.Devices, t.opts.Devices()...)
	}
	return s, nil
}
