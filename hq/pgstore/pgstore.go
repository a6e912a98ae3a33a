// Package pgstore is HQ's store on PostgreSQL, for a chain that outgrows one
// machine: any number of stateless tillhq replicas share one database and stay
// correct, because every decision is taken inside a database transaction.
//
// Layout (migrations/*.sql, applied by Open): table terminals holds each
// terminal's head chain (epoch and watermark) and report totals, chains each of
// its chains (epochs: see hq.ChainState), events holds the terminals' ledger
// events keyed by (terminal, epoch, seq) with the body bytes exactly as uploaded,
// rulesets holds the published rulesets, enrollment_tokens the one-time
// enrollment tokens (hq.TokenStore), cards the card accounts with their change
// feed positions (handed out by change_feed), holders and forgotten the card
// holders, seen which terminal has seen which card, audit_chains and
// audit_flags the audit of the synced sales (audit.go), and schema_migrations
// records which migrations ran.
//
// Append locks the chain's row (SELECT ... FOR UPDATE), lets hq.Extend decide
// what extends the chain, copies those events in with COPY, moves the chain and
// the terminal's row on and
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
	"math"
	"strings"
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
	audit auditPool
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
	s.audit.close()
	s.pool.Close()
	return nil
}

// eventColumns are the columns of table events, in the order of eventRow.
var eventColumns = []string{"terminal", "epoch", "seq", "id", "type", "at_unix_ns", "ruleset_version", "ruleset_hash", "prev", "hash", "body"}

func eventRow(epoch string, e *event.Event) []any {
	return []any{e.Terminal, epoch, int64(e.Seq), e.ID, e.Type, e.At.UnixNano(), e.RulesetVersion, e.RulesetHash, e.Prev, e.Hash, []byte(e.Body)}
}

// Append implements hq.Store.
func (s *Store) Append(ctx context.Context, terminal string, events []event.Event) (uint64, error) {
	return s.AppendEpoch(ctx, terminal, event.Epoch{}, events)
}

// AppendEpoch implements hq.Store.
func (s *Store) AppendEpoch(ctx context.Context, terminal string, epoch event.Epoch, events []event.Event) (uint64, error) {
	acked, chainErr, err := s.append(ctx, terminal, epoch, events)
	if err != nil {
		return 0, fmt.Errorf("append events of %s: %w", terminal, err)
	}
	return acked, chainErr
}

// append stores what extends the chain in one transaction. chainErr is
// Extend's verdict on the batch (the events before a break are committed); err
// is any other failure, with nothing committed.
func (s *Store) append(ctx context.Context, terminal string, epoch event.Epoch, events []event.Event) (acked uint64, chainErr, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, nil, err
	}
	defer tx.Rollback(ctx) // after Commit, a no-op
	now := time.Now().UTC()
	ctl := &chainTx{ctx: ctx, tx: tx, terminal: terminal, lock: epoch.ID, forUpdate: true}
	c, isNew, err := hq.OpenChain(ctl, epoch, now)
	if err != nil {
		return 0, nil, err
	}
	if isNew {
		// Two replicas may both get here: ON CONFLICT makes the second wait for
		// the first one's insert and then do nothing, and it reads the chain
		// again, locked.
		tag, err := tx.Exec(ctx, `INSERT INTO chains (terminal, epoch, parent, base_seq, base_hash, base_verified, acked, hash, created_unix_ns)
			VALUES ($1, $2, $3, $4, $5, $6, $4, $5, $7) ON CONFLICT DO NOTHING`,
			terminal, epoch.ID, epoch.Parent, int64(epoch.BaseSeq), epoch.BaseHash, c.BaseVerified, now.UnixNano())
		if err != nil {
			return 0, nil, fmt.Errorf("add chain: %w", err)
		}
		if tag.RowsAffected() == 0 {
			if c, _, err = hq.OpenChain(ctl, epoch, now); err != nil {
				return 0, nil, err
			}
		}
	}
	x, chainErr := hq.Extend(terminal, c.Watermark, hq.Held(ctl, c), events)
	if f, ok := chainErr.(*hq.ForkError); ok {
		f.Epoch = epoch.ID
	}
	if len(x.Events) == 0 {
		// Nothing new: the rollback also takes back a chain or terminal row
		// inserted for an upload that stored nothing.
		return x.Acked, chainErr, nil
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"events"}, eventColumns,
		pgx.CopyFromSlice(len(x.Events), func(i int) ([]any, error) { return eventRow(epoch.ID, &x.Events[i]), nil }),
	); err != nil {
		return 0, nil, fmt.Errorf("copy events %d..%d: %w", x.Events[0].Seq, x.Next.Seq, err)
	}
	before := c
	c.Appended(x, now)
	count, total := c.Count-before.Count, c.Total-before.Total
	refunds, refunded := c.Refunds-before.Refunds, c.Refunded-before.Refunded
	// One round trip for the watermarks and, when sales name cards, locking
	// their accounts and marking them seen; then one statement writes the
	// accounts back, each card once however many of its sales the batch holds.
	b := &pgx.Batch{}
	b.Queue(`UPDATE chains SET acked = $3, hash = $4, sale_count = $5, sale_total = $6, currency = $7, last_unix_ns = $8,
		refund_count = $9, refund_total = $10
		WHERE terminal = $1 AND epoch = $2`,
		terminal, epoch.ID, int64(c.Seq), c.Hash, c.Count, c.Total, c.Currency, now.UnixNano(), c.Refunds, c.Refunded)
	b.Queue(`INSERT INTO terminals AS t (terminal, epoch, acked, hash, sale_count, sale_total, currency, refund_count, refund_total)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (terminal) DO UPDATE SET epoch = $2, acked = $3, hash = $4,
		sale_count = t.sale_count + $5, sale_total = t.sale_total + $6,
		refund_count = t.refund_count + $8, refund_total = t.refund_total + $9,
		currency = CASE WHEN t.currency = '' THEN $7 ELSE t.currency END`,
		terminal, epoch.ID, int64(x.Next.Seq), x.Next.Hash, count, total, c.Currency, refunds, refunded)
	queueCardEvents(b, terminal, epoch.ID, x.Sales)
	if err := lockSaleTerminals(ctx, tx, terminal, x.Sales); err != nil {
		return 0, nil, err
	}
	sales, err := reconcileClaims(ctx, tx, b, terminal, x.Sales)
	if err != nil {
		return 0, nil, fmt.Errorf("reconcile returns on a receipt's word: %w", err)
	}
	queueReturns(b, terminal, sales)
	resolved, err := resolvePending(ctx, tx, b, terminal, x, sales)
	if err != nil {
		return 0, nil, fmt.Errorf("reconcile returns on a receipt's word that came before their sale: %w", err)
	}
	sales = append(sales, resolved...)
	byCard, _ := hq.SalesByCard(sales)
	cards := hq.CardsChanged(sales, x.Feedback)
	var accounts []cardRow
	if len(cards) > 0 {
		queueLockKnownCards(b, cards, s.known.newCards(cards), &accounts)
		queueSeen(b, terminal, s.known.unseen(terminal, cards))
	}
	queueFeedback(b, epoch.ID, x.Feedback)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		s.known.forget() // in case a row it knew is gone
		return 0, nil, fmt.Errorf("update watermarks and accounts: %w", err)
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
	return x.Acked, chainErr, nil
}

// chainColumns are the columns of table chains that make an hq.ChainState,
// read by scanChain.
const chainColumns = `epoch, parent, base_seq, base_hash, base_verified, acked, hash, sale_count, sale_total, currency, created_unix_ns, last_unix_ns, refund_count, refund_total`

func scanChain(row pgx.Row) (hq.ChainState, error) {
	var c hq.ChainState
	var baseSeq, acked, created, last int64
	err := row.Scan(&c.Epoch.ID, &c.Epoch.Parent, &baseSeq, &c.Epoch.BaseHash, &c.BaseVerified, &acked, &c.Hash,
		&c.Count, &c.Total, &c.Currency, &created, &last, &c.Refunds, &c.Refunded)
	c.Epoch.BaseSeq, c.Seq = uint64(baseSeq), uint64(acked)
	if created != 0 {
		c.Created = time.Unix(0, created).UTC()
	}
	if last != 0 {
		c.Last = time.Unix(0, last).UTC()
	}
	return c, err
}

// chainTx is hq.ChainTx for one terminal in a transaction or the pool. With
// forUpdate set, the chain of epoch lock is read FOR UPDATE: the one an upload
// extends.
type chainTx struct {
	ctx context.Context
	tx  interface {
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	}
	terminal  string
	lock      string
	forUpdate bool
}

func (c *chainTx) Chain(epoch string) (hq.ChainState, bool, error) {
	q := "SELECT " + chainColumns + " FROM chains WHERE terminal = $1 AND epoch = $2"
	if c.forUpdate && c.lock == epoch {
		q += " FOR UPDATE"
	}
	st, err := scanChain(c.tx.QueryRow(c.ctx, q, c.terminal, epoch))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return hq.ChainState{}, false, nil
	case err != nil:
		return st, false, fmt.Errorf("chain %s/%q: %w", c.terminal, epoch, err)
	}
	return st, true, nil
}

func (c *chainTx) Hashes(epoch string, from, to uint64) ([]string, error) {
	rows, _ := c.tx.Query(c.ctx, `SELECT seq, hash FROM events WHERE terminal = $1 AND epoch = $2 AND seq BETWEEN $3 AND $4 ORDER BY seq`,
		c.terminal, epoch, int64(from), int64(to))
	out := make([]string, to-from+1)
	var seq int64
	var hash string
	_, err := pgx.ForEachRow(rows, []any{&seq, &hash}, func() error {
		out[uint64(seq)-from] = hash
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hashes of %s/%q %d..%d: %w", c.terminal, epoch, from, to, err)
	}
	return out, nil
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

// Chains implements hq.Store.
func (s *Store) Chains(ctx context.Context, terminal string) ([]wire.Chain, error) {
	all, err := s.chains(ctx, terminal)
	if err != nil {
		return nil, err
	}
	return all[terminal], nil
}

// chains returns the chains of one terminal, or of every one when terminal is "".
func (s *Store) chains(ctx context.Context, terminal string) (map[string][]wire.Chain, error) {
	rows, _ := s.pool.Query(ctx, `SELECT c.terminal, coalesce(t.epoch, ''), `+prefixed("c.", chainColumns)+`
		FROM chains c LEFT JOIN terminals t ON t.terminal = c.terminal
		WHERE $1 = '' OR c.terminal = $1`, terminal)
	out := map[string][]wire.Chain{}
	_, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var term, head string
		var c hq.ChainState
		var baseSeq, acked, created, last int64
		err := row.Scan(&term, &head, &c.Epoch.ID, &c.Epoch.Parent, &baseSeq, &c.Epoch.BaseHash, &c.BaseVerified, &acked, &c.Hash,
			&c.Count, &c.Total, &c.Currency, &created, &last, &c.Refunds, &c.Refunded)
		c.Epoch.BaseSeq, c.Seq = uint64(baseSeq), uint64(acked)
		if created != 0 {
			c.Created = time.Unix(0, created).UTC()
		}
		if last != 0 {
			c.Last = time.Unix(0, last).UTC()
		}
		out[term] = append(out[term], c.Wire(c.Epoch.ID == head))
		return struct{}{}, err
	})
	if err != nil {
		return nil, fmt.Errorf("chains: %w", err)
	}
	for _, cs := range out {
		hq.SortChains(cs)
	}
	return out, nil
}

// prefixed qualifies each of a comma-separated list of columns.
func prefixed(p, columns string) string {
	var b strings.Builder
	for i, c := range strings.Split(columns, ",") {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p + strings.TrimSpace(c))
	}
	return b.String()
}

// SalesReport implements hq.Store.
func (s *Store) SalesReport(ctx context.Context) ([]wire.TerminalSales, error) {
	chains, err := s.chains(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("sales report: %w", err)
	}
	rows, _ := s.pool.Query(ctx, "SELECT terminal, sale_count, acked, sale_total, currency, refund_count, refund_total FROM terminals ORDER BY terminal")
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (wire.TerminalSales, error) {
		var ts wire.TerminalSales
		var acked int64
		err := row.Scan(&ts.Terminal, &ts.Count, &acked, &ts.Total, &ts.Currency, &ts.Refunds, &ts.Refunded)
		ts.MaxSeq = uint64(acked)
		ts.Net = ts.Total - ts.Refunded
		ts.Chains = chains[ts.Terminal]
		return ts, err
	})
	if err != nil {
		return nil, fmt.Errorf("sales report: %w", err)
	}
	return out, nil
}

// Events returns up to limit events of a terminal's first chain after seq
// after, in order (all of them when limit <= 0), exactly as they were
// uploaded: their hashes verify.
func (s *Store) Events(ctx context.Context, terminal string, after uint64, limit int) ([]event.Event, error) {
	return events(ctx, s.pool, terminal, "", after, math.MaxInt64, limit)
}

// events returns up to limit events of one chain's own with seqs after..to,
// read through q (the pool or a transaction).
func events(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}, terminal, epoch string, after, to uint64, limit int) ([]event.Event, error) {
	var lim *int // NULL: no limit
	if limit > 0 {
		lim = &limit
	}
	rows, _ := q.Query(ctx, `SELECT terminal, seq, id, type, at_unix_ns, ruleset_version, ruleset_hash, prev, hash, body
		FROM events WHERE terminal = $1 AND epoch = $2 AND seq > $3 AND seq <= $4 ORDER BY seq LIMIT $5`,
		terminal, epoch, int64(after), int64(min(to, math.MaxInt64)), lim)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (event.Event, error) {
		var e event.Event
		var seq, at int64
		var body []byte
		err := row.Scan(&e.Terminal, &seq, &e.ID, &e.Type, &at, &e.RulesetVersion, &e.RulesetHash, &e.Prev, &e.Hash, &body)
		e.Seq, e.At, e.Body = uint64(seq), time.Unix(0, at).UTC(), body
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("events of %s/%q after %d: %w", terminal, epoch, after, err)
	}
	return out, nil
}

// ChainEvents implements hq.Store.
func (s *Store) ChainEvents(ctx context.Context, terminal, epoch string, after uint64, limit int) (wire.Chain, []event.Event, error) {
	fail := func(err error) (wire.Chain, []event.Event, error) {
		return wire.Chain{}, nil, fmt.Errorf("chain %s/%q after %d: %w", terminal, epoch, after, err)
	}
	ctl := &chainTx{ctx: ctx, tx: s.pool, terminal: terminal}
	c, ok, err := ctl.Chain(epoch)
	switch {
	case err != nil:
		return fail(err)
	case !ok:
		return fail(hq.ErrNoChain)
	}
	var head string
	if err := s.pool.QueryRow(ctx, "SELECT epoch FROM terminals WHERE terminal = $1", terminal).Scan(&head); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fail(err)
	}
	if after >= c.Seq {
		return c.Wire(head == epoch), nil, nil
	}
	to := c.Seq
	if limit > 0 {
		to = min(to, after+uint64(limit))
	}
	var out []event.Event
	err = hq.Lineage(ctl, c, after+1, to, func(epoch string, from, to uint64) error {
		evs, err := events(ctx, s.pool, terminal, epoch, from-1, to, 0)
		out = append(out, evs...)
		return err
	})
	if err != nil {
		return fail(err)
	}
	return c.Wire(head == epoch), out, nil
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
