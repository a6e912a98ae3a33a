package hq_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/sync/wire"
)

// TestLoginRateLimit: five wrong passwords for a name lock that name out for
// the window (429, Retry-After, in the admin log) even with the right
// password, other names still log in; twenty failures from one address lock
// the address; the lock ends with the window; a login purges the sessions
// that expired.
func TestLoginRateLimit(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	e := newAdminEnv(t, hq.Options{Now: clock})
	ctx := context.Background()
	for _, name := range []string{"mila", "vera"} {
		if _, err := hq.AddOperator(ctx, e.store, wire.AddUserRequest{Name: name, Role: "marketing", Password: "correct horse battery"}, clock()); err != nil {
			t.Fatal(err)
		}
	}
	login := func(name, pw string) (int, string) {
		t.Helper()
		body, _ := json.Marshal(wire.LoginRequest{Name: name, Password: pw})
		resp, err := http.Post(e.ts.URL+wire.PathAdminLogin, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	for i := range hq.LoginFailuresPerName {
		if code, _ := login("mila", "wrong password!"); code != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d, want 401", i+1, code)
		}
		advance(time.Minute)
	}
	code, retry := login("mila", "correct horse battery")
	secs, _ := strconv.Atoi(retry)
	// The first failure was 5 minutes ago: 10 minutes of the window remain.
	if code != http.StatusTooManyRequests || secs != 600 {
		t.Fatalf("after %d failures: %d, Retry-After %q; want 429 and 600", hq.LoginFailuresPerName, code, retry)
	}
	if code, _ := login("vera", "correct horse battery"); code != http.StatusOK {
		t.Fatalf("another name from the same address: %d, want 200", code)
	}
	advance(time.Duration(secs) * time.Second)
	if code, _ := login("mila", "correct horse battery"); code != http.StatusOK {
		t.Fatalf("after Retry-After: %d, want 200", code)
	}
	// A success clears the name's count.
	if code, _ := login("mila", "wrong password!"); code != http.StatusUnauthorized {
		t.Fatalf("one wrong password after a success: %d", code)
	}
	// The address: failures for names that do not exist add up.
	for i := range hq.LoginFailuresPerAddr {
		if code, _ := login("nobody"+strconv.Itoa(i), "wrong password!"); code != http.StatusUnauthorized && code != http.StatusTooManyRequests {
			t.Fatalf("failure %d: %d", i, code)
		}
	}
	if code, retry := login("vera", "correct horse battery"); code != http.StatusTooManyRequests || retry == "" {
		t.Fatalf("after %d failures from one address: %d, Retry-After %q; want 429", hq.LoginFailuresPerAddr, code, retry)
	}
	log, err := e.store.AdminLog(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	denied := 0
	for _, en := range log {
		if en.Action == "POST "+wire.PathAdminLogin && en.Status == http.StatusTooManyRequests && en.Outcome == "denied" {
			denied++
		}
	}
	if denied < 2 {
		t.Errorf("%d refused logins in the admin log, want at least 2", denied)
	}
	// A day later the address is let in again, and the login purges the
	// sessions of the day before (12 hours).
	before, err := e.store.PurgeCredentials(ctx, time.Time{})
	if err != nil || before != 0 {
		t.Fatalf("purge at the zero time = %d, %v", before, err)
	}
	advance(24 * time.Hour)
	if code, _ := login("vera", "correct horse battery"); code != http.StatusOK {
		t.Fatalf("a day later: %d, want 200", code)
	}
	if n, err := e.store.PurgeCredentials(ctx, clock().Add(-time.Second)); err != nil || n != 0 {
		t.Errorf("expired sessions left after a login: %d, %v", n, err)
	}
}

// TestLoginAttemptsAtOnce: wrong passwords sent all at once count each
// other: 60 for one name get 5 answers of 401, the rest 429; 60 for as many
// names from one address get 20, the rest 429.
func TestLoginAttemptsAtOnce(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		what  string
		name  func(i int) string
		limit int
	}{
		{"one name", func(int) string { return "mila" }, hq.LoginFailuresPerName},
		{"one address", func(i int) string { return fmt.Sprint("nobody", i) }, hq.LoginFailuresPerAddr},
	} {
		t.Run(c.what, func(t *testing.T) {
			e := newAdminEnv(t, hq.Options{Now: func() time.Time { return now }})
			if _, err := hq.AddOperator(context.Background(), e.store, wire.AddUserRequest{Name: "mila", Role: "marketing", Password: "correct horse battery"}, now); err != nil {
				t.Fatal(err)
			}
			const n = 60
			codes := make([]int, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					body, _ := json.Marshal(wire.LoginRequest{Name: c.name(i), Password: "wrong password!"})
					<-start
					resp, err := http.Post(e.ts.URL+wire.PathAdminLogin, "application/json", bytes.NewReader(body))
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					codes[i] = resp.StatusCode
				})
			}
			close(start)
			wg.Wait()
			count := map[int]int{}
			for _, code := range codes {
				count[code]++
			}
			if count[http.StatusUnauthorized] != c.limit || count[http.StatusTooManyRequests] != n-c.limit {
				t.Fatalf("%d wrong passwords at once: %v, want %d × 401 and the rest 429", n, count, c.limit)
			}
			body, _ := json.Marshal(wire.LoginRequest{Name: "mila", Password: "correct horse battery"})
			resp, err := http.Post(e.ts.URL+wire.PathAdminLogin, "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("the right password after: %d, want 429", resp.StatusCode)
			}
		})
	}
}

// TestLoginWaitsForAPasswordSlot: while every slot of the password checks is
// taken (a flood of logins), a login waits, then is answered 503 with
// Retry-After and not counted as a failure; once a slot is free it goes.
func TestLoginWaitsForAPasswordSlot(t *testing.T) {
	e := newAdminEnv(t, hq.Options{})
	ctx := context.Background()
	if _, err := hq.AddOperator(ctx, e.store, wire.AddUserRequest{Name: "mila", Role: "marketing", Password: "correct horse battery"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	defer hq.SetPasswordWait(100 * time.Millisecond)()
	body, _ := json.Marshal(wire.LoginRequest{Name: "mila", Password: "correct horse battery"})
	release := hq.HoldPasswordSlots()
	code, out := e.call(t, "POST", wire.PathAdminLogin, "", body)
	release()
	if code != http.StatusServiceUnavailable || !strings.Contains(string(out), "too many passwords at once") {
		t.Fatalf("a login with no slot free: %d %s, want 503", code, out)
	}
	if fs, err := e.store.LoginFailures(ctx, []string{"name:mila", "addr:127.0.0.1"}, time.Time{}); err != nil || len(fs) != 0 {
		t.Fatalf("failures after a login never checked: %v (%v), want none", fs, err)
	}
	if code, out := e.call(t, "POST", wire.PathAdminLogin, "", body); code != http.StatusOK {
		t.Fatalf("a login with a slot free: %d %s", code, out)
	}
	// A right password takes its attempt back from the address too.
	if fs, err := e.store.LoginFailures(ctx, []string{"name:mila", "addr:127.0.0.1"}, time.Time{}); err != nil || len(fs) != 0 {
		t.Fatalf("failures after a right password: %v (%v), want none", fs, err)
	}
}
