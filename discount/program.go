package discount

import (
	"fmt"
	"slices"

	"github.com/tilld/tilld/money"
)

// program is a validated ruleset prepared for fast evaluation: rules in
// evaluation order, promotions indexed by the SKUs and categories they
// target, so that a basket only looks at the rules that can touch it.
type program struct {
	err   error // the validation error; nothing else is set when not nil
	rules []crule
	// byPhase[p] is the range of rules of phase p.
	byPhase [phaseAfter + 2]int
	bySKU   map[string][]int32
	byCat   map[string][]int32
	groups  [][]int32 // members of each exclusive group, in order
	floors  map[string]money.Amount
	tiers   *Rule
	// pointValue is the first redeem rule's, to weigh points against money.
	pointValue money.Amount
	// expiry is the first rule that says when earned points expire (they
	// all say the same: checkExpiries); nil: they never do.
	expiry *Rule
	seed   string
}

// crule is one rule prepared for evaluation.
type crule struct {
	r        *Rule
	n        int // in program.rules
	index    int // in Ruleset.Rules
	phase    phase
	win      window
	windowed bool
	scoped   bool
	// targeted rules only apply to baskets with a line they target (through
	// the index); the others are looked at for every basket.
	targeted bool
	skus     set
	cats     set
	excl     set
	group    int // -1: none
	// The reasons that do not depend on the basket, worked out once.
	reason, earnReason string

	// The rule's entry in the kinds table, and what it says of this rule.
	spec      *kindSpec
	card      bool   // card holders only
	onePer    string // the class of which only one rule applies per basket
	alsoEarns bool   // a discount rule that gives points later too
}

// set is a small string set: a slice when short, a map when long.
type set struct {
	list []string
	m    map[string]struct{}
}

func newSet(items []string) set {
	if len(items) > 8 {
		m := make(map[string]struct{}, len(items))
		for _, s := range items {
			m[s] = struct{}{}
		}
		return set{m: m}
	}
	return set{list: items}
}

func (s *set) has(x string) bool {
	if s.m != nil {
		_, ok := s.m[x]
		return ok
	}
	for _, v := range s.list {
		if v == x {
			return true
		}
	}
	return false
}

func (s *set) empty() bool { return s.m == nil && len(s.list) == 0 }

// compiled returns the ruleset's program, building it on first use.
func (rs *Ruleset) compiled() *program {
	if p := rs.prog.Load(); p != nil {
		return p
	}
	p := compile(rs)
	// Two first callers may both compile; the results are identical.
	rs.prog.CompareAndSwap(nil, p)
	return rs.prog.Load()
}

func compile(rs *Ruleset) *program {
	if err := rs.Validate(); err != nil {
		return &program{err: err}
	}
	p := &program{
		bySKU: map[string][]int32{},
		byCat: map[string][]int32{},
		seed:  rs.Seed,
	}
	if p.seed == "" {
		p.seed = fmt.Sprint(rs.Version)
	}
	if len(rs.Limits.Floors) > 0 {
		p.floors = make(map[string]money.Amount, len(rs.Limits.Floors))
		for _, f := range rs.Limits.Floors {
			p.floors[f.SKU] = f.Price
		}
	}
	groupIndex := map[string]int{}
	for n, i := range rs.order() {
		r := &rs.Rules[i]
		spec := specs[r.Kind]
		c := crule{
			r:         r,
			n:         n,
			index:     i,
			phase:     r.phase(),
			win:       newWindow(&r.Window),
			windowed:  !r.Window.Starts.IsZero() || !r.Window.Ends.IsZero() || len(r.Window.Days) > 0 || len(r.Window.Hours) > 0,
			scoped:    len(r.Stores)+len(r.Regions)+len(r.Terminals) > 0,
			skus:      newSet(r.SKUs),
			cats:      newSet(r.Categories),
			excl:      newSet(r.ExcludeCategories),
			group:     -1,
			spec:      spec,
			card:      r.needsCard(),
			alsoEarns: spec.alsoEarns != nil && spec.alsoEarns(r),
		}
		if spec.onePer != nil {
			c.onePer = spec.onePer(r)
		}
		if spec.reason != nil {
			c.reason = spec.reason(rs.Currency, r)
		}
		if spec.earnReason != nil {
			c.earnReason = spec.earnReason(rs.Currency, r)
		}
		if spec.targets != nil {
			skus, cats := spec.targets(r)
			c.targeted = len(skus)+len(cats) > 0
			for _, s := range skus {
				p.bySKU[s] = appendOnce(p.bySKU[s], int32(n))
			}
			for _, s := range cats {
				p.byCat[s] = appendOnce(p.byCat[s], int32(n))
			}
		}
		if p.expiry == nil && r.expires() {
			p.expiry = r
		}
		switch r.Kind {
		case KindTiers:
			p.tiers = r
		case KindRedeem:
			if p.pointValue == 0 {
				p.pointValue = r.PointValue
			}
		}
		if r.Group != "" {
			g, ok := groupIndex[r.Group]
			if !ok {
				g = len(p.groups)
				groupIndex[r.Group] = g
				p.groups = append(p.groups, nil)
			}
			c.group = g
			p.groups[g] = append(p.groups[g], int32(n))
		}
		p.rules = append(p.rules, c)
	}
	// Phase boundaries: rules are sorted by phase first.
	for ph := phaseDiscount; ph <= phaseAfter+1; ph++ {
		p.byPhase[ph] = len(p.rules)
		for n := range p.rules {
			if p.rules[n].phase >= ph {
				p.byPhase[ph] = n
				break
			}
		}
	}
	return p
}

func appendOnce(s []int32, n int32) []int32 {
	if len(s) > 0 && s[len(s)-1] == n {
		return s
	}
	if slices.Contains(s, n) {
		return s
	}
	return append(s, n)
}
