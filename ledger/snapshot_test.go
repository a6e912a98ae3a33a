package ledger

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// An account view is HQ's snapshot plus the sales recorded here after it.
func TestPutSnapshot(t *testing.T) {
	l, _ := openTest(t, Options{})
	for i, card := range []string{"C", "C", "D", "C", "C"} { // seqs 1..5
		record(t, l, sale{id: string(rune('a' + i)), card: card, spend: 100, points: 1})
	}
	hq := pos.Account{LifetimeSpend: 50000, Points: 700, Sales: 40, LastSale: testEpoch.Add(-time.Hour),
		Profile: &pos.Profile{Name: "Василий", Patronymic: "Петрович"}}
	type want struct {
		spend  money.Amount
		points int64
		sales  int64
		last   time.Time
	}
	// Steps run in order on the same ledger.
	steps := []struct {
		name  string
		card  string
		acct  pos.Account
		asOf  uint64
		err   error // errors.Is target
		input bool  // a *pos.InputError
		want  want  // the card's view afterwards
	}{
		{name: "snapshot as of seq 2 counts sales 1 and 2", card: "C", acct: hq, asOf: 2,
			want: want{50200, 702, 42, testEpoch.Add(4 * time.Second)}},
		{name: "older snapshot refused", card: "C", acct: pos.Account{Points: 1}, asOf: 1, err: ErrStaleSnapshot,
			want: want{50200, 702, 42, testEpoch.Add(4 * time.Second)}},
		{name: "beyond the last event", card: "C", acct: hq, asOf: 6, err: ErrAckAhead,
			want: want{50200, 702, 42, testEpoch.Add(4 * time.Second)}},
		{name: "newer snapshot with other stores' sales", card: "C", acct: pos.Account{LifetimeSpend: 90000, Points: 5, Sales: 60, LastSale: testEpoch.Add(time.Hour)}, asOf: 4,
			want: want{90100, 6, 61, testEpoch.Add(time.Hour)}},
		{name: "card with no sales here", card: "E", acct: pos.Account{Card: "E", LifetimeSpend: 7, Points: 3, Sales: 1}, asOf: 5,
			want: want{7, 3, 1, time.Time{}}},
		{name: "account of another card", card: "D", acct: pos.Account{Card: "X"}, asOf: 5, input: true,
			want: want{100, 1, 1, testEpoch.Add(2 * time.Second)}},
		{name: "no card", card: "", acct: hq, asOf: 5, input: true},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			err := l.PutSnapshot(s.card, s.acct, s.asOf, hashAt(t, l, s.asOf))
			var in *pos.InputError
			switch {
			case s.input && !errors.As(err, &in):
				t.Fatalf("err = %v, want a pos.InputError", err)
			case !s.input && s.err == nil && err != nil, s.err != nil && !errors.Is(err, s.err):
				t.Fatalf("err = %v, want %v", err, s.err)
			}
			if s.card == "" {
				return
			}
			a, ok, err := l.Account(s.card)
			if !ok || err != nil || a.Card != s.card || a.LifetimeSpend != s.want.spend || a.Points != s.want.points || a.Sales != s.want.sales || !a.LastSale.Equal(s.want.last) {
				t.Errorf("Account(%s) = %+v %v %v, want %+v", s.card, a, ok, err, s.want)
			}
		})
	}
	// A snapshot's personal data is not kept with the account (holders are, see
	// PutHolder); a sale adds to the view.
	if err := l.PutSnapshot("C", hq, 5, hashAt(t, l, 5)); err != nil {
		t.Fatal(err)
	}
	record(t, l, sale{id: "f", card: "C", spend: 1, points: 1})
	a, _, _ := l.Account("C")
	if a.Profile != nil || a.LifetimeSpend != 50001 || a.Sales != 41 {
		t.Errorf("Account(C) after a sale = %+v", a)
	}
	for _, e := range allEvents(t, l) {
		if e.Seq == 6 && (strings.Contains(e.Body, "Василий") || strings.Contains(e.Body, "Петрович")) {
			t.Errorf("personal data entered the chained event: %s", e.Body)
		}
	}
	// The cleanup's Verify rebuilds C, D and E from their bases and events.
}
