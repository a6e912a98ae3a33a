package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/tilld/tilld/bench/floor"
	"github.com/tilld/tilld/till"
)

// BenchmarkSaleLatency sells through the real tilld's local API from one
// client, tillhq in a process of its own and online (so uploads,
// acknowledgements and the change feed run as in a store), and beside it, in
// the same run and interleaved round-robin so that the machine's noise hits
// all alike, the two floors the sale is held to:
//
//   - floor: a trivial Go HTTP server on loopback whose handler reads the
//     same request and makes one 4 KiB write + fdatasync before answering
//     (one fsync plus an HTTP round trip, nothing else);
//   - sqlite: an insert of the same request's bytes committed by SQLite in
//     WAL mode, synchronous=FULL (bench/floor).
//
// It reports each one's p50 and p99 in µs and the ratios tilld/floor and
// tilld/sqlite of the p50s (issue 21: ≤ 1.5 and ≤ 2).
//
//	go test ./e2e -run '^$' -bench SaleLatency -benchtime 3000x -count 3
func BenchmarkSaleLatency(b *testing.B) {
	api, _ := benchTill(b)
	ctx := context.Background()
	request := func(i int64) till.SaleRequest {
		return till.SaleRequest{ID: fmt.Sprintf("lat-%d", i), Basket: basket([]string{"2000000000015", "2000000000022", ""}[i%3], i)}
	}
	sample, err := json.Marshal(request(0))
	if err != nil {
		b.Fatal(err)
	}

	fsync, closeFile, err := floor.Fsync4K(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { closeFile() })
	var seq int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req till.SaleRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		seq++ // one client: the handler never runs twice at once
		if err := fsync(seq); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":%q,"seq":%d}`, req.ID, seq)
	}))
	b.Cleanup(srv.Close)
	sqlite, closeDB, err := floor.SQLite(b.TempDir(), sample)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { closeDB() })

	ops := []struct {
		name string
		op   func(i int64) error
	}{
		{"tilld", func(i int64) error {
			_, code, err := api.Sale(ctx, request(i))
			if err == nil && code != http.StatusCreated {
				err = fmt.Errorf("status %d", code)
			}
			return err
		}},
		{"floor", func(i int64) error {
			body, err := json.Marshal(request(i))
			if err != nil {
				return err
			}
			resp, err := srv.Client().Post(srv.URL+"/v1/sales", "application/json", bytes.NewReader(body))
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var got struct{ ID string }
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusCreated {
				return fmt.Errorf("floor: %d, %v", resp.StatusCode, err)
			}
			_, err = io.Copy(io.Discard, resp.Body)
			return err
		}},
		{"sqlite", sqlite},
	}
	took := make([][]time.Duration, len(ops))
	var i int64
	for b.Loop() {
		for j := range ops {
			k := (int(i) + j) % len(ops)
			start := time.Now()
			if err := ops[k].op(i); err != nil {
				b.Fatalf("%s %d: %v", ops[k].name, i, err)
			}
			took[k] = append(took[k], time.Since(start))
		}
		i++
	}
	b.StopTimer()
	p50 := map[string]float64{}
	for k, o := range ops {
		slices.Sort(took[k])
		p50[o.name] = float64(took[k][len(took[k])/2].Microseconds())
		b.ReportMetric(p50[o.name], o.name+"-p50-µs")
		b.ReportMetric(float64(took[k][len(took[k])*99/100].Microseconds()), o.name+"-p99-µs")
	}
	b.ReportMetric(p50["tilld"]/p50["floor"], "tilld/floor")
	b.ReportMetric(p50["tilld"]/p50["sqlite"], "tilld/sqlite")
}
