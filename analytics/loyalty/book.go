package loyalty

import (
	"cmp"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// Sale is what the loyalty reports read of one synced sale: who bought,
// where, when, for how much, and what the programme gave and took.
type Sale struct {
	Card     string
	Store    string // "" when the sale does not say (sold before tills recorded it)
	Region   string // the till's region, "" when it has none or does not say
	Terminal string
	// Day is the sale's calendar day on the till's wall clock (DayOf),
	// UTCOffset that clock's offset from UTC in seconds east.
	Day       int32
	UTCOffset int
	Currency  string
	Total     money.Amount
	Earned    int64 // points earned
	Redeemed  int64 // points paid with
	Tier      string
	// Partner is the partner programme that owes the card PartnerPoints.
	Partner       string
	PartnerPoints int64
	Donations     []Donation
	// At is the sale's time, Lots the card's lots it redeemed from and
	// Expires when the points it earned expire (zero: never): the card's
	// points lots follow them as HQ's do (pos.Account.SaleLots), for the
	// points that expire.
	At      time.Time
	Lots    []pos.LotUse
	Expires time.Time
}

// Refund is what the loyalty reports read of one synced refund (a
// pos.Refund): the money handed back, the points it took back (earned by
// the sale) and gave back (paid with at the sale), where and when.
type Refund struct {
	Card     string
	Store    string // the store of the till that took the goods back
	Terminal string
	Day      int32 // the refund's calendar day on that till's clock
	Currency string
	// Back is the money handed back; Spend what it takes off the card's
	// lifetime spend.
	Back, Spend money.Amount
	// Reversed is the points earned it took back, Returned the points
	// paid with it gave back, to the lots ReturnedLots; SaleAt is the
	// time of its sale, At its own.
	Reversed, Returned int64
	ReturnedLots       []pos.PointsLot
	SaleAt, At         time.Time
}

// Donation is money or points a sale gave to a cause.
type Donation struct {
	Cause  string
	Amount money.Amount
	Points int64
}

// DayOf is the calendar day of t on a wall clock utcOffset seconds east of
// UTC, counted from 1970-01-01: the unit of every date in this package.
func DayOf(t time.Time, utcOffset int) int32 {
	sec := t.Unix() + int64(utcOffset)
	d := sec / 86400
	if sec < 0 && sec%86400 != 0 {
		d--
	}
	return int32(d)
}

// Date returns day as midnight UTC of that date, for printing.
func Date(day int32) time.Time { return time.Unix(int64(day)*86400, 0).UTC() }

// visit is a card's purchases on one day at one store: 24 bytes, so that a
// chain's million cards with their histories fit in memory.
type visit struct {
	day    int32
	store  uint16 // index into Book.stores
	tier   uint16 // index into Book.tiers of the day's last sale here
	sales  uint32
	points int32        // earned minus redeemed (saturating)
	spend  money.Amount // the day's total here
}

// Card is one card's purchase history as the book keeps it.
type Card struct {
	Number string
	visits []visit // by day, then store
	// points is the card's balance as the book applied its events (sales,
	// refunds, expiry), for its lots: what pos.Account.Points is.
	points int64
}

// Book is the purchase histories of every card, added up from synced sales
// in any order (a till offline for a week uploads late): the one input of
// the cadence, indicator, segment and KPI reports. Not safe for concurrent
// use: the caller guards it.
type Book struct {
	Currency string // of the first sale with a currency; sales in another are counted apart
	cards    map[string]*Card
	list     []*Card // the cards in the order they came: what the reports walk
	stores   []string
	storeIdx map[string]uint16
	tiers    []string
	tierIdx  map[string]uint16
	// days are the programme's sums per day and store, for the KPIs.
	days map[dayStore]*DayTotals
	// Foreign counts sales and refunds in a currency other than Currency:
	// they are left out (one chain, one currency).
	Foreign int64
	// Sales counts the sales added, with a card or without; Refunds the
	// refunds, Answers the NPS answers.
	Sales, Refunds, Answers int64
	// regions is each store's region (the latest sale's or answer's that
	// names one), by store index.
	regions map[uint16]string
	// lots are the points lots of the cards that have any (pos.Account.Lots):
	// a programme without expiry keeps none.
	lots map[*Card][]lot
	// zones are the time zones of the lots' expiry, by offset; scratch is
	// the lots of the card an event is applied to, as pos.Account has them.
	zones   map[int]*time.Location
	scratch []pos.PointsLot
	// expired is the points lost per day of expiry (the lots' Expires read
	// on their own clock), chain-wide, as the events after it dropped them.
	expired map[int32]int64
	// adjust is what moved a card's balance besides its purchases: refunds'
	// points and expiries, by day (few cards have any).
	adjust map[*Card][]adjustment
}

// lot is a pos.PointsLot as the book keeps it: 32 bytes instead of 56, for
// a million cards whose points expire. A zero time is noTime; offset is
// the zone of expires (its day of expiry is read on that clock).
type lot struct {
	points, earned, expires int64 // the times in Unix nanoseconds
	offset                  int32
}

const noTime = math.MinInt64

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return noTime
	}
	return t.UnixNano()
}

// lotsOf returns a card's lots as pos.Account keeps them, into out.
func (b *Book) lotsOf(ls []lot, out []pos.PointsLot) []pos.PointsLot {
	out = out[:0]
	for _, l := range ls {
		p := pos.PointsLot{Points: l.points}
		if l.earned != noTime {
			p.Earned = time.Unix(0, l.earned).UTC()
		}
		if l.expires != noTime {
			z := b.zones[int(l.offset)] // keepLots made it; never written here (reports read under a read lock)
			if z == nil {
				z = time.FixedZone("", int(l.offset))
			}
			p.Expires = time.Unix(0, l.expires).In(z)
		}
		out = append(out, p)
	}
	return out
}

// keepLots stores a card's lots from pos.Account's, in ls's array.
func (b *Book) keepLots(c *Card, ls []lot, from []pos.PointsLot) {
	if len(from) == 0 {
		delete(b.lots, c)
		return
	}
	ls = ls[:0]
	for _, p := range from {
		_, off := p.Expires.Zone()
		if b.zones[off] == nil {
			b.zones[off] = time.FixedZone("", off)
		}
		ls = append(ls, lot{points: p.Points, earned: unixNano(p.Earned), expires: unixNano(p.Expires), offset: int32(off)})
	}
	b.lots[c] = ls
}

// adjustment is points a card's balance gained (or lost, below zero) on a
// day other than by a purchase.
type adjustment struct {
	day    int32
	points int64
}

type dayStore struct {
	day   int32
	store uint16
}

// DayTotals are the programme's sums of one day at one store.
type DayTotals struct {
	Sales, CardSales int64
	Revenue          money.Amount
	Earned, Redeemed int64
	Partner          map[string]int64 // partner → points owed
	Charity          map[string]Charity
	// Returns are the refunds taken at the store that day; NPS its answers.
	Returns ReturnsKPI
	NPS     *NPS
}

// Charity is what a cause received.
type Charity struct {
	Amount money.Amount `json:"amount"`
	Points int64        `json:"points"`
}

// NewBook returns an empty book.
func NewBook() *Book {
	return &Book{cards: map[string]*Card{}, storeIdx: map[string]uint16{}, tierIdx: map[string]uint16{}, days: map[dayStore]*DayTotals{},
		regions: map[uint16]string{}, lots: map[*Card][]lot{}, zones: map[int]*time.Location{}, expired: map[int32]int64{}, adjust: map[*Card][]adjustment{}}
}

func intern(list *[]string, idx map[string]uint16, s string) uint16 {
	if i, ok := idx[s]; ok {
		return i
	}
	if len(*list) >= 1<<16-1 {
		return 0 // absurdly many names: lump the rest with the first
	}
	i := uint16(len(*list))
	*list = append(*list, s)
	idx[s] = i
	return i
}

// inCurrency takes the book's currency from the first event that names one
// and reports whether cur is it; an event in another counts in Foreign.
func (b *Book) inCurrency(cur string) bool {
	if b.Currency == "" {
		b.Currency = cur
	}
	if cur != "" && cur != b.Currency {
		b.Foreign++
		return false
	}
	return true
}

// Add adds a sale to the book.
func (b *Book) Add(s Sale) {
	b.Sales++
	if !b.inCurrency(s.Currency) {
		return
	}
	st := b.storeOf(s.Store, s.Region)
	dt := b.day(s.Day, st)
	dt.Sales++
	dt.Revenue += s.Total
	if s.Card == "" {
		return
	}
	dt.CardSales++
	dt.Earned += s.Earned
	dt.Redeemed += s.Redeemed
	if s.Partner != "" && s.PartnerPoints != 0 {
		if dt.Partner == nil {
			dt.Partner = map[string]int64{}
		}
		dt.Partner[s.Partner] += s.PartnerPoints
	}
	for _, d := range s.Donations {
		if dt.Charity == nil {
			dt.Charity = map[string]Charity{}
		}
		c := dt.Charity[d.Cause]
		c.Amount += d.Amount
		c.Points += d.Points
		dt.Charity[d.Cause] = c
	}
	c := b.card(s.Card)
	if len(s.Lots) > 0 || !s.Expires.IsZero() || b.lots[c] != nil {
		b.applyLots(c, s.Earned-s.Redeemed, &s, nil)
	} else {
		c.points += s.Earned - s.Redeemed
	}
	tier := intern(&b.tiers, b.tierIdx, s.Tier)
	i := sort.Search(len(c.visits), func(i int) bool {
		v := c.visits[i]
		return v.day > s.Day || v.day == s.Day && v.store >= st
	})
	if i == len(c.visits) || c.visits[i].day != s.Day || c.visits[i].store != st {
		c.visits = slices.Insert(c.visits, i, visit{day: s.Day, store: st})
	}
	v := &c.visits[i]
	v.sales++
	v.tier = tier
	v.spend += s.Total
	v.points = sat32(int64(v.points) + s.Earned - s.Redeemed)
}

// storeOf returns the index of a store, noting its region when named.
func (b *Book) storeOf(store, region string) uint16 {
	st := intern(&b.stores, b.storeIdx, store)
	if region != "" {
		b.regions[st] = region
	}
	return st
}

// day returns the sums of a day at a store, made when there are none.
func (b *Book) day(day int32, store uint16) *DayTotals {
	k := dayStore{day, store}
	dt := b.days[k]
	if dt == nil {
		dt = &DayTotals{}
		b.days[k] = dt
	}
	return dt
}

// card returns the card, added to the book when it is new.
func (b *Book) card(number string) *Card {
	c := b.cards[number]
	if c == nil {
		c = &Card{Number: number}
		b.cards[number] = c
		b.list = append(b.list, c)
	}
	return c
}

// AddRefund adds a refund to the book: the store's returns of its day, and
// what it does to the card's points and lots. A refund is no purchase: the
// card's purchase days stay as they were.
func (b *Book) AddRefund(r Refund) {
	b.Refunds++
	if !b.inCurrency(r.Currency) {
		return
	}
	dt := b.day(r.Day, b.storeOf(r.Store, ""))
	dt.Returns.Count++
	dt.Returns.Amount += r.Back
	dt.Returns.PointsReversed += r.Reversed
	dt.Returns.PointsReturned += r.Returned
	if r.Card == "" {
		return
	}
	c := b.card(r.Card)
	net := r.Returned - r.Reversed
	if len(r.ReturnedLots) > 0 || b.lots[c] != nil {
		b.applyLots(c, net, nil, &r)
	} else {
		c.points += net
	}
	b.adjustCard(c, r.Day, net)
}

// adjustCard notes points a card's balance gained on a day besides a
// purchase.
func (b *Book) adjustCard(c *Card, day int32, points int64) {
	if points == 0 {
		return
	}
	b.adjust[c] = insertAdjustment(b.adjust[c], adjustment{day, points})
}

func insertAdjustment(list []adjustment, a adjustment) []adjustment {
	i := sort.Search(len(list), func(i int) bool { return list[i].day > a.day })
	return slices.Insert(list, i, a)
}

// AddAnswer adds an NPS answer to its store's day.
func (b *Book) AddAnswer(a Answer) {
	b.Answers++
	dt := b.day(a.Day, b.storeOf(a.Store, a.Region))
	if dt.NPS == nil {
		dt.NPS = &NPS{}
	}
	dt.NPS.add(a)
}

// applyLots applies a sale or a refund of net points to the card's lots
// (pos.Account.SaleLots or RefundLots) as HQ's stores do
// (hq.SaleFacts.ApplyLots), first dropping the lots whose time came before
// it and counting their points on their day of expiry.
func (b *Book) applyLots(c *Card, net int64, s *Sale, r *Refund) {
	var at time.Time
	if r != nil {
		at = r.At
	} else {
		at = s.At
	}
	kept := b.lots[c]
	b.scratch = b.lotsOf(kept, b.scratch)
	a := pos.Account{Points: c.points, Lots: b.scratch}
	expireUpTo(&a, at, func(day int32, points int64) {
		b.expired[day] += points
		b.adjustCard(c, day, -points)
	})
	a.Points += net
	if r != nil {
		a.RefundLots(net, r.ReturnedLots, r.SaleAt, r.At)
	} else {
		a.SaleLots(net, s.Lots, s.At, s.Expires)
	}
	c.points = a.Points
	b.keepLots(c, kept, a.Lots)
}

// expireUpTo drops a's lots expired at t one expiry time after another
// (pos.Account.Expire: what a card owes is paid from the lots that expire
// first), calling lost with the day of each expiry and the points it took.
func expireUpTo(a *pos.Account, t time.Time, lost func(day int32, points int64)) {
	for {
		var next time.Time
		for _, l := range a.Lots {
			if !l.Expires.IsZero() && !t.Before(l.Expires) && (next.IsZero() || l.Expires.Before(next)) {
				next = l.Expires
			}
		}
		if next.IsZero() {
			return
		}
		if n := a.Expire(next); n > 0 {
			lost(ExpiryDay(next), n)
		}
	}
}

// ExpiryDay is the day points expiring at t are lost: t's calendar day on
// the clock it was written in (a till's midnight: the first day they no
// longer pay).
func ExpiryDay(t time.Time) int32 {
	_, off := t.Zone()
	return DayOf(t, off)
}

// expiredBy returns the points lost per day of expiry up to now: those the
// events after their expiry dropped, and those of lots expired by now with
// no event of their card since (HQ's balance drops by its clock, too), the
// latter also per card. now zero: the former alone.
func (b *Book) expiredBy(now time.Time) (byDay map[int32]int64, pending map[*Card][]adjustment) {
	byDay = make(map[int32]int64, len(b.expired))
	for d, n := range b.expired {
		byDay[d] += n
	}
	if now.IsZero() {
		return byDay, nil
	}
	pending = map[*Card][]adjustment{}
	var scratch []pos.PointsLot // its own: reports run side by side under the read lock
	for c, lots := range b.lots {
		scratch = b.lotsOf(lots, scratch)
		a := pos.Account{Points: c.points, Lots: scratch}
		expireUpTo(&a, now, func(day int32, points int64) {
			byDay[day] += points
			pending[c] = insertAdjustment(pending[c], adjustment{day, -points}) // by day, whatever the clocks' offsets
		})
	}
	return byDay, pending
}

// Region returns a store's region, "" when no sale or answer named one.
func (b *Book) Region(store string) string {
	if i, ok := b.storeIdx[store]; ok {
		return b.regions[i]
	}
	return ""
}

func sat32(v int64) int32 {
	return int32(min(max(v, -1<<31), 1<<31-1))
}

// Len is the number of cards in the book.
func (b *Book) Len() int { return len(b.cards) }

// Card returns a card's history, nil when the book has none.
func (b *Book) Card(number string) *Card { return b.cards[number] }

// Store returns the name of a store index.
func (b *Book) store(i uint16) string { return b.stores[i] }

// Days is a card's purchase days up to and including asOf, ascending, one per
// day whatever the stores: the visits cadence and the models count.
type Days struct {
	Day   []int32
	Spend []money.Amount // what the card spent that day, at every store
}

// DaysUpTo returns the card's purchase days up to asOf.
func (c *Card) DaysUpTo(asOf int32) Days { return c.daysUpTo(asOf, Days{}) }

// daysUpTo is DaysUpTo into d's arrays (reused: the caller's scratch).
func (c *Card) daysUpTo(asOf int32, d Days) Days {
	d.Day, d.Spend = d.Day[:0], d.Spend[:0]
	for _, v := range c.visits {
		if v.day > asOf {
			break
		}
		if n := len(d.Day); n > 0 && d.Day[n-1] == v.day {
			d.Spend[n-1] += v.spend
			continue
		}
		d.Day = append(d.Day, v.day)
		d.Spend = append(d.Spend, v.spend)
	}
	return d
}

// storeVisits counts a card's visits to one store.
type storeVisits struct {
	i      uint16
	n      int
	latest int32
}

// storesUpTo returns the indexes of the stores the card bought at up to asOf,
// most visited first (ties: the store of the latest visit first).
func (c *Card) storesUpTo(asOf int32) []uint16 {
	list := c.storeVisits(asOf, nil)
	out := make([]uint16, len(list))
	for i, s := range list {
		out[i] = s.i
	}
	return out
}

// home returns the card's home store up to asOf (most visits; ties: the
// latest), with list as scratch; ok is false when it bought nothing then.
func (c *Card) home(asOf int32, list []storeVisits) (store uint16, _ []storeVisits, ok bool) {
	list = c.storeVisits(asOf, list)
	if len(list) == 0 {
		return 0, list, false
	}
	return list[0].i, list, true
}

func (c *Card) storeVisits(asOf int32, list []storeVisits) []storeVisits {
	type st = storeVisits
	list = list[:0]
	for _, v := range c.visits {
		if v.day > asOf {
			break
		}
		j := slices.IndexFunc(list, func(s st) bool { return s.i == v.store })
		if j < 0 {
			list = append(list, st{i: v.store})
			j = len(list) - 1
		}
		list[j].n++
		list[j].latest = v.day
	}
	if len(list) > 1 {
		slices.SortStableFunc(list, func(a, b st) int {
			if c := cmp.Compare(b.n, a.n); c != 0 {
				return c
			}
			return cmp.Compare(b.latest, a.latest)
		})
	}
	return list
}
