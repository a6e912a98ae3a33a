package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/tilld/tilld/hq"
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
	rows, _ := s.pool.Query(ctx, `SELECT line, sum(qty)::bigint FROM sale_returns
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
