package hq

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/discount/rulesfile"
	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
)

// The simulation prices the sales HQ holds again with a draft ruleset and sets
// what the draft would have given beside what the live rules gave: the
// discounts and points each sale recorded (the audit checks those against the
// engine with the ruleset the sale names).

// PathAdminRulesSimulate simulates a draft ruleset (POST, the TOML file;
// ?from=&to= local dates, inclusive, default the last 7 days up to today;
// ?store=; a Simulation). Like the check it changes nothing and is not
// logged.
const PathAdminRulesSimulate = wire.PathAdminRules + "/simulate"

// SimQuery is which sales a simulation prices again: those of the days From
// to To (inclusive, on the till's wall clock) of Store ("" every store).
type SimQuery struct {
	From, To time.Time // dates (midnight UTC)
	Store    string
}

// SimFigures is what a set of sales gave: money in minor units of the
// simulation's currency.
type SimFigures struct {
	Discount       money.Amount `json:"discount"`
	Total          money.Amount `json:"total"`
	PointsEarned   int64        `json:"points_earned"`
	PointsRedeemed int64        `json:"points_redeemed"`
}

func (f *SimFigures) add(q *pos.Quote) {
	f.Discount += q.Discount
	f.Total += q.Total
	f.PointsEarned += q.PointsEarned
	f.PointsRedeemed += q.PointsRedeemed
}

// SimRule is what one rule gave in the sales, live and in the draft.
type SimRule struct {
	Rule string `json:"rule"`
	Kind string `json:"kind"`
	// InLive and InDraft say which ruleset has the rule (the live one: the
	// active ruleset has it, or a sale of the period applied it).
	InLive       bool         `json:"in_live"`
	InDraft      bool         `json:"in_draft"`
	LiveSales    int64        `json:"live_sales"`
	DraftSales   int64        `json:"draft_sales"`
	LiveAmount   money.Amount `json:"live_amount"`
	DraftAmount  money.Amount `json:"draft_amount"`
	LivePoints   int64        `json:"live_points"`
	DraftPoints  int64        `json:"draft_points"`
	LiveRedeemed int64        `json:"live_redeemed"`
	DraftRedeem  int64        `json:"draft_redeemed"`
}

// SimStore is the simulation of one store's sales.
type SimStore struct {
	Store     string     `json:"store"`
	Sales     int64      `json:"sales"`
	Customers int64      `json:"customers"` // cards whose discount or points change
	Live      SimFigures `json:"live"`
	Draft     SimFigures `json:"draft"`
}

// Simulation is the answer of PathAdminRulesSimulate.
type Simulation struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Store    string `json:"store,omitempty"`
	Version  int64  `json:"version"` // the draft's
	Currency string `json:"currency"`
	// Sales is how many sales were priced again; Changed how many of them
	// the draft prices otherwise (total, discount or points); Customers
	// the cards of those.
	Sales     int64      `json:"sales"`
	Changed   int64      `json:"changed"`
	Customers int64      `json:"customers"`
	Live      SimFigures `json:"live"`
	Draft     SimFigures `json:"draft"`
	Rules     []SimRule  `json:"rules"`
	Stores    []SimStore `json:"stores"`
	// Left out: sales recorded before tills kept what they priced with
	// (Unpriceable), sales in another currency than the draft's
	// (OtherCurrency), and sales the engine refused to price with the draft
	// (Failed, FirstFailure says why).
	Unpriceable   int64  `json:"unpriceable"`
	OtherCurrency int64  `json:"other_currency"`
	Failed        int64  `json:"failed"`
	FirstFailure  string `json:"first_failure,omitempty"`
}

// ParseSimQuery reads ?from=&to=&store= (dates YYYY-MM-DD); the default is
// the 7 days up to now's date.
func ParseSimQuery(q url.Values, now time.Time) (SimQuery, error) {
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	sq := SimQuery{From: today.AddDate(0, 0, -6), To: today, Store: q.Get("store")}
	for _, p := range []struct {
		key string
		dst *time.Time
	}{{"from", &sq.From}, {"to", &sq.To}} {
		if v := q.Get(p.key); v != "" {
			d, err := time.Parse(time.DateOnly, v)
			if err != nil {
				return sq, fmt.Errorf("%s %q: want a date YYYY-MM-DD", p.key, v)
			}
			*p.dst = d
		}
	}
	if sq.To.Before(sq.From) {
		return sq, fmt.Errorf("from %s is after to %s", sq.From.Format(time.DateOnly), sq.To.Format(time.DateOnly))
	}
	if len(sq.Store) > 64 {
		return sq, fmt.Errorf("store %q: at most 64 characters", sq.Store)
	}
	return sq, nil
}

// simPage is how many events one ChainEvents call of the simulation reads.
const simPage = 1000

// Simulate prices every sale of q HQ holds again with draft and adds up what
// it gives beside what each sale recorded. The draft is read as if it were in
// effect: Simulate clears its Effective, so give it a ruleset no one else
// uses. It reads every chain's own events, as the reports do.
func Simulate(ctx context.Context, st Store, draft *discount.Ruleset, q SimQuery) (Simulation, error) {
	rs := draft
	rs.Effective = discount.Moment{}
	sim := Simulation{From: q.From.Format(time.DateOnly), To: q.To.Format(time.DateOnly), Store: q.Store,
		Version: draft.Version, Currency: draft.Currency.Code, Rules: []SimRule{}, Stores: []SimStore{}}
	rules := map[string]*SimRule{}
	for _, r := range rs.Rules {
		sr := &SimRule{Rule: r.ID, Kind: string(r.Kind), InDraft: true}
		rules[r.ID] = sr
	}
	if cur, err := st.CurrentRuleset(ctx); err == nil {
		if active, err := rulesfile.Parse(cur.Raw); err == nil {
			for _, r := range active.Rules {
				if rules[r.ID] == nil {
					rules[r.ID] = &SimRule{Rule: r.ID, Kind: string(r.Kind)}
				}
				rules[r.ID].InLive = true
			}
		}
	} else if !errors.Is(err, ErrNoRuleset) {
		return sim, fmt.Errorf("simulate: %w", err)
	}
	stores := map[string]*SimStore{}
	cards := map[string]map[string]bool{} // store → cards changed
	live := map[int64]*discount.Ruleset{} // for a birthday sale's profile
	var got pos.Quote                     // each sale priced with the draft, in the same arrays
	err := eachSale(ctx, st, q, func(e *event.Event, sale *pos.Sale, store string) error {
		return sim.add(ctx, st, rs, e, sale, store, rules, stores, cards, live, &got)
	})
	if err != nil {
		return sim, fmt.Errorf("simulate: %w", err)
	}
	for _, r := range rs.Rules { // the draft's rules in its order, then the live ones it drops
		sim.Rules = append(sim.Rules, *rules[r.ID])
		delete(rules, r.ID)
	}
	gone := make([]SimRule, 0, len(rules))
	for _, r := range rules {
		gone = append(gone, *r)
	}
	slices.SortFunc(gone, func(a, b SimRule) int { return cmp.Compare(a.Rule, b.Rule) })
	sim.Rules = append(sim.Rules, gone...)
	for _, s := range stores {
		s.Customers = int64(len(cards[s.Store]))
		sim.Stores = append(sim.Stores, *s)
	}
	slices.SortFunc(sim.Stores, func(a, b SimStore) int { return cmp.Compare(a.Store, b.Store) })
	all := map[string]bool{}
	for _, cs := range cards {
		for c := range cs {
			all[c] = true
		}
	}
	sim.Customers = int64(len(all))
	return sim, nil
}

// eachSale calls fn with every sale of q HQ holds (every chain's own events,
// as the reports read them), decoded, and its store. A sale whose body does
// not decode is skipped: the audit flags it.
func eachSale(ctx context.Context, st Store, q SimQuery, fn func(e *event.Event, sale *pos.Sale, store string) error) error {
	return eachEvent(ctx, st, func(e *event.Event) error {
		if e.Type != event.TypeSale {
			return nil
		}
		var sale pos.Sale
		if err := json.Unmarshal(e.Body, &sale); err != nil {
			return nil
		}
		store, day := saleDay(e, &sale)
		if !q.holds(store, day) {
			return nil
		}
		return fn(e, &sale, store)
	})
}

// eachEvent calls fn with every event HQ holds, terminal by terminal, each
// chain in order.
func eachEvent(ctx context.Context, st Store, fn func(e *event.Event) error) error {
	terms, err := st.SalesReport(ctx)
	if err != nil {
		return err
	}
	for _, t := range terms {
		for _, c := range t.Chains {
			for cur := c.Epoch.BaseSeq; cur < c.Acked; {
				if err := ctx.Err(); err != nil {
					return err // the client went away: the embedded store does not look
				}
				_, evs, err := st.ChainEvents(ctx, t.Terminal, c.Epoch.ID, cur, simPage)
				if err != nil {
					return err
				}
				if len(evs) == 0 {
					return fmt.Errorf("chain %s/%q holds no events after %d below its watermark %d", t.Terminal, c.Epoch.ID, cur, c.Acked)
				}
				cur = evs[len(evs)-1].Seq
				for i := range evs {
					if err := fn(&evs[i]); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// holds reports whether q takes in what happened on day at store.
func (q SimQuery) holds(store string, day time.Time) bool {
	return !day.Before(q.From) && !day.After(q.To) && (q.Store == "" || store == q.Store)
}

// saleDay returns a sale's store and its date on the till's wall clock
// (midnight UTC; UTC for a sale without inputs).
func saleDay(e *event.Event, sale *pos.Sale) (store string, date time.Time) {
	if sale.Inputs == nil {
		return "", localDay(e.At, 0)
	}
	return sale.Inputs.Store, localDay(e.At, sale.Inputs.UTCOffset)
}

// localDay returns at's date at offset seconds east of UTC, as midnight UTC.
func localDay(at time.Time, offset int) time.Time {
	d := at.In(time.FixedZone("", offset))
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
}

// add prices sale e again with rs, into got.
func (sim *Simulation) add(ctx context.Context, st Store, rs *discount.Ruleset, e *event.Event, in *pos.Sale, store string,
	rules map[string]*SimRule, stores map[string]*SimStore, cards map[string]map[string]bool, live map[int64]*discount.Ruleset,
	got *pos.Quote) error {
	sale := *in
	if sale.Currency != rs.Currency.Code {
		sim.OtherCurrency++
		return nil
	}
	basket, acct, at, err := pos.ReplayInputs(sale, e.Terminal, e.At)
	if errors.Is(err, pos.ErrNoInputs) {
		sim.Unpriceable++
		return nil
	}
	if err != nil {
		sim.fail(fmt.Sprintf("%s seq %d: %v", e.Terminal, e.Seq, err))
		return nil
	}
	if acct != nil && sale.Birthday {
		lr, err := liveRuleset(ctx, st, live, e.RulesetVersion)
		if err != nil {
			return err
		}
		if lr != nil {
			acct.Profile = birthdayProfile(lr, sale.Applied, at)
		}
	}
	if err := discount.ApplyTo(got, rs, basket, acct, at, discount.Options{}); err != nil {
		sim.fail(fmt.Sprintf("%s seq %d: %v", e.Terminal, e.Seq, err))
		return nil
	}
	sim.Sales++
	sim.Live.add(&sale.Quote)
	sim.Draft.add(got)
	s := stores[store]
	if s == nil {
		s = &SimStore{Store: store}
		stores[store] = s
	}
	s.Sales++
	s.Live.add(&sale.Quote)
	s.Draft.add(got)
	if got.Total != sale.Total || got.Discount != sale.Discount || got.PointsEarned != sale.PointsEarned || got.PointsRedeemed != sale.PointsRedeemed {
		sim.Changed++
		if sale.Card != "" {
			if cards[store] == nil {
				cards[store] = map[string]bool{}
			}
			cards[store][sale.Card] = true
		}
	}
	rule := func(a *pos.Applied) *SimRule {
		r := rules[a.Rule]
		if r == nil {
			r = &SimRule{Rule: a.Rule, Kind: a.Kind}
			rules[a.Rule] = r
		}
		return r
	}
	for i := range sale.Applied {
		r := rule(&sale.Applied[i])
		r.InLive = true
		r.LiveSales++
		r.LiveAmount += sale.Applied[i].Amount
		r.LivePoints += sale.Applied[i].Points
		r.LiveRedeemed += sale.Applied[i].Redeemed
	}
	for i := range got.Applied {
		r := rule(&got.Applied[i])
		r.DraftSales++
		r.DraftAmount += got.Applied[i].Amount
		r.DraftPoints += got.Applied[i].Points
		r.DraftRedeem += got.Applied[i].Redeemed
	}
	return nil
}

func (sim *Simulation) fail(why string) {
	if sim.Failed == 0 {
		sim.FirstFailure = why
	}
	sim.Failed++
}

// liveRuleset returns the published ruleset of the version, parsed, cached in
// live; nil when HQ never published it or it does not parse.
func liveRuleset(ctx context.Context, st Store, live map[int64]*discount.Ruleset, v int64) (*discount.Ruleset, error) {
	if rs, ok := live[v]; ok {
		return rs, nil
	}
	pub, err := st.Ruleset(ctx, v)
	if errors.Is(err, ErrNoRuleset) {
		live[v] = nil
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("simulate: ruleset version %d: %w", v, err)
	}
	rs, _ := rulesfile.Parse(pub.Raw) // a ruleset that does not parse: the audit flags its sales
	live[v] = rs
	return rs, nil
}

// simulateRules answers PathAdminRulesSimulate.
func (s *Server) simulateRules(w http.ResponseWriter, r *http.Request) {
	q, err := ParseSimQuery(r.URL.Query(), s.opts.Now())
	if err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 8<<20))
	if err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", "ruleset body: "+err.Error())
		return
	}
	rs, err := rulesfile.Parse(raw)
	if err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_ruleset", "the draft ruleset: "+err.Error())
		return
	}
	sim, err := Simulate(r.Context(), s.opts.Store, rs, q)
	if err != nil && r.Context().Err() != nil {
		return // the client went away: nobody to answer
	}
	if err != nil {
		s.storeError(w, "simulate", err)
		return
	}
	wire.WriteJSON(w, http.StatusOK, sim)
}
