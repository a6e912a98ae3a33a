package till

import (
	"fmt"
	"testing"
)

// recentGreetings keeps the last maxRecentGreetings sales' greetings, each
// for its card only, and forgets a card's at once.
func TestRecentGreetings(t *testing.T) {
	var g recentGreetings
	n := 3 * maxRecentGreetings
	for i := range n {
		g.put(fmt.Sprint("s", i), fmt.Sprint("c", i%3), fmt.Sprint("hello ", i))
	}
	if _, ok := g.get("s0", "c0"); ok {
		t.Error("the oldest greeting is still kept")
	}
	last := n - 1
	if got, ok := g.get(fmt.Sprint("s", last), fmt.Sprint("c", last%3)); !ok || got != fmt.Sprint("hello ", last) {
		t.Errorf("the last greeting = %q, %t", got, ok)
	}
	if _, ok := g.get(fmt.Sprint("s", last), "other"); ok {
		t.Error("a greeting answered for another card")
	}
	if len(g.byID) != maxRecentGreetings || len(g.order) > 2*maxRecentGreetings {
		t.Errorf("kept %d greetings, %d ids in order", len(g.byID), len(g.order))
	}
	g.forget(fmt.Sprint("c", last%3))
	if _, ok := g.get(fmt.Sprint("s", last), fmt.Sprint("c", last%3)); ok {
		t.Error("a forgotten card's greeting is kept")
	}
	for i := range n { // forgotten ids in order do not grow it without bound
		g.put(fmt.Sprint("t", i), "c9", "hi")
		g.forget("c9")
	}
	if len(g.order) > 2*maxRecentGreetings+1 {
		t.Errorf("%d ids in order after puts and forgets", len(g.order))
	}
}
