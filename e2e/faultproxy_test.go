package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/boltstore"
	"github.com/tilld/tilld/hq/pgstore"
	"github.com/tilld/tilld/internal/faultproxy"
	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/pki"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

var faultSeed = flag.Uint64("fault-seed", 0, "fault test: replay the faults of this seed (0: a new one)")

const (
	faultSales     = 10000 // in all, across the terminals
	faultTerminals = 3
	faultWorkers   = 4 // POS clients per terminal
)

// TestSyncThroughFaults records 10 000 sales and returns (about one event in
// six a return of an earlier sale) on 3 terminals while a proxy
// between them and HQ resets connections, slows them, cuts requests and answers
// mid-way, and answers 500 and 503 with Retry-After in HQ's place. Once the
// faults stop, every outbox must drain and HQ hold each sale and return exactly
// once: per terminal, seqs 1..n, the count and total of the sales and returns
// the terminal answered, and the very events, each once, in a chain
// that verifies. Every kind of fault must have happened during the sales, and
// no terminal may have come back before a Retry-After was up. It runs against
// both HQ stores; -fault-seed replays a run's faults and baskets.
//
// The proxy forwards TCP, so mutual TLS passes through it untouched and resets,
// delays and cuts need no key. To answer an HTTP error it terminates TLS for
// that one connection with HQ's own certificate and key (tillhq init writes
// them to HQ's data directory) and requires the terminal's certificate, as HQ
// does; it never forwards what it decrypted, so it needs no terminal key.
func TestSyncThroughFaults(t *testing.T) {
	t.Parallel() // most of it is waiting out the faults
	for _, store := range []string{"bbolt", "postgres"} {
		t.Run(store, func(t *testing.T) { testSyncThroughFaults(t, store) })
	}
}

func testSyncThroughFaults(t *testing.T, store string) {
	began := time.Now()
	seed := *faultSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d", seed)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replay with: go test ./e2e -run 'TestSyncThroughFaults/%s$' -fault-seed %d (timing still varies)", store, seed)
		}
	})

	// HQ, on the store under test.
	work := t.TempDir()
	rules := filepath.Join(work, "rules.toml")
	writeFile(t, rules, string(discount.Example))
	hqAddr, adminAddr := freeAddr(t), freeAddr(t)
	adminURL := "http://" + adminAddr
	hqData := filepath.Join(work, "hq")
	run(t, bin("tillhq"), "init", "--data", hqData, "--host", "127.0.0.1")
	hqArgs := []string{"serve", "--data", hqData, "--listen", hqAddr, "--admin", adminAddr, "--rules", rules}
	var pgURL string
	if store == "postgres" {
		pgURL = pgDatabase(t)
		hqArgs = append(hqArgs, "--postgres", pgURL)
	}
	hqProc := start(t, "tillhq", hqArgs...)
	waitFor(t, 30*time.Second, "tillhq's admin API", func() bool {
		resp, err := http.Get(adminURL + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})

	// The proxy, faulty from the first connection on.
	var answered answeredErrors
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	proxy := faultproxy.New(ln, faultproxy.Options{
		Target:      hqAddr,
		Plan:        faultPlan(rand.New(rand.NewPCG(seed, 0xfa017))),
		TLS:         hqTLS(t, hqData),
		OnHTTPError: answered.add,
	})
	ctx, cancel := context.WithCancel(context.Background())
	proxyDone := make(chan error, 1)
	go func() { proxyDone <- proxy.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-proxyDone; err != nil {
			t.Errorf("proxy: %v", err)
		}
	})

	// Terminals enroll with HQ directly (a one-shot command store IT would
	// simply rerun), then talk to it only through the proxy.
	terms := make([]*faultTerminal, faultTerminals)
	for i := range terms {
		ft := &faultTerminal{id: fmt.Sprintf("S%d-T%d", i/2+1, i+1), seqs: map[uint64]string{}}
		data := filepath.Join(work, ft.id)
		token := lastLine(run(t, bin("tillhq"), "terminal", "add", "--admin", adminURL, "--store", fmt.Sprintf("S%d", i/2+1), "--terminal", ft.id))
		run(t, bin("tilld"), "enroll", "--hq", "https://"+hqAddr, "--token", token, "--data", data)
		apiAddr := freeAddr(t)
		conf := filepath.Join(work, ft.id+".toml")
		writeFile(t, conf, fmt.Sprintf("data_dir = %q\nlisten = %q\nhq = %q\n", data, apiAddr, "https://"+proxy.Addr()))
		start(t, "tilld", "run", "--config", conf)
		ft.api = apiClient(apiAddr, data)
		terms[i] = ft
	}
	// The rules come through the faults too.
	waitFor(t, 90*time.Second, "every terminal to get the rules from HQ", func() bool {
		for _, ft := range terms {
			st, err := ft.api.Status(context.Background())
			if err != nil || st.RulesetVersion == 0 {
				return false
			}
		}
		return true
	})
	ready := time.Now()
	before := proxy.Counts()

	// 10 000 sales, as fast as the terminals take them, while a watcher notes
	// how far behind HQ the terminals fall.
	selling := make(chan struct{})
	watched := make(chan uint64)
	go func() { watched <- peakOutbox(terms, selling) }()
	var wg sync.WaitGroup
	for i, ft := range terms {
		ft.quota = faultSales / faultTerminals
		if i < faultSales%faultTerminals {
			ft.quota++
		}
		for w := range faultWorkers {
			rng := rand.New(rand.NewPCG(seed, uint64(i*faultWorkers+w)))
			wg.Go(func() { ft.sell(t, rng) })
		}
	}
	wg.Wait()
	sold := time.Now()
	faults := proxy.Counts().Sub(before)
	proxy.Heal()
	close(selling)
	peak := <-watched
	if t.Failed() {
		t.FailNow()
	}

	// Every outbox drains.
	waitFor(t, 45*time.Second, "every terminal's outbox to drain", func() bool {
		for _, ft := range terms {
			st, err := ft.api.Status(context.Background())
			if err != nil || st.Outbox != 0 || st.LastSeq != uint64(ft.quota) || st.Acked != st.LastSeq {
				return false
			}
		}
		return true
	})
	drained := time.Now()

	// HQ holds each sale exactly once.
	rep := salesReport(t, adminURL)
	if len(rep.Terminals) != len(terms) {
		t.Fatalf("HQ reports %d terminals: %+v; want %d", len(rep.Terminals), rep.Terminals, len(terms))
	}
	for i, ft := range terms {
		got := rep.Terminals[i]
		if got.Terminal != ft.id || got.Count != ft.sales || got.MaxSeq != uint64(ft.quota) || got.Total != ft.total ||
			got.Refunds != ft.refunds || got.Refunded != ft.refunded || got.Net != ft.total-ft.refunded {
			t.Errorf("HQ reports %+v; want terminal %s with %d sales, max seq %d, total %d, %d refunds of %d", got, ft.id, ft.sales, ft.quota, ft.total, ft.refunds, ft.refunded)
		}
		if ft.refunds == 0 {
			t.Errorf("terminal %s recorded no refunds: the test mixes returns into its sales", ft.id)
		}
	}
	for _, ft := range terms {
		ft.checkSeqs(t)
	}
	hqProc.stop(t) // a clean stop, and the bbolt file free to open
	checkHeld(t, store, filepath.Join(hqData, "hq.db"), pgURL, terms)

	// The faults did happen while the sales were recorded, and Retry-After was
	// honoured.
	t.Logf("faults during the sales: %v; outboxes peaked at %d events", faults, peak)
	if faults.Resets == 0 || faults.Delayed == 0 || faults.CutsUp == 0 || faults.CutsDown == 0 || faults.HTTPErrors[500] == 0 || faults.HTTPErrors[503] == 0 {
		t.Errorf("some kind of fault never happened: %v", faults)
	}
	answered.check(t)
	var refunds int64
	for _, ft := range terms {
		refunds += ft.refunds
	}
	t.Logf("%d events (%d of them returns) on %d terminals: start %v, sales %v, drain %v, total %v",
		faultSales, refunds, len(terms), ready.Sub(began).Round(time.Millisecond), sold.Sub(ready).Round(time.Millisecond),
		drained.Sub(sold).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

// peakOutbox polls the terminals' status until done is closed and returns the
// longest outbox it saw.
func peakOutbox(terms []*faultTerminal, done <-chan struct{}) uint64 {
	var peak uint64
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, ft := range terms {
			if st, err := ft.api.Status(context.Background()); err == nil {
				peak = max(peak, st.Outbox)
			}
		}
		select {
		case <-done:
			return peak
		case <-tick.C:
		}
	}
}

// faultPlan deals the connections' faults from decks of ten, shuffled: one
// reset at once, two answered by the proxy with Retry-After: 1 (a 500 and a
// 503), and seven cut after a log-uniform number of bytes, four upstream and
// three downstream, three of the seven slow as well. Decks make every kind of
// fault come early and often. No connection is clean, because the terminal's
// HTTP client reuses a connection as long as it lives and a clean one would
// end its faults.
//
// The sizes are those of this product's traffic. The TLS handshake takes about
// 2.2 kB each way. A sale is an event of about 1.2 kB and an upload carries up
// to 500: cuts upstream fall anywhere from the handshake to beyond a full
// batch. An answer is about 150 bytes: cuts downstream fall in the handshake or
// within the first twenty answers, and lose an upload HQ has stored. A
// terminal that fell behind sends full batches, which most upstream cuts
// break, but most downstream cuts let at least one through, so it catches up.
func faultPlan(rng *rand.Rand) func() faultproxy.Fault {
	var deck []faultproxy.Fault
	return func() faultproxy.Fault {
		if len(deck) == 0 {
			deck = []faultproxy.Fault{
				{Kind: faultproxy.Reset},
				{Kind: faultproxy.HTTPError, Status: http.StatusInternalServerError, RetryAfter: 1},
				{Kind: faultproxy.HTTPError, Status: http.StatusServiceUnavailable, RetryAfter: 1},
			}
			for i := range 7 {
				f := faultproxy.Fault{Kind: faultproxy.Cut, Down: i%2 == 1}
				if f.Down {
					f.After = logUniform(rng, 2<<10, 5<<10)
				} else {
					f.After = logUniform(rng, 2<<10, 1<<20)
				}
				if i < 3 {
					f.Delay = time.Duration(2+rng.IntN(28)) * time.Millisecond
				}
				deck = append(deck, f)
			}
			rng.Shuffle(len(deck), func(i, j int) { deck[i], deck[j] = deck[j], deck[i] })
		}
		f := deck[0]
		deck = deck[1:]
		return f
	}
}

func logUniform(rng *rand.Rand, lo, hi float64) int64 {
	return int64(lo * math.Pow(hi/lo, rng.Float64()))
}

// hqTLS is the TLS configuration HQ serves terminals with, from its data
// directory, but requiring a client certificate on every connection: every
// request that reaches the proxy's own answers is an upload or a rules fetch,
// which HQ refuses without one.
func hqTLS(t *testing.T, hqData string) *tls.Config {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(hqData, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ca, err := pki.DecodeCert(read("ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.DecodeCert(read("hq.crt"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.DecodeKey(read("hq.key"))
	if err != nil {
		t.Fatal(err)
	}
	conf := pki.ServerTLS(ca, cert, key)
	conf.ClientAuth = tls.RequireAndVerifyClientCert
	return conf
}

// faultTerminal is one tilld and what its POS clients were answered.
type faultTerminal struct {
	id    string
	api   *localapi.Client
	quota int          // sales and refunds to record
	next  atomic.Int64 // events handed to workers

	mu       sync.Mutex
	sales    int64             // answered 201
	total    int64             // of the sales answered 201
	refunds  int64             // answered 201
	refunded int64             // the goods' money of the refunds answered 201
	seqs     map[uint64]string // seq → sale id, or refundPrefix and the refund id
}

// sell records sales, and now and then a return of one of its sales (a unit
// of its first line, or the whole sale), until the terminal's quota is
// handed out. Only the link to HQ is faulty, so every sale and return must
// be answered 201 at once.
func (ft *faultTerminal) sell(t *testing.T, rng *rand.Rand) {
	var mine []string // this worker's sales, none returned yet
	for {
		n := ft.next.Add(1)
		if n > int64(ft.quota) {
			return
		}
		id := fmt.Sprintf("%s-%05d", ft.id, n)
		if len(mine) > 0 && rng.IntN(5) == 0 {
			k := rng.IntN(len(mine))
			req := till.RefundRequest{ID: id, Sale: mine[k]}
			if rng.IntN(2) == 0 {
				req.Lines = []pos.ReturnLine{{Line: 1, Qty: 1}}
			}
			mine = append(mine[:k], mine[k+1:]...)
			res, code, err := ft.api.Refund(context.Background(), req)
			if err != nil || code != http.StatusCreated || res.ID != req.ID || res.Seq == 0 {
				t.Errorf("terminal %s, refund %s: %d %v %+v", ft.id, req.ID, code, err, res)
				return
			}
			ft.answered(t, res.Seq, refundPrefix+id, func() { ft.refunds++; ft.refunded += int64(res.Spend) })
			continue
		}
		req := till.SaleRequest{ID: id, Basket: newBasket(rng)}
		res, code, err := ft.api.Sale(context.Background(), req)
		if err != nil || code != http.StatusCreated || res.ID != req.ID || res.Seq == 0 {
			t.Errorf("terminal %s, sale %s: %d %v %+v", ft.id, req.ID, code, err, res)
			return
		}
		mine = append(mine, id)
		ft.answered(t, res.Seq, id, func() { ft.sales++; ft.total += int64(res.Total) })
	}
}

// answered books an event the terminal answered with seq.
func (ft *faultTerminal) answered(t *testing.T, seq uint64, id string, count func()) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	count()
	if other, dup := ft.seqs[seq]; dup {
		t.Errorf("terminal %s answered seq %d for %s and %s", ft.id, seq, other, id)
	}
	ft.seqs[seq] = id
}

// checkSeqs checks the terminal answered seqs 1..quota.
func (ft *faultTerminal) checkSeqs(t *testing.T) {
	t.Helper()
	for seq := uint64(1); seq <= uint64(ft.quota); seq++ {
		if _, ok := ft.seqs[seq]; !ok {
			t.Errorf("terminal %s answered no sale with seq %d", ft.id, seq)
			return
		}
	}
	if len(ft.seqs) != ft.quota {
		t.Errorf("terminal %s answered %d seqs; want %d", ft.id, len(ft.seqs), ft.quota)
	}
}

// checkHeld opens HQ's store (tillhq stopped) and checks that it holds each
// terminal's one chain 1..n, verifying, with each sale
// the terminal answered exactly once, at the seq it was answered with.
func checkHeld(t *testing.T, store, boltFile, pgURL string, terms []*faultTerminal) {
	t.Helper()
	ctx := context.Background()
	var s hq.Store
	var err error
	if store == "postgres" {
		s, err = pgstore.Open(ctx, pgURL, pgstore.Options{})
	} else {
		s, err = boltstore.Open(boltFile, boltstore.Options{})
	}
	if err != nil {
		t.Fatalf("open HQ's %s store: %v", store, err)
	}
	defer s.Close()
	for _, ft := range terms {
		chains, err := s.Chains(ctx, ft.id)
		if err != nil || len(chains) != 1 {
			t.Fatalf("HQ holds %d chains of %s (%v); want 1: %+v", len(chains), ft.id, err, chains)
		}
		_, evs, err := s.ChainEvents(ctx, ft.id, chains[0].Epoch.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != ft.quota {
			t.Errorf("HQ holds %d events of %s; want %d", len(evs), ft.id, ft.quota)
		}
		var prev event.Event
		ids := map[string]bool{}
		var total, refunded int64
		for _, e := range evs {
			if err := event.Verify(prev.Seq, prev.Hash, &e); err != nil {
				t.Fatalf("HQ's chain of %s: %v", ft.id, err)
			}
			prev = e
			id, err := bookID(e)
			if err != nil {
				t.Fatalf("HQ's event %d of %s: %v", e.Seq, ft.id, err)
			}
			if ids[id] {
				t.Errorf("HQ holds %s of %s twice", id, ft.id)
			}
			ids[id] = true
			if ft.seqs[e.Seq] != id {
				t.Errorf("HQ holds %s at seq %d of %s; the terminal answered %q there", id, e.Seq, ft.id, ft.seqs[e.Seq])
			}
			if e.Type == event.TypeRefund {
				var r pos.Refund
				if err := json.Unmarshal(e.Body, &r); err != nil {
					t.Fatalf("HQ's event %d of %s: %v", e.Seq, ft.id, err)
				}
				refunded += int64(r.Spend)
				continue
			}
			var sale pos.Sale
			if err := json.Unmarshal(e.Body, &sale); err != nil {
				t.Fatalf("HQ's event %d of %s: %v", e.Seq, ft.id, err)
			}
			total += int64(sale.Total)
		}
		if total != ft.total || refunded != ft.refunded {
			t.Errorf("HQ's sales of %s total %d and refunds %d; the terminal answered %d and %d", ft.id, total, refunded, ft.total, ft.refunded)
		}
	}
}

// answeredErrors are the requests the proxy answered in HQ's place.
type answeredErrors struct {
	mu   sync.Mutex
	list []answeredError
}

type answeredError struct {
	terminal, loop string
	at             time.Time
	retryAfter     time.Duration
}

// syncLoops names the terminal's loops that talk to HQ one request at a time,
// by the paths they use: the uploader sends the card holders after the events.
var syncLoops = map[string]string{
	wire.PathUpload:  "upload",
	wire.PathHolders: "upload",
	wire.PathRules:   "rules",
	wire.PathChanges: "changes",
}

func (a *answeredErrors) add(r *http.Request, f faultproxy.Fault) {
	loop, ok := syncLoops[r.URL.Path]
	if !ok {
		return // a card look-up: tried once, never retried
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.list = append(a.list, answeredError{r.TLS.PeerCertificates[0].Subject.CommonName, loop, time.Now(), time.Duration(f.RetryAfter) * time.Second})
}

// check verifies that no terminal came back sooner than the Retry-After it was
// given. Each of a terminal's sync loops sends one request at a time, so any
// request of the same loop that the proxy saw after an answer must come at
// least Retry-After after it. Only the requests the proxy answered itself are
// seen here: the others pass through encrypted.
func (a *answeredErrors) check(t *testing.T) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	byLoop := map[string][]answeredError{}
	for _, e := range a.list {
		byLoop[e.terminal+" "+e.loop] = append(byLoop[e.terminal+" "+e.loop], e)
	}
	pairs := 0
	for loop, list := range byLoop {
		slices.SortFunc(list, func(x, y answeredError) int { return x.at.Compare(y.at) })
		for i := 1; i < len(list); i++ {
			pairs++
			if gap := list[i].at.Sub(list[i-1].at); gap < list[i-1].retryAfter {
				t.Errorf("%s came back %v after an answer with Retry-After %v", loop, gap, list[i-1].retryAfter)
			}
		}
	}
	t.Logf("Retry-After: %d answers to sync loops, %d later requests of the same loop checked", len(a.list), pairs)
}
