package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/pos"
)

// TestPendingRedeemedKept: what offline sales see of their card's
// redemptions in the outbox is what a walk of the whole outbox finds, while
// the ledger keeps the sums between sales: across sales of other cards, a
// group commit whose later sale sees the earlier one's redemption, a group
// commit that fails (its seqs go to other sales), an acknowledgement,
// another offline start, a clock set back before it, and a reader of the
// file behind the journal.
func TestPendingRedeemedKept(t *testing.T) {
	var clock atomic.Int64 // seconds after testEpoch of the next sale
	now := func() time.Time { return testEpoch.Add(time.Duration(clock.Add(1)-1) * time.Second) }
	l, _ := openTest(t, Options{Terminal: "S1-T1", NoSync: true, Now: now})
	cards := []string{"2000000000015", "2000000000022"}
	day := testEpoch.Add(-time.Hour)
	n := 0
	sale := func(card string, redeemed int64, since time.Time, seen *pos.Account) (SaleRequest, PriceFunc) {
		n++
		req, price := lotSale(fmt.Sprintf("s%d", n), card, 100, 0, redeemed, nil, seen)
		req.OfflineSince = since
		return req, price
	}
	sell := func(card string, redeemed int64, since time.Time) pos.Account {
		t.Helper()
		var seen pos.Account
		if _, err := l.RecordSale(sale(card, redeemed, since, &seen)); err != nil {
			t.Fatal(err)
		}
		return seen
	}
	check := func(when string, since time.Time) {
		t.Helper()
		for _, card := range cards {
			want := walkRedeemed(t, l, card, since)
			if got, err := l.PendingRedeemed(card, since); err != nil || got != want {
				t.Errorf("%s: PendingRedeemed(%s) = %d, %v; the outbox says %d", when, card, got, err, want)
			}
			if seen := sell(card, 0, since); seen.OfflineRedeemedToday != want {
				t.Errorf("%s: a sale of %s saw %d redeemed; the outbox says %d", when, card, seen.OfflineRedeemedToday, want)
			}
		}
	}

	for i := range 30 {
		sell([]string{cards[0], cards[1], ""}[i%3], int64(i%7), day)
		if i%4 == 0 {
			check(fmt.Sprintf("after sale %d", i), day)
		}
	}

	// A group commit: the leader is held in its commit while two sales of
	// the first card queue; the second of them sees the first's redemption.
	hold := make(chan struct{})
	entered := make(chan struct{}, 1)
	var commits atomic.Int64
	failSecond := false
	l.beforeCommit = func() error {
		switch commits.Add(1) {
		case 1:
			entered <- struct{}{}
			<-hold
		case 2:
			if failSecond {
				return errors.New("the disk is gone")
			}
		}
		return nil
	}
	batch := func() (errs [2]error, seen pos.Account) {
		commits.Store(0)
		hold = make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { l.RecordSale(sale(cards[1], 0, day, nil)) })
		<-entered
		req1, price1 := sale(cards[0], 50, day, nil)
		req2, price2 := sale(cards[0], 0, day, &seen)
		wg.Go(func() { _, errs[0] = l.RecordSale(req1, price1) })
		waitQueued(t, l, 1)
		wg.Go(func() { _, errs[1] = l.RecordSale(req2, price2) })
		waitQueued(t, l, 2)
		close(hold)
		wg.Wait()
		return errs, seen
	}
	before := walkRedeemed(t, l, cards[0], day)
	if errs, seen := batch(); errs[0] != nil || errs[1] != nil || seen.OfflineRedeemedToday != before+50 {
		t.Errorf("a group commit: errors %v, the later sale saw %d redeemed, want %d", errs, seen.OfflineRedeemedToday, before+50)
	}
	check("after a group commit", day)

	// The same, failing: neither sale is recorded, and the next sales take
	// their seqs.
	failSecond = true
	before = walkRedeemed(t, l, cards[0], day)
	if errs, seen := batch(); errs[0] == nil || errs[1] == nil || seen.OfflineRedeemedToday != before+50 {
		t.Errorf("a failed group commit: errors %v, the later sale saw %d redeemed, want %d", errs, seen.OfflineRedeemedToday, before+50)
	}
	l.beforeCommit = nil
	if got := walkRedeemed(t, l, cards[0], day); got != before {
		t.Errorf("after a failed commit the outbox says %d redeemed, want %d", got, before)
	}
	check("after a failed group commit", day)
	sell(cards[0], 3, day)
	check("after a sale in a failed one's seq", day)

	// HQ acknowledges half the outbox.
	st := mustStats(t, l)
	if err := l.Ack(st.LastSeq / 2); err != nil {
		t.Fatal(err)
	}
	check("after an ack", day)
	// Offline again, from the time of a sale part way: the walk stops at the
	// card's first sale before it.
	later := testEpoch.Add(time.Duration(st.LastSeq*3/4) * time.Second)
	check("from a later offline start", later)
	sell(cards[0], 11, later)
	check("after a sale from the later start", later)
	// The till's clock is set back before that start: the card's sale made
	// then ends the count, as the walk of the outbox ends it.
	clock.Store(int64(st.LastSeq / 2))
	sell(cards[0], 13, later)
	check("after a sale made before the start", later)

	// A reader of the file as of an older checkpoint (view without the open
	// transaction) asks with a durable seq behind the count: it is answered
	// in full, and the count is left as it was.
	for _, card := range cards {
		want := walkRedeemed(t, l, card, later)
		through := l.pending.c.through
		err := l.view(func(tx *bolt.Tx) error {
			m, err := readMeta(tx)
			if err != nil {
				return err
			}
			got, err := l.pendingRedeemed(tx, m.acked, m.acked, card, later)
			if err == nil && got != want {
				t.Errorf("a reader behind the count: %s redeemed %d, the outbox says %d", card, got, want)
			}
			return err
		})
		if err != nil || l.pending.c.through != through {
			t.Errorf("a reader behind the count: %v, the count went from seq %d to %d", err, through, l.pending.c.through)
		}
	}
	check("after a reader behind the count", later)
}

// TestPendingRedeemedRandom drives the kept count through random steps
// (offline sales of three cards, some paying with points, the clock moving
// both ways, failed commits, acknowledgements, new offline starts) and holds
// every answer to a walk of the whole outbox.
func TestPendingRedeemedRandom(t *testing.T) {
	var clock atomic.Int64
	now := func() time.Time { return testEpoch.Add(time.Duration(clock.Load()) * time.Second) }
	l, _ := openTest(t, Options{Terminal: "S1-T1", NoSync: true, Now: now})
	rnd := rand.New(rand.NewPCG(29, 3))
	cards := []string{"2000000000015", "2000000000022", "2000000000039", ""}
	since := testEpoch
	for step := range 400 {
		switch r := rnd.IntN(100); {
		case r < 3:
			if st := mustStats(t, l); st.LastSeq > st.Acked {
				if err := l.Ack(st.Acked + 1 + uint64(rnd.IntN(int(st.LastSeq-st.Acked)))); err != nil {
					t.Fatal(err)
				}
			}
		case r < 6:
			since = testEpoch.Add(time.Duration(clock.Load()-int64(rnd.IntN(50))) * time.Second)
		case r < 9:
			clock.Add(-int64(rnd.IntN(20))) // the till's clock set back
		default:
			clock.Add(int64(rnd.IntN(3)))
			card := cards[rnd.IntN(len(cards))]
			var seen pos.Account
			req, price := lotSale(fmt.Sprintf("r%d", step), card, 100, 1, int64(rnd.IntN(4))*int64(rnd.IntN(2)), nil, &seen)
			req.OfflineSince = since
			want := walkRedeemed(t, l, card, since)
			fail := r >= 95
			if fail {
				l.beforeCommit = func() error { return errTest }
			}
			_, err := l.RecordSale(req, price)
			l.beforeCommit = nil
			if fail != (err != nil) {
				t.Fatalf("step %d: sale: %v", step, err)
			}
			if card != "" && seen.OfflineRedeemedToday != want {
				t.Fatalf("step %d: a sale of %s saw %d redeemed; the outbox says %d", step, card, seen.OfflineRedeemedToday, want)
			}
		}
		for _, card := range cards[:3] {
			want := walkRedeemed(t, l, card, since)
			if got, err := l.PendingRedeemed(card, since); err != nil || got != want {
				t.Fatalf("step %d: PendingRedeemed(%s) = %d, %v; the outbox says %d", step, card, got, err, want)
			}
		}
	}
}

// walkRedeemed is the reference for PendingRedeemed: every event of the
// outbox, newest first, summing card's redemptions back to its first event
// before since.
func walkRedeemed(t *testing.T, l *Ledger, card string, since time.Time) int64 {
	t.Helper()
	var sum int64
	err := l.view(func(tx *bolt.Tx) error {
		m, err := readMeta(tx)
		if err != nil {
			return err
		}
		for seq := m.lastSeq; seq > m.acked; seq-- {
			e, err := decodeEvent(tx.Bucket(bucketEvents).Get(u64(seq)))
			if err != nil {
				return err
			}
			var s pos.Sale
			if err := json.Unmarshal(e.Body, &s); err != nil {
				return err
			}
			if s.Card != card {
				continue
			}
			if e.At.Before(since) {
				break
			}
			sum += max(s.PointsRedeemed, 0)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sum
}
