package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
)

// Card accounts, holders and the change feed (migrations/0003_customers.sql).
//
// Every transaction that changes a card goes the same way: it locks the cards'
// rows in card order (queueLockCards), changes what it changes, and ends with
// saveCards, which writes the rows back with their new change positions. The
// card row lock is the card's mutex: holders and forgotten are only written
// under it, so a holder being forgotten and a stale copy of it being stored
// serialize. Locking in card order, always before the change feed's row, keeps
// transactions that share cards from deadlocking.

var _ hq.Customers = (*Store)(nil)

// cardRow is a row of table cards. Times are unix nanoseconds, nil when the
// thing never happened.
type cardRow struct {
	Card        string
	Spend       int64
	Points      int64
	Sales       int64
	LastSale    *int64
	Overdrawn   int64
	First, Last *int64 // the first and the latest overdraft
	// BirthdayBonus is the latest sale that paid the birthday bonus
	// (migrations/0004_birthday_bonus.sql).
	BirthdayBonus *int64
	// Lots are the card's points by when they expire
	// (migrations/0010_lots_refund_audit.sql); nil: one lot that never expires.
	Lots []pos.PointsLot
}

// addSale adds one sale or refund to the card's account. One that takes the
// points below zero, and below where they were, records the newly overdrawn
// points (hq.SaleFacts.Overdrawn).
func (c *cardRow) addSale(s hq.SaleFacts) {
	before := c.Points
	at := s.At.UnixNano() // as events.at_unix_ns keeps it
	c.Spend += int64(s.Total)
	c.Points += s.Points()
	if !s.Refund {
		c.Sales++
		if c.LastSale == nil || at > *c.LastSale {
			c.LastSale = &at
		}
	}
	if s.BirthdayBonus > 0 && (c.BirthdayBonus == nil || at > *c.BirthdayBonus) {
		c.BirthdayBonus = &at
	}
	if over := s.Overdrawn(before, c.Points); over > 0 {
		c.Overdrawn += over
		if c.First == nil {
			c.First = &at
		}
		c.Last = &at
	}
	a := pos.Account{Points: c.Points, Lots: c.Lots}
	s.ApplyLots(&a)
	c.Points, c.Lots = a.Points, a.Lots
}

// queueLockCards queues, on a batch sent inside a transaction, the statements
// that lock the rows of cards (sorted, no repeats) until the transaction ends,
// inserting the missing ones, and read them into *rows in card order.
//
// A missing row is inserted first, ON CONFLICT DO NOTHING: of two transactions
// adding the same card, the second waits for the first to end and then locks
// the row the first one committed, so neither adds up from a stale zero.
// ORDER BY card FOR UPDATE takes the locks in card order.
func queueLockCards(b *pgx.Batch, cards []string, rows *[]cardRow) {
	queueLockKnownCards(b, cards, cards, rows)
}

// queueLockKnownCards is queueLockCards that inserts only the cards of
// missing, which holds every card of cards whose row may not exist yet.
func queueLockKnownCards(b *pgx.Batch, cards, missing []string, rows *[]cardRow) {
	if len(missing) > 0 {
		b.Queue("INSERT INTO cards (card) SELECT unnest($1::text[]) ON CONFLICT (card) DO NOTHING", missing)
	}
	b.Queue(`SELECT card, lifetime_spend, points, sales, last_sale_unix_ns,
		overdrawn, first_overdraft_unix_ns, last_overdraft_unix_ns, birthday_bonus_unix_ns, lots
		FROM cards WHERE card = ANY($1::text[]) ORDER BY card FOR UPDATE`, cards).Query(func(r pgx.Rows) error {
		var err error
		*rows, err = pgx.CollectRows(r, func(row pgx.CollectableRow) (cardRow, error) {
			var c cardRow
			var lots []byte
			err := row.Scan(&c.Card, &c.Spend, &c.Points, &c.Sales, &c.LastSale, &c.Overdrawn, &c.First, &c.Last, &c.BirthdayBonus, &lots)
			if err == nil {
				c.Lots, err = decodeLots(lots)
			}
			return c, err
		})
		if err == nil && len(*rows) != len(cards) {
			err = fmt.Errorf("locked %d card rows of %d", len(*rows), len(cards))
		}
		return err
	})
}

// queueSeen queues marking cards as seen by terminal ("" marks nothing).
func queueSeen(b *pgx.Batch, terminal string, cards []string) {
	if terminal == "" || len(cards) == 0 {
		return
	}
	b.Queue("INSERT INTO seen (terminal, card) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING", terminal, cards)
}

// saveCards writes back rows locked by queueLockCards and gives them the next
// positions of the change feed. It must be the transaction's last statement
// before COMMIT.
//
// Why that makes the feed follow commit order: the positions come from the
// one row of change_feed, updated by this statement, and its row lock is held
// until the transaction ends. The next transaction to take positions waits
// for that lock, so it gets higher positions only once this one has committed
// (PostgreSQL releases a transaction's locks after making its commit visible)
// or rolled back (and then takes the same positions again). Positions thus
// become visible in increasing order: a reader never sees N+1 committed while
// N commits later, and a terminal that polls Changes from the highest
// position it saw skips nothing. Taking the lock last keeps the serialized
// part short, the statement and the commit, and means a transaction holding
// it never waits for another lock: the card rows are locked already.
func saveCards(ctx context.Context, tx pgx.Tx, rows []cardRow) error {
	if len(rows) == 0 {
		return nil
	}
	n := len(rows)
	cards := make([]string, n)
	spend, points, sales, overdrawn := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	lastSale, first, last, bonus := make([]*int64, n), make([]*int64, n), make([]*int64, n), make([]*int64, n)
	lots := make([]*string, n)
	for i, c := range rows {
		cards[i], spend[i], points[i], sales[i], lastSale[i] = c.Card, c.Spend, c.Points, c.Sales, c.LastSale
		overdrawn[i], first[i], last[i], bonus[i] = c.Overdrawn, c.First, c.Last, c.BirthdayBonus
		if len(c.Lots) > 0 {
			b, err := jsonv1.Marshal(c.Lots) // encoding/json's rules in half the time: a card may have thousands
			if err != nil {
				return fmt.Errorf("save cards: lots of %s: %w", c.Card, err)
			}
			v := string(b)
			lots[i] = &v
		}
	}
	ct, err := tx.Exec(ctx, `WITH feed AS (
			UPDATE change_feed SET head = head + $1 RETURNING head
		)
		UPDATE cards AS c SET lifetime_spend = u.spend, points = u.points, sales = u.sales,
			last_sale_unix_ns = u.last_sale, overdrawn = u.overdrawn,
			first_overdraft_unix_ns = u.first, last_overdraft_unix_ns = u.last,
			birthday_bonus_unix_ns = u.bonus, lots = u.lots::jsonb, change = feed.head - $1 + u.n
		FROM feed, unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::text[])
			WITH ORDINALITY AS u(card, spend, points, sales, last_sale, overdrawn, first, last, bonus, lots, n)
		WHERE c.card = u.card`,
		int64(n), cards, spend, points, sales, lastSale, overdrawn, first, last, bonus, lots)
	if err != nil {
		return fmt.Errorf("save cards: %w", err)
	}
	if ct.RowsAffected() != int64(n) {
		return fmt.Errorf("save cards: %d rows updated, want %d", ct.RowsAffected(), n)
	}
	return nil
}

// PutHolders implements hq.Customers. A card given twice keeps its latest
// version and counts once.
func (s *Store) PutHolders(ctx context.Context, terminal string, holders []pos.CardHolder) (int, error) {
	if len(holders) == 0 {
		return 0, nil
	}
	latest := make(map[string]pos.CardHolder, len(holders))
	for _, h := range holders {
		if h.Card == "" {
			return 0, errors.New("put holders: a holder without a card")
		}
		if old, ok := latest[h.Card]; !ok || h.Updated.After(old.Updated) {
			latest[h.Card] = h
		}
	}
	cards := make([]string, 0, len(latest))
	for card := range latest {
		cards = append(cards, card)
	}
	slices.Sort(cards)
	docs, updated := make([]string, len(cards)), make([]int64, len(cards))
	for i, card := range cards {
		h := latest[card]
		b, err := json.Marshal(h)
		if err != nil {
			return 0, fmt.Errorf("put holders: holder of %s: %w", card, err)
		}
		docs[i], updated[i] = string(b), unixNano(h.Updated)
	}

	var stored int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var rows []cardRow
		got := map[string]bool{}
		b := &pgx.Batch{}
		queueLockCards(b, cards, &rows)
		// Under the card locks, forgotten and holders cannot change meanwhile,
		// and this statement's snapshot, taken after the locks, is current.
		b.Queue(`INSERT INTO holders AS h (card, holder, updated_unix_ns)
			SELECT u.card, u.holder::jsonb, u.updated FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(card, holder, updated)
			WHERE NOT EXISTS (SELECT FROM forgotten f WHERE f.card = u.card AND f.forgotten_unix_ns >= u.updated)
			ON CONFLICT (card) DO UPDATE SET holder = excluded.holder, updated_unix_ns = excluded.updated_unix_ns
				WHERE h.updated_unix_ns < excluded.updated_unix_ns
			RETURNING card`, cards, docs, updated).Query(func(r pgx.Rows) error {
			var card string
			_, err := pgx.ForEachRow(r, []any{&card}, func() error {
				got[card] = true
				return nil
			})
			return err
		})
		queueSeen(b, terminal, cards)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		changed := rows[:0]
		for _, c := range rows {
			// A terminal's refused holders move on too: it learns HQ's
			// version, newer or forgotten, through its feed.
			if got[c.Card] || terminal != "" {
				changed = append(changed, c)
			}
		}
		stored = len(got)
		return saveCards(ctx, tx, changed)
	})
	if err != nil {
		return 0, fmt.Errorf("put holders: %w", err)
	}
	return stored, nil
}

// Holder implements hq.Customers.
func (s *Store) Holder(ctx context.Context, card string) (pos.CardHolder, bool, error) {
	var h pos.CardHolder
	err := s.pool.QueryRow(ctx, "SELECT holder FROM holders WHERE card = $1", card).Scan(&h)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return pos.CardHolder{}, false, nil
	case err != nil:
		return pos.CardHolder{}, false, fmt.Errorf("holder of %s: %w", card, err)
	}
	return h, true, nil
}

// ForgetHolder implements hq.Customers. It deletes the holder's row; PostgreSQL
// keeps the deleted row's bytes in the table's file until a vacuum reuses its
// space, and in the write-ahead log and backups until they are recycled, which
// is the database operator's retention to set. The card moves on in the change
// feed even when HQ had no holder: a till may hold one it registered offline.
func (s *Store) ForgetHolder(ctx context.Context, card string, at time.Time) (bool, error) {
	var had bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var rows []cardRow
		b := &pgx.Batch{}
		queueLockCards(b, []string{card}, &rows)
		b.Queue("DELETE FROM holders WHERE card = $1", card).Exec(func(ct pgconn.CommandTag) error {
			had = ct.RowsAffected() > 0
			return nil
		})
		// A later forget wins: it refuses more stale copies.
		b.Queue(`INSERT INTO forgotten AS f (card, forgotten_unix_ns) VALUES ($1, $2)
			ON CONFLICT (card) DO UPDATE SET forgotten_unix_ns = greatest(f.forgotten_unix_ns, excluded.forgotten_unix_ns)`,
			card, unixNano(at))
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		return saveCards(ctx, tx, rows)
	})
	if err != nil {
		return false, fmt.Errorf("forget holder of %s: %w", card, err)
	}
	return had, nil
}

// accountColumns read a card (k.card), its account, holder and the asking
// terminal's head chain's acked seq and hash from cards c, holders h, forgotten
// f and terminals t; scanAccount reads them.
const accountColumns = `k.card, coalesce(c.lifetime_spend, 0), coalesce(c.points, 0), coalesce(c.sales, 0),
	c.last_sale_unix_ns, c.birthday_bonus_unix_ns, coalesce(c.change, 0), h.holder, f.card IS NOT NULL, coalesce(t.acked, 0), coalesce(t.hash, ''),
	c.lots`

func scanAccount(row pgx.Row) (wire.AccountAnswer, error) {
	var spend, acked int64
	var lastSale, bonus *int64
	var forgotten bool
	var lots []byte
	var a wire.AccountAnswer
	if err := row.Scan(&a.Card, &spend, &a.Account.Points, &a.Account.Sales, &lastSale, &bonus, &a.Change, &a.Holder, &forgotten, &acked, &a.AsOfHash, &lots); err != nil {
		return wire.AccountAnswer{}, err
	}
	var err error
	if a.Account.Lots, err = decodeLots(lots); err != nil {
		return wire.AccountAnswer{}, err
	}
	a.Account.Card, a.Account.LifetimeSpend = a.Card, money.Amount(spend)
	if lastSale != nil {
		a.Account.LastSale = time.Unix(0, *lastSale).UTC()
	}
	if bonus != nil {
		a.Account.BirthdayBonus = time.Unix(0, *bonus).UTC()
	}
	a.AsOf = uint64(acked)
	a.Forgotten = a.Holder == nil && forgotten
	a.Overdraft = max(0, -a.Account.Points)
	return a, nil
}

// Account implements hq.Customers. It marks the card as seen by the terminal,
// committed, and then reads the account and the terminal's acked seq in one
// snapshot. A change of the card committed after that read finds the mark
// (Changes sends it); one committed before it is in the answer. Marked in the
// read's own statement, the mark could still be uncommitted while a poll of
// the terminal read the feed's head past a change of the card, and the
// terminal would move past that change for good (a short page answers the
// head: Changes).
func (s *Store) Account(ctx context.Context, terminal, card string) (wire.AccountAnswer, error) {
	if terminal != "" && len(s.known.unseen(terminal, []string{card})) > 0 {
		if _, err := s.pool.Exec(ctx, `INSERT INTO seen (terminal, card) VALUES ($1, $2) ON CONFLICT DO NOTHING`, terminal, card); err != nil {
			return wire.AccountAnswer{}, fmt.Errorf("account %s: mark it seen by %s: %w", card, terminal, err)
		}
		s.known.addSeen(terminal, card)
	}
	row := s.pool.QueryRow(ctx, `SELECT `+accountColumns+`
		FROM (VALUES ($2::text)) AS k(card)
		LEFT JOIN cards c ON c.card = k.card
		LEFT JOIN holders h ON h.card = k.card
		LEFT JOIN forgotten f ON f.card = k.card
		LEFT JOIN terminals t ON t.terminal = $1::text`, terminal, card)
	a, err := scanAccount(row)
	if err != nil {
		return wire.AccountAnswer{}, fmt.Errorf("account %s: %w", card, err)
	}
	return a, nil
}

// Changes implements hq.Customers. It walks cards by change from after (index
// cards_change) and keeps the ones in the terminal's seen, in one snapshot.
//
// A page shorter than limit holds every change of the terminal's cards up to
// the feed's head as read just before it (a statement before the page's):
// positions become visible in order
// (saveCards), so every position up to that head is in the page's snapshot.
// Next is then that head, as in the bbolt store: the terminal's next poll
// starts past the changes of cards it has not seen instead of reading them
// again, more of them at every poll of a quiet till.
//
// A position of another feed, or past the head, is read again from the start
// in a second round trip: a terminal asks so once after HQ's store changed
// under it.
func (s *Store) Changes(ctx context.Context, terminal, feed string, after int64, limit int) (wire.ChangesAnswer, error) {
	if limit <= 0 {
		return wire.ChangesAnswer{Next: after, Accounts: []wire.AccountAnswer{}}, nil
	}
	out, head, err := s.changes(ctx, terminal, after, limit)
	if err == nil && hq.FromStart(feed, out.Feed, after, head) {
		out, _, err = s.changes(ctx, terminal, 0, limit)
	}
	return out, err
}

// feedID is the change feed's identity as Changes answers it: the random id
// of change_feed, the cluster's system identifier and the database's oid.
const feedID = `id || '.' || (SELECT system_identifier FROM pg_control_system()) || '.' ||
	(SELECT oid FROM pg_database WHERE datname = current_database())`

// RenewFeed implements hq.Store.
func (s *Store) RenewFeed(ctx context.Context) (string, error) {
	var id string
	if err := s.pool.QueryRow(ctx, `UPDATE change_feed SET id = md5(random()::text || clock_timestamp()::text) RETURNING `+feedID).Scan(&id); err != nil {
		return "", fmt.Errorf("renew the change feed's identity: %w", err)
	}
	return id, nil
}

// changes is a page of the feed after after, and the feed's head.
//
// The page is planned for its own after at every poll (an unnamed statement,
// pgx.QueryExecModeCacheDescribe), not once for all: the best plan for a
// till that reads from the start (its seen cards first) is the worst for one
// that polls from near the head (the cards changed since, by cards_change),
// and once a connection had served a few of the first, PostgreSQL's generic
// plan of a cached statement made every quiet poll walk the till's seen
// cards: 7.4 ms instead of 0.8 for a till that has seen 10 000
// (BenchmarkChangesAfterRestart). Planning each poll costs ≈ 0.5 ms
// (BenchmarkChangesQuietTerminal).
func (s *Store) changes(ctx context.Context, terminal string, after int64, limit int) (wire.ChangesAnswer, int64, error) {
	out := wire.ChangesAnswer{Next: after, Accounts: []wire.AccountAnswer{}}
	fail := func(err error) (wire.ChangesAnswer, int64, error) {
		return wire.ChangesAnswer{}, 0, fmt.Errorf("changes for %s: %w", terminal, err)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fail(err)
	}
	defer conn.Release()
	var head int64
	if err := conn.QueryRow(ctx, `SELECT head, `+feedID+` FROM change_feed`).Scan(&head, &out.Feed); err != nil {
		return fail(err)
	}
	rows, _ := conn.Query(ctx, `SELECT `+accountColumns+`
		FROM seen k
		JOIN cards c ON c.card = k.card
		LEFT JOIN holders h ON h.card = c.card
		LEFT JOIN forgotten f ON f.card = c.card
		LEFT JOIN terminals t ON t.terminal = $1
		WHERE k.terminal = $1 AND c.change > $2
		ORDER BY c.change
		LIMIT $3`, pgx.QueryExecModeCacheDescribe, terminal, after, limit)
	out.Accounts, err = pgx.AppendRows(out.Accounts, rows, func(row pgx.CollectableRow) (wire.AccountAnswer, error) {
		return scanAccount(row)
	})
	if err != nil {
		return fail(err)
	}
	for i := range out.Accounts {
		out.Next = max(out.Next, out.Accounts[i].Change)
	}
	if len(out.Accounts) < limit {
		out.Next = max(out.Next, head)
	}
	return out, head, nil
}

// Watching implements hq.Store: the cards changed after after (few, by the
// cards_change index), each looked up in seen by card (index seen_card,
// migration 0015) for the parked terminals that have seen it.
func (s *Store) Watching(ctx context.Context, after int64, terminals []string) ([]string, int64, error) {
	last := after
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(change), $1) FROM cards WHERE change > $1`, after).Scan(&last); err != nil {
		return nil, 0, fmt.Errorf("terminals watching changes after %d: %w", after, err)
	}
	if last == after || len(terminals) == 0 {
		return nil, last, nil
	}
	rows, _ := s.pool.Query(ctx, `SELECT DISTINCT k.terminal FROM cards c JOIN seen k ON k.card = c.card
		WHERE c.change > $1 AND c.change <= $2 AND k.terminal = ANY($3)`, after, last, terminals)
	watching, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, 0, fmt.Errorf("terminals watching changes after %d: %w", after, err)
	}
	return watching, last, nil
}

// Overdrafts implements hq.Customers.
func (s *Store) Overdrafts(ctx context.Context) ([]wire.Overdraft, error) {
	rows, _ := s.pool.Query(ctx, `SELECT card, points, overdrawn, first_overdraft_unix_ns, last_overdraft_unix_ns
		FROM cards WHERE overdrawn > 0 ORDER BY card`)
	out, err := pgx.AppendRows([]wire.Overdraft{}, rows, func(row pgx.CollectableRow) (wire.Overdraft, error) {
		var o wire.Overdraft
		var points int64
		var first, last *int64
		err := row.Scan(&o.Card, &points, &o.Recorded, &first, &last)
		o.Owed = max(0, -points)
		if first != nil {
			o.First = time.Unix(0, *first).UTC()
		}
		if last != nil {
			o.Last = time.Unix(0, *last).UTC()
		}
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("overdrafts: %w", err)
	}
	return out, nil
}

// unixNano is t as the *_unix_ns columns keep it; a time int64 nanoseconds
// cannot hold (the zero time) is clamped, so it still compares right.
func unixNano(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// decodeLots reads a cards.lots value; NULL is no lots.
func decodeLots(b []byte) ([]pos.PointsLot, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var lots []pos.PointsLot
	if err := jsonv1.Unmarshal(b, &lots); err != nil {
		return nil, fmt.Errorf("lots: %w", err)
	}
	return lots, nil
}
