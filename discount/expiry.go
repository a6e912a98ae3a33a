package discount

import (
	"fmt"
	"time"
)

// Points expiry: the points a sale earns are one lot (pos.PointsLot) that
// expires when the ruleset's points rules say (expire_months,
// expire_period). The till and HQ drop an expired lot from the balance by
// the clock (pos.Account.Expire); nothing has to run on the day.

// maxExpireMonths is the longest expire_months: a hundred years.
const maxExpireMonths = 1200

// expirePeriods are the periods expire_period takes, with the months each
// spans; a period starts in a month that is a multiple of it from January.
var expirePeriods = map[string]int{"month": 1, "quarter": 3, "year": 12}

// expires reports whether the rule says when earned points expire.
func (r *Rule) expires() bool { return r.ExpireMonths != 0 || r.ExpirePeriod != "" }

// PointsExpire returns when the points earned at now expire by the rule:
// the start of the day expire_months after now's date (the month's last
// day when it has no such date), or, with expire_period, the start of the
// period after the one that date is in. Days are read on now's clock, in
// its offset from UTC at now, so that a sale's expiry is the same instant
// wherever it is priced again (the audit prices with the sale's offset).
// Zero when the rule sets neither key.
func (r *Rule) PointsExpire(now time.Time) time.Time {
	if !r.expires() {
		return time.Time{}
	}
	_, off := now.Zone()
	loc := time.FixedZone("", off)
	y, m, d := now.In(loc).Date()
	first := time.Date(y, m+time.Month(r.ExpireMonths), 1, 0, 0, 0, 0, loc) // normalised
	y, m = first.Year(), first.Month()
	if span := expirePeriods[r.ExpirePeriod]; span > 0 {
		start := (int(m)-1)/span*span + 1
		return time.Date(y, time.Month(start+span), 1, 0, 0, 0, 0, loc)
	}
	last := time.Date(y, m+1, 0, 0, 0, 0, 0, loc).Day()
	return time.Date(y, m, min(d, last), 0, 0, 0, 0, loc)
}

// checkExpiry checks a rule's expire_months and expire_period.
func checkExpiry(r *Rule, bad reporter) {
	if r.ExpireMonths < 0 || r.ExpireMonths > maxExpireMonths {
		bad("expire_months", "must be between 0 and %d, got %d", maxExpireMonths, r.ExpireMonths)
	}
	if r.ExpirePeriod != "" && expirePeriods[r.ExpirePeriod] == 0 {
		bad("expire_period", "unknown period %q; want month, quarter or year", r.ExpirePeriod)
	}
}

// checkExpiries refuses rules that disagree on when points expire: the
// points a sale earns are one lot, whichever rules gave them.
func (rs *Ruleset) checkExpiries(errs *[]Problem) {
	var first *Rule
	firstAt := 0
	for i := range rs.Rules {
		r := &rs.Rules[i]
		if !r.expires() {
			continue
		}
		if first == nil {
			first, firstAt = r, i+1
			continue
		}
		if r.ExpireMonths != first.ExpireMonths || r.ExpirePeriod != first.ExpirePeriod {
			*errs = append(*errs, Problem{Rule: r.ID, Index: i + 1, Field: "expire_months",
				Msg: fmt.Sprintf("points expire otherwise than by rule #%d (%s); the points a sale earns are one lot: set the same expire_months and expire_period", firstAt, expiryWords(first))})
		}
	}
}

func expiryWords(r *Rule) string {
	s := fmt.Sprintf("expire_months = %d", r.ExpireMonths)
	if r.ExpirePeriod != "" {
		s += fmt.Sprintf(", expire_period = %q", r.ExpirePeriod)
	}
	return s
}
