package discount

import "time"

// Time windows are read on the wall clock of the now passed to Apply: the
// terminal's local time. A sale stored with its offset ("…T15:00:00+03:00")
// and re-priced at HQ gives the same wall clock, so the audit agrees.

// wallClock is now, broken down once per Apply.
type wallClock struct {
	t      time.Time
	key    int64 // yyyymmddhhmmss of the wall clock
	ns     int
	day    time.Weekday
	minute int // from midnight
	date   civil
}

// civil is a calendar date without a zone.
type civil struct {
	y int
	m time.Month
	d int
}

func newWallClock(t time.Time) wallClock {
	y, mo, d := t.Date()
	h, mi, _ := t.Clock()
	return wallClock{t: t, key: wallKey(t), ns: t.Nanosecond(), day: t.Weekday(), minute: h*60 + mi, date: civil{y, mo, d}}
}

func wallKey(t time.Time) int64 {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return ((((int64(y)*100+int64(mo))*100+int64(d))*100+int64(h))*100+int64(mi))*100 + int64(s)
}

// before reports whether t is before the moment m: as instants, or for a
// local moment by wall clock.
func before(t time.Time, m Moment) bool {
	if !m.Local {
		return t.Before(m.At)
	}
	a, b := wallKey(t), wallKey(m.At)
	return a < b || a == b && t.Nanosecond() < m.At.Nanosecond()
}

// beforeWall is before for a precomputed wall clock.
func (w *wallClock) before(m *bound) bool {
	if !m.local {
		return w.t.Before(m.at)
	}
	return w.key < m.key || w.key == m.key && w.ns < m.ns
}

// bound is a Moment prepared for comparisons.
type bound struct {
	set   bool
	local bool
	at    time.Time
	key   int64
	ns    int
}

func newBound(m Moment) bound {
	if m.IsZero() {
		return bound{}
	}
	return bound{set: true, local: m.Local, at: m.At, key: wallKey(m.At), ns: m.At.Nanosecond()}
}

// window is a Window prepared for evaluation.
type window struct {
	starts, ends bound
	days         uint8 // bit d set: weekday d allowed; 0: any day
	hours        []Hours
}

func newWindow(w *Window) window {
	c := window{starts: newBound(w.Starts), ends: newBound(w.Ends), hours: w.Hours}
	for _, d := range w.Days {
		c.days |= 1 << uint(d)
	}
	return c
}

// outside says why now is outside the window, or dropNone when inside.
func (c *window) outside(now *wallClock) dropCode {
	switch {
	case c.starts.set && now.before(&c.starts):
		return dropNotYet
	case c.ends.set && !now.before(&c.ends):
		return dropEnded
	case c.days != 0 && c.days&(1<<uint(now.day)) == 0:
		return dropDay
	case len(c.hours) > 0 && !inHours(c.hours, now.minute):
		return dropHours
	}
	return dropNone
}

func inHours(hs []Hours, m int) bool {
	for _, h := range hs {
		if h.From < h.To && m >= h.From && m < h.To || h.From > h.To && (m >= h.From || m < h.To) {
			return true
		}
	}
	return false
}

// daysFromBirthday returns how many days now is after the birthday (negative
// before it), taking the nearest birthday: this year's, last year's or next
// year's. A 29 February birthday falls on 28 February in other years.
func daysFromBirthday(now civil, month, day int) int {
	best := 0
	for i, y := range [3]int{now.y - 1, now.y, now.y + 1} {
		d := day
		if month == 2 && day == 29 && !leap(y) {
			d = 28
		}
		diff := daysBetween(civil{y, time.Month(month), d}, now)
		if i == 0 || abs(diff) < abs(best) {
			best = diff
		}
	}
	return best
}

// nearestBirthday is the date of the birthday daysFromBirthday measures from.
func nearestBirthday(date civil, month, day int) civil {
	t := time.Date(date.y, date.m, date.d-daysFromBirthday(date, month, day), 0, 0, 0, 0, time.UTC)
	return civil{t.Year(), t.Month(), t.Day()}
}

func leap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// daysBetween is b − a in days.
func daysBetween(a, b civil) int {
	ta := time.Date(a.y, a.m, a.d, 0, 0, 0, 0, time.UTC)
	tb := time.Date(b.y, b.m, b.d, 0, 0, 0, 0, time.UTC)
	return int(tb.Sub(ta).Hours() / 24)
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
