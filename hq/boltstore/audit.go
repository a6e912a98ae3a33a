package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/sync/wire"
)

// The audit (hq.Audits) keeps, in bucket "audit", a chain's key (as in
// "chains") to its auditState, and in "audit_flags" terminal+NUL+epoch+NUL+
// big-endian seq to a flagged sale (wire.AuditFlag as JSON). Both are created
// by the first audit. One auditor runs at a time (Store.auditMu): it reads a
// batch in a read transaction, prices it outside any transaction, and stores
// what it found with the cursor in one write transaction, so ingest waits for
// it only while that is written.
var (
	bucketAudit      = []byte("audit")
	bucketAuditFlags = []byte("audit_flags")
)

// auditState is a chain's audit: the seq it has read up to, and its tally.
type auditState struct {
	Audited uint64 `json:"audited"`
	hq.AuditTally
}

func flagPrefix(terminal, epoch string) []byte {
	return []byte(terminal + "\x00" + epoch + "\x00")
}

func flagKey(terminal, epoch string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(flagPrefix(terminal, epoch), seq)
}

// terminalOfKey returns the terminal of a key of bucket "chains".
func terminalOfKey(k []byte) string {
	if i := bytes.IndexByte(k, 0); i >= 0 {
		return string(k[:i])
	}
	return string(k)
}

// getAudit returns the audit of chain c of the terminal whose key is k; a
// chain never audited starts at its base.
func getAudit(tx *bolt.Tx, k []byte, c hq.ChainState) (auditState, error) {
	st := auditState{Audited: c.Epoch.BaseSeq}
	if b := tx.Bucket(bucketAudit); b != nil {
		if v := b.Get(k); v != nil {
			if err := json.Unmarshal(v, &st); err != nil {
				return st, fmt.Errorf("audit of chain %q: %w", k, err)
			}
		}
	}
	return st, nil
}

// AuditNext implements hq.Audits.
func (s *Store) AuditNext(ctx context.Context, limit int, fn func(hq.AuditBatch) (hq.AuditResult, error)) (bool, error) {
	s.auditMu.Lock()
	defer s.auditMu.Unlock()
	var key []byte
	var b hq.AuditBatch
	var from auditState
	err := s.view(func(tx *bolt.Tx) error {
		// Start after the chain audited last, so that a busy terminal never
		// keeps the others waiting.
		cur := tx.Bucket(bucketChains).Cursor()
		try := func(k, v []byte) (bool, error) {
			err := s.auditRead(tx, k, v, limit, &b, &from)
			if err != nil || b.Events != nil {
				key = bytes.Clone(k)
				return true, err
			}
			return false, nil
		}
		for k, v := cur.Seek(s.auditAfter); k != nil; k, v = cur.Next() {
			if bytes.Equal(k, s.auditAfter) {
				continue
			}
			if done, err := try(k, v); done {
				return err
			}
		}
		for k, v := cur.First(); k != nil && bytes.Compare(k, s.auditAfter) <= 0; k, v = cur.Next() {
			if done, err := try(k, v); done {
				return err
			}
		}
		return nil
	})
	if err != nil || b.Events == nil {
		if err != nil {
			return false, fmt.Errorf("audit: %w", err)
		}
		return false, nil
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	r, err := fn(b)
	if err != nil {
		return false, err
	}
	last := b.Events[len(b.Events)-1].Seq
	err = s.update(func(tx *bolt.Tx) error {
		ab, err := tx.CreateBucketIfNotExists(bucketAudit)
		if err != nil {
			return err
		}
		fb, err := tx.CreateBucketIfNotExists(bucketAuditFlags)
		if err != nil {
			return err
		}
		c, ok, err := chainTx{tx, b.Terminal}.Chain(b.Epoch)
		if err != nil || !ok {
			return fmt.Errorf("chain %s/%q is gone: %v", b.Terminal, b.Epoch, err)
		}
		st, err := getAudit(tx, key, c)
		if err != nil {
			return err
		}
		if st.Audited != from.Audited {
			return fmt.Errorf("chain %s/%q: audited to %d meanwhile, not %d", b.Terminal, b.Epoch, st.Audited, from.Audited)
		}
		for _, f := range r.Flags {
			v, err := json.Marshal(f)
			if err != nil {
				return err
			}
			if err := fb.Put(flagKey(b.Terminal, b.Epoch, f.Seq), v); err != nil {
				return err
			}
		}
		st.Audited = last
		st.Add(r.AuditTally)
		v, err := json.Marshal(st)
		if err != nil {
			return err
		}
		return ab.Put(key, v)
	})
	if err != nil {
		return false, fmt.Errorf("audit of %s/%q to %d: %w", b.Terminal, b.Epoch, last, err)
	}
	s.auditAfter = key
	return true, nil
}

// auditRead fills b with up to limit events of the chain at k (v its state)
// after its audit cursor; b.Events stays nil when none waits.
func (s *Store) auditRead(tx *bolt.Tx, k, v []byte, limit int, b *hq.AuditBatch, from *auditState) error {
	c, err := decodeChain(v)
	if err != nil {
		return fmt.Errorf("chain %q: %w", k, err)
	}
	st, err := getAudit(tx, k, c)
	if err != nil || c.Seq <= st.Audited {
		return err
	}
	terminal := terminalOfKey(k)
	eb := tx.Bucket(bucketEvents).Bucket(chainKey(terminal, c.Epoch.ID))
	if eb == nil {
		return fmt.Errorf("chain %s/%q: acked %d but no events", terminal, c.Epoch.ID, c.Seq)
	}
	evs := []event.Event{}
	cur := eb.Cursor()
	for ek, ev := cur.Seek(seqKey(st.Audited + 1)); ek != nil && len(evs) < max(limit, 1); ek, ev = cur.Next() {
		var e event.Event
		if err := json.Unmarshal(ev, &e); err != nil {
			return fmt.Errorf("event %s/%q/%d: %w", terminal, c.Epoch.ID, binary.BigEndian.Uint64(ek), err)
		}
		evs = append(evs, e)
	}
	if len(evs) == 0 {
		return fmt.Errorf("chain %s/%q: acked %d but no events after %d", terminal, c.Epoch.ID, c.Seq, st.Audited)
	}
	*b = hq.AuditBatch{Terminal: terminal, Epoch: c.Epoch.ID, Events: evs}
	*from = st
	return nil
}

// AuditReport implements hq.Audits.
func (s *Store) AuditReport(_ context.Context, limit int) (wire.AuditReport, error) {
	rep := wire.AuditReport{Chains: []wire.AuditChain{}, Flags: []wire.AuditFlag{}}
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		if rep.Summary, rep.Chains, err = auditChains(tx); err != nil {
			return err
		}
		fb := tx.Bucket(bucketAuditFlags)
		if fb == nil {
			return nil
		}
		return fb.ForEach(func(k, v []byte) error {
			if limit > 0 && len(rep.Flags) >= limit {
				return nil
			}
			var f wire.AuditFlag
			if err := json.Unmarshal(v, &f); err != nil {
				return fmt.Errorf("audit flag %q: %w", k, err)
			}
			rep.Flags = append(rep.Flags, f)
			return nil
		})
	})
	if err != nil {
		return wire.AuditReport{}, fmt.Errorf("audit report: %w", err)
	}
	return rep, nil
}

// AuditSummary implements hq.Audits.
func (s *Store) AuditSummary(context.Context) (sum wire.AuditSummary, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		sum, _, err = auditChains(tx)
		return err
	})
	if err != nil {
		return wire.AuditSummary{}, fmt.Errorf("audit summary: %w", err)
	}
	return sum, nil
}

// auditChains returns every chain's audit, by terminal and epoch, and their sum.
func auditChains(tx *bolt.Tx) (sum wire.AuditSummary, out []wire.AuditChain, err error) {
	fb := tx.Bucket(bucketAuditFlags)
	out = []wire.AuditChain{}
	err = tx.Bucket(bucketChains).ForEach(func(k, v []byte) error {
		c, err := decodeChain(v)
		if err != nil {
			return fmt.Errorf("chain %q: %w", k, err)
		}
		st, err := getAudit(tx, k, c)
		if err != nil {
			return err
		}
		ac := wire.AuditChain{Terminal: terminalOfKey(k), Epoch: c.Epoch.ID, Audited: st.Audited, Acked: c.Seq, Sales: st.Sales,
			Unpriceable: st.Unpriceable, UnpricedFirst: st.UnpricedFirst, UnpricedLast: st.UnpricedLast,
			Refunds: st.Refunds, RefundsFlagged: st.RefundsFlagged}
		if fb != nil {
			p := flagPrefix(ac.Terminal, ac.Epoch)
			cur := fb.Cursor()
			for fk, _ := cur.Seek(p); fk != nil && bytes.HasPrefix(fk, p); fk, _ = cur.Next() {
				ac.Flagged++
			}
		}
		ac.Flagged -= ac.RefundsFlagged // the flags of refunds are counted apart
		sum.Sales += ac.Sales
		sum.Flagged += ac.Flagged
		sum.Refunds += ac.Refunds
		sum.RefundsFlagged += ac.RefundsFlagged
		sum.Unpriceable += ac.Unpriceable
		sum.Waiting += int64(ac.Acked - ac.Audited)
		out = append(out, ac)
		return nil
	})
	// The keys of "chains" sort by terminal, then epoch: a terminal's first
	// chain (its bare id) comes first, and "T1"+NUL+epoch before "T10".
	return sum, out, err
}
