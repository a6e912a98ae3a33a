package localapi

import "time"

// SetBodyTimeout sets how long a request's body may take to arrive, for a
// test, and returns what puts it back.
func SetBodyTimeout(d time.Duration) (restore func()) {
	old := bodyTimeout
	bodyTimeout = d
	return func() { bodyTimeout = old }
}
