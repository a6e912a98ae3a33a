package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/till"
)

var (
	soak      = flag.Bool("soak", false, "kill tests: TestCrash kills tilld 500 times instead of 50, TestPowerCut cuts the guest's power 200 times instead of 20")
	crashSeed = flag.Uint64("seed", 0, "kill tests: replay the run of this seed (0: a new one)")
)

// TestCrash kills tilld with SIGKILL at random moments while four POS clients
// ring up sales, restarts it, and checks after every restart and at the end
// that no acknowledged sale was lost, altered or doubled: every sale answered
// 201 is in the ledger with the content of that answer, a retry of it is
// answered 200 with the same content, the chain verifies, seqs are gap-free and
// unique, each sale id is recorded once, and the account views equal their
// rebuild from the events. HQ runs throughout, so acknowledgements are written
// (and killed) too.
func TestCrash(t *testing.T) {
	kills := 50
	if *soak {
		kills = 500
	}
	seed := killSeed(t, "go test ./e2e -run 'TestCrash$' -seed %d (timing still varies)")
	rng := rand.New(rand.NewPCG(seed, 0x7111d))

	work := t.TempDir()
	dataDir := filepath.Join(work, "tilld")
	startHQ(t, work, dataDir)
	apiAddr := freeAddr(t)
	conf := filepath.Join(work, "tilld.toml")
	writeFile(t, conf, fmt.Sprintf("data_dir = %q\nlisten = %q\nlog_level = \"warn\"\n", dataDir, apiAddr))
	api := apiClient(apiAddr, dataDir)
	api.HTTP.Timeout = 5 * time.Second
	book := newSaleBook()

	for round := 1; round <= kills; round++ {
		p := startKillable(t, "tilld", "run", "--config", conf)
		if round > 1 && rng.IntN(8) == 0 {
			// Now and then, a kill while tilld is still starting.
			time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
			p.kill(t)
			continue
		}
		waitReady(t, api, p, round == 1)
		rep, err := api.LedgerVerify(context.Background())
		if err != nil || !rep.OK {
			t.Fatalf("round %d: verify after the restart: %v %+v\n%s", round, err, rep.Problems, p.out)
		}
		if round%10 == 0 {
			checkReplays(t, api, book, rng, 10)
		}

		book.sellThenKill(t, api, seed, round, time.Duration(20+rng.IntN(380))*time.Millisecond, func() { p.kill(t) })
		if t.Failed() {
			t.Fatalf("round %d failed; output of the killed tilld:\n%s", round, p.out)
		}
	}

	// A last start: settle what was in flight at the kills, then check it all.
	p := startKillable(t, "tilld", "run", "--config", conf)
	waitReady(t, api, p, false)
	book.settle(t, api)
	rep, err := api.LedgerVerify(context.Background())
	if err != nil || !rep.OK {
		t.Fatalf("final verify: %v %+v", err, rep.Problems)
	}
	var export bytes.Buffer
	if err := api.LedgerExport(context.Background(), 0, &export); err != nil {
		t.Fatal(err)
	}
	book.checkExport(t, &export, rep)
	checkReplays(t, api, book, rng, 50)
	p.term(t)
	t.Logf("%d kills; %d sales acknowledged, %d events, %d accounts", kills, book.acked(), rep.Events, rep.Accounts)
}

// startHQ starts tillhq with the example rules, its data in work/hq, and enrolls
// terminal S1-T1 into dataDir, as store IT does: tilld then finds its id, HQ's
// address and the rules key there. It returns the URL of HQ's admin API.
func startHQ(t *testing.T, work, dataDir string) (adminURL string) {
	t.Helper()
	return newHQ(t, work, dataDir).adminURL
}

// hqProc is a tillhq that a test may stop and start again on the same
// addresses and data.
type hqProc struct {
	adminURL string
	addr     string // where terminals reach it
	args     []string
	proc     *proc
}

// newHQ starts tillhq as startHQ does and returns it.
func newHQ(t testing.TB, work, dataDir string) *hqProc {
	t.Helper()
	h := launchHQ(t, work, discount.Example, "")
	h.enroll(t, "S1", "S1-T1", dataDir)
	return h
}

// launchHQ starts tillhq with the rules file rules and its data in work/hq,
// its store in the PostgreSQL database postgres unless that is "".
func launchHQ(t testing.TB, work string, rules []byte, postgres string) *hqProc {
	t.Helper()
	return launchHQWith(t, work, rules, postgres)
}

// launchHQWith is launchHQ with more flags for tillhq serve.
func launchHQWith(t testing.TB, work string, rules []byte, postgres string, flags ...string) *hqProc {
	t.Helper()
	file := filepath.Join(work, "rules.toml")
	if err := os.WriteFile(file, rules, 0o644); err != nil {
		t.Fatal(err)
	}
	hqAddr, adminAddr := freeAddr(t), freeAddr(t)
	hqData := filepath.Join(work, "hq")
	run(t, bin("tillhq"), "init", "--data", hqData, "--host", "127.0.0.1")
	h := &hqProc{adminURL: "http://" + adminAddr, addr: hqAddr,
		args: []string{"serve", "--data", hqData, "--listen", hqAddr, "--admin", adminAddr, "--rules", file}}
	if postgres != "" {
		h.args = append(h.args, "--postgres", postgres)
	}
	h.args = append(h.args, flags...)
	h.start(t)
	return h
}

// enroll adds terminal to store at HQ and enrolls it into dataDir, as store
// IT does.
func (h *hqProc) enroll(t testing.TB, store, terminal, dataDir string) {
	t.Helper()
	token := lastLine(run(t, bin("tillhq"), "terminal", "add", "--admin", h.adminURL, "--store", store, "--terminal", terminal))
	run(t, bin("tilld"), "enroll", "--hq", "https://"+h.addr, "--token", token, "--data", dataDir)
}

// enrolledTill is a terminal enrolled with HQ and configured, not started:
// its data directory, local API address, config file and API client.
type enrolledTill struct {
	data, addr, conf string
	api              *localapi.Client
}

// enrollTill enrolls terminal of store into work/TERMINAL and writes its
// tilld config (a free loopback API address, then extra: readers and the
// like) to work/TERMINAL.toml.
func (h *hqProc) enrollTill(t *testing.T, work, store, terminal, extra string) enrolledTill {
	t.Helper()
	e := enrolledTill{data: filepath.Join(work, terminal), addr: freeAddr(t), conf: filepath.Join(work, terminal+".toml")}
	h.enroll(t, store, terminal, e.data)
	writeFile(t, e.conf, fmt.Sprintf("data_dir = %q\nlisten = %q\n", e.data, e.addr)+extra)
	e.api = apiClient(e.addr, e.data)
	return e
}

// start starts tillhq (again) and waits for its admin API.
func (h *hqProc) start(t testing.TB) {
	t.Helper()
	h.proc = start(t, "tillhq", h.args...)
	waitFor(t, 30*time.Second, "tillhq's admin API", func() bool {
		resp, err := http.Get(h.adminURL + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
}

// killable is a tilld this test kills; only its last output is kept.
type killable struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

func startKillable(t *testing.T, name string, args ...string) *killable {
	t.Helper()
	p := &killable{cmd: exec.Command(bin(name), args...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.kill(t)
		}
	})
	return p
}

// kill sends SIGKILL to the process this test started and waits for it.
func (p *killable) kill(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("tilld did not die within 10 s of SIGKILL")
	}
}

// term stops the process cleanly and fails the test if it does not exit 0.
func (p *killable) term(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("tilld exited with %v after SIGTERM:\n%s", p.err, p.out)
		}
	case <-time.After(15 * time.Second):
		p.kill(t)
		t.Errorf("tilld did not stop within 15 s of SIGTERM")
	}
}

// waitReady waits until tilld answers and prices (it has rules).
func waitReady(t *testing.T, api *localapi.Client, p *killable, first bool) {
	t.Helper()
	limit := 10 * time.Second
	if first {
		limit = 30 * time.Second // the rules come from HQ
	}
	deadline := time.Now().Add(limit)
	for {
		st, err := api.Status(context.Background())
		if err == nil && st.RulesetVersion > 0 {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("tilld exited while starting (%v):\n%s", p.err, p.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("tilld not ready after %s (%v):\n%s", limit, err, p.out)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// saleBook is what the POS clients sent and what tilld answered: sales and
// the returns of some of them, each under its book id (bookID).
type saleBook struct {
	mu       sync.Mutex
	sent     map[string]bookRequest // every id ever sent, with its request
	answered map[string][]byte      // id → the body of its first 201 or 200, the event as stored
	seqs     map[string]uint64
	pending  []string // sent, but the answer was lost in a kill
	n201     int
}

// bookRequest is a sale or a refund the POS clients sent.
type bookRequest struct {
	path string // /v1/sales or /v1/refunds
	body any    // till.SaleRequest or till.RefundRequest
}

// refundPrefix marks a refund's book id: sale and refund ids are apart at
// the till, and in the book.
const refundPrefix = "refund:"

// bookID is the book's id of the event e records: its sale id, or its
// refund id after refundPrefix.
func bookID(e event.Event) (string, error) {
	var v struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(e.Body, &v); err != nil {
		return "", err
	}
	if e.Type == event.TypeRefund {
		return refundPrefix + v.ID, nil
	}
	return v.ID, nil
}

// answeredAs reports whether an answer of POST /v1/sales or /v1/refunds is
// the event e: its event id, and its content as stored (the answer less its
// seq, event id, receipt code and the greeting, which is never stored).
func answeredAs(answer []byte, e event.Event) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(answer, &m) != nil {
		return false
	}
	var id string
	json.Unmarshal(m["event_id"], &id)
	for _, k := range []string{"seq", "event_id", "receipt_code", "greeting"} {
		delete(m, k)
	}
	body, _ := json.Marshal(m)
	return id == e.ID && sameJSON(body, e.Body)
}

func newSaleBook() *saleBook {
	return &saleBook{sent: map[string]bookRequest{}, answered: map[string][]byte{}, seqs: map[string]uint64{}}
}

var crashCards = []string{"", "2000000000015", "2000000000022", "2000000000039", "2000000000046"}

func newBasket(rng *rand.Rand) pos.Basket {
	b := pos.Basket{Card: crashCards[rng.IntN(len(crashCards))]}
	cats := []string{"dairy", "bakery", "electronics", "tobacco"}
	for i := range 1 + rng.IntN(3) {
		b.Lines = append(b.Lines, pos.Line{SKU: fmt.Sprintf("sku-%d", i), Category: cats[rng.IntN(len(cats))], Qty: 1 + rng.Int64N(3), UnitPrice: money.Amount(100 + rng.Int64N(500000))})
	}
	return b
}

// drive rings up sales until stop is closed and the requests start failing:
// new ones, now and then a return of one of its answered sales (a unit of
// its first line, or the whole sale), and the ones whose answer a kill
// swallowed (same id, same request).
func (sb *saleBook) drive(t *testing.T, api *localapi.Client, rng *rand.Rand, prefix string, stop <-chan struct{}) {
	var mine []string // this client's answered sales, none returned yet
	for n := 0; ; n++ {
		var id string
		sb.mu.Lock()
		switch {
		case len(sb.pending) > 0 && rng.IntN(2) == 0:
			id = sb.pending[0]
			sb.pending = sb.pending[1:]
		case len(mine) > 0 && rng.IntN(5) == 0:
			k := rng.IntN(len(mine))
			req := till.RefundRequest{ID: fmt.Sprintf("%s-%d", prefix, n), Sale: mine[k], Reason: "e2e"}
			if rng.IntN(2) == 0 {
				req.Lines = []pos.ReturnLine{{Line: 1, Qty: 1}}
			}
			mine = append(mine[:k], mine[k+1:]...)
			id = refundPrefix + req.ID
			sb.sent[id] = bookRequest{path: "/v1/refunds", body: req}
		default:
			req := till.SaleRequest{ID: fmt.Sprintf("%s-%d", prefix, n), Basket: newBasket(rng)}
			id = req.ID
			sb.sent[id] = bookRequest{path: "/v1/sales", body: req}
		}
		sb.mu.Unlock()
		answered := sb.send(t, api, id)
		if answered && !strings.HasPrefix(id, refundPrefix) {
			sb.mu.Lock()
			if _, ok := sb.answered[id]; ok {
				mine = append(mine, id)
			}
			sb.mu.Unlock()
		}
		if !answered {
			select {
			case <-stop:
				return
			default:
				time.Sleep(2 * time.Millisecond) // killed, not yet noticed by the test
			}
		}
	}
}

// send sends the request booked under id and books the answer. It returns
// false when there was no answer (tilld died), leaving the request pending.
func (sb *saleBook) send(t *testing.T, api *localapi.Client, id string) bool {
	sb.mu.Lock()
	req := sb.sent[id]
	sb.mu.Unlock()
	var raw json.RawMessage
	code, err := api.Do(context.Background(), http.MethodPost, req.path, req.body, &raw)
	var apiErr *localapi.APIError
	sb.mu.Lock()
	defer sb.mu.Unlock()
	switch {
	case errors.As(err, &apiErr):
		t.Errorf("%s: tilld answered %v", id, err)
		return true
	case err != nil:
		sb.pending = append(sb.pending, id)
		return false
	}
	var res struct {
		ID  string `json:"id"`
		Seq uint64 `json:"seq"`
	}
	if err := json.Unmarshal(raw, &res); err != nil || res.ID != strings.TrimPrefix(id, refundPrefix) || res.Seq == 0 {
		t.Errorf("%s: answer %s (%v)", id, raw, err)
		return true
	}
	if code == http.StatusCreated {
		sb.n201++
		if _, dup := sb.answered[id]; dup {
			t.Errorf("%s answered 201 twice: recorded twice", id)
		}
	}
	if first, ok := sb.answered[id]; ok {
		if !sameJSON(first, raw) {
			t.Errorf("%s answered differently:\nfirst %s\nnow   %s", id, first, raw)
		}
		return true
	}
	sb.answered[id] = raw
	sb.seqs[id] = res.Seq
	return true
}

func (sb *saleBook) acked() int {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.n201
}

// settle resends every sale whose answer was lost until each has one.
func (sb *saleBook) settle(t *testing.T, api *localapi.Client) {
	t.Helper()
	for {
		sb.mu.Lock()
		if len(sb.pending) == 0 {
			sb.mu.Unlock()
			return
		}
		id := sb.pending[0]
		sb.pending = sb.pending[1:]
		sb.mu.Unlock()
		if !sb.send(t, api, id) {
			t.Fatalf("%s: no answer from a running tilld", id)
		}
	}
}

// checkReplays resends n answered sales and refunds: each must come back
// 200 with the answer it got first.
func checkReplays(t *testing.T, api *localapi.Client, sb *saleBook, rng *rand.Rand, n int) {
	t.Helper()
	sb.mu.Lock()
	ids := make([]string, 0, len(sb.answered))
	for id := range sb.answered {
		ids = append(ids, id)
	}
	sb.mu.Unlock()
	for i := 0; i < n && len(ids) > 0; i++ {
		id := ids[rng.IntN(len(ids))]
		sb.mu.Lock()
		req, first := sb.sent[id], sb.answered[id]
		sb.mu.Unlock()
		var raw json.RawMessage
		code, err := api.Do(context.Background(), http.MethodPost, req.path, req.body, &raw)
		if err != nil || code != http.StatusOK || !sameJSON(first, raw) {
			t.Errorf("replay of %s: %d %v\n got %s\nwant %s", id, code, err, raw, first)
		}
	}
}

// checkExport compares the exported ledger with the book: the chain links from
// seq 1, every answered sale and refund is there at its seq with the content
// it was answered with, and nothing else is.
func (sb *saleBook) checkExport(t *testing.T, export *bytes.Buffer, rep localapi.VerifyReport) {
	t.Helper()
	sb.mu.Lock()
	defer sb.mu.Unlock()
	bySeq := make(map[uint64]string)
	var prev event.Event
	sc := bufio.NewScanner(export)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e event.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("export line %d: %v", len(bySeq)+1, err)
		}
		if err := event.Verify(prev.Seq, prev.Hash, &e); err != nil {
			t.Errorf("exported chain: %v", err)
		}
		prev = e
		id, err := bookID(e)
		if err != nil {
			t.Fatalf("event %d body: %v", e.Seq, err)
		}
		if other, dup := bySeq[e.Seq]; dup {
			t.Errorf("seq %d exported twice (%s, %s)", e.Seq, other, id)
		}
		bySeq[e.Seq] = id
		answer, ok := sb.answered[id]
		if !ok {
			t.Errorf("event %d records %q, which was never answered", e.Seq, id)
			continue
		}
		if sb.seqs[id] != e.Seq {
			t.Errorf("%s was answered with seq %d, it is recorded as %d", id, sb.seqs[id], e.Seq)
		}
		if !answeredAs(answer, e) {
			t.Errorf("%s as answered:\n%s\nas recorded:\n%s (event %s)", id, answer, e.Body, e.ID)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if uint64(len(bySeq)) != rep.Events || prev.Seq != rep.LastSeq {
		t.Errorf("export has %d events to seq %d, verify saw %d to seq %d", len(bySeq), prev.Seq, rep.Events, rep.LastSeq)
	}
	if len(bySeq) != len(sb.answered) {
		t.Errorf("%d sales and refunds answered, %d recorded", len(sb.answered), len(bySeq))
	}
}

// sameJSON reports whether a and b are the same JSON value.
func sameJSON(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}
