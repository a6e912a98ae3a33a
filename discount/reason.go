package discount

import (
	"strconv"
	"strings"

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

func cardPercentReason(p money.BP) string {
	return "Скидка " + formatPercent(p) + " по клубной карте"
}

func tierReason(c money.Currency, t Tier, spend money.Amount) string {
	return "Накопительная скидка " + formatPercent(t.Percent) + " (" + t.Name + "): сумма покупок " +
		formatMoney(c, spend) + " ≥ " + formatMoney(c, t.From)
}

func pointsReason(c money.Currency, r *Rule) string {
	return strconv.FormatInt(r.Points, 10) + " " + pointsWord(r.Points) + " за каждые " + formatMoney(c, r.Per)
}
