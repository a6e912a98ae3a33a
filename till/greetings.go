package till

import "sync"

// recentGreetings are the greetings of the last sales this process recorded,
// by sale id, so that a POS app's retry of a sale (answered from the ledger as
// a replay) greets as the sale did without pricing the basket again. A
// greeting carries the customer's name and is never stored: it is kept here
// in memory only, for the last maxRecentGreetings sales, and dropped when the
// card's holder is forgotten. After a restart a replay prices again.
type recentGreetings struct {
	mu    sync.Mutex
	byID  map[string]greeted
	order []string // ids, oldest first
}

type greeted struct{ card, text string }

const maxRecentGreetings = 256

func (g *recentGreetings) put(id, card, text string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.byID == nil {
		g.byID = make(map[string]greeted)
	}
	if _, ok := g.byID[id]; !ok {
		g.order = append(g.order, id)
	}
	g.byID[id] = greeted{card, text}
	for len(g.byID) > maxRecentGreetings && len(g.order) > 0 {
		delete(g.byID, g.order[0])
		g.order = g.order[1:]
	}
	if len(g.order) > 2*maxRecentGreetings { // forgotten ids left in order
		kept := g.order[:0:0]
		for _, id := range g.order {
			if _, ok := g.byID[id]; ok {
				kept = append(kept, id)
			}
		}
		g.order = kept
	}
}

// get returns the greeting of sale id on card, if this process recorded it.
func (g *recentGreetings) get(id, card string) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.byID[id]
	if !ok || e.card != card {
		return "", false
	}
	return e.text, true
}

// forget drops the greetings of card's sales.
func (g *recentGreetings) forget(card string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for id, e := range g.byID {
		if e.card == card {
			delete(g.byID, id)
		}
	}
}
