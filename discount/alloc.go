package discount

import (
	"cmp"
	"math/bits"
	"slices"

	"github.com/tilld/tilld/money"
)

// allocator splits amounts over weights exactly as money.Allocate does
// (largest remainder, ties to the lower index), into the caller's slice and
// with its own scratch, so that pricing a basket does not allocate for every
// rule. TestAllocatorMatchesMoney holds the two to the same results.
type allocator struct {
	rems []uint64
	idx  []int
}

// into writes the parts of total over weights into dst (len(weights)).
// The weights must be non-negative with a sum that fits in an Amount, and
// total non-negative, zero when the weights are; the engine's callers
// guarantee it, and a violation is a bug. A total of at most the sum of the
// weights gives no part more than its weight.
func (a *allocator) into(dst []money.Amount, total money.Amount, weights []money.Amount) {
	if cap(a.rems) < len(weights) {
		a.rems = make([]uint64, len(weights))
	}
	rems := a.rems[:len(weights)]
	var sum uint64
	for _, w := range weights {
		sum += uint64(w)
	}
	if total < 0 || sum == 0 && total != 0 {
		panic("discount: allocate a negative total, or a total over zero weights")
	}
	if sum == 0 {
		clear(dst)
		return
	}
	t := uint64(total)
	var given uint64
	idx := a.idx[:0]
	for i, w := range weights {
		if w == 0 {
			dst[i], rems[i] = 0, 0
			continue
		}
		hi, lo := bits.Mul64(t, uint64(w))
		q, rem := bits.Div64(hi, lo, sum) // q ≤ t, since w ≤ sum: no overflow
		dst[i] = money.Amount(q)
		rems[i] = rem
		given += q
		idx = append(idx, i)
	}
	a.idx = idx
	// What is left over is the sum of the remainders over sum, less than the
	// number of positive weights: each goes to one of the largest remainders,
	// the lower index first on a tie, as money.Allocate hands them out.
	left := int(t - given)
	switch {
	case left == 0:
	case left == 1:
		best := idx[0]
		for _, i := range idx[1:] {
			if rems[i] > rems[best] {
				best = i
			}
		}
		dst[best]++
	default:
		slices.SortFunc(idx, func(x, y int) int {
			if rems[x] != rems[y] {
				return cmp.Compare(rems[y], rems[x])
			}
			return x - y
		})
		for _, i := range idx[:left] {
			dst[i]++
		}
	}
}
