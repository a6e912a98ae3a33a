package pgstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/sync/wire"
)

// queueReturns queues adding the refunds among a terminal's newly stored
// events to table sale_returns (migrations/0010_lots_refund_audit.sql): one
// row per sale, line and returning terminal. Rows are the returning
// terminal's own, so uploads of different terminals never wait for each
// other on them.
func queueReturns(b *pgx.Batch, terminal string, facts []hq.SaleFacts) {
	counts := hq.ReturnCounts(terminal, facts)
	if len(counts) == 0 {
		return
	}
	n := len(counts)
	saleTerminals, terminals := make([]string, n), make([]string, n)
	seqs, qtys := make([]int64, n), make([]int64, n)
	lines := make([]int32, n)
	for i, c := range counts {
		saleTerminals[i], seqs[i], terminals[i], lines[i], qtys[i] = c.SaleTerminal, int64(c.SaleSeq), c.Terminal, int32(c.Line), c.Qty
	}
	b.Queue(`INSERT INTO sale_returns AS r (sale_terminal, sale_seq, terminal, line, qty)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::int[], $5::bigint[])
		ON CONFLICT (sale_terminal, sale_seq, terminal, line) DO UPDATE SET qty = r.qty + EXCLUDED.qty`,
		saleTerminals, seqs, terminals, lines, qtys)
}

// Returned implements hq.Returns.
func (s *Store) Returned(ctx context.Context, saleTerminal string, saleSeq uint64, except string) ([]int64, error) {
	return returned(ctx, s.pool, saleTerminal, saleSeq, except)
}

// returned is Returned through q (the pool, or a transaction).
func returned(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}, saleTerminal string, saleSeq uint64, except string) ([]int64, error) {
	rows, _ := q.Query(ctx, `SELECT line, sum(qty)::bigint FROM sale_returns
		WHERE sale_terminal = $1 AND sale_seq = $2 AND terminal <> $3 GROUP BY line ORDER BY line`, saleTerminal, int64(saleSeq), except)
	var out []int64
	var line int32
	var qty int64
	_, err := pgx.ForEachRow(rows, []any{&line, &qty}, func() error {
		if line < 1 || line > 10_000 {
			return fmt.Errorf("line %d", line)
		}
		for int32(len(out)) < line {
			out = append(out, 0)
		}
		out[line-1] += qty
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("returns of sale %s/%d: %w", saleTerminal, saleSeq, err)
	}
	return out, nil
}

// saleLockClass is the first key of the advisory locks, one per sale, that
// make uploads reconciling returns of one sale on a receipt's word wait for
// each other ("retu" in ASCII); the second is a hash of the sale's terminal
// and seq. The two-key space never meets the one-key locks of migrate.go
// and operators.go.
const saleLockClass int32 = 0x72657475

// reconcileClaims reconciles the refunds a terminal took on a receipt's
// word among facts (hq.ReconcileClaims) inside tx, after locking their
// sales in order, queues the excess reports on b, and returns the facts the
// accounts and the returns count take.
func reconcileClaims(ctx context.Context, tx pgx.Tx, b *pgx.Batch, terminal string, facts []hq.SaleFacts) ([]hq.SaleFacts, error) {
	type sale struct {
		terminal string
		seq      uint64
	}
	var sales []sale
	for _, f := range facts {
		if f.Refund && f.Claim != nil {
			sales = append(sales, sale{f.SaleTerminal, f.SaleSeq})
		}
	}
	if len(sales) == 0 {
		return facts, nil
	}
	slices.SortFunc(sales, func(a, b sale) int {
		if c := strings.Compare(a.terminal, b.terminal); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	for _, s := range slices.Compact(sales) {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2::text || '/' || $3::bigint::text))", saleLockClass, s.terminal, int64(s.seq)); err != nil {
			return nil, fmt.Errorf("lock sale %s/%d: %w", s.terminal, s.seq, err)
		}
	}
	out, excess, err := hq.ReconcileClaims(terminal, facts, func(saleTerminal string, saleSeq uint64) (event.Event, bool, []int64, error) {
		e, ok, err := headEvent(ctx, tx, saleTerminal, saleSeq)
		if err != nil || !ok {
			return e, ok, nil, err
		}
		r, err := returned(ctx, tx, saleTerminal, saleSeq, "")
		return e, true, r, err
	})
	if err != nil {
		return nil, err
	}
	for _, x := range excess {
		v, err := json.Marshal(x)
		if err != nil {
			return nil, err
		}
		b.Queue(`INSERT INTO return_excess (terminal, seq, sale_terminal, sale_seq, report) VALUES ($1, $2, $3, $4, $5)`,
			x.Terminal, int64(x.Seq), x.SaleTerminal, int64(x.SaleSeq), v)
	}
	return out, nil
}

// headEvent returns the event at seq of the terminal's head chain (or the
// chains it continues), read through q; ok is false when none is stored.
func headEvent(ctx context.Context, q pgx.Tx, terminal string, seq uint64) (e event.Event, ok bool, err error) {
	var head string
	switch err := q.QueryRow(ctx, "SELECT epoch FROM terminals WHERE terminal = $1", terminal).Scan(&head); {
	case errors.Is(err, pgx.ErrNoRows) || seq == 0:
		return e, false, nil
	case err != nil:
		return e, false, fmt.Errorf("head of %s: %w", terminal, err)
	}
	ctl := &chainTx{ctx: ctx, tx: q, terminal: terminal}
	c, found, err := ctl.Chain(head)
	if err != nil || !found || seq > c.Seq {
		return e, false, err
	}
	err = hq.Lineage(ctl, c, seq, seq, func(epoch string, from, to uint64) error {
		evs, err := events(ctx, q, terminal, epoch, from-1, to, 1)
		if len(evs) == 1 && evs[0].Seq == seq {
			e, ok = evs[0], true
		}
		return err
	})
	return e, ok, err
}

// ReturnExcesses implements hq.Returns.
func (s *Store) ReturnExcesses(ctx context.Context) ([]wire.ReturnExcess, error) {
	rows, _ := s.pool.Query(ctx, "SELECT report FROM return_excess ORDER BY id")
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (wire.ReturnExcess, error) {
		var x wire.ReturnExcess
		var v []byte
		if err := row.Scan(&v); err != nil {
			return x, err
		}
		return x, json.Unmarshal(v, &x)
	})
	if err != nil {
		return nil, fmt.Errorf("return excess report: %w", err)
	}
	return out, nil
}
