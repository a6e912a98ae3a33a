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
	"time"

	"github.com/BurntSushi/toml"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/internal/tomlpos"
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
	d := &decoder{loc: tomlpos.Locate(src), failed: map[fieldKey]bool{}}
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
	loc      tomlpos.Locator
	problems []discount.Problem
	failed   map[fieldKey]bool
}

// withLine fills in the problem's line from the file.
func (d *decoder) withLine(p discount.Problem) discount.Problem {
	path := p.Field
	if p.Index > 0 {
		path = strings.TrimSuffix(fmt.Sprintf("rule[%d].%s", p.Index, p.Field), ".")
	}
	p.Line = d.loc.Line(path)
	return p
}

// report records a decoding problem and marks the field as reported.
func (d *decoder) report(rule string, index int, field, format string, args ...any) {
	d.failed[fieldKey{index, field}] = true
	d.problems = append(d.problems, d.withLine(discount.Problem{
		Rule: rule, Index: index, Field: field, Msg: fmt.Sprintf(format, args...),
	}))
}

type reporter func(field, format string, args ...any)

var (
	topKeys    = []string{"schema", "version", "currency", "effective", "seed", "limits", "rule"}
	limitKeys  = []string{"basket_discount", "line_discount", "offline_points_per_day", "offline_return", "offline_returns_per_day", "floor"}
	floorKeys  = []string{"sku", "price"}
	kindsUsage = func() string {
		names := make([]string, len(discount.Kinds))
		for i, k := range discount.Kinds {
			names[i] = string(k)
		}
		return strings.Join(names, ", ")
	}()
)

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
	rs.Effective = d.moment(top, doc, "effective", "effective")
	rs.Seed = d.str(top, doc, "seed", "seed")
	if v, ok := doc["limits"]; ok {
		if m, isTable := v.(map[string]any); !isTable {
			top("limits", "must be a [limits] table, got %s", typeName(v))
		} else {
			rs.Limits = d.limits(top, m, rs.Currency)
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

func (d *decoder) limits(top reporter, m map[string]any, cur money.Currency) discount.Limits {
	var l discount.Limits
	for _, k := range sortedKeys(m) {
		if !slices.Contains(limitKeys, k) {
			top("limits."+k, "unknown key; [limits] has %s", strings.Join(limitKeys, ", "))
		}
	}
	l.BasketDiscount = d.share(top, m, "basket_discount", "limits.basket_discount", "leave it out for no limit")
	l.LineDiscount = d.share(top, m, "line_discount", "limits.line_discount", "leave it out for no limit")
	l.OfflinePointsPerDay = d.integer(top, m, "offline_points_per_day", "limits.offline_points_per_day")
	l.OfflineReturn = d.amountOpt(top, m, "offline_return", "limits.offline_return", cur)
	l.OfflineReturnsPerDay = d.amountOpt(top, m, "offline_returns_per_day", "limits.offline_returns_per_day", cur)
	for j, f := range d.tableList(top, m, "floor", "limits.floor", "[[limits.floor]] tables with sku and price") {
		at := func(k string) string { return fmt.Sprintf("limits.floor[%d].%s", j+1, k) }
		d.unknown(top, f, floorKeys, at, "a floor")
		fl := discount.Floor{SKU: d.str(top, f, "sku", at("sku"))}
		if _, ok := f["sku"]; !ok {
			top(at("sku"), "missing")
		}
		fl.Price = d.amount(top, f, "price", at("price"), cur)
		l.Floors = append(l.Floors, fl)
	}
	return l
}

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
			bad("kind", "must be a string (%s), got %s", kindsUsage, typeName(v))
		}
	}
	common := discount.CommonKeys()
	own := r.Kind.Keys()
	ownNames := keyNames(own)
	known := r.Kind.Known()
	for _, k := range sortedKeys(m) {
		owners := discount.KindsWithKey(k)
		switch {
		case slices.Contains(common, k) || slices.Contains(ownNames, k):
		case known && len(owners) > 0:
			bad(k, "not used by %s rules (it belongs to %s rules)", r.Kind, kindNames(owners))
		case known:
			bad(k, "unknown key%s; %s rules have %s, and the keys of every rule: %s",
				suggest(k, append(slices.Clone(ownNames), common...)), r.Kind, strings.Join(ownNames, ", "), strings.Join(common, ", "))
		case len(owners) == 0:
			bad(k, "unknown key%s", suggest(k, allKeys))
		}
	}
	// A missing key is reported here with a hint, and validation does not
	// repeat it.
	for _, k := range own {
		if _, ok := m[k.Name]; !ok && k.Required != "" {
			bad(k.Name, "missing; %s", k.Required)
		}
	}
	r.Name = d.str(bad, m, "name", "name")
	if v, ok := m["priority"]; ok {
		if n, isInt := v.(int64); !isInt {
			bad("priority", "must be an integer, got %s", typeName(v))
		} else if n < math.MinInt32 || n > math.MaxInt32 {
			bad("priority", "must be between %d and %d, got %d", math.MinInt32, math.MaxInt32, n)
		} else {
			r.Priority = int(n)
		}
	}
	r.ExcludeCategories = d.strList(bad, m, "exclude_categories", `["tobacco"]`)
	r.Group = d.str(bad, m, "group", "group")
	r.Stores = d.strList(bad, m, "stores", `["msk-012"]`)
	r.Regions = d.strList(bad, m, "regions", `["msk"]`)
	r.Terminals = d.strList(bad, m, "terminals", `["msk-012-03"]`)
	r.Window.Starts = d.moment(bad, m, "starts", "starts")
	r.Window.Ends = d.moment(bad, m, "ends", "ends")
	r.Window.Days = d.days(bad, m)
	r.Window.Hours = d.hours(bad, m)
	r.MinBasket = d.amountOpt(bad, m, "min_basket", "min_basket", cur)

	// Keys of other kinds were reported above; read only this kind's.
	for _, k := range own {
		d.key(bad, m, k, &r, cur)
	}
	return r
}

// key reads the value of one of the kind's keys, when present, into its
// field of r, as the field's type needs.
func (d *decoder) key(bad reporter, m map[string]any, k discount.Key, r *discount.Rule, cur money.Currency) {
	name := k.Name
	switch p := k.Value(r).(type) {
	case *string:
		*p = d.str(bad, m, name, name)
	case *bool:
		*p = d.boolean(bad, m, name)
	case *int64:
		*p = k.Default
		if _, ok := m[name]; ok {
			*p = d.integer(bad, m, name, name)
		}
	case *int:
		*p = int(d.smallInt(bad, m, name))
	case *money.BP:
		if k.Zero != "" {
			*p = d.share(bad, m, name, name, k.Zero)
		} else {
			*p = d.percentOpt(bad, m, name, name)
		}
	case *money.Amount:
		*p = d.amountOpt(bad, m, name, name, cur)
	case *[]string:
		*p = d.strList(bad, m, name, k.Example)
	case *map[string]string:
		*p = d.texts(bad, m, name)
	case *[]discount.PrefixRange:
		*p = d.prefixes(bad, m, k)
	case *[]discount.Tier:
		*p = d.tiers(bad, m, k, cur)
	case *[]discount.Multiplier:
		*p = d.multipliers(bad, m, k)
	case *[]discount.CatalogItem:
		*p = d.items(bad, m, k)
	default:
		// A kind whose key has a type this reader does not know yet; a test
		// reads every kind's keys, so this is never reached by a release.
		if _, ok := m[name]; ok {
			bad(name, "this build cannot read a %s key", k.Type)
		}
	}
}

// field returns the key named name of the tables of k.
func field(k discount.Key, name string) discount.Key {
	for _, f := range k.Fields {
		if f.Name == name {
			return f
		}
	}
	return discount.Key{Name: name}
}

func keyNames(keys []discount.Key) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.Name
	}
	return out
}

func (d *decoder) tiers(bad reporter, m map[string]any, k discount.Key, cur money.Currency) []discount.Tier {
	var out []discount.Tier
	d.eachTable(bad, m, k, "[[rule.tier]] tables", "a tier", func(t map[string]any, at func(string) string) {
		out = append(out, discount.Tier{
			Name:    d.str(bad, t, "name", at("name")),
			Message: d.str(bad, t, "message", at("message")),
			From:    d.amountOpt(bad, t, "from", at("from"), cur),
			Percent: d.percentOpt(bad, t, "percent", at("percent")),
			Flags:   d.strListAt(bad, t, "flags", at("flags"), field(k, "flags").Example),
		})
	})
	return out
}

func (d *decoder) multipliers(bad reporter, m map[string]any, k discount.Key) []discount.Multiplier {
	var out []discount.Multiplier
	d.eachTable(bad, m, k, "[[rule.multiplier]] tables with sku or category and times", "a multiplier", func(t map[string]any, at func(string) string) {
		mu := discount.Multiplier{SKU: d.str(bad, t, "sku", at("sku")), Category: d.str(bad, t, "category", at("category"))}
		mu.Times = d.times(bad, t, at("times"))
		out = append(out, mu)
	})
	return out
}

func (d *decoder) items(bad reporter, m map[string]any, k discount.Key) []discount.CatalogItem {
	var out []discount.CatalogItem
	d.eachTable(bad, m, k, "[[rule.item]] tables with sku and points", "an item", func(t map[string]any, at func(string) string) {
		it := discount.CatalogItem{SKU: d.str(bad, t, "sku", at("sku")), Name: d.str(bad, t, "name", at("name"))}
		it.Points = d.integer(bad, t, "points", at("points"))
		out = append(out, it)
	})
	return out
}

// eachTable reads the list of tables of key k: for each, it reports the
// keys k.Fields does not have and the required ones it leaves out, then
// calls read with the path of the table's keys (tier[2].from).
func (d *decoder) eachTable(bad reporter, m map[string]any, k discount.Key, want, what string, read func(t map[string]any, at func(string) string)) {
	for j, t := range d.tableList(bad, m, k.Name, k.Name, want) {
		at := func(f string) string { return fmt.Sprintf("%s[%d].%s", k.Name, j+1, f) }
		d.unknown(bad, t, keyNames(k.Fields), at, what)
		d.need(bad, t, k, at)
		read(t, at)
	}
}

// need reports the required keys of k's table t that it leaves out.
func (d *decoder) need(bad reporter, t map[string]any, k discount.Key, at func(string) string) {
	for _, f := range k.Fields {
		if _, ok := t[f.Name]; !ok && f.Required != "" {
			bad(at(f.Name), "missing; %s", f.Required)
		}
	}
}

// allKeys are the keys of every kind and the common ones.
var allKeys = func() []string {
	keys := discount.CommonKeys()
	for _, k := range discount.Kinds {
		for _, key := range k.Keys() {
			if !slices.Contains(keys, key.Name) {
				keys = append(keys, key.Name)
			}
		}
	}
	return keys
}()

// suggest returns ` (did you mean "x"?)` for the key of keys closest to a
// misspelt one, or "".
func suggest(key string, keys []string) string {
	best, bestDist := "", 3
	for _, k := range keys {
		if d := distance(key, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// distance is the Levenshtein distance between two short keys.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func kindNames(ks []discount.Kind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// unknown reports the keys of a nested table that are not in keys.
func (d *decoder) unknown(bad reporter, m map[string]any, keys []string, at func(string) string, what string) {
	for _, k := range sortedKeys(m) {
		if !slices.Contains(keys, k) {
			bad(at(k), "unknown key; %s has %s", what, strings.Join(keys, ", "))
		}
	}
}

// tableList reads m[key], when present, as a list of tables.
func (d *decoder) tableList(bad reporter, m map[string]any, key, field, want string) []map[string]any {
	v, ok := m[key]
	if !ok {
		return nil
	}
	list, isList := tables(v)
	if !isList {
		bad(field, "must be a list of %s, got %s", want, typeName(v))
	}
	return list
}

// str reads m[key], when present, as a string.
func (d *decoder) str(bad reporter, m map[string]any, key, field string) string {
	v, ok := m[key]
	if !ok {
		return ""
	}
	s, isStr := v.(string)
	if !isStr {
		bad(field, "must be a string, got %s", typeName(v))
	}
	return s
}

func (d *decoder) boolean(bad reporter, m map[string]any, key string) bool {
	v, ok := m[key]
	if !ok {
		return false
	}
	b, isBool := v.(bool)
	if !isBool {
		bad(key, "must be true or false, got %s", typeName(v))
	}
	return b
}

// integer reads m[key], when present, as a whole number.
func (d *decoder) integer(bad reporter, m map[string]any, key, field string) int64 {
	v, ok := m[key]
	if !ok {
		return 0
	}
	n, isInt := v.(int64)
	if !isInt {
		bad(field, "must be a whole number, got %s", typeName(v))
	}
	return n
}

// smallInt reads a count of days.
func (d *decoder) smallInt(bad reporter, m map[string]any, key string) int64 {
	n := d.integer(bad, m, key, key)
	if n < math.MinInt32 || n > math.MaxInt32 {
		bad(key, "must be between 0 and 31 days, got %d", n)
		return 0
	}
	return n
}

// strList reads m[key], when present, as a list of strings.
func (d *decoder) strList(bad reporter, m map[string]any, key, example string) []string {
	return d.strListAt(bad, m, key, key, example)
}

func (d *decoder) strListAt(bad reporter, m map[string]any, key, field, example string) []string {
	v, ok := m[key]
	if !ok {
		return nil
	}
	list, isList := v.([]any)
	if !isList {
		bad(field, "must be a list of strings such as %s, got %s", example, typeName(v))
	}
	var out []string
	for j, c := range list {
		s, isStr := c.(string)
		if !isStr {
			bad(fmt.Sprintf("%s[%d]", field, j+1), "must be a string, got %s", typeName(c))
			// A placeholder keeps positions in later problems matching the
			// file, and a name that no real line has.
			s = "\x00"
		}
		out = append(out, s)
	}
	return out
}

// percentOpt reads m[key], when present, as a percentage.
func (d *decoder) percentOpt(bad reporter, m map[string]any, key, field string) money.BP {
	v, ok := m[key]
	if !ok {
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

// times reads a multiplier ("2", 1.5, "x3"), when present, in hundredths.
func (d *decoder) times(bad reporter, m map[string]any, field string) int64 {
	v, ok := m["times"]
	if !ok {
		return 0
	}
	s, err := decimal(v)
	if err != nil {
		bad(field, "%v", err)
		return 0
	}
	t := strings.TrimSpace(s)
	t = strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(t, "x"), "×"), "X")
	if strings.Contains(t, "%") {
		bad(field, "%q: write a multiplier such as 2 or \"1.5\", not a percentage", s)
		return 0
	}
	n, err := money.ParseBP(t) // hundredths, like basis points of a percent
	if err != nil {
		bad(field, "multiplier %q: %v; write e.g. 2 or \"1.5\" (at most 2 decimals)", s, errors.Unwrap(err))
		return 0
	}
	return int64(n)
}

// share reads an optional percentage whose zero would mean the same as
// leaving it out, or the opposite; writing 0 is refused as ambiguous.
func (d *decoder) share(bad reporter, m map[string]any, key, field, instead string) money.BP {
	p := d.percentOpt(bad, m, key, field)
	if v, ok := m[key]; ok && p == 0 {
		// Report a zero only when it was read as one, not when it failed.
		if s, err := decimal(v); err == nil {
			if _, err := money.ParseBP(s); err == nil {
				bad(field, "0 %% is ambiguous here; %s", instead)
			}
		}
	}
	return p
}

// amount reads m[key], which must be present, as an amount in major units of cur.
func (d *decoder) amount(bad reporter, m map[string]any, key, field string, cur money.Currency) money.Amount {
	if _, ok := m[key]; !ok {
		bad(field, "missing; write an amount in major units, e.g. %s = \"100.00\"", key)
		return 0
	}
	return d.amountOpt(bad, m, key, field, cur)
}

// amountOpt reads m[key], when present, as an amount in major units of cur.
func (d *decoder) amountOpt(bad reporter, m map[string]any, key, field string, cur money.Currency) money.Amount {
	v, ok := m[key]
	if !ok {
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

// Layouts accepted for moments written as strings; TOML dates and times
// are read as such.
var momentLayouts = []struct {
	layout string
	local  bool
}{
	{time.RFC3339Nano, false},
	{"2006-01-02T15:04:05", true},
	{"2006-01-02T15:04", true},
	{"2006-01-02 15:04", true},
	{"2006-01-02", true},
}

// moment reads m[key], when present, as a point in time: with an offset it
// is an instant; without one (a TOML local date or date-time) it is a
// wall-clock time, the same hour on every terminal.
func (d *decoder) moment(bad reporter, m map[string]any, key, field string) discount.Moment {
	v, ok := m[key]
	if !ok {
		return discount.Moment{}
	}
	var t time.Time
	local := false
	switch x := v.(type) {
	case time.Time:
		switch x.Location().String() {
		case "datetime-local", "date-local":
			local = true
		case "time-local":
			bad(field, "a time of day alone is not a moment; write a date such as 2025-03-08 or 2025-03-08T10:00:00")
			return discount.Moment{}
		}
		t = x
	case string:
		parsed := false
		for _, l := range momentLayouts {
			if p, err := time.Parse(l.layout, x); err == nil {
				t, local, parsed = p, l.local, true
				break
			}
		}
		if !parsed {
			bad(field, "%q is not a date; write 2025-03-08, 2025-03-08T10:00:00 or 2025-03-08T10:00:00+03:00", x)
			return discount.Moment{}
		}
	default:
		bad(field, "must be a date such as 2025-03-08 or 2025-03-08T10:00:00+03:00, got %s", typeName(v))
		return discount.Moment{}
	}
	if local {
		// Keep the wall clock only, apart from the zone of the machine that
		// read the file.
		t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	} else {
		_, off := t.Zone()
		t = t.In(time.FixedZone("", off))
	}
	if t.Year() < 2000 || t.Year() > 9999 {
		bad(field, "year %d is out of range", t.Year())
		return discount.Moment{}
	}
	return discount.Moment{At: t, Local: local}
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
	"вс": time.Sunday, "пн": time.Monday, "вт": time.Tuesday, "ср": time.Wednesday,
	"чт": time.Thursday, "пт": time.Friday, "сб": time.Saturday,
}

func (d *decoder) days(bad reporter, m map[string]any) []time.Weekday {
	names := d.strList(bad, m, "days", `["sat", "sun"]`)
	var out []time.Weekday
	for j, n := range names {
		day, ok := dayNames[strings.ToLower(strings.TrimSpace(n))]
		if !ok {
			if n != "\x00" {
				bad(fmt.Sprintf("days[%d]", j+1), "%q is not a day; write mon, tue, wed, thu, fri, sat or sun", n)
			}
			day = -1
		}
		out = append(out, day)
	}
	return out
}

func (d *decoder) hours(bad reporter, m map[string]any) []discount.Hours {
	spans := d.strList(bad, m, "hours", `["10:00-12:00"]`)
	var out []discount.Hours
	for j, s := range spans {
		from, to, ok := strings.Cut(s, "-")
		f, okF := clock(from)
		t, okT := clock(to)
		if !ok || !okF || !okT {
			if s != "\x00" {
				bad(fmt.Sprintf("hours[%d]", j+1), "%q: write a span of the day such as \"10:00-12:00\" (or \"22:00-02:00\" across midnight)", s)
			}
			out = append(out, discount.Hours{From: -1, To: -1})
			continue
		}
		out = append(out, discount.Hours{From: f, To: t})
	}
	return out
}

// clock reads "HH:MM" (24:00 allowed) as minutes from midnight.
func clock(s string) (int, bool) {
	s = strings.TrimSpace(s)
	h, mm, ok := strings.Cut(s, ":")
	if !ok || len(mm) != 2 || len(h) < 1 || len(h) > 2 {
		return 0, false
	}
	hn, err1 := strconv.Atoi(h)
	mn, err2 := strconv.Atoi(mm)
	if err1 != nil || err2 != nil || hn < 0 || mn < 0 || mn > 59 || hn > 24 || hn == 24 && mn != 0 {
		return 0, false
	}
	return hn*60 + mn, true
}

func (d *decoder) prefixes(bad reporter, m map[string]any, k discount.Key) []discount.PrefixRange {
	var out []discount.PrefixRange
	for _, s := range d.strList(bad, m, k.Name, k.Example) {
		from, to, isRange := strings.Cut(strings.TrimSpace(s), "-")
		if !isRange {
			to = from
		}
		// Validation checks the digits and names the element.
		out = append(out, discount.PrefixRange{From: strings.TrimSpace(from), To: strings.TrimSpace(to)})
	}
	return out
}

// texts reads a table of templates by language: { ru = "…", en = "…" }.
func (d *decoder) texts(bad reporter, m map[string]any, key string) map[string]string {
	v, ok := m[key]
	if !ok {
		return nil
	}
	t, isTable := v.(map[string]any)
	if !isTable {
		bad(key, "must be a table of texts by language such as { ru = \"Здравствуйте, {name}!\", en = \"Hello, {name}!\" }, got %s", typeName(v))
		return nil
	}
	out := make(map[string]string, len(t))
	for _, lang := range sortedKeys(t) {
		s, isStr := t[lang].(string)
		if !isStr {
			bad(key+"."+lang, "must be a string, got %s", typeName(t[lang]))
			s = "?"
		}
		out[lang] = s
	}
	return out
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
