// Package rulesfile reads the human-edited TOML rules file into a
// discount.Ruleset, and reports everything wrong with it at once: every problem
// names the rule (by id, or by position when the id is missing), the key and
// the line, so an HQ editor can fix a file in one pass.
//
// It lives apart from package discount because the TOML library imports os:
// discount stays free of I/O, this package only turns bytes into rules. It does
// no I/O of its own either; callers read the file.
//
// The format is described in docs/rules.md; discount.Example is a complete file.
// Amounts and percentages are exact decimals: written as strings ("4999.99",
// "2.5%") or as TOML numbers, which are read through their shortest decimal
// form, never through float arithmetic.
package rulesfile

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/money"
)

// Parse reads a rules file and returns the ruleset if it is valid. Otherwise the
// error is a *discount.ValidationError listing every problem with its line.
func Parse(src []byte) (*discount.Ruleset, error) {
	rs, _, err := Check(src)
	return rs, err
}

// Check is Parse that also returns the warnings (rules that can never fire,
// tiers whose percentage goes down…) with their lines. Warnings are returned
// even when the file has errors, as far as it could be read.
func Check(src []byte) (*discount.Ruleset, []discount.Problem, error) {
	var doc map[string]any
	if _, err := toml.Decode(string(src), &doc); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, nil, &discount.ValidationError{Problems: []discount.Problem{{
				Line: pe.Position.Line,
				Msg:  "not valid TOML: " + pe.Message,
			}}}
		}
		return nil, nil, &discount.ValidationError{Problems: []discount.Problem{{Msg: "not valid TOML: " + err.Error()}}}
	}
	d := &decoder{loc: locate(src), failed: map[fieldKey]bool{}}
	rs := d.ruleset(doc)

	// Decoding problems come first-hand; validation adds the semantic ones,
	// except for fields already reported (a percent that did not parse is not
	// also "out of range").
	errs := d.problems
	for _, p := range validationProblems(rs) {
		if !d.failed[fieldKey{p.Index, p.Field}] {
			errs = append(errs, d.withLine(p))
		}
	}
	var warns []discount.Problem
	for _, p := range rs.Warnings() {
		if !d.failed[fieldKey{p.Index, p.Field}] {
			warns = append(warns, d.withLine(p))
		}
	}
	sortProblems(warns)
	if len(errs) > 0 {
		sortProblems(errs)
		return nil, warns, &discount.ValidationError{Problems: errs}
	}
	return rs, warns, nil
}

func validationProblems(rs *discount.Ruleset) []discount.Problem {
	var ve *discount.ValidationError
	if err := rs.Validate(); errors.As(err, &ve) {
		return ve.Problems
	}
	return nil
}

// sortProblems puts problems in file order; those without a line go last.
func sortProblems(ps []discount.Problem) {
	slices.SortStableFunc(ps, func(a, b discount.Problem) int {
		la, lb := a.Line, b.Line
		if la == 0 {
			la = math.MaxInt
		}
		if lb == 0 {
			lb = math.MaxInt
		}
		return la - lb
	})
}

// fieldKey names one field of the file: the rule's position (0 for the top
// level) and the field path as in discount.Problem.
type fieldKey struct {
	index int
	field string
}

type decoder struct {
	loc      locator
	problems []discount.Problem
	failed   map[fieldKey]bool
}

// withLine fills in the problem's line from the file.
func (d *decoder) withLine(p discount.Problem) discount.Problem {
	path := p.Field
	if p.Index > 0 {
		path = strings.TrimSuffix(fmt.Sprintf("rule[%d].%s", p.Index, p.Field), ".")
	}
	p.Line = d.loc.line(path)
	return p
}

// report records a decoding problem and marks the field as reported.
func (d *decoder) report(rule string, index int, field, format string, args ...any) {
	d.failed[fieldKey{index, field}] = true
	d.problems = append(d.problems, d.withLine(discount.Problem{
		Rule: rule, Index: index, Field: field, Msg: fmt.Sprintf(format, args...),
	}))
}

var topKeys = []string{"schema", "version", "currency", "rule"}

func (d *decoder) ruleset(doc map[string]any) *discount.Ruleset {
	rs := &discount.Ruleset{}
	top := func(field, format string, args ...any) { d.report("", 0, field, format, args...) }
	for _, k := range sortedKeys(doc) {
		if !slices.Contains(topKeys, k) {
			top(k, "unknown key; the top level has %s", strings.Join(topKeys, ", "))
		}
	}
	if v, ok := doc["schema"]; !ok {
		top("schema", "missing; write schema = %d", discount.Schema)
	} else if n, ok := v.(int64); !ok {
		top("schema", "must be an integer, got %s", typeName(v))
	} else if n < math.MinInt32 || n > math.MaxInt32 {
		top("schema", "unsupported schema %d; this build reads schema = %d", n, discount.Schema)
	} else {
		rs.Schema = int(n)
	}
	if v, ok := doc["version"]; !ok {
		top("version", "missing; every publication needs a version number higher than the last")
	} else if n, ok := v.(int64); !ok {
		top("version", "must be an integer, got %s", typeName(v))
	} else {
		rs.Version = n
	}
	// Amounts are read in the ruleset's currency; when it is unusable they are
	// read with two decimals, the common case, so that their other mistakes
	// still show.
	rs.Currency = money.Currency{Code: "", Exponent: 2}
	if v, ok := doc["currency"]; !ok {
		top("currency", "missing; write the ISO 4217 code, e.g. currency = \"RUB\"")
	} else if s, ok := v.(string); !ok {
		top("currency", "must be a string such as \"RUB\", got %s", typeName(v))
	} else {
		rs.Currency.Code = s
		if c, err := money.ParseCurrency(s); err == nil {
			rs.Currency = c
		}
	}
	if v, ok := doc["rule"]; ok {
		rules, ok := tables(v)
		if !ok {
			top("rule", "must be a list of [[rule]] tables, got %s", typeName(v))
		}
		for i, m := range rules {
			rs.Rules = append(rs.Rules, d.rule(i+1, m, rs.Currency))
		}
	}
	return rs
}

var (
	commonKeys = []string{"id", "kind", "priority", "exclude_categories"}
	kindKeys   = map[discount.Kind][]string{
		discount.KindCardPercent: {"percent"},
		discount.KindTiers:       {"tier"},
		discount.KindPoints:      {"points", "per"},
	}
	tierKeys = []string{"name", "from", "percent", "message"}
)

func (d *decoder) rule(index int, m map[string]any, cur money.Currency) discount.Rule {
	var r discount.Rule
	if s, ok := m["id"].(string); ok {
		r.ID = s
	}
	bad := func(field, format string, args ...any) { d.report(r.ID, index, field, format, args...) }

	if v, ok := m["id"]; ok {
		if _, isStr := v.(string); !isStr {
			bad("id", "must be a string, got %s", typeName(v))
		}
	}
	if v, ok := m["kind"]; ok {
		if s, isStr := v.(string); isStr {
			r.Kind = discount.Kind(s)
		} else {
			bad("kind", "must be a string (card_percent, tiers or points), got %s", typeName(v))
		}
	}
	own, known := kindKeys[r.Kind]
	for _, k := range sortedKeys(m) {
		switch {
		case slices.Contains(commonKeys, k) || slices.Contains(own, k):
		case known && ownerOf(k) != "":
			bad(k, "not used by %s rules (it belongs to %s rules)", r.Kind, ownerOf(k))
		case known:
			bad(k, "unknown key; %s rules have %s", r.Kind, strings.Join(append(slices.Clone(commonKeys), own...), ", "))
		case ownerOf(k) == "":
			bad(k, "unknown key")
		}
	}
	if v, ok := m["priority"]; ok {
		if n, isInt := v.(int64); !isInt {
			bad("priority", "must be an integer, got %s", typeName(v))
		} else if n < math.MinInt32 || n > math.MaxInt32 {
			bad("priority", "must be between %d and %d, got %d", math.MinInt32, math.MaxInt32, n)
		} else {
			r.Priority = int(n)
		}
	}
	if v, ok := m["exclude_categories"]; ok {
		list, isList := v.([]any)
		if !isList {
			bad("exclude_categories", "must be a list of strings such as [\"tobacco\"], got %s", typeName(v))
		}
		for j, c := range list {
			s, isStr := c.(string)
			if !isStr {
				bad(fmt.Sprintf("exclude_categories[%d]", j+1), "must be a string, got %s", typeName(c))
			}
			// Keep a placeholder so positions in later problems match the file.
			r.ExcludeCategories = append(r.ExcludeCategories, s)
		}
	}

	switch r.Kind {
	case discount.KindCardPercent:
		r.Percent = d.percent(bad, m, "percent", "percent")
	case discount.KindTiers:
		v, ok := m["tier"]
		if !ok {
			bad("tier", "missing; add [[rule.tier]] tables with name, from and percent")
			break
		}
		list, isList := tables(v)
		if !isList {
			bad("tier", "must be a list of [[rule.tier]] tables, got %s", typeName(v))
		}
		for j, t := range list {
			r.Tiers = append(r.Tiers, d.tier(bad, j+1, t, cur))
		}
	case discount.KindPoints:
		if v, ok := m["points"]; !ok {
			bad("points", "missing; how many points per `per` spent")
		} else if n, isInt := v.(int64); !isInt {
			bad("points", "must be a whole number, got %s", typeName(v))
		} else {
			r.Points = n
		}
		r.Per = d.amount(bad, m, "per", "per", cur)
	}
	return r
}

func (d *decoder) tier(bad func(field, format string, args ...any), j int, m map[string]any, cur money.Currency) discount.Tier {
	var t discount.Tier
	at := func(f string) string { return fmt.Sprintf("tier[%d].%s", j, f) }
	for _, k := range sortedKeys(m) {
		if !slices.Contains(tierKeys, k) {
			bad(at(k), "unknown key; a tier has %s", strings.Join(tierKeys, ", "))
		}
	}
	for _, f := range []string{"name", "message"} {
		v, ok := m[f]
		if !ok {
			if f == "name" {
				bad(at(f), "missing; the till shows it")
			}
			continue
		}
		s, isStr := v.(string)
		if !isStr {
			bad(at(f), "must be a string, got %s", typeName(v))
		}
		if f == "name" {
			t.Name = s
		} else {
			t.Message = s
		}
	}
	t.From = d.amount(bad, m, "from", at("from"), cur)
	t.Percent = d.percent(bad, m, "percent", at("percent"))
	return t
}

// percent reads m[key], which must be present, as a percentage.
func (d *decoder) percent(bad func(field, format string, args ...any), m map[string]any, key, field string) money.BP {
	v, ok := m[key]
	if !ok {
		bad(field, "missing; write e.g. %s = \"5%%\"", key)
		return 0
	}
	s, err := decimal(v)
	if err != nil {
		bad(field, "%v", err)
		return 0
	}
	p, err := money.ParseBP(s)
	if err != nil {
		bad(field, "%v; write e.g. \"5%%\" or \"2.5\" (at most 2 decimals)", err)
		return 0
	}
	return p
}

// amount reads m[key], which must be present, as an amount in major units of cur.
func (d *decoder) amount(bad func(field, format string, args ...any), m map[string]any, key, field string, cur money.Currency) money.Amount {
	v, ok := m[key]
	if !ok {
		bad(field, "missing; write an amount in major units, e.g. %s = \"100.00\"", key)
		return 0
	}
	s, err := decimal(v)
	if err != nil {
		bad(field, "%v", err)
		return 0
	}
	a, err := cur.Parse(s)
	if err != nil {
		bad(field, "%v", err)
		return 0
	}
	return a
}

// decimal returns the exact decimal text of a number written as a string or a
// TOML number. A float goes through its shortest decimal representation
// (0.1 stays "0.1"), never through float arithmetic.
func decimal(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", fmt.Errorf("must be a finite number, got %v", x)
		}
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	default:
		return "", fmt.Errorf("must be a number or a string such as \"5%%\" or \"100.00\", got %s", typeName(v))
	}
}

// tables accepts both [[x]] tables and an inline array of tables.
func tables(v any) ([]map[string]any, bool) {
	switch x := v.(type) {
	case []map[string]any:
		return x, true
	case []any:
		out := make([]map[string]any, 0, len(x))
		for _, e := range x {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, false
			}
			out = append(out, m)
		}
		return out, true
	}
	return nil, false
}

// ownerOf returns the kind a kind-specific key belongs to, or "".
func ownerOf(key string) discount.Kind {
	for _, k := range []discount.Kind{discount.KindCardPercent, discount.KindTiers, discount.KindPoints} {
		if slices.Contains(kindKeys[k], key) {
			return k
		}
	}
	return ""
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any, []map[string]any:
		return "a list"
	case map[string]any:
		return "a table"
	default:
		return "a date or time"
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
