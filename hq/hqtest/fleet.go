package hqtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/sync/wire"
)

// FleetStore is a store that keeps contacts and revocations: both of HQ's.
type FleetStore interface {
	hq.FleetStore
	RevokeTerminal(ctx context.Context, r hq.Revocation) error
}

// PutFleet puts n terminals' last contacts (S000-T00, S000-T01, …, ten to a
// store) into s as of now, for the fleet view's benchmarks: contacts up to
// 200 s old, every one with its health (two readers, one terminal in 17
// with one down; clocks up to 90 s ahead; certificates 10 to 409 days from
// expiry), one in 13 with sales waiting; every hundredth is revoked.
func PutFleet(tb testing.TB, s FleetStore, n int, now time.Time) []hq.Contact {
	tb.Helper()
	ctx := context.Background()
	cs := make([]hq.Contact, n)
	for i := range cs {
		c := hq.Contact{Terminal: fmt.Sprintf("S%03d-T%02d", i/10, i%10), Store: fmt.Sprintf("S%03d", i/10), At: now.Add(-time.Duration(i%200) * time.Second),
			Remote: "10.0.0.1:4000", Ruleset: 1, Cert: now.AddDate(0, 0, 10+i%400),
			Health: wire.Health{Tilld: "1.0.0", Readers: 2, ReadersUp: 2 - i%17/16, Clock: now.Add(time.Duration(i%90) * time.Second)}}
		if i%13 == 0 {
			c.Health.Outbox, c.Health.Oldest = uint64(i%50+1), now.Add(-time.Duration(i)*time.Second)
		}
		if c.Health.ReadersUp < 2 {
			c.Health.ReaderError = "desk: open /dev/ttyUSB0: no such file or directory"
		}
		cs[i] = c
	}
	if err := s.PutContacts(ctx, cs); err != nil {
		tb.Fatal(err)
	}
	for i := 0; i < n; i += 100 {
		if err := s.RevokeTerminal(ctx, hq.Revocation{Terminal: cs[i].Terminal, At: now, By: "anna"}); err != nil {
			tb.Fatal(err)
		}
	}
	return cs
}
