package hqbench

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/pgstore"
	"github.com/tilld/tilld/internal/pgtest"
	"github.com/tilld/tilld/sync/wire"
)

// BenchmarkIngest puts 100 000 sale events of 20 terminals (5 000 each, in
// uploads of 500, the forwarder's batch) into PostgreSQL three ways, one after
// the other in every iteration so that machine noise hits them alike:
//
//   - hq: each terminal posts its uploads, one after another as sync/forward
//     does, over mutual TLS with its own certificate, to an hq.Server on a
//     loopback listener over pgstore with tillhq's default options; all 20 at once.
//   - copy-batched: the same rows with COPY into the same table, 20 streams at
//     once, one COPY (one transaction) per 500 rows.
//   - copy-single: the same rows in one COPY.
//
// Tables are emptied before each (events, terminals and their chains, and
// the audit's; the cards' accounts stay, as at a live HQ). The upload bodies
// are encoded before the clock starts: a terminal encodes its own on its own
// machine. It reports rows/s of each and
// hq's rate as a percentage of each COPY's; ns/op is one iteration of all three
// with their set-up.
//
// Every sale is the till's typical one (saleBody: three lines, three rules
// applied, ~1 KiB of JSON) with a card of the chain's 100 000, so HQ also adds
// it to the card's account.
//
// With -hqbench.waits it also logs what PostgreSQL's backends were doing during
// HQ's ingest: pg_stat_activity sampled every 5 ms, by wait event and statement.
//
//	go test ./bench/hqbench -run '^$' -bench Ingest -benchtime 5x
func BenchmarkIngest(b *testing.B) {
	const terminals, per, batch = 20, 5000, 500
	e := newIngest(b, terminals, per, batch)
	viaHQ := e.viaHQ
	waits := map[string]int{}
	if *sampleWaits {
		viaHQ = func(tb testing.TB) {
			stop := e.sampleWaits(waits)
			defer stop()
			e.viaHQ(tb)
		}
		defer logWaits(b, waits)
	}
	var hqTime, batchedTime, singleTime time.Duration
	for range b.N {
		hqTime += e.measure(b, viaHQ)
		batchedTime += e.measure(b, e.copyBatched)
		singleTime += e.measure(b, e.copySingle)
	}
	rate := func(d time.Duration) float64 { return float64(e.rows*b.N) / d.Seconds() }
	b.ReportMetric(rate(hqTime), "hq-rows/s")
	b.ReportMetric(rate(batchedTime), "copy-batched-rows/s")
	b.ReportMetric(rate(singleTime), "copy-single-rows/s")
	b.ReportMetric(100*batchedTime.Seconds()/hqTime.Seconds(), "%_of_copy-batched")
	b.ReportMetric(100*singleTime.Seconds()/hqTime.Seconds(), "%_of_copy-single")
}

var sampleWaits = flag.Bool("hqbench.waits", false, "BenchmarkIngest: log what PostgreSQL's backends wait on during HQ's ingest")

// sampleWaits counts into counts, every 5 ms until stop is called, what each
// active backend of the database is doing: its wait event ("CPU" when none) and
// the start of its statement.
func (e *ingest) sampleWaits(counts map[string]int) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			rows, _ := e.pool.Query(context.Background(), `SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU'),
				regexp_replace(left(query, 40), '\s+', ' ', 'g')
				FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()`)
			var wait, query string
			pgx.ForEachRow(rows, []any{&wait, &query}, func() error {
				counts[fmt.Sprintf("%-28s %s", wait, query)]++
				return nil
			})
		}
	})
	return func() { close(done); wg.Wait() }
}

// logWaits logs the samples of sampleWaits, most frequent first.
func logWaits(b *testing.B, counts map[string]int) {
	var total int
	keys := slices.Collect(maps.Keys(counts))
	for _, k := range keys {
		total += counts[k]
	}
	slices.SortFunc(keys, func(x, y string) int { return counts[y] - counts[x] })
	var sb strings.Builder
	fmt.Fprintf(&sb, "PostgreSQL backends during HQ's ingest, %d samples:\n", total)
	for _, k := range keys {
		fmt.Fprintf(&sb, "%5.1f%%  %s\n", 100*float64(counts[k])/float64(total), k)
	}
	b.Log(sb.String())
}

// ingest is HQ on PostgreSQL with terminals ready to upload, and a pool of its
// own on the same database for COPY.
type ingest struct {
	rows    int
	batch   int
	url     string // HQ
	pool    *pgxpool.Pool
	store   *pgstore.Store // HQ's
	srv     *hq.Server
	chains  [][]event.Event
	all     []event.Event  // every chain, one after the other
	uploads [][]upload     // per terminal, its uploads as sync/forward encodes them
	clients []*http.Client // per terminal
}

// upload is the body of one upload and the seq HQ should acknowledge for it.
type upload struct {
	body []byte
	last uint64
}

// newIngest starts HQ on a new database and gives each of the terminals per
// sales (tillChain), to upload in batches of batch.
func newIngest(tb testing.TB, terminals, per, batch int) *ingest {
	tb.Helper()
	return newIngestOf(tb, terminals, per, batch, tillChain)
}

// newIngestOf is newIngest with the terminals' chains made by chainOf.
func newIngestOf(tb testing.TB, terminals, per, batch int, chainOf func(terminal string, n int) []event.Event) *ingest {
	tb.Helper()
	ctx := context.Background()
	dbURL := pgtest.URL(tb)
	store, err := pgstore.Open(ctx, dbURL, pgstore.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	cfg.MaxConns = int32(terminals)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	ca := newCA(tb)
	srv := hq.NewServer(hq.Options{Store: store, CA: ca, RequireClientCert: true})
	url, _ := serveHQ(tb, ca, srv)
	e := &ingest{rows: terminals * per, batch: batch, url: url, pool: pool, store: store, srv: srv}
	for i := range terminals {
		id := fmt.Sprintf("B%02d", i)
		chain := chainOf(id, per)
		var ups []upload
		for j := 0; j < len(chain); j += batch {
			evs := chain[j:min(j+batch, len(chain))]
			body, err := json.Marshal(wire.UploadRequest{Terminal: id, Events: evs})
			if err != nil {
				tb.Fatal(err)
			}
			ups = append(ups, upload{body, evs[len(evs)-1].Seq})
		}
		e.chains = append(e.chains, chain)
		e.all = append(e.all, chain...)
		e.uploads = append(e.uploads, ups)
		e.clients = append(e.clients, terminalClient(tb, ca, "S1", id))
	}
	return e
}

// measure empties the tables, times ingest, and checks every row arrived.
func (e *ingest) measure(tb testing.TB, ingest func(tb testing.TB)) time.Duration {
	tb.Helper()
	if _, err := e.pool.Exec(context.Background(), "TRUNCATE events, terminals, chains, audit_chains, audit_flags"); err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	ingest(tb)
	d := time.Since(start)
	var n int
	if err := e.pool.QueryRow(context.Background(), "SELECT count(*) FROM events").Scan(&n); err != nil || n != e.rows {
		tb.Fatalf("events table holds %d rows (%v), want %d", n, err, e.rows)
	}
	return d
}

// each runs fn for every terminal at once and fails tb with the first error.
func (e *ingest) each(tb testing.TB, fn func(i int) error) {
	var wg sync.WaitGroup
	errs := make(chan error, len(e.chains))
	for i := range e.chains {
		wg.Go(func() {
			if err := fn(i); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
}

// viaHQ posts every terminal's uploads to HQ, all terminals at once.
func (e *ingest) viaHQ(tb testing.TB) {
	e.each(tb, func(i int) error {
		for _, up := range e.uploads[i] {
			resp, err := e.clients[i].Post(e.url+wire.PathUpload, "application/json", bytes.NewReader(up.body))
			if err != nil {
				return err
			}
			data, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			var ans wire.UploadResponse
			if resp.StatusCode != http.StatusOK || json.Unmarshal(data, &ans) != nil || ans.Acked != up.last {
				return fmt.Errorf("upload of %s up to %d: %s %s", e.chains[i][0].Terminal, up.last, resp.Status, data)
			}
		}
		return nil
	})
}

// copyBatched copies the rows in 500-row COPYs, 20 streams at once.
func (e *ingest) copyBatched(tb testing.TB) {
	e.each(tb, func(i int) error {
		chain := e.chains[i]
		for j := 0; j < len(chain); j += e.batch {
			if err := e.copyRows(chain[j:min(j+e.batch, len(chain))]); err != nil {
				return err
			}
		}
		return nil
	})
}

// copySingle copies every row in one COPY.
func (e *ingest) copySingle(tb testing.TB) {
	if err := e.copyRows(e.all); err != nil {
		tb.Fatal(err)
	}
}

// copyRows copies events into table events with the columns and values
// pgstore's Append copies.
func (e *ingest) copyRows(evs []event.Event) error {
	_, err := e.pool.CopyFrom(context.Background(), pgx.Identifier{"events"},
		[]string{"terminal", "seq", "id", "type", "at_unix_ns", "ruleset_version", "ruleset_hash", "prev", "hash", "body"},
		pgx.CopyFromSlice(len(evs), func(i int) ([]any, error) {
			e := &evs[i]
			return []any{e.Terminal, int64(e.Seq), e.ID, e.Type, e.At.UnixNano(), e.RulesetVersion, e.RulesetHash, e.Prev, e.Hash, []byte(e.Body)}, nil
		}))
	return err
}
