package pos

import (
	"slices"
	"time"
)

// What sales and refunds do to an account's lots, and how lots expire. The
// till's ledger (its account views, their rebuild by Verify) and HQ's stores
// all apply events through these, so a card's lots agree everywhere; each is
// called after the event's net points were added to Account.Points.
//
// Expiry is computed from the clock, never by a job: every event expires the
// lots whose time has come at its own time (so a view rebuilt from the events
// is the same), and whoever shows a balance drops the lots expired by now
// (Expire on a copy). A card whose points are owed (Points below the sum of
// its lots: an overdraft, or points a refund took back that were spent) pays
// the debt from the lots that expire first: expiry never takes a balance
// below zero, nor further below it.

// SaleLots applies a sale to a's lots: the points it redeemed come off the
// lots they were taken from (uses: the lot at the index when it is still the
// lot of that earned and expiry time, else the lot of those times, else off
// the newest lots), and the points it earned make a new lot, earned at at and
// expiring at expires (zero: never). net is the sale's earned minus redeemed
// points. An account without lots keeps its points as one lot that never
// expires until a sale earns points that do: then the points it had become
// such a lot, so that only the new ones expire. Lots expired at at are gone
// after it.
func (a *Account) SaleLots(net int64, uses []LotUse, at, expires time.Time) {
	if len(a.Lots) == 0 {
		if expires.IsZero() {
			return // Points is one lot that never expires
		}
		if before := a.Points - net; before > 0 {
			a.Lots = []PointsLot{{Points: before}}
		}
	}
	earned := net
	for _, u := range uses {
		if u.Points <= 0 {
			continue
		}
		i := a.findLot(u)
		if i < 0 {
			continue
		}
		take := min(u.Points, a.Lots[i].Points)
		a.Lots[i].Points -= take
		earned += take
	}
	a.takeBack(-earned, time.Time{})
	if earned > 0 {
		a.Lots = append(a.Lots, PointsLot{Points: earned, Earned: at, Expires: expires})
	}
	a.dropEmptyLots()
	a.Expire(at)
}

// findLot returns the index of the lot u took points from, -1 when the
// account has no such lot any more (expired, or spent elsewhere).
func (a *Account) findLot(u LotUse) int {
	same := func(l PointsLot) bool { return l.Earned.Equal(u.Earned) && l.Expires.Equal(u.Expires) }
	untimed := u.Earned.IsZero() && u.Expires.IsZero() // the index alone says which
	if u.Lot >= 0 && u.Lot < len(a.Lots) && (untimed || same(a.Lots[u.Lot])) {
		return u.Lot
	}
	return slices.IndexFunc(a.Lots, same)
}

// RefundLots applies a refund to a's lots: the redeemed points it gives back
// go to the lots they came from (returned: the same earned and expiry times,
// a lot emptied since made again, one expired since gone again at once), and
// the earned points it takes back come off the lot its sale earned (saleAt),
// then off the newest. net is the refund's points: given back minus taken
// back. An account without lots keeps its points as one lot that never
// expires, unless it had no points: then the lots given back are its lots.
func (a *Account) RefundLots(net int64, returned []PointsLot, saleAt, at time.Time) {
	if len(a.Lots) == 0 && (len(returned) == 0 || a.Points-net > 0) {
		return
	}
	var back int64
	for _, rl := range returned {
		if rl.Points <= 0 {
			continue
		}
		back += rl.Points
		i := slices.IndexFunc(a.Lots, func(l PointsLot) bool { return l.Earned.Equal(rl.Earned) && l.Expires.Equal(rl.Expires) })
		if i >= 0 {
			a.Lots[i].Points += rl.Points
			continue
		}
		at := slices.IndexFunc(a.Lots, func(l PointsLot) bool { return l.Earned.After(rl.Earned) })
		if at < 0 {
			at = len(a.Lots)
		}
		a.Lots = slices.Insert(a.Lots, at, rl)
	}
	a.takeBack(back-net, saleAt)
	a.dropEmptyLots()
	a.Expire(at)
}

// takeBack takes n points off the lots: first off the lot earned at from (a
// refund takes back what its sale earned from the lot the sale made), then
// off the newest. What the lots do not hold is owed (Points below the lots).
func (a *Account) takeBack(n int64, from time.Time) {
	if n <= 0 {
		return
	}
	if !from.IsZero() {
		if i := slices.IndexFunc(a.Lots, func(l PointsLot) bool { return l.Earned.Equal(from) }); i >= 0 {
			take := min(n, max(a.Lots[i].Points, 0))
			a.Lots[i].Points -= take
			n -= take
		}
	}
	for i := len(a.Lots) - 1; i >= 0 && n > 0; i-- {
		take := min(n, max(a.Lots[i].Points, 0))
		a.Lots[i].Points -= take
		n -= take
	}
}

func (a *Account) dropEmptyLots() {
	a.Lots = slices.DeleteFunc(a.Lots, func(l PointsLot) bool { return l.Points <= 0 })
	if len(a.Lots) == 0 {
		a.Lots = nil
	}
}

// Expire drops the lots expired at now (their Expires at or before it) and
// takes their points off Points, less what the card owes (see above), and
// returns the points lost. It never writes to the array a's Lots shared
// before: expiring a copy of an account leaves the original as it was.
func (a *Account) Expire(now time.Time) (lost int64) {
	if !slices.ContainsFunc(a.Lots, func(l PointsLot) bool { return lotExpired(l, now) }) {
		return 0
	}
	var sum int64
	for _, l := range a.Lots {
		sum += max(l.Points, 0)
	}
	owed := max(sum-a.Points, 0)
	kept := make([]PointsLot, 0, len(a.Lots))
	for _, l := range a.Lots {
		if !lotExpired(l, now) {
			kept = append(kept, l)
			continue
		}
		paid := min(owed, max(l.Points, 0))
		owed -= paid
		lost += max(l.Points, 0) - paid
	}
	a.Points -= lost
	a.Lots = kept
	if len(a.Lots) == 0 {
		a.Lots = nil
	}
	return lost
}

func lotExpired(l PointsLot, now time.Time) bool {
	return !l.Expires.IsZero() && !now.Before(l.Expires)
}
