package localapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/till"
)

// Client talks to a tilld's local API; tillctl and the end-to-end tests use it.
type Client struct {
	Base string // e.g. http://127.0.0.1:7450
	HTTP *http.Client
	// Token is the API token (ReadToken of tilld's TokenFile); without it
	// only the till page's reads are answered.
	Token string
	// TokenFile, when Token is empty, is read for the token at the first
	// request, and again when tilld refuses the token read (401): a client
	// made before tilld started, or made it anew, finds it.
	TokenFile string

	fileToken atomic.Pointer[string] // TokenFile's token as last read
}

// NewClient returns a client for addr: a URL, a bare host:port, or
// unix:PATH, tilld's unix socket (whose requests need no token).
func NewClient(addr string) *Client {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		var d net.Dialer
		tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		}}
		return &Client{Base: "http://localhost", HTTP: &http.Client{Timeout: 30 * time.Second, Transport: tr}}
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	return &Client{Base: strings.TrimRight(addr, "/"), HTTP: &http.Client{Timeout: 30 * time.Second}}
}

// APIError is a non-2xx answer from tilld.
type APIError struct {
	Status  int
	Code    string
	Message string
	// Problem is the whole answer: where and how much (Problem's fields).
	Problem Problem
}

func (e *APIError) Error() string {
	return fmt.Sprintf("tilld answered %d %s: %s", e.Status, e.Code, e.Message)
}

// Do sends a request with an optional JSON body and decodes a JSON answer into out
// (when non-nil). It returns the HTTP status.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	sent := c.authorize(req, false)
	resp, err := c.HTTP.Do(req)
	if err == nil && resp.StatusCode == http.StatusUnauthorized && c.Token == "" && c.TokenFile != "" {
		// A 401 is answered before any work: ask again with the file's
		// token if it changed (tilld made it anew).
		if tok := c.authorize(req, true); tok != sent {
			resp.Body.Close()
			if req.GetBody != nil {
				req.Body, _ = req.GetBody()
			}
			resp, err = c.HTTP.Do(req)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("reach tilld at %s: %w", c.Base, err)
	}
	defer resp.Body.Close()
	data, err := readAnswer(resp)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		var p Problem
		json.Unmarshal(data, &p)
		return resp.StatusCode, &APIError{Status: resp.StatusCode, Code: p.Code, Message: p.Message, Problem: p}
	}
	if out != nil && len(data) > 0 {
		// encoding/json's rules, decoded by the engine of encoding/json/v2
		// (docs/dependencies.md): a sale's answer in a third of the time.
		if err := jsonv1.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode answer of %s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// maxAnswer bounds the answer the client reads.
const maxAnswer = 16 << 20

// readAnswer reads resp's body, at most maxAnswer bytes: into one buffer of
// its length when the answer gives it (a sale's does).
func readAnswer(resp *http.Response) ([]byte, error) {
	n := resp.ContentLength
	if n < 0 || n > maxAnswer {
		return io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(resp.Body, data); err != nil {
		return nil, err
	}
	return data, nil
}

// authorize adds the client's token to req and returns it: Token, or
// TokenFile's as read before unless reread or never read.
func (c *Client) authorize(req *http.Request, reread bool) string {
	tok := c.Token
	if tok == "" && c.TokenFile != "" {
		if last := c.fileToken.Load(); last != nil && !reread {
			tok = *last
		} else {
			tok, _ = ReadToken(c.TokenFile) // without it tilld answers 401, which says so
			if tok != "" {
				c.fileToken.Store(&tok)
			}
		}
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return tok
}

// Quote prices a basket.
func (c *Client) Quote(ctx context.Context, b pos.Basket) (till.QuoteResult, error) {
	return c.QuoteWith(ctx, b, till.QuoteOptions{})
}

// QuoteWith prices a basket; with Explain the quote lists the rules that did
// not apply and why.
func (c *Client) QuoteWith(ctx context.Context, b pos.Basket, opts till.QuoteOptions) (till.QuoteResult, error) {
	var q till.QuoteResult
	path := "/v1/quote"
	if opts.Explain {
		path += "?explain=true"
	}
	_, err := c.Do(ctx, http.MethodPost, path, b, &q)
	return q, err
}

// RegisterCustomer signs a card holder up at the till with every field of h,
// replacing each field of the card's earlier holder; the status is 201 for a
// new holder, 200 for a correction.
func (c *Client) RegisterCustomer(ctx context.Context, h pos.CardHolder) (pos.CardHolder, int, error) {
	return c.ChangeCustomer(ctx, CustomerRequest{HolderChange: h.Change()})
}

// ChangeCustomer signs a card holder up or corrects one: only the fields the
// request sets change.
func (c *Client) ChangeCustomer(ctx context.Context, req CustomerRequest) (pos.CardHolder, int, error) {
	var out pos.CardHolder
	code, err := c.Do(ctx, http.MethodPost, "/v1/customers", req, &out)
	return out, code, err
}

// Sale records a sale; the status is 201 for a new sale, 200 for a replay.
func (c *Client) Sale(ctx context.Context, req till.SaleRequest) (till.SaleResult, int, error) {
	var s till.SaleResult
	code, err := c.Do(ctx, http.MethodPost, "/v1/sales", req, &s)
	return s, code, err
}

// Refund records a return; the status is 201 for a new refund, 200 for a
// replay.
func (c *Client) Refund(ctx context.Context, req till.RefundRequest) (till.RefundResult, int, error) {
	var r till.RefundResult
	code, err := c.Do(ctx, http.MethodPost, "/v1/refunds", req, &r)
	return r, code, err
}

// Feedback records a customer's NPS answer to a sale; the status is 201
// for a new one, 200 for a replay.
func (c *Client) Feedback(ctx context.Context, req till.FeedbackRequest) (till.FeedbackResult, int, error) {
	var f till.FeedbackResult
	code, err := c.Do(ctx, http.MethodPost, "/v1/feedback", req, &f)
	return f, code, err
}

// Status returns the terminal's status.
func (c *Client) Status(ctx context.Context) (till.Status, error) {
	var s till.Status
	_, err := c.Do(ctx, http.MethodGet, "/v1/status", nil, &s)
	return s, err
}

// Account returns a card's account view.
func (c *Client) Account(ctx context.Context, card string) (till.Customer, error) {
	return c.AccountOfType(ctx, card, "")
}

// AccountOfType returns the account view of a card of the type named
// (ean13, uid, ...); empty: read from the number.
func (c *Client) AccountOfType(ctx context.Context, card, cardType string) (till.Customer, error) {
	var a till.Customer
	path := "/v1/accounts/" + url.PathEscape(card)
	if cardType != "" {
		path += "?card_type=" + url.QueryEscape(cardType)
	}
	_, err := c.Do(ctx, http.MethodGet, path, nil, &a)
	return a, err
}

// Rewards tells what a card can get for its points now; with a basket that
// has lines, also how much of it the card may pay with points.
func (c *Client) Rewards(ctx context.Context, card string, b *pos.Basket) (discount.Rewards, error) {
	var rw discount.Rewards
	path := "/v1/accounts/" + url.PathEscape(card) + "/rewards"
	var err error
	if b != nil {
		_, err = c.Do(ctx, http.MethodPost, path, b, &rw)
	} else {
		_, err = c.Do(ctx, http.MethodGet, path, nil, &rw)
	}
	return rw, err
}

// Present makes a software reader deliver data, as if a card were presented.
func (c *Client) Present(ctx context.Context, reader, data string) error {
	_, err := c.Do(ctx, http.MethodPost, "/v1/devices/"+url.PathEscape(reader)+"/scan", PresentRequest{Data: data}, nil)
	return err
}

// Devices lists the configured readers and the ones attached to the machine.
func (c *Client) Devices(ctx context.Context) (till.Devices, error) {
	var d till.Devices
	_, err := c.Do(ctx, http.MethodGet, "/v1/devices", nil, &d)
	return d, err
}
