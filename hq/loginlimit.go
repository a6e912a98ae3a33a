package hq

import (
	"context"
	"net"
	"strings"
	"time"
)

// Login attempts are limited per operator name and per caller address: after
// LoginFailuresPerName wrong passwords for one name, or LoginFailuresPerAddr
// from one address, within LoginWindow, further attempts are refused with
// 429 and Retry-After until the oldest of those failures is LoginWindow old,
// before any password is checked. A successful login clears its name's
// failures. The failures are kept in the store (OperatorStore.LoginFailures),
// so that every replica on one PostgreSQL counts the same attempts and a
// restart forgets none.
const (
	LoginFailuresPerName = 5
	LoginFailuresPerAddr = 20
	LoginWindow          = 15 * time.Minute
)

// loginKey is one count a login attempt adds to, and the failures it allows.
type loginKey struct {
	key   string
	limit int
}

// loginKeysOf returns the counts of a login attempt: its name's and its
// address's.
func loginKeysOf(name, remote string) []loginKey {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	return []loginKey{{nameKey(name), LoginFailuresPerName}, {"addr:" + host, LoginFailuresPerAddr}}
}

func nameKey(name string) string { return "name:" + strings.ToLower(name) }

func keysOf(ks []loginKey) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.key
	}
	return out
}

// loginWait returns how long an attempt must wait before it may go on (0:
// it may now), given the failures of its keys within the window.
func loginWait(ks []loginKey, failures map[string][]time.Time, now time.Time) time.Duration {
	var longest time.Duration
	for _, k := range ks {
		if fs := failures[k.key]; len(fs) >= k.limit {
			longest = max(longest, fs[len(fs)-k.limit].Add(LoginWindow).Sub(now))
		}
	}
	return longest
}

// loginWaitFor reads the attempt's failures from the store and returns how
// long it must wait, and whether its name has failures to clear when it
// succeeds.
func loginWaitFor(ctx context.Context, st OperatorStore, name, remote string, now time.Time) (wait time.Duration, nameFailed bool, err error) {
	ks := loginKeysOf(name, remote)
	fs, err := st.LoginFailures(ctx, keysOf(ks), now.Add(-LoginWindow))
	if err != nil {
		return 0, false, err
	}
	return loginWait(ks, fs, now), len(fs[nameKey(name)]) > 0, nil
}

// loginFailed records a failed attempt, and forgets the failures that
// left the window.
func loginFailed(ctx context.Context, st OperatorStore, name, remote string, now time.Time) error {
	return st.AddLoginFailure(ctx, keysOf(loginKeysOf(name, remote)), now, now.Add(-LoginWindow))
}
