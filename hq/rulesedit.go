package hq

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"

	"github.com/tilld/tilld/discount/rulesfile"
	"github.com/tilld/tilld/sync/wire"
)

// Scheduling and rollback. A ruleset takes effect at its `effective` time
// (tills keep pricing with the one before until then, offline too); publish
// with ?effective= sets that line in the file before HQ signs it. A rollback
// publishes an earlier version's file again as the next version, at once.

const (
	// PathAdminRulesRollback publishes an earlier version again (POST, a
	// RollbackRequest; answers like a publish).
	PathAdminRulesRollback = wire.PathAdminRules + "/rollback"
	// PathAdminRulesVersions lists the published rulesets, newest first
	// (GET, ?before=VERSION&limit=N; a []PublishedRules).
	PathAdminRulesVersions = wire.PathAdminRules + "/versions"
)

// RollbackRequest asks HQ to publish version Version's file again.
type RollbackRequest struct {
	Version int64 `json:"version"`
}

// PublishedRules is a published ruleset as the console lists it.
type PublishedRules struct {
	Version  int64  `json:"version"`
	Hash     string `json:"hash"`
	Currency string `json:"currency,omitempty"`
	Rules    int    `json:"rules"`
	// Effective is when it takes effect ("" at once), as the file says:
	// RFC 3339, without an offset for the tills' wall clock.
	Effective string `json:"effective,omitempty"`
	// Problem says why the file does not parse any more (an engine that
	// reads it otherwise now).
	Problem string `json:"problem,omitempty"`
}

// SetRulesKey returns a ruleset file with its top-level key set to value,
// a TOML value as written (`7`, `"2026-03-01T00:00:00+03:00"`), or removed
// when value is "". The line is replaced where the key is; a new one goes
// after the version line (else at the top). Only the top-level table before
// the first [header] is looked at; the caller parses the result to be sure.
func SetRulesKey(raw []byte, key, value string) []byte {
	assign := regexp.MustCompile(`^[ \t]*` + regexp.QuoteMeta(key) + `[ \t]*=`)
	version := regexp.MustCompile(`^[ \t]*version[ \t]*=`)
	lines := bytes.SplitAfter(raw, []byte("\n"))
	after := -1 // the line a new assignment goes after
	for i, l := range lines {
		t := bytes.TrimLeft(l, " \t")
		if len(t) > 0 && t[0] == '[' {
			break
		}
		if assign.Match(l) {
			if value == "" {
				return bytes.Join(append(lines[:i:i], lines[i+1:]...), nil)
			}
			out := append(bytes.Clone(bytes.Join(lines[:i], nil)), key+" = "+value+lineEnd(l)...)
			return append(out, bytes.Join(lines[i+1:], nil)...)
		}
		if after < 0 && version.Match(l) {
			after = i
		}
	}
	if value == "" {
		return raw
	}
	end := "\n"
	if after >= 0 {
		end = lineEnd(lines[after])
		if end == "" { // the version line ends the file
			lines[after] = append(bytes.Clone(lines[after]), '\n')
			end = "\n"
		}
	}
	out := append(bytes.Clone(bytes.Join(lines[:after+1], nil)), key+" = "+value+end...)
	return append(out, bytes.Join(lines[after+1:], nil)...)
}

func lineEnd(l []byte) string {
	switch {
	case bytes.HasSuffix(l, []byte("\r\n")):
		return "\r\n"
	case bytes.HasSuffix(l, []byte("\n")):
		return "\n"
	}
	return ""
}

// momentText is what ?effective= may hold: a date and time, no quotes.
var momentText = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2})?)?$`)

// withEffective returns raw with its effective line set to at (removed when
// at is ""), checked by parsing.
func withEffective(raw []byte, at string) ([]byte, error) {
	if at != "" && !momentText.MatchString(at) {
		return nil, fmt.Errorf("effective %q: want 2026-03-01, 2026-03-01T09:00:00 (the tills' wall clock) or 2026-03-01T09:00:00+03:00", at)
	}
	value := ""
	if at != "" {
		value = strconv.Quote(at)
	}
	out := SetRulesKey(raw, "effective", value)
	rs, err := rulesfile.Parse(out)
	if err != nil {
		return nil, fmt.Errorf("the ruleset with effective %q: %w", at, err)
	}
	if (at == "") != rs.Effective.IsZero() {
		return nil, fmt.Errorf("could not set effective = %q in this file (is it written over several lines?): edit the file", at)
	}
	return out, nil
}

func (s *Server) rulesScheduleRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+PathAdminRulesRollback, s.rollbackRules)
	mux.HandleFunc("GET "+PathAdminRulesVersions, s.rulesVersions)
}

// rollbackRules publishes the file of an earlier version again as the next
// version, in effect at once.
func (s *Server) rollbackRules(w http.ResponseWriter, r *http.Request) {
	var req RollbackRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil || req.Version <= 0 {
		wire.WriteError(w, http.StatusBadRequest, "bad_request", `rollback body: want {"version": N}, N a published version`)
		return
	}
	old, err := s.opts.Store.Ruleset(r.Context(), req.Version)
	cur, cerr := s.opts.Store.CurrentRuleset(r.Context())
	switch {
	case errors.Is(err, ErrNoRuleset):
		wire.WriteError(w, http.StatusNotFound, "no_ruleset", fmt.Sprintf("HQ never published ruleset version %d", req.Version))
		return
	case err != nil || cerr != nil:
		s.storeError(w, "rollback", errors.Join(err, cerr))
		return
	}
	raw := SetRulesKey(old.Raw, "version", strconv.FormatInt(cur.Version+1, 10))
	if raw, err = withEffective(raw, ""); err == nil {
		var v int64
		if v, err = s.opts.Validate(raw); err == nil && v != cur.Version+1 {
			err = fmt.Errorf("could not set version = %d in the file of version %d", cur.Version+1, req.Version)
		}
	}
	if err != nil {
		noteAudit(r, fmt.Sprintf("version %d", req.Version), "rollback refused: "+err.Error())
		wire.WriteError(w, http.StatusUnprocessableEntity, "invalid_ruleset", fmt.Sprintf("roll back to version %d: %v", req.Version, err))
		return
	}
	s.publishRaw(w, r, raw, fmt.Sprintf("rollback to version %d, ", req.Version))
}

// rulesVersions lists the published rulesets, newest first.
func (s *Server) rulesVersions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	before, limit := int64(0), 50
	var err error
	if v := q.Get("before"); v != "" {
		if before, err = strconv.ParseInt(v, 10, 64); err != nil {
			wire.WriteError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("before %q: want a version", v))
			return
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 1000 {
			wire.WriteError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("limit %q: want 1 to 1000", v))
			return
		}
	}
	rss, err := s.opts.Store.Rulesets(r.Context(), before, limit)
	if err != nil {
		s.storeError(w, "rulesets", err)
		return
	}
	out := make([]PublishedRules, 0, len(rss))
	for _, p := range rss {
		pr := PublishedRules{Version: p.Version, Hash: p.Hash}
		if rs, err := rulesfile.Parse(p.Raw); err != nil {
			pr.Problem = err.Error()
		} else {
			pr.Currency, pr.Rules = rs.Currency.Code, len(rs.Rules)
			if !rs.Effective.IsZero() {
				pr.Effective = rs.Effective.String()
			}
		}
		out = append(out, pr)
	}
	wire.WriteJSON(w, http.StatusOK, out)
}
