package localapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/sync/wire"
)

// The ledger's routes: tilld holds the ledger file's lock, so tools read the
// ledger through it.
//
//	GET /v1/ledger/verify            → VerifyReport (200 whether or not it found problems)
//	GET /v1/ledger/export?from=SEQ   → the events from SEQ (default: the first kept),
//	                                   one JSON object per line (application/x-ndjson)

// VerifyReport is what verifying a ledger found, as the API and tillctl show it.
type VerifyReport struct {
	Terminal string `json:"terminal"`
	OK       bool   `json:"ok"`
	Events   uint64 `json:"events"`   // events checked
	Accounts int    `json:"accounts"` // account views compared with their rebuild
	// Anchor is the seq of the last pruned event (0 when none was); LastSeq the
	// seq of the last event.
	Anchor   uint64          `json:"anchor"`
	LastSeq  uint64          `json:"last_seq"`
	Problems []VerifyProblem `json:"problems"`
}

// VerifyProblem is one inconsistency: of an event (Seq), of a card's account
// (Card, masked), or of the file.
type VerifyProblem struct {
	Seq     uint64 `json:"seq,omitempty"`
	Card    string `json:"card,omitempty"`
	Problem string `json:"problem"`
}

// String is the problem on one line.
func (p VerifyProblem) String() string {
	switch {
	case p.Seq > 0 && p.Card != "":
		return fmt.Sprintf("seq %d, card %s: %s", p.Seq, p.Card, p.Problem)
	case p.Seq > 0:
		return fmt.Sprintf("seq %d: %s", p.Seq, p.Problem)
	case p.Card != "":
		return fmt.Sprintf("card %s: %s", p.Card, p.Problem)
	}
	return p.Problem
}

// ReportOf turns the ledger's report into the API's, with card numbers masked.
func ReportOf(rep ledger.Report) VerifyReport {
	out := VerifyReport{
		Terminal: rep.Terminal, OK: rep.OK(), Events: rep.Events, Accounts: rep.Accounts,
		Anchor: rep.Anchor, LastSeq: rep.LastSeq, Problems: []VerifyProblem{},
	}
	for _, p := range rep.Problems {
		out.Problems = append(out.Problems, VerifyProblem{Seq: p.Seq, Card: p.MaskedCard(), Problem: p.Err.Error()})
	}
	return out
}

func (a *api) ledgerVerify(w http.ResponseWriter, r *http.Request) {
	rep, err := a.Till.Ledger().Verify()
	if err != nil {
		a.fail(w, r, "ledger verify", err, about{})
		return
	}
	wire.WriteJSON(w, http.StatusOK, ReportOf(rep))
}

func (a *api) ledgerExport(w http.ResponseWriter, r *http.Request) {
	var from uint64
	if s := r.URL.Query().Get("from"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			wire.WriteError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("from: %q is not a seq (a whole number)", s))
			return
		}
		from = n
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	// Once the first line is out the status cannot change: a failure later
	// aborts the response, so the client sees a broken stream, never a short
	// export that looks complete.
	if _, err := ExportEvents(r.Context(), a.Till.Ledger(), from, w); err != nil {
		a.Logger.Error("ledger export", "err", err)
		panic(http.ErrAbortHandler)
	}
}

// ExportEvents writes the ledger's events from seq from (0: the first kept) to
// w as JSON lines, each an event.Event exactly as HQ receives it, and returns
// how many it wrote. An auditor checks the chain with event.Verify from the first
// event's seq-1 and prev.
func ExportEvents(ctx context.Context, l *ledger.Ledger, from uint64, w io.Writer) (int, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	n := 0
	err := l.Events(from, func(e event.Event) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if _, err := bw.Write(append(b, '\n')); err != nil {
			return err
		}
		n++
		return nil
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return n, fmt.Errorf("export ledger: %w", err)
	}
	return n, nil
}

// LedgerVerify asks tilld to verify its ledger. It can take a while on a large
// ledger: ctx bounds it, not the client's timeout.
func (c *Client) LedgerVerify(ctx context.Context) (VerifyReport, error) {
	var rep VerifyReport
	_, err := c.untimed().Do(ctx, http.MethodGet, "/v1/ledger/verify", nil, &rep)
	return rep, err
}

// LedgerExport copies tilld's ledger events from seq from (0: the first kept) to
// w as JSON lines. It fails when the stream breaks off.
func (c *Client) LedgerExport(ctx context.Context, from uint64, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+"/v1/ledger/export?from="+strconv.FormatUint(from, 10), nil)
	if err != nil {
		return err
	}
	c.authorize(req, false)
	resp, err := c.untimed().HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("reach tilld at %s: %w", c.Base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var we wire.Error
		json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&we)
		return &APIError{Status: resp.StatusCode, Code: we.Code, Message: we.Message}
	}
	dst := &errWriter{w: w}
	if _, err := io.Copy(dst, resp.Body); err != nil {
		if dst.err != nil {
			return fmt.Errorf("write the ledger export: %w", err)
		}
		return fmt.Errorf("ledger export from tilld broke off: %w", err)
	}
	return nil
}

// errWriter remembers whether a copy failed writing rather than reading.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}

// untimed is c without the client's overall timeout, for answers that stream or
// take long; the caller's context bounds them.
func (c *Client) untimed() *Client {
	hc := *c.HTTP
	hc.Timeout = 0
	return &Client{Base: c.Base, HTTP: &hc, Token: c.Token, TokenFile: c.TokenFile}
}
