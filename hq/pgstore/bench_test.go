package pgstore

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq/storetest"
	"github.com/tilld/tilld/internal/pgtest"
)

// BenchmarkIngest puts 100 000 sale events (20 terminals uploading at once, 5 000
// events each, in batches of 500) into the events table through Store.Append, and
// the same rows through raw COPY with the same concurrency and batches (one
// transaction per batch, as Append) and as one single COPY. Append reports its
// rate as a percentage of the batched COPY's. The server runs with fsync on.
// Every sale names the same card, so every upload also updates that account and
// takes a change feed position: those steps serialize (see saveCards).
//
//	go test -run '^$' -bench Ingest -benchtime 5x ./hq/pgstore
func BenchmarkIngest(b *testing.B) {
	const terminals, per, batch = 20, 5000, 500
	const rows = terminals * per
	ctx := context.Background()
	url := pgtest.URL(b)
	chains := make([][]event.Event, terminals)
	for i := range chains {
		chains[i] = storetest.Chain(fmt.Sprintf("B%02d", i), 1, per, "", 1999)
	}
	s, err := Open(ctx, url, Options{MaxConns: terminals})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()

	// each runs upload(terminal, batch) for every batch, terminals at once.
	each := func(b *testing.B, upload func(i int, evs []event.Event) error) {
		var wg sync.WaitGroup
		errs := make(chan error, terminals)
		for i, chain := range chains {
			wg.Go(func() {
				for j := 0; j < len(chain); j += batch {
					if err := upload(i, chain[j:min(j+batch, len(chain))]); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	}
	copyRows := func(evs []event.Event) error {
		_, err := s.pool.CopyFrom(ctx, pgx.Identifier{"events"}, eventColumns,
			pgx.CopyFromSlice(len(evs), func(i int) ([]any, error) { return eventRow("", &evs[i]), nil }))
		return err
	}
	// run times ingest with empty tables each time and reports rows/s.
	run := func(b *testing.B, ingest func(b *testing.B)) float64 {
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			empty(b, s.pool)
			b.StartTimer()
			ingest(b)
		}
		b.StopTimer()
		checkRows(b, s.pool, rows)
		rate := float64(rows*b.N) / b.Elapsed().Seconds()
		b.ReportMetric(rate, "rows/s")
		return rate
	}

	var copyRate float64
	b.Run("COPY-batched", func(b *testing.B) {
		copyRate = run(b, func(b *testing.B) {
			each(b, func(_ int, evs []event.Event) error { return copyRows(evs) })
		})
	})
	b.Run("COPY-single", func(b *testing.B) {
		all := make([]event.Event, 0, rows)
		for _, c := range chains {
			all = append(all, c...)
		}
		run(b, func(b *testing.B) {
			if err := copyRows(all); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("Append", func(b *testing.B) {
		rate := run(b, func(b *testing.B) {
			each(b, func(i int, evs []event.Event) error {
				acked, err := s.Append(ctx, chains[i][0].Terminal, evs)
				if err == nil && acked != evs[len(evs)-1].Seq {
					err = fmt.Errorf("append %s: acked %d, want %d", evs[0].Terminal, acked, evs[len(evs)-1].Seq)
				}
				return err
			})
		})
		if copyRate > 0 {
			b.ReportMetric(100*rate/copyRate, "%_of_COPY")
		}
	})
}

func empty(b *testing.B, pool *pgxpool.Pool) {
	if _, err := pool.Exec(context.Background(), "TRUNCATE events, terminals, chains, cards, seen"); err != nil {
		b.Fatal(err)
	}
}

func checkRows(b *testing.B, pool *pgxpool.Pool, want int) {
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM events").Scan(&n); err != nil || n != want {
		b.Fatalf("events table holds %d rows (%v), want %d", n, err, want)
	}
}
