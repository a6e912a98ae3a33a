package discount

import (
	"bytes"
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
	return string(appendMoney(make([]byte, 0, 32), c, a))
}

// The reasons the engine writes for every basket (a tier's, a points rule's
// multipliers, a redemption's) are built with append functions in the
// engine's text scratch, one allocation each for the string; the format
// functions beside them write the same words for the reasons worked out once
// per ruleset.

// appendMoney appends a to b as formatMoney writes it.
func appendMoney(b []byte, c money.Currency, a money.Amount) []byte {
	var digits [32]byte
	s := c.AppendFormat(digits[:0], a)
	if len(s) > 0 && s[0] == '-' {
		b, s = append(b, '-'), s[1:]
	}
	intPart, frac, _ := bytes.Cut(s, []byte{'.'})
	for i, d := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b = append(b, ' ')
		}
		b = append(b, d)
	}
	if len(frac) > 0 {
		b = append(b, ',')
		b = append(b, frac...)
	}
	b = append(b, ' ')
	if sym, ok := symbols[c.Code]; ok {
		return append(b, sym...)
	}
	return append(b, c.Code...)
}

// formatPercent writes basis points as "2,5 %".
func formatPercent(p money.BP) string { return string(appendPercent(make([]byte, 0, 16), p)) }

// appendPercent appends p to b as formatPercent writes it.
func appendPercent(b []byte, p money.BP) []byte {
	start := len(b)
	b = decimalComma(p.AppendFormat(b), start)
	return append(b[:len(b)-1], " %"...) // "2,5%" → "2,5 %"
}

// decimalComma returns b with its first '.' from start on made a ','.
func decimalComma(b []byte, start int) []byte {
	if i := bytes.IndexByte(b[start:], '.'); i >= 0 {
		b[start+i] = ','
	}
	return b
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

func pointsCount(n int64) string { return string(appendPoints(make([]byte, 0, 24), n)) }

// appendPoints appends n and the word for it: "12 баллов".
func appendPoints(b []byte, n int64) []byte {
	b = strconv.AppendInt(b, n, 10)
	b = append(b, ' ')
	return append(b, pointsWord(n)...)
}

func appendTierReason(b []byte, c money.Currency, t Tier, spend money.Amount) []byte {
	b = append(b, "Накопительная скидка "...)
	b = appendPercent(b, t.Percent)
	b = append(b, " ("...)
	b = append(b, t.Name...)
	b = append(b, "): сумма покупок "...)
	b = appendMoney(b, c, spend)
	b = append(b, " ≥ "...)
	return appendMoney(b, c, t.From)
}

func pointsReason(c money.Currency, r *Rule) string {
	return string(appendPointsReason(make([]byte, 0, 64), c, r))
}

func appendPointsReason(b []byte, c money.Currency, r *Rule) []byte {
	b = appendPoints(b, r.Points)
	b = append(b, " за каждые "...)
	return appendMoney(b, c, r.Per)
}

// named puts the rule's name, or a default title, before a detail.
func named(r *Rule, title, detail string) string {
	return string(append(appendTitle(make([]byte, 0, 64), r, title), detail...))
}

// appendTitle appends what named puts before its detail.
func appendTitle(b []byte, r *Rule, title string) []byte {
	if r.Name != "" {
		title = r.Name
	}
	b = append(b, title...)
	return append(b, ": "...)
}

// text returns b, built in the engine's text scratch, as a string, and
// keeps b's array for the next.
func (e *engine) text(b []byte) string {
	e.textBuf = b[:0]
	return string(b)
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
	if r.Name == "" {
		return s
	}
	return string(append(appendName(make([]byte, 0, 64), r), s...))
}

// appendName appends what prefixName puts before its s.
func appendName(b []byte, r *Rule) []byte {
	if r.Name != "" {
		b = append(b, r.Name...)
		b = append(b, ": "...)
	}
	return b
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
	b := appendName(e.textBuf[:0], r)
	b = appendPointsReason(b, e.cur, r)
	b = append(b, " ("...)
	b, used := e.appendMultipliersUsed(b, r)
	if !used {
		e.textBuf = b[:0]
		return c.earnReason
	}
	return e.text(append(b, ')'))
}

// appendMultipliersUsed appends the multipliers of r that applied to a line
// of the basket, "×2 coffee, ×1,5 tea", and says whether there was one.
func (e *engine) appendMultipliersUsed(b []byte, r *Rule) ([]byte, bool) {
	used := false
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
			if used {
				b = append(b, ", "...)
			}
			b = appendTimes(b, m.Times)
			b = append(b, ' ')
			b = append(b, what...)
			used = true
			break
		}
	}
	return b, used
}

// appendTimes appends a multiplier in hundredths with a decimal comma: "×1,5".
func appendTimes(b []byte, t int64) []byte {
	b = append(b, "×"...)
	start := len(b)
	b = money.BP(t).AppendFormat(b)
	return decimalComma(b[:len(b)-1], start) // no '%'

}

func catalogReason(r *Rule, names []string, pts int64) string {
	return named(r, "Каталог бонусов", strings.Join(names, ", ")+" за "+pointsCount(pts))
}

func appendRedeemReason(b []byte, c money.Currency, r *Rule, pts int64, value money.Amount, why string) []byte {
	b = appendTitle(b, r, "Оплата баллами")
	b = appendPoints(b, pts)
	b = append(b, " = "...)
	b = appendMoney(b, c, value)
	if why != "" {
		b = append(b, " ("...)
		b = append(b, why...)
		b = append(b, ')')
	}
	return b
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
