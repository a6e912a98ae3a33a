package hq

import (
	"errors"
	"io"
	"net/http"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/discount/rulesfile"
	"github.com/tilld/tilld/sync/wire"
)

// PathAdminRulesCheck checks a ruleset without publishing it (POST, the TOML
// file; a RulesCheck).
const PathAdminRulesCheck = wire.PathAdminRules + "/check"

// RulesProblem is an error or a warning of a ruleset, at its line.
type RulesProblem struct {
	Line  int    `json:"line,omitempty"`
	Rule  string `json:"rule,omitempty"`
	Field string `json:"field,omitempty"`
	Msg   string `json:"msg"`
}

// RulesCheck is what HQ says of a ruleset before it is published.
type RulesCheck struct {
	OK       bool           `json:"ok"`
	Version  int64          `json:"version,omitempty"`
	Currency string         `json:"currency,omitempty"`
	Rules    int            `json:"rules,omitempty"`
	Errors   []RulesProblem `json:"errors"`
	Warnings []RulesProblem `json:"warnings"`
	// Current is the version of the active ruleset (0: none): a ruleset
	// publishes only above it.
	Current int64 `json:"current"`
}

// ActiveRules is the active ruleset as the console edits it.
type ActiveRules struct {
	Version int64  `json:"version"`
	Hash    string `json:"hash"`
	TOML    string `json:"toml"`
	// Effective is when it takes effect, as the file says ("" at once).
	Effective string `json:"effective,omitempty"`
}

func (s *Server) rulesRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+wire.PathAdminRules, s.activeRules)
	mux.HandleFunc("POST "+PathAdminRulesCheck, s.checkRules)
	mux.HandleFunc("POST "+PathAdminRulesSimulate, s.simulateRules)
}

// activeRules answers the active ruleset, file as published.
func (s *Server) activeRules(w http.ResponseWriter, r *http.Request) {
	rs, err := s.opts.Store.CurrentRuleset(r.Context())
	switch {
	case errors.Is(err, ErrNoRuleset):
		wire.WriteJSON(w, http.StatusOK, ActiveRules{})
	case err != nil:
		s.storeError(w, "current ruleset", err)
	default:
		a := ActiveRules{Version: rs.Version, Hash: rs.Hash, TOML: string(rs.Raw)}
		if p, err := rulesfile.Parse(rs.Raw); err == nil && !p.Effective.IsZero() {
			a.Effective = p.Effective.String()
		}
		wire.WriteJSON(w, http.StatusOK, a)
	}
}

// checkRules checks a ruleset as the engine of every till would read it.
func (s *Server) checkRules(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 8<<20))
	if err != nil {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", "ruleset body: "+err.Error())
		return
	}
	ans := RulesCheck{Errors: []RulesProblem{}, Warnings: []RulesProblem{}}
	if cur, err := s.opts.Store.CurrentRuleset(r.Context()); err == nil {
		ans.Current = cur.Version
	}
	rs, warns, err := rulesfile.Check(raw)
	conv := func(ps []discount.Problem) []RulesProblem {
		out := []RulesProblem{}
		for _, p := range ps {
			out = append(out, RulesProblem{Line: p.Line, Rule: p.Rule, Field: p.Field, Msg: p.Msg})
		}
		return out
	}
	ans.Warnings = conv(warns)
	var ve *discount.ValidationError
	switch {
	case errors.As(err, &ve):
		ans.Errors = conv(ve.Problems)
	case err != nil:
		ans.Errors = []RulesProblem{{Msg: err.Error()}}
	default:
		ans.OK, ans.Version, ans.Currency, ans.Rules = true, rs.Version, rs.Currency.Code, len(rs.Rules)
		if rs.Version <= ans.Current {
			ans.OK = false
			ans.Errors = []RulesProblem{{Field: "version", Msg: "the version must be above the active ruleset's; raise it"}}
		}
	}
	wire.WriteJSON(w, http.StatusOK, ans)
}
