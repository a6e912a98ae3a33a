// Package till is the terminal's core: it turns scans into known customers, prices
// baskets with the active ruleset, records sales in the ledger, and keeps the
// rulesets HQ sends. The local API (package localapi) is a thin HTTP skin over it.
package till

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/discount/rulesfile"
	"github.com/tilld/tilld/event"
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
	// ErrRulesRefused: the rulesets cached on the till failed their check when
	// they were loaded (their bytes were changed, HQ's signature does not
	// verify, or there is no HQ key to check it with) and none older passes:
	// nothing is priced until HQ sends them again. It wraps ErrNoRules.
	ErrRulesRefused = fmt.Errorf("%w that passes its check", ErrNoRules)
	// ErrHolderExists: a sign-up (SignUpCustomer) named a card that already
	// has a holder.
	ErrHolderExists = errors.New("the card already has a holder")
)

// Options configure a Till.
type Options struct {
	Terminal string
	// Store and Region say where the till sells; rules may be scoped to them
	// (and to Terminal). Every basket is priced with them.
	Store, Region string
	Ledger        *ledger.Ledger // required
	Logger        *slog.Logger
	Now           func() time.Time // default time.Now
	// RulesKey is HQ's Ed25519 public key: every ruleset must carry a signature
	// that verifies with it. Required to accept rules.
	RulesKey ed25519.PublicKey
	// Cards tells card numbers from product codes on scans.
	Cards device.IdentifyOptions
	// OnSale is called after each new sale or card holder is durable (e.g. to
	// wake the forwarder).
	OnSale func()
	// Present drives a software reader (the demo's fake reader); nil when none.
	Present func(reader, data string) error
	// Link and Devices report the HQ link and the readers for Status; nil: none.
	Link    func() Link
	Devices func() []device.Health
	// Discover lists the readers attached to the machine, configured or not.
	Discover func(ctx context.Context) ([]device.Discovered, error)
	// Lookup asks HQ for a scanned card's account across every store and
	// hands it to ApplyAccount; nil: a stand-alone till. A scan waits for it
	// at most LookupTimeout (default 300 ms), then shows the cached view.
	Lookup        func(ctx context.Context, card string) error
	LookupTimeout time.Duration
	// FetchSale asks HQ for a sale of another terminal by its receipt code,
	// with what other terminals returned of it, the answer checked
	// (forward.Forwarder.Sale); nil: a stand-alone till, which takes back
	// its own sales only. A refund waits for it at most FetchSaleTimeout
	// (default 5 s). An error wrapping ErrSaleNotAtHQ says HQ answered and
	// holds no such sale; any other, that HQ could not be asked (then a
	// return may be taken on the receipt's word, RefundRequest.Claim).
	FetchSale        func(ctx context.Context, receipt string) (wire.SaleAnswer, error)
	FetchSaleTimeout time.Duration
}

type activeRules struct {
	rs      *discount.Ruleset
	version int64
	hash    string
	// since is when this process began pricing with it (for Status).
	since time.Time
}

// rulesState is the ruleset sales are priced with and those cached that take
// effect later, oldest first. It is replaced whole, never changed.
type rulesState struct {
	active *activeRules
	next   []*activeRules
	// refused are the cached rulesets that failed their check, newest first,
	// until HQ sends the same version or a newer one.
	refused []refusal
}

// refusal is a cached ruleset the till will not price with, and why.
type refusal struct {
	version int64
	err     error
}

// with returns a copy of st with active and next replaced; refusals of
// versions up to the newest ruleset held are settled by it.
func (st *rulesState) with(active *activeRules, next []*activeRules) *rulesState {
	out := &rulesState{active: active, next: next}
	newest := int64(0)
	if active != nil {
		newest = active.version
	}
	if n := len(next); n > 0 {
		newest = next[n-1].version
	}
	for _, r := range st.refused {
		if r.version > newest {
			out.refused = append(out.refused, r)
		}
	}
	return out
}

// problem says why the till prices with an older ruleset than it cached, or
// with none; "" when it does not.
func (st *rulesState) problem() string {
	if len(st.refused) == 0 {
		return ""
	}
	var why []string
	for _, r := range st.refused {
		why = append(why, r.err.Error())
	}
	now := "nothing is priced until HQ sends a ruleset that passes"
	if st.active != nil {
		now = fmt.Sprintf("pricing with version %d meanwhile", st.active.version)
	}
	return fmt.Sprintf("%s; fetching the rules from HQ again; %s", strings.Join(why, "; "), now)
}

// Till is safe for concurrent use.
type Till struct {
	opts  Options
	log   *slog.Logger
	rules atomic.Pointer[rulesState]
	// rulesMu serialises changes of rules (ApplyRules, activation on time).
	rulesMu sync.Mutex

	evs events // the screens' event stream (events.go)

	greetings recentGreetings

	// feedHeld says an account from HQ was not taken (HQ's copy of this
	// terminal's chain is not this ledger's): the change feed's position is
	// no longer kept, so that the next start reads those accounts again.
	feedHeld atomic.Bool

	// known holds cards the ledger has an account of, so that learn reads
	// the ledger once per card rather than once per sale (a card, once
	// known, stays so); at most knownCards of them, then it starts again.
	knownMu sync.Mutex
	known   map[string]struct{}
}

const knownCards = 1 << 16

// New returns a Till that prices with the ruleset cached in the ledger, if any.
// Every cached ruleset is checked as it is loaded (RulesCheck with
// Options.RulesKey); one that fails is never used: the till prices with the
// newest older one that passes, or refuses to price (ErrRulesRefused), says why
// in Status, and reports a lower RulesVersion so that HQ sends it again. The
// ledger should be opened with RulesCheck(RulesKey) as its CheckRuleset, so that
// HQ's copy replaces the refused one. Without a key nothing cached is trusted.
func New(opts Options) (*Till, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.LookupTimeout == 0 {
		opts.LookupTimeout = 300 * time.Millisecond
	}
	t := &Till{opts: opts, log: opts.Logger}
	cached, err := opts.Ledger.Rulesets()
	if err != nil {
		return nil, fmt.Errorf("load cached rulesets: %w", err)
	}
	st := &rulesState{}
	// Newest first; once past the active one (refused), an older one that
	// passes takes its place.
	pastActive := false
	for _, c := range cached {
		if st.active != nil {
			break
		}
		pastActive = pastActive || c.Active
		a, err := t.load(c)
		if err != nil {
			st.refused = append(st.refused, refusal{version: c.Version, err: err})
			t.log.Error("cached ruleset refused: the till does not price with it and asks HQ for it again", "version", c.Version, "err", err)
			continue
		}
		if pastActive {
			a.since = opts.Now()
			st.active = a
		} else {
			st.next = append([]*activeRules{a}, st.next...)
		}
	}
	switch {
	case st.active != nil && len(st.refused) > 0:
		t.log.Warn("pricing with an older cached ruleset until HQ sends the refused one again", "version", st.active.version)
	case st.active == nil && len(st.refused) > 0:
		t.log.Error("no cached ruleset passes its check: nothing is priced until HQ sends one")
	case st.active == nil:
		t.log.Warn("no active ruleset cached; waiting for HQ before pricing")
	}
	t.rules.Store(st)
	for _, n := range st.next {
		t.log.Info("ruleset waits until it takes effect", "version", n.version, "effective", n.rs.Effective.String())
	}
	return t, nil
}

// load checks a cached ruleset and parses it.
func (t *Till) load(c ledger.CachedRuleset) (*activeRules, error) {
	if c.Err != nil {
		return nil, c.Err
	}
	rs, err := checkRules(t.opts.RulesKey, c.Version, c.Raw, c.Signature)
	if err != nil {
		return nil, fmt.Errorf("cached ruleset version %d: %w: %w", c.Version, ledger.ErrBadRuleset, err)
	}
	return &activeRules{rs: rs, version: c.Version, hash: c.Hash}, nil
}

// RulesCheck is the check of a cached ruleset that tilld gives its ledger
// (ledger.Options.CheckRuleset) and that `tillctl ledger verify` runs: HQ's
// Ed25519 signature with key, and that the bytes parse as the version they are
// cached under. Without a key nothing passes (ErrRulesKey).
func RulesCheck(key ed25519.PublicKey) func(version int64, raw, signature []byte) error {
	return func(version int64, raw, signature []byte) error {
		_, err := checkRules(key, version, raw, signature)
		return err
	}
}

// checkRules verifies HQ's signature of a ruleset with key and parses it as
// ruleset version.
func checkRules(key ed25519.PublicKey, version int64, raw, signature []byte) (*discount.Ruleset, error) {
	if len(key) != ed25519.PublicKeySize {
		return nil, ErrRulesKey
	}
	if err := wire.VerifyRules(key, raw, signature); err != nil {
		return nil, err
	}
	rs, err := rulesfile.Parse(raw)
	if err != nil {
		return nil, err
	}
	if rs.Version != version {
		return nil, fmt.Errorf("the ruleset's bytes say version %d", rs.Version)
	}
	return rs, nil
}

// Ledger is the ledger the till records in (the local API verifies and exports it).
func (t *Till) Ledger() *ledger.Ledger { return t.opts.Ledger }

// RulesVersion returns the newest ruleset version the till holds, active or
// waiting for its start, 0 when there is none: what it has from HQ.
func (t *Till) RulesVersion() int64 {
	st := t.rules.Load()
	if n := len(st.next); n > 0 {
		return st.next[n-1].version
	}
	if st.active != nil {
		return st.active.version
	}
	return 0
}

// ActiveRulesVersion returns the version sales are priced with now, 0 when
// there is none.
func (t *Till) ActiveRulesVersion() int64 {
	if a, err := t.active(); err == nil {
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
	rs, err := checkRules(t.opts.RulesKey, version, raw, signature)
	if err != nil {
		return fmt.Errorf("ruleset version %d: %w", version, err)
	}
	if cur := t.RulesVersion(); version < cur {
		return fmt.Errorf("ruleset version %d is older than version %d the till has: %w", version, cur, ledger.ErrOldRuleset)
	}
	sum := sha256.Sum256(raw)
	if got := fmt.Sprintf("%x", sum); hash != "" && got != hash {
		return fmt.Errorf("ruleset version %d: hash %s does not match the announced %s", version, got, hash)
	}
	t.rulesMu.Lock()
	defer t.rulesMu.Unlock()
	st := t.rules.Load()
	if st.active != nil && st.active.version == version || slices.ContainsFunc(st.next, func(n *activeRules) bool { return n.version == version }) {
		return t.opts.Ledger.PutRuleset(version, raw, signature) // the same again, or a conflict
	}
	if err := t.opts.Ledger.PutRuleset(version, raw, signature); err != nil {
		return fmt.Errorf("cache ruleset version %d: %w", version, err)
	}
	a := &activeRules{rs: rs, version: version, hash: fmt.Sprintf("%x", sum)}
	next := st.with(st.active, append(slices.Clone(st.next), a))
	if !rs.EffectiveAt(t.opts.Now()) {
		t.rules.Store(next)
		t.log.Info("ruleset waits until it takes effect", "version", version, "effective", rs.Effective.String())
		return nil
	}
	return t.activateLocked(next)
}

// activateLocked makes the newest ruleset of st.next that is in effect now the
// active one, dropping the older ones, and stores the result. The ledger
// checks the cached copy as it activates it: one that fails its check now is
// refused (and asked of HQ again), and the next one down is tried; the error
// says so. When the ledger cannot record the activation (a full disk) the
// ruleset is active all the same, in memory: prices follow the rules in
// effect, and the next start activates it again from the cache. rulesMu is
// held.
func (t *Till) activateLocked(st *rulesState) (refused error) {
	now := t.opts.Now()
	for {
		// The newest in effect wins; older ones waiting are dropped with
		// it, in effect or not (a rollback published over a scheduled
		// ruleset cancels that one).
		i := 0
		for j, n := range st.next {
			if n.rs.EffectiveAt(now) {
				i = j + 1
			}
		}
		if i == 0 {
			t.rules.Store(st)
			return refused
		}
		a := st.next[i-1]
		err := t.opts.Ledger.ActivateRuleset(a.version)
		if errors.Is(err, ledger.ErrBadRuleset) {
			t.log.Error("cached ruleset refused as it takes effect: the till does not price with it and asks HQ for it again", "version", a.version, "err", err)
			st = &rulesState{active: st.active, next: slices.Delete(slices.Clone(st.next), i-1, i),
				refused: append([]refusal{{version: a.version, err: err}}, st.refused...)}
			refused = err
			continue
		}
		prev := int64(0)
		if st.active != nil {
			prev = st.active.version
		}
		a.since = now
		t.rules.Store(st.with(a, slices.Clone(st.next[i:])))
		if err != nil {
			t.log.Error("ruleset active, but the ledger could not record it; the next start activates it again", "version", a.version, "err", err)
		} else {
			t.log.Info("ruleset active", "version", a.version, "previous", prev)
		}
		return refused
	}
}

// active returns the ruleset to price with now, first activating a waiting
// one whose start has come: rules take effect on time whether or not HQ is
// reachable.
func (t *Till) active() (*activeRules, error) {
	st := t.rules.Load()
	now := t.opts.Now()
	if slices.ContainsFunc(st.next, func(n *activeRules) bool { return n.rs.EffectiveAt(now) }) {
		t.rulesMu.Lock()
		_ = t.activateLocked(t.rules.Load()) // a refusal is logged and in the state
		t.rulesMu.Unlock()
		st = t.rules.Load()
	}
	switch {
	case st.active == nil && len(st.refused) > 0:
		return nil, fmt.Errorf("%w: %s", ErrRulesRefused, st.problem())
	case st.active == nil:
		return nil, ErrNoRules
	}
	return st.active, nil
}

// Customer is what the till shows about a card: its loyalty account and, when
// the holder registered, who they are.
type Customer struct {
	Card          string `json:"card"`
	Known         bool   `json:"known"`
	LifetimeSpend int64  `json:"lifetime_spend"`
	// Currency is the ISO 4217 code of LifetimeSpend: the active rules'
	// (empty while the till has none).
	Currency string `json:"currency,omitempty"`
	Points   int64  `json:"points"`
	Sales    int64  `json:"sales"`
	Tier     string `json:"tier,omitempty"`
	// Lots are the points by when they expire (empty: they never do).
	Lots []pos.PointsLot `json:"lots,omitempty"`
	// Holder is the registered card holder; nil when nobody registered the
	// card or the customer was forgotten.
	Holder *pos.CardHolder `json:"holder,omitempty"`
	// LastFeedback is when the card last answered the NPS question, here
	// or, as HQ last said, at any till of the chain (Till.AskNPS); zero:
	// never, as far as the till knows. Only GET /v1/accounts/{card} says it.
	LastFeedback time.Time `json:"last_feedback,omitzero"`
}

func (t *Till) customer(a *activeRules, acct pos.Account, known bool, h *pos.CardHolder) Customer {
	c := Customer{Card: acct.Card, Known: known || h != nil, LifetimeSpend: int64(acct.LifetimeSpend), Points: acct.Points,
		Sales: acct.Sales, Lots: acct.Lots, Holder: h}
	if a != nil {
		c.Tier, _ = a.rs.TierFor(acct.LifetimeSpend)
		c.Currency = a.rs.Currency.Code
	}
	return c
}

// read reads what the till knows of a card: its account view with the
// holder's profile in it, and the holder.
func (t *Till) read(card string) (acct pos.Account, known bool, h *pos.CardHolder, err error) {
	acct, known, err = t.opts.Ledger.Account(card)
	if err != nil {
		return pos.Account{}, false, nil, fmt.Errorf("account %s: %w", pos.MaskCard(card), err)
	}
	acct.Card = card
	acct.Expire(t.opts.Now()) // the lots expired by now are gone, whether or not an event came since
	holder, ok, err := t.opts.Ledger.Holder(card)
	if err != nil {
		return pos.Account{}, false, nil, err
	}
	if ok {
		h = &holder
		acct.Profile = h.Profile()
	}
	return acct, known, h, nil
}

// Account returns the view of a card, its type read from the number's shape.
func (t *Till) Account(card string) (Customer, error) { return t.AccountOfType(card, "") }

// AccountOfType returns the card's account view. cardType is the kind of card
// number card is (see [pos.Basket].CardType); empty: read from its shape.
func (t *Till) AccountOfType(card, cardType string) (Customer, error) {
	card, err := t.parseCard(card, cardType)
	if err != nil {
		return Customer{}, err
	}
	if card == "" {
		return Customer{}, &pos.InputError{Field: "card", Problem: "missing"}
	}
	return t.account(card)
}

// account returns the view of a card already parsed.
func (t *Till) account(card string) (Customer, error) {
	c, _, _, err := t.view(card)
	return c, err
}

// view is account, with the card's account as read and the rules it was
// viewed with (nil without rules).
func (t *Till) view(card string) (Customer, pos.Account, *activeRules, error) {
	acct, known, h, err := t.read(card)
	if err != nil {
		return Customer{}, pos.Account{}, nil, err
	}
	a, _ := t.active()
	c := t.customer(a, acct, known, h)
	if c.LastFeedback, err = t.lastAnswer(card, acct); err != nil {
		return Customer{}, pos.Account{}, nil, err
	}
	return c, acct, a, nil
}

// RegisterCustomer records a card holder a cashier signed up at the till,
// online or not, replacing every field of an earlier holder of the card: it
// is ChangeCustomer with every field sent.
func (t *Till) RegisterCustomer(h pos.CardHolder) (stored pos.CardHolder, created bool, err error) {
	return t.ChangeCustomer(h.Change(), "")
}

// ChangeCustomer records a card holder a cashier signed up or corrected at
// the till, online or not: durably, before it answers, and for HQ. A
// correction changes only the fields c sets. cardType is as for Account.
// created is false when the card had a holder.
func (t *Till) ChangeCustomer(c pos.HolderChange, cardType string) (stored pos.CardHolder, created bool, err error) {
	return t.changeCustomer(c, cardType, false)
}

// SignUpCustomer records a new card holder, as ChangeCustomer does, and
// only a new one: when the card (read as cardType says) already has a
// holder at this till it changes nothing and returns ErrHolderExists. The
// check and the write are one step of the ledger's, so neither another card
// type nor a request at the same time gets past it. It is what the
// customers' own sign-up form may do; corrections are the POS app's.
func (t *Till) SignUpCustomer(c pos.HolderChange, cardType string) (stored pos.CardHolder, err error) {
	stored, _, err = t.changeCustomer(c, cardType, true)
	return stored, err
}

func (t *Till) changeCustomer(c pos.HolderChange, cardType string, newOnly bool) (stored pos.CardHolder, created bool, err error) {
	if c.Card, err = t.parseCard(c.Card, cardType); err != nil {
		return pos.CardHolder{}, false, err
	}
	if c.Card == "" {
		return pos.CardHolder{}, false, &pos.InputError{Field: "card", Problem: "missing"}
	}
	now := t.opts.Now()
	stored, created, err = t.opts.Ledger.ChangeHolder(c.Card, func(old *pos.CardHolder) (pos.CardHolder, error) {
		var h pos.CardHolder
		if old != nil {
			if newOnly {
				return pos.CardHolder{}, fmt.Errorf("register holder %s: %w", pos.MaskCard(c.Card), ErrHolderExists)
			}
			h = *old
		}
		h = c.Apply(h)
		if err := h.ValidateAt(now); err != nil {
			return pos.CardHolder{}, err
		}
		return h, nil
	})
	if err != nil {
		return pos.CardHolder{}, false, err
	}
	t.log.Info("card holder registered", "card", pos.MaskCard(c.Card), "created", created)
	if t.opts.OnSale != nil {
		t.opts.OnSale()
	}
	return stored, created, nil
}

// offlineSince returns the start of today when the till cannot reach HQ, and
// the zero time when it can (or runs without HQ): offline limits on points
// redemption count from then.
func (t *Till) offlineSince(now time.Time) time.Time {
	if t.opts.Link == nil || t.opts.Link().Online {
		return time.Time{}
	}
	y, m, d := now.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, now.Location())
}

// place fills in where the basket is sold, from the till's configuration.
func (t *Till) place(b *pos.Basket) {
	b.Store, b.Region, b.Terminal = t.opts.Store, t.opts.Region, t.opts.Terminal
}

// QuoteResult is a priced basket with the customer it was priced for.
type QuoteResult struct {
	pos.Quote
	Customer *Customer `json:"customer"`
}

// QuoteOptions change how a basket is priced.
type QuoteOptions struct {
	// Explain lists the rules that did not apply and why.
	Explain bool
}

// Quote prices a basket without recording anything.
func (t *Till) Quote(b pos.Basket, opts QuoteOptions) (QuoteResult, error) {
	a, err := t.active()
	if err != nil {
		return QuoteResult{}, err
	}
	card, err := t.parseCard(b.Card, b.CardType)
	if err != nil {
		return QuoteResult{}, err
	}
	b.Card, b.CardType = card, ""
	if err := b.Validate(); err != nil {
		return QuoteResult{}, err
	}
	t.place(&b)
	now := t.opts.Now()
	t.learn(card, now)
	var acctp *pos.Account
	var cust *Customer
	if card != "" {
		acct, known, h, err := t.read(card)
		if err != nil {
			return QuoteResult{}, fmt.Errorf("quote: %w", err)
		}
		if since := t.offlineSince(now); !since.IsZero() {
			acct.Offline = true
			if acct.OfflineRedeemedToday, err = t.opts.Ledger.PendingRedeemed(card, since); err != nil {
				return QuoteResult{}, fmt.Errorf("quote: %w", err)
			}
		}
		acctp = &acct
		c := t.customer(a, acct, known, h)
		cust = &c
	}
	q, err := discount.ApplyWith(a.rs, b, acctp, now, discount.Options{Explain: opts.Explain})
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
	// ReceiptCode is printed on the receipt: a refund names the sale by it
	// (see ReceiptCode).
	ReceiptCode string `json:"receipt_code"`
	// AskNPS says the till asks the customer the NPS question now (see
	// AskNPS): the answer goes to POST /v1/feedback.
	AskNPS bool `json:"ask_nps,omitempty"`
	pos.Sale
	// recorded is Sale's bytes as the ledger recorded them, when Sale is
	// exactly what they say: AppendJSON splices them into the answer
	// instead of encoding Sale again.
	recorded []byte
}

// AppendJSON appends r's JSON to b: what json.Marshal makes of it, up to
// the order of the fields. A sale just recorded is spliced from the
// recorded bytes (they hold no greeting: it goes last); any other is
// encoded. Only Seq, EventID, ReceiptCode, AskNPS and Greeting are read
// from r itself then: the answer says the sale as the ledger recorded it,
// whatever is changed in r.Sale after Sale returned.
func (r SaleResult) AppendJSON(b []byte) ([]byte, error) {
	body := r.recorded
	if len(body) < 3 || body[0] != '{' || body[len(body)-1] != '}' {
		enc, err := json.Marshal(r)
		return append(b, enc...), err
	}
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, r.Seq, 10)
	b = append(b, `,"event_id":`...)
	b = appendJSONString(b, r.EventID)
	b = append(b, `,"receipt_code":`...)
	b = appendJSONString(b, r.ReceiptCode)
	if r.AskNPS {
		b = append(b, `,"ask_nps":true`...)
	}
	b = append(b, ',')
	b = append(b, body[1:len(body)-1]...)
	if r.Greeting != "" {
		b = append(b, `,"greeting":`...)
		b = appendJSONString(b, r.Greeting)
	}
	return append(b, '}'), nil
}

// appendJSONString appends s as encoding/json encodes a string.
func appendJSONString(b []byte, s string) []byte {
	enc, _ := json.Marshal(s) // a string always encodes
	return append(b, enc...)
}

// Sale prices and records a sale; it returns only once the sale is durable.
// replayed is true when the id was recorded before with the same basket.
func (t *Till) Sale(req SaleRequest) (res SaleResult, replayed bool, err error) {
	a, err := t.active()
	if err != nil {
		return SaleResult{}, false, err
	}
	req.ID = strings.TrimSpace(req.ID)
	if req.ID == "" {
		return SaleResult{}, false, &pos.InputError{Field: "id", Problem: "missing: a sale id of 1 to 128 bytes is required"}
	}
	if err := pos.CheckText("id", req.ID, 128); err != nil {
		return SaleResult{}, false, err
	}
	if req.Card, err = t.parseCard(req.Card, req.CardType); err != nil {
		return SaleResult{}, false, err
	}
	req.CardType = ""
	if err := req.Validate(); err != nil {
		return SaleResult{}, false, err
	}
	// The idempotency digest covers what the POS app sent, not where the till is.
	req.Store, req.Region, req.Terminal = "", "", ""
	canon, err := json.Marshal(req)
	if err != nil {
		return SaleResult{}, false, fmt.Errorf("record sale %s: %w", req.ID, err)
	}
	t.place(&req.Basket)
	t.learn(req.Card, t.opts.Now())
	var profile *pos.Profile
	if req.Card != "" {
		h, ok, err := t.opts.Ledger.Holder(req.Card)
		if err != nil {
			return SaleResult{}, false, fmt.Errorf("record sale %s: %w", req.ID, err)
		}
		if ok {
			profile = h.Profile()
		}
	}
	now := t.opts.Now()
	var greeting string // shown to the customer, never stored: it carries their name
	// priced is the sale as last priced, and pricedBody its bytes: when they
	// are what the ledger recorded, the answer is built from the struct
	// rather than by decoding the bytes just encoded from it.
	var priced pos.Sale
	var pricedBody []byte
	lreq := ledger.SaleRequest{ID: req.ID, Digest: sha256.Sum256(canon), Card: req.Card, OfflineSince: t.offlineSince(now)}
	digest := hex.EncodeToString(lreq.Digest[:])
	rcpt, err := t.opts.Ledger.RecordSale(lreq,
		func(acct pos.Account, at time.Time) (ledger.Priced, error) {
			var acctp *pos.Account
			if req.Card != "" {
				acct.Card, acct.Profile = req.Card, profile
				acctp = &acct
			}
			// The ledger's time is UTC; windows and birthdays are read on the
			// till's wall clock, as for the quote.
			wall := at.In(now.Location())
			q, err := discount.Apply(a.rs, req.Basket, acctp, wall)
			if err != nil {
				return ledger.Priced{}, err
			}
			greeting, q.Greeting = q.Greeting, ""
			priced = pos.Sale{ID: req.ID, Card: req.Card, At: at, Quote: q, Request: digest,
				Inputs: pos.NewSaleInputs(req.Basket, acctp, wall)}
			body, err := json.Marshal(priced)
			if err != nil {
				return ledger.Priced{}, err
			}
			pricedBody = body
			return ledger.Priced{Body: body, Spend: q.Total, PointsDelta: q.PointsEarned - q.PointsRedeemed,
				RulesetVersion: a.version, RulesetHash: a.hash}, nil
		})
	if err != nil {
		return SaleResult{}, false, fmt.Errorf("record sale %s: %w", req.ID, err)
	}
	res = SaleResult{Seq: rcpt.Seq, EventID: rcpt.EventID, ReceiptCode: ReceiptCode(rcpt.EventID, rcpt.Hash)}
	if !rcpt.Replayed && bytes.Equal(rcpt.Body, pricedBody) {
		res.Sale, res.recorded = priced, pricedBody
	} else if err := json.Unmarshal(rcpt.Body, &res.Sale); err != nil {
		return SaleResult{}, false, fmt.Errorf("record sale %s: stored body: %w", req.ID, err)
	}
	res.Greeting = greeting
	switch {
	case !rcpt.Replayed && req.Card != "":
		t.greetings.put(req.ID, req.Card, greeting)
	case rcpt.Replayed && req.Card != "":
		if g, ok := t.greetings.get(req.ID, req.Card); ok {
			res.Greeting = g
			break
		}
		// The greeting was never stored, and this process did not record
		// the sale: greet again as the sale did.
		acct := pos.Account{Card: req.Card, Profile: profile}
		if q, err := discount.Apply(a.rs, req.Basket, &acct, rcpt.At.In(now.Location())); err == nil {
			res.Greeting = q.Greeting
		}
	}
	if res.AskNPS, err = t.AskNPS(res.Quote, req.Card, now); err != nil {
		t.log.Warn("nps question", "err", err) // the sale is recorded: ask nothing
	}
	if !rcpt.Replayed && t.opts.OnSale != nil {
		t.opts.OnSale()
	}
	return res, rcpt.Replayed, nil
}

// parseCard reads a card number the POS app sent as a scan of the card reads
// it (device.ParseCard with the till's card ranges and patterns) and returns
// it normalised; "" stays "" (no card).
func (t *Till) parseCard(number, cardType string) (string, error) {
	if strings.TrimSpace(number) == "" {
		return "", nil
	}
	if len(number) > 64 {
		return "", &pos.InputError{Field: "card", Problem: fmt.Sprintf("%d bytes, want at most 64", len(number))}
	}
	if kind := device.CardKind(cardType); kind != "" && !kind.Known() {
		named := ""
		if len(cardType) <= 32 {
			named = fmt.Sprintf(" %q", cardType)
		}
		return "", &pos.InputError{Field: "card_type", Problem: "unknown card type" + named + ": want " + device.CardKindNames, Reason: "format"}
	}
	c, err := device.ParseCard(number, device.CardKind(cardType), t.opts.Cards)
	if err != nil {
		return "", &pos.InputError{Field: "card", Problem: cardProblem(err), Err: err}
	}
	return c.Number, nil
}

// cardProblem is what is wrong with a card number, for the person at the till:
// the CardError's text with the number masked.
func cardProblem(err error) string {
	var ce *device.CardError
	if errors.As(err, &ce) {
		return ce.Error()
	}
	return err.Error()
}

// Link is the state of the terminal's connection to HQ.
type Link struct {
	Online    bool      `json:"online"`
	LastSync  time.Time `json:"last_sync,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// Problem is why HQ is offline, or why it gives no rules, in a person's
	// words with the fix; "" when all is well.
	Problem string `json:"problem,omitempty"`
}

// Status is the terminal's health at a glance.
type Status struct {
	Terminal      string    `json:"terminal"`
	Store         string    `json:"store,omitempty"`
	Region        string    `json:"region,omitempty"`
	Online        bool      `json:"online"`
	LastSync      time.Time `json:"last_sync,omitzero"`
	LastSyncError string    `json:"last_sync_error,omitempty"`
	// HQProblem is why HQ is offline (or gives no rules) in a person's
	// words, with what to do: Link.Problem.
	HQProblem      string    `json:"hq_problem,omitempty"`
	Outbox         uint64    `json:"outbox"`
	OldestUnsynced time.Time `json:"oldest_unsynced,omitzero"`
	LastSeq        uint64    `json:"last_seq"`
	Acked          uint64    `json:"acked"`
	// Epoch is the chain the ledger's events are filed under at HQ: a new
	// one after the ledger was restored from a backup or started empty.
	Epoch          event.Epoch `json:"epoch"`
	RulesetVersion int64       `json:"ruleset_version"`
	// RulesetEffective is the active ruleset's own start ("" when it
	// applied at once); RulesetSince is when this tilld process began
	// pricing with it (at its start, for the one it had cached). The
	// rules' age counts from the first, else the second.
	RulesetEffective string    `json:"ruleset_effective,omitempty"`
	RulesetSince     time.Time `json:"ruleset_since,omitzero"`
	// RulesError says why the till prices with an older ruleset than it has
	// cached, or with none, when a cached one failed its check; "" otherwise.
	RulesError string `json:"rules_error,omitempty"`
	// NextRuleset is the next ruleset waiting for its start, if any.
	NextRuleset *NextRuleset    `json:"next_ruleset,omitempty"`
	Devices     []device.Health `json:"devices"`
}

// NextRuleset is a cached ruleset that takes effect later.
type NextRuleset struct {
	Version   int64  `json:"version"`
	Effective string `json:"effective"`
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

// Currency is the ISO 4217 code of the active rules' money, "" while the
// till has none.
func (t *Till) Currency() string {
	if a := t.rules.Load().active; a != nil {
		return a.rs.Currency.Code
	}
	return ""
}

// Status gathers the ledger's, the link's and the readers' state.
func (t *Till) Status() (Status, error) {
	st, err := t.opts.Ledger.Stats()
	if err != nil {
		return Status{}, fmt.Errorf("status: %w", err)
	}
	s := Status{
		Terminal: t.opts.Terminal, Store: t.opts.Store, Region: t.opts.Region, Outbox: st.Outbox, OldestUnsynced: st.OldestPending,
		LastSeq: st.LastSeq, Acked: st.Acked, Epoch: st.Epoch, RulesetVersion: t.ActiveRulesVersion(), Devices: []device.Health{},
	}
	rules := t.rules.Load()
	if a := rules.active; a != nil && a.version == s.RulesetVersion {
		s.RulesetSince = a.since
		if !a.rs.Effective.IsZero() {
			s.RulesetEffective = a.rs.Effective.String()
		}
	}
	if next := rules.next; len(next) > 0 {
		s.NextRuleset = &NextRuleset{Version: next[0].version, Effective: next[0].rs.Effective.String()}
	}
	s.RulesError = rules.problem()
	if t.opts.Link != nil {
		l := t.opts.Link()
		s.Online, s.LastSync, s.LastSyncError, s.HQProblem = l.Online, l.LastSync, l.LastError, l.Problem
	}
	if t.opts.Devices != nil {
		s.Devices = append(s.Devices, t.opts.Devices()...)
	}
	return s, nil
}

// learn asks HQ for a card this till has no record of (typed into a basket
// rather than scanned, so never looked up) before pricing it, while HQ is
// reachable: a customer new to this till is priced with their account
// across every store (tier, points), not as a stranger. It waits at most
// LookupTimeout, once per card: HQ's answer, even of an unknown card,
// becomes the card's record here.
func (t *Till) learn(card string, now time.Time) {
	if card == "" || t.opts.Lookup == nil || !t.offlineSince(now).IsZero() {
		return
	}
	t.knownMu.Lock()
	_, seen := t.known[card]
	t.knownMu.Unlock()
	if seen {
		return
	}
	if _, known, err := t.opts.Ledger.Account(card); err != nil || !known {
		if err == nil {
			t.lookup(card)
		}
		return
	}
	t.knownMu.Lock()
	if len(t.known) >= knownCards || t.known == nil {
		t.known = make(map[string]struct{})
	}
	t.known[card] = struct{}{}
	t.knownMu.Unlock()
}

// lookup refreshes a scanned card's view from HQ when the till has HQ and it
// answers in time; otherwise the cached view stands.
func (t *Till) lookup(card string) {
	if t.opts.Lookup == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), t.opts.LookupTimeout)
	defer cancel()
	if err := t.opts.Lookup(ctx, card); err != nil {
		t.log.Debug("card look-up at HQ failed; showing the cached view", "card", pos.MaskCard(card), "err", err)
	}
}

// ApplyAccount takes HQ's view of a card: its account across every store as
// of this terminal's seq a.AsOf becomes the base of the card's view here, and
// its holder replaces the one kept here (unless one registered here is newer
// and not yet at HQ). A holder HQ forgot is erased from the ledger's file.
func (t *Till) ApplyAccount(a wire.AccountAnswer) error {
	card := a.Card
	if card == "" {
		return &pos.InputError{Field: "card", Problem: "missing"}
	}
	err := t.opts.Ledger.PutSnapshot(card, a.Account, a.AsOf, a.AsOfHash)
	switch {
	case errors.Is(err, ledger.ErrSnapshotPruned):
		// HQ's account is older than the events this ledger pruned: kept
		// aside, and the change feed's position with it (feedHeld).
		t.log.Debug("HQ's account is older than the events pruned here; keeping the view", "card", pos.MaskCard(card), "err", err)
		t.feedHeld.Store(true)
	case errors.Is(err, ledger.ErrOtherChain), errors.Is(err, ledger.ErrAckAhead):
		// HQ's copy of this terminal's chain is not this ledger's (restored
		// from a backup, not synced since): the view stays as it is until
		// the uploader has settled which events HQ holds.
		t.log.Debug("HQ's account is of another chain of this terminal; keeping the view", "card", pos.MaskCard(card), "err", err)
		t.feedHeld.Store(true)
	case err != nil && !errors.Is(err, ledger.ErrStaleSnapshot):
		return err
	}
	switch {
	case a.Holder != nil:
		if a.Holder.Card != card {
			return &pos.InputError{Field: "holder.card", Problem: "not the card of the account"}
		}
		return t.opts.Ledger.PutHolder(*a.Holder)
	case a.Forgotten:
		t.greetings.forget(card)
		n, err := t.opts.Ledger.ForgetHolders(card)
		if n > 0 {
			t.log.Info("card holder forgotten at HQ's request", "card", pos.MaskCard(card))
		}
		return err
	}
	return nil
}

// FeedPosition returns where the ledger says this terminal stands in HQ's
// change feed, and the feed's identity ("" and 0: from the start).
func (t *Till) FeedPosition() (feed string, after int64, err error) {
	feed, n, err := t.opts.Ledger.FeedPosition()
	if err != nil || n > math.MaxInt64 {
		return "", 0, err
	}
	return feed, int64(n), nil
}

// SetFeedPosition keeps the change feed's position for the next start, once
// the accounts before it are applied, and says whether it did. After an
// account this ledger could not take (ApplyAccount, another chain), or
// snapshots it dropped (ledger.ErrFeedHeld), it keeps none for the rest of
// the run: the next start reads on from the last position kept before.
func (t *Till) SetFeedPosition(feed string, after int64) (kept bool, err error) {
	if t.feedHeld.Load() || after < 0 {
		return false, nil
	}
	switch err := t.opts.Ledger.SetFeedPosition(feed, uint64(after)); {
	case errors.Is(err, ledger.ErrFeedHeld):
		t.feedHeld.Store(true)
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// PendingHolders returns card holders registered here that HQ has not got.
func (t *Till) PendingHolders(max int) ([]pos.CardHolder, error) {
	return t.opts.Ledger.PendingHolders(max)
}

// HoldersSynced records that HQ settled the holders as sent.
func (t *Till) HoldersSynced(sent []pos.CardHolder) error {
	return t.opts.Ledger.HoldersSynced(sent)
}
