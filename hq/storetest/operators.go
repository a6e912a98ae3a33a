package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/sync/wire"
)

// RunOperators runs the suite of hq.OperatorStore: operators, credentials,
// the admin log and revocations. open returns a new, empty store that
// implements it; RunOperators closes it.
func RunOperators(t *testing.T, open func(t *testing.T) hq.Store) {
	ctx := context.Background()
	newStore := func(t *testing.T) hq.OperatorStore {
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("close store: %v", err)
			}
		})
		st, ok := s.(hq.OperatorStore)
		if !ok {
			t.Fatalf("%T is no hq.OperatorStore", s)
		}
		return st
	}
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

	t.Run("operators", func(t *testing.T) {
		st := newStore(t)
		if ops, err := st.Operators(ctx); err != nil || len(ops) != 0 {
			t.Fatalf("a new store has operators %v (%v)", ops, err)
		}
		if _, err := st.Operator(ctx, "anna"); !errors.Is(err, hq.ErrNoOperator) {
			t.Fatalf("unknown operator: %v, want ErrNoOperator", err)
		}
		anna := hq.Operator{Name: "anna", Role: hq.RoleAdmin, PasswordHash: []byte("$2a$04$hash"), Created: at}
		boris := hq.Operator{Name: "boris", Role: hq.RoleAnalyst, PasswordHash: []byte("$2a$04$other"), Created: at.Add(time.Minute)}
		for _, o := range []hq.Operator{boris, anna} {
			if err := st.AddOperator(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.AddOperator(ctx, hq.Operator{Name: "anna", Role: hq.RoleSupport, PasswordHash: []byte("x"), Created: at}); !errors.Is(err, hq.ErrOperatorExists) {
			t.Fatalf("second anna: %v, want ErrOperatorExists", err)
		}
		got, err := st.Operator(ctx, "anna")
		if err != nil || got.Role != hq.RoleAdmin || string(got.PasswordHash) != "$2a$04$hash" || !got.Created.Equal(at) || !got.Disabled.IsZero() {
			t.Fatalf("anna = %+v (%v)", got, err)
		}
		ops, err := st.Operators(ctx)
		if err != nil || len(ops) != 2 || ops[0].Name != "anna" || ops[1].Name != "boris" {
			t.Fatalf("operators = %+v (%v), want anna and boris by name", ops, err)
		}
	})

	t.Run("credentials", func(t *testing.T) {
		st := newStore(t)
		if err := st.AddCredential(ctx, hq.Credential{Hash: "h0", Kind: hq.CredToken, Operator: "nobody", Created: at}); !errors.Is(err, hq.ErrNoOperator) {
			t.Fatalf("a credential of nobody: %v, want ErrNoOperator", err)
		}
		st.AddOperator(ctx, hq.Operator{Name: "anna", Role: hq.RoleMarketing, PasswordHash: []byte("h"), Created: at})
		st.AddOperator(ctx, hq.Operator{Name: "vera", Role: hq.RoleSupport, PasswordHash: []byte("h"), Created: at})
		tok := hq.Credential{Hash: "h1", Kind: hq.CredToken, Operator: "anna", Created: at}
		sess := hq.Credential{Hash: "h2", Kind: hq.CredSession, Operator: "anna", Created: at, Expires: at.Add(hq.SessionTTL)}
		vera := hq.Credential{Hash: "h3", Kind: hq.CredToken, Operator: "vera", Created: at}
		for _, c := range []hq.Credential{tok, sess, vera} {
			if err := st.AddCredential(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		for _, want := range []hq.Credential{tok, sess} {
			got, err := st.Credential(ctx, want.Hash)
			if err != nil || got.Kind != want.Kind || got.Operator != want.Operator || !got.Created.Equal(want.Created) || !got.Expires.Equal(want.Expires) {
				t.Fatalf("credential %s = %+v (%v), want %+v", want.Hash, got, err, want)
			}
		}
		// Purging keeps what has not expired (tokens never do).
		if n, err := st.PurgeCredentials(ctx, at.Add(hq.SessionTTL-time.Second)); err != nil || n != 0 {
			t.Fatalf("purge before the session expires = %d, %v", n, err)
		}
		if _, err := st.Credential(ctx, "h2"); err != nil {
			t.Fatalf("the session after an early purge: %v", err)
		}
		if err := st.DeleteCredential(ctx, "h2"); err != nil {
			t.Fatal(err)
		}
		old := hq.Credential{Hash: "h4", Kind: hq.CredSession, Operator: "vera", Created: at, Expires: at.Add(time.Minute)}
		if err := st.AddCredential(ctx, old); err != nil {
			t.Fatal(err)
		}
		if n, err := st.PurgeCredentials(ctx, at.Add(time.Minute)); err != nil || n != 1 {
			t.Fatalf("purge at the session's expiry = %d, %v; want 1", n, err)
		}
		if _, err := st.Credential(ctx, "h4"); !errors.Is(err, hq.ErrNoCredential) {
			t.Fatalf("the purged session: %v, want ErrNoCredential", err)
		}
		for _, h := range []string{"h1", "h3"} {
			if _, err := st.Credential(ctx, h); err != nil {
				t.Fatalf("token %s after a purge: %v", h, err)
			}
		}
		if _, err := st.Credential(ctx, "h2"); !errors.Is(err, hq.ErrNoCredential) {
			t.Fatalf("deleted session: %v, want ErrNoCredential", err)
		}
		if err := st.DeleteCredential(ctx, "never"); err != nil {
			t.Fatalf("deleting an unknown credential: %v", err)
		}
		// Disabling drops the operator's credentials, keeps the others', and
		// keeps the first time it happened.
		if err := st.DisableOperator(ctx, "anna", at.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := st.DisableOperator(ctx, "anna", at.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := st.DisableOperator(ctx, "nobody", at); !errors.Is(err, hq.ErrNoOperator) {
			t.Fatalf("disable nobody: %v, want ErrNoOperator", err)
		}
		if o, _ := st.Operator(ctx, "anna"); !o.Disabled.Equal(at.Add(time.Hour)) {
			t.Fatalf("anna disabled at %v, want %v", o.Disabled, at.Add(time.Hour))
		}
		if _, err := st.Credential(ctx, "h1"); !errors.Is(err, hq.ErrNoCredential) {
			t.Fatalf("a disabled operator's token: %v, want ErrNoCredential", err)
		}
		if _, err := st.Credential(ctx, "h3"); err != nil {
			t.Fatalf("vera's token after anna was disabled: %v", err)
		}
	})

	t.Run("admin log", func(t *testing.T) {
		st := newStore(t)
		if es, err := st.AdminLog(ctx, 0, 10); err != nil || len(es) != 0 {
			t.Fatalf("a new store's admin log: %v (%v)", es, err)
		}
		// Appends from many goroutines (replicas) take consecutive positions
		// and chain.
		const n = 40
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := st.AppendAdminLog(ctx, hq.AdminEntry{At: at.Add(time.Duration(i) * time.Second), Operator: fmt.Sprint("op", i),
					Role: hq.RoleAdmin, Action: "POST /v1/admin/rules", Target: "version 2", Remote: "127.0.0.1:5000", Outcome: "ok", Status: 201})
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		all, err := st.AdminLog(ctx, 0, 1000)
		if err != nil || len(all) != n {
			t.Fatalf("admin log holds %d entries (%v), want %d", len(all), err, n)
		}
		for i, e := range all {
			if e.Seq != int64(i+1) {
				t.Fatalf("entry %d has seq %d", i, e.Seq)
			}
		}
		if err := hq.VerifyAdminLog("", all); err != nil {
			t.Fatalf("the admin log as stored does not verify: %v", err)
		}
		page, err := st.AdminLog(ctx, 10, 5)
		if err != nil || len(page) != 5 || page[0].Seq != 11 || page[4].Seq != 15 {
			t.Fatalf("page after 10 = %d entries from %v (%v)", len(page), page, err)
		}
		if err := hq.VerifyAdminLog(all[9].Hash, page); err != nil {
			t.Fatalf("a page verifies from the entry before it: %v", err)
		}
		// Changed, removed: caught.
		bad := append([]hq.AdminEntry(nil), all...)
		bad[3].Outcome = "denied"
		if err := hq.VerifyAdminLog("", bad); err == nil {
			t.Fatal("a changed entry verifies")
		}
		if err := hq.VerifyAdminLog("", append(all[:3:3], all[4:]...)); err == nil {
			t.Fatal("a log with an entry removed verifies")
		}
	})

	t.Run("revocations", func(t *testing.T) {
		st := newStore(t)
		if _, ok, err := st.Revoked(ctx, "S1-T1"); ok || err != nil {
			t.Fatalf("a new store has S1-T1 revoked (%v)", err)
		}
		if err := st.RevokeTerminal(ctx, hq.Revocation{Terminal: "S1-T1", At: at, By: "anna"}); err != nil {
			t.Fatal(err)
		}
		if err := st.RevokeTerminal(ctx, hq.Revocation{Terminal: "S1-T1", At: at.Add(time.Hour), By: "boris"}); err != nil {
			t.Fatal(err)
		}
		r, ok, err := st.Revoked(ctx, "S1-T1")
		if !ok || err != nil || !r.At.Equal(at) || r.By != "anna" {
			t.Fatalf("S1-T1 revoked = %+v %v (%v), want the first revocation", r, ok, err)
		}
		if _, ok, _ := st.Revoked(ctx, "S1-T2"); ok {
			t.Fatal("S1-T2 revoked with S1-T1")
		}
		if err := st.RevokeTerminal(ctx, hq.Revocation{Terminal: "S0-T9", At: at, By: "anna"}); err != nil {
			t.Fatal(err)
		}
		revs, err := st.Revocations(ctx)
		if err != nil || len(revs) != 2 || revs[0].Terminal != "S0-T9" || revs[1].Terminal != "S1-T1" || revs[1].By != "anna" || !revs[1].At.Equal(at) {
			t.Fatalf("revocations = %+v (%v), want S0-T9 and S1-T1 by terminal", revs, err)
		}
	})

	t.Run("fleet", func(t *testing.T) {
		st := newStore(t)
		fs, ok := st.(hq.FleetStore)
		if !ok {
			t.Fatalf("%T is no hq.FleetStore", st)
		}
		if cs, err := fs.Contacts(ctx); err != nil || len(cs) != 0 {
			t.Fatalf("a new store has contacts %v (%v)", cs, err)
		}
		first := hq.Contact{Terminal: "S1-T2", At: at, Remote: "10.0.0.2:4000", Ruleset: 3, Health: wire.Health{Tilld: "1.0", Outbox: 0}}
		other := hq.Contact{Terminal: "S1-T1", At: at, Remote: "10.0.0.1:4000", Ruleset: 2}
		later := hq.Contact{Terminal: "S1-T2", At: at.Add(time.Minute), Remote: "10.0.0.2:4001", Ruleset: 4, Store: "S1",
			Cert: at.AddDate(0, 0, 20), Health: wire.Health{Tilld: "1.1", Outbox: 12, Oldest: at.Add(-time.Hour),
				Readers: 2, ReadersUp: 1, ReaderError: "desk: open /dev/ttyUSB0: no such file or directory",
				Clock: at.Add(time.Minute + 1500*time.Millisecond), CertNotAfter: at.AddDate(0, 0, 21)}}
		for _, cs := range [][]hq.Contact{{first, other}, nil, {later}} {
			if err := fs.PutContacts(ctx, cs); err != nil {
				t.Fatal(err)
			}
		}
		cs, err := fs.Contacts(ctx)
		if err != nil || len(cs) != 2 {
			t.Fatalf("contacts = %+v (%v), want 2", cs, err)
		}
		for i, want := range []hq.Contact{other, later} {
			got := cs[i]
			gh, wh := got.Health, want.Health
			if got.Terminal != want.Terminal || !got.At.Equal(want.At) || got.Remote != want.Remote || got.Ruleset != want.Ruleset ||
				got.Store != want.Store || !got.Cert.Equal(want.Cert) ||
				gh.Tilld != wh.Tilld || gh.Outbox != wh.Outbox || !gh.Oldest.Equal(wh.Oldest) || gh.Readers != wh.Readers ||
				gh.ReadersUp != wh.ReadersUp || gh.ReaderError != wh.ReaderError || !gh.Clock.Equal(wh.Clock) || !gh.CertNotAfter.Equal(wh.CertNotAfter) {
				t.Fatalf("contact %d = %+v, want %+v", i, got, want)
			}
		}
	})

	t.Run("login failures", func(t *testing.T) {
		st := newStore(t)
		name, addr, other := "name:mila", "addr:10.0.0.7", "name:vera"
		if fs, err := st.LoginFailures(ctx, []string{name, addr}, time.Time{}); err != nil || len(fs) != 0 {
			t.Fatalf("a new store has failed logins %v (%v)", fs, err)
		}
		// take records an attempt under limits high enough to take it.
		take := func(at, since time.Time, keys ...string) map[string][]time.Time {
			t.Helper()
			var cs []hq.LoginCount
			for _, k := range keys {
				cs = append(cs, hq.LoginCount{Key: k, Limit: 100})
			}
			fs, taken, err := st.TakeLoginAttempt(ctx, cs, at, since)
			if err != nil || !taken {
				t.Fatalf("take an attempt at %s under %v: taken %v (%v)", at, keys, taken, err)
			}
			return fs
		}
		for i := range 3 {
			take(at.Add(time.Duration(i)*time.Minute), time.Time{}, name, addr)
		}
		if fs := take(at.Add(3*time.Minute), time.Time{}, other, addr); len(fs[addr]) != 3 || len(fs[other]) != 0 || len(fs[name]) != 0 {
			t.Fatalf("an attempt read %v: want the address's 3 before it, and only its own keys", fs)
		}
		fs, err := st.LoginFailures(ctx, []string{name, addr, "name:nobody"}, at)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]time.Time{
			name: {at.Add(time.Minute), at.Add(2 * time.Minute)},
			addr: {at.Add(time.Minute), at.Add(2 * time.Minute), at.Add(3 * time.Minute)},
		}
		if fmt.Sprint(fs) != fmt.Sprint(want) {
			t.Fatalf("failures after %s = %v, want %v (in time order, only those after)", at, fs, want)
		}
		// A prefix of a key is another key.
		if fs, err := st.LoginFailures(ctx, []string{"name:mil"}, time.Time{}); err != nil || len(fs) != 0 {
			t.Fatalf("failures of a key's prefix: %v (%v)", fs, err)
		}
		if err := st.ClearLoginFailures(ctx, name); err != nil {
			t.Fatal(err)
		}
		fs, err = st.LoginFailures(ctx, []string{name, addr, other}, time.Time{})
		if err != nil || len(fs[name]) != 0 || len(fs[addr]) != 4 || len(fs[other]) != 1 {
			t.Fatalf("after clearing %s: %v (%v); want the address's 4 and %s's 1 kept", name, fs, err, other)
		}
		// Forgiving takes back one failure at that time per key, no more,
		// and no other key's.
		take(at.Add(3*time.Minute), time.Time{}, addr)
		if err := st.ForgiveLoginAttempt(ctx, []string{addr, "addr:10.0.0.8"}, at.Add(3*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := st.ForgiveLoginAttempt(ctx, []string{addr}, at.Add(4*time.Minute)); err != nil {
			t.Fatalf("forgiving an attempt that is not there: %v", err)
		}
		fs, err = st.LoginFailures(ctx, []string{name, addr, other}, time.Time{})
		if err != nil || len(fs[addr]) != 4 || len(fs[other]) != 1 {
			t.Fatalf("after forgiving one of the address's two at %s: %v (%v); want 4 left, %s's 1 kept", at.Add(3*time.Minute), fs, err, other)
		}
		// An attempt forgets every key's failures at or before its horizon.
		take(at.Add(time.Hour), at.Add(2*time.Minute), name)
		fs, err = st.LoginFailures(ctx, []string{name, addr, other}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		want = map[string][]time.Time{name: {at.Add(time.Hour)}, addr: {at.Add(3 * time.Minute)}, other: {at.Add(3 * time.Minute)}}
		if fmt.Sprint(fs) != fmt.Sprint(want) {
			t.Fatalf("after forgetting up to %s: %v, want %v", at.Add(2*time.Minute), fs, want)
		}
		// A full count takes nothing, for any key, and says what it read.
		full := []hq.LoginCount{{Key: name, Limit: 1}, {Key: "addr:10.0.0.9", Limit: 5}}
		fs, taken, err := st.TakeLoginAttempt(ctx, full, at.Add(time.Hour+time.Minute), at)
		if err != nil || taken || len(fs[name]) != 1 {
			t.Fatalf("an attempt on a full count: taken %v, read %v (%v); want not taken and the one failure", taken, fs, err)
		}
		if fs, _ := st.LoginFailures(ctx, []string{name, "addr:10.0.0.9"}, time.Time{}); len(fs[name]) != 1 || len(fs["addr:10.0.0.9"]) != 0 {
			t.Fatalf("a refused attempt recorded something: %v", fs)
		}
	})

	t.Run("login attempts at once", func(t *testing.T) {
		// Attempts at once on one key, as from many replicas, take no more
		// than the limit between them: the count and the record are one step.
		st := newStore(t)
		const n, limit = 30, 5
		var wg sync.WaitGroup
		var mu sync.Mutex
		took := 0
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				cs := []hq.LoginCount{{Key: "name:mila", Limit: limit}, {Key: fmt.Sprintf("addr:10.0.1.%d", i), Limit: 100}}
				_, taken, err := st.TakeLoginAttempt(ctx, cs, at, at.Add(-time.Hour))
				if err != nil {
					errs <- err
					return
				}
				if taken {
					mu.Lock()
					took++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if took != limit {
			t.Fatalf("%d attempts at once on one name took %d, want the limit %d", n, took, limit)
		}
		if fs, err := st.LoginFailures(ctx, []string{"name:mila"}, time.Time{}); err != nil || len(fs["name:mila"]) != limit {
			t.Fatalf("the name's failures: %v (%v), want %d", fs, err, limit)
		}
	})

	t.Run("last admin", func(t *testing.T) {
		st := newStore(t)
		for _, o := range []hq.Operator{
			{Name: "anna", Role: hq.RoleAdmin, PasswordHash: []byte("h"), Created: at},
			{Name: "boris", Role: hq.RoleAdmin, PasswordHash: []byte("h"), Created: at},
			{Name: "mila", Role: hq.RoleMarketing, PasswordHash: []byte("h"), Created: at},
		} {
			if err := st.AddOperator(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.AddCredential(ctx, hq.Credential{Hash: "ha", Kind: hq.CredToken, Operator: "anna", Created: at}); err != nil {
			t.Fatal(err)
		}
		// Two admins disabled at once, as by two replicas: one goes, the
		// other is refused, whichever came second.
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, name := range []string{"anna", "boris"} {
			wg.Go(func() { errs[i] = st.DisableOperator(ctx, name, at.Add(time.Hour)) })
		}
		wg.Wait()
		var kept string
		switch {
		case errs[0] == nil && errors.Is(errs[1], hq.ErrLastAdmin):
			kept = "boris"
		case errs[1] == nil && errors.Is(errs[0], hq.ErrLastAdmin):
			kept = "anna"
		default:
			t.Fatalf("disabling both admins at once: %v, %v; want one nil and one ErrLastAdmin", errs[0], errs[1])
		}
		if o, err := st.Operator(ctx, kept); err != nil || !o.Disabled.IsZero() {
			t.Fatalf("the refused admin %s: %+v (%v), want still enabled", kept, o, err)
		}
		if kept == "anna" {
			if _, err := st.Credential(ctx, "ha"); err != nil {
				t.Fatalf("the last admin's token after the refused disable: %v", err)
			}
		}
		// Others may go; a disabled admin may be disabled again (no change).
		if err := st.DisableOperator(ctx, "mila", at.Add(time.Hour)); err != nil {
			t.Fatalf("disable marketing beside the last admin: %v", err)
		}
		gone := map[string]string{"anna": "boris", "boris": "anna"}[kept]
		if err := st.DisableOperator(ctx, gone, at.Add(2*time.Hour)); err != nil {
			t.Fatalf("disable the disabled admin %s again: %v", gone, err)
		}
		// Another admin added: the last one may go.
		if err := st.AddOperator(ctx, hq.Operator{Name: "vera", Role: hq.RoleAdmin, PasswordHash: []byte("h"), Created: at}); err != nil {
			t.Fatal(err)
		}
		if err := st.DisableOperator(ctx, kept, at.Add(3*time.Hour)); err != nil {
			t.Fatalf("disable %s with vera an admin: %v", kept, err)
		}
		if err := st.DisableOperator(ctx, "vera", at.Add(3*time.Hour)); !errors.Is(err, hq.ErrLastAdmin) {
			t.Fatalf("disable vera, the last admin: %v, want ErrLastAdmin", err)
		}
	})
}
