package discount

// What depends on the final total: charity, raffles and the greeting.

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
	"unicode"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// after runs the rules that depend on the total: a round-up to charity or a
// share of the points earned given to it, raffle tickets and their draw, the
// greeting (a birthday rule's first).
func (e *engine) after() error {
	rules := e.rules(phaseAfter)
	base := e.p.byPhase[phaseAfter]
	total := e.subtotal - e.q.Discount
	// A birthday rule's greeting goes before any other.
	for n := range e.p.rules {
		if c := &e.p.rules[n]; e.active[n] && c.r.Kind == KindBirthday && len(c.r.Text) > 0 {
			if g := e.greet(c.r.Text, nil, ""); g != "" {
				e.q.Greeting = g
				e.use(c)
				break
			}
		}
	}
	for n := range rules {
		c := &rules[n]
		if code, detail := e.ineligible(c); code != dropNone {
			e.drop(c, code, detail)
			continue
		}
		if by := e.supersededBy(c); by != "" {
			e.drop(c, dropSuperseded, by)
			continue
		}
		e.active[base+n] = true
		if err := c.spec.after(e, c, total); err != nil {
			return err
		}
	}
	return nil
}

// charity gives to the cause the round-up of the total, or its share of
// the points earned.
func (e *engine) charity(c *crule, total money.Amount) error {
	r := c.r
	if r.RoundTo == 0 {
		return e.donatePoints(c)
	}
	e.claim(c)
	d := (r.RoundTo - total%r.RoundTo) % r.RoundTo
	if d == 0 {
		e.drop(c, dropNothing, "")
		return nil
	}
	e.q.Donations = append(e.q.Donations, pos.Donation{Rule: r.ID, Cause: r.Cause, Amount: d})
	e.use(c)
	return nil
}

// greeting greets the customer, unless a greeting rule before it did; a
// birthday rule's greeting stays first.
func (e *engine) greeting(c *crule, _ money.Amount) error {
	r := c.r
	g := e.greet(r.Text, r.Nameless, r.Lang)
	if g == "" {
		e.drop(c, dropNoProfile, "")
		return nil
	}
	e.claim(c)
	if e.q.Greeting == "" {
		e.q.Greeting = g
	}
	e.use(c)
	return nil
}

// ---- greetings ----

// placeholders a greeting template may use.
var placeholders = []string{"{name}", "{patronymic}"}

// checkTemplate returns what is wrong with a greeting template, or "".
func checkTemplate(t string) string {
	rest := t
	for {
		i := strings.IndexByte(rest, '{')
		j := strings.IndexByte(rest, '}')
		switch {
		case i < 0 && j < 0:
			return ""
		case i < 0 || j >= 0 && j < i:
			return "a } without its {; placeholders are {name} and {patronymic}"
		case j < 0:
			return "a { without its }; placeholders are {name} and {patronymic}"
		}
		ph := rest[i : j+1]
		known := false
		for _, p := range placeholders {
			known = known || ph == p
		}
		if !known {
			return "unknown placeholder " + ph + "; use {name} and {patronymic}"
		}
		rest = rest[j+1:]
	}
}

// greet renders the template for the customer's language: the profile's,
// else lang, else Russian, else the first one. Without a name it uses
// nameless, or gives "".
func (e *engine) greet(text, nameless map[string]string, lang string) string {
	if e.acct == nil {
		return ""
	}
	p := e.acct.Profile
	want := ""
	if p != nil {
		want = p.Lang
	}
	if p == nil || strings.TrimSpace(p.Name) == "" {
		if t := pickLang(nameless, want, lang); t != "" {
			return tidy(t)
		}
		return ""
	}
	b := appendFilled(e.textBuf[:0], pickLang(text, want, lang), strings.TrimSpace(p.Name), strings.TrimSpace(p.Patronymic))
	return tidy(e.text(b))
}

// appendFilled appends template t with {name} and {patronymic} filled in;
// what they are filled with is not read for placeholders again.
func appendFilled(b []byte, t, name, patronymic string) []byte {
	for {
		i := strings.IndexByte(t, '{')
		if i < 0 {
			return append(b, t...)
		}
		b, t = append(b, t[:i]...), t[i:]
		switch {
		case strings.HasPrefix(t, "{name}"):
			b, t = append(b, name...), t[len("{name}"):]
		case strings.HasPrefix(t, "{patronymic}"):
			b, t = append(b, patronymic...), t[len("{patronymic}"):]
		default:
			b, t = append(b, '{'), t[1:]
		}
	}
}

func pickLang(texts map[string]string, want, fallback string) string {
	for _, l := range []string{want, fallback, "ru"} {
		if t, ok := texts[l]; ok && l != "" {
			return t
		}
	}
	if langs := sortedLangs(texts); len(langs) > 0 {
		return texts[langs[0]]
	}
	return ""
}

// tidy closes the gaps an empty placeholder leaves: "Здравствуйте, Анна !"
// becomes "Здравствуйте, Анна!".
func tidy(s string) string {
	if tidied(s) {
		return s // most greetings: nothing to build
	}
	s = strings.Join(strings.Fields(s), " ")
	for _, p := range []string{" !", " ,", " .", " ?"} {
		s = strings.ReplaceAll(s, p, p[1:])
	}
	return s
}

// tidied reports whether tidy would return s as it is: words separated by
// single spaces, none before a "!", ",", "." or "?", none at either end.
func tidied(s string) bool {
	space := false // the rune before was a space
	for i, r := range s {
		switch {
		case unicode.IsSpace(r):
			if r != ' ' || space || i == 0 {
				return false
			}
			space = true
		case space && (r == '!' || r == ',' || r == '.' || r == '?'):
			return false
		default:
			space = false
		}
	}
	return !space
}

// ---- raffles ----

// maxRaffleTickets bounds the tickets one basket can get, however large.
const maxRaffleTickets = 1000

// raffle gives the basket its tickets and draws each one. The draw is a
// SHA-256 of the ruleset's seed, the rule, the card, the card's sale count
// and the basket, so the same sale draws the same way at the till and at
// HQ, and the card's next sale draws afresh.
func (e *engine) raffle(c *crule, total money.Amount) error {
	r := c.r
	tickets := r.Tickets
	if r.Per > 0 {
		steps := int64(total / r.Per)
		if steps > maxRaffleTickets/r.Tickets {
			tickets = maxRaffleTickets
		} else {
			tickets = steps * r.Tickets
		}
	}
	if tickets == 0 {
		e.drop(c, dropNothing, "")
		return nil
	}
	h := sha256.New()
	field := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	field(e.p.seed)
	field(r.ID)
	field(e.card)
	field(strconv.FormatInt(e.acct.Sales, 10))
	for k := range e.lines {
		l := &e.lines[k]
		field(l.SKU)
		field(l.Category)
		field(strconv.FormatInt(l.Qty, 10))
		field(strconv.FormatInt(int64(l.UnitPrice), 10))
	}
	field(strconv.FormatInt(int64(total), 10))
	seed := h.Sum(nil)
	entry := pos.RaffleEntry{Rule: r.ID, Tickets: tickets, Code: strings.ToUpper(hex.EncodeToString(seed[:5]))}
	if r.Chance > 0 {
		var buf [sha256.Size + 8]byte
		copy(buf[:], seed)
		for i := range tickets {
			binary.BigEndian.PutUint64(buf[sha256.Size:], uint64(i))
			d := sha256.Sum256(buf[:])
			// A 64-bit draw mod 10000 is uniform to within 10^-15.
			if binary.BigEndian.Uint64(d[:8])%uint64(money.Whole) < uint64(r.Chance) {
				entry.Won++
			}
		}
		if entry.Won > 0 {
			entry.Prize = r.Prize
		}
	}
	e.q.Raffles = append(e.q.Raffles, entry)
	e.use(c)
	return nil
}

// maxNPSEveryDays bounds an nps rule's every_days: ten years.
const maxNPSEveryDays = 3660

// nps has the till ask the NPS question after the sale (the first nps rule
// that applies): the till asks unless the card answered within every_days,
// which only the till knows.
func (e *engine) nps(c *crule, _ money.Amount) error {
	if e.q.NPS == nil {
		e.q.NPS = &pos.NPSQuestion{Rule: c.r.ID, EveryDays: c.r.EveryDays}
		e.use(c)
	}
	return nil
}
