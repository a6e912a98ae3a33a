package discount

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tilld/tilld/money"
)

// The till speaks Russian: reasons use Russian number formatting ("12 000,00 ₽",
// "2,5 %") and plural forms. The words live here, apart from the arithmetic.

var symbols = map[string]string{
	"RUB": "₽", "USD": "$", "EUR": "€", "KZT": "₸", "UAH": "₴", "BYN": "Br",
}

// formatMoney writes a as "12 000,00 ₽": thousands grouped by spaces, a decimal
// comma, then the currency sign (or code when it has no common sign).
func formatMoney(c money.Currency, a money.Amount) string {
	s := c.Format(a)
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	b.WriteString(sign)
	for i, d := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(d)
	}
	if frac != "" {
		b.WriteByte(',')
		b.WriteString(frac)
	}
	b.WriteByte(' ')
	if sym, ok := symbols[c.Code]; ok {
		b.WriteString(sym)
	} else {
		b.WriteString(c.Code)
	}
	return b.String()
}

// formatPercent writes basis points as "2,5 %".
func formatPercent(p money.BP) string {
	return strings.Replace(strings.TrimSuffix(p.String(), "%"), ".", ",", 1) + " %"
}

// pointsWord is the Russian plural of "балл" for n.
func pointsWord(n int64) string {
	if n < 0 {
		n = -n
	}
	switch d, dd := n%10, n%100; {
	case d == 1 && dd != 11:
		return "балл"
	case d >= 2 && d <= 4 && (dd < 12 || dd > 14):
		return "балла"
	default:
		return "баллов"
	}
}

func pointsCount(n int64) string { return strconv.FormatInt(n, 10) + " " + pointsWord(n) }

func cardPercentReason(p money.BP) string {
	return "Скидка " + formatPercent(p) + " по клубной карте"
}

func tierReason(c money.Currency, t Tier, spend money.Amount) string {
	return "Накопительная скидка " + formatPercent(t.Percent) + " (" + t.Name + "): сумма покупок " +
		formatMoney(c, spend) + " ≥ " + formatMoney(c, t.From)
}

func pointsReason(c money.Currency, r *Rule) string {
	return pointsCount(r.Points) + " за каждые " + formatMoney(c, r.Per)
}

// named puts the rule's name, or a default title, before a detail.
func named(r *Rule, title, detail string) string {
	if r.Name != "" {
		title = r.Name
	}
	return title + ": " + detail
}

// reason explains a discount rule; the words depend on the basket only for
// tiers, whose reason quotes the card's spend.
func (e *engine) reason(c *crule) string {
	if c.r.Kind == KindTiers {
		t, _ := c.r.tierFor(e.acct.LifetimeSpend)
		return tierReason(e.cur, t, e.acct.LifetimeSpend)
	}
	return c.reason
}

// discountReason is the reason of a discount rule that does not depend on
// the basket, worked out once when the ruleset is compiled.
func discountReason(cur money.Currency, r *Rule) string {
	switch r.Kind {
	case KindCardPercent:
		if r.Name != "" {
			return named(r, "", "скидка "+formatPercent(r.Percent))
		}
		return cardPercentReason(r.Percent)
	case KindPercentOff:
		return named(r, "Акция", "скидка "+formatPercent(r.Percent))
	case KindAmountOff:
		if r.PerUnit {
			return named(r, "Акция", "скидка "+formatMoney(cur, r.Amount)+" за штуку")
		}
		return named(r, "Акция", "скидка "+formatMoney(cur, r.Amount))
	case KindBuyGet:
		title := "Акция " + strconv.FormatInt(r.Buy, 10) + "+" + strconv.FormatInt(r.Get, 10)
		if r.Percent == 0 || r.Percent == money.Whole {
			return named(r, title, "самый дешёвый товар из каждых "+strconv.FormatInt(r.Buy+r.Get, 10)+" в подарок")
		}
		return named(r, title, "скидка "+formatPercent(r.Percent)+" на самый дешёвый товар из каждых "+strconv.FormatInt(r.Buy+r.Get, 10))
	case KindGift:
		return named(r, "Подарок", giftName(r)+" при покупке от "+formatMoney(cur, r.MinBasket))
	case KindPartner:
		return named(r, "Карта партнёра «"+r.Partner+"»", "скидка "+formatPercent(r.Percent))
	case KindBirthday:
		return named(r, "С днём рождения", "скидка "+formatPercent(r.Percent))
	}
	return ""
}

func giftName(r *Rule) string {
	if r.GiftName != "" {
		return r.GiftName
	}
	return r.GiftSKU
}

// earnReason explains points a rule gave; a points rule names the
// multipliers that applied to this basket.
func (e *engine) earnReason(c *crule) string {
	r := c.r
	if r.Kind != KindPoints || len(r.Multipliers) == 0 {
		return c.earnReason
	}
	m := e.multipliersUsed(r)
	if m == "" {
		return c.earnReason
	}
	s := pointsReason(e.cur, r) + " (" + m + ")"
	if r.Name != "" {
		s = r.Name + ": " + s
	}
	return s
}

// pointsRuleReason is the reason of the points a rule gives, without the
// multipliers, worked out once when the ruleset is compiled.
func pointsRuleReason(cur money.Currency, r *Rule) string {
	switch r.Kind {
	case KindPoints:
		if r.Name != "" {
			return r.Name + ": " + pointsReason(cur, r)
		}
		return pointsReason(cur, r)
	case KindPartner:
		if r.Points > 0 {
			return named(r, "Карта партнёра «"+r.Partner+"»", pointsReason(cur, r))
		}
	case KindBirthday:
		if r.BonusPoints > 0 {
			return named(r, "С днём рождения", pointsCount(r.BonusPoints)+" в подарок")
		}
	}
	return ""
}

// multipliersUsed lists the multipliers of r that applied to a line of the
// basket: "×2 coffee, ×1,5 tea".
func (e *engine) multipliersUsed(r *Rule) string {
	if len(r.Multipliers) == 0 {
		return ""
	}
	var parts []string
	for _, m := range r.Multipliers {
		for k := range e.lines {
			l := &e.lines[k]
			if e.left[k] == 0 || r.excludes(l.Category) || multiplier(r, l) != m.Times ||
				!(m.SKU != "" && m.SKU == l.SKU || m.SKU == "" && m.Category == l.Category) {
				continue
			}
			what := m.SKU
			if what == "" {
				what = m.Category
			}
			parts = append(parts, strings.Replace(timesString(m.Times), ".", ",", 1)+" "+what)
			break
		}
	}
	return strings.Join(parts, ", ")
}

func catalogReason(r *Rule, names []string, pts int64) string {
	return named(r, "Каталог бонусов", strings.Join(names, ", ")+" за "+pointsCount(pts))
}

func redeemReason(c money.Currency, r *Rule, pts int64, value money.Amount, why string) string {
	s := named(r, "Оплата баллами", pointsCount(pts)+" = "+formatMoney(c, value))
	if why != "" {
		s += " (" + why + ")"
	}
	return s
}

// limitKind names the limit that cut a discount.
type limitKind int

const (
	limitNone limitKind = iota
	limitFloor
	limitLine
	limitBasket
)

func (e *engine) limitName(k limitKind) string {
	l := &e.rs.Limits
	switch k {
	case limitFloor:
		return "минимальная цена товара"
	case limitLine:
		return "скидка на товар не больше " + formatPercent(l.LineDiscount)
	case limitBasket:
		return "скидка на чек не больше " + formatPercent(l.BasketDiscount)
	}
	return ""
}

// dropCode says why a rule did not apply; its String is stable for programs.
type dropCode int

const (
	dropNone dropCode = iota
	dropNoCard
	dropScope
	dropNotYet
	dropEnded
	dropDay
	dropHours
	dropMinBasket
	dropNoLines
	dropNothing
	dropGroup
	dropCapped
	dropNoTier
	dropNotPartner
	dropNoProfile
	dropNotBirthday
	dropNoRequest
	dropBalance
	dropOffline
	dropSuperseded
	dropOptIn
	dropFree
	dropOnce
)

var dropCodes = [...]string{
	dropNone:        "",
	dropNoCard:      "no_card",
	dropScope:       "scope",
	dropNotYet:      "not_yet",
	dropEnded:       "ended",
	dropDay:         "day",
	dropHours:       "hours",
	dropMinBasket:   "min_basket",
	dropNoLines:     "no_lines",
	dropNothing:     "nothing",
	dropGroup:       "group",
	dropCapped:      "capped",
	dropNoTier:      "no_tier",
	dropNotPartner:  "not_partner",
	dropNoProfile:   "no_profile",
	dropNotBirthday: "not_birthday",
	dropNoRequest:   "no_request",
	dropBalance:     "balance",
	dropOffline:     "offline_limit",
	dropSuperseded:  "superseded",
	dropOptIn:       "opt_in",
	dropFree:        "free",
	dropOnce:        "once",
}

func (c dropCode) String() string { return dropCodes[c] }

// dropReason says in words why rule r did not apply; detail is the winning
// rule for dropGroup and dropSuperseded, the limit for dropCapped.
func (e *engine) dropReason(r *Rule, code dropCode, detail string) string {
	w := &r.Window
	switch code {
	case dropNoCard:
		return "только для владельцев карты"
	case dropScope:
		return "не действует в этом магазине, регионе или на этой кассе"
	case dropNotYet:
		return "ещё не началось: с " + w.Starts.String()
	case dropEnded:
		return "уже закончилось: до " + w.Ends.String()
	case dropDay:
		var days []string
		for _, d := range w.Days {
			days = append(days, dayName(d))
		}
		return "не в этот день недели: только " + strings.Join(days, ", ")
	case dropHours:
		var hs []string
		for _, h := range w.Hours {
			hs = append(hs, h.String())
		}
		return "не в эти часы: только " + strings.Join(hs, ", ")
	case dropMinBasket:
		return "сумма покупки меньше " + formatMoney(e.cur, r.MinBasket)
	case dropNoLines:
		return "в чеке нет товаров, к которым относится правило"
	case dropNothing:
		return "правилу не на что действовать в этом чеке"
	case dropGroup:
		return "группа «" + r.Group + "»: выгоднее правило " + strconv.Quote(detail)
	case dropCapped:
		return "ограничено до нуля: " + detail
	case dropNoTier:
		return "сумма покупок меньше порога первого уровня"
	case dropNotPartner:
		return "карта не относится к партнёру «" + r.Partner + "»"
	case dropNoProfile:
		return "нет данных покупателя (имени или дня рождения)"
	case dropNotBirthday:
		return "не в окне дня рождения"
	case dropNoRequest:
		return "покупатель не просил списать баллы"
	case dropBalance:
		return "недостаточно баллов: " + detail
	case dropOffline:
		return "дневной лимит списания без связи с сервером исчерпан"
	case dropSuperseded:
		return "уже применено правило " + strconv.Quote(detail) + " того же вида"
	case dropOptIn:
		return "покупатель не согласился участвовать"
	case dropFree:
		return "баллы не списаны: " + detail
	case dropOnce:
		return detail
	}
	return ""
}

// text says in words why catalog units were not taken.
func (s catalogSkip) text() string {
	if s.free {
		return fmt.Sprintf("%s × %d: уже бесплатно после скидок", s.name, s.units)
	}
	return fmt.Sprintf("%s × %d: нужно %s, к списанию доступно %s", s.name, s.units, pointsCount(s.units*s.points), pointsCount(s.allow))
}

// catalogSkipped is the note of a catalog rule that took some items and not
// others; "" when it took every one.
func catalogSkipped(skipped []catalogSkip) string {
	if len(skipped) == 0 {
		return ""
	}
	parts := make([]string, len(skipped))
	for i, s := range skipped {
		parts[i] = s.text()
	}
	return "не взято: " + strings.Join(parts, "; ")
}

// catalogDrop is why a catalog rule whose items are in the basket took none:
// too few points for any of them (balance), every one free already (free),
// or every one on an excluded line (nothing).
func catalogDrop(skipped []catalogSkip) (dropCode, string) {
	if len(skipped) == 0 {
		return dropNothing, ""
	}
	code := dropFree
	parts := make([]string, len(skipped))
	for i, s := range skipped {
		parts[i] = s.text()
		if !s.free {
			code = dropBalance
		}
	}
	return code, strings.Join(parts, "; ")
}

// birthdayBonusReason says that the card had its birthday bonus already, and
// when (on the till's calendar).
func birthdayBonusReason(r *Rule, last time.Time) string {
	return "бонус ко дню рождения (" + pointsCount(r.BonusPoints) + ") уже начислен " + last.Format("02.01.2006") +
		": один раз за день рождения"
}
