package hqbench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/boltstore"
	"github.com/tilld/tilld/hq/pgstore"
	"github.com/tilld/tilld/internal/pgtest"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pki"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/serve"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// newCA makes an HQ certificate authority for an in-process HQ.
func newCA(tb testing.TB) *pki.CA {
	tb.Helper()
	ca, err := pki.NewCA("hqbench CA", time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return ca
}

// terminalClient gives a terminal a key and a certificate signed by ca, as
// enrollment does, and returns the HTTP client the daemon builds around them.
func terminalClient(tb testing.TB, ca *pki.CA, store, terminal string) *http.Client {
	tb.Helper()
	key, err := pki.NewKey()
	if err != nil {
		tb.Fatal(err)
	}
	csr, err := pki.NewCSR(key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := ca.SignTerminal(csr, terminal, store, time.Now(), 24*time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	// As daemon.New wires sync/forward: one transport, hence one connection, per terminal.
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: pki.ClientTLS(ca.Cert, cert, key)}}
}

// startHQ serves an hq.Server over store on a loopback listener with mutual TLS,
// as tillhq serve does, and returns its base URL and a stop function (also run
// when tb ends). The caller closes store.
func startHQ(tb testing.TB, ca *pki.CA, store hq.Store) (url string, stop func()) {
	tb.Helper()
	return serveHQ(tb, ca, hq.NewServer(hq.Options{Store: store, CA: ca, RequireClientCert: true}))
}

// serveHQ is startHQ for a server the caller made.
func serveHQ(tb testing.TB, ca *pki.CA, srv *hq.Server) (url string, stop func()) {
	tb.Helper()
	cert, key, err := ca.ServerCert([]string{"127.0.0.1"}, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve.HTTP(ctx, tls.NewListener(ln, pki.ServerTLS(ca.Cert, cert, key)), srv.Handler(), 0)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				tb.Errorf("HQ server: %v", err)
			}
		})
	}
	tb.Cleanup(stop)
	return "https://" + ln.Addr().String(), stop
}

// storeKind is one of HQ's stores; open returns a new empty one, closed when tb
// ends.
type storeKind struct {
	name string
	open func(tb testing.TB) hq.Store
}

// stores are HQ's stores as tillhq runs them: fsync on, default options.
var stores = []storeKind{
	{"bolt", func(tb testing.TB) hq.Store {
		s, err := boltstore.Open(filepath.Join(tb.TempDir(), "hq.db"), boltstore.Options{})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { s.Close() })
		return s
	}},
	{"postgres", func(tb testing.TB) hq.Store {
		s, err := pgstore.Open(context.Background(), pgtest.URL(tb), pgstore.Options{})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { s.Close() })
		return s
	}},
}

// saleBody is a typical till sale: a card, three lines, two discounts applied.
func saleBody(id, card string, at time.Time, i int) pos.Sale {
	milk, bread, coffee := money.Amount(8990), money.Amount(5490+i%7*100), money.Amount(45900)
	lines := []pos.PricedLine{
		{Line: pos.Line{SKU: "4607001771234", Category: "dairy", Qty: 2, UnitPrice: milk}, Amount: 2 * milk, Discount: 540, Total: 2*milk - 540, Points: 1},
		{Line: pos.Line{SKU: "4600682000016", Category: "bakery", Qty: 1, UnitPrice: bread}, Amount: bread, Discount: 165, Total: bread - 165},
		{Line: pos.Line{SKU: "8711000530085", Category: "grocery", Qty: 1, UnitPrice: coffee}, Amount: coffee, Discount: 1377, Total: coffee - 1377, Points: 4},
	}
	var sub, disc money.Amount
	for _, l := range lines {
		sub += l.Amount
		disc += l.Discount
	}
	return pos.Sale{ID: id, Card: card, At: at, Quote: pos.Quote{
		Currency: "RUB", Lines: lines, Subtotal: sub, Discount: disc, Total: sub - disc, PointsEarned: 5, Tier: "Silver",
		Applied: []pos.Applied{
			{Rule: "club-card", Kind: "card_percent", Amount: disc * 3 / 8, Reason: "club card: 3% off"},
			{Rule: "cumulative", Kind: "tiers", Amount: disc - disc*3/8, Reason: "Silver: 5% off"},
			{Rule: "bonus", Kind: "points", Points: 5, Reason: "1 point per 100.00"},
		},
		RulesetVersion: 1, TierMessage: "Серебряный клиент: бесплатная упаковка подарков",
	}}
}

// chainCards is how many loyalty cards the chain's customers carry.
const chainCards = 100_000

// cardOf is the card of a terminal's i-th sale: spread over chainCards cards, the
// same for every run, so terminals share a card now and then but rarely at once.
func cardOf(terminal string, i int) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d", terminal, i)
	return fmt.Sprintf("20000%08d", h.Sum64()%chainCards)
}

// rulesHash is the ruleset hash the sales of the benchmarks carry.
const rulesHash = "5d41402abc4b2a76b9719d911017c592ae2b9e3fa2a3d3c4c3b1e0f6a1b2c3d4"

// tillChain returns events 1..n of a terminal's chain of sales with saleBody's
// bodies, as the terminal's ledger would upload them.
func tillChain(terminal string, n int) []event.Event {
	c := &chainWriter{terminal: terminal}
	out := make([]event.Event, 0, n)
	for range n {
		out = append(out, c.next())
	}
	return out
}

// chainWriter makes a terminal's chain of sales one event at a time.
type chainWriter struct {
	terminal string
	seq      uint64
	prev     string
}

func (c *chainWriter) next() event.Event {
	c.seq++
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC).Add(time.Duration(c.seq) * time.Second)
	i := int(c.seq - 1)
	s := saleBody(fmt.Sprintf("%s-sale-%d", c.terminal, c.seq), cardOf(c.terminal, i), at, i)
	body, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	e := event.Event{Terminal: c.terminal, Seq: c.seq, ID: fmt.Sprintf("%s-%d", c.terminal, c.seq), Type: event.TypeSale,
		At: s.At, RulesetVersion: 1, RulesetHash: rulesHash, Prev: c.prev, Body: body}
	e.Hash = e.ComputeHash()
	c.prev = e.Hash
	return e
}

// fillLedger creates a ledger of terminal at path holding n sales none of which
// HQ has acknowledged. It commits without fsync: filling is set-up, not measured.
func fillLedger(tb testing.TB, path, terminal string, n int) {
	tb.Helper()
	l, err := ledger.Open(path, ledger.Options{Terminal: terminal, NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	const writers = 4 // group commit: fewer, larger transactions
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := w; i < n; i += writers {
				id := fmt.Sprintf("%s-sale-%d", terminal, i)
				card := cardOf(terminal, i)
				_, err := l.RecordSale(ledger.SaleRequest{ID: id, Digest: sha256.Sum256([]byte(id)), Card: card},
					func(_ pos.Account, at time.Time) (ledger.Priced, error) {
						s := saleBody(id, card, at, i)
						body, err := json.Marshal(s)
						return ledger.Priced{Body: body, Spend: s.Total, PointsDelta: s.PointsEarned, RulesetVersion: 1, RulesetHash: rulesHash}, err
					})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	if st, err := l.Stats(); err != nil || st.Outbox != uint64(n) {
		tb.Fatalf("filled ledger: outbox %d (%v), want %d", st.Outbox, err, n)
	}
}

func copyFile(tb testing.TB, dst, src string) {
	tb.Helper()
	in, err := os.Open(src)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		tb.Fatal(err)
	}
	if err := out.Close(); err != nil {
		tb.Fatal(err)
	}
}

// buildTillhq builds cmd/tillhq into a directory of tb's and returns its path.
func buildTillhq(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+"/", "github.com/tilld/tilld/cmd/tillhq")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build tillhq: %v\n%s", err, out)
	}
	return filepath.Join(dir, "tillhq")
}

// hqProc is a running tillhq serve.
type hqProc struct {
	cmd       *exec.Cmd
	out       *syncBuffer
	done      chan struct{}
	err       error
	terminals string // https://host:port
	admin     string // http://host:port
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startTillhq runs `tillhq serve` with args on loopback ports of its choosing and
// waits until it listens. stop (also run when tb ends) sends SIGTERM to this
// process only and waits for it.
func startTillhq(tb testing.TB, bin string, args ...string) *hqProc {
	tb.Helper()
	args = append([]string{"serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"}, args...)
	p := &hqProc{cmd: exec.Command(bin, args...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("start tillhq: %v", err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	tb.Cleanup(func() { p.stop(tb) })
	deadline := time.Now().Add(30 * time.Second)
	for p.terminals == "" {
		sc := bufio.NewScanner(strings.NewReader(p.out.String()))
		for sc.Scan() {
			if !strings.Contains(sc.Text(), `msg="tillhq listening"`) {
				continue
			}
			for _, f := range strings.Fields(sc.Text()) {
				if v, ok := strings.CutPrefix(f, "terminals="); ok {
					p.terminals = v
				}
				if v, ok := strings.CutPrefix(f, "admin="); ok {
					p.admin = v
				}
			}
		}
		select {
		case <-p.done:
			tb.Fatalf("tillhq exited: %v\n%s", p.err, p.out)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("tillhq not listening after 30 s:\n%s", p.out)
		}
	}
	return p
}

func (p *hqProc) stop(tb testing.TB) {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		tb.Errorf("tillhq did not stop within 20 s of SIGTERM")
	}
}

// cpu returns the CPU time the process has used (user and system), from /proc.
func (p *hqProc) cpu(tb testing.TB) time.Duration {
	tb.Helper()
	st, err := readStat(p.cmd.Process.Pid)
	if err != nil {
		tb.Fatalf("tillhq CPU: %v", err)
	}
	return st.cpu
}

// procStat is what BenchmarkUploadWakeups reads of /proc/PID/stat.
type procStat struct {
	ppid     int
	cpu      time.Duration // utime + stime
	children time.Duration // cutime + cstime: of children that exited and were waited for
}

func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// The fields after the command name, which is in parentheses and may hold
	// spaces; f[0] is field 3 of proc(5).
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("short /proc/%d/stat: %q", pid, s)
	}
	var n [5]int64
	for i, j := range []int{1, 11, 12, 13, 14} { // ppid, utime, stime, cutime, cstime
		if n[i], err = strconv.ParseInt(f[j], 10, 64); err != nil {
			return procStat{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
	}
	tick := func(t int64) time.Duration { return time.Duration(t) * time.Second / clockTicks }
	return procStat{ppid: int(n[0]), cpu: tick(n[1] + n[2]), children: tick(n[3] + n[4])}, nil
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// memory returns the process's resident set (VmRSS) and its peak (VmHWM) in
// bytes, from /proc.
func (p *hqProc) memory(tb testing.TB) (rss, hwm int64) {
	tb.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		tb.Fatalf("tillhq memory: %v", err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			tb.Fatalf("tillhq memory: %s: %v", line, err)
		}
		if k == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	return rss, hwm
}

// postgresCPU returns the CPU time used by the PostgreSQL cluster serving the
// database at url: its postmaster and every process under it, live or exited.
func postgresCPU(tb testing.TB, url string) time.Duration {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	// The postmaster is not in pg_stat_activity; the checkpointer is its child.
	var child int
	if err := conn.QueryRow(ctx, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'").Scan(&child); err != nil {
		tb.Fatalf("find the postmaster: %v", err)
	}
	st, err := readStat(child)
	if err != nil {
		tb.Fatal(err)
	}
	postmaster := st.ppid
	pm, err := readStat(postmaster)
	if err != nil {
		tb.Fatal(err)
	}
	total := pm.cpu + pm.children
	ents, err := os.ReadDir("/proc")
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil && st.ppid == postmaster {
			total += st.cpu
		}
	}
	return total
}
