// Package hqclient is the one client of HQ's HTTP APIs: the terminal's calls
// over mutual TLS (sync, rules, cards, its chains, HQ's health), enrollment
// pinned by the one-time token, and tillhq's commands on the admin API. The
// TLS transport is built here and nowhere else; HQ's error bodies
// (wire.Error) and Retry-After are read here; and Diagnose says in a person's
// words why HQ could not be used: unreachable, a certificate that does not
// cover the address dialled, a certificate not trusted, or a refusal.
package hqclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tilld/tilld/sync/wire"
)

// Defaults of [Options] and [Request].
const (
	DefaultTimeout = 60 * time.Second
	DefaultLimit   = 16 << 20 // bytes of an answer read at most
)

// Options configure a Client. The zero value is a plain client with the
// defaults (tillhq's admin API on loopback).
type Options struct {
	// TLS is the configuration for an https:// HQ: a terminal's is
	// pki.ClientTLS of its enrollment identity (its certificate, HQ's CA
	// the only root). nil: the system's roots, no client certificate.
	TLS *tls.Config
	// Timeout bounds a whole request, its answer included; default
	// DefaultTimeout. A long poll's context may end it sooner.
	Timeout time.Duration
	// Transport replaces the transport built from TLS (tests, benchmarks
	// that count or break connections).
	Transport http.RoundTripper
}

// Client calls one HQ, at one base URL or at one of several replicas. It is
// safe for concurrent use.
type Client struct {
	bases []string
	cur   atomic.Int64 // index in bases of the replica called now
	hc    *http.Client
}

// New returns a client of the HQ at base (https://hq.example:7460, or the
// admin API's http://127.0.0.1:7461). base may list several replicas of one
// HQ separated by commas: the client calls the first, and after a call that
// got no answer from the one it calls (a connection refused or cut, a
// timeout) or the answer that it is stopping, it calls the next from then on.
func New(base string, opts Options) *Client {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	tr := opts.Transport
	if tr == nil {
		tr = &http.Transport{TLSClientConfig: opts.TLS, TLSHandshakeTimeout: 15 * time.Second, IdleConnTimeout: 90 * time.Second, MaxIdleConnsPerHost: 4}
	}
	return &Client{bases: SplitBases(base), hc: &http.Client{Timeout: opts.Timeout, Transport: tr}}
}

// SplitBases returns the addresses of a comma-separated list of HQ replicas,
// each without trailing slashes; one address, "" included, is a list of one.
func SplitBases(list string) []string {
	var out []string
	for b := range strings.SplitSeq(list, ",") {
		if b = strings.TrimRight(strings.TrimSpace(b), "/"); b != "" {
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		out = []string{""}
	}
	return out
}

// Base is the HQ address the client calls now.
func (c *Client) Base() string { return c.bases[c.cur.Load()] }

// failOver moves from the replica at index i to the next, unless another
// call moved already.
func (c *Client) failOver(i int64) {
	if len(c.bases) > 1 {
		c.cur.CompareAndSwap(i, (i+1)%int64(len(c.bases)))
	}
}

// Request is one call to HQ.
type Request struct {
	Method      string // default GET
	Path        string // with its query, e.g. wire.PathRules + "?after=3"
	Body        io.Reader
	ContentType string // of Body; default application/json when there is one
	// Limit is how many bytes of the answer are read at most; default
	// DefaultLimit.
	Limit int64
	// Expect lists the statuses besides 2xx that are answers rather than
	// errors (409 for a fork).
	Expect []int
}

// Answer is HQ's answer to a Request.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the answer's body into out.
func (a Answer) JSON(out any) error {
	if err := json.Unmarshal(a.Body, out); err != nil {
		return fmt.Errorf("HQ's answer: %w", err)
	}
	return nil
}

// StatusError is an answer of HQ with a status the caller did not expect.
type StatusError struct {
	Status int    // e.g. 503
	Reason string // e.g. "503 Service Unavailable"
	// Code and Message are HQ's wire.Error, when it sent one.
	Code, Message string
	// RetryAfter is how long HQ asked the client to wait; 0 when it did not.
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("HQ answered %s: %s", e.Reason, e.Message)
	}
	return "HQ answered " + e.Reason
}

// RetryAfter is how long an error of HQ's asked to wait before the next
// try, 0 when it did not ask.
func RetryAfter(err error) time.Duration {
	var se *StatusError
	if errors.As(err, &se) {
		return se.RetryAfter
	}
	return 0
}

// Do sends r to HQ and reads its answer. A transport failure is returned as
// net/http gives it (Diagnose tells its kind); a status that is neither 2xx
// nor in r.Expect is a *StatusError.
func (c *Client) Do(ctx context.Context, r Request) (Answer, error) {
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	i := c.cur.Load()
	req, err := http.NewRequestWithContext(ctx, method, c.bases[i]+r.Path, r.Body)
	if err != nil {
		return Answer{}, err
	}
	if r.Body != nil {
		ct := r.ContentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if !errors.Is(ctx.Err(), context.Canceled) {
			c.failOver(i)
		}
		return Answer{}, err
	}
	defer resp.Body.Close()
	limit := r.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return Answer{}, fmt.Errorf("read HQ's answer: %w", err)
	}
	a := Answer{Status: resp.StatusCode, Header: resp.Header, Body: data}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return a, nil
	}
	for _, s := range r.Expect {
		if s == resp.StatusCode {
			return a, nil
		}
	}
	err = statusError(resp, data)
	if se := err.(*StatusError); se.Code == CodeShuttingDown {
		c.failOver(i)
	}
	return a, err
}

// CodeShuttingDown is the code of HQ's answer that it is stopping.
const CodeShuttingDown = "shutting_down"

// JSON sends in (nil: no body) as JSON with method to path and decodes HQ's
// 2xx answer into out (nil: ignore it).
func (c *Client) JSON(ctx context.Context, method, path string, in, out any) error {
	r := Request{Method: method, Path: path}
	if in != nil {
		body, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request to HQ: %w", err)
		}
		r.Body = bytes.NewReader(body)
	}
	a, err := c.Do(ctx, r)
	if err != nil || out == nil {
		return err
	}
	return a.JSON(out)
}

func statusError(resp *http.Response, body []byte) error {
	e := &StatusError{Status: resp.StatusCode, Reason: resp.Status}
	var we wire.Error
	if json.Unmarshal(body, &we) == nil {
		e.Code, e.Message = we.Code, we.Message
	}
	e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return e
}

// maxRetryAfter bounds what a Retry-After header is taken to ask: an hour.
const maxRetryAfter = time.Hour

// parseRetryAfter reads a Retry-After header (seconds, or an HTTP date) at
// now: 0 when there is none or it does not parse, never negative, at most
// maxRetryAfter.
func parseRetryAfter(s string, now time.Time) time.Duration {
	if s == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return min(time.Duration(min(secs, int64(maxRetryAfter/time.Second)))*time.Second, maxRetryAfter)
	}
	if t, err := http.ParseTime(s); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter)
	}
	return 0
}

// PublishedRules asks HQ which ruleset version it publishes now, without
// waiting: 0 when it has published none yet.
func (c *Client) PublishedRules(ctx context.Context) (int64, error) {
	a, err := c.Do(ctx, Request{Path: wire.PathRules + "?after=0&wait=0", Limit: 8 << 20})
	if err != nil {
		return 0, fmt.Errorf("ask HQ for its rules: %w", err)
	}
	if a.Status == http.StatusNoContent {
		return 0, nil
	}
	v, err := strconv.ParseInt(a.Header.Get(wire.HeaderRulesVersion), 10, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("ask HQ for its rules: bad %s header %q", wire.HeaderRulesVersion, a.Header.Get(wire.HeaderRulesVersion))
	}
	return v, nil
}
