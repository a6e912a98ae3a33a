package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tilld/tilld/hq"
)

// queueFeedback queues the inserts of the answers of the feedback events an
// upload stores (table feedback, migration 0008).
func queueFeedback(b *pgx.Batch, epoch string, fs []hq.Feedback) {
	for _, f := range fs {
		b.Queue(`INSERT INTO feedback (terminal, epoch, seq, store, region, card, day, sale_id, score, asked, comment, at_unix_ns)
			VALUES ($1, $2, $3, $4, $5, $6, $7::date, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
			f.Terminal, epoch, int64(f.Seq), f.Store, f.Region, f.Card, f.Day, f.SaleID, f.Score, f.Asked, f.Comment, f.At.UnixNano())
	}
}

// Feedback implements hq.Store.
func (s *Store) Feedback(ctx context.Context, ff hq.FeedbackFilter) ([]hq.Feedback, error) {
	rows, _ := s.pool.Query(ctx, `SELECT terminal, epoch, seq, store, region, card, to_char(day, 'YYYY-MM-DD'), sale_id, score, asked, comment, at_unix_ns
		FROM feedback
		WHERE ($1 = '' OR store = $1) AND ($2 = '' OR terminal = $2) AND ($3 = '' OR card = $3)
		  AND ($4 = '' OR day >= $4::date) AND ($5 = '' OR day <= $5::date)
		ORDER BY day, terminal, epoch, seq`,
		ff.Store, ff.Terminal, ff.Card, ff.From, ff.To)
	out := []hq.Feedback{}
	var f hq.Feedback
	var seq, at int64
	_, err := pgx.ForEachRow(rows, []any{&f.Terminal, &f.Epoch, &seq, &f.Store, &f.Region, &f.Card, &f.Day, &f.SaleID, &f.Score, &f.Asked, &f.Comment, &at}, func() error {
		f.Seq, f.At = uint64(seq), time.Unix(0, at).UTC()
		out = append(out, f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("feedback: %w", err)
	}
	return out, nil
}

// LastFeedback implements hq.Store (index feedback_card_day, migration 0008).
func (s *Store) LastFeedback(ctx context.Context, cards []string) (map[string]time.Time, error) {
	out := make(map[string]time.Time)
	if len(cards) == 0 {
		return out, nil
	}
	rows, _ := s.pool.Query(ctx, `SELECT card, max(at_unix_ns) FROM feedback WHERE card = ANY($1) AND card <> '' GROUP BY card`, cards)
	var card string
	var at int64
	_, err := pgx.ForEachRow(rows, []any{&card, &at}, func() error {
		out[card] = time.Unix(0, at).UTC()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("last feedback: %w", err)
	}
	return out, nil
}
