package ledger

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Group commit. Every sale waits for its fsync, and an fsync costs the same for
// one sale as for fifty, so sales that arrive while a commit is on its way to the
// disk are recorded together in the next transaction.
//
// There is no committer goroutine: the caller that finds nobody committing
// commits itself, at once, so a lone writer pays nothing for the grouping.
// Callers that arrive meanwhile queue up. When the committing caller (the
// leader) is done, it answers the sales of its batch and hands the leadership to
// the oldest queued caller, which takes the whole queue as its batch. Nobody is
// answered before the transaction holding their sale is committed, and a batch
// is never larger than maxBatch sales.
//
// One refinement keeps concurrent writers together. Answered callers come back
// with their next sale a moment after the commit; the first one back would find
// nobody committing and commit alone while the others queue behind it, so
// batches would alternate between one sale and the rest. A leader therefore
// waits for company, but only when the previous batch had several sales: until
// as many sales are queued as last time, or for half the last commit's duration
// (at most maxGather), whichever comes first. A lone writer's batches hold one
// sale, so it never waits.

// maxBatch bounds the sales of one transaction, and so its size in memory and
// the latency of its last sale.
const maxBatch = 256

// maxGather bounds a leader's wait for company.
const maxGather = 2 * time.Millisecond

// commitOp is one RecordSale or RecordRefund waiting in the queue.
type commitOp struct {
	id string // the client's id, for logs
	// apply records the event inside the transaction (Ledger.apply for a
	// sale, applyRefund for a refund): it must check everything before its
	// first write, and fail with a *writeError once it has written.
	apply func(tx *bolt.Tx, m *meta, rec *journalRecord) (Receipt, error)

	// Set by the leader before it wakes the caller.
	r        Receipt
	err      error
	panicked any // what price panicked with; re-panicked in the caller's goroutine

	// wake delivers true when the caller must lead the next batch, false when
	// its sale is answered.
	wake chan bool
}

// committer is the queue of sales waiting for a transaction.
type committer struct {
	mu      sync.Mutex
	queue   []*commitOp
	leading bool // a caller is committing a batch

	lastBatch  int           // sales in the previous batch
	lastCommit time.Duration // how long it took
	// gathered, when not nil, is closed once wantQueue sales are queued: a
	// leader waits on it for company.
	gathered  chan struct{}
	wantQueue int
}

// record records op durably, alone or with the sales that queued meanwhile, and
// returns once op is answered.
func (l *Ledger) record(op *commitOp) {
	c := &l.commits
	c.mu.Lock()
	c.queue = append(c.queue, op)
	if c.gathered != nil && len(c.queue) >= c.wantQueue {
		close(c.gathered)
		c.gathered = nil
	}
	if c.leading {
		c.mu.Unlock()
		if lead := <-op.wake; !lead {
			return
		}
		c.mu.Lock()
	}
	c.leading = true
	if want := min(c.lastBatch, maxBatch); want > 1 && len(c.queue) < want {
		gathered := make(chan struct{})
		c.gathered, c.wantQueue = gathered, want
		wait := time.NewTimer(min(c.lastCommit/2, maxGather))
		c.mu.Unlock()
		select {
		case <-gathered:
		case <-wait.C:
		}
		wait.Stop()
		c.mu.Lock()
		c.gathered = nil
	}
	n := min(len(c.queue), maxBatch)
	batch := make([]*commitOp, n)
	copy(batch, c.queue)
	c.queue = append(c.queue[:0], c.queue[n:]...)
	c.mu.Unlock()

	start := time.Now()
	l.commitBatch(batch)
	took := time.Since(start)

	for _, o := range batch {
		if o != op {
			o.wake <- false
		}
	}
	c.mu.Lock()
	c.lastBatch, c.lastCommit = n, took
	if len(c.queue) > 0 {
		c.queue[0].wake <- true // buffered: never blocks under the lock
	} else {
		c.leading = false
	}
	c.mu.Unlock()
}

// commitBatch records the batch's sales with one fsync: their writes go into
// the open write transaction and, as one record, into the journal (see
// journal.go). A sale whose pricing or validation fails is answered with its
// error and leaves the transaction as it was (apply writes nothing before it
// has checked everything), so the others still commit. A failed journal write
// fails them all, and the transaction is rebuilt from the journal.
func (l *Ledger) commitBatch(batch []*commitOp) {
	if l.readOnly {
		for _, o := range batch {
			o.r, o.err = Receipt{}, ErrReadOnly
		}
		return
	}
	l.gate.RLock()
	defer l.gate.RUnlock()
	l.txMu.Lock()
	defer l.txMu.Unlock()
	l.commitBatchLocked(batch)
	l.checkpointSoon()
}

// commitBatchLocked is commitBatch with the gate and txMu held.
func (l *Ledger) commitBatchLocked(batch []*commitOp) {
	if len(batch) == 0 {
		return
	}
	fail := func(err error) {
		for _, o := range batch {
			if o.err == nil {
				o.r, o.err = Receipt{}, err
			}
		}
	}
	tx, err := l.writeTx()
	if err != nil {
		fail(err)
		return
	}
	m, err := readMeta(tx)
	if err != nil {
		fail(err)
		return
	}
	rec := &journalRecord{base: m.lastSeq, buf: l.recordBuf[:0]}
	defer func() { l.recordBuf = rec.buf[:0] }() // the journal copies it
	// The writes riding along (alongNext) go first: they were made before
	// the batch's sales, which may overwrite them (an account's view).
	for _, p := range l.riders {
		rec.add(p)
	}
	riding := len(rec.buf)
	for i, o := range batch {
		o.r, o.err = l.applyOp(tx, &m, o, rec)
		var werr *writeError
		if errors.As(o.err, &werr) {
			// bbolt refused a write half way through a sale: the transaction
			// holds part of it. Rebuild the transaction and redo the others.
			l.discard()
			l.log.Error("sale write refused; committing the rest of its batch without it", logSaleID, o.id, logErr, o.err)
			rest := make([]*commitOp, 0, len(batch)-1)
			rest = append(append(rest, batch[:i]...), batch[i+1:]...)
			for _, r := range rest {
				r.r, r.err = Receipt{}, nil
			}
			l.commitBatchLocked(rest)
			return
		}
	}
	if len(rec.buf) == riding {
		return // replays and refused sales only: nothing to make durable
	}
	if len(batch) > 1 {
		l.log.Debug("group commit", logBatch, len(batch))
	}
	if l.beforeCommit != nil {
		err = l.beforeCommit()
	}
	if err == nil {
		err = l.journal.append(rec)
	}
	if err = l.wrote(err); err != nil {
		fail(err)
		l.discard()
		return
	}
	l.riders = nil
}

// applyOp runs apply for one queued sale, turning a panic of its price function
// (which runs on the leader's goroutine) into an answer for its own caller.
func (l *Ledger) applyOp(tx *bolt.Tx, m *meta, o *commitOp, rec *journalRecord) (r Receipt, err error) {
	defer func() {
		if p := recover(); p != nil {
			o.panicked = p
			r, err = Receipt{}, fmt.Errorf("price panicked: %v", p)
		}
	}()
	return o.apply(tx, m, rec)
}

// writeError is a write bbolt refused inside apply, after the sale's first
// write: the transaction holds part of the sale.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// storageErr is a commit that did not reach the disk.
type storageErr struct {
	full bool
	err  error
}

func storageError(err error) error {
	if errors.Is(err, ErrClosed) || errors.Is(err, ErrReadOnly) {
		return err
	}
	return &storageErr{full: errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT), err: err}
}

func (e *storageErr) Error() string {
	if e.full {
		return fmt.Sprintf("%v: %v: %v", ErrStorage, ErrDiskFull, e.err)
	}
	return fmt.Sprintf("%v: %v", ErrStorage, e.err)
}

func (e *storageErr) Unwrap() error { return e.err }

func (e *storageErr) Is(target error) bool {
	return target == ErrStorage || (e.full && target == ErrDiskFull)
}
