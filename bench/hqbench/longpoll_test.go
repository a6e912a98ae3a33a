package hqbench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/internal/pgtest"
	"github.com/tilld/tilld/pki"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/forward"
	"github.com/tilld/tilld/sync/hqclient"
	"github.com/tilld/tilld/sync/wire"
)

// pollTerminals is how many terminals long-poll HQ in BenchmarkLongPoll.
const pollTerminals = 500

// BenchmarkLongPoll runs the tillhq binary (built by the benchmark) with 500
// terminals long-polling it, each a sync/forward.Forwarder with its own client
// certificate, in this process. Every iteration publishes a new ruleset through
// the admin API and times it from the request until the last terminal has the
// ruleset in hand; the terminals then check its signature and hash and poll
// again, and the clock stops until all are waiting.
//
// Each terminal holds HQ's combined long poll (wire.PathWait), one
// connection, which tillhq parks without a goroutine (hq/park.go). The
// sub-benchmarks, each with a tillhq of its own: "rules" terminals follow the
// rules only; "rules+changes" terminals also follow HQ's change feed of card
// accounts, as tilld's forwarder does; each over tillhq's bbolt file and
// over PostgreSQL.
//
// Reported: p50 and max of publish-to-all in ms, and the CPU time tillhq
// used over it (from /proc: the machine is shared); HQ's resident set (VmRSS,
// largest sample with every terminal waiting, taken after each publish), its peak
// (VmHWM, or that sample when larger: the kernel updates VmHWM lazily) and its
// resident set before any terminal connected, in MiB; and the resident set
// per terminal: the largest sample less the one before, over the terminals.
//
//	go test ./bench/hqbench -run '^$' -bench 'LongPoll$' -benchtime 10x
func BenchmarkLongPoll(b *testing.B) {
	bin := buildTillhq(b)
	for _, v := range []struct {
		name              string
		changes, postgres bool
	}{
		{"rules/bolt", false, false},
		{"rules/postgres", false, true},
		{"rules+changes/bolt", true, false},
		{"rules+changes/postgres", true, true},
	} {
		var p *poll // made once, for the sub-benchmark's runs, only when it runs
		b.Run(v.name, func(sb *testing.B) {
			if p == nil {
				p = newPoll(b, bin, pollTerminals, v.changes, v.postgres)
			}
			p.bench(sb)
		})
		if p != nil {
			p.close()
		}
	}
}

// BenchmarkLongPollFleet is BenchmarkLongPoll's rules+changes with 2 000,
// 5 000 and 10 000 terminals, over bbolt and over PostgreSQL. It raises this
// process's limit of open files (tillhq inherits it): each terminal is a
// connection at both ends.
//
//	go test ./bench/hqbench -run '^$' -bench LongPollFleet -benchtime 5x -timeout 60m
func BenchmarkLongPollFleet(b *testing.B) {
	raiseFileLimit(b, 3*10_000)
	bin := buildTillhq(b)
	for _, n := range []int{2_000, 5_000, 10_000} {
		for _, postgres := range []bool{false, true} {
			name := fmt.Sprintf("%d/bolt", n)
			if postgres {
				name = fmt.Sprintf("%d/postgres", n)
			}
			var p *poll // made once, for the sub-benchmark's runs, only when it runs
			b.Run(name, func(sb *testing.B) {
				if p == nil {
					p = newPoll(b, bin, n, true, postgres)
				}
				p.bench(sb)
			})
			if p != nil {
				p.close()
			}
		}
	}
}

// raiseFileLimit raises RLIMIT_NOFILE to at least n, the hard limit too
// when it is lower (root may).
func raiseFileLimit(tb testing.TB, n uint64) {
	tb.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		tb.Fatal(err)
	}
	if lim.Cur >= n {
		return
	}
	want := syscall.Rlimit{Cur: n, Max: max(lim.Max, n)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		want = syscall.Rlimit{Cur: lim.Max, Max: lim.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			tb.Fatal(err)
		}
		tb.Logf("open files limited to %d (hard limit): %d wanted", lim.Max, n)
	}
}

// bench publishes b.N rulesets to p's fleet and reports what BenchmarkLongPoll
// says.
func (p *poll) bench(b *testing.B) {
	var lat []time.Duration
	var cpu time.Duration
	for range b.N {
		c0 := p.hq.cpu(b)
		lat = append(lat, p.publish(b))
		cpu += p.hq.cpu(b) - c0
		b.StopTimer()
		p.settle(b)
		b.StartTimer()
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
	b.ReportMetric(ms(cpu)/float64(b.N), "hq-cpu-ms/publish")
	_, hwm := p.hq.memory(b)
	b.ReportMetric(float64(p.maxRSS)/(1<<20), "rss-MiB")
	b.ReportMetric(float64(max(hwm, p.maxRSS))/(1<<20), "peak-rss-MiB")
	b.ReportMetric(float64(p.idleRSS)/(1<<20), "idle-rss-MiB")
	b.ReportMetric(float64(p.maxRSS-p.idleRSS)/1024/float64(p.fleet.n), "rss-KiB/terminal")
	load, _ := os.ReadFile("/proc/loadavg")
	b.Logf("%d terminals; load average %s; HQ's Go runtime: %s", p.fleet.n, strings.TrimSpace(string(load)), p.hqRuntime(b))
	if strings.Contains(os.Getenv("GODEBUG"), "gctrace") {
		var gcs []string
		for l := range strings.SplitSeq(p.hq.out.String(), "\n") {
			if strings.HasPrefix(l, "gc ") {
				gcs = append(gcs, l)
			}
		}
		b.Logf("HQ's last collections:\n%s", strings.Join(gcs[max(0, len(gcs)-4):], "\n"))
	}
}

// poll is a running tillhq with a fleet of terminals long-polling it.
type poll struct {
	hq      *hqProc
	rules   []byte // the ruleset file published, with its version line rewritten
	version int64  // the version published last
	fleet   *fleet
	idleRSS int64 // HQ's VmRSS before any terminal connected
	maxRSS  int64 // largest VmRSS sampled with every terminal waiting
	stop    func()
	ca      *pki.CA // HQ's, from its data directory
	dbURL   string  // HQ's PostgreSQL database, "" when it keeps a bbolt file
}

// newPoll initialises an HQ data directory with tillhq init, serves it (over
// PostgreSQL when postgres is set) with version 1 of the example ruleset, and
// starts n terminals, each of which fetches version 1 and waits for the next,
// and with changes also waits on HQ's change feed.
func newPoll(tb testing.TB, bin string, n int, changes, postgres bool) *poll {
	tb.Helper()
	dir := tb.TempDir()
	out, err := exec.Command(bin, "init", "--data", dir, "--host", "127.0.0.1").CombinedOutput()
	if err != nil {
		tb.Fatalf("tillhq init: %v\n%s", err, out)
	}
	// The rules key is the line after "rules key (…):".
	_, after, _ := strings.Cut(string(out), "\nrules key")
	_, after, _ = strings.Cut(after, "\n")
	key, _, _ := strings.Cut(after, "\n")
	rulesKey, err := wire.ParsePublicKey(strings.TrimSpace(key))
	if err != nil {
		tb.Fatalf("tillhq init printed no rules key: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "discount", "example.toml"))
	if err != nil {
		tb.Fatal(err)
	}
	p := &poll{rules: raw, version: 1}
	rulesFile := filepath.Join(dir, "rules.toml")
	if err := os.WriteFile(rulesFile, p.ruleset(1), 0o600); err != nil {
		tb.Fatal(err)
	}
	args := []string{"--data", dir, "--rules", rulesFile}
	if postgres {
		p.dbURL = pgtest.URL(tb)
		args = append(args, "--postgres", p.dbURL)
	}
	p.hq = startTillhq(tb, bin, args...)
	time.Sleep(200 * time.Millisecond) // let start-up garbage settle before the sample
	p.idleRSS, _ = p.hq.memory(tb)

	p.ca = loadCA(tb, dir)
	p.fleet = &fleet{n: n, key: rulesKey, versions: map[int64]*arrivals{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var transports []*http.Transport
	started := time.Now()
	// The terminals come in waves of 500, each parked before the next: a
	// thousand TLS handshakes at once would only overflow the listen queue.
	for i := range n {
		c := terminalClient(tb, p.ca, fmt.Sprintf("S%03d", i/10), fmt.Sprintf("P%05d", i))
		transports = append(transports, c.Transport.(*http.Transport))
		c.Transport = parkCounter{c.Transport, &p.fleet.parked}
		opts := forward.Options{HQ: hqclient.New(p.hq.terminals, hqclient.Options{Transport: c.Transport}), Terminal: fmt.Sprintf("P%05d", i),
			Outbox: emptyOutbox{}, Rules: &pollTerminal{fleet: p.fleet}}
		if changes {
			opts.Cards = noCards{}
		}
		f := forward.New(opts)
		wg.Go(func() { f.Run(ctx) })
		if (i+1)%500 == 0 {
			p.parkedAt(tb, int64(i+1))
		}
	}
	var once sync.Once
	p.stop = func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			for _, t := range transports {
				t.CloseIdleConnections()
			}
			p.hq.stop(tb)
		})
	}
	tb.Cleanup(p.stop)
	tb.Logf("%d terminals connected in %v", n, time.Since(started).Round(time.Millisecond))
	p.wait(tb, 1)
	p.settle(tb)
	return p
}

// ruleset returns the published file with its version set to v.
func (p *poll) ruleset(v int64) []byte {
	return versionLine.ReplaceAll(p.rules, []byte("version = "+strconv.FormatInt(v, 10)))
}

var versionLine = regexp.MustCompile(`(?m)^version = \d+`)

// publish publishes the next version through HQ's admin API, as `tillhq rules
// publish` does, waits until every terminal has it, and returns how long that
// took from the request. Call settle before the next publish.
func (p *poll) publish(tb testing.TB) time.Duration {
	tb.Helper()
	p.version++
	raw := p.ruleset(p.version)
	a := p.fleet.expect(p.version)
	start := time.Now()
	resp, err := http.Post(p.hq.admin+wire.PathAdminRules, "application/toml", bytes.NewReader(raw))
	if err != nil {
		tb.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		tb.Fatalf("publish version %d: %s %s", p.version, resp.Status, body)
	}
	p.wait(tb, p.version)
	return a.last.Sub(start)
}

// wait waits until every terminal has version v.
func (p *poll) wait(tb testing.TB, v int64) {
	tb.Helper()
	a := p.fleet.expect(v)
	select {
	case <-a.all:
	case <-time.After(5 * time.Minute):
		tb.Fatalf("ruleset version %d reached %d of %d terminals in 5 minutes; refused: %v\nHQ:\n%s",
			v, a.count.Load(), p.fleet.n, p.fleet.errors(), p.hq.out)
	}
}

// settle waits until every terminal's long poll is parked at HQ, and samples
// HQ's resident set three seconds later.
func (p *poll) settle(tb testing.TB) {
	tb.Helper()
	p.parkedAt(tb, int64(p.fleet.n))
	// The sample is of HQ at rest with every terminal waiting: tillhq
	// returns the wave's memory to the system once quiet for a second
	// (hq/park.go, tidy).
	time.Sleep(3 * time.Second)
	rss, _ := p.hq.memory(tb)
	p.maxRSS = max(p.maxRSS, rss)
}

// parkedAt waits until n terminals wait on a long poll and HQ has parked as
// many (its tillhq_parked_polls metric).
func (p *poll) parkedAt(tb testing.TB, n int64) {
	tb.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for p.fleet.parked.Load() < n || p.hqParked(tb) < n {
		if time.Now().After(deadline) {
			tb.Fatalf("%d of %d long polls waiting on HQ, %d parked there, after 3 minutes", p.fleet.parked.Load(), n, p.hqParked(tb))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hqParked reads tillhq_parked_polls from HQ's metrics.
func (p *poll) hqParked(tb testing.TB) int64 {
	tb.Helper()
	return int64(p.hqMetrics(tb)["tillhq_parked_polls"])
}

// hqRuntime says where HQ's memory is, by its Go runtime's metrics.
func (p *poll) hqRuntime(tb testing.TB) string {
	m := p.hqMetrics(tb)
	mib := func(k string) string {
		return fmt.Sprintf("%s %.1f MiB", strings.TrimPrefix(k, "go_memstats_"), m[k]/(1<<20))
	}
	return strings.Join([]string{mib("go_memstats_heap_inuse_bytes"), mib("go_memstats_heap_idle_bytes"), mib("go_memstats_heap_released_bytes"),
		mib("go_memstats_stack_inuse_bytes"), mib("go_memstats_sys_bytes"), fmt.Sprintf("goroutines %.0f", m["go_goroutines"])}, ", ")
}

// hqMetrics reads HQ's metrics without labels.
func (p *poll) hqMetrics(tb testing.TB) map[string]float64 {
	tb.Helper()
	resp, err := http.Get(p.hq.admin + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(k, "#") || strings.Contains(k, "{") {
			continue
		}
		if n, err := strconv.ParseFloat(v, 64); err == nil {
			out[k] = n
		}
	}
	return out
}

func (p *poll) close() { p.stop() }

// loadCA reads the CA tillhq init made in dir.
func loadCA(tb testing.TB, dir string) *pki.CA {
	tb.Helper()
	certPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		tb.Fatal(err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "ca.key"))
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := pki.DecodeCert(certPEM)
	if err != nil {
		tb.Fatal(err)
	}
	key, err := pki.DecodeKey(keyPEM)
	if err != nil {
		tb.Fatal(err)
	}
	return &pki.CA{Cert: cert, Key: key}
}

// fleet is what the polling terminals have received.
type fleet struct {
	n      int // terminals
	key    ed25519.PublicKey
	parked atomic.Int64 // long polls sent and not yet answered

	mu       sync.Mutex
	versions map[int64]*arrivals
	refused  []error
}

// arrivals counts the terminals that got one version.
type arrivals struct {
	want  int64
	count atomic.Int64
	last  time.Time     // when the last of them got it; set before all closes
	all   chan struct{} // closed when want terminals got it
}

// expect returns the arrivals of version v.
func (f *fleet) expect(v int64) *arrivals {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.versions[v]
	if a == nil {
		a = &arrivals{want: int64(f.n), all: make(chan struct{})}
		f.versions[v] = a
	}
	return a
}

// arrived records that a terminal got version v at time at.
func (f *fleet) arrived(v int64, at time.Time) {
	a := f.expect(v)
	f.mu.Lock()
	defer f.mu.Unlock()
	if at.After(a.last) {
		a.last = at
	}
	if a.count.Add(1) == a.want {
		close(a.all)
	}
}

func (f *fleet) refuse(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refused = append(f.refused, err)
}

func (f *fleet) errors() []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.refused)
}

// pollTerminal is the rules side of a terminal: it notes when a ruleset arrived,
// then checks it as the till does (signature with HQ's key, hash) and keeps its
// version. Parsing and caching it are the till's own cost, left out.
type pollTerminal struct {
	fleet   *fleet
	version atomic.Int64
}

func (t *pollTerminal) RulesVersion() int64 { return t.version.Load() }

func (t *pollTerminal) ApplyRules(version int64, hash string, signature, raw []byte) error {
	at := time.Now()
	if err := wire.VerifyRules(t.fleet.key, raw, signature); err != nil {
		t.fleet.refuse(err)
		return err
	}
	if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != hash {
		err := fmt.Errorf("ruleset version %d: hash %x, announced %s", version, sum, hash)
		t.fleet.refuse(err)
		return err
	}
	t.version.Store(version)
	t.fleet.arrived(version, at)
	return nil
}

// emptyOutbox is the outbox of a terminal with nothing to upload.
type emptyOutbox struct{}

func (emptyOutbox) Pending(int) ([]event.Event, error) { return nil, nil }
func (emptyOutbox) Ack(uint64) error                   { return nil }
func (emptyOutbox) Epoch() (event.Epoch, error)        { return event.Epoch{}, nil }
func (emptyOutbox) Fork(string, uint64) (event.Epoch, bool, error) {
	return event.Epoch{}, false, nil
}

// noCards is the card side of a terminal that registers no holders and keeps
// no accounts: it follows the change feed and drops what comes.
type noCards struct{}

func (noCards) PendingHolders(int) ([]pos.CardHolder, error) { return nil, nil }
func (noCards) HoldersSynced([]pos.CardHolder) error         { return nil }
func (noCards) ApplyAccount(wire.AccountAnswer) error        { return nil }
func (noCards) FeedPosition() (string, int64, error)         { return "", 0, nil }
func (noCards) SetFeedPosition(string, int64) (bool, error)  { return false, nil }

// parkCounter counts the long polls a terminal has sent and HQ has not yet
// answered.
type parkCounter struct {
	next http.RoundTripper
	n    *atomic.Int64
}

func (c parkCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == wire.PathWait && r.URL.Query().Get("wait") != "0" {
		c.n.Add(1)
		defer c.n.Add(-1)
	}
	return c.next.RoundTrip(r)
}
