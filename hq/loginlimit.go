package hq

import (
	"net"
	"strings"
	"sync"
	"time"
)

// Login attempts are limited per operator name and per caller address: after
// LoginFailuresPerName wrong passwords for one name, or LoginFailuresPerAddr
// from one address, within LoginWindow, further attempts are refused with
// 429 and Retry-After until the oldest of those failures is LoginWindow old,
// before any password is checked. A successful login clears its name's
// failures. The count is kept per replica (in memory): behind R replicas an
// attacker who spreads attempts gets R times the budget.
const (
	LoginFailuresPerName = 5
	LoginFailuresPerAddr = 20
	LoginWindow          = 15 * time.Minute
	// loginKeys bounds the keys kept; beyond it the oldest failures go first.
	loginKeys = 100_000
)

// loginLimiter keeps recent failed logins by key ("name:…", "addr:…").
type loginLimiter struct {
	mu       sync.Mutex
	failures map[string][]time.Time // oldest first, within the window
}

func newLoginLimiter() *loginLimiter {
	return &loginLimiter{failures: map[string][]time.Time{}}
}

// loginKeysOf returns the limiter's keys of a login attempt and the failures
// each allows.
func loginKeysOf(name, remote string) [2]struct {
	key   string
	limit int
} {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	return [2]struct {
		key   string
		limit int
	}{{"name:" + strings.ToLower(name), LoginFailuresPerName}, {"addr:" + host, LoginFailuresPerAddr}}
}

// wait returns how long the attempt must wait (0: it may go on).
func (l *loginLimiter) wait(name, remote string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var longest time.Duration
	for _, k := range loginKeysOf(name, remote) {
		fs := l.recent(k.key, now)
		if len(fs) >= k.limit {
			longest = max(longest, fs[len(fs)-k.limit].Add(LoginWindow).Sub(now))
		}
	}
	return longest
}

// fail records a failed attempt.
func (l *loginLimiter) fail(name, remote string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) >= loginKeys {
		for k := range l.failures { // drop what is out of the window; else anything
			if len(l.recent(k, now)) == 0 || len(l.failures) >= loginKeys {
				delete(l.failures, k)
			}
			if len(l.failures) < loginKeys/2 {
				break
			}
		}
	}
	for _, k := range loginKeysOf(name, remote) {
		l.failures[k.key] = append(l.recent(k.key, now), now)
	}
}

// succeed clears the name's failures.
func (l *loginLimiter) succeed(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, "name:"+strings.ToLower(name))
}

// recent returns the key's failures within the window, dropping older ones.
func (l *loginLimiter) recent(key string, now time.Time) []time.Time {
	fs := l.failures[key]
	i := 0
	for i < len(fs) && !fs[i].Add(LoginWindow).After(now) {
		i++
	}
	if i == len(fs) {
		delete(l.failures, key)
		return nil
	}
	fs = fs[i:]
	if len(fs) > LoginFailuresPerAddr { // never more than the larger limit
		fs = fs[len(fs)-LoginFailuresPerAddr:]
	}
	l.failures[key] = fs
	return fs
}
