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

// reason explains a discount rule: in words worked out once, unless its
// kind's depend on the basket (a tier's quote the card's spend).
func (e *engine) reason(c *crule) string {
	if c.spec.liveReason != nil {
		return c.spec.liveReason(e, c)
	}
	return c.reason
}

// prefixName puts the rule's name, when it has one, before s.
func prefixName(r *Rule, s string) string {
	if r.Name != "" {
		return r.Name + ": " + s
	}
	return s
}

func intString(n int64) string { return strconv.FormatInt(n, 10) }

func giftName(r *Rule) string {
	if r.GiftName != "" {
		return r.GiftName
	}
	return r.GiftSKU
}

// earnReason explains points a rule gave.
func (e *engine) earnReason(c *crule) string {
	if c.spec.liveEarnReason != nil {
		return c.spec.liveEarnReason(e, c)
	}
	return c.earnReason
}

// multipliedReason is a points rule's reason, naming the multipliers that
// applied to this basket.
func (e *engine) multipliedReason(c *crule) string {
	r := c.r
	m := e.multipliersUsed(r)
	if m == "" {
		return c.earnReason
	}
	return prefixName(r, pointsReason(e.cur, r)+" ("+m+")")
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
