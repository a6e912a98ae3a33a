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
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/pos"
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
}

// Options configure a Forwarder. Zero values mean the documented defaults.
type Options struct {
	HQ       string // base URL of HQ, e.g. https://hq.example:7460; required
	Terminal string // this terminal's id; required
	Outbox   Outbox // required
	Rules    Rules  // nil: do not fetch rules
	Cards    Cards  // nil: no card holders to send, no account changes to follow
	Client   *http.Client
	Batch    int           // events per upload, default 500
	Poll     time.Duration // how often to look at the outbox without a Kick, default 5 s
	MinWait  time.Duration // first retry delay, default 250 ms
	MaxWait  time.Duration // retry delay cap, default 30 s
	LongPoll time.Duration // how long HQ may hold a rules request, default 25 s
	Logger   *slog.Logger
}

// Status is what the forwarder knows of its link to HQ.
type Status struct {
	Online    bool      `json:"online"`
	LastSync  time.Time `json:"last_sync,omitzero"`
	LastError string    `json:"last_error,omitempty"`
}

// Forwarder moves events to HQ and rules from HQ.
type Forwarder struct {
	opts Options
	log  *slog.Logger
	kick chan struct{}

	mu     sync.Mutex
	status Status
	down   bool // an outage is being reported (logged once)

	changesAfter atomic.Int64 // position in HQ's change feed

	// batch is the upload size now: halved after each failed upload (a link
	// that cuts long requests still lets small ones through), doubled back
	// after each success up to Options.Batch. Only the upload loop uses it.
	batch int
}

// New returns a Forwarder; call Run to start it.
func New(opts Options) *Forwarder {
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 60 * time.Second}
	}
	if opts.Batch == 0 {
		opts.Batch = 500
	}
	if opts.Poll == 0 {
		opts.Poll = 5 * time.Second
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
	return f.status
}

// Run uploads and fetches rules until ctx is cancelled; it returns nil then.
func (f *Forwarder) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { f.uploadLoop(ctx) })
	if f.opts.Rules != nil {
		wg.Go(func() { f.pollLoop(ctx, f.fetchRules) })
	}
	if f.opts.Cards != nil {
		wg.Go(func() { f.pollLoop(ctx, f.fetchChanges) })
	}
	wg.Wait()
	return nil
}

func (f *Forwarder) uploadLoop(ctx context.Context) {
	var b backoff
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
			f.failed(err)
			wait = b.next(f.opts.MinWait, f.opts.MaxWait, err)
			f.batch = max(f.batch/2, 1)
		default:
			b.reset()
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
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.opts.HQ+wire.PathUpload, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.opts.Client.Do(req)
	if err != nil {
		return false, fmt.Errorf("upload to HQ: %w", err)
	}
	defer resp.Body.Close()
	var ans struct {
		wire.UploadResponse
		wire.Error
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return false, fmt.Errorf("upload to HQ: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusConflict {
		return false, httpError(resp, data)
	}
	if err := json.Unmarshal(data, &ans); err != nil {
		return false, fmt.Errorf("upload to HQ: answer: %w", err)
	}
	if ans.Acked > 0 {
		if err := f.opts.Outbox.Ack(ans.Acked); err != nil {
			return false, fmt.Errorf("record ack %d: %w", ans.Acked, err)
		}
	}
	if resp.StatusCode == http.StatusConflict && ans.Code == wire.CodeFork && ans.Fork != nil {
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
	if resp.StatusCode == http.StatusConflict {
		return false, fmt.Errorf("HQ refused the upload: %s", ans.Message)
	}
	f.succeeded()
	last := evs[len(evs)-1].Seq
	return len(evs) == f.batch && ans.Acked >= last, nil
}

// pollLoop runs one of HQ's long polls (rules, account changes) until ctx ends,
// backing off while HQ cannot be reached.
func (f *Forwarder) pollLoop(ctx context.Context, poll func(context.Context) error) {
	var b backoff
	for {
		err := poll(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			b.reset()
			continue
		}
		f.failed(err)
		t := time.NewTimer(b.next(f.opts.MinWait, f.opts.MaxWait, err))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (f *Forwarder) fetchRules(ctx context.Context) error {
	have := f.opts.Rules.RulesVersion()
	q := url.Values{"after": {strconv.FormatInt(have, 10)}, "wait": {strconv.Itoa(int(f.opts.LongPoll / time.Second))}}
	ctx, cancel := context.WithTimeout(ctx, f.opts.LongPoll+15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.opts.HQ+wire.PathRules+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := f.opts.Client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch rules: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("fetch rules: read: %w", err)
	}
	switch resp.StatusCode {
	case http.StatusNoContent:
		f.succeeded()
		return nil
	case http.StatusOK:
	default:
		return httpError(resp, data)
	}
	f.succeeded()
	version, err := strconv.ParseInt(resp.Header.Get(wire.HeaderRulesVersion), 10, 64)
	if err != nil {
		return fmt.Errorf("fetch rules: bad %s header: %w", wire.HeaderRulesVersion, err)
	}
	sig, err := base64.StdEncoding.DecodeString(resp.Header.Get(wire.HeaderRulesSignature))
	if err != nil {
		return fmt.Errorf("fetch rules: bad %s header: %w", wire.HeaderRulesSignature, err)
	}
	if have := f.opts.Rules.RulesVersion(); version <= have {
		// HQ answered a long poll for something newer with what the till
		// has (a proxy that drops the query, or an HQ rolled back): asking
		// again at once would loop. Wait as long as a poll would have.
		f.log.Debug("HQ answered with a ruleset the till has; waiting before asking again", "version", version, "have", have)
		t := time.NewTimer(f.opts.LongPoll)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		return nil
	}
	if err := f.opts.Rules.ApplyRules(version, resp.Header.Get(wire.HeaderRulesHash), sig, data); err != nil {
		// Refused (bad or older): keep selling on what we have; look again later
		// rather than fetching the same refused file in a loop.
		f.log.Error("ruleset from HQ refused", "version", version, "err", err)
		return &retryAfter{err: err, after: f.opts.MaxWait}
	}
	f.log.Info("ruleset activated", "version", version)
	return nil
}

func (f *Forwarder) failed(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status.Online = false
	f.status.LastError = err.Error()
	if !f.down {
		f.down = true
		f.log.Warn("HQ unreachable; selling offline and retrying", "err", err)
	}
}

func (f *Forwarder) succeeded() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status.Online = true
	f.status.LastSync = time.Now()
	f.status.LastError = ""
	if f.down {
		f.down = false
		f.log.Info("HQ reachable again")
	}
}

// retryAfter is an error that says how long to wait before the next try.
type retryAfter struct {
	err   error
	after time.Duration
}

func (e *retryAfter) Error() string { return e.err.Error() }
func (e *retryAfter) Unwrap() error { return e.err }

func httpError(resp *http.Response, body []byte) error {
	var we wire.Error
	msg := resp.Status
	if json.Unmarshal(body, &we) == nil && we.Message != "" {
		msg += ": " + we.Message
	}
	err := fmt.Errorf("HQ answered %s", msg)
	if s := resp.Header.Get("Retry-After"); s != "" {
		if secs, perr := strconv.Atoi(s); perr == nil && secs >= 0 {
			return &retryAfter{err: err, after: time.Duration(secs) * time.Second}
		}
		if t, perr := http.ParseTime(s); perr == nil {
			return &retryAfter{err: err, after: time.Until(t)}
		}
	}
	return err
}

// backoff doubles from min to max with full jitter in the upper half, and defers
// to a server's Retry-After when it asks for longer.
type backoff struct{ cur time.Duration }

func (b *backoff) reset() { b.cur = 0 }

func (b *backoff) next(lo, hi time.Duration, err error) time.Duration {
	if b.cur == 0 {
		b.cur = lo
	} else {
		b.cur = min(2*b.cur, hi)
	}
	d := b.cur/2 + rand.N(b.cur/2+1)
	var ra *retryAfter
	if errors.As(err, &ra) && ra.after > d {
		d = min(ra.after, 10*hi)
	}
	return d
}
