package hq

import (
	"context"
	"slices"
	"strings"
)

// Returns is the part of a Store that counts, for every sale, the units of
// each of its lines that refunds returned, by the terminal that recorded
// the refund, whichever terminal sold it: a till asked to take back a sale
// of another store learns what other tills took back already, so that two
// tills do not return one sale twice (docs/sync.md, "Returns at another
// till"). Append adds every stored refund event, exactly once.
type Returns interface {
	// Returned returns the units of each line of the sale at seq saleSeq of
	// saleTerminal's chains (index 0 is line 1) that refunds stored from
	// terminals other than except returned; nil when none did.
	Returned(ctx context.Context, saleTerminal string, saleSeq uint64, except string) ([]int64, error)
}

// ReturnCount is what refunds stored together returned of one line of one
// sale, from one terminal: the rows of a store's count.
type ReturnCount struct {
	SaleTerminal string
	SaleSeq      uint64
	Terminal     string // the terminal that recorded the refunds
	Line         int    // from 1
	Qty          int64
}

// ReturnCounts adds up what the refunds among facts, stored from terminal,
// returned, one row per sale and line, in (sale terminal, sale seq, line)
// order, the order in which every store writes them.
func ReturnCounts(terminal string, facts []SaleFacts) []ReturnCount {
	var out []ReturnCount
	for _, f := range facts {
		if !f.Refund || f.SaleSeq == 0 {
			continue
		}
		for _, l := range f.Returned {
			if l.Line < 1 || l.Qty <= 0 {
				continue
			}
			i := slices.IndexFunc(out, func(c ReturnCount) bool {
				return c.SaleTerminal == f.SaleTerminal && c.SaleSeq == f.SaleSeq && c.Line == l.Line
			})
			if i < 0 {
				out = append(out, ReturnCount{SaleTerminal: f.SaleTerminal, SaleSeq: f.SaleSeq, Terminal: terminal, Line: l.Line})
				i = len(out) - 1
			}
			out[i].Qty += l.Qty
		}
	}
	slices.SortFunc(out, func(a, b ReturnCount) int {
		if c := strings.Compare(a.SaleTerminal, b.SaleTerminal); c != 0 {
			return c
		}
		if a.SaleSeq != b.SaleSeq {
			if a.SaleSeq < b.SaleSeq {
				return -1
			}
			return 1
		}
		return a.Line - b.Line
	})
	return out
}
