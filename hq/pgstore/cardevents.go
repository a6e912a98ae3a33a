package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/pos"
)

// queueCardEvents queues the card index rows (card_events) of a terminal's
// newly stored sales and refunds: their facts carry their seq and time.
func queueCardEvents(b *pgx.Batch, terminal, epoch string, sales []hq.SaleFacts) {
	var cards []string
	var ats, seqs []int64
	for _, s := range sales {
		if s.Card != "" {
			cards, ats, seqs = append(cards, s.Card), append(ats, s.At.UnixNano()), append(seqs, int64(s.Seq))
		}
	}
	if len(cards) == 0 {
		return
	}
	b.Queue(`INSERT INTO card_events (card, at_unix_ns, terminal, epoch, seq)
		SELECT card, at, $4, $5, seq FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(card, at, seq)
		ON CONFLICT DO NOTHING`, cards, ats, seqs, terminal, epoch)
}

// CardEvents implements hq.Customers.
func (s *Store) CardEvents(ctx context.Context, card string, limit int) ([]hq.CardEvent, error) {
	var lim *int // NULL: no limit
	if limit > 0 {
		lim = &limit
	}
	rows, _ := s.pool.Query(ctx, `SELECT e.terminal, e.epoch, e.seq, e.id, e.type, e.at_unix_ns, e.ruleset_version, e.ruleset_hash, e.prev, e.hash, e.body
		FROM card_events c JOIN events e ON e.terminal = c.terminal AND e.epoch = c.epoch AND e.seq = c.seq
		WHERE c.card = $1
		ORDER BY c.at_unix_ns DESC, c.terminal DESC, c.seq DESC, c.epoch DESC LIMIT $2`, card, lim)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (hq.CardEvent, error) {
		var e hq.CardEvent
		var seq, at int64
		var body []byte
		err := row.Scan(&e.Terminal, &e.Epoch, &seq, &e.ID, &e.Type, &at, &e.RulesetVersion, &e.RulesetHash, &e.Prev, &e.Hash, &body)
		e.Seq, e.At, e.Body = uint64(seq), time.Unix(0, at).UTC(), body
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("events of card %s: %w", pos.MaskCard(card), err)
	}
	return out, nil
}

// HoldersByPhone implements hq.Customers, by the index holders_phone_reversed
// (migration 0012): its expression is repeated here exactly.
func (s *Store) HoldersByPhone(ctx context.Context, digits string, limit int) ([]pos.CardHolder, error) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	rev := []rune(digits)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	// digits are digits only (hq.PhoneDigits): the numbers beginning with
	// rev sort from rev up to, not including, rev+":".
	rows, _ := s.pool.Query(ctx, `SELECT holder FROM holders
		WHERE (reverse(regexp_replace(holder ->> 'phone', '[^0-9]', '', 'g')) COLLATE "C") >= $1
		  AND (reverse(regexp_replace(holder ->> 'phone', '[^0-9]', '', 'g')) COLLATE "C") < $2
		ORDER BY card LIMIT $3`, string(rev), string(rev)+":", lim)
	out, err := pgx.CollectRows(rows, pgx.RowTo[pos.CardHolder])
	if err != nil {
		return nil, fmt.Errorf("holders by phone: %w", err)
	}
	return out, nil
}
