// Package pgstore is HQ's store on PostgreSQL, for a chain that outgrows one
// machine: any number of stateless tillhq replicas share one database and stay
// correct, because every decision is taken inside a database transaction.
//
// Layout (migrations/*.sql, applied by Open): table terminals holds each
// terminal's watermark and report totals, events holds the terminals' ledger
// events keyed by (terminal, seq) with the body bytes exactly as uploaded,
// rulesets holds the published rulesets, enrollment_tokens the one-time
// enrollment tokens (hq.TokenStore), cards the card accounts with their change
// feed positions (handed out by change_feed), holders and forgotten the card
// holders, seen which terminal has seen which card, and schema_migrations
// records which migrations ran.
//
// Append locks the terminal's row (SELECT ... FOR UPDATE), lets hq.Extend decide
// what extends the chain, copies those events in with COPY, moves the row on and
// adds the sales to their cards' accounts, all in one transaction: uploads of one
// terminal serialize, across replicas too, and uploads of different terminals
// wait for each other only on the accounts of cards they share and to take change
// feed positions, which makes the commits of uploads with cards follow one
// another (customers.go, saveCards).
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/sync/wire"
)

// Options tune the store. The zero value is right for production.
type Options struct {
	// MaxConns caps the connection pool. Default: pool_max_conns from the URL,
	// else pgxpool's default (the larger of 4 and the number of CPUs).
	MaxConns int32
	// Logger gets schema migrations. Default: discard.
	Logger *slog.Logger
}

// Store is an hq.Store on PostgreSQL. It is safe for concurrent use, and several
// Stores (in one process or in many) may share one database.
type Store struct {
	pool  *pgxpool.Pool
	log   *slog.Logger
	known known // rows this replica knows exist
}

var _ hq.Store = (*Store)(nil)

// Open connects to the database at url (a PostgreSQL URL or keyword/value string,
// as pgx takes), brings its schema up to date, and returns the store.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(url) // its errors leave the password out
	if err != nil {
		return nil, fmt.Errorf("open hq store: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open hq store: %w", err)
	}
	s := &Store{pool: pool, log: opts.Logger.With("component", "pgstore")}
	if _, err := migrate(ctx, pool, s.log); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open hq store on %s/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	return s, nil
}

// Close closes the connections, waiting for the ones in use to be released.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// eventColumns are the columns of table events, in the order of eventRow.
var eventColumns = []string{"terminal", "seq", "id", "type", "at_unix_ns", "ruleset_version", "ruleset_hash", "prev", "hash", "body"}

func eventRow(e *event.Event) []any {
	return []any{e.Terminal, int64(e.Seq), e.ID, e.Type, e.At.UnixNano(), e.RulesetVersion, e.RulesetHash, e.Prev, e.Hash, []byte(e.Body)}
}

// Append implements hq.Store.
func (s *Store) Append(ctx context.Context, terminal string, events []event.Event) (uint64, error) {
	if len(events) == 0 {
		return s.Acked(ctx, terminal)
	}
	acked, chainErr, err := s.append(ctx, terminal, events)
	if err != nil {
		return 0, fmt.Errorf("append events of %s: %w", terminal, err)
	}
	return acked, chainErr
}

// append stores what extends the terminal's chain in one transaction. chainErr
// is Extend's verdict on the batch (the events before a break are committed);
// err is any other failure, with nothing committed.
func (s *Store) append(ctx context.Context, terminal string, events []event.Event) (acked uint64, chainErr, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, nil, err
	}
	defer tx.Rollback(ctx) // after Commit, a no-op
	w, err := lockTerminal(ctx, tx, terminal)
	if err != nil {
		return 0, nil, err
	}
	x, chainErr := hq.Extend(terminal, w, events)
	if len(x.Events) == 0 {
		// Nothing new: the rollback also takes back a row inserted for a
		// terminal whose first upload stored nothing.
		return x.Next.Seq, chainErr, nil
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"events"}, eventColumns,
		pgx.CopyFromSlice(len(x.Events), func(i int) ([]any, error) { return eventRow(&x.Events[i]), nil }),
	); err != nil {
		return 0, nil, fmt.Errorf("copy events %d..%d: %w", x.Events[0].Seq, x.Next.Seq, err)
	}
	var count, total int64
	var currency string
	for _, sale := range x.Sales {
		count++
		total += int64(sale.Total)
		if currency == "" {
			currency = sale.Currency
		}
	}
	// One round trip for the watermark and, when sales name cards, locking
	// their accounts and marking them seen; then one statement writes the
	// accounts back, each card once however many of its sales the batch holds.
	b := &pgx.Batch{}
	b.Queue(`UPDATE terminals SET acked = $2, hash = $3,
		sale_count = sale_count + $4, sale_total = sale_total + $5,
		currency = CASE WHEN currency = '' THEN $6 ELSE currency END
		WHERE terminal = $1`,
		terminal, int64(x.Next.Seq), x.Next.Hash, count, total, currency)
	byCard, cards := hq.SalesByCard(x.Sales)
	var accounts []cardRow
	if len(cards) > 0 {
		queueLockKnownCards(b, cards, s.known.newCards(cards), &accounts)
		queueSeen(b, terminal, s.known.unseen(terminal, cards))
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		s.known.forget() // in case a row it knew is gone
		return 0, nil, fmt.Errorf("update watermark and accounts: %w", err)
	}
	for i := range accounts {
		for _, sale := range byCard[accounts[i].Card] {
			accounts[i].addSale(sale)
		}
	}
	if err := saveCards(ctx, tx, accounts); err != nil { // the last statement: see saveCards
		return 0, nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, nil, fmt.Errorf("commit: %w", err)
	}
	s.known.add(terminal, cards)
	return x.Next.Seq, chainErr, nil
}

// lockTerminal returns the terminal's watermark with its row locked until tx
// ends, creating the row on its first upload.
func lockTerminal(ctx context.Context, tx pgx.Tx, terminal string) (hq.Watermark, error) {
	const lock = "SELECT acked, hash FROM terminals WHERE terminal = $1 FOR UPDATE"
	var acked int64
	var hash string
	err := tx.QueryRow(ctx, lock, terminal).Scan(&acked, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		// Two replicas may both get here: ON CONFLICT makes the second wait for
		// the first one's insert and then do nothing, and its SELECT then waits
		// for the first one's lock.
		if _, err := tx.Exec(ctx, "INSERT INTO terminals (terminal) VALUES ($1) ON CONFLICT (terminal) DO NOTHING", terminal); err != nil {
			return hq.Watermark{}, fmt.Errorf("add terminal: %w", err)
		}
		err = tx.QueryRow(ctx, lock, terminal).Scan(&acked, &hash)
	}
	if err != nil {
		return hq.Watermark{}, fmt.Errorf("lock terminal: %w", err)
	}
	return hq.Watermark{Seq: uint64(acked), Hash: hash}, nil
}

// Acked implements hq.Store.
func (s *Store) Acked(ctx context.Context, terminal string) (uint64, error) {
	var acked int64
	err := s.pool.QueryRow(ctx, "SELECT acked FROM terminals WHERE terminal = $1", terminal).Scan(&acked)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("acked seq of %s: %w", terminal, err)
	}
	return uint64(acked), nil
}

// SalesReport implements hq.Store.
func (s *Store) SalesReport(ctx context.Context) ([]wire.TerminalSales, error) {
	rows, _ := s.pool.Query(ctx, "SELECT terminal, sale_count, acked, sale_total, currency FROM terminals ORDER BY terminal")
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (wire.TerminalSales, error) {
		var ts wire.TerminalSales
		var acked int64
		err := row.Scan(&ts.Terminal, &ts.Count, &acked, &ts.Total, &ts.Currency)
		ts.MaxSeq = uint64(acked)
		return ts, err
	})
	if err != nil {
		return nil, fmt.Errorf("sales report: %w", err)
	}
	return out, nil
}

// Events returns up to limit events of a terminal's chain after seq after, in
// order (all of them when limit <= 0), exactly as they were uploaded: their
// hashes verify.
func (s *Store) Events(ctx context.Context, terminal string, after uint64, limit int) ([]event.Event, error) {
	var lim *int // NULL: no limit
	if limit > 0 {
		lim = &limit
	}
	rows, _ := s.pool.Query(ctx, `SELECT terminal, seq, id, type, at_unix_ns, ruleset_version, ruleset_hash, prev, hash, body
		FROM events WHERE terminal = $1 AND seq > $2 ORDER BY seq LIMIT $3`, terminal, int64(after), lim)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (event.Event, error) {
		var e event.Event
		var seq, at int64
		var body []byte
		err := row.Scan(&e.Terminal, &seq, &e.ID, &e.Type, &at, &e.RulesetVersion, &e.RulesetHash, &e.Prev, &e.Hash, &body)
		e.Seq, e.At, e.Body = uint64(seq), time.Unix(0, at).UTC(), body
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("events of %s after %d: %w", terminal, after, err)
	}
	return out, nil
}

// PublishRuleset implements hq.Store.
func (s *Store) PublishRuleset(ctx context.Context, rs hq.Ruleset) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// One publisher at a time, so versions are stored in increasing order even
		// when replicas publish together; readers are not blocked.
		if _, err := tx.Exec(ctx, "LOCK TABLE rulesets IN EXCLUSIVE MODE"); err != nil {
			return err
		}
		var current int64
		err := tx.QueryRow(ctx, "SELECT version FROM rulesets ORDER BY version DESC LIMIT 1").Scan(&current)
		switch {
		case err == nil && current >= rs.Version:
			return fmt.Errorf("current %d: %w", current, hq.ErrOldRuleset)
		case err != nil && !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		raw := rs.Raw
		if raw == nil {
			raw = []byte{} // pgx sends a nil slice as NULL
		}
		_, err = tx.Exec(ctx, "INSERT INTO rulesets (version, hash, raw, signature) VALUES ($1, $2, $3, $4)",
			rs.Version, rs.Hash, raw, rs.Signature) // a nil Signature is NULL: unsigned
		return err
	})
	if err != nil {
		return fmt.Errorf("publish ruleset version %d: %w", rs.Version, err)
	}
	return nil
}

// CurrentRuleset implements hq.Store.
func (s *Store) CurrentRuleset(ctx context.Context) (hq.Ruleset, error) {
	var rs hq.Ruleset
	err := s.pool.QueryRow(ctx, "SELECT version, hash, raw, signature FROM rulesets ORDER BY version DESC LIMIT 1").
		Scan(&rs.Version, &rs.Hash, &rs.Raw, &rs.Signature)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return hq.Ruleset{}, hq.ErrNoRuleset
	case err != nil:
		return hq.Ruleset{}, fmt.Errorf("current ruleset: %w", err)
	}
	return rs, nil
}
