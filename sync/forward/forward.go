// Package forward is the terminal's side of sync: it uploads the ledger's
// unacknowledged events to HQ in batches, marks what HQ acknowledged, and long-polls
// HQ for newer rulesets. It never drops an unacknowledged event, however long HQ is
// away: it retries with capped, jittered backoff that honours Retry-After, and logs
// an outage once and its end once.
package forward

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/internal/backoff"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/hqclient"
	"github.com/tilld/tilld/sync/wire"
)

// Outbox is the part of the ledger the forwarder needs. Implementations are safe
// for concurrent use.
type Outbox interface {
	// Pending returns up to max of the oldest unacknowledged events, in seq order.
	Pending(max int) ([]event.Event, error)
	// Ack records that HQ holds every event up to and including seq.
	Ack(seq uint64) error
	// Epoch is the chain the events are filed under at HQ.
	Epoch() (event.Epoch, error)
	// Fork moves the outbox to a new epoch because HQ holds, under the epoch
	// named from, another event under seq at (ledger.Ledger.Fork).
	Fork(from string, at uint64) (e event.Epoch, moved bool, err error)
}

// Rules receives rulesets from HQ.
type Rules interface {
	// RulesVersion is the version the terminal has (0 for none).
	RulesVersion() int64
	// ApplyRules verifies, stores and activates a ruleset from HQ with its
	// signature. An error means the ruleset was refused; the forwarder logs it and
	// the terminal keeps the one it has.
	ApplyRules(version int64, hash string, signature, raw []byte) error
}

// Cards takes what HQ knows of cards and holds the card holders HQ has not got
// yet. Implementations are safe for concurrent use.
type Cards interface {
	// PendingHolders returns up to max card holders registered here that HQ
	// has not acknowledged.
	PendingHolders(max int) ([]pos.CardHolder, error)
	// HoldersSynced records that HQ settled the holders as sent.
	HoldersSynced(sent []pos.CardHolder) error
	// ApplyAccount takes HQ's view of a card: its account across every store
	// and its holder (or that the holder was forgotten).
	ApplyAccount(a wire.AccountAnswer) error
	// FeedPosition returns the position in HQ's change feed SetFeedPosition
	// kept, and the feed's identity: where a start reads on from ("" and 0:
	// from the start).
	FeedPosition() (feed string, after int64, err error)
	// SetFeedPosition keeps a position in the feed of that identity, once
	// the accounts before it are applied; kept is false when it keeps none
	// for the rest of the run (an account it could not take).
	SetFeedPosition(feed string, after int64) (kept bool, err error)
}

// Options configure a Forwarder. Zero values mean the documented defaults.
type Options struct {
	// HQ is the client of HQ (hqclient.New with the terminal's TLS); required.
	HQ       *hqclient.Client
	Terminal string        // this terminal's id; required
	Outbox   Outbox        // required
	Rules    Rules         // nil: do not fetch rules
	Cards    Cards         // nil: no card holders to send, no account changes to follow
	Batch    int           // events per upload, default 500
	Poll     time.Duration // how often to look at the outbox without a Kick, default 5 s
	MinWait  time.Duration // first retry delay, default 250 ms
	MaxWait  time.Duration // retry delay cap, default 30 s
	LongPoll time.Duration // how long HQ may hold a rules request, default 25 s
	// Linger is how long an upload a sale woke waits for the sales that
	// follow it to join it, default 20 ms; negative: not at all. A till
	// selling back to back then makes one upload (and one commit at HQ) of
	// many sales instead of one each, and the sales do not wait on HQ's
	// commits; a lone sale reaches HQ 20 ms later.
	Linger time.Duration
	// Health, when set, is sent with every rules poll (HQ's fleet view).
	Health func() wire.Health
	Logger *slog.Logger
}

// Status is what the forwarder knows of its link to HQ.
type Status struct {
	Online    bool      `json:"online"`
	LastSync  time.Time `json:"last_sync,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// Problem is why the last exchange failed, in a person's words, with
	// its fix (hqclient.Diagnose); "" while HQ answers.
	Problem string `json:"problem,omitempty"`
	// Revoked: HQ answered that it revoked this terminal's certificate; the
	// forwarder no longer calls HQ (Problem says so).
	Revoked bool `json:"revoked,omitempty"`
}

// Forwarder moves events to HQ and rules from HQ.
type Forwarder struct {
	opts Options
	log  *slog.Logger
	kick chan struct{}

	mu      sync.Mutex
	status  Status
	down    bool // an outage is being reported (logged once)
	noRules bool // HQ answered that it has published no ruleset

	changesAfter atomic.Int64 // position in HQ's change feed
	askedRules   atomic.Bool  // the first rules request was made

	// The change feed's identity and what was kept of the position, set by
	// Run and then used by the one goroutine that follows the feed (follow).
	feed     string    // the identity changesAfter is a position in; "": unknown
	keptAt   time.Time // when a position was last kept (Cards.SetFeedPosition)
	kept     int64     // that position
	keepNone bool      // an account did not apply: keep no position this run
	fromKept bool      // changesAfter is a kept position HQ has not answered yet
	// polled is set once the combined poll was answered: the first poll of
	// a run, and the first after a failed one, asks with wait=0, so that a
	// till is online, and in HQ's fleet view, as soon as HQ answers rather
	// than once nothing new has come for a long poll's time.
	polled bool

	// batch is the upload size now: halved after each failed upload (a link
	// that cuts long requests still lets small ones through), doubled back
	// after each success up to Options.Batch. Only the upload loop uses it.
	batch int
}

// New returns a Forwarder; call Run to start it.
func New(opts Options) *Forwarder {
	if opts.Batch == 0 {
		opts.Batch = 500
	}
	if opts.Poll == 0 {
		opts.Poll = 5 * time.Second
	}
	if opts.Linger == 0 {
		opts.Linger = 20 * time.Millisecond
	}
	if opts.MinWait == 0 {
		opts.MinWait = 250 * time.Millisecond
	}
	if opts.MaxWait == 0 {
		opts.MaxWait = 30 * time.Second
	}
	if opts.LongPoll == 0 {
		opts.LongPoll = 25 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Forwarder{opts: opts, log: opts.Logger, kick: make(chan struct{}, 1), batch: opts.Batch}
}

// Kick wakes the uploader, e.g. right after a sale was recorded. It never blocks.
func (f *Forwarder) Kick() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// Status returns the link's state.
func (f *Forwarder) Status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.status
	if s.Problem == "" && f.noRules {
		s.Problem = NoRulesProblem
	}
	return s
}

// NoRulesProblem is Status.Problem while HQ answers but has published no
// ruleset: a till without one sells nothing.
const NoRulesProblem = "no rules published yet: HQ answers but has published no ruleset; publish one at HQ (`tillhq rules publish FILE`)"

func (f *Forwarder) setNoRules(none bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.noRules = none
}

// Run uploads and fetches rules until ctx is cancelled; it returns nil then.
func (f *Forwarder) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { f.uploadLoop(ctx) })
	f.polled = false
	if f.opts.Cards != nil {
		f.loadFeedPosition()
	}
	if f.opts.Rules != nil || f.opts.Cards != nil {
		wg.Go(func() { f.follow(ctx) })
	}
	wg.Wait()
	return nil
}

// follow holds HQ's combined long poll (wire.PathWait): one connection for
// the rules and the change feed. Against an older HQ, which has none, it
// holds the two long polls it replaces.
func (f *Forwarder) follow(ctx context.Context) {
	if !errors.Is(f.pollLoop(ctx, f.waitOnce), errNoWait) {
		return
	}
	f.log.Info("HQ has no combined long poll (an older HQ): polling its rules and changes apart")
	var wg sync.WaitGroup
	if f.opts.Rules != nil {
		wg.Go(func() { f.pollLoop(ctx, f.pollRules) })
	}
	if f.opts.Cards != nil {
		wg.Go(func() { f.pollLoop(ctx, f.fetchChanges) })
	}
	wg.Wait()
}

// errNoWait: HQ does not know wire.PathWait.
var errNoWait = errors.New("HQ has no combined long poll")

// waitOnce waits on HQ's combined poll until it answers, then applies the
// changes it carried and fetches the ruleset it announced.
func (f *Forwarder) waitOnce(ctx context.Context) error {
	wait := int(f.opts.LongPoll / time.Second)
	q := url.Values{"terminal": {f.opts.Terminal}}
	var have int64
	if f.opts.Rules != nil {
		have = f.opts.Rules.RulesVersion()
		if have == 0 && !f.askedRules.Swap(true) {
			wait = 0 // a till without rules learns at once whether HQ has any
		}
		q.Set("rules", strconv.FormatInt(have, 10))
		if f.opts.Health != nil {
			f.opts.Health().AddTo(q)
		}
	}
	if f.opts.Cards != nil {
		q.Set("changes", strconv.FormatInt(f.changesAfter.Load(), 10))
		if f.feed != "" {
			q.Set("feed", f.feed)
		}
	}
	if !f.polled {
		wait = 0 // the first poll of a run answers at once
	}
	q.Set("wait", strconv.Itoa(wait))
	wctx, cancel := context.WithTimeout(ctx, f.opts.LongPoll+15*time.Second)
	defer cancel()
	sent := time.Now()
	a, err := f.do(wctx, hqclient.Request{Path: wire.PathWait + "?" + q.Encode(), Limit: 8 << 20})
	var se *hqclient.StatusError
	if errors.As(err, &se) && se.Status == http.StatusNotFound && se.Code == "" {
		return errNoWait
	}
	if err != nil {
		f.polled = false // back, it is online at its first answer
		return fmt.Errorf("wait for HQ: %w", err)
	}
	f.succeeded()
	f.polled = true
	var ans wire.WaitAnswer
	if err := a.JSON(&ans); err != nil {
		return fmt.Errorf("wait for HQ: %w", err)
	}
	news := ans.Changes != nil && len(ans.Changes.Accounts) > 0
	if ans.Changes != nil && f.opts.Cards != nil {
		f.applyChanges(*ans.Changes)
	}
	if f.opts.Rules != nil {
		f.setNoRules(have == 0 && ans.Rules == 0)
		switch rs := ans.Ruleset; {
		case ans.Rules > have && rs != nil && rs.Version == ans.Rules:
			return f.applyRules(ctx, rs.Version, rs.Hash, rs.Signature, []byte(rs.TOML))
		case ans.Rules > have:
			return f.fetchRules(ctx, have, 0)
		}
	}
	if early := time.Duration(wait) * time.Second / 2; !news && time.Since(sent) < early {
		// HQ (or a proxy before it) answered a long poll at once with
		// nothing new: asking again at once would loop. Wait as long as
		// the poll would have.
		f.log.Debug("HQ answered a long poll at once with nothing new; waiting before asking again")
		backoff.Sleep(ctx, time.Duration(wait)*time.Second-time.Since(sent))
	}
	return nil
}

func (f *Forwarder) uploadLoop(ctx context.Context) {
	b := backoff.Backoff{Min: f.opts.MinWait, Max: f.opts.MaxWait}
	for {
		wait := f.opts.Poll
		more, err := f.uploadOnce(ctx)
		if err == nil && f.opts.Cards != nil {
			err = f.sendHolders(ctx)
		}
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			if f.failed(err) {
				return
			}
			wait = b.After(retryAfter(err))
			f.batch = max(f.batch/2, 1)
		default:
			b.Reset()
			f.batch = min(f.batch*2, f.opts.Batch)
			if more {
				continue
			}
		}
		// A sale during an outage must not shorten the backoff into a busy loop,
		// so kicks only wake a healthy uploader.
		kick := f.kick
		if err != nil {
			kick = nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-kick:
			t.Stop()
			if f.opts.Linger > 0 && !backoff.Sleep(ctx, f.opts.Linger) {
				return
			}
		case <-t.C:
		}
	}
}

// uploadOnce sends one batch; more says a full batch went and others may wait.
func (f *Forwarder) uploadOnce(ctx context.Context) (more bool, err error) {
	evs, err := f.opts.Outbox.Pending(f.batch)
	if err != nil {
		return false, fmt.Errorf("read outbox: %w", err)
	}
	if len(evs) == 0 {
		return false, nil
	}
	epoch, err := f.opts.Outbox.Epoch()
	if err != nil {
		return false, fmt.Errorf("read outbox: %w", err)
	}
	body, err := json.Marshal(wire.UploadRequest{Terminal: f.opts.Terminal, Epoch: epoch, Events: evs})
	if err != nil {
		return false, fmt.Errorf("encode upload: %w", err)
	}
	a, err := f.do(ctx, hqclient.Request{Method: http.MethodPost, Path: wire.PathUpload, Body: bytes.NewReader(body),
		Limit: 1 << 20, Expect: []int{http.StatusConflict}})
	if err != nil {
		return false, fmt.Errorf("upload to HQ: %w", err)
	}
	var ans struct {
		wire.UploadResponse
		wire.Error
	}
	if err := a.JSON(&ans); err != nil {
		return false, fmt.Errorf("upload to HQ: %w", err)
	}
	if ans.Acked > 0 {
		if err := f.opts.Outbox.Ack(ans.Acked); err != nil {
			return false, fmt.Errorf("record ack %d: %w", ans.Acked, err)
		}
	}
	if a.Status == http.StatusConflict && ans.Code == wire.CodeFork && ans.Fork != nil {
		// HQ holds other events under this ledger's seqs: it was restored
		// from a backup (or copied). Continue in a new epoch HQ keeps beside
		// its copy; both sets of sales stay, none is taken as the other.
		e, moved, err := f.opts.Outbox.Fork(ans.Fork.Epoch, ans.Fork.At)
		switch {
		case !moved && err != nil:
			return false, fmt.Errorf("fork at %d: %w", ans.Fork.At, err)
		case !moved:
			return true, nil // an answer about an epoch the outbox has left
		}
		f.log.Warn("HQ holds other events under this till's seqs; continuing in a new epoch", "at", ans.Fork.At,
			"hq_head", ans.Fork.HeadSeq, "epoch", e.ID, "base", e.BaseSeq, "err", err)
		return true, nil
	}
	if a.Status == http.StatusConflict {
		return false, fmt.Errorf("HQ refused the upload: %s", ans.Message)
	}
	f.succeeded()
	last := evs[len(evs)-1].Seq
	return len(evs) == f.batch && ans.Acked >= last, nil
}

// pollLoop runs one of HQ's long polls until ctx ends, backing off while HQ
// cannot be reached; it returns when ctx ends (nil), when HQ revoked this
// terminal, or when poll returns errNoWait (that error).
func (f *Forwarder) pollLoop(ctx context.Context, poll func(context.Context) error) error {
	b := backoff.Backoff{Min: f.opts.MinWait, Max: f.opts.MaxWait}
	for {
		err := poll(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, errNoWait):
			return err
		case err == nil:
			b.Reset()
			continue
		}
		if f.failed(err) {
			return nil
		}
		if !backoff.Sleep(ctx, b.After(retryAfter(err))) {
			return nil
		}
	}
}

// pollRules is the rules long poll of an older HQ.
func (f *Forwarder) pollRules(ctx context.Context) error {
	have := f.opts.Rules.RulesVersion()
	wait := int(f.opts.LongPoll / time.Second)
	if have == 0 && !f.askedRules.Swap(true) {
		wait = 0 // a till without rules learns at once whether HQ has any
	}
	return f.fetchRules(ctx, have, wait)
}

// fetchRules asks HQ for a ruleset newer than have, waiting up to wait
// seconds for one, and activates what comes.
func (f *Forwarder) fetchRules(ctx context.Context, have int64, wait int) error {
	q := url.Values{"after": {strconv.FormatInt(have, 10)}, "wait": {strconv.Itoa(wait)}}
	if f.opts.Health != nil {
		f.opts.Health().AddTo(q)
	}
	ctx, cancel := context.WithTimeout(ctx, f.opts.LongPoll+15*time.Second)
	defer cancel()
	a, err := f.do(ctx, hqclient.Request{Path: wire.PathRules + "?" + q.Encode(), Limit: 8 << 20})
	if err != nil {
		return fmt.Errorf("fetch rules: %w", err)
	}
	f.succeeded()
	if a.Status == http.StatusNoContent {
		// Asked for anything newer than none, HQ had nothing to give.
		f.setNoRules(have == 0)
		return nil
	}
	f.setNoRules(false)
	version, err := strconv.ParseInt(a.Header.Get(wire.HeaderRulesVersion), 10, 64)
	if err != nil {
		return fmt.Errorf("fetch rules: bad %s header: %w", wire.HeaderRulesVersion, err)
	}
	sig, err := base64.StdEncoding.DecodeString(a.Header.Get(wire.HeaderRulesSignature))
	if err != nil {
		return fmt.Errorf("fetch rules: bad %s header: %w", wire.HeaderRulesSignature, err)
	}
	return f.applyRules(ctx, version, a.Header.Get(wire.HeaderRulesHash), sig, a.Body)
}

// applyRules activates a ruleset HQ sent, when it is newer than the till's
// and its signature holds.
func (f *Forwarder) applyRules(ctx context.Context, version int64, hash string, sig, raw []byte) error {
	if have := f.opts.Rules.RulesVersion(); version <= have {
		// HQ answered a long poll for something newer with what the till
		// has (a proxy that drops the query, or an HQ rolled back): asking
		// again at once would loop. Wait as long as a poll would have.
		f.log.Debug("HQ answered with a ruleset the till has; waiting before asking again", "version", version, "have", have)
		backoff.Sleep(ctx, f.opts.LongPoll)
		return nil
	}
	if err := f.opts.Rules.ApplyRules(version, hash, sig, raw); err != nil {
		// Refused (bad or older): keep selling on what we have; look again later
		// rather than fetching the same refused file in a loop.
		f.log.Error("ruleset from HQ refused", "version", version, "err", err)
		return &refused{err: err, after: f.opts.MaxWait}
	}
	f.log.Info("ruleset activated", "version", version)
	return nil
}

// failed records err, the reason a call to HQ failed; it reports whether
// HQ revoked this terminal, after which the forwarder calls HQ no more.
func (f *Forwarder) failed(err error) (revoked bool) {
	var se *hqclient.StatusError
	revoked = errors.As(err, &se) && se.Code == wire.CodeRevoked
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.status.Revoked {
		return true
	}
	f.status.Online = false
	f.status.LastError = err.Error()
	f.status.Problem = hqclient.Diagnose(f.opts.HQ.Base(), err).String()
	if revoked {
		f.status.Revoked = true
		f.status.Problem = RevokedProblem + ": " + se.Message
		f.log.Error("HQ revoked this terminal: no more uploads or polls; the till keeps its sales until it is enrolled again", "err", err)
		return true
	}
	if !f.down {
		f.down = true
		f.log.Warn("HQ unreachable; selling offline and retrying", "err", err)
	}
	return false
}

// RevokedProblem begins Status.Problem once HQ revoked this terminal.
const RevokedProblem = "revoked by HQ: this till no longer syncs; enroll it again under a new terminal id (`tillhq terminal add`, then `tilld enroll`)"

// errRevoked is returned by every call once HQ revoked this terminal.
var errRevoked = errors.New("HQ revoked this terminal")

// do sends r to HQ unless HQ revoked this terminal.
func (f *Forwarder) do(ctx context.Context, r hqclient.Request) (hqclient.Answer, error) {
	f.mu.Lock()
	revoked := f.status.Revoked
	f.mu.Unlock()
	if revoked {
		return hqclient.Answer{}, errRevoked
	}
	return f.opts.HQ.Do(ctx, r)
}

func (f *Forwarder) succeeded() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status.Online = true
	f.status.LastSync = time.Now()
	f.status.LastError = ""
	f.status.Problem = ""
	if f.down {
		f.down = false
		f.log.Info("HQ reachable again")
	}
}

// refused is a ruleset the till refused: look again after a while rather
// than fetching the same file in a loop.
type refused struct {
	err   error
	after time.Duration
}

func (e *refused) Error() string { return e.err.Error() }
func (e *refused) Unwrap() error { return e.err }

// retryAfter is how long err asks to wait: HQ's Retry-After, or a refused
// ruleset's pause.
func retryAfter(err error) time.Duration {
	var r *refused
	if errors.As(err, &r) {
		return r.after
	}
	return hqclient.RetryAfter(err)
}
