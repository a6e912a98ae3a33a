package discount_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/internal/gctune"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// The benchmarks price a 30-line basket at a Moscow store on a Tuesday at
// 17:00 with a ruleset of 1 000 rules, all active then and there (their
// windows open, their scopes including the store), the way a chain's year of
// promotions looks: a few program rules, and hundreds of promotions on
// SKUs and categories, of which a basket touches a handful.
//
//	go test ./discount -run '^$' -bench 'Apply|Expr|HandWritten' -benchtime 2s
//
// Each benchmark reports p50-ns and p99-ns, from the sorted durations of its
// iterations, beside ns/op.

var (
	benchNow  = time.Date(2025, 3, 4, 17, 0, 0, 0, time.FixedZone("MSK", 3*3600))
	benchCats = []string{"grocery", "dairy", "bakery", "coffee", "tea", "snacks", "drinks", "household",
		"frozen", "meat", "fish", "fruit", "vegetables", "sweets", "baby", "pets", "cosmetics", "pharmacy", "tobacco", "alcohol"}
)

const benchSKUs = 5000

func benchSKU(i int) string { return fmt.Sprintf("46%011d", i) }

// benchBasket is 30 lines of distinct SKUs, the first ten of which are on
// promotion in benchRules.
func benchBasket() pos.Basket {
	r := rand.New(rand.NewPCG(30, 1))
	b := pos.Basket{Card: "2000000000008", Store: "msk-012", Region: "msk", Terminal: "msk-012-01", RedeemPoints: 300}
	for i := range 30 {
		b.Lines = append(b.Lines, pos.Line{
			SKU:       benchSKU(i * 97 % benchSKUs),
			Category:  benchCats[i%len(benchCats)],
			Qty:       1 + r.Int64N(3),
			UnitPrice: money.Amount(49_90 + r.Int64N(2000_00)),
		})
	}
	return b
}

func benchAccount() *pos.Account {
	return &pos.Account{Card: "2000000000008", LifetimeSpend: 12000_00, Points: 2000, Sales: 40,
		Profile: &pos.Profile{Name: "Василий", Patronymic: "Петрович", BirthMonth: 3, BirthDay: 6}}
}

// benchRules builds n active rules; with the same seed, the same rules.
func benchRules(n int) *discount.Ruleset {
	r := rand.New(rand.NewPCG(1000, 7))
	rs := &discount.Ruleset{Schema: discount.Schema, Version: 1, Currency: money.Currency{Code: "RUB", Exponent: 2},
		Limits: discount.Limits{BasketDiscount: 5000, LineDiscount: 7000}}
	add := func(rule discount.Rule) {
		rule.ID = fmt.Sprintf("%s-%04d", rule.Kind, len(rs.Rules))
		rs.Rules = append(rs.Rules, rule)
	}
	// The loyalty program itself.
	add(discount.Rule{Kind: discount.KindCardPercent, Priority: 10, Percent: 300, ExcludeCategories: []string{"tobacco"}})
	add(discount.Rule{Kind: discount.KindTiers, Priority: 20, ExcludeCategories: []string{"tobacco"}, Tiers: []discount.Tier{
		{Name: "Silver", From: 5000_00, Percent: 500}, {Name: "Gold", From: 10000_00, Percent: 1000, Flags: []string{"free_delivery"}},
		{Name: "Platinum", From: 15000_00, Percent: 1500}}})
	add(discount.Rule{Kind: discount.KindPoints, Points: 1, Per: 100_00, ExcludeCategories: []string{"tobacco"},
		Multipliers: []discount.Multiplier{{Category: "coffee", Times: 200}, {SKU: benchSKU(97), Times: 300}}})
	add(discount.Rule{Kind: discount.KindRedeem, PointValue: 1_00, MaxShare: 3000, MinBalance: 100, ExcludeCategories: []string{"tobacco", "alcohol"}})
	add(discount.Rule{Kind: discount.KindBirthday, Priority: 40, DaysBefore: 3, DaysAfter: 3, Percent: 1000,
		Text: map[string]string{"ru": "С днём рождения, {name}!"}})
	add(discount.Rule{Kind: discount.KindGreeting, Text: map[string]string{"ru": "Здравствуйте, {name} {patronymic}!"}})
	add(discount.Rule{Kind: discount.KindCharity, Cause: "Фонд", RoundTo: 10_00})
	open := discount.Window{
		Starts: discount.Moment{At: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), Local: true},
		Ends:   discount.Moment{At: time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC), Local: true},
	}
	happy := discount.Window{Days: []time.Weekday{1, 2, 3, 4, 5}, Hours: []discount.Hours{{From: 16 * 60, To: 18 * 60}}}
	skus := func(k int) []string {
		out := make([]string, k)
		for i := range out {
			out[i] = benchSKU(r.IntN(benchSKUs))
		}
		return out
	}
	for len(rs.Rules) < n {
		i := len(rs.Rules)
		var rule discount.Rule
		switch m := i % 20; {
		case m < 13:
			rule = discount.Rule{Kind: discount.KindPercentOff, Percent: money.BP(500 + r.IntN(2500)), SKUs: skus(3)}
		case m < 16:
			rule = discount.Rule{Kind: discount.KindAmountOff, Amount: money.Amount(5_00 + r.IntN(50_00)), PerUnit: true, SKUs: skus(2)}
		case m < 18:
			rule = discount.Rule{Kind: discount.KindBuyGet, Buy: 2, Get: 1, SKUs: skus(3)}
		case m < 19:
			rule = discount.Rule{Kind: discount.KindPercentOff, Percent: money.BP(300 + r.IntN(1000)),
				Categories: []string{benchCats[r.IntN(len(benchCats)-2)]}, MinBasket: money.Amount(r.IntN(1000_00))}
		default:
			rule = discount.Rule{Kind: discount.KindPartner, Partner: fmt.Sprintf("p%d", i), Percent: 500,
				Prefixes: []discount.PrefixRange{{From: fmt.Sprintf("9%05d", i), To: fmt.Sprintf("9%05d", i)}}}
		}
		rule.Priority = 30 + r.IntN(20)
		switch i % 4 {
		case 0:
			rule.Window = open
		case 1:
			rule.Window = happy
		case 2:
			rule.Regions = []string{"msk", "spb"}
		}
		add(rule)
	}
	// The first ten basket SKUs are on promotion for sure.
	for i := range 10 {
		rs.Rules[10+i*13].SKUs[0] = benchSKU(i * 97 % benchSKUs)
	}
	if err := rs.Validate(); err != nil {
		panic(err)
	}
	return rs
}

// measure runs f b.N times (through b.Loop), timing each call, and reports
// the median and the 99th percentile, under tilld's garbage collector
// setting (internal/gctune; GOGC=100 in the environment measures Go's
// default instead), in wall-clock time and, on Linux, in the CPU time of
// the thread that ran them (cpu-p50-ns, cpu-p99-ns).
func measure(b *testing.B, f func() error) {
	b.Helper()
	gctune.ForLatency()
	b.ReportAllocs()
	// One thread runs every basket, so that its CPU time (threadCPU) is the
	// baskets': a basket whose wall time is far above its CPU time waited
	// (the collector's worker had the P, or another thread had the CPU); one
	// whose CPU time is as long ran slower, its instructions held up.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	durations := make([]time.Duration, 0, 1<<16)
	cpus := make([]time.Duration, 0, 1<<16)
	for b.Loop() {
		cpu0, _ := threadCPU()
		start := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		durations = append(durations, time.Since(start))
		if cpu1, ok := threadCPU(); ok {
			cpus = append(cpus, cpu1-cpu0)
		}
	}
	report := func(d []time.Duration, unit string) {
		if len(d) == 0 {
			return
		}
		slices.Sort(d)
		b.ReportMetric(float64(d[len(d)/2].Nanoseconds()), unit+"p50-ns")
		b.ReportMetric(float64(d[len(d)*99/100].Nanoseconds()), unit+"p99-ns")
	}
	report(durations, "")
	report(cpus, "cpu-") // the thread's CPU time over the same baskets
}

// BenchmarkApply1000 is tilld on 1 000 active rules, each basket in a new
// quote, as a till prices.
func BenchmarkApply1000(b *testing.B) {
	rs, basket, acct := benchRules(1000), benchBasket(), benchAccount()
	if _, err := discount.Apply(rs, basket, acct, benchNow); err != nil { // compile once
		b.Fatal(err)
	}
	measure(b, func() error { _, err := discount.Apply(rs, basket, acct, benchNow); return err })
}

// BenchmarkApplyTo1000 is BenchmarkApply1000 with every basket priced into
// the same quote (discount.ApplyTo), as HQ's simulation of a draft ruleset prices:
// what is left to allocate is the reasons that name the card's numbers.
func BenchmarkApplyTo1000(b *testing.B) {
	rs, basket, acct := benchRules(1000), benchBasket(), benchAccount()
	var q pos.Quote
	if err := discount.ApplyTo(&q, rs, basket, acct, benchNow, discount.Options{}); err != nil {
		b.Fatal(err)
	}
	measure(b, func() error { return discount.ApplyTo(&q, rs, basket, acct, benchNow, discount.Options{}) })
}

// BenchmarkNoiseFloor times a computation that takes about as long as a
// basket and touches no memory and allocates nothing: its p99 ÷ p50 is what
// the machine itself adds (interrupts, a hypervisor's steal), the floor
// under the engine's. Run it beside the Apply benchmarks.
func BenchmarkNoiseFloor(b *testing.B) {
	x := uint64(1)
	measure(b, func() error {
		for range 30_000 {
			x = x*6364136223846793005 + 1442695040888963407
		}
		return nil
	})
	if x == 0 {
		b.Log(x) // keeps the loop
	}
}
