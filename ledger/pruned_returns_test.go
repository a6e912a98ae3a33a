package ledger

import (
	"errors"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/pos"
)

// TestPrunedSaleReturns: a sale's returns count stays when the sale is
// pruned, so that a refund of it with HQ's copy of its event is bounded by
// the returns made here before; Verify holds the count to the refunds it
// still keeps; a file migrated from schema 4, whose pruning dropped the
// counts, marks the sales pruned until then as not counted.
func TestPrunedSaleReturns(t *testing.T) {
	l, path := openTest(t, Options{})
	sale := recordUnits(t, l, "s1", "C1", 3, 100_00)
	if _, err := l.RecordRefund(refundReq("r1", "s1", pos.ReturnLine{Line: 1, Qty: 1}), refundPrice("r1")); err != nil {
		t.Fatal(err)
	}
	se, err := l.SaleOf(refundReq("x", "s1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Ack(2); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Prune(testEpoch.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if pruned, counted, err := l.PrunedSale(sale.Seq); !pruned || !counted || err != nil {
		t.Fatalf("PrunedSale after the prune: %v %v %v, want pruned and counted", pruned, counted, err)
	}
	own := func(id string, qty int64) error {
		_, err := l.RecordRefund(RefundRequest{ID: id, Digest: [32]byte{byte(len(id)), byte(qty)}, Foreign: &se,
			Lines: []pos.ReturnLine{{Line: 1, Qty: qty}}}, refundPrice(id))
		return err
	}
	var over *OverReturnError
	if err := own("r2", 3); !errors.As(err, &over) || over.Before != 1 {
		t.Errorf("three of three, one returned before the prune: %v, want over_return counting 1 before", err)
	}
	if err := own("r2", 2); err != nil {
		t.Fatalf("the other two: %v", err)
	}
	if err := own("r3", 1); !errors.Is(err, ErrOverReturn) {
		t.Errorf("a fourth of three: %v", err)
	}
	if rep, err := l.Verify(); err != nil || !rep.OK() {
		t.Errorf("Verify after the refunds of the pruned sale: %+v %v", rep.Problems, err)
	}
	l.Close()

	// An edited count below what the kept refund returned is found.
	boltUpdate(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketReturns).Put(u64(sale.Seq), encodeReturns(returnsRecord{Lines: []int64{1}}))
	})
	l = openAt(t, path, Options{}, checkNone)
	rep, err := l.Verify()
	if err != nil || rep.OK() || !strings.Contains(rep.Problems[0].Err.Error(), "line 1 counted 1, the kept refunds return 2") {
		t.Errorf("Verify of a pruned sale's count edited below its kept refund: %+v %v", rep.Problems, err)
	}
	l.Close()

	// A negative count of a pruned sale would cancel HQ's: Verify finds it
	// and a refund refuses it.
	boltUpdate(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketReturns).Put(u64(sale.Seq), encodeReturns(returnsRecord{Lines: []int64{-5}}))
	})
	l = openAt(t, path, Options{}, checkNone)
	if rep, err := l.Verify(); err != nil || rep.OK() || !strings.Contains(rep.Problems[0].Err.Error(), "line 1 counted -5") {
		t.Errorf("Verify of a pruned sale's negative count: %+v %v", rep.Problems, err)
	}
	if err := own("r6", 1); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a refund over a negative count: %v, want ErrCorrupt", err)
	}
	l.Close()
	// returns_kept edited past the anchor hides no kept sale's count: it
	// reads as the anchor (the pruned sales then count as not counted
	// here), and Verify says so.
	boltUpdate(t, path, func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketReturns).Put(u64(sale.Seq), encodeReturns(returnsRecord{Lines: []int64{3}})); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keyReturnsKept, u64(1000))
	})
	l = openAt(t, path, Options{}, checkNone)
	if rep, err := l.Verify(); err != nil || rep.OK() || !strings.Contains(rep.Problems[0].Err.Error(), "returns_kept 1000 is beyond the anchor") {
		t.Errorf("Verify of returns_kept past the anchor: %+v %v", rep.Problems, err)
	}
	if pruned, counted, err := l.PrunedSale(sale.Seq); !pruned || counted || err != nil {
		t.Errorf("PrunedSale with returns_kept past the anchor: %v %v %v, want pruned, not counted", pruned, counted, err)
	}
	l.Close()
	boltUpdate(t, path, func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyReturnsKept, u64(0)) })

	// As a schema 4 file: no returns_kept. Migrating marks the sales pruned
	// so far as not counted.
	boltUpdate(t, path, func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if err := m.Delete(keyReturnsKept); err != nil {
			return err
		}
		return m.Put(keySchema, u64(4))
	})
	l = openAt(t, path, Options{}, checkNone)
	defer l.Close()
	if pruned, counted, err := l.PrunedSale(sale.Seq); !pruned || counted || err != nil {
		t.Errorf("PrunedSale after the migration from schema 4: %v %v %v, want pruned, not counted", pruned, counted, err)
	}
	if err := own("r4", 1); !errors.Is(err, ErrNoSale) || !strings.Contains(err.Error(), "return it at another till") {
		t.Errorf("a refund of a sale pruned before schema 5: %v, want ErrNoSale saying where to go", err)
	}
	var in *pos.InputError
	if _, err := l.RecordRefund(RefundRequest{ID: "r5", Digest: [32]byte{5}, Foreign: &event.Event{ID: "T1-99", Terminal: "T1", Seq: 99, Type: event.TypeSale, Body: se.Body},
		Lines: []pos.ReturnLine{{Line: 1, Qty: 1}}}, refundPrice("r5")); !errors.As(err, &in) || !strings.Contains(in.Problem, "no pruned sale of this ledger") {
		t.Errorf("an own sale's event past what the ledger pruned: %v, want an InputError", err)
	}
}
