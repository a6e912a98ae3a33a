package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/sync/wire"
)

// Ruleset implements hq.Store.
func (s *Store) Ruleset(ctx context.Context, version int64) (hq.Ruleset, error) {
	var rs hq.Ruleset
	err := s.pool.QueryRow(ctx, "SELECT version, hash, raw, signature FROM rulesets WHERE version = $1", version).
		Scan(&rs.Version, &rs.Hash, &rs.Raw, &rs.Signature)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return hq.Ruleset{}, fmt.Errorf("ruleset version %d: %w", version, hq.ErrNoRuleset)
	case err != nil:
		return hq.Ruleset{}, fmt.Errorf("ruleset version %d: %w", version, err)
	}
	return rs, nil
}

// Rulesets implements hq.Store.
func (s *Store) Rulesets(ctx context.Context, before int64, limit int) ([]hq.Ruleset, error) {
	if before <= 0 {
		before = math.MaxInt64
	}
	rows, err := s.pool.Query(ctx, "SELECT version, hash, raw, signature FROM rulesets WHERE version < $1 ORDER BY version DESC LIMIT $2", before, max(limit, 0))
	if err != nil {
		return nil, fmt.Errorf("rulesets: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (hq.Ruleset, error) {
		var rs hq.Ruleset
		err := r.Scan(&rs.Version, &rs.Hash, &rs.Raw, &rs.Signature)
		return rs, err
	})
	if err != nil {
		return nil, fmt.Errorf("rulesets: %w", err)
	}
	return out, nil
}

// auditPool is the audit's own connection to the database, opened at the
// first audit: the auditor neither waits for the connections uploads use nor
// takes one from them while it prices a batch.
type auditPool struct {
	mu     sync.Mutex
	pool   *pgxpool.Pool
	closed bool
}

func (a *auditPool) get(ctx context.Context, main *pgxpool.Pool) (*pgxpool.Pool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil, errors.New("store closed")
	}
	if a.pool == nil {
		cfg := main.Config()
		cfg.MaxConns, cfg.MinConns = 1, 0
		p, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return nil, err
		}
		a.pool = p
	}
	return a.pool, nil
}

func (a *auditPool) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	if a.pool != nil {
		a.pool.Close()
	}
}

// AuditNext implements hq.Audits, on the audit's own connection. The chain's
// row of audit_chains is locked FOR UPDATE SKIP LOCKED for the whole batch:
// another replica's auditor (or another caller here) takes another chain, and
// ingest, which never touches audit_chains, is not held up. Chains are taken
// least recently audited first.
func (s *Store) AuditNext(ctx context.Context, limit int, fn func(hq.AuditBatch) (hq.AuditResult, error)) (bool, error) {
	pool, err := s.audit.get(ctx, s.pool)
	if err != nil {
		return false, fmt.Errorf("audit: connect: %w", err)
	}
	// A chain never audited gets its row, at its base; replicas doing it at
	// once conflict harmlessly.
	if _, err := pool.Exec(ctx, `INSERT INTO audit_chains (terminal, epoch, audited)
		SELECT c.terminal, c.epoch, c.base_seq FROM chains c
		WHERE NOT EXISTS (SELECT 1 FROM audit_chains a WHERE a.terminal = c.terminal AND a.epoch = c.epoch)
		ON CONFLICT DO NOTHING`); err != nil {
		return false, fmt.Errorf("audit: add chains: %w", err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("audit: %w", err)
	}
	defer tx.Rollback(ctx) // after Commit, a no-op
	var b hq.AuditBatch
	var audited int64
	var st hq.AuditTally
	var first, last int64
	err = tx.QueryRow(ctx, `SELECT a.terminal, a.epoch, a.audited, a.sales, a.unpriceable, a.unpriced_first, a.unpriced_last,
			a.refunds, a.refunds_flagged
		FROM audit_chains a JOIN chains c ON c.terminal = a.terminal AND c.epoch = a.epoch
		WHERE c.acked > a.audited
		ORDER BY a.audited_unix_ns, a.terminal, a.epoch LIMIT 1
		FOR UPDATE OF a SKIP LOCKED`).Scan(&b.Terminal, &b.Epoch, &audited, &st.Sales, &st.Unpriceable, &first, &last, &st.Refunds, &st.RefundsFlagged)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("audit: pick a chain: %w", err)
	}
	st.UnpricedFirst, st.UnpricedLast = uint64(first), uint64(last)
	if b.Events, err = events(ctx, tx, b.Terminal, b.Epoch, uint64(audited), math.MaxInt64, max(limit, 1)); err != nil {
		return false, fmt.Errorf("audit: %w", err)
	}
	if len(b.Events) == 0 {
		return false, fmt.Errorf("audit: chain %s/%q has no events after %d below its watermark", b.Terminal, b.Epoch, audited)
	}
	r, err := fn(b)
	if err != nil {
		return false, err
	}
	st.Add(r.AuditTally)
	to := b.Events[len(b.Events)-1].Seq
	batch := &pgx.Batch{}
	for _, f := range r.Flags {
		v, err := json.Marshal(f)
		if err != nil {
			return false, err
		}
		batch.Queue(`INSERT INTO audit_flags (terminal, epoch, seq, flag) VALUES ($1, $2, $3, $4)
			ON CONFLICT (terminal, epoch, seq) DO UPDATE SET flag = EXCLUDED.flag`, b.Terminal, b.Epoch, int64(f.Seq), v)
	}
	batch.Queue(`UPDATE audit_chains SET audited = $3, sales = $4, unpriceable = $5, unpriced_first = $6, unpriced_last = $7, audited_unix_ns = $8,
			refunds = $9, refunds_flagged = $10
		WHERE terminal = $1 AND epoch = $2`,
		b.Terminal, b.Epoch, int64(to), st.Sales, st.Unpriceable, int64(st.UnpricedFirst), int64(st.UnpricedLast), time.Now().UnixNano(),
		st.Refunds, st.RefundsFlagged)
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return false, fmt.Errorf("audit of %s/%q to %d: %w", b.Terminal, b.Epoch, to, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("audit of %s/%q to %d: commit: %w", b.Terminal, b.Epoch, to, err)
	}
	return true, nil
}

// AuditReport implements hq.Audits.
func (s *Store) AuditReport(ctx context.Context, limit int) (wire.AuditReport, error) {
	rep := wire.AuditReport{Flags: []wire.AuditFlag{}}
	var err error
	if rep.Summary, rep.Chains, err = s.auditChains(ctx); err != nil {
		return wire.AuditReport{}, fmt.Errorf("audit report: %w", err)
	}
	var lim *int // NULL: no limit
	if limit > 0 {
		lim = &limit
	}
	rows, _ := s.pool.Query(ctx, "SELECT flag FROM audit_flags ORDER BY terminal, epoch, seq LIMIT $1", lim)
	rep.Flags, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (wire.AuditFlag, error) {
		var f wire.AuditFlag
		var raw []byte
		if err := row.Scan(&raw); err != nil {
			return f, err
		}
		return f, json.Unmarshal(raw, &f)
	})
	if err != nil {
		return wire.AuditReport{}, fmt.Errorf("audit report: flags: %w", err)
	}
	if rep.Flags == nil {
		rep.Flags = []wire.AuditFlag{}
	}
	return rep, nil
}

// AuditSummary implements hq.Audits.
func (s *Store) AuditSummary(ctx context.Context) (wire.AuditSummary, error) {
	sum, _, err := s.auditChains(ctx)
	if err != nil {
		return wire.AuditSummary{}, fmt.Errorf("audit summary: %w", err)
	}
	return sum, nil
}

// auditChains returns every chain's audit, by terminal and epoch, and their sum.
func (s *Store) auditChains(ctx context.Context) (wire.AuditSummary, []wire.AuditChain, error) {
	rows, _ := s.pool.Query(ctx, `SELECT c.terminal, c.epoch, coalesce(a.audited, c.base_seq), c.acked,
			coalesce(a.sales, 0), coalesce(a.unpriceable, 0), coalesce(a.unpriced_first, 0), coalesce(a.unpriced_last, 0),
			(SELECT count(*) FROM audit_flags f WHERE f.terminal = c.terminal AND f.epoch = c.epoch),
			coalesce(a.refunds, 0), coalesce(a.refunds_flagged, 0)
		FROM chains c LEFT JOIN audit_chains a ON a.terminal = c.terminal AND a.epoch = c.epoch
		ORDER BY c.terminal, c.epoch`)
	var sum wire.AuditSummary
	chains, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (wire.AuditChain, error) {
		var c wire.AuditChain
		var audited, acked, first, last int64
		err := row.Scan(&c.Terminal, &c.Epoch, &audited, &acked, &c.Sales, &c.Unpriceable, &first, &last, &c.Flagged, &c.Refunds, &c.RefundsFlagged)
		c.Audited, c.Acked, c.UnpricedFirst, c.UnpricedLast = uint64(audited), uint64(acked), uint64(first), uint64(last)
		c.Flagged -= c.RefundsFlagged // the flags of refunds are counted apart
		sum.Sales += c.Sales
		sum.Flagged += c.Flagged
		sum.Refunds += c.Refunds
		sum.RefundsFlagged += c.RefundsFlagged
		sum.Unpriceable += c.Unpriceable
		sum.Waiting += acked - audited
		return c, err
	})
	if err != nil {
		return sum, nil, fmt.Errorf("chains: %w", err)
	}
	if chains == nil {
		chains = []wire.AuditChain{}
	}
	return sum, chains, nil
}
