package hq

import (
	"context"
	"net"
	"runtime"
	"strings"
	"time"
)

// Login attempts are limited per operator name and per caller address: after
// LoginFailuresPerName wrong passwords for one name, or LoginFailuresPerAddr
// from one address, within LoginWindow, further attempts are refused with
// 429 and Retry-After until the oldest of those failures is LoginWindow old,
// before any password is checked. Each attempt is counted as a failure
// before its password is checked (OperatorStore.TakeLoginAttempt: the check
// and the count are one transaction), so that attempts sent at once, to one
// replica or several, cannot all pass a count read before any of them
// failed; a successful login then clears its name's failures and takes its
// own back from its address's. The failures are kept in the store, so that
// every replica on one PostgreSQL counts the same attempts and a restart
// forgets none.
const (
	LoginFailuresPerName = 5
	LoginFailuresPerAddr = 20
	LoginWindow          = 15 * time.Minute
)

// loginCountsOf returns the counts of a login attempt: its name's and its
// address's.
func loginCountsOf(name, remote string) []LoginCount {
	return []LoginCount{{nameKey(name), LoginFailuresPerName}, {addrKey(remote), LoginFailuresPerAddr}}
}

func nameKey(name string) string { return "name:" + strings.ToLower(name) }

func addrKey(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	return "addr:" + host
}

// loginWait returns how long an attempt must wait before it may go on (0:
// it may now), given the failures of its counts within the window.
func loginWait(cs []LoginCount, failures map[string][]time.Time, now time.Time) time.Duration {
	var longest time.Duration
	for _, c := range cs {
		if fs := failures[c.Key]; len(fs) >= c.Limit {
			longest = max(longest, fs[len(fs)-c.Limit].Add(LoginWindow).Sub(now))
		}
	}
	return longest
}

// takeLoginAttempt counts an attempt as failed before its password is
// checked, and returns 0; or, when its name or address has failed too often
// within the window, counts nothing and returns how long it must wait.
func takeLoginAttempt(ctx context.Context, st OperatorStore, name, remote string, now time.Time) (wait time.Duration, err error) {
	cs := loginCountsOf(name, remote)
	fs, taken, err := st.TakeLoginAttempt(ctx, cs, now, now.Add(-LoginWindow))
	if err != nil || taken {
		return 0, err
	}
	// A count was full: its oldest failure in the window is after
	// now-LoginWindow, so the wait is above 0.
	return max(loginWait(cs, fs, now), time.Second), nil
}

// passwordSlots bounds the bcrypt comparisons of logins under way at once
// to half the CPUs (at least one): a flood of logins, each a quarter of a
// second of one core, leaves the rest to the terminals. An attempt waits
// passwordWait at most for a slot, then is answered 503.
var passwordSlots = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))

var passwordWait = 10 * time.Second

// checkPasswordSlot checks password against hash once a slot is free; ok
// is false when none was within passwordWait or ctx ended first.
func checkPasswordSlot(ctx context.Context, hash []byte, password string) (match, ok bool) {
	t := time.NewTimer(passwordWait)
	defer t.Stop()
	select {
	case passwordSlots <- struct{}{}:
	case <-t.C:
		return false, false
	case <-ctx.Done():
		return false, false
	}
	defer func() { <-passwordSlots }()
	return CheckPassword(hash, password), true
}
