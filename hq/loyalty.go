package hq

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tilld/tilld/analytics/loyalty"
	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// HQ's loyalty reports (cadence, overdue, segments, CLV, KPIs) read a
// loyalty.Book: every card's purchase days, the refunds, the NPS answers and
// the cards' points lots, kept in memory and brought up to date
// incrementally. Each chain has a cursor, starting at its base; a refresh
// reads each chain's own events after its cursor through the Store
// interface (SalesReport for the chains, ChainEvents for the events), adds
// the sales, refunds and answers to the book and moves the cursor. So every
// stored event is read once, whichever store holds it, and both stores give
// the same book. A replica builds its book when it starts (a full read of
// the events) and then reads only what uploads added. The customer-base
// model is refitted on a schedule (LoyaltyOptions.RefitEvery), never in a
// request.

// LoyaltyOptions configure a Loyalty. The zero value of every field but
// Store is a documented default.
type LoyaltyOptions struct {
	Store Store
	// Page is how many events one ChainEvents call reads (default 1 000).
	Page int
	// RefitEvery is how often Run fits the customer-base model again
	// (default 6 h); the first fit is right after the first refresh.
	RefitEvery time.Duration
	// Every is the least time between two refreshes in Run (default 10 s):
	// a busy chain's uploads do not make it read all the time.
	Every time.Duration
	// Wake returns a channel closed when there may be new events; nil: only
	// Every.
	Wake   func() <-chan struct{}
	Now    func() time.Time
	Logger *slog.Logger
}

// Loyalty keeps the book the loyalty reports read. Safe for concurrent use.
type Loyalty struct {
	opts LoyaltyOptions
	log  *slog.Logger

	refresh sync.Mutex // one refresh at a time
	cursors map[chainID]uint64
	// where is each terminal's store and clock as its latest sale read
	// said: a refund names neither, it is taken where its till sells.
	where map[string]till

	mu   sync.RWMutex // guards book, model, version, nps
	book *loyalty.Book
	// nps is each card's latest NPS answer (Options.NPS), npsAt its time.
	nps        map[string]int
	npsAt      map[string]int64
	npsVersion int64
	model      loyalty.Model
	fitted     time.Time // when model was fitted; zero: never
	version    int64     // sales and refunds added to the book
	fitAtVer   int64

	// The last analysis and what it was made of: reports read one after
	// another (cadence, overdue, segments, pages of each) reuse it while the
	// book and the model stay as they are.
	cacheMu  sync.Mutex
	cached   *loyalty.Analysis
	cacheKey string
}

type chainID struct{ terminal, epoch string }

type till struct {
	store     string
	utcOffset int
}

// NewLoyalty returns a Loyalty over opts.Store with an empty book.
func NewLoyalty(opts LoyaltyOptions) *Loyalty {
	if opts.Page <= 0 {
		opts.Page = 1000
	}
	if opts.RefitEvery <= 0 {
		opts.RefitEvery = 6 * time.Hour
	}
	if opts.Every <= 0 {
		opts.Every = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Loyalty{opts: opts, log: opts.Logger.With("component", "loyalty"), cursors: map[chainID]uint64{}, book: loyalty.NewBook(),
		where: map[string]till{}, nps: map[string]int{}, npsAt: map[string]int64{}}
}

// Refresh reads the events every chain gained since the last refresh and
// adds their sales, refunds and NPS answers to the book. It returns how
// many sales it added. When ctx ends it stops between pages with ctx's
// error; the pages read stay in the book.
func (l *Loyalty) Refresh(ctx context.Context) (int, error) {
	l.refresh.Lock()
	defer l.refresh.Unlock()
	terms, err := l.opts.Store.SalesReport(ctx)
	if err != nil {
		return 0, fmt.Errorf("loyalty refresh: %w", err)
	}
	added := 0
	for _, t := range terms {
		for _, c := range t.Chains {
			id := chainID{t.Terminal, c.Epoch.ID}
			cur, ok := l.cursors[id]
			if !ok {
				cur = c.Epoch.BaseSeq // the parents' events are read with the parents
			}
			for cur < c.Acked {
				if err := ctx.Err(); err != nil { // the store need not check; what was read stays read
					return added, fmt.Errorf("loyalty refresh: %w", err)
				}
				_, evs, err := l.opts.Store.ChainEvents(ctx, t.Terminal, c.Epoch.ID, cur, l.opts.Page)
				if err != nil {
					return added, fmt.Errorf("loyalty refresh: %w", err)
				}
				if len(evs) == 0 {
					return added, fmt.Errorf("loyalty refresh: chain %s/%q holds no events after %d below its watermark %d", t.Terminal, c.Epoch.ID, cur, c.Acked)
				}
				n := l.add(evs)
				added += n
				cur = evs[len(evs)-1].Seq
				l.cursors[id] = cur
			}
		}
	}
	return added, nil
}

// add adds the sales, refunds and NPS answers among evs to the book and
// returns how many sales it added.
func (l *Loyalty) add(evs []event.Event) int {
	type answer struct {
		f   Feedback
		day int32
	}
	sales := make([]loyalty.Sale, 0, len(evs)) // most events are sales
	var refunds []loyalty.Refund
	var answers []answer
	for i := range evs {
		e := &evs[i]
		switch e.Type {
		case event.TypeSale:
			s, ok := SaleOf(*e, l.log)
			if !ok {
				continue
			}
			if s.Store != "" {
				l.where[e.Terminal] = till{s.Store, s.UTCOffset}
			}
			sales = append(sales, s)
		case event.TypeRefund:
			f, err := decodeRefundFacts(e.Body)
			if err != nil {
				l.log.Warn("refund body does not decode; left out of the loyalty reports", "terminal", e.Terminal, "seq", e.Seq, "err", err)
				continue
			}
			w := l.where[e.Terminal]
			refunds = append(refunds, loyalty.Refund{Card: f.Card, Store: w.store, Terminal: e.Terminal, Day: loyalty.DayOf(e.At, w.utcOffset),
				Currency: f.Currency, Back: f.Back, Spend: -f.Total, Reversed: -f.Earned, Returned: -f.Redeemed,
				ReturnedLots: f.ReturnedLots, SaleAt: f.SaleAt, At: e.At})
		case event.TypeFeedback:
			f, err := decodeFeedback(e)
			if err != nil {
				l.log.Warn("feedback body does not decode; left out of the loyalty reports", "terminal", e.Terminal, "seq", e.Seq, "err", err)
				continue
			}
			day, _ := time.Parse(time.DateOnly, f.Day)
			answers = append(answers, answer{f, loyalty.DayOf(day, 0)})
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range sales {
		l.book.Add(s)
	}
	for _, r := range refunds {
		l.book.AddRefund(r)
	}
	for _, a := range answers {
		l.book.AddAnswer(loyalty.Answer{Store: a.f.Store, Region: a.f.Region, Terminal: a.f.Terminal, Day: a.day, Asked: a.f.Asked, Score: a.f.Score})
		if a.f.Card == "" {
			continue
		}
		// The latest answer is the card's; of two at one time, the higher
		// terminal's, so that every replica keeps the same.
		if at, ok := l.npsAt[a.f.Card]; !ok || a.f.At.UnixNano() >= at {
			l.nps[a.f.Card], l.npsAt[a.f.Card] = a.f.Score, a.f.At.UnixNano()
			l.npsVersion++
		}
	}
	l.version += int64(len(sales) + len(refunds))
	return len(sales)
}

// saleBody is the part of a sale event's body (pos.Sale) the loyalty
// reports read: decoding into it skips the lines and the rules applied
// without building them.
type saleBody struct {
	Card          string         `json:"card"`
	Currency      string         `json:"currency"`
	Total         money.Amount   `json:"total"`
	Earned        int64          `json:"points_earned"`
	Redeemed      int64          `json:"points_redeemed"`
	Tier          string         `json:"tier"`
	Partner       string         `json:"partner"`
	PartnerPoints int64          `json:"partner_points"`
	Donations     []pos.Donation `json:"donations"`
	Lots          []pos.LotUse   `json:"lots"`
	Expires       time.Time      `json:"points_expire"`
	Inputs        *struct {
		Store     string `json:"store"`
		Region    string `json:"region"`
		UTCOffset int    `json:"utc_offset"`
	} `json:"inputs"`
}

// SaleOf reads what the loyalty reports need of a sale event; ok is false for
// any other event, and for a sale whose body does not decode (logged: the
// audit flags it).
func SaleOf(e event.Event, log *slog.Logger) (loyalty.Sale, bool) {
	if e.Type != event.TypeSale {
		return loyalty.Sale{}, false
	}
	var s saleBody
	if err := json.Unmarshal(e.Body, &s); err != nil {
		if log != nil {
			log.Warn("sale body does not decode; left out of the loyalty reports", "terminal", e.Terminal, "seq", e.Seq, "err", err)
		}
		return loyalty.Sale{}, false
	}
	out := loyalty.Sale{Card: s.Card, Terminal: e.Terminal, Day: loyalty.DayOf(e.At, 0), Currency: s.Currency, Total: s.Total,
		Earned: s.Earned, Redeemed: s.Redeemed, Tier: s.Tier, Partner: s.Partner, PartnerPoints: s.PartnerPoints,
		At: e.At, Lots: s.Lots, Expires: s.Expires}
	if s.Inputs != nil {
		out.Store, out.Region = s.Inputs.Store, s.Inputs.Region
		out.Day = loyalty.DayOf(e.At, s.Inputs.UTCOffset)
		out.UTCOffset = s.Inputs.UTCOffset
	}
	for _, d := range s.Donations {
		out.Donations = append(out.Donations, loyalty.Donation{Cause: d.Cause, Amount: d.Amount, Points: d.Points})
	}
	return out, true
}

// Fit fits the customer-base model to the book as of today and keeps it.
func (l *Loyalty) Fit() loyalty.Model {
	l.mu.RLock()
	ver := l.version
	m := loyalty.FitModel(l.book, l.today())
	l.mu.RUnlock()
	l.mu.Lock()
	l.model, l.fitted, l.fitAtVer = m, l.opts.Now(), ver
	l.mu.Unlock()
	if m.BGNBD == nil {
		l.log.Info("customer-base model not fitted", "customers", m.Customers, "why", m.Why)
	} else {
		p := m.BGNBD.Params
		l.log.Info("customer-base model fitted", "customers", m.Customers, "r", p.R, "alpha", p.Alpha, "a", p.A, "b", p.B, "penalized", m.Penalized)
	}
	return m
}

func (l *Loyalty) today() int32 { return loyalty.DayOf(l.opts.Now(), 0) }

// View calls fn with the book and the model under the read lock: fn must not
// keep the book.
func (l *Loyalty) View(fn func(b *loyalty.Book, m loyalty.Model, fitted time.Time) error) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return fn(l.book, l.model, l.fitted)
}

// NPS returns each card's latest NPS answer, for Options.NPS. Call it
// inside View and do not change it.
func (l *Loyalty) NPS() map[string]int { return l.nps }

// Analysis returns the analysis of the book as of asOf with o, from the
// cache when the book, the model and the question are the same as last
// time. Call it inside View: the analysis reads the book.
func (l *Loyalty) Analysis(b *loyalty.Book, m loyalty.Model, asOf int32, o loyalty.Options) *loyalty.Analysis {
	nps := o.NPS
	o.NPS = nil // the map is l.nps, which npsVersion stands for
	key := fmt.Sprintf("%p %d %d %v %d %v", b, l.version, l.npsVersion, l.fitted.UnixNano(), asOf, o)
	o.NPS = nps
	l.cacheMu.Lock()
	defer l.cacheMu.Unlock()
	if l.cached == nil || l.cacheKey != key {
		l.cached, l.cacheKey = loyalty.Analyze(b, asOf, m, o), key
	}
	return l.cached
}

// Ready refreshes the book and fits the model when it never was fitted, or
// the book has grown since by more than a tenth: what a report request does
// before it reads, so that a report on a replica just started is complete.
func (l *Loyalty) Ready(ctx context.Context) error {
	if _, err := l.Refresh(ctx); err != nil {
		return err
	}
	l.mu.RLock()
	stale := l.fitted.IsZero() || l.version > l.fitAtVer+l.fitAtVer/10
	l.mu.RUnlock()
	if stale {
		l.Fit()
	}
	return nil
}

// Run refreshes the book when woken (at most every Every) and refits the
// model every RefitEvery, until ctx ends; then it returns nil.
func (l *Loyalty) Run(ctx context.Context) error {
	failing := false
	var lastFit time.Time
	for {
		var wake <-chan struct{}
		if l.opts.Wake != nil {
			wake = l.opts.Wake()
		}
		_, err := l.Refresh(ctx)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case err != nil && !failing:
			l.log.Error("loyalty refresh failed; retrying", "err", err)
			failing = true
		case err == nil && failing:
			l.log.Info("loyalty refresh works again")
			failing = false
		}
		if err == nil && (lastFit.IsZero() || l.opts.Now().Sub(lastFit) >= l.opts.RefitEvery) {
			l.Fit()
			lastFit = l.opts.Now()
		}
		t := time.NewTimer(l.opts.Every)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		if wake != nil {
			select {
			case <-ctx.Done():
				return nil
			case <-wake:
			case <-time.After(l.opts.RefitEvery):
			}
		}
	}
}
