package pgstore

import "sync"

// known remembers, in this replica, rows that exist in the database and are
// never deleted: cards (a card's row stays when its holder is forgotten) and
// seen pairs (a terminal that has seen a card keeps getting its changes).
// Append leaves out of its statements what it knows exists: at a live HQ the
// same regulars come back at the same tills, and inserting their rows again
// ON CONFLICT DO NOTHING was a quarter of an upload's database time
// (docs/benchmarks.md). Only what a committed transaction wrote is added.
// Each set is emptied when it reaches maxKnown entries, which bounds its
// memory (~60 MB for both) and costs only repeated inserts afterwards.
//
// Rows deleted behind the store's back (a TRUNCATE by hand) are not noticed
// for seen pairs; for cards, queueLockCards finds the row missing, the upload
// fails, forget empties the set, and the terminal's retry inserts it again.
type known struct {
	mu    sync.Mutex
	cards map[string]struct{}
	seen  map[seenKey]struct{}
}

type seenKey struct{ terminal, card string }

const maxKnown = 500_000

// newCards returns the cards of cards not known to exist.
func (k *known) newCards(cards []string) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for _, c := range cards {
		if _, ok := k.cards[c]; !ok {
			out = append(out, c)
		}
	}
	return out
}

// unseen returns the cards of cards terminal is not known to have seen.
func (k *known) unseen(terminal string, cards []string) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for _, c := range cards {
		if _, ok := k.seen[seenKey{terminal, c}]; !ok {
			out = append(out, c)
		}
	}
	return out
}

// add records cards, and their being seen by terminal, as committed.
func (k *known) add(terminal string, cards []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cards == nil || len(k.cards)+len(cards) > maxKnown {
		k.cards = make(map[string]struct{}, len(cards))
	}
	if k.seen == nil || len(k.seen)+len(cards) > maxKnown {
		k.seen = make(map[seenKey]struct{}, len(cards))
	}
	for _, c := range cards {
		k.cards[c] = struct{}{}
		k.seen[seenKey{terminal, c}] = struct{}{}
	}
}

// addSeen records that terminal has seen card, committed.
func (k *known) addSeen(terminal, card string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.seen == nil || len(k.seen) >= maxKnown {
		k.seen = make(map[seenKey]struct{})
	}
	k.seen[seenKey{terminal, card}] = struct{}{}
}

// forget empties both sets.
func (k *known) forget() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cards, k.seen = nil, nil
}
