package discount_test

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/discount/rulesfile"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// Two baselines for the engine, benchmarked beside it:
//
//   - the same 1 000 rules run through github.com/expr-lang/expr, the generic
//     rule engine a Go team would otherwise reach for: every rule's condition
//     and amount compiled once into expr programs, run for every line;
//   - a hand-written Go function for a fixed set of 10 rules, giving exactly
//     the quote the engine gives (TestHandWrittenMatchesApply).
//
// expr is imported by this test file only: package discount stays pure.

// ---- expr ----

// exprEnv is what an expr rule sees of one line and its basket.
type exprEnv struct {
	SKU      string
	Category string
	Qty      int
	Price    int // unit price, minor units
	Left     int // what is left to pay on the line
	Subtotal int
	Weekday  int
	Minute   int
	Date     string // "2025-03-04", the wall-clock date
	Store    string
	Region   string
	Terminal string
	HasCard  bool
	Card     string
	Spend    int
	Birthday bool
}

type exprRule struct {
	cond, amount *vm.Program
	points       bool // the amount is points, not money
}

func quoted(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// exprSource translates a rule into an expr condition and amount per line.
func exprSource(r discount.Rule) (cond, amount string, points bool) {
	var c []string
	switch r.Kind {
	case discount.KindPercentOff, discount.KindAmountOff, discount.KindBuyGet, discount.KindGift:
	default:
		c = append(c, "HasCard")
	}
	if len(r.SKUs)+len(r.Categories) > 0 {
		c = append(c, fmt.Sprintf("(SKU in %s || Category in %s)", quoted(r.SKUs), quoted(r.Categories)))
	}
	if len(r.ExcludeCategories) > 0 {
		c = append(c, fmt.Sprintf("not (Category in %s)", quoted(r.ExcludeCategories)))
	}
	w := r.Window
	if !w.Starts.IsZero() {
		c = append(c, fmt.Sprintf("Date >= %q", w.Starts.At.Format("2006-01-02")))
	}
	if !w.Ends.IsZero() {
		c = append(c, fmt.Sprintf("Date < %q", w.Ends.At.Format("2006-01-02")))
	}
	if len(w.Days) > 0 {
		days := make([]string, len(w.Days))
		for i, d := range w.Days {
			days[i] = strconv.Itoa(int(d))
		}
		c = append(c, "Weekday in ["+strings.Join(days, ", ")+"]")
	}
	for _, h := range w.Hours {
		c = append(c, fmt.Sprintf("Minute >= %d && Minute < %d", h.From, h.To))
	}
	if len(r.Stores)+len(r.Regions)+len(r.Terminals) > 0 {
		c = append(c, fmt.Sprintf("(Store in %s || Region in %s || Terminal in %s)", quoted(r.Stores), quoted(r.Regions), quoted(r.Terminals)))
	}
	if r.MinBasket > 0 {
		c = append(c, fmt.Sprintf("Subtotal >= %d", r.MinBasket))
	}
	if len(r.Prefixes) > 0 {
		var ps []string
		for _, p := range r.Prefixes {
			ps = append(ps, fmt.Sprintf("Card startsWith %q", p.From))
		}
		c = append(c, "("+strings.Join(ps, " || ")+")")
	}
	amount = "0"
	switch r.Kind {
	case discount.KindCardPercent, discount.KindPercentOff, discount.KindPartner:
		amount = fmt.Sprintf("Left * %d / 10000", r.Percent)
	case discount.KindBirthday:
		c = append(c, "Birthday")
		amount = fmt.Sprintf("Left * %d / 10000", r.Percent)
	case discount.KindTiers:
		amount = "0"
		for _, t := range r.Tiers {
			amount = fmt.Sprintf("Spend >= %d ? Left * %d / 10000 : (%s)", t.From, t.Percent, amount)
		}
	case discount.KindAmountOff:
		if r.PerUnit {
			amount = fmt.Sprintf("min(%d * Qty, Left)", r.Amount)
		} else {
			amount = fmt.Sprintf("min(%d, Left)", r.Amount)
		}
	case discount.KindBuyGet:
		amount = fmt.Sprintf("int(Qty / %d) * %d * Price", r.Buy+r.Get, r.Get)
	case discount.KindPoints:
		amount, points = fmt.Sprintf("int(Left / %d) * %d", r.Per, r.Points), true
	}
	if len(c) == 0 {
		return "true", amount, points
	}
	return strings.Join(c, " && "), amount, points
}

type exprEngine struct {
	rules []exprRule
	vm    vm.VM
	env   exprEnv
	left  []int
}

func compileExpr(rs *discount.Ruleset) (*exprEngine, error) {
	rules := slices.Clone(rs.Rules)
	slices.SortStableFunc(rules, func(a, b discount.Rule) int { return cmp.Compare(a.Priority, b.Priority) })
	e := &exprEngine{}
	for _, r := range rules {
		cond, amount, points := exprSource(r)
		c, err := expr.Compile(cond, expr.Env(exprEnv{}), expr.AsBool())
		if err != nil {
			return nil, fmt.Errorf("rule %s: %s: %w", r.ID, cond, err)
		}
		a, err := expr.Compile(amount, expr.Env(exprEnv{}))
		if err != nil {
			return nil, fmt.Errorf("rule %s: %s: %w", r.ID, amount, err)
		}
		e.rules = append(e.rules, exprRule{cond: c, amount: a, points: points})
	}
	return e, nil
}

// price runs every rule's condition on every line, and its amount where the
// condition holds; it returns the total to pay and the points.
func (e *exprEngine) price(b pos.Basket, a *pos.Account, now time.Time) (total, points int, err error) {
	env := &e.env
	*env = exprEnv{Weekday: int(now.Weekday()), Minute: now.Hour()*60 + now.Minute(), Date: now.Format("2006-01-02"),
		Store: b.Store, Region: b.Region, Terminal: b.Terminal, HasCard: a != nil}
	if a != nil {
		env.Card, env.Spend = a.Card, int(a.LifetimeSpend)
		env.Birthday = a.Profile != nil && a.Profile.BirthMonth == int(now.Month()) && abs(a.Profile.BirthDay-now.Day()) <= 3
	}
	e.left = e.left[:0]
	for _, l := range b.Lines {
		e.left = append(e.left, int(l.Amount()))
		env.Subtotal += int(l.Amount())
	}
	for _, r := range e.rules {
		for i, l := range b.Lines {
			env.SKU, env.Category, env.Qty, env.Price, env.Left = l.SKU, l.Category, int(l.Qty), int(l.UnitPrice), e.left[i]
			ok, err := e.vm.Run(r.cond, env)
			if err != nil {
				return 0, 0, err
			}
			if !ok.(bool) {
				continue
			}
			v, err := e.vm.Run(r.amount, env)
			if err != nil {
				return 0, 0, err
			}
			var n int
			switch x := v.(type) {
			case int:
				n = x
			case float64:
				n = int(math.Round(x))
			}
			if r.points {
				points += n
				continue
			}
			e.left[i] -= min(max(n, 0), e.left[i])
		}
	}
	for _, l := range e.left {
		total += l
	}
	return total, points, nil
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func TestExprBaseline(t *testing.T) {
	rs, basket, acct := benchRules(1000), benchBasket(), benchAccount()
	e, err := compileExpr(rs)
	if err != nil {
		t.Fatal(err)
	}
	total, points, err := e.price(basket, acct, benchNow)
	if err != nil {
		t.Fatal(err)
	}
	q, err := discount.Apply(rs, basket, acct, benchNow)
	if err != nil {
		t.Fatal(err)
	}
	// Not the same arithmetic (no exact allocation, no limits, no groups),
	// but the same rules firing: both give a real discount.
	if total <= 0 || total >= int(q.Subtotal) || points <= 0 {
		t.Errorf("expr: total %d of %d, %d points; tilld: total %d", total, q.Subtotal, points, q.Total)
	}
}

// ---- a fixed set of 10 rules, by hand ----

// tenRules is the fixed set: the loyalty program, five promotions, a
// birthday discount and a greeting.
const tenRules = `
schema = 1
version = 1
currency = "RUB"

[[rule]]
id = "club-card"
kind = "card_percent"
priority = 10
percent = "3%"
exclude_categories = ["tobacco"]

[[rule]]
id = "cumulative"
kind = "tiers"
priority = 20
exclude_categories = ["tobacco"]
  [[rule.tier]]
  name = "Silver"
  from = "5000.00"
  percent = "5%"
  [[rule.tier]]
  name = "Gold"
  from = "10000.00"
  percent = "10%"
  message = "Золотой клиент: бесплатная доставка"
  flags = ["free_delivery"]
  [[rule.tier]]
  name = "Platinum"
  from = "15000.00"
  percent = "15%"

[[rule]]
id = "happy-hour"
kind = "percent_off"
name = "Счастливые часы"
priority = 5
categories = ["coffee"]
percent = "20%"
days = ["mon", "tue", "wed", "thu", "fri"]
hours = ["16:00-18:00"]

[[rule]]
id = "cola"
kind = "amount_off"
name = "Кола дешевле"
priority = 6
skus = ["cola"]
amount = "20.00"
per_unit = true

[[rule]]
id = "snacks"
kind = "buy_get"
name = "Снеки 2+1"
priority = 7
categories = ["snacks"]
buy = 2
get = 1

[[rule]]
id = "dairy"
kind = "percent_off"
name = "Молочная неделя"
priority = 8
categories = ["dairy"]
percent = "10%"

[[rule]]
id = "big-basket"
kind = "amount_off"
name = "Большая корзина"
priority = 30
amount = "300.00"
min_basket = "3000.00"
exclude_categories = ["tobacco", "alcohol"]

[[rule]]
id = "birthday"
kind = "birthday"
priority = 40
days_before = 3
days_after = 3
percent = "10%"
exclude_categories = ["tobacco", "alcohol"]

[[rule]]
id = "bonus"
kind = "points"
points = 1
per = "100.00"
exclude_categories = ["tobacco"]
  [[rule.multiplier]]
  category = "coffee"
  times = 2

[[rule]]
id = "hello"
kind = "greeting"
text = { ru = "Здравствуйте, {name} {patronymic}!" }
`

// handPrice is what a Go team would write for exactly those ten rules, with
// the engine's arithmetic (canonical line order, one rounding per rule,
// money.Allocate) so that it gives the same quote to the kopeck.
func handPrice(b pos.Basket, a *pos.Account, now time.Time) (pos.Quote, error) {
	if err := b.Validate(); err != nil {
		return pos.Quote{}, err
	}
	n := len(b.Lines)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int {
		lx, ly := &b.Lines[x], &b.Lines[y]
		return cmp.Or(strings.Compare(lx.Category, ly.Category), strings.Compare(lx.SKU, ly.SKU),
			cmp.Compare(lx.UnitPrice, ly.UnitPrice), cmp.Compare(lx.Qty, ly.Qty))
	})
	lines := make([]pos.Line, n)
	amount := make([]money.Amount, n)
	left := make([]money.Amount, n)
	weights := make([]money.Amount, n)
	pts := make([]int64, n)
	q := pos.Quote{Currency: "RUB", Applied: make([]pos.Applied, 0, 8), RulesetVersion: 1}
	for k, i := range order {
		lines[k] = b.Lines[i]
		amount[k] = lines[k].Amount()
		left[k] = amount[k]
		q.Subtotal += amount[k]
	}
	apply := func(id, kind, reason string, d money.Amount) {
		if d > 0 {
			q.Applied = append(q.Applied, pos.Applied{Rule: id, Kind: kind, Amount: d, Reason: reason})
			q.Discount += d
		}
	}
	// percent takes p of what is left of the lines ok accepts, rounded once.
	percent := func(p money.BP, ok func(l *pos.Line) bool) money.Amount {
		var base money.Amount
		for k := range lines {
			weights[k] = 0
			if ok(&lines[k]) {
				weights[k] = left[k]
				base += left[k]
			}
		}
		d := base.Percent(p, money.HalfUp)
		if d == 0 {
			return 0
		}
		parts, _ := money.Allocate(d, weights)
		for k, s := range parts {
			left[k] -= s
		}
		return d
	}
	notTobacco := func(l *pos.Line) bool { return l.Category != "tobacco" }
	notTobaccoAlcohol := func(l *pos.Line) bool { return l.Category != "tobacco" && l.Category != "alcohol" }

	// 5: happy hour, weekdays 16:00–18:00.
	if wd, h := now.Weekday(), now.Hour(); wd >= time.Monday && wd <= time.Friday && h >= 16 && h < 18 {
		apply("happy-hour", "percent_off", "Счастливые часы: скидка 20 %", percent(2000, func(l *pos.Line) bool { return l.Category == "coffee" }))
	}
	// 6: 20.00 off every cola.
	var cola money.Amount
	for k := range lines {
		if lines[k].SKU == "cola" {
			d := min(20_00*money.Amount(lines[k].Qty), left[k])
			left[k] -= d
			cola += d
		}
	}
	apply("cola", "amount_off", "Кола дешевле: скидка 20,00 ₽ за штуку", cola)
	// 7: snacks, the cheapest of every three free.
	var snacks []int
	var units int64
	for k := range lines {
		if lines[k].Category == "snacks" && left[k] > 0 {
			snacks = append(snacks, k)
			units += lines[k].Qty
		}
	}
	if free := units / 3; free > 0 {
		slices.SortStableFunc(snacks, func(x, y int) int { return cmp.Compare(lines[x].UnitPrice, lines[y].UnitPrice) })
		var d money.Amount
		for _, k := range snacks {
			u := min(free, lines[k].Qty)
			if u == 0 {
				break
			}
			free -= u
			s, _ := money.MulDiv(left[k], u, lines[k].Qty, money.HalfUp)
			left[k] -= s
			d += s
		}
		apply("snacks", "buy_get", "Снеки 2+1: самый дешёвый товар из каждых 3 в подарок", d)
	}
	// 8: dairy week.
	apply("dairy", "percent_off", "Молочная неделя: скидка 10 %", percent(1000, func(l *pos.Line) bool { return l.Category == "dairy" }))
	tier := ""
	if a != nil {
		// 10: club card; 20: cumulative tiers.
		apply("club-card", "card_percent", "Скидка 3 % по клубной карте", percent(300, notTobacco))
		var p money.BP
		switch s := a.LifetimeSpend; {
		case s >= 15000_00:
			tier, p = "Platinum", 1500
		case s >= 10000_00:
			tier, p = "Gold", 1000
			q.TierMessage, q.Flags = "Золотой клиент: бесплатная доставка", []string{"free_delivery"}
		case s >= 5000_00:
			tier, p = "Silver", 500
		}
		q.Tier = tier
		if p > 0 {
			from := map[string]string{"Silver": "5 000,00 ₽", "Gold": "10 000,00 ₽", "Platinum": "15 000,00 ₽"}[tier]
			reason := "Накопительная скидка " + strings.TrimSuffix(p.String(), "%") + " % (" + tier + "): сумма покупок " +
				rubles(a.LifetimeSpend) + " ≥ " + from
			apply("cumulative", "tiers", reason, percent(p, notTobacco))
		}
	}
	// 30: 300.00 off a basket of 3 000.00 or more, tobacco and alcohol not counted.
	var reach money.Amount
	for k := range lines {
		if notTobaccoAlcohol(&lines[k]) {
			reach += amount[k]
		}
	}
	if reach >= 3000_00 {
		var base money.Amount
		for k := range lines {
			weights[k] = 0
			if notTobaccoAlcohol(&lines[k]) {
				weights[k] = left[k]
				base += left[k]
			}
		}
		if d := min(300_00, base); d > 0 {
			parts, _ := money.Allocate(d, weights)
			for k, s := range parts {
				left[k] -= s
			}
			apply("big-basket", "amount_off", "Большая корзина: скидка 300,00 ₽", d)
		}
	}
	// 40: birthday, three days either side.
	if a != nil && a.Profile != nil && a.Profile.BirthMonth > 0 && a.Profile.BirthDay > 0 {
		y, m, d := now.Date()
		today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		for _, yy := range []int{y - 1, y, y + 1} {
			bd := time.Date(yy, time.Month(a.Profile.BirthMonth), a.Profile.BirthDay, 0, 0, 0, 0, time.UTC)
			if days := today.Sub(bd).Hours() / 24; days >= -3 && days <= 3 {
				q.Birthday = true
				q.Flags = append(q.Flags, "birthday")
				slices.Sort(q.Flags)
				apply("birthday", "birthday", "С днём рождения: скидка 10 %", percent(1000, notTobaccoAlcohol))
				break
			}
		}
	}
	if a != nil {
		// Points: 1 per 100.00 paid, coffee ×2, tobacco excluded.
		var w money.Amount
		for k := range lines {
			weights[k] = 0
			if lines[k].Category != "tobacco" && left[k] > 0 {
				times := money.Amount(100)
				if lines[k].Category == "coffee" {
					times = 200
				}
				weights[k] = left[k] * times
				w += weights[k]
			}
		}
		if p := int64(w / 100_00 / 100); p > 0 {
			parts, _ := money.Allocate(money.Amount(p), weights)
			for k, s := range parts {
				pts[k] = int64(s)
			}
			reason := "1 балл за каждые 100,00 ₽"
			for k := range lines {
				if lines[k].Category == "coffee" && left[k] > 0 {
					reason += " (×2 coffee)"
					break
				}
			}
			q.Applied = append(q.Applied, pos.Applied{Rule: "bonus", Kind: "points", Points: p, Reason: reason})
			q.PointsEarned = p
		}
		if pr := a.Profile; pr != nil && pr.Name != "" {
			if pr.Patronymic != "" {
				q.Greeting = "Здравствуйте, " + pr.Name + " " + pr.Patronymic + "!"
			} else {
				q.Greeting = "Здравствуйте, " + pr.Name + "!"
			}
		}
	}
	q.Total = q.Subtotal - q.Discount
	q.Lines = make([]pos.PricedLine, n)
	for k, i := range order {
		q.Lines[i] = pos.PricedLine{Line: lines[k], Amount: amount[k], Discount: amount[k] - left[k], Total: left[k], Points: pts[k]}
	}
	return q, nil
}

// rubles writes 12 000,00 ₽.
func rubles(a money.Amount) string {
	s := money.Currency{Code: "RUB", Exponent: 2}.Format(a)
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, d := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(d)
	}
	return b.String() + "," + frac + " ₽"
}

var tenCats = []string{"coffee", "snacks", "dairy", "grocery", "tobacco", "alcohol", "drinks"}

func tenBasket(r *rand.Rand, lines int) pos.Basket {
	b := pos.Basket{Card: "2000000000008"}
	for i := range lines {
		l := pos.Line{SKU: fmt.Sprintf("sku%02d", r.IntN(40)), Category: tenCats[r.IntN(len(tenCats))],
			Qty: 1 + r.Int64N(4), UnitPrice: money.Amount(10_00 + r.Int64N(1500_00))}
		if i%9 == 0 {
			l.SKU, l.Category = "cola", "drinks"
		}
		b.Lines = append(b.Lines, l)
	}
	return b
}

func TestHandWrittenMatchesApply(t *testing.T) {
	rs := parseRules(t, tenRules)
	r := rand.New(rand.NewPCG(10, 10))
	times := []time.Time{benchNow, benchNow.Add(2 * time.Hour), benchNow.AddDate(0, 0, 4)}
	for i := range 3000 {
		b := tenBasket(r, 1+r.IntN(40))
		var a *pos.Account
		if r.IntN(5) > 0 {
			a = &pos.Account{Card: b.Card, LifetimeSpend: money.Amount(r.Int64N(20000_00))}
			if r.IntN(2) == 0 {
				a.Profile = &pos.Profile{Name: "Анна", BirthMonth: 3, BirthDay: 1 + r.IntN(12)}
				if r.IntN(2) == 0 {
					a.Profile.Patronymic = "Сергеевна"
				}
			}
		}
		now := times[r.IntN(len(times))]
		want, err := discount.Apply(rs, b, a, now)
		if err != nil {
			t.Fatal(err)
		}
		got, err := handPrice(b, a, now)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("case %d: the hand-written function gives\n%+v\nthe engine\n%+v", i, got, want)
		}
	}
}

func parseRules(t testing.TB, src string) *discount.Ruleset {
	t.Helper()
	rs, err := rulesfile.Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// ---- the benchmarks, side by side ----

// BenchmarkExpr1000 is the same 1 000 rules through expr.
func BenchmarkExpr1000(b *testing.B) {
	rs, basket, acct := benchRules(1000), benchBasket(), benchAccount()
	e, err := compileExpr(rs)
	if err != nil {
		b.Fatal(err)
	}
	measure(b, func() error { _, _, err := e.price(basket, acct, benchNow); return err })
}

// BenchmarkApply10 is tilld on the fixed 10 rules.
func BenchmarkApply10(b *testing.B) {
	rs := parseRules(b, tenRules)
	basket := tenBasket(rand.New(rand.NewPCG(30, 30)), 30)
	acct := benchAccount()
	measure(b, func() error { _, err := discount.Apply(rs, basket, acct, benchNow); return err })
}

// BenchmarkHandWritten10 is the hand-written function on the same basket.
func BenchmarkHandWritten10(b *testing.B) {
	basket := tenBasket(rand.New(rand.NewPCG(30, 30)), 30)
	acct := benchAccount()
	measure(b, func() error { _, err := handPrice(basket, acct, benchNow); return err })
}
