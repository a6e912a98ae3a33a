package loyalty

import (
	"fmt"
	"math"
	"slices"
)

// Answer is one sale's NPS question, as a till records it (issue 18): the
// store, region and terminal, the day, whether the till asked, and the
// customer's answer to "how likely are you to recommend us to a friend?"
// (0-10; -1 when they did not answer). An answer the till did not ask for
// (given elsewhere) counts in the score but not in the response rate.
type Answer struct {
	Store, Region, Terminal string
	Day                     int32
	Asked                   bool
	Score                   int
}

// NPS bands (seed 004): promoters answer 9-10, passives 7-8, detractors 0-6.
const (
	PromoterFrom  = 9
	DetractorUpTo = 6
)

// NPS is the net promoter score of some answers.
type NPS struct {
	Answers    int `json:"answers"`
	Promoters  int `json:"promoters"`
	Passives   int `json:"passives"`
	Detractors int `json:"detractors"`
	// The bands' shares of the answers (0 when none).
	PromoterShare  float64 `json:"promoter_share"`
	PassiveShare   float64 `json:"passive_share"`
	DetractorShare float64 `json:"detractor_share"`
	// Score is 100 × (PromoterShare − DetractorShare), -100 to 100; null
	// without answers.
	Score *float64 `json:"score"`
	// Asked counts the sales the question was asked at, AnsweredAsked those
	// of them answered; ResponseRate is AnsweredAsked / Asked (0 when none).
	Asked         int     `json:"asked"`
	AnsweredAsked int     `json:"answered_asked"`
	ResponseRate  float64 `json:"response_rate"`
	WordOfMouth   WOM     `json:"word_of_mouth"`
}

// WOM is seed 004's estimate of what word of mouth does: a promoter gives 3-4
// positive recommendations, 6 positive ones bring 1 new customer; a detractor
// gives 4-6 negative ones, each outweighing 5 positive ones (−0.83 of a new
// customer), so a detractor costs 4.15 new customers. Won and Lost use the
// middle of each range (3.5 and 5 recommendations); Low and High the ends.
type WOM struct {
	Positive float64 `json:"positive_recommendations"` // promoters × 3.5
	Negative float64 `json:"negative_recommendations"` // detractors × 5
	Won      float64 `json:"customers_won"`            // Positive / 6
	Lost     float64 `json:"customers_lost"`           // detractors × 4.15
	Net      float64 `json:"net_customers"`            // Won − Lost
	// Low and High are Net at the ends of the ranges: 3 positive and 6
	// negative recommendations each; 4 and 4.
	Low  float64 `json:"net_low"`
	High float64 `json:"net_high"`
}

// The seed's figures.
const (
	positivePerPromoterLow, positivePerPromoterHigh   = 3.0, 4.0
	negativePerDetractorLow, negativePerDetractorHigh = 4.0, 6.0
	positivePerCustomer                               = 6.0
	positivePerNegative                               = 5.0
)

// WOMAssumptions states what the word-of-mouth estimate assumes.
var WOMAssumptions = []string{
	"seed 004's figures: a promoter gives 3-4 positive recommendations (3.5 used), a detractor 4-6 negative ones (5 used)",
	"6 positive recommendations bring 1 new customer; 1 negative recommendation outweighs 5 positive ones (-0.83 new customers), so a detractor costs 4.15",
	"passives recommend nothing either way; every answer is a different customer; recommendations reach people who are not customers yet",
	"the estimate is of customers won or lost over the answerers' word of mouth, not per period: compare periods, do not add them",
}

func wom(promoters, detractors int) WOM {
	p, d := float64(promoters), float64(detractors)
	perNegative := positivePerNegative / positivePerCustomer // 0.8333…
	w := WOM{
		Positive: p * (positivePerPromoterLow + positivePerPromoterHigh) / 2,
		Negative: d * (negativePerDetractorLow + negativePerDetractorHigh) / 2,
	}
	w.Won = w.Positive / positivePerCustomer
	w.Lost = d * 4.15 // the seed's rounding of 5 × 0.83
	w.Net = w.Won - w.Lost
	w.Low = p*positivePerPromoterLow/positivePerCustomer - d*negativePerDetractorHigh*perNegative
	w.High = p*positivePerPromoterHigh/positivePerCustomer - d*negativePerDetractorLow*perNegative
	for _, v := range []*float64{&w.Positive, &w.Negative, &w.Won, &w.Lost, &w.Net, &w.Low, &w.High} {
		*v = math.Round(*v*100) / 100
	}
	return w
}

func (n *NPS) add(a Answer) {
	if a.Asked {
		n.Asked++
	}
	if a.Score < 0 || a.Score > 10 {
		return
	}
	if a.Asked {
		n.AnsweredAsked++
	}
	n.Answers++
	switch {
	case a.Score >= PromoterFrom:
		n.Promoters++
	case a.Score <= DetractorUpTo:
		n.Detractors++
	default:
		n.Passives++
	}
}

// merge adds the counts of o (not yet done) to n.
func (n *NPS) merge(o NPS) {
	n.Answers += o.Answers
	n.Promoters += o.Promoters
	n.Passives += o.Passives
	n.Detractors += o.Detractors
	n.Asked += o.Asked
	n.AnsweredAsked += o.AnsweredAsked
}

func (n NPS) done() NPS {
	share := func(k int) float64 { return math.Round(1e4*float64(k)/float64(n.Answers)) / 1e4 }
	if n.Answers > 0 {
		n.PromoterShare, n.PassiveShare, n.DetractorShare = share(n.Promoters), share(n.Passives), share(n.Detractors)
		s := math.Round(1000*float64(n.Promoters-n.Detractors)/float64(n.Answers)) / 10
		n.Score = &s
	}
	if n.Asked > 0 {
		n.ResponseRate = math.Round(1e4*float64(n.AnsweredAsked)/float64(n.Asked)) / 1e4
	}
	n.WordOfMouth = wom(n.Promoters, n.Detractors)
	return n
}

// NPSOptions set the NPS report.
type NPSOptions struct {
	// By groups the answers: "store", "region", "terminal", or "" (the
	// chain alone).
	By string
	// Period is PeriodDay, PeriodWeek or PeriodMonth (default): the trend's
	// step.
	Period string
}

// NPSReport is the NPS of some answers, chain-wide and per group, with the
// trend per period.
type NPSReport struct {
	By          string     `json:"by,omitempty"`
	Period      string     `json:"period"`
	Total       NPS        `json:"total"`
	Groups      []NPSGroup `json:"groups"`
	Trend       []NPSPoint `json:"trend"`
	Assumptions []string   `json:"assumptions"`
}

// NPSGroup is one store's (region's, terminal's) NPS and trend.
type NPSGroup struct {
	Key   string     `json:"key"`
	NPS   NPS        `json:"nps"`
	Trend []NPSPoint `json:"trend"`
}

// NPSPoint is one period of a trend. Change is the score's change from the
// period before with answers (null for the first, or without a score).
type NPSPoint struct {
	Start  string   `json:"start"`
	NPS    NPS      `json:"nps"`
	Change *float64 `json:"change"`
}

// NPSOf computes the NPS report of answers. It is pure: the same answers give
// the same report in any order.
func NPSOf(answers []Answer, o NPSOptions) (NPSReport, error) {
	if o.Period == "" {
		o.Period = PeriodMonth
	}
	if o.Period != PeriodDay && o.Period != PeriodWeek && o.Period != PeriodMonth {
		return NPSReport{}, fmt.Errorf("nps: period %q: want day, week or month", o.Period)
	}
	key := func(a Answer) string { return "" }
	switch o.By {
	case "":
	case "store":
		key = func(a Answer) string { return a.Store }
	case "region":
		key = func(a Answer) string { return a.Region }
	case "terminal":
		key = func(a Answer) string { return a.Terminal }
	default:
		return NPSReport{}, fmt.Errorf("nps: by %q: want store, region, terminal or nothing", o.By)
	}
	rep := NPSReport{By: o.By, Period: o.Period, Groups: []NPSGroup{}, Trend: []NPSPoint{}, Assumptions: WOMAssumptions}
	type acc struct {
		nps   NPS
		trend map[int32]*NPS
	}
	newAcc := func() *acc { return &acc{trend: map[int32]*NPS{}} }
	total := newAcc()
	groups := map[string]*acc{}
	for _, a := range answers {
		start := periodStart(o.Period, a.Day)
		for _, g := range []*acc{total, groupOf(groups, key(a), o.By != "", newAcc)} {
			if g == nil {
				continue
			}
			g.nps.add(a)
			p := g.trend[start]
			if p == nil {
				p = &NPS{}
				g.trend[start] = p
			}
			p.add(a)
		}
	}
	trend := func(m map[int32]*NPS) []NPSPoint {
		starts := make([]int32, 0, len(m))
		for s := range m {
			starts = append(starts, s)
		}
		slices.Sort(starts)
		out := []NPSPoint{}
		var prev *float64
		for _, s := range starts {
			pt := NPSPoint{Start: DateString(s), NPS: m[s].done()}
			if pt.NPS.Score != nil {
				if prev != nil {
					c := math.Round((*pt.NPS.Score-*prev)*10) / 10
					pt.Change = &c
				}
				prev = pt.NPS.Score
			}
			out = append(out, pt)
		}
		return out
	}
	rep.Total = total.nps.done()
	rep.Trend = trend(total.trend)
	for _, k := range sortedKeys(groups) {
		g := groups[k]
		rep.Groups = append(rep.Groups, NPSGroup{Key: k, NPS: g.nps.done(), Trend: trend(g.trend)})
	}
	return rep, nil
}

func groupOf[T any](m map[string]*T, k string, grouped bool, mk func() *T) *T {
	if !grouped {
		return nil
	}
	g := m[k]
	if g == nil {
		g = mk()
		m[k] = g
	}
	return g
}
