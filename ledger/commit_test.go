package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tilld/tilld/pos"
)

// gate holds every commit until the test lets it through, so that the sales
// arriving meanwhile queue up and form the next batch deterministically.
type gate struct {
	commits atomic.Int64
	entered chan struct{}
	release chan struct{}
}

func newGate(l *Ledger) *gate {
	g := &gate{entered: make(chan struct{}, 100), release: make(chan struct{}, 100)}
	l.beforeCommit = func() error {
		g.commits.Add(1)
		g.entered <- struct{}{}
		<-g.release
		return nil
	}
	return g
}

// waitQueued waits until n sales wait behind the committing one.
func waitQueued(t *testing.T, l *Ledger, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.commits.mu.Lock()
		got := len(l.commits.queue)
		l.commits.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sales queued, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

type result struct {
	r        Receipt
	err      error
	panicked any
}

// goRecord records req on its own goroutine and delivers the result, or what
// RecordSale panicked with.
func goRecord(l *Ledger, req SaleRequest, price PriceFunc) <-chan result {
	ch := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				ch <- result{panicked: p}
			}
		}()
		r, err := l.RecordSale(req, price)
		ch <- result{r: r, err: err}
	}()
	return ch
}

// Sales that arrive while a commit runs share the next transaction, in the
// order they arrived; one that fails inside the batch fails alone.
func TestGroupCommitBatch(t *testing.T) {
	l, _ := openTest(t, Options{})
	g := newGate(l)

	first := sale{id: "first", card: "C", spend: 10, points: 1}
	firstDone := goRecord(l, first.request(), first.price(nil))
	<-g.entered // the first sale commits alone, and holds the disk

	a := sale{id: "a", card: "C", spend: 100, points: 2}
	e := sale{id: "e", card: "C", spend: 1000, points: 3}
	conflict := first.request()
	conflict.Digest[0] ^= 1
	var eSaw pos.Account
	batch := []struct {
		name  string
		req   SaleRequest
		price PriceFunc
		check func(t *testing.T, res result)
	}{
		{"good", a.request(), a.price(nil), func(t *testing.T, res result) {
			if res.err != nil || res.r.Seq != 2 || res.r.Replayed {
				t.Errorf("got %+v, %v; want seq 2", res.r, res.err)
			}
		}},
		{"price fails", sale{id: "b"}.request(), func(pos.Account, time.Time) (Priced, error) { return Priced{}, errTest }, func(t *testing.T, res result) {
			if !errors.Is(res.err, errTest) {
				t.Errorf("err = %v, want the price error", res.err)
			}
		}},
		{"id reused", conflict, first.price(nil), func(t *testing.T, res result) {
			if !errors.Is(res.err, ErrConflict) {
				t.Errorf("err = %v, want ErrConflict", res.err)
			}
		}},
		{"retry of the first", first.request(), first.price(nil), func(t *testing.T, res result) {
			if res.err != nil || !res.r.Replayed || res.r.Seq != 1 {
				t.Errorf("got %+v, %v; want the replay of seq 1", res.r, res.err)
			}
		}},
		{"price panics", sale{id: "f"}.request(), func(pos.Account, time.Time) (Priced, error) { panic("pricing bug") }, func(t *testing.T, res result) {
			if res.panicked != "pricing bug" {
				t.Errorf("got %+v; want the caller to panic with the price function's value", res)
			}
		}},
		{"good after failures", e.request(), e.price(&eSaw), func(t *testing.T, res result) {
			if res.err != nil || res.r.Seq != 3 {
				t.Errorf("got %+v, %v; want seq 3", res.r, res.err)
			}
		}},
		{"same id twice in the batch", a.request(), a.price(nil), func(t *testing.T, res result) {
			if res.err != nil || !res.r.Replayed || res.r.Seq != 2 {
				t.Errorf("got %+v, %v; want the replay of seq 2", res.r, res.err)
			}
		}},
	}
	done := make([]<-chan result, len(batch))
	for i, s := range batch {
		done[i] = goRecord(l, s.req, s.price)
		waitQueued(t, l, i+1) // fixes the order of the queue
	}
	g.release <- struct{}{}
	if res := <-firstDone; res.err != nil || res.r.Seq != 1 {
		t.Fatalf("first sale: %+v %v", res.r, res.err)
	}
	<-g.entered // the batch commits...
	for _, ch := range done {
		select {
		case res := <-ch:
			t.Fatalf("a sale was answered before its commit: %+v", res)
		default:
		}
	}
	g.release <- struct{}{} // ...in one transaction
	for i, s := range batch {
		t.Run(s.name, func(t *testing.T) { s.check(t, <-done[i]) })
	}
	if n := g.commits.Load(); n != 2 {
		t.Errorf("%d commits, want 2: the first sale, then the batch", n)
	}
	if eSaw.Sales != 2 || eSaw.LifetimeSpend != 110 {
		t.Errorf("a later sale of the batch saw the account %+v, want the first sale and sale a in it", eSaw)
	}
	if a, _, _ := l.Account("C"); a.Sales != 3 || a.LifetimeSpend != 1110 || a.Points != 6 {
		t.Errorf("account = %+v, want 3 sales of 1110 and 6 points", a)
	}
	if st := mustStats(t, l); st.LastSeq != 3 {
		t.Errorf("last seq %d, want 3", st.LastSeq)
	}
	l.beforeCommit = nil
	// The failed sales' ids were not taken.
	if r := record(t, l, sale{id: "b", spend: 1}); r.Seq != 4 || r.Replayed {
		t.Errorf("sale b after its failure: %+v", r)
	}
}

// Many cashiers at once share fsyncs: with a slow disk, far fewer commits than
// sales, and every sale is there exactly once.
func TestGroupCommitShares(t *testing.T) {
	l, _ := openTest(t, Options{})
	var commits atomic.Int64
	l.beforeCommit = func() error {
		commits.Add(1)
		time.Sleep(2 * time.Millisecond) // an SD card's fsync
		return nil
	}
	const writers, each = 16, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				s := sale{id: fmt.Sprintf("w%d-%d", w, i), card: fmt.Sprint("C", w%4), spend: 10, points: 1}
				if _, err := l.RecordSale(s.request(), s.price(nil)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	n := commits.Load()
	t.Logf("%d sales in %d commits", writers*each, n)
	if n > writers*each/4 {
		t.Errorf("%d commits for %d sales from %d writers: they are not grouped", n, writers*each, writers)
	}
	if st := mustStats(t, l); st.LastSeq != writers*each {
		t.Errorf("last seq %d, want %d", st.LastSeq, writers*each)
	}
	for c := range 4 {
		if a, _, _ := l.Account(fmt.Sprint("C", c)); a.Sales != writers/4*each {
			t.Errorf("card C%d: %d sales, want %d", c, a.Sales, writers/4*each)
		}
	}
}

// When the disk refuses a commit, the sale is refused with ErrStorage (and
// ErrDiskFull when the disk is full), nothing of it is stored, reads keep
// working, and the same sale goes through once the disk accepts writes again.
func TestCommitFailure(t *testing.T) {
	tests := []struct {
		name string
		err  error
		full bool
	}{
		{"disk full", &fs.PathError{Op: "write", Path: "ledger.db", Err: syscall.ENOSPC}, true},
		{"quota", &fs.PathError{Op: "write", Path: "ledger.db", Err: syscall.EDQUOT}, true},
		{"I/O error", &fs.PathError{Op: "fdatasync", Path: "ledger.db", Err: syscall.EIO}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			l, _ := openTest(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			record(t, l, sale{id: "s1", card: "C", spend: 100, points: 1})
			before := allEvents(t, l)
			acct, _, _ := l.Account("C")

			var failing atomic.Bool
			failing.Store(true)
			l.beforeCommit = func() error {
				if failing.Load() {
					return tt.err
				}
				return nil
			}
			s2 := sale{id: "s2", card: "C", spend: 50, points: 1}
			for range 3 {
				_, err := l.RecordSale(s2.request(), s2.price(nil))
				if !errors.Is(err, ErrStorage) || errors.Is(err, ErrDiskFull) != tt.full || !errors.Is(err, tt.err) {
					t.Fatalf("err = %v; want ErrStorage (disk full: %t) wrapping %v", err, tt.full, tt.err)
				}
				if !strings.Contains(err.Error(), "record sale s2") {
					t.Errorf("err = %q, want it to name the sale", err)
				}
			}
			// A batch fails as a whole.
			var wg sync.WaitGroup
			for i := range 5 {
				wg.Go(func() {
					s := sale{id: fmt.Sprint("b", i), spend: 1}
					if _, err := l.RecordSale(s.request(), s.price(nil)); !errors.Is(err, ErrStorage) {
						t.Errorf("sale in a failing batch: %v", err)
					}
				})
			}
			wg.Wait()
			// An acknowledgement writes nothing of its own: it rides along
			// with the next commit that works.
			if err := l.Ack(1); err != nil {
				t.Errorf("Ack with a failing disk: %v, want it held for the next commit", err)
			}

			// Nothing partial, and reads work.
			if got := allEvents(t, l); fmt.Sprint(got) != fmt.Sprint(before) {
				t.Errorf("events changed by failed commits:\n%v\n%v", got, before)
			}
			if a, _, err := l.Account("C"); err != nil || a.Sales != acct.Sales || a.LifetimeSpend != acct.LifetimeSpend {
				t.Errorf("account after failed commits = %+v, %v; want %+v", a, err, acct)
			}
			if st := mustStats(t, l); st.LastSeq != 1 || st.Acked != 1 {
				t.Errorf("stats after failed commits = %+v", st)
			}

			failing.Store(false)
			if r := record(t, l, s2); r.Seq != 2 || r.Replayed {
				t.Errorf("the same sale once the disk works: %+v, want a new seq 2", r)
			}
			if err := l.Ack(2); err != nil {
				t.Errorf("Ack once the disk works: %v", err)
			}
			out := logs.String()
			if n := strings.Count(out, "ledger cannot write"); n != 1 {
				t.Errorf("the failure was logged %d times, want once:\n%s", n, out)
			}
			if n := strings.Count(out, "ledger writes to its file again"); n != 1 {
				t.Errorf("the recovery was logged %d times, want once:\n%s", n, out)
			}
		})
	}
}
