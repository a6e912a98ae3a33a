package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tilld/tilld/hq"
)

// uniqueViolation is PostgreSQL's SQLSTATE for a duplicate key.
const uniqueViolation = "23505"

var _ hq.TokenStore = (*Store)(nil)

// AddToken implements hq.TokenStore. A token whose hash is already stored is
// refused, so a spent token can never be made new again.
func (s *Store) AddToken(ctx context.Context, t hq.Token) error {
	var usedAt *time.Time
	if !t.UsedAt.IsZero() {
		usedAt = &t.UsedAt
	}
	_, err := s.pool.Exec(ctx, "INSERT INTO enrollment_tokens (hash, terminal, store, expires, used_at) VALUES ($1, $2, $3, $4, $5)",
		t.Hash, t.Terminal, t.Store, t.Expires, usedAt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation {
		return fmt.Errorf("add enrollment token for terminal %s: a token with this hash exists", t.Terminal)
	}
	if err != nil {
		return fmt.Errorf("add enrollment token for terminal %s: %w", t.Terminal, err)
	}
	return nil
}

// UseToken implements hq.TokenStore. One UPDATE spends the token only if it is
// unused and unexpired; of two concurrent uses the second waits for the first's
// row lock, then finds the token used.
func (s *Store) UseToken(ctx context.Context, hash string, now time.Time) (hq.Token, error) {
	t := hq.Token{Hash: hash}
	err := s.pool.QueryRow(ctx, `UPDATE enrollment_tokens SET used_at = $2
		WHERE hash = $1 AND used_at IS NULL AND expires > $2
		RETURNING terminal, store, expires, used_at`, hash, now).Scan(&t.Terminal, &t.Store, &t.Expires, &t.UsedAt)
	if err == nil {
		return t, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return hq.Token{}, fmt.Errorf("use enrollment token: %w", err)
	}
	// Not spent: say why. used_at only ever goes from NULL to a time and expires
	// never changes, so what this read sees explains the UPDATE.
	var usedAt *time.Time
	err = s.pool.QueryRow(ctx, "SELECT used_at FROM enrollment_tokens WHERE hash = $1", hash).Scan(&usedAt)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return hq.Token{}, hq.ErrTokenUnknown
	case err != nil:
		return hq.Token{}, fmt.Errorf("use enrollment token: %w", err)
	case usedAt != nil:
		return hq.Token{}, hq.ErrTokenUsed
	default:
		return hq.Token{}, hq.ErrTokenExpired
	}
}
