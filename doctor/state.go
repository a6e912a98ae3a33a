package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/tilld/tilld/sync/hqclient"
)

// LedgerInfo is what verifying the ledger found.
type LedgerInfo struct {
	// Events is how many events were checked.
	Events uint64
	// Problems are the inconsistencies found, one line each; empty when the
	// ledger is intact.
	Problems []string
}

// Ledger checks the ledger with verify, which reads the whole file and checks
// its hash chain (cmd/tillctl passes a function over ledger.Verify or the
// local API). verify returns an error wrapping fs.ErrNotExist when there is no
// ledger file yet, and any other error when it could not verify at all.
func Ledger(verify func(ctx context.Context) (LedgerInfo, error)) Check {
	return Check{Name: "ledger", Run: func(ctx context.Context) Result {
		info, err := verify(ctx)
		if errors.Is(err, fs.ErrNotExist) {
			return Result{Status: Warn, Detail: fmt.Sprintf("no ledger yet: %v", err), Fix: "tilld creates it when it first starts: `systemctl start tilld`."}
		}
		if err != nil {
			return Result{Status: Fail, Detail: fmt.Sprintf("cannot verify the ledger: %v", err), Fix: "is tilld running? `systemctl status tilld`; `journalctl -u tilld` says why not."}
		}
		if n := len(info.Problems); n > 0 {
			shown := info.Problems
			if n > 3 {
				shown = append(shown[:3:3], fmt.Sprintf("and %d more", n-3))
			}
			return Result{Status: Fail,
				Detail: fmt.Sprintf("%s in %d events: %s", plural(n, "problem"), info.Events, strings.Join(shown, "; ")),
				Fix:    "do not delete or edit the file: it holds sales HQ may not have yet. Stop tilld, copy the ledger file aside and send it to support with this report."}
		}
		return Result{Status: OK, Detail: fmt.Sprintf("intact: %d events, hash chain verified", info.Events)}
	}}
}

// RulesInfo is the state of the till's discount rules.
type RulesInfo struct {
	// Version is the ruleset version the till prices with; 0 when it has none.
	Version int64
	// Current is when the till last knew Version was HQ's latest: its last
	// successful sync with HQ. Zero when never.
	Current time.Time
	// Problem is why the till refused a cached ruleset (it failed its
	// signature check), "" when it did not: tilld's status rules_error.
	Problem string
}

// Defaults of [RulesOptions].
const (
	DefaultRulesWarn = 24 * time.Hour
	DefaultRulesFail = 7 * 24 * time.Hour
)

// RulesOptions configure [Rules]. The zero value means the defaults.
type RulesOptions struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
	// WarnAge and FailAge are how long ago the rules may last have been
	// confirmed current before the check warns or fails; defaults
	// DefaultRulesWarn and DefaultRulesFail.
	WarnAge, FailAge time.Duration
	// HQ, when the till has one, is asked which ruleset it publishes when
	// the till has none, to tell "none published yet" from "HQ unreachable"
	// from "certificate does not match". nil: a stand-alone till.
	HQ *hqclient.Client
}

// Rules checks that the till has a ruleset and how long ago it last knew it
// was HQ's latest. info reads that state (cmd/tillctl: the local API's status).
// Old rules are not wrong in themselves (HQ may publish rarely), but a till that
// has not heard from HQ for days may be pricing with rules HQ has replaced.
func Rules(info func(ctx context.Context) (RulesInfo, error), opts RulesOptions) Check {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.WarnAge == 0 {
		opts.WarnAge = DefaultRulesWarn
	}
	if opts.FailAge == 0 {
		opts.FailAge = DefaultRulesFail
	}
	return Check{Name: "rules", Run: func(ctx context.Context) Result {
		st, err := info(ctx)
		if err != nil {
			return Result{Status: Fail, Detail: fmt.Sprintf("cannot read the rules' state: %v", err), Fix: "is tilld running? `systemctl status tilld`; `journalctl -u tilld` says why not."}
		}
		sync := fmt.Sprintf("check the hq setting in %s and the network; `tillctl status` shows the last sync and its error.", ConfigFile)
		if st.Problem != "" {
			return Result{Status: Fail, Detail: st.Problem,
				Fix: "the ledger file was changed outside tilld: keep a copy of it for support (`tillctl ledger verify` lists what fails). tilld takes HQ's copy of the rules as soon as HQ answers; " + sync}
		}
		if st.Version == 0 {
			return noRules(ctx, opts.HQ, sync)
		}
		if st.Current.IsZero() {
			return Result{Status: Warn, Detail: fmt.Sprintf("version %d, never confirmed by HQ since tilld started", st.Version), Fix: sync}
		}
		age := opts.Now().Sub(st.Current)
		detail := fmt.Sprintf("version %d, confirmed current %v ago", st.Version, age.Round(time.Second))
		switch {
		case age > opts.FailAge:
			return Result{Status: Fail, Detail: detail, Fix: sync}
		case age > opts.WarnAge:
			return Result{Status: Warn, Detail: detail, Fix: sync}
		}
		return Result{Status: OK, Detail: detail}
	}}
}

// noRules says why a till has no ruleset: HQ has published none yet, HQ
// cannot be reached (and why), or HQ has one the till has not taken.
func noRules(ctx context.Context, hq *hqclient.Client, sync string) Result {
	const none = "no ruleset: the till sells nothing"
	if hq == nil {
		return Result{Status: Fail, Detail: none + " (a stand-alone till prices only with a ruleset it was given)", Fix: sync}
	}
	v, err := hq.PublishedRules(ctx)
	if err != nil {
		d := hqclient.Diagnose(hq.Base(), err)
		if d.Problem == hqclient.Unreachable {
			d.Fix = "check the network and the hq address (tilld.toml, or the enrollment's): the till takes HQ's rules as soon as HQ answers."
		}
		return Result{Status: Fail, Detail: none + " until HQ answers; " + d.String(), Fix: d.Fix}
	}
	if v == 0 {
		return Result{Status: Fail, Detail: none + ": HQ is reachable but has published no rules yet",
			Fix: "at HQ, publish a ruleset: `tillhq rules check FILE`, then `tillhq rules publish FILE`; online tills take it within a second."}
	}
	return Result{Status: Fail, Detail: fmt.Sprintf("%s: HQ publishes version %d but the till has not taken it", none, v),
		Fix: "`tillctl status` shows the last sync error; `journalctl -u tilld` says why a ruleset was refused (a wrong hq_key in tilld.toml refuses every one)."}
}
