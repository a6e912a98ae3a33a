package loyalty

import (
	"cmp"
	"slices"
	"sort"
	"time"

	"github.com/tilld/tilld/money"
)

// Sale is what the loyalty reports read of one synced sale: who bought,
// where, when, for how much, and what the programme gave and took.
type Sale struct {
	Card     string
	Store    string // "" when the sale does not say (sold before tills recorded it)
	Terminal string
	// Day is the sale's calendar day on the till's wall clock (DayOf).
	Day      int32
	Currency string
	Total    money.Amount
	Earned   int64 // points earned
	Redeemed int64 // points paid with
	Tier     string
	// Partner is the partner programme that owes the card PartnerPoints.
	Partner       string
	PartnerPoints int64
	Donations     []Donation
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
	// Foreign counts sales in a currency other than Currency: they are left
	// out (one chain, one currency).
	Foreign int64
	// Sales counts the sales added, with a card or without.
	Sales int64
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
}

// Charity is what a cause received.
type Charity struct {
	Amount money.Amount `json:"amount"`
	Points int64        `json:"points"`
}

// NewBook returns an empty book.
func NewBook() *Book {
	return &Book{cards: map[string]*Card{}, storeIdx: map[string]uint16{}, tierIdx: map[string]uint16{}, days: map[dayStore]*DayTotals{}}
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

// Add adds a sale to the book.
func (b *Book) Add(s Sale) {
	b.Sales++
	if b.Currency == "" {
		b.Currency = s.Currency
	}
	if s.Currency != "" && s.Currency != b.Currency {
		b.Foreign++
		return
	}
	st := intern(&b.stores, b.storeIdx, s.Store)
	k := dayStore{s.Day, st}
	dt := b.days[k]
	if dt == nil {
		dt = &DayTotals{}
		b.days[k] = dt
	}
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
	c := b.cards[s.Card]
	if c == nil {
		c = &Card{Number: s.Card}
		b.cards[s.Card] = c
		b.list = append(b.list, c)
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
