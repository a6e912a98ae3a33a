package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

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

// saleLockClass is the first key of the advisory locks, one per selling
// terminal, that make uploads wait for each other where returns on a
// receipt's word meet their sales ("retu" in ASCII); the second is a hash of
// the terminal. An upload takes the lock of every terminal whose sale its
// refunds on a receipt's word return, and its own when it stores sales (to
// find the refunds that came before them), in byte order. The two-key space
// never meets the one-key locks of migrate.go and operators.go.
const saleLockClass int32 = 0x72657475

// lockSaleTerminals takes the locks of saleLockClass that storing facts,
// uploaded by terminal, needs.
func lockSaleTerminals(ctx context.Context, tx pgx.Tx, terminal string, facts []hq.SaleFacts) error {
	var terminals []string
	for _, f := range facts {
		switch {
		case f.Refund && f.Claim != nil:
			terminals = append(terminals, f.SaleTerminal)
		case !f.Refund:
			terminals = append(terminals, terminal)
		}
	}
	slices.Sort(terminals)
	for _, t := range slices.Compact(terminals) {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2::text))", saleLockClass, t); err != nil {
			return fmt.Errorf("lock the sales of %s: %w", t, err)
		}
	}
	return nil
}

// reconcileClaims reconciles the refunds a terminal took on a receipt's
// word among facts (hq.ReconcileClaims) inside tx, queues the excess reports
// and the refunds whose sale is not here yet on b, and returns the facts the
// accounts and the returns count take. lockSaleTerminals came first.
func reconcileClaims(ctx context.Context, tx pgx.Tx, b *pgx.Batch, terminal string, facts []hq.SaleFacts) ([]hq.SaleFacts, error) {
	if !slices.ContainsFunc(facts, func(f hq.SaleFacts) bool { return f.Refund && f.Claim != nil }) {
		return facts, nil
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
	if err := queueExcess(b, excess); err != nil {
		return nil, err
	}
	for _, p := range hq.Pending(terminal, facts, excess) {
		v, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		b.Queue(`INSERT INTO pending_claims (sale_terminal, sale_seq, terminal, seq, claim) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT DO NOTHING`, p.Facts.SaleTerminal, int64(p.Facts.SaleSeq), p.Terminal, int64(p.Facts.Seq), v)
	}
	return out, nil
}

func queueExcess(b *pgx.Batch, excess []wire.ReturnExcess) error {
	for _, x := range excess {
		v, err := json.Marshal(x)
		if err != nil {
			return err
		}
		b.Queue(`INSERT INTO return_excess (terminal, seq, sale_terminal, sale_seq, report) VALUES ($1, $2, $3, $4, $5)`,
			x.Terminal, int64(x.Seq), x.SaleTerminal, int64(x.SaleSeq), v)
	}
	return nil
}

// resolvePending reconciles the pending refunds on a receipt's word of the
// sales among x, the events of terminal being stored in tx, with sales, the
// facts of x as reconciled (hq.ResolvePending): it queues on b replacing
// their no_sale reports, forgetting them and counting their returns, and
// returns what each adds to the accounts. lockSaleTerminals came first.
func resolvePending(ctx context.Context, tx pgx.Tx, b *pgx.Batch, terminal string, x hq.Extension, sales []hq.SaleFacts) ([]hq.SaleFacts, error) {
	var seqs []int64
	for _, f := range x.Sales {
		if !f.Refund {
			seqs = append(seqs, int64(f.Seq))
		}
	}
	if len(seqs) == 0 {
		return nil, nil
	}
	rows, _ := tx.Query(ctx, `SELECT claim FROM pending_claims WHERE sale_terminal = $1 AND sale_seq = ANY($2)
		ORDER BY sale_seq, terminal, seq`, terminal, seqs)
	pending, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (hq.PendingClaim, error) {
		var p hq.PendingClaim
		var v []byte
		if err := row.Scan(&v); err != nil {
			return p, err
		}
		return p, json.Unmarshal(v, &p)
	})
	if err != nil || len(pending) == 0 {
		return nil, err
	}
	resolved, err := hq.ResolvePending(pending, func(saleTerminal string, saleSeq uint64) (event.Event, bool, []int64, error) {
		i := slices.IndexFunc(x.Events, func(e event.Event) bool { return e.Seq == saleSeq })
		if saleTerminal != terminal || i < 0 {
			return event.Event{}, false, nil, nil
		}
		r, err := returned(ctx, tx, saleTerminal, saleSeq, "")
		// and this upload's own refunds of it, not written yet
		for _, c := range hq.ReturnCounts(terminal, sales) {
			if c.SaleTerminal == saleTerminal && c.SaleSeq == saleSeq {
				for len(r) < c.Line {
					r = append(r, 0)
				}
				r[c.Line-1] += c.Qty
			}
		}
		return x.Events[i], true, r, err
	})
	if err != nil {
		return nil, err
	}
	var out []hq.SaleFacts
	var excess []wire.ReturnExcess
	for i, r := range resolved {
		p := pending[i]
		b.Queue(`DELETE FROM pending_claims WHERE sale_terminal = $1 AND sale_seq = $2 AND terminal = $3 AND seq = $4`,
			p.Facts.SaleTerminal, int64(p.Facts.SaleSeq), p.Terminal, int64(p.Facts.Seq))
		b.Queue(`DELETE FROM return_excess WHERE terminal = $1 AND seq = $2 AND report->'reasons' = $3::jsonb`,
			r.Terminal, int64(r.Seq), `["`+wire.ExcessNoSale+`"]`)
		queueReturns(b, r.Terminal, []hq.SaleFacts{r.Facts})
		if r.Excess != nil {
			excess = append(excess, *r.Excess)
		}
		out = append(out, r.Facts)
	}
	return out, queueExcess(b, excess)
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
