package discount

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// Bounds that keep every computation of a valid ruleset on a valid basket
// inside int64.
const (
	maxDays    = 31
	maxBuyGet  = 1000
	maxTickets = 100
	// maxPoints bounds any points count a rule gives: far above any program,
	// far below int64 once multiplied by a basket.
	maxPoints = 1_000_000_000
)

type reporter func(field, format string, args ...any)

// check returns the errors and the warnings of the ruleset.
func (rs *Ruleset) check() (errs, warns []Problem) {
	if rs == nil {
		return []Problem{{Msg: "no ruleset"}}, nil
	}
	top := func(field, format string, args ...any) {
		errs = append(errs, Problem{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	topWarn := func(field, format string, args ...any) {
		warns = append(warns, Problem{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if rs.Schema != Schema {
		top("schema", "unsupported schema %d; this build reads schema = %d", rs.Schema, Schema)
	}
	if rs.Version < 1 {
		top("version", "must be 1 or more, got %d", rs.Version)
	}
	if c, err := money.ParseCurrency(rs.Currency.Code); err != nil {
		top("currency", "%v", err)
	} else if c.Exponent != rs.Currency.Exponent {
		top("currency", "%s has %d minor-unit digits, not %d", c.Code, c.Exponent, rs.Currency.Exponent)
	}
	rs.checkLimits(top, topWarn)

	seen := make(map[string]int, len(rs.Rules))
	firstOf := map[Kind]int{}
	groupPhase := map[string]phase{}
	groupFirst := map[string]int{}
	for i := range rs.Rules {
		r := &rs.Rules[i]
		bad := func(field, format string, args ...any) {
			errs = append(errs, Problem{Rule: r.ID, Index: i + 1, Field: field, Msg: fmt.Sprintf(format, args...)})
		}
		warn := func(field, format string, args ...any) {
			warns = append(warns, Problem{Rule: r.ID, Index: i + 1, Field: field, Msg: fmt.Sprintf(format, args...)})
		}
		switch {
		case strings.TrimSpace(r.ID) == "":
			bad("id", "missing; every rule needs a unique id")
		case r.ID != strings.TrimSpace(r.ID):
			bad("id", "has leading or trailing spaces")
		case seen[r.ID] > 0:
			bad("id", "duplicate; rule #%d has the same id", seen[r.ID])
		default:
			seen[r.ID] = i + 1
		}
		checkNames(bad, warn, "exclude_categories", "category", r.ExcludeCategories)
		spec := specs[r.Kind]
		if spec == nil {
			if r.Kind == "" {
				bad("kind", "missing; want one of %s", kindList())
			} else {
				bad("kind", "unknown kind %q; want one of %s", string(r.Kind), kindList())
			}
			continue
		}
		for _, k := range r.foreignKeys(spec) {
			bad(k, "not used by %s rules", string(r.Kind))
		}
		rs.checkConditions(r, bad, warn)
		if r.Group != "" {
			switch p, ok := groupPhase[r.Group]; {
			case spec.noGroup:
				bad("group", "%s rules cannot be in an exclusive group", string(r.Kind))
			case !ok:
				groupPhase[r.Group], groupFirst[r.Group] = r.phase(), i+1
			case p != r.phase():
				bad("group", "group %q mixes discounts with points-only rules (rule #%d); a group's rules must compete on the same thing",
					r.Group, groupFirst[r.Group])
			}
		}
		if spec.onlyOne != "" {
			if first := firstOf[r.Kind]; first > 0 {
				bad("kind", "a ruleset has at most one %s rule (rule #%d is one), %s", string(r.Kind), first, spec.onlyOne)
			} else {
				firstOf[r.Kind] = i + 1
			}
		}
		// A required key left empty, in the words the rules file uses for
		// one left out. Numbers have their ranges checked instead, and tables
		// their kind's own words for none.
		for _, k := range spec.keys {
			if k.Required != "" && k.empty(r) {
				bad(k.Name, "missing; %s", k.Required)
			}
		}
		if spec.check != nil {
			spec.check(&ruleCheck{r: r, cur: rs.Currency, bad: bad, warn: warn})
		}
	}
	rs.checkPartners(&errs)
	rs.checkExpiries(&errs)
	if len(errs) == 0 {
		warns = append(warns, rs.neverFire()...)
		warns = append(warns, rs.shadowed()...)
	}
	return errs, warns
}

func kindList() string {
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

func checkPercent(bad reporter, field string, p money.BP) {
	if p <= 0 || p > money.Whole {
		bad(field, "must be more than 0 %% and at most 100 %%, got %s", p)
	}
}

func checkCount(bad reporter, field string, n, least int64) {
	if n < least || n > maxPoints {
		bad(field, "must be between %d and %d, got %d", least, maxPoints, n)
	}
}

func checkPointsPer(cur money.Currency, bad reporter, points int64, per money.Amount) {
	if points <= 0 || points > maxPoints {
		if points <= 0 {
			bad("points", "must be 1 or more, got %d", points)
		} else {
			bad("points", "must be at most %d, got %d", maxPoints, points)
		}
	}
	if per <= 0 {
		bad("per", "must be more than 0, got %s", cur.Format(per))
	}
}

// checkNames checks a list of SKUs, categories or places: no empty names,
// a warning for one listed twice.
func checkNames(bad, warn reporter, field, what string, names []string) {
	for j, c := range names {
		switch {
		case strings.TrimSpace(c) == "":
			bad(fmt.Sprintf("%s[%d]", field, j+1), "empty %s name", what)
		case slices.Index(names, c) < j:
			warn(fmt.Sprintf("%s[%d]", field, j+1), "%s %q is listed twice", what, c)
		}
	}
}

func checkTargets(r *Rule, bad, warn reporter) {
	checkNames(bad, warn, "skus", "SKU", r.SKUs)
	checkNames(bad, warn, "categories", "category", r.Categories)
	for j, c := range r.Categories {
		if r.excludes(c) {
			warn(fmt.Sprintf("categories[%d]", j+1), "category %q is also excluded, so the rule never touches it", c)
		}
	}
}

func checkTiers(cur money.Currency, r *Rule, bad, warn reporter) {
	if len(r.Tiers) == 0 {
		bad("tier", "a tiers rule needs at least one tier")
		return
	}
	names := make(map[string]int, len(r.Tiers))
	for j, t := range r.Tiers {
		at := func(f string) string { return fmt.Sprintf("tier[%d].%s", j+1, f) }
		switch {
		case strings.TrimSpace(t.Name) == "":
			bad(at("name"), "missing; the till shows it")
		case names[t.Name] > 0:
			bad(at("name"), "duplicate; tier[%d] has the same name", names[t.Name])
		default:
			names[t.Name] = j + 1
		}
		if t.From < 0 {
			bad(at("from"), "must be 0 or more, got %s", cur.Format(t.From))
		}
		// A tier may carry privileges only, without a discount.
		if t.Percent != 0 || (t.Message == "" && len(t.Flags) == 0) {
			checkPercent(bad, at("percent"), t.Percent)
		}
		checkNames(bad, warn, at("flags"), "flag", t.Flags)
		if j == 0 {
			continue
		}
		prev := r.Tiers[j-1]
		if t.From <= prev.From {
			bad(at("from"), "must be more than tier[%d].from (%s), got %s; list tiers from the lowest spend up",
				j, cur.Format(prev.From), cur.Format(t.From))
		}
		if t.Percent < prev.Percent {
			warn(at("percent"), "%s is less than %s of tier[%d]: a customer loses discount by spending more",
				t.Percent, prev.Percent, j)
		}
	}
}

func checkMultipliers(r *Rule, bad, warn reporter) {
	seen := map[[2]string]int{}
	for j, m := range r.Multipliers {
		at := func(f string) string { return fmt.Sprintf("multiplier[%d].%s", j+1, f) }
		switch {
		case m.SKU == "" && m.Category == "":
			bad(at("sku"), "a multiplier needs a sku or a category")
		case m.SKU != "" && m.Category != "":
			bad(at("category"), "set sku or category, not both")
		case strings.TrimSpace(m.SKU+m.Category) == "":
			bad(at("sku"), "empty name")
		}
		key := [2]string{m.SKU, m.Category}
		if k := seen[key]; k > 0 {
			bad(at("sku"), "multiplier[%d] is for the same %s", k, either(m.SKU != "", "SKU", "category"))
		} else {
			seen[key] = j + 1
		}
		if m.Times <= 0 || m.Times > MaxTimes {
			bad(at("times"), "must be more than 0 and at most 10 (×10), got %s", timesString(m.Times))
		} else if m.Times == 100 {
			warn(at("times"), "×1 changes nothing")
		}
		if m.Category != "" && r.excludes(m.Category) {
			warn(at("category"), "category %q is excluded, so the multiplier never applies", m.Category)
		}
	}
}

func checkItems(r *Rule, bad reporter) {
	if len(r.Items) == 0 {
		bad("item", "a catalog rule needs at least one [[rule.item]] with sku and points")
	}
	seen := map[string]int{}
	for j, it := range r.Items {
		at := func(f string) string { return fmt.Sprintf("item[%d].%s", j+1, f) }
		switch {
		case strings.TrimSpace(it.SKU) == "":
			bad(at("sku"), "missing")
		case seen[it.SKU] > 0:
			bad(at("sku"), "duplicate; item[%d] has the same SKU", seen[it.SKU])
		default:
			seen[it.SKU] = j + 1
		}
		checkCount(bad, at("points"), it.Points, 1)
	}
}

func checkPrefixes(r *Rule, bad reporter) {
	for j, p := range r.Prefixes {
		at := fmt.Sprintf("prefixes[%d]", j+1)
		switch {
		case !digits(p.From) || !digits(p.To):
			bad(at, "%q: want digits, or two runs of digits joined by -", p.From+rangeTail(p))
		case len(p.From) != len(p.To):
			bad(at, "%q: both ends of a range need the same number of digits", p.From+rangeTail(p))
		case len(p.From) > 19:
			bad(at, "%q: at most 19 digits", p.From)
		case p.From > p.To:
			bad(at, "%q: the range runs backwards", p.From+rangeTail(p))
		}
	}
}

func rangeTail(p PrefixRange) string {
	if p.To == p.From {
		return ""
	}
	return "-" + p.To
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// checkPartners refuses prefix ranges of different partners that overlap: a
// card belongs to one partner program.
func (rs *Ruleset) checkPartners(errs *[]Problem) {
	type owned struct {
		p     PrefixRange
		rule  int
		owner string
	}
	var all []owned
	for i := range rs.Rules {
		r := &rs.Rules[i]
		if r.Kind != KindPartner {
			continue
		}
		for j, p := range r.Prefixes {
			if !digits(p.From) || len(p.From) != len(p.To) || p.From > p.To {
				continue
			}
			for _, o := range all {
				if o.owner != r.Partner && overlap(o.p, p) {
					*errs = append(*errs, Problem{Rule: r.ID, Index: i + 1, Field: fmt.Sprintf("prefixes[%d]", j+1),
						Msg: fmt.Sprintf("%s overlaps %s of partner %q (rule #%d); a card belongs to one partner",
							p.From+rangeTail(p), o.p.From+rangeTail(o.p), o.owner, o.rule)})
					break
				}
			}
			all = append(all, owned{p, i + 1, r.Partner})
		}
	}
}

// overlap reports whether some card number matches both ranges.
func overlap(a, b PrefixRange) bool {
	if len(a.From) > len(b.From) {
		a, b = b, a
	}
	// Cut the longer range to the shorter's length: a card matching b starts
	// with one of those shorter prefixes.
	n := len(a.From)
	lo, hi := b.From[:n], b.To[:n]
	return lo <= a.To && hi >= a.From
}

func checkTexts(bad reporter, field string, texts map[string]string) {
	for _, lang := range sortedLangs(texts) {
		at := field + "." + lang
		if !validLang(lang) {
			bad(at, "want a language code of 2 or 3 lowercase letters such as \"ru\", got %q", lang)
			continue
		}
		if strings.TrimSpace(texts[lang]) == "" {
			bad(at, "empty text")
			continue
		}
		if err := checkTemplate(texts[lang]); err != "" {
			bad(at, "%s", err)
		}
	}
}

func sortedLangs(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func validLang(s string) bool {
	if len(s) < 2 || len(s) > 3 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

func (rs *Ruleset) checkLimits(bad, warn reporter) {
	l := &rs.Limits
	if l.BasketDiscount != 0 {
		checkPercent(bad, "limits.basket_discount", l.BasketDiscount)
	}
	if l.LineDiscount != 0 {
		checkPercent(bad, "limits.line_discount", l.LineDiscount)
	}
	if l.OfflinePointsPerDay < 0 || l.OfflinePointsPerDay > maxPoints {
		bad("limits.offline_points_per_day", "must be between 0 (no limit) and %d, got %d", maxPoints, l.OfflinePointsPerDay)
	}
	rs.checkOfflineReturns(bad)
	seen := map[string]int{}
	for j, f := range l.Floors {
		at := func(k string) string { return fmt.Sprintf("limits.floor[%d].%s", j+1, k) }
		switch {
		case strings.TrimSpace(f.SKU) == "":
			bad(at("sku"), "missing")
		case seen[f.SKU] > 0:
			bad(at("sku"), "duplicate; floor[%d] has the same SKU", seen[f.SKU])
		default:
			seen[f.SKU] = j + 1
		}
		if f.Price < 0 || f.Price > pos.MaxUnitPrice {
			bad(at("price"), "must be between 0 and %s, got %s", rs.Currency.Format(pos.MaxUnitPrice), rs.Currency.Format(f.Price))
		} else if f.Price == 0 {
			warn(at("price"), "a floor of 0 changes nothing")
		}
	}
}

// checkConditions checks the conditions every kind may carry.
func (rs *Ruleset) checkConditions(r *Rule, bad, warn reporter) {
	checkNames(bad, warn, "stores", "store", r.Stores)
	checkNames(bad, warn, "regions", "region", r.Regions)
	checkNames(bad, warn, "terminals", "terminal", r.Terminals)
	if r.MinBasket < 0 || r.MinBasket > pos.MaxLineAmount*pos.MaxLines {
		bad("min_basket", "must be 0 or more, got %s", rs.Currency.Format(r.MinBasket))
	}
	if r.Group != "" && strings.TrimSpace(r.Group) == "" {
		bad("group", "empty group name")
	}
	w := &r.Window
	if !w.Starts.IsZero() && !w.Ends.IsZero() && !before(w.Starts.At, w.Ends) {
		bad("ends", "%s is not after starts (%s)", w.Ends, w.Starts)
	}
	for j, d := range w.Days {
		switch {
		case d < time.Sunday || d > time.Saturday:
			bad(fmt.Sprintf("days[%d]", j+1), "not a day of the week: %d", d)
		case slices.Index(w.Days, d) < j:
			warn(fmt.Sprintf("days[%d]", j+1), "%s is listed twice", dayName(d))
		}
	}
	for j, h := range w.Hours {
		at := fmt.Sprintf("hours[%d]", j+1)
		switch {
		case h.From < 0 || h.From >= 24*60 || h.To < 0 || h.To > 24*60:
			bad(at, "want times of day between 00:00 and 24:00, got %s", h)
		case h.From == h.To:
			bad(at, "%s is empty; from and to must differ", h)
		}
	}
}

func dayName(d time.Weekday) string { return strings.ToLower(d.String()[:3]) }

func either(c bool, a, b string) string {
	if c {
		return a
	}
	return b
}

func timesString(t int64) string {
	s := money.BP(t).String() // hundredths print like percent: 150 → "1.5%"
	return "×" + strings.TrimSuffix(s, "%")
}

// neverFire warns about rules that cannot apply: an earlier 100 % card
// discount leaves them nothing to act on, or their window closes before the
// ruleset takes effect or holds no day they allow.
func (rs *Ruleset) neverFire() []Problem {
	var warns []Problem
	order := rs.order()
	for k, i := range order {
		later := &rs.Rules[i]
		w := &later.Window
		switch {
		case !w.Ends.IsZero() && !rs.Effective.IsZero() && !w.Ends.Local && !rs.Effective.Local &&
			!rs.Effective.At.Before(w.Ends.At):
			warns = append(warns, Problem{Rule: later.ID, Index: i + 1, Field: "ends",
				Msg: fmt.Sprintf("never fires: it ends (%s) before the ruleset takes effect (%s)", w.Ends, rs.Effective)})
			continue
		case !w.hasDayInRange():
			warns = append(warns, Problem{Rule: later.ID, Index: i + 1, Field: "days",
				Msg: fmt.Sprintf("never fires: no day from %s to %s is one of its days", w.Starts, w.Ends)})
			continue
		}
		if later.phase() != phaseDiscount && later.Kind != KindPoints {
			continue
		}
		for _, j := range order[:k] {
			early := &rs.Rules[j]
			if early.Kind != KindCardPercent || early.Percent != money.Whole || !early.unconditional() {
				continue
			}
			covered := true
			for _, c := range early.ExcludeCategories {
				if !later.excludes(c) {
					covered = false
					break
				}
			}
			if covered {
				warns = append(warns, Problem{Rule: later.ID, Index: i + 1,
					Msg: fmt.Sprintf("never fires: rule %q takes 100 %% off every line this rule could touch", early.ID)})
				break
			}
		}
	}
	return warns
}

// hasDayInRange is false when the window's dates, a span of under a week,
// contain none of its days.
func (w *Window) hasDayInRange() bool {
	if len(w.Days) == 0 || w.Starts.IsZero() || w.Ends.IsZero() || w.Starts.Local != w.Ends.Local {
		return true
	}
	s, e := w.Starts.At, w.Ends.At.In(w.Starts.At.Location())
	if e.Sub(s) >= 7*24*time.Hour {
		return true
	}
	for d := s; d.Before(e); d = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, d.Location()) {
		if slices.Contains(w.Days, d.Weekday()) {
			return true
		}
	}
	return false
}

// unconditional reports whether the rule applies to every card holder's
// basket at any time and place.
func (r *Rule) unconditional() bool {
	w := &r.Window
	return len(r.Stores)+len(r.Regions)+len(r.Terminals) == 0 && w.Starts.IsZero() && w.Ends.IsZero() &&
		len(w.Days) == 0 && len(w.Hours) == 0 && r.MinBasket == 0 && r.Group == ""
}

// shadowed warns about rules another rule always beats: a later greeting,
// redeem rule or round-up behind an unconditional one of the same kind (only
// the first applies), and in an exclusive group a percentage never better
// than another member's on the same lines.
func (rs *Ruleset) shadowed() []Problem {
	var warns []Problem
	order := rs.order()
	firstOf := map[string]int{} // onePer's class → the first unconditional rule of it
	for _, i := range order {
		r := &rs.Rules[i]
		key := ""
		if one := specs[r.Kind].onePer; one != nil {
			key = one(r)
		}
		if key == "" {
			continue
		}
		if j, ok := firstOf[key]; ok {
			warns = append(warns, Problem{Rule: r.ID, Index: i + 1,
				Msg: fmt.Sprintf("never fires: rule %q comes first and always applies; only one %s rule applies to a basket", rs.Rules[j].ID, key)})
			continue
		}
		if r.unconditional() && len(r.ExcludeCategories) == 0 {
			firstOf[key] = i
		}
	}
	for _, i := range order {
		b := &rs.Rules[i]
		if b.Group == "" || !percentLike(b) {
			continue
		}
		for _, j := range order {
			a := &rs.Rules[j]
			if i == j || a.Group != b.Group || !percentLike(a) || !sameReach(a, b) {
				continue
			}
			if a.Percent > b.Percent || a.Percent == b.Percent && j < i {
				warns = append(warns, Problem{Rule: b.ID, Index: i + 1, Field: "group",
					Msg: fmt.Sprintf("never fires: in group %q rule %q gives %s on the same lines, at least this rule's %s",
						b.Group, a.ID, a.Percent, b.Percent)})
				break
			}
		}
	}
	return warns
}

// percentLike reports whether r is a plain percentage whose value depends
// only on the lines it reaches.
func percentLike(r *Rule) bool {
	return r.Kind == KindCardPercent || r.Kind == KindPercentOff
}

// sameReach reports whether a reaches every basket and line b does, or more.
func sameReach(a, b *Rule) bool {
	aw := &a.Window
	if len(a.Stores)+len(a.Regions)+len(a.Terminals) > 0 || !aw.Starts.IsZero() || !aw.Ends.IsZero() ||
		len(aw.Days) > 0 || len(aw.Hours) > 0 || a.MinBasket > b.MinBasket || a.CardOnly && !b.CardOnly {
		return false
	}
	if a.Kind == KindPercentOff && (len(a.SKUs) > 0 || len(a.Categories) > 0) {
		if b.Kind != KindPercentOff || !subset(b.SKUs, a.SKUs) || !subset(b.Categories, a.Categories) ||
			len(b.SKUs)+len(b.Categories) == 0 {
			return false
		}
	}
	return subset(a.ExcludeCategories, b.ExcludeCategories)
}

func subset(small, big []string) bool {
	for _, s := range small {
		if !slices.Contains(big, s) {
			return false
		}
	}
	return true
}

// order returns rule indices in evaluation order: by phase, then Priority,
// then ID.
func (rs *Ruleset) order() []int {
	idx := make([]int, len(rs.Rules))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return compareRules(&rs.Rules[a], &rs.Rules[b]) })
	return idx
}

func compareRules(ra, rb *Rule) int {
	if pa, pb := ra.phase(), rb.phase(); pa != pb {
		return int(pa) - int(pb)
	}
	if ra.Priority != rb.Priority {
		if ra.Priority < rb.Priority {
			return -1
		}
		return 1
	}
	return strings.Compare(ra.ID, rb.ID)
}

// checkOfflineReturns checks the limits of returns taken offline on a
// receipt's word (Limits.OfflineReturn): both set or neither, each
// positive and at most a basket's worth, one return within the day's.
func (rs *Ruleset) checkOfflineReturns(bad reporter) {
	l := &rs.Limits
	const one, day = "limits.offline_return", "limits.offline_returns_per_day"
	ok := true
	for _, a := range []struct {
		field string
		v     money.Amount
	}{{one, l.OfflineReturn}, {day, l.OfflineReturnsPerDay}} {
		if a.v < 0 || a.v > pos.MaxUnitPrice {
			bad(a.field, "must be between 0 and %s, got %s", rs.Currency.Format(pos.MaxUnitPrice), rs.Currency.Format(a.v))
			ok = false
		}
	}
	switch {
	case !ok:
	case l.OfflineReturn > 0 && l.OfflineReturnsPerDay == 0:
		bad(day, "missing; offline_return is set, so say how much all returns taken offline at one till may give back in a day, e.g. offline_returns_per_day = %q", rs.Currency.Format(l.OfflineReturn*5))
	case l.OfflineReturn == 0 && l.OfflineReturnsPerDay > 0:
		bad(one, "missing; offline_returns_per_day is set, so say how much one return taken offline may give back, e.g. offline_return = %q", rs.Currency.Format(min(l.OfflineReturnsPerDay, l.OfflineReturnsPerDay/5+1)))
	case l.OfflineReturn > l.OfflineReturnsPerDay:
		bad(one, "%s is above offline_returns_per_day (%s): one return could give back more than a whole day allows", rs.Currency.Format(l.OfflineReturn), rs.Currency.Format(l.OfflineReturnsPerDay))
	}
}
