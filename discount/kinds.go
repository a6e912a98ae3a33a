package discount

import (
	"slices"
	"strings"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// Kind names what a rule does.
type Kind string

// The rule kinds. Everything this package knows about a kind is its entry
// in kindTable below; docs/rules.md describes each with a worked example.
const (
	// KindCardPercent is a fixed percentage off for any card holder.
	KindCardPercent Kind = "card_percent"
	// KindTiers is a cumulative discount chosen by lifetime spend.
	KindTiers Kind = "tiers"
	// KindPoints earns points per amount paid, with multipliers.
	KindPoints Kind = "points"
	// KindPercentOff is a promotion: a percentage off SKUs or categories.
	KindPercentOff Kind = "percent_off"
	// KindAmountOff is a promotion: an amount off, per basket or per unit.
	KindAmountOff Kind = "amount_off"
	// KindBuyGet is a promotion: buy N, get M free (or at a percentage off).
	KindBuyGet Kind = "buy_get"
	// KindGift is a promotion: a gift item above a spend.
	KindGift Kind = "gift"
	// KindRedeem lets card holders pay with points.
	KindRedeem Kind = "redeem"
	// KindCatalog is the bonus catalog: SKUs taken for points.
	KindCatalog Kind = "catalog"
	// KindPartner is a partner program's discount or points, by card prefix.
	KindPartner Kind = "partner"
	// KindBirthday is extra discount or points around the birthday, and a greeting.
	KindBirthday Kind = "birthday"
	// KindGreeting greets the customer by name.
	KindGreeting Kind = "greeting"
	// KindCharity rounds the total up or gives points to a cause.
	KindCharity Kind = "charity"
	// KindRaffle gives raffle tickets drawn deterministically.
	KindRaffle Kind = "raffle"
	// KindWelcome is a discount or points on a card's first purchase.
	KindWelcome Kind = "welcome"
	// KindNPS has the till ask the customer the NPS question after a sale.
	KindNPS Kind = "nps"
)

// Kinds lists every kind, in the order of the kinds table (and of
// docs/rules.md).
var Kinds []Kind

// kindSpec is everything the package knows about one kind of rule: the keys
// of the rules file (which the rulesfile package decodes and docs/rules.md
// lists), when its rules run, who they are for, how they are checked, and
// the engine's hooks that evaluate and explain them. kindTable holds one per
// kind; nothing else in the package lists the kinds. The few places that
// still name one are that kind's own behaviour inside the engine's common
// path: a gift is outside the limits and its own SKU does not count for
// min_basket, a partner's points are owed by the partner, a birthday's
// greeting comes first and its bonus is recorded, and account views ask
// for the tiers rule.
type kindSpec struct {
	kind Kind
	// title is what the kind is for, in the heading of its section in
	// docs/rules.md.
	title string
	// keys are the rules-file keys of the kind besides the common ones, in
	// the order the documentation and the error messages list them.
	keys []Key
	// needs says, for docs/rules.md, what a rule must have beyond its
	// required keys; check refuses a rule without it.
	needs string

	// phase is when a rule of the kind runs.
	phase func(r *Rule) phase
	// card reports whether a rule applies to card holders only; nil: always.
	// cardDoc says the same in words, when card is set.
	card    func(r *Rule) bool
	cardDoc string
	// noGroup: the kind's rules cannot be in an exclusive group (they do not
	// compete on a value).
	noGroup bool
	// onlyOne, when set, limits a ruleset to one rule of the kind and says why.
	onlyOne string
	// onePer, when it returns a name, is the class of rules of which only the
	// first that may apply does, per basket ("redeem", "round-up"); the later
	// ones are dropped as superseded, and warned about when the first always
	// applies.
	onePer func(r *Rule) string
	// check reports what is wrong with a rule of the kind beyond the checks
	// every rule gets (keys of other kinds, conditions, groups, missing
	// required strings).
	check func(k *ruleCheck)

	// targets are the SKUs and categories a rule acts on, for the index that
	// lets a basket skip rules none of its lines can touch; nil: every line.
	targets func(r *Rule) (skus, categories []string)
	// eligible checks the kind's own conditions for the basket; nil: none.
	eligible func(e *engine, c *crule) (dropCode, string)
	// discount puts in e.want the shares of the rule's discount on what is
	// left of each line, before limits, and returns their sum. It must not
	// change the engine's state: it also weighs rules of a group.
	discount func(e *engine, c *crule) (money.Amount, error)
	// alsoEarns reports whether a rule that runs with the discounts also
	// earns points later (a partner's points, a birthday bonus).
	alsoEarns func(r *Rule) bool
	// pay takes payment with points (phase redeem).
	pay func(e *engine, c *crule, w wallet) (pos.Applied, []catalogSkip)
	// earn computes the points a rule gives, with their weights per line in
	// e.weights; like discount, it must not change the engine's state.
	earn func(e *engine, c *crule) (int64, error)
	// after runs a rule of the last phase, on the final total.
	after func(e *engine, c *crule, total money.Amount) error

	// reason explains the rule's discount, and earnReason its points, in the
	// words the till shows; both are worked out once, when the ruleset is
	// compiled. liveReason and liveEarnReason, when set, are used instead
	// when the words depend on the basket.
	reason         func(cur money.Currency, r *Rule) string
	earnReason     func(cur money.Currency, r *Rule) string
	liveReason     func(e *engine, c *crule) string
	liveEarnReason func(e *engine, c *crule) string
}

// kindTable is the one table of rule kinds, in the order docs/rules.md
// describes them. Adding a kind is one entry here, its evaluator and its
// tests; docs/rules.md's section for it is generated from the entry
// (TestRulesDoc).
var kindTable = []kindSpec{
	{
		kind:  KindCardPercent,
		title: "a fixed discount for any card holder",
		keys: []Key{
			keyPercent.required(`write e.g. percent = "5%"`).doc("the discount on every line the rule reaches"),
		},
		phase:    in(phaseDiscount),
		check:    func(k *ruleCheck) { checkPercent(k.bad, "percent", k.r.Percent) },
		discount: (*engine).wantPercent,
		reason: func(_ money.Currency, r *Rule) string {
			if r.Name != "" {
				return named(r, "", "скидка "+formatPercent(r.Percent))
			}
			return "Скидка " + formatPercent(r.Percent) + " по клубной карте"
		},
	},
	{
		kind:  KindTiers,
		title: "cumulative discount by lifetime spend, and privileges",
		keys: []Key{{
			Name: "tier", Type: ValueTables, Required: "add [[rule.tier]] tables with name, from and percent",
			Doc: "the tiers, from the lowest spend up; a card is in the highest whose `from` its lifetime spend reaches",
			Fields: []Key{
				{Name: "name", Type: ValueString, Required: "the till shows it", Doc: "what the till shows"},
				{Name: "from", Type: ValueAmount, Required: `write an amount in major units, e.g. from = "100.00"`, Doc: "the lifetime spend at which the tier starts, inclusive"},
				{Name: "percent", Type: ValuePercent, Required: `write e.g. percent = "5%"`, Doc: "the tier's discount; 0 with a `message` or `flags`: privileges only"},
				{Name: "message", Type: ValueString, Doc: "a privilege the till shows to the tier's card holders"},
				{Name: "flags", Type: ValueStrings, Example: `["free_delivery"]`, Doc: "privileges the till acts on, copied into the quote's `Flags`"},
			},
			field: func(r *Rule) any { return &r.Tiers },
		}},
		phase:    in(phaseDiscount),
		onlyOne:  "so a card is in one tier",
		check:    func(k *ruleCheck) { checkTiers(k.cur, k.r, k.bad, k.warn) },
		eligible: (*engine).inTier,
		discount: (*engine).wantTier,
		liveReason: func(e *engine, c *crule) string {
			t, _ := c.r.tierFor(e.acct.LifetimeSpend)
			return e.text(appendTierReason(e.textBuf[:0], e.cur, t, e.acct.LifetimeSpend))
		},
	},
	{
		kind:  KindPoints,
		title: "points per amount paid, with multipliers",
		keys: []Key{
			keyPoints.required("how many points per `per` spent").doc("points earned for every full `per` paid"),
			keyPer.required(`write an amount in major units, e.g. per = "100.00"`).doc("the spend that earns `points`"),
			{
				Name: "multiplier", Type: ValueTables,
				Doc: "points multiplied on some lines; a SKU's multiplier wins over its category's",
				Fields: []Key{
					{Name: "sku", Type: ValueString, Doc: "the SKU it multiplies"},
					{Name: "category", Type: ValueString, Doc: "or the category"},
					{Name: "times", Type: ValueMultiplier, Required: `write e.g. times = 2 or times = "1.5"`, Doc: "the multiplier, at most ×10"},
				},
				field: func(r *Rule) any { return &r.Multipliers },
			},
			{
				Name: "expire_months", Type: ValueInt,
				Doc:   "the points a sale earns (from every rule: they are one lot) expire this many months after it: they are gone from the start of that day of the month, on the till's clock (the month's last day when it is shorter); 0: they do not expire by months",
				field: func(r *Rule) any { return &r.ExpireMonths },
			},
			{
				Name: "expire_period", Type: ValueString, Example: `"year"`,
				Doc:   "`month`, `quarter` or `year`: the points expire at the end of that period, the one the sale is in or, with `expire_months`, the one `expire_months` after it; every points rule that sets either key sets both the same",
				field: func(r *Rule) any { return &r.ExpirePeriod },
			},
		},
		phase: in(phaseEarn),
		check: func(k *ruleCheck) {
			checkPointsPer(k.cur, k.bad, k.r.Points, k.r.Per)
			checkMultipliers(k.r, k.bad, k.warn)
			checkExpiry(k.r, k.bad)
		},
		earn:           (*engine).earnPer,
		earnReason:     func(cur money.Currency, r *Rule) string { return prefixName(r, pointsReason(cur, r)) },
		liveEarnReason: (*engine).multipliedReason,
	},
	{
		kind:  KindPercentOff,
		title: "a promotion on SKUs or categories",
		keys: []Key{
			keyPercent.required(`write e.g. percent = "20%"`).doc("the discount on the lines it targets"),
			keySKUs, keyCategories, keyCardOnly,
		},
		phase: in(phaseDiscount), card: cardOnly, cardDoc: cardOnlyDoc,
		check: func(k *ruleCheck) {
			checkPercent(k.bad, "percent", k.r.Percent)
			checkTargets(k.r, k.bad, k.warn)
		},
		targets:  promotionTargets,
		discount: (*engine).wantPercent,
		reason:   percentUnder("Акция"),
	},
	{
		kind:  KindAmountOff,
		title: "an amount off, per basket or per unit",
		keys: []Key{
			{Name: "amount", Type: ValueAmount, Required: `write an amount in major units, e.g. amount = "50.00"`,
				Doc: "the amount off, once per basket, split over the lines it reaches", field: func(r *Rule) any { return &r.Amount }},
			{Name: "per_unit", Type: ValueBool, Doc: "take `amount` off every unit instead", field: func(r *Rule) any { return &r.PerUnit }},
			keySKUs, keyCategories, keyCardOnly,
		},
		phase: in(phaseDiscount), card: cardOnly, cardDoc: cardOnlyDoc,
		check: func(k *ruleCheck) {
			if k.r.Amount <= 0 || k.r.Amount > pos.MaxUnitPrice {
				k.bad("amount", "must be more than 0 and at most %s, got %s", k.cur.Format(pos.MaxUnitPrice), k.cur.Format(k.r.Amount))
			}
			checkTargets(k.r, k.bad, k.warn)
		},
		targets:  promotionTargets,
		discount: (*engine).wantAmount,
		reason: func(cur money.Currency, r *Rule) string {
			if r.PerUnit {
				return named(r, "Акция", "скидка "+formatMoney(cur, r.Amount)+" за штуку")
			}
			return named(r, "Акция", "скидка "+formatMoney(cur, r.Amount))
		},
	},
	{
		kind:  KindBuyGet,
		title: "buy N, get M",
		keys: []Key{
			{Name: "buy", Type: ValueInt, Required: "how many units the customer pays for, e.g. buy = 2",
				Doc: "units paid for", field: func(r *Rule) any { return &r.Buy }},
			{Name: "get", Type: ValueInt, Required: "how many units come free, e.g. get = 1",
				Doc: "units free of every `buy + get`, the cheapest", field: func(r *Rule) any { return &r.Get }},
			keyPercent.zero("leave it out and the free units are free").doc("the discount on the free units instead of 100 %"),
			keySKUs, keyCategories, keyCardOnly,
		},
		phase: in(phaseDiscount), card: cardOnly, cardDoc: cardOnlyDoc,
		check: func(k *ruleCheck) {
			r := k.r
			if r.Buy < 1 || r.Buy > maxBuyGet {
				k.bad("buy", "must be between 1 and %d, got %d", maxBuyGet, r.Buy)
			}
			if r.Get < 1 || r.Get > maxBuyGet {
				k.bad("get", "must be between 1 and %d, got %d", maxBuyGet, r.Get)
			}
			if r.Percent != 0 {
				checkPercent(k.bad, "percent", r.Percent)
			}
			checkTargets(r, k.bad, k.warn)
		},
		targets:  promotionTargets,
		discount: (*engine).buyGet,
		reason: func(_ money.Currency, r *Rule) string {
			title := "Акция " + intString(r.Buy) + "+" + intString(r.Get)
			if r.Percent == 0 || r.Percent == money.Whole {
				return named(r, title, "самый дешёвый товар из каждых "+intString(r.Buy+r.Get)+" в подарок")
			}
			return named(r, title, "скидка "+formatPercent(r.Percent)+" на самый дешёвый товар из каждых "+intString(r.Buy+r.Get))
		},
	},
	{
		kind:  KindGift,
		title: "a gift above a spend",
		keys: []Key{
			{Name: "gift_sku", Type: ValueString, Required: "the SKU the cashier hands over",
				Doc: "the SKU the cashier hands over", field: func(r *Rule) any { return &r.GiftSKU }},
			{Name: "gift_name", Type: ValueString, Doc: "what the till calls it", field: func(r *Rule) any { return &r.GiftName }},
			{Name: "gift_qty", Type: ValueInt, Doc: "how many units, default 1", field: func(r *Rule) any { return &r.GiftQty }},
			keyCardOnly,
		},
		phase: in(phaseDiscount), card: cardOnly, cardDoc: cardOnlyDoc,
		check: func(k *ruleCheck) {
			if k.r.GiftQty < 0 || k.r.GiftQty > pos.MaxQty {
				k.bad("gift_qty", "must be between 1 and %d, got %d", pos.MaxQty, k.r.GiftQty)
			}
			if k.r.MinBasket == 0 {
				k.warn("min_basket", "not set: every basket gets the gift")
			}
		},
		discount: (*engine).wantGift,
		reason: func(cur money.Currency, r *Rule) string {
			return named(r, "Подарок", giftName(r)+" при покупке от "+formatMoney(cur, r.MinBasket))
		},
	},
	{
		kind:  KindRedeem,
		title: "paying with points",
		keys: []Key{
			{Name: "point_value", Type: ValueAmount, Required: `what one point pays for, e.g. point_value = "1.00"`,
				Doc: "the money one point pays for", field: func(r *Rule) any { return &r.PointValue }},
			{Name: "max_share", Type: ValuePercent, Zero: "leave it out to let points pay the whole basket",
				Doc: "the most of the basket points may pay, default all of it", field: func(r *Rule) any { return &r.MaxShare }},
			keyMinBalance,
		},
		phase:   in(phaseRedeem),
		noGroup: true,
		onePer:  func(*Rule) string { return "redeem" },
		check: func(k *ruleCheck) {
			if k.r.PointValue <= 0 || k.r.PointValue > pos.MaxUnitPrice {
				k.bad("point_value", "must be more than 0 and at most %s, got %s", k.cur.Format(pos.MaxUnitPrice), k.cur.Format(k.r.PointValue))
			}
			if k.r.MaxShare != 0 {
				checkPercent(k.bad, "max_share", k.r.MaxShare)
			}
			checkCount(k.bad, "min_balance", k.r.MinBalance, 0)
		},
		pay: (*engine).redeem,
	},
	{
		kind:  KindCatalog,
		title: "the bonus catalog",
		keys: []Key{
			{
				Name: "item", Type: ValueTables, Required: "add [[rule.item]] tables with sku and points",
				Doc: "the SKUs a card holder may take for points instead of money",
				Fields: []Key{
					{Name: "sku", Type: ValueString, Required: "the SKU a card holder may take for points", Doc: "the SKU"},
					{Name: "points", Type: ValueInt, Required: "the points one unit costs", Doc: "the points one unit costs"},
					{Name: "name", Type: ValueString, Doc: "what the till calls it"},
				},
				field: func(r *Rule) any { return &r.Items },
			},
			keyMinBalance,
		},
		phase:   in(phaseRedeem),
		noGroup: true,
		check: func(k *ruleCheck) {
			checkCount(k.bad, "min_balance", k.r.MinBalance, 0)
			checkItems(k.r, k.bad)
		},
		targets: func(r *Rule) (skus, _ []string) {
			for _, it := range r.Items {
				skus = append(skus, it.SKU)
			}
			return skus, nil
		},
		pay: (*engine).catalog,
	},
	{
		kind:  KindPartner,
		title: "partner, alliance and club cards",
		keys: []Key{
			{Name: "partner", Type: ValueString, Required: "the id of the partner program",
				Doc: "the id of the partner program", field: func(r *Rule) any { return &r.Partner }},
			{Name: "prefixes", Type: ValuePrefixes, Required: `list the partner's card-number prefixes, e.g. ["2771", "4000-4099"]`, Example: `["2771", "4000-4099"]`,
				Doc: "the partner's cards: numbers whose first digits, as a number, lie in a range (`[\"2771\", \"4276-4279\"]`)", field: func(r *Rule) any { return &r.Prefixes }},
			keyPercent.zero("leave it out for no discount").doc("the partner's discount"),
			keyPoints.doc("partner points for every full `per` paid, owed by the partner"),
			keyPer.doc("the spend that earns `points`"),
		},
		needs: "a `percent`, or `points` and `per`, or both",
		phase: withPercent(phaseEarn),
		check: func(k *ruleCheck) {
			r := k.r
			checkPrefixes(r, k.bad)
			if r.Percent == 0 && r.Points == 0 && r.Per == 0 {
				k.bad("percent", "a partner rule gives a percent, points per amount, or both; it has neither")
			}
			if r.Percent != 0 {
				checkPercent(k.bad, "percent", r.Percent)
			}
			if r.Points != 0 || r.Per != 0 {
				checkPointsPer(k.cur, k.bad, r.Points, r.Per)
			}
		},
		eligible:  (*engine).partnerCard,
		discount:  (*engine).wantPercent,
		alsoEarns: func(r *Rule) bool { return r.Points > 0 },
		earn:      (*engine).earnPer,
		reason: func(cur money.Currency, r *Rule) string {
			return percentUnder("Карта партнёра «"+r.Partner+"»")(cur, r)
		},
		earnReason: func(cur money.Currency, r *Rule) string {
			if r.Points == 0 {
				return ""
			}
			return named(r, "Карта партнёра «"+r.Partner+"»", pointsReason(cur, r))
		},
	},
	{
		kind:  KindBirthday,
		title: "around the customer's birthday",
		keys: []Key{
			{Name: "days_before", Type: ValueDays, Doc: "how many days before the birthday the window opens", field: func(r *Rule) any { return &r.DaysBefore }},
			{Name: "days_after", Type: ValueDays, Doc: "how many days after it the window closes", field: func(r *Rule) any { return &r.DaysAfter }},
			keyPercent.zero("leave it out for no discount").doc("a discount inside the window"),
			keyBonusPoints.doc("points given once per birthday"),
			keyText.doc("the greeting inside the window, ahead of any greeting rule"),
		},
		needs: "at least one of `percent`, `bonus_points` and `text`",
		phase: withPercent(phaseEarn),
		check: func(k *ruleCheck) {
			r := k.r
			for _, f := range []struct {
				name string
				v    int
			}{{"days_before", r.DaysBefore}, {"days_after", r.DaysAfter}} {
				if f.v < 0 || f.v > maxDays {
					k.bad(f.name, "must be between 0 and %d days, got %d", maxDays, f.v)
				}
			}
			if r.Percent == 0 && r.BonusPoints == 0 && len(r.Text) == 0 {
				k.bad("percent", "a birthday rule gives a percent, bonus_points or a greeting text; it has none")
			}
			if r.Percent != 0 {
				checkPercent(k.bad, "percent", r.Percent)
			}
			if r.BonusPoints != 0 {
				checkCount(k.bad, "bonus_points", r.BonusPoints, 1)
			}
			checkTexts(k.bad, "text", r.Text)
		},
		eligible:   (*engine).inBirthday,
		discount:   (*engine).wantPercent,
		alsoEarns:  func(r *Rule) bool { return r.BonusPoints > 0 || len(r.Text) > 0 },
		earn:       (*engine).earnBirthday,
		reason:     percentUnder("С днём рождения"),
		earnReason: bonusUnder("С днём рождения"),
	},
	{
		kind:  KindGreeting,
		title: "the customer by name",
		keys: []Key{
			keyText.required(`write text = { ru = "Здравствуйте, {name} {patronymic}!" }`).doc("the greeting by language"),
			{Name: "nameless", Type: ValueTexts, Doc: "the greeting when the customer's name is unknown", field: func(r *Rule) any { return &r.Nameless }},
			{Name: "lang", Type: ValueString, Doc: "the language used when the customer's is not in `text`", field: func(r *Rule) any { return &r.Lang }},
		},
		phase:   in(phaseAfter),
		noGroup: true,
		onePer:  func(*Rule) string { return "greeting" },
		check: func(k *ruleCheck) {
			r := k.r
			checkTexts(k.bad, "text", r.Text)
			checkTexts(k.bad, "nameless", r.Nameless)
			if r.Lang != "" {
				if !validLang(r.Lang) {
					k.bad("lang", "want a language code of 2 or 3 lowercase letters such as \"ru\", got %q", r.Lang)
				} else if _, ok := r.Text[r.Lang]; !ok && len(r.Text) > 0 {
					k.bad("lang", "%q has no text; add text.%s", r.Lang, r.Lang)
				}
			}
		},
		after: (*engine).greeting,
	},
	{
		kind:  KindCharity,
		title: "round-ups and points for a cause",
		keys: []Key{
			{Name: "cause", Type: ValueString, Required: "the cause the customer gives to, which the till shows",
				Doc: "the cause, as the till shows it", field: func(r *Rule) any { return &r.Cause }},
			{Name: "round_to", Type: ValueAmount, Doc: "round the total up to a multiple of this, the difference to the cause", field: func(r *Rule) any { return &r.RoundTo }},
			{Name: "points_share", Type: ValuePercent, Zero: "leave it out",
				Doc: "or give this share of the points earned to the cause", field: func(r *Rule) any { return &r.PointsShare }},
			{Name: "always", Type: ValueBool, Doc: "without the customer's consent (`Basket.Donate`)", field: func(r *Rule) any { return &r.Always }},
		},
		needs:   "`round_to` or `points_share`, not both (write two rules for both)",
		phase:   in(phaseAfter),
		card:    func(r *Rule) bool { return r.PointsShare > 0 },
		cardDoc: "anyone for a round-up; card holders for `points_share`",
		noGroup: true,
		onePer: func(r *Rule) string {
			if r.RoundTo > 0 {
				return "round-up"
			}
			return ""
		},
		check: func(k *ruleCheck) {
			r := k.r
			switch {
			case r.RoundTo == 0 && r.PointsShare == 0:
				k.bad("round_to", "a charity rule rounds the total up (round_to) or gives a share of the points (points_share); it has neither")
			case r.RoundTo != 0 && r.PointsShare != 0:
				k.bad("points_share", "set round_to or points_share, not both; write two rules for both")
			case r.RoundTo != 0:
				if r.RoundTo < 0 || r.RoundTo > pos.MaxUnitPrice {
					k.bad("round_to", "must be more than 0 and at most %s, got %s", k.cur.Format(pos.MaxUnitPrice), k.cur.Format(r.RoundTo))
				}
			default:
				checkPercent(k.bad, "points_share", r.PointsShare)
			}
		},
		eligible: (*engine).agreed,
		after:    (*engine).charity,
	},
	{
		kind:  KindRaffle,
		title: "tickets and a deterministic draw",
		keys: []Key{
			{Name: "tickets", Type: ValueInt, Default: 1, Doc: "tickets per basket, or per full `per` paid", field: func(r *Rule) any { return &r.Tickets }},
			keyPer.doc("the spend per `tickets`; 0: per basket"),
			{Name: "chance", Type: ValuePercent, Doc: "the chance of each ticket winning", field: func(r *Rule) any { return &r.Chance }},
			{Name: "prize", Type: ValueString, Doc: "what a winning ticket wins", field: func(r *Rule) any { return &r.Prize }},
		},
		phase:   in(phaseAfter),
		noGroup: true,
		check: func(k *ruleCheck) {
			r := k.r
			checkCount(k.bad, "tickets", r.Tickets, 1)
			if r.Tickets > maxTickets {
				k.bad("tickets", "at most %d tickets per basket or per step, got %d", maxTickets, r.Tickets)
			}
			if r.Per < 0 {
				k.bad("per", "must be 0 (tickets per basket) or more, got %s", k.cur.Format(r.Per))
			}
			if r.Chance < 0 || r.Chance > money.Whole {
				k.bad("chance", "must be between 0 %% and 100 %%, got %s", r.Chance)
			}
			if r.Chance > 0 && strings.TrimSpace(r.Prize) == "" {
				k.bad("prize", "missing; a ticket that wins, wins something")
			}
		},
		after: (*engine).raffle,
	},
	{
		kind:  KindWelcome,
		title: "a welcome offer on a card's first purchase",
		keys: []Key{
			keyPercent.zero("leave it out for no discount").doc("a discount on the first purchase"),
			keyBonusPoints.doc("points given with the first purchase"),
		},
		needs: "a `percent`, `bonus_points`, or both",
		phase: withPercent(phaseEarn),
		check: func(k *ruleCheck) {
			r := k.r
			if r.Percent == 0 && r.BonusPoints == 0 {
				k.bad("percent", "a welcome rule gives a percent, bonus_points or both; it has neither")
			}
			if r.Percent != 0 {
				checkPercent(k.bad, "percent", r.Percent)
			}
			if r.BonusPoints != 0 {
				checkCount(k.bad, "bonus_points", r.BonusPoints, 1)
			}
		},
		eligible:   (*engine).firstPurchase,
		discount:   (*engine).wantPercent,
		alsoEarns:  func(r *Rule) bool { return r.BonusPoints > 0 },
		earn:       (*engine).earnBonus,
		reason:     percentUnder("Первая покупка по карте"),
		earnReason: bonusUnder("Первая покупка по карте"),
	},
	{
		kind:  KindNPS,
		title: "the NPS question after a sale",
		keys: []Key{
			{Name: "every_days", Type: ValueInt, Default: 90,
				Doc: "ask a card's holder at most once in this many days (1 to 3 660)", field: func(r *Rule) any { return &r.EveryDays }},
		},
		phase:   in(phaseAfter),
		card:    func(*Rule) bool { return true },
		cardDoc: "card holders (the till asks each card at most once per `every_days`)",
		noGroup: true,
		onePer:  func(*Rule) string { return "nps" },
		check: func(k *ruleCheck) {
			if d := k.r.EveryDays; d < 1 || d > maxNPSEveryDays {
				k.bad("every_days", "must be between 1 and %d, got %d", maxNPSEveryDays, d)
			}
		},
		after: (*engine).nps,
	},
}

// Keys shared by several kinds: the same field of Rule, with the meaning
// and requirement each kind gives it.
var (
	keyPercent     = Key{Name: "percent", Type: ValuePercent, field: func(r *Rule) any { return &r.Percent }}
	keyPoints      = Key{Name: "points", Type: ValueInt, field: func(r *Rule) any { return &r.Points }}
	keyPer         = Key{Name: "per", Type: ValueAmount, field: func(r *Rule) any { return &r.Per }}
	keyBonusPoints = Key{Name: "bonus_points", Type: ValueInt, field: func(r *Rule) any { return &r.BonusPoints }}
	keyText        = Key{Name: "text", Type: ValueTexts, field: func(r *Rule) any { return &r.Text }}
	keyMinBalance  = Key{Name: "min_balance", Type: ValueInt, Doc: "the least balance a card needs to pay with points at all",
		field: func(r *Rule) any { return &r.MinBalance }}
	keySKUs = Key{Name: "skus", Type: ValueStrings, Example: `["4600000000017"]`,
		Doc: "the SKUs it targets", field: func(r *Rule) any { return &r.SKUs }}
	keyCategories = Key{Name: "categories", Type: ValueStrings, Example: `["coffee"]`,
		Doc: "the categories it targets; with `skus`, a line matches if either lists it; both empty: every line", field: func(r *Rule) any { return &r.Categories }}
	keyCardOnly = Key{Name: "card_only", Type: ValueBool, Doc: "card holders only", field: func(r *Rule) any { return &r.CardOnly }}
)

// percentUnder is the reason of a kind's discount: its percentage under the
// rule's name, or title.
func percentUnder(title string) func(money.Currency, *Rule) string {
	return func(_ money.Currency, r *Rule) string {
		return named(r, title, "скидка "+formatPercent(r.Percent))
	}
}

// bonusUnder is the reason of a kind's bonus points: given, under the
// rule's name, or title; none without a bonus.
func bonusUnder(title string) func(money.Currency, *Rule) string {
	return func(_ money.Currency, r *Rule) string {
		if r.BonusPoints == 0 {
			return ""
		}
		return named(r, title, pointsCount(r.BonusPoints)+" в подарок")
	}
}

const cardOnlyDoc = "anyone; card holders only with `card_only = true`"

func cardOnly(r *Rule) bool { return r.CardOnly }

func promotionTargets(r *Rule) (skus, categories []string) { return r.SKUs, r.Categories }

// in is the phase of a kind whose rules always run in p.
func in(p phase) func(*Rule) phase { return func(*Rule) phase { return p } }

// withPercent is the phase of a kind whose percentage is optional: with one,
// its rules run with the discounts (and give the rest later); without, in p.
func withPercent(p phase) func(*Rule) phase {
	return func(r *Rule) phase {
		if r.Percent > 0 {
			return phaseDiscount
		}
		return p
	}
}

// ruleCheck is what a kind's check sees: the rule, the ruleset's currency,
// and where to report errors and warnings.
type ruleCheck struct {
	r         *Rule
	cur       money.Currency
	bad, warn reporter
}

// ValueType is the type of a rules-file key's value.
type ValueType int

// The types of values; docs/rules.md, "Values", lists the forms each accepts.
const (
	ValueString     ValueType = iota + 1 // a string
	ValueBool                            // true or false
	ValueInt                             // a whole number
	ValueDays                            // a whole number of days, 0 to 31
	ValuePercent                         // a percentage, at most 2 decimals
	ValueAmount                          // an amount in major units of the ruleset's currency
	ValueMultiplier                      // a multiplier such as 2 or "1.5"
	ValueStrings                         // a list of strings
	ValueTexts                           // texts by language: { ru = "…", en = "…" }
	ValuePrefixes                        // a list of card-number prefixes and ranges: ["2771", "4000-4099"]
	ValueTables                          // a list of tables, with the keys in Key.Fields
)

var valueNames = [...]string{
	ValueString: "string", ValueBool: "boolean", ValueInt: "integer", ValueDays: "days, 0–31",
	ValuePercent: "percentage", ValueAmount: "amount", ValueMultiplier: "multiplier",
	ValueStrings: "list of strings", ValueTexts: "texts by language", ValuePrefixes: "list of prefixes",
	ValueTables: "tables",
}

func (t ValueType) String() string {
	if t > 0 && int(t) < len(valueNames) {
		return valueNames[t]
	}
	return "ValueType(" + intString(int64(t)) + ")"
}

// Key is one rules-file key of a rule kind.
type Key struct {
	Name string
	Type ValueType
	// Required, when the key must be given, is the hint that follows
	// "missing; " in the problem reported when it is not.
	Required string
	// Zero, for an optional percentage whose 0 would mean the same as
	// leaving it out or the opposite, says what to do instead: the rules
	// file refuses an explicit 0 as ambiguous.
	Zero string
	// Default is what the rules file reads for a ValueInt key left out.
	Default int64
	// Example is a value shown in an error about the key's type.
	Example string
	// Doc says what the key means, for docs/rules.md.
	Doc string
	// Fields are the keys of each table of a ValueTables key. They are
	// decoded by the rules file as their type needs; Value is nil for them.
	Fields []Key

	field func(r *Rule) any
}

// Value returns a pointer to the field of r that holds the key's value:
// *string, *bool, *int64, *int (ValueDays), *money.BP, *money.Amount,
// *[]string, *map[string]string, *[]PrefixRange, *[]Tier, *[]Multiplier or
// *[]CatalogItem. It is nil for a key of Fields.
func (k Key) Value(r *Rule) any {
	if k.field == nil {
		return nil
	}
	return k.field(r)
}

func (k Key) required(hint string) Key { k.Required = hint; return k }
func (k Key) zero(instead string) Key  { k.Zero = instead; return k }
func (k Key) doc(s string) Key         { k.Doc = s; return k }

// set reports whether the key's field of r is not its zero value.
func (k Key) set(r *Rule) bool {
	switch p := k.field(r).(type) {
	case *string:
		return *p != ""
	case *bool:
		return *p
	case *int64:
		return *p != 0
	case *int:
		return *p != 0
	case *money.BP:
		return *p != 0
	case *money.Amount:
		return *p != 0
	case *[]string:
		return len(*p) > 0
	case *map[string]string:
		return len(*p) > 0
	case *[]PrefixRange:
		return len(*p) > 0
	case *[]Tier:
		return len(*p) > 0
	case *[]Multiplier:
		return len(*p) > 0
	case *[]CatalogItem:
		return len(*p) > 0
	}
	panic("discount: key " + k.Name + ": no zero test for its field")
}

// empty reports whether the key's field of r holds nothing: an empty or
// blank string, an empty list or table of texts. Numbers, booleans and
// tables are never empty: their checks say what is wrong with a zero.
func (k Key) empty(r *Rule) bool {
	switch p := k.field(r).(type) {
	case *string:
		return strings.TrimSpace(*p) == ""
	case *[]string, *map[string]string, *[]PrefixRange:
		return !k.set(r)
	}
	return false
}

var (
	specs map[Kind]*kindSpec
	// allKeys are the keys of every kind, each once, in table order.
	allKeys []Key
)

func init() {
	specs = make(map[Kind]*kindSpec, len(kindTable))
	for i := range kindTable {
		s := &kindTable[i]
		specs[s.kind] = s
		Kinds = append(Kinds, s.kind)
		for _, k := range s.keys {
			if !slices.ContainsFunc(allKeys, func(a Key) bool { return a.Name == k.Name }) {
				allKeys = append(allKeys, k)
			}
		}
	}
}

// commonKeys are the rules-file keys every kind accepts.
var commonKeys = []string{
	"id", "kind", "name", "priority", "exclude_categories", "group",
	"stores", "regions", "terminals", "starts", "ends", "days", "hours", "min_basket",
}

// CommonKeys returns the rules-file keys every kind of rule accepts.
func CommonKeys() []string { return slices.Clone(commonKeys) }

// Keys returns the rules-file keys of this kind besides the common ones, or
// nil for an unknown kind.
func (k Kind) Keys() []Key {
	if s := specs[k]; s != nil {
		return slices.Clone(s.keys)
	}
	return nil
}

// Known reports whether k is a kind this build applies.
func (k Kind) Known() bool { _, ok := specs[k]; return ok }

// KindsWithKey lists the kinds that have key among their own keys.
func KindsWithKey(key string) []Kind {
	var out []Kind
	for _, s := range kindTable {
		if s.has(key) {
			out = append(out, s.kind)
		}
	}
	return out
}

func (s *kindSpec) has(key string) bool {
	return slices.ContainsFunc(s.keys, func(k Key) bool { return k.Name == key })
}

// phase is when a rule runs: every discount first, then payment with points,
// then earning on what is paid, then what depends on the final total.
type phase int

const (
	phaseDiscount phase = iota
	phaseRedeem
	phaseEarn
	phaseAfter
)

// phase of a valid rule.
func (r *Rule) phase() phase { return specs[r.Kind].phase(r) }

// needsCard reports whether the rule applies to card holders only.
func (r *Rule) needsCard() bool {
	s := specs[r.Kind]
	return s.card == nil || s.card(r)
}

// groupable reports whether the kind may be in an exclusive group.
func (k Kind) groupable() bool { return !specs[k].noGroup }

// foreignKeys lists the keys of other kinds this rule sets, to refuse them.
func (r *Rule) foreignKeys(s *kindSpec) []string {
	var out []string
	for _, k := range allKeys {
		if !s.has(k.Name) && k.set(r) {
			out = append(out, k.Name)
		}
	}
	return out
}
