package forward

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/hqclient"
	"github.com/tilld/tilld/sync/wire"
)

// Card holders go up with the uploads; HQ's views of the cards this terminal
// has seen come down through a long poll of the change feed, and one card is
// looked up when it is scanned.

// sendHolders sends the holders registered here that HQ has not got, in batches.
func (f *Forwarder) sendHolders(ctx context.Context) error {
	for {
		hs, err := f.opts.Cards.PendingHolders(100)
		if err != nil || len(hs) == 0 {
			return err
		}
		body, err := json.Marshal(wire.HoldersRequest{Terminal: f.opts.Terminal, Holders: hs})
		if err != nil {
			return fmt.Errorf("encode holders: %w", err)
		}
		var ans wire.HoldersResponse
		if err := f.call(ctx, http.MethodPost, wire.PathHolders, body, &ans); err != nil {
			return fmt.Errorf("send card holders: %w", err)
		}
		if err := f.opts.Cards.HoldersSynced(hs); err != nil {
			return fmt.Errorf("record holders sent: %w", err)
		}
		f.log.Info("card holders sent to HQ", "holders", len(hs), "stored", ans.Stored)
		if len(hs) < 100 {
			return nil
		}
	}
}

// fetchChanges (an older HQ's long poll) waits for HQ's next accounts of the
// cards this terminal has seen and applies them.
func (f *Forwarder) fetchChanges(ctx context.Context) error {
	q := url.Values{"after": {strconv.FormatInt(f.changesAfter.Load(), 10)}, "wait": {strconv.Itoa(int(f.opts.LongPoll / time.Second))},
		"terminal": {f.opts.Terminal}}
	if f.feed != "" {
		q.Set("feed", f.feed)
	}
	ctx, cancel := context.WithTimeout(ctx, f.opts.LongPoll+15*time.Second)
	defer cancel()
	var ch wire.ChangesAnswer
	if err := f.call(ctx, http.MethodGet, wire.PathChanges+"?"+q.Encode(), nil, &ch); err != nil {
		return fmt.Errorf("account changes: %w", err)
	}
	f.applyChanges(ch)
	return nil
}

// applyChanges applies the accounts of a change-feed answer and moves the
// feed's position on.
func (f *Forwarder) applyChanges(ch wire.ChangesAnswer) {
	for _, a := range ch.Accounts {
		if err := f.opts.Cards.ApplyAccount(a); err != nil {
			// One card's view that does not apply must not stop the others;
			// the next start reads it again.
			f.log.Error("account from HQ not applied", "card", pos.MaskCard(a.Card), "err", err)
			f.keepNone = true
		}
	}
	f.changesAfter.Store(ch.Next)
	if len(ch.Accounts) > 0 {
		f.log.Debug("accounts from HQ's change feed", "accounts", len(ch.Accounts), "next", ch.Next)
	}
	fromKept := f.fromKept
	f.fromKept = false
	if ch.Feed == "" || len(ch.Feed) > wire.MaxFeedID || !utf8.ValidString(ch.Feed) || ch.Next < 0 {
		// An older HQ's feed (or an identity no terminal keeps): it read the
		// position as its own, whatever feed it was kept of. Read it from
		// the start, as before positions were kept.
		if fromKept {
			f.log.Info("HQ names no change feed (an older HQ): reading its feed from the start")
			f.changesAfter.Store(0)
		}
		f.feed = ""
		return
	}
	newFeed := ch.Feed != f.feed
	f.feed = ch.Feed
	f.keepFeedPosition(ch.Next, newFeed || len(ch.Accounts) > 0)
}

// keepEvery is how often a position the feed moved to without an account
// for this terminal (past other terminals' cards) is kept: a quiet till
// writes it once in a while rather than at every long poll, and reads a
// little of the feed again after a restart.
const keepEvery = 10 * time.Minute

// loadFeedPosition starts the feed from the position the ledger kept, or
// from the start.
func (f *Forwarder) loadFeedPosition() {
	f.feed, f.kept, f.keptAt, f.keepNone, f.fromKept = "", 0, time.Time{}, false, false
	f.changesAfter.Store(0)
	feed, after, err := f.opts.Cards.FeedPosition()
	switch {
	case err != nil:
		f.log.Warn("change feed position not read: reading HQ's feed from its start", "err", err)
	case feed != "" && after >= 0:
		f.feed, f.kept, f.keptAt, f.fromKept = feed, after, time.Now(), true
		f.changesAfter.Store(after)
		f.log.Info("reading HQ's change feed on from the position kept", "after", after)
	}
}

// keepFeedPosition keeps next for the next start: at once when accounts
// came with it or the feed is another, else once in keepEvery.
func (f *Forwarder) keepFeedPosition(next int64, now bool) {
	if f.keepNone || (!now && (next == f.kept || time.Since(f.keptAt) < keepEvery)) {
		return
	}
	kept, err := f.opts.Cards.SetFeedPosition(f.feed, next)
	switch {
	case err != nil:
		f.log.Warn("change feed position not kept: the next start reads more of HQ's feed", "err", err)
	case !kept:
		f.log.Info("change feed position no longer kept this run: the next start reads on from the last one kept")
		f.keepNone = true
	default:
		f.kept, f.keptAt = next, time.Now()
		f.log.Debug("change feed position kept", "after", next)
	}
}

// Lookup asks HQ for a card's account across every store and applies it; a
// scan calls it with a short deadline and falls back to the cached view.
func (f *Forwarder) Lookup(ctx context.Context, card string) error {
	var a wire.AccountAnswer
	q := url.Values{"terminal": {f.opts.Terminal}}
	if err := f.call(ctx, http.MethodGet, wire.PathAccountPrefix+url.PathEscape(card)+"?"+q.Encode(), nil, &a); err != nil {
		return fmt.Errorf("look card up at HQ: %w", err)
	}
	if f.opts.Cards == nil {
		return nil
	}
	return f.opts.Cards.ApplyAccount(a)
}

// call sends one request to HQ and decodes its JSON answer.
func (f *Forwarder) call(ctx context.Context, method, path string, body []byte, out any) error {
	r := hqclient.Request{Method: method, Path: path}
	if body != nil {
		r.Body = bytes.NewReader(body)
	}
	a, err := f.do(ctx, r)
	if err != nil {
		return err
	}
	f.succeeded()
	return a.JSON(out)
}

// ErrBadSaleAnswer: HQ answered a sale look-up with something that is not
// the sale the receipt code names (another event, a hash that does not
// cover its content): the till must not take it back on that answer.
var ErrBadSaleAnswer = errors.New("HQ's answer is not the sale the receipt code names")

// Sale asks HQ for the sale a receipt code names, made at any terminal, and
// what other terminals returned of it (a return at another till). The
// answer is checked as any HQ answer is: its event must be a sale of the
// code's terminal and seq whose hash, recomputed from its content, begins
// as the code says; else ErrBadSaleAnswer. Its counts are one per line of
// the sale at most, none negative.
func (f *Forwarder) Sale(ctx context.Context, receipt string) (wire.SaleAnswer, error) {
	terminal, seq, hash, err := pos.ParseReceiptCode(receipt)
	if err != nil {
		return wire.SaleAnswer{}, err
	}
	var a wire.SaleAnswer
	q := url.Values{"terminal": {f.opts.Terminal}}
	if err := f.call(ctx, http.MethodGet, wire.PathSalePrefix+url.PathEscape(strings.TrimSpace(receipt))+"?"+q.Encode(), nil, &a); err != nil {
		return wire.SaleAnswer{}, fmt.Errorf("look sale %s up at HQ: %w", receipt, err)
	}
	e := a.Event
	var lines struct {
		Lines []json.RawMessage `json:"lines"`
	}
	switch {
	case e.Terminal != terminal || e.Seq != seq || e.Type != event.TypeSale:
		return wire.SaleAnswer{}, fmt.Errorf("%w: HQ sent %s event %s/%d", ErrBadSaleAnswer, e.Type, e.Terminal, e.Seq)
	case e.ComputeHash() != e.Hash || !strings.HasPrefix(e.Hash, hash):
		return wire.SaleAnswer{}, fmt.Errorf("%w: its hash does not match its content or the code", ErrBadSaleAnswer)
	case json.Unmarshal(e.Body, &lines) != nil || len(a.Returned) > len(lines.Lines) || slices.ContainsFunc(a.Returned, func(n int64) bool { return n < 0 }):
		return wire.SaleAnswer{}, fmt.Errorf("%w: returned %v of a sale of %d lines", ErrBadSaleAnswer, a.Returned, len(lines.Lines))
	}
	return a, nil
}
