package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tilld/tilld/hq"
)

// Operators (hq.OperatorStore): "operators" maps a name to the operator,
// "credentials" a credential's hash to it, "admin_log" a big-endian position
// to an admin log entry, "revoked" a terminal to its revocation. The buckets
// are made by the first write, so a file of an older tillhq opens as it is.
var (
	bucketOperators   = []byte("operators")
	bucketCredentials = []byte("credentials")
	bucketAdminLog    = []byte("admin_log")
	bucketRevoked     = []byte("revoked")
)

var _ hq.OperatorStore = (*Store)(nil)

func putJSON(tx *bolt.Tx, bucket []byte, key []byte, v any) error {
	b, err := tx.CreateBucketIfNotExists(bucket)
	if err != nil {
		return err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

// getJSON decodes the value under key into v and reports whether there was one.
func getJSON(tx *bolt.Tx, bucket []byte, key []byte, v any) (bool, error) {
	b := tx.Bucket(bucket)
	if b == nil {
		return false, nil
	}
	data := b.Get(key)
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("%s %q: %w", bucket, key, err)
	}
	return true, nil
}

// AddOperator implements hq.OperatorStore.
func (s *Store) AddOperator(_ context.Context, o hq.Operator) error {
	return s.update(func(tx *bolt.Tx) error {
		var old hq.Operator
		if ok, err := getJSON(tx, bucketOperators, []byte(o.Name), &old); err != nil || ok {
			if ok {
				return fmt.Errorf("%w: %s", hq.ErrOperatorExists, o.Name)
			}
			return err
		}
		return putJSON(tx, bucketOperators, []byte(o.Name), o)
	})
}

// Operator implements hq.OperatorStore.
func (s *Store) Operator(_ context.Context, name string) (hq.Operator, error) {
	var o hq.Operator
	err := s.view(func(tx *bolt.Tx) error {
		ok, err := getJSON(tx, bucketOperators, []byte(name), &o)
		if err == nil && !ok {
			err = hq.ErrNoOperator
		}
		return err
	})
	return o, err
}

// Operators implements hq.OperatorStore.
func (s *Store) Operators(_ context.Context) ([]hq.Operator, error) {
	var out []hq.Operator
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOperators)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var o hq.Operator
			if err := json.Unmarshal(v, &o); err != nil {
				return fmt.Errorf("operator %q: %w", k, err)
			}
			out = append(out, o)
			return nil
		})
	})
	return out, err
}

// DisableOperator implements hq.OperatorStore: bbolt's one writer at a time
// makes the last admin's check and the change one step.
func (s *Store) DisableOperator(_ context.Context, name string, at time.Time) error {
	return s.update(func(tx *bolt.Tx) error {
		var o hq.Operator
		ok, err := getJSON(tx, bucketOperators, []byte(name), &o)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: %s", hq.ErrNoOperator, name)
		}
		if o.Role == hq.RoleAdmin && o.Disabled.IsZero() {
			others := 0
			err := tx.Bucket(bucketOperators).ForEach(func(k, v []byte) error {
				var other hq.Operator
				if err := json.Unmarshal(v, &other); err != nil {
					return fmt.Errorf("operator %q: %w", k, err)
				}
				if other.Name != name && other.Role == hq.RoleAdmin && other.Disabled.IsZero() {
					others++
				}
				return nil
			})
			if err != nil {
				return err
			}
			if others == 0 {
				return fmt.Errorf("disable operator %s: %w", name, hq.ErrLastAdmin)
			}
		}
		if o.Disabled.IsZero() {
			o.Disabled = at.UTC()
			if err := putJSON(tx, bucketOperators, []byte(name), o); err != nil {
				return err
			}
		}
		b := tx.Bucket(bucketCredentials)
		if b == nil {
			return nil
		}
		var drop [][]byte
		err = b.ForEach(func(k, v []byte) error {
			var c hq.Credential
			if json.Unmarshal(v, &c) == nil && c.Operator == name {
				drop = append(drop, append([]byte(nil), k...))
			}
			return nil
		})
		for _, k := range drop {
			if err == nil {
				err = b.Delete(k)
			}
		}
		return err
	})
}

// AddCredential implements hq.OperatorStore.
func (s *Store) AddCredential(_ context.Context, c hq.Credential) error {
	return s.update(func(tx *bolt.Tx) error {
		var o hq.Operator
		ok, err := getJSON(tx, bucketOperators, []byte(c.Operator), &o)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: %s", hq.ErrNoOperator, c.Operator)
		}
		return putJSON(tx, bucketCredentials, []byte(c.Hash), c)
	})
}

// Credential implements hq.OperatorStore.
func (s *Store) Credential(_ context.Context, hash string) (hq.Credential, error) {
	var c hq.Credential
	err := s.view(func(tx *bolt.Tx) error {
		ok, err := getJSON(tx, bucketCredentials, []byte(hash), &c)
		if err == nil && !ok {
			err = hq.ErrNoCredential
		}
		return err
	})
	return c, err
}

// DeleteCredential implements hq.OperatorStore.
func (s *Store) DeleteCredential(_ context.Context, hash string) error {
	return s.update(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketCredentials); b != nil {
			return b.Delete([]byte(hash))
		}
		return nil
	})
}

// PurgeCredentials implements hq.OperatorStore.
func (s *Store) PurgeCredentials(_ context.Context, now time.Time) (int, error) {
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCredentials)
		if b == nil {
			return nil
		}
		var gone [][]byte
		err := b.ForEach(func(k, v []byte) error {
			var c hq.Credential
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("credential: %w", err)
			}
			if !c.Expires.IsZero() && !c.Expires.After(now) {
				gone = append(gone, k)
			}
			return nil
		})
		for _, k := range gone {
			if err == nil {
				err = b.Delete(k)
			}
		}
		n = len(gone)
		return err
	})
	return n, err
}

// AppendAdminLog implements hq.OperatorStore: bbolt's one writer at a time
// orders the entries.
func (s *Store) AppendAdminLog(_ context.Context, e hq.AdminEntry) (hq.AdminEntry, error) {
	err := s.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketAdminLog)
		if err != nil {
			return err
		}
		e.Seq, e.Prev = 1, ""
		if k, v := b.Cursor().Last(); k != nil {
			var last hq.AdminEntry
			if err := json.Unmarshal(v, &last); err != nil {
				return fmt.Errorf("admin log entry %d: %w", binary.BigEndian.Uint64(k), err)
			}
			e.Seq, e.Prev = last.Seq+1, last.Hash
		}
		e.At = e.At.UTC().Truncate(time.Microsecond)
		e.Hash = hq.AdminEntryHash(e)
		data, err := json.Marshal(e)
		if err != nil {
			return err
		}
		return b.Put(seqKey(uint64(e.Seq)), data)
	})
	return e, err
}

// AdminLog implements hq.OperatorStore.
func (s *Store) AdminLog(_ context.Context, after int64, limit int) ([]hq.AdminEntry, error) {
	var out []hq.AdminEntry
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAdminLog)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(seqKey(uint64(max(after, 0)) + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			var e hq.AdminEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("admin log entry %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// RevokeTerminal implements hq.OperatorStore.
func (s *Store) RevokeTerminal(_ context.Context, r hq.Revocation) error {
	return s.update(func(tx *bolt.Tx) error {
		var old hq.Revocation
		if ok, err := getJSON(tx, bucketRevoked, []byte(r.Terminal), &old); err != nil || ok {
			return err
		}
		r.At = r.At.UTC()
		return putJSON(tx, bucketRevoked, []byte(r.Terminal), r)
	})
}

// Revoked implements hq.OperatorStore.
func (s *Store) Revoked(_ context.Context, terminal string) (hq.Revocation, bool, error) {
	var r hq.Revocation
	var ok bool
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		ok, err = getJSON(tx, bucketRevoked, []byte(terminal), &r)
		return err
	})
	return r, ok, err
}

// bucketContacts maps a terminal to its last contact (hq.FleetStore).
var bucketContacts = []byte("contacts")

var _ hq.FleetStore = (*Store)(nil)

// PutContacts implements hq.FleetStore: one commit for them all.
func (s *Store) PutContacts(_ context.Context, cs []hq.Contact) error {
	if len(cs) == 0 {
		return nil
	}
	return s.update(func(tx *bolt.Tx) error {
		for _, c := range cs {
			if err := putJSON(tx, bucketContacts, []byte(c.Terminal), c); err != nil {
				return err
			}
		}
		return nil
	})
}

// Contacts implements hq.FleetStore.
func (s *Store) Contacts(_ context.Context) ([]hq.Contact, error) {
	var out []hq.Contact
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketContacts)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var c hq.Contact
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("contact of %q: %w", k, err)
			}
			out = append(out, c)
			return nil
		})
	})
	return out, err
}

// Revocations implements hq.OperatorStore.
func (s *Store) Revocations(_ context.Context) ([]hq.Revocation, error) {
	var out []hq.Revocation
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRevoked)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var r hq.Revocation
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("revocation of %q: %w", k, err)
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

// Failed logins: "login_failures" holds a key's failures under its length
// (2 bytes, big-endian), the key, the failure's Unix nanoseconds and a
// sequence number (8 bytes each, big-endian: failures at the same instant
// are several), so that a key's failures are one range in time order;
// "login_failures_at" holds the same with the time and number first, so that
// the failures out of the window are one range from the start.
var (
	bucketLoginFailures   = []byte("login_failures")
	bucketLoginFailuresAt = []byte("login_failures_at")
)

// unixNanos returns t's Unix nanoseconds, 0 for a time before 1970 (the
// zero time too) and the largest for one after 2262.
func unixNanos(t time.Time) uint64 {
	switch {
	case t.Before(time.Unix(0, 0)):
		return 0
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return uint64(t.UnixNano())
}

func loginPrefix(key string) []byte {
	p := binary.BigEndian.AppendUint16(nil, uint16(min(len(key), 0xffff)))
	return append(p, key[:min(len(key), 0xffff)]...)
}

// LoginFailures implements hq.OperatorStore.
func (s *Store) LoginFailures(_ context.Context, keys []string, since time.Time) (map[string][]time.Time, error) {
	out := map[string][]time.Time{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLoginFailures)
		if b == nil {
			return nil
		}
		for _, key := range keys {
			p := loginPrefix(key)
			c := b.Cursor()
			for k, _ := c.Seek(p); k != nil && len(k) == len(p)+16 && bytes.HasPrefix(k, p); k, _ = c.Next() {
				at := time.Unix(0, int64(binary.BigEndian.Uint64(k[len(p):]))).UTC()
				if at.After(since) {
					out[key] = append(out[key], at)
				}
			}
		}
		return nil
	})
	return out, err
}

// TakeLoginAttempt implements hq.OperatorStore: bbolt's one writer at a
// time makes the count and the record one step.
func (s *Store) TakeLoginAttempt(_ context.Context, counts []hq.LoginCount, at, since time.Time) (map[string][]time.Time, bool, error) {
	var failures map[string][]time.Time
	taken := false
	err := s.update(func(tx *bolt.Tx) error {
		byKey, err := tx.CreateBucketIfNotExists(bucketLoginFailures)
		if err != nil {
			return err
		}
		byAt, err := tx.CreateBucketIfNotExists(bucketLoginFailuresAt)
		if err != nil {
			return err
		}
		if err := forgetLoginFailures(byKey, byAt, since); err != nil {
			return err
		}
		failures, taken = map[string][]time.Time{}, true
		for _, c := range counts {
			p := loginPrefix(c.Key)
			cur := byKey.Cursor()
			for k, _ := cur.Seek(p); k != nil && len(k) == len(p)+16 && bytes.HasPrefix(k, p); k, _ = cur.Next() {
				failures[c.Key] = append(failures[c.Key], time.Unix(0, int64(binary.BigEndian.Uint64(k[len(p):]))).UTC())
			}
			if len(failures[c.Key]) >= c.Limit {
				taken = false
			}
		}
		if !taken {
			return nil
		}
		for _, c := range counts {
			n, err := byKey.NextSequence()
			if err != nil {
				return err
			}
			stamp := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, unixNanos(at)), n)
			p := loginPrefix(c.Key)
			if err := byKey.Put(append(p, stamp...), nil); err != nil {
				return err
			}
			if err := byAt.Put(append(stamp, p...), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return failures, taken, nil
}

// forgetLoginFailures deletes every failure at or before since.
func forgetLoginFailures(byKey, byAt *bolt.Bucket, since time.Time) error {
	var gone [][]byte
	horizon := binary.BigEndian.AppendUint64(nil, unixNanos(since))
	c := byAt.Cursor()
	for k, _ := c.First(); len(k) >= 16 && bytes.Compare(k[:8], horizon) <= 0; k, _ = c.Next() {
		gone = append(gone, k)
	}
	for _, k := range gone {
		if err := byAt.Delete(k); err != nil {
			return err
		}
		if err := byKey.Delete(append(k[16:len(k):len(k)], k[:16]...)); err != nil {
			return err
		}
	}
	return nil
}

// ForgiveLoginAttempt implements hq.OperatorStore.
func (s *Store) ForgiveLoginAttempt(_ context.Context, keys []string, at time.Time) error {
	return s.update(func(tx *bolt.Tx) error {
		byKey, byAt := tx.Bucket(bucketLoginFailures), tx.Bucket(bucketLoginFailuresAt)
		if byKey == nil || byAt == nil {
			return nil
		}
		for _, key := range keys {
			p := loginPrefix(key)
			first := binary.BigEndian.AppendUint64(append([]byte(nil), p...), unixNanos(at))
			k, _ := byKey.Cursor().Seek(first)
			if k == nil || len(k) != len(p)+16 || !bytes.HasPrefix(k, first) {
				continue // none at that time
			}
			k = append([]byte(nil), k...)
			if err := byKey.Delete(k); err != nil {
				return err
			}
			if err := byAt.Delete(append(k[len(p):len(k):len(k)], p...)); err != nil {
				return err
			}
		}
		return nil
	})
}

// ClearLoginFailures implements hq.OperatorStore.
func (s *Store) ClearLoginFailures(_ context.Context, key string) error {
	return s.update(func(tx *bolt.Tx) error {
		byKey, byAt := tx.Bucket(bucketLoginFailures), tx.Bucket(bucketLoginFailuresAt)
		if byKey == nil || byAt == nil {
			return nil
		}
		p := loginPrefix(key)
		var gone [][]byte
		c := byKey.Cursor()
		for k, _ := c.Seek(p); k != nil && len(k) == len(p)+16 && bytes.HasPrefix(k, p); k, _ = c.Next() {
			gone = append(gone, k)
		}
		for _, k := range gone {
			if err := byKey.Delete(k); err != nil {
				return err
			}
			if err := byAt.Delete(append(k[len(p):len(k):len(k)], p...)); err != nil {
				return err
			}
		}
		return nil
	})
}
