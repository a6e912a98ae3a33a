package discount

import "slices"

// Kind names what a rule does.
type Kind string

// The rule kinds; docs/rules.md describes each with a worked example.
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
)

// Kinds lists every kind, in the order the documentation describes them.
var Kinds = []Kind{
	KindCardPercent, KindTiers, KindPoints, KindPercentOff, KindAmountOff, KindBuyGet,
	KindGift, KindRedeem, KindCatalog, KindPartner, KindBirthday, KindGreeting,
	KindCharity, KindRaffle,
}

// commonKeys are the rules-file keys every kind accepts.
var commonKeys = []string{
	"id", "kind", "name", "priority", "exclude_categories", "group",
	"stores", "regions", "terminals", "starts", "ends", "days", "hours", "min_basket",
}

var kindKeys = map[Kind][]string{
	KindCardPercent: {"percent"},
	KindTiers:       {"tier"},
	KindPoints:      {"points", "per", "multiplier"},
	KindPercentOff:  {"percent", "skus", "categories", "card_only"},
	KindAmountOff:   {"amount", "per_unit", "skus", "categories", "card_only"},
	KindBuyGet:      {"buy", "get", "percent", "skus", "categories", "card_only"},
	KindGift:        {"gift_sku", "gift_name", "gift_qty", "card_only"},
	KindRedeem:      {"point_value", "max_share", "min_balance"},
	KindCatalog:     {"item", "min_balance"},
	KindPartner:     {"partner", "prefixes", "percent", "points", "per"},
	KindBirthday:    {"days_before", "days_after", "percent", "bonus_points", "text"},
	KindGreeting:    {"text", "nameless", "lang"},
	KindCharity:     {"cause", "round_to", "points_share", "always"},
	KindRaffle:      {"tickets", "per", "chance", "prize"},
}

// CommonKeys returns the rules-file keys every kind of rule accepts.
func CommonKeys() []string { return slices.Clone(commonKeys) }

// Keys returns the rules-file keys of this kind besides the common ones, or
// nil for an unknown kind.
func (k Kind) Keys() []string { return slices.Clone(kindKeys[k]) }

// Known reports whether k is a kind this build applies.
func (k Kind) Known() bool { _, ok := kindKeys[k]; return ok }

// KindsWithKey lists the kinds that have key among their own keys.
func KindsWithKey(key string) []Kind {
	var out []Kind
	for _, k := range Kinds {
		if slices.Contains(kindKeys[k], key) {
			out = append(out, k)
		}
	}
	return out
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

// phase of a valid rule. Partner and birthday rules that give a discount run
// with the discounts (and give their points later); without one they run
// with the points rules.
func (r *Rule) phase() phase {
	switch r.Kind {
	case KindCardPercent, KindTiers, KindPercentOff, KindAmountOff, KindBuyGet, KindGift:
		return phaseDiscount
	case KindPartner, KindBirthday:
		if r.Percent > 0 {
			return phaseDiscount
		}
		return phaseEarn
	case KindRedeem, KindCatalog:
		return phaseRedeem
	case KindPoints:
		return phaseEarn
	default:
		return phaseAfter
	}
}

// needsCard reports whether the rule applies to card holders only.
func (r *Rule) needsCard() bool {
	switch r.Kind {
	case KindPercentOff, KindAmountOff, KindBuyGet, KindGift:
		return r.CardOnly
	case KindCharity:
		return r.PointsShare > 0
	}
	return true
}

// groupable reports whether the kind may be in an exclusive group.
func (k Kind) groupable() bool {
	switch k {
	case KindRedeem, KindCatalog, KindGreeting, KindCharity, KindRaffle:
		return false
	}
	return true
}

// setKeys lists the kind-specific keys this rule sets, to refuse the ones
// its kind does not use.
func (r *Rule) setKeys() []string {
	var out []string
	add := func(key string, set bool) {
		if set {
			out = append(out, key)
		}
	}
	add("skus", len(r.SKUs) > 0)
	add("categories", len(r.Categories) > 0)
	add("card_only", r.CardOnly)
	add("percent", r.Percent != 0)
	add("tier", len(r.Tiers) > 0)
	add("points", r.Points != 0)
	add("per", r.Per != 0)
	add("multiplier", len(r.Multipliers) > 0)
	add("amount", r.Amount != 0)
	add("per_unit", r.PerUnit)
	add("buy", r.Buy != 0)
	add("get", r.Get != 0)
	add("gift_sku", r.GiftSKU != "")
	add("gift_name", r.GiftName != "")
	add("gift_qty", r.GiftQty != 0)
	add("point_value", r.PointValue != 0)
	add("max_share", r.MaxShare != 0)
	add("min_balance", r.MinBalance != 0)
	add("item", len(r.Items) > 0)
	add("partner", r.Partner != "")
	add("prefixes", len(r.Prefixes) > 0)
	add("days_before", r.DaysBefore != 0)
	add("days_after", r.DaysAfter != 0)
	add("bonus_points", r.BonusPoints != 0)
	add("text", len(r.Text) > 0)
	add("nameless", len(r.Nameless) > 0)
	add("lang", r.Lang != "")
	add("cause", r.Cause != "")
	add("round_to", r.RoundTo != 0)
	add("points_share", r.PointsShare != 0)
	add("always", r.Always)
	add("tickets", r.Tickets != 0)
	add("chance", r.Chance != 0)
	add("prize", r.Prize != "")
	return out
}
