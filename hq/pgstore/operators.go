package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tilld/tilld/hq"
)

var (
	_ hq.OperatorStore = (*Store)(nil)
	_ hq.Notifier      = (*Store)(nil)
)

// adminLogLockKey names the advisory lock that orders admin log appends
// across replicas ("tillhq-log" in ASCII, shortened).
const adminLogLockKey int64 = 0x74696c6c2d6c6f67

// AddOperator implements hq.OperatorStore.
func (s *Store) AddOperator(ctx context.Context, o hq.Operator) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO operators (name, role, password_hash, created) VALUES ($1, $2, $3, $4)",
		o.Name, string(o.Role), o.PasswordHash, o.Created)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation {
		return fmt.Errorf("%w: %s", hq.ErrOperatorExists, o.Name)
	}
	if err != nil {
		return fmt.Errorf("add operator %s: %w", o.Name, err)
	}
	return nil
}

const operatorColumns = "name, role, password_hash, created, disabled"

func scanOperator(row pgx.Row) (hq.Operator, error) {
	var o hq.Operator
	var role string
	var disabled *time.Time
	if err := row.Scan(&o.Name, &role, &o.PasswordHash, &o.Created, &disabled); err != nil {
		return hq.Operator{}, err
	}
	o.Role, o.Created = hq.Role(role), o.Created.UTC()
	if disabled != nil {
		o.Disabled = disabled.UTC()
	}
	return o, nil
}

// Operator implements hq.OperatorStore.
func (s *Store) Operator(ctx context.Context, name string) (hq.Operator, error) {
	o, err := scanOperator(s.pool.QueryRow(ctx, "SELECT "+operatorColumns+" FROM operators WHERE name = $1", name))
	if errors.Is(err, pgx.ErrNoRows) {
		return hq.Operator{}, hq.ErrNoOperator
	}
	if err != nil {
		return hq.Operator{}, fmt.Errorf("read operator %s: %w", name, err)
	}
	return o, nil
}

// Operators implements hq.OperatorStore.
func (s *Store) Operators(ctx context.Context) ([]hq.Operator, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+operatorColumns+" FROM operators ORDER BY name")
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (hq.Operator, error) { return scanOperator(r) })
	if err != nil {
		return nil, fmt.Errorf("list operators: %w", err)
	}
	return out, nil
}

// operatorsLockKey names the advisory lock that orders the disables of
// every replica, so that the last admin's check holds until the change
// commits ("tillhq-op" in ASCII, shortened).
const operatorsLockKey int64 = 0x74696c6c2d6f70

// DisableOperator implements hq.OperatorStore: an advisory lock orders the
// disables of every replica, so two admins disabled at once cannot each
// see the other still enabled.
func (s *Store) DisableOperator(ctx context.Context, name string, at time.Time) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", operatorsLockKey); err != nil {
			return fmt.Errorf("disable operator %s: %w", name, err)
		}
		var lastAdmin bool
		err := tx.QueryRow(ctx, `SELECT o.role = 'admin' AND o.disabled IS NULL AND NOT EXISTS (
			SELECT 1 FROM operators a WHERE a.name <> o.name AND a.role = 'admin' AND a.disabled IS NULL)
			FROM operators o WHERE o.name = $1`, name).Scan(&lastAdmin)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("%w: %s", hq.ErrNoOperator, name)
		case err != nil:
			return fmt.Errorf("disable operator %s: %w", name, err)
		case lastAdmin:
			return fmt.Errorf("disable operator %s: %w", name, hq.ErrLastAdmin)
		}
		if _, err := tx.Exec(ctx, "UPDATE operators SET disabled = coalesce(disabled, $2) WHERE name = $1", name, at); err != nil {
			return fmt.Errorf("disable operator %s: %w", name, err)
		}
		if _, err := tx.Exec(ctx, "DELETE FROM credentials WHERE operator = $1", name); err != nil {
			return fmt.Errorf("disable operator %s: %w", name, err)
		}
		return nil
	})
}

// AddCredential implements hq.OperatorStore.
func (s *Store) AddCredential(ctx context.Context, c hq.Credential) error {
	var expires *time.Time
	if !c.Expires.IsZero() {
		expires = &c.Expires
	}
	_, err := s.pool.Exec(ctx, "INSERT INTO credentials (hash, kind, operator, created, expires) VALUES ($1, $2, $3, $4, $5)",
		c.Hash, c.Kind, c.Operator, c.Created, expires)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign key
		return fmt.Errorf("%w: %s", hq.ErrNoOperator, c.Operator)
	}
	if err != nil {
		return fmt.Errorf("add %s of %s: %w", c.Kind, c.Operator, err)
	}
	return nil
}

// Credential implements hq.OperatorStore.
func (s *Store) Credential(ctx context.Context, hash string) (hq.Credential, error) {
	c := hq.Credential{Hash: hash}
	var expires *time.Time
	err := s.pool.QueryRow(ctx, "SELECT kind, operator, created, expires FROM credentials WHERE hash = $1", hash).Scan(&c.Kind, &c.Operator, &c.Created, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return hq.Credential{}, hq.ErrNoCredential
	}
	if err != nil {
		return hq.Credential{}, fmt.Errorf("read credential: %w", err)
	}
	c.Created = c.Created.UTC()
	if expires != nil {
		c.Expires = expires.UTC()
	}
	return c, nil
}

// DeleteCredential implements hq.OperatorStore.
func (s *Store) DeleteCredential(ctx context.Context, hash string) error {
	if _, err := s.pool.Exec(ctx, "DELETE FROM credentials WHERE hash = $1", hash); err != nil {
		return fmt.Errorf("delete credential: %w", err)
	}
	return nil
}

// PurgeCredentials implements hq.OperatorStore.
func (s *Store) PurgeCredentials(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, "DELETE FROM credentials WHERE expires IS NOT NULL AND expires <= $1", now.UTC())
	if err != nil {
		return 0, fmt.Errorf("purge credentials: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// AppendAdminLog implements hq.OperatorStore: an advisory lock orders the
// appends of every replica.
func (s *Store) AppendAdminLog(ctx context.Context, e hq.AdminEntry) (hq.AdminEntry, error) {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", adminLogLockKey); err != nil {
			return err
		}
		e.Seq, e.Prev = 1, ""
		var seq int64
		var hash string
		err := tx.QueryRow(ctx, "SELECT seq, hash FROM admin_log ORDER BY seq DESC LIMIT 1").Scan(&seq, &hash)
		switch {
		case err == nil:
			e.Seq, e.Prev = seq+1, hash
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		e.At = e.At.UTC().Truncate(time.Microsecond)
		e.Hash = hq.AdminEntryHash(e)
		data, err := json.Marshal(e)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "INSERT INTO admin_log (seq, entry, hash) VALUES ($1, $2, $3)", e.Seq, data, e.Hash)
		return err
	})
	if err != nil {
		return hq.AdminEntry{}, fmt.Errorf("append to the admin log: %w", err)
	}
	return e, nil
}

// AdminLog implements hq.OperatorStore.
func (s *Store) AdminLog(ctx context.Context, after int64, limit int) ([]hq.AdminEntry, error) {
	rows, _ := s.pool.Query(ctx, "SELECT entry FROM admin_log WHERE seq > $1 ORDER BY seq LIMIT $2", after, limit)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (hq.AdminEntry, error) {
		var data []byte
		var e hq.AdminEntry
		if err := r.Scan(&data); err != nil {
			return e, err
		}
		return e, json.Unmarshal(data, &e)
	})
	if err != nil {
		return nil, fmt.Errorf("read the admin log: %w", err)
	}
	return out, nil
}

// RevokeTerminal implements hq.OperatorStore.
func (s *Store) RevokeTerminal(ctx context.Context, r hq.Revocation) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO revoked_terminals (terminal, at, by_whom) VALUES ($1, $2, $3) ON CONFLICT (terminal) DO NOTHING",
		r.Terminal, r.At, r.By)
	if err != nil {
		return fmt.Errorf("revoke terminal %s: %w", r.Terminal, err)
	}
	return nil
}

// Revoked implements hq.OperatorStore.
func (s *Store) Revoked(ctx context.Context, terminal string) (hq.Revocation, bool, error) {
	r := hq.Revocation{Terminal: terminal}
	err := s.pool.QueryRow(ctx, "SELECT at, by_whom FROM revoked_terminals WHERE terminal = $1", terminal).Scan(&r.At, &r.By)
	if errors.Is(err, pgx.ErrNoRows) {
		return hq.Revocation{}, false, nil
	}
	if err != nil {
		return hq.Revocation{}, false, fmt.Errorf("read revocation of %s: %w", terminal, err)
	}
	r.At = r.At.UTC()
	return r, true, nil
}

// Revocations implements hq.OperatorStore.
func (s *Store) Revocations(ctx context.Context) ([]hq.Revocation, error) {
	rows, _ := s.pool.Query(ctx, "SELECT terminal, at, by_whom FROM revoked_terminals ORDER BY terminal")
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (hq.Revocation, error) {
		var rev hq.Revocation
		err := r.Scan(&rev.Terminal, &rev.At, &rev.By)
		rev.At = rev.At.UTC()
		return rev, err
	})
	if err != nil {
		return nil, fmt.Errorf("read revocations: %w", err)
	}
	return out, nil
}

// notifyChannel is the PostgreSQL channel replicas wake each other on.
const notifyChannel = "tillhq"

// Notify implements hq.Notifier with pg_notify: every replica LISTENing
// gets topic once the statement commits.
func (s *Store) Notify(ctx context.Context, topic string) error {
	if _, err := s.pool.Exec(ctx, "SELECT pg_notify($1, $2)", notifyChannel, topic); err != nil {
		return fmt.Errorf("notify %s: %w", topic, err)
	}
	return nil
}

// Listen implements hq.Notifier: one connection of its own LISTENs; when it
// is lost, Listen connects again (a second later) and calls fn("").
func (s *Store) Listen(ctx context.Context, fn func(topic string)) error {
	for first := true; ; first = false {
		err := s.listenOnce(ctx, fn, !first)
		if ctx.Err() != nil {
			return nil
		}
		s.log.Warn("lost the connection that hears the other replicas; connecting again", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (s *Store) listenOnce(ctx context.Context, fn func(string), again bool) error {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection LISTENs: it never goes back to the pool.
	conn := pc.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return err
	}
	if again {
		fn("") // what was sent while nobody listened is lost: wake everything
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		fn(n.Payload)
	}
}

var _ hq.FleetStore = (*Store)(nil)

// PutContacts implements hq.FleetStore: one round trip for them all.
func (s *Store) PutContacts(ctx context.Context, cs []hq.Contact) error {
	if len(cs) == 0 {
		return nil
	}
	var b pgx.Batch
	for _, c := range cs {
		h := c.Health
		b.Queue(`INSERT INTO terminal_contacts (terminal, at, remote, ruleset, tilld, outbox, oldest,
			store, readers, readers_up, reader_error, clock, cert, till_cert)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT (terminal) DO UPDATE SET at = $2, remote = $3, ruleset = $4, tilld = $5, outbox = $6, oldest = $7,
			store = $8, readers = $9, readers_up = $10, reader_error = $11, clock = $12, cert = $13, till_cert = $14`,
			c.Terminal, c.At, c.Remote, c.Ruleset, h.Tilld, int64(min(h.Outbox, math.MaxInt64)), nullTime(h.Oldest),
			c.Store, h.Readers, h.ReadersUp, h.ReaderError, nullTime(h.Clock), nullTime(c.Cert), nullTime(h.CertNotAfter))
	}
	if err := s.pool.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("record contacts of %d terminals: %w", len(cs), err)
	}
	return nil
}

// nullTime is t for a nullable timestamptz: NULL when zero.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// Contacts implements hq.FleetStore.
func (s *Store) Contacts(ctx context.Context) ([]hq.Contact, error) {
	rows, _ := s.pool.Query(ctx, `SELECT terminal, at, remote, ruleset, tilld, outbox, oldest,
		store, readers, readers_up, reader_error, clock, cert, till_cert FROM terminal_contacts ORDER BY terminal`)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (hq.Contact, error) {
		var c hq.Contact
		var outbox int64
		var oldest, clock, cert, tillCert *time.Time
		h := &c.Health
		if err := r.Scan(&c.Terminal, &c.At, &c.Remote, &c.Ruleset, &h.Tilld, &outbox, &oldest,
			&c.Store, &h.Readers, &h.ReadersUp, &h.ReaderError, &clock, &cert, &tillCert); err != nil {
			return c, err
		}
		c.At, h.Outbox = c.At.UTC(), uint64(outbox)
		h.Oldest, h.Clock, c.Cert, h.CertNotAfter = utcOrZero(oldest), utcOrZero(clock), utcOrZero(cert), utcOrZero(tillCert)
		return c, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read contacts: %w", err)
	}
	return out, nil
}

// utcOrZero is a nullable timestamptz read: zero for NULL.
func utcOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// LoginFailures implements hq.OperatorStore.
func (s *Store) LoginFailures(ctx context.Context, keys []string, since time.Time) (map[string][]time.Time, error) {
	rows, err := s.pool.Query(ctx, "SELECT key, at FROM login_failures WHERE key = ANY($1) AND at > $2 ORDER BY key, at", keys, since.UTC())
	if err != nil {
		return nil, fmt.Errorf("read failed logins: %w", err)
	}
	out := map[string][]time.Time{}
	var key string
	var at time.Time
	_, err = pgx.ForEachRow(rows, []any{&key, &at}, func() error {
		out[key] = append(out[key], at.UTC())
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read failed logins: %w", err)
	}
	return out, nil
}

// loginLockClass is the first key of the advisory locks, one per login
// count's key, that order the login attempts of every replica ("logn").
const loginLockClass int32 = 0x6c6f676e

// TakeLoginAttempt implements hq.OperatorStore: the attempt holds an
// advisory lock per key (taken in key order, so two attempts never wait
// for each other's) from the count to the record, so attempts on any
// replica sharing a key count one after another.
func (s *Store) TakeLoginAttempt(ctx context.Context, counts []hq.LoginCount, at, since time.Time) (map[string][]time.Time, bool, error) {
	keys := make([]string, len(counts))
	for i, c := range counts {
		keys[i] = c.Key
	}
	locks := slices.Clone(keys)
	slices.Sort(locks)
	locks = slices.Compact(locks)
	var failures map[string][]time.Time
	taken := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, k := range locks {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2::text))", loginLockClass, k); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, "DELETE FROM login_failures WHERE at <= $1", since.UTC()); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, "SELECT key, at FROM login_failures WHERE key = ANY($1) AND at > $2 ORDER BY key, at", keys, since.UTC())
		failures = map[string][]time.Time{}
		var key string
		var t time.Time
		if _, err := pgx.ForEachRow(rows, []any{&key, &t}, func() error {
			failures[key] = append(failures[key], t.UTC())
			return nil
		}); err != nil {
			return err
		}
		taken = true
		for _, c := range counts {
			if len(failures[c.Key]) >= c.Limit {
				taken = false
				return nil
			}
		}
		_, err := tx.Exec(ctx, "INSERT INTO login_failures (key, at) SELECT k, $2 FROM unnest($1::text[]) AS k", keys, at.UTC())
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("count a login attempt: %w", err)
	}
	return failures, taken, nil
}

// ForgiveLoginAttempt implements hq.OperatorStore: one round trip.
func (s *Store) ForgiveLoginAttempt(ctx context.Context, keys []string, at time.Time) error {
	var b pgx.Batch
	for _, k := range keys {
		b.Queue("DELETE FROM login_failures WHERE ctid = (SELECT ctid FROM login_failures WHERE key = $1 AND at = $2 LIMIT 1)", k, at.UTC())
	}
	if err := s.pool.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("take back a login attempt: %w", err)
	}
	return nil
}

// ClearLoginFailures implements hq.OperatorStore.
func (s *Store) ClearLoginFailures(ctx context.Context, key string) error {
	if _, err := s.pool.Exec(ctx, "DELETE FROM login_failures WHERE key = $1", key); err != nil {
		return fmt.Errorf("clear failed logins: %w", err)
	}
	return nil
}
