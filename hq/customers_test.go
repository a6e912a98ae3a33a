package hq_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tilld/tilld/event"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/boltstore"
	"github.com/tilld/tilld/hq/storetest"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
)

var importNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestParseHolders(t *testing.T) {
	file := "\uFEFFcard;name;patronymic;birthday;phone;email;consent\n" +
		"2000000000015;Василий;Петрович;1978-03-05;+7 900 123-45-67;;да\n" +
		"2000000000022;Мария;;--07-14;;maria@example.ru;no\n" +
		";Пётр;;;+7 900 000-00-00;;\n" + // line 4: no card
		"2000000000039;Анна;;1990-02-30;+7 900 000-00-01;;\n" + // line 5: no such date
		"2000000000015;Вася;;;+7 900 000-00-02;;\n" + // line 6: the card of line 2 again
		"2000000000046;Олег;;;+7 900 000-00-03;;maybe\n" + // line 7: consent
		"2000000000053;Ирина\n" + // line 8: too few fields
		"\n" +
		"2000000000060;Ольга;;;;olga@example.ru;1\n"
	hs, rep, err := hq.ParseHolders(strings.NewReader(file), importNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 3 || hs[0].Name != "Василий" || !hs[0].Consent || hs[1].Birthday != "--07-14" || hs[1].Consent || hs[2].Card != "2000000000060" {
		t.Errorf("holders %+v", hs)
	}
	if !hs[0].Updated.Equal(importNow) || !hs[0].Registered.Equal(importNow) || hs[0].Terminal != "" {
		t.Errorf("times %+v", hs[0])
	}
	want := []struct {
		line   int
		card   string
		reason string
	}{
		{4, "", "card: missing"},
		{5, "2000000000039", "birthday:"},
		{6, "2000000000015", "card already on line 2"},
		{7, "2000000000046", "consent:"},
		{8, "", "2 fields, the header has 7"},
	}
	if rep.Rows != 8 || len(rep.Rejected) != len(want) {
		t.Fatalf("report %+v", rep)
	}
	for i, w := range want {
		r := rep.Rejected[i]
		if r.Line != w.line || r.Card != w.card || !strings.HasPrefix(r.Reason, w.reason) {
			t.Errorf("rejected[%d] = %+v, want line %d card %q reason %q…", i, r, w.line, w.card, w.reason)
		}
	}
	for _, bad := range []string{"", "card,nom\n1,x\n", "name,phone\nx,1\n", "card,name,card\n", "\"card,name\n"} {
		if _, _, err := hq.ParseHolders(strings.NewReader(bad), importNow); !errors.Is(err, hq.ErrImportFile) {
			t.Errorf("ParseHolders(%q) = %v, want ErrImportFile", bad, err)
		}
	}
}

// FuzzParseHolders: any file gives an answer, never a panic; every row is
// either returned valid or refused with its line.
func FuzzParseHolders(f *testing.F) {
	f.Add("card,name,phone\n2000000000015,Василий,+7 900 1234567\n")
	f.Add("card;name;email;consent\n1;a;a@b.c;да\n\"2;b\n")
	f.Add("name,card,birthday,phone\nx,1,--02-29,12345\nx,1,--02-29,12345\n")
	f.Fuzz(func(t *testing.T, file string) {
		hs, rep, err := hq.ParseHolders(strings.NewReader(file), importNow)
		if err != nil {
			if !errors.Is(err, hq.ErrImportFile) {
				t.Fatalf("error %v is not ErrImportFile", err)
			}
			return
		}
		if len(hs)+rep.RejectedTotal != rep.Rows || len(rep.Rejected) != min(rep.RejectedTotal, 1000) {
			t.Fatalf("%d holders + %d rejected (%d listed) != %d rows", len(hs), rep.RejectedTotal, len(rep.Rejected), rep.Rows)
		}
		for _, h := range hs {
			if err := h.Validate(); err != nil {
				t.Fatalf("returned an invalid holder %+v: %v", h, err)
			}
		}
		for _, r := range rep.Rejected {
			if r.Line < 1 || r.Reason == "" {
				t.Fatalf("rejected row without a line or reason: %+v", r)
			}
		}
	})
}

// The customer routes over HTTP: HQ staff import a base, a terminal registers
// a holder, looks cards up, follows its change feed, and HQ forgets a holder.
func TestCustomerRoutes(t *testing.T) {
	logs := &cardLog{t: t, card: "2000000000015", masked: "•••••••••0015"}
	h := newCustomerHQLogged(t, logs)
	admin, term := h.admin, h.term
	do := func(method, url string, body []byte, out any) int {
		t.Helper()
		return h.do(t, method, url, body, out)
	}
	var rep wire.ImportReport
	code := do("POST", admin.URL+wire.PathAdminCustomers, []byte("card,name,phone\n2000000000015,Василий,+7 900 1234567\n,x,1\n"), &rep)
	if code != 200 || rep.Stored != 1 || len(rep.Rejected) != 1 || rep.Rejected[0].Line != 3 {
		t.Fatalf("import = %d %+v", code, rep)
	}
	var bad wire.Error
	if code := do("POST", admin.URL+wire.PathAdminCustomers, []byte("nom,phone\n"), &bad); code != 400 || !strings.Contains(bad.Message, "nom") {
		t.Errorf("a bad file = %d %+v", code, bad)
	}

	// A terminal scans the card: it gets the imported holder, and now follows it.
	var a wire.AccountAnswer
	if code := do("GET", term.URL+wire.PathAccountPrefix+"2000000000015?terminal=S1-T1", nil, &a); code != 200 || a.Holder == nil || a.Holder.Name != "Василий" {
		t.Fatalf("look-up = %d %+v", code, a)
	}
	var ch wire.ChangesAnswer
	do("GET", term.URL+wire.PathChanges+"?terminal=S1-T1&after=0", nil, &ch)
	if len(ch.Accounts) != 1 {
		t.Fatalf("feed = %+v", ch)
	}
	// A long poll wakes when another terminal registers a newer holder.
	got := make(chan wire.ChangesAnswer, 1)
	go func() {
		var ch2 wire.ChangesAnswer
		do("GET", term.URL+wire.PathChanges+"?terminal=S1-T1&wait=5&after="+strconv.FormatInt(ch.Next, 10), nil, &ch2)
		got <- ch2
	}()
	time.Sleep(100 * time.Millisecond)
	body, _ := json.Marshal(wire.HoldersRequest{Terminal: "S2-T1", Holders: []pos.CardHolder{{Card: "2000000000015", Name: "Василий",
		Patronymic: "Петрович", Phone: "+7 900 1234567", Updated: importNow.Add(time.Minute)}}})
	var hr wire.HoldersResponse
	if code := do("POST", term.URL+wire.PathHolders, body, &hr); code != 200 || hr.Stored != 1 {
		t.Fatalf("holders = %d %+v", code, hr)
	}
	select {
	case ch2 := <-got:
		if len(ch2.Accounts) != 1 || ch2.Accounts[0].Holder.Patronymic != "Петрович" {
			t.Errorf("woken feed = %+v", ch2)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("the long poll did not wake")
	}
	// An invalid holder from a terminal is refused with the field.
	body, _ = json.Marshal(wire.HoldersRequest{Terminal: "S2-T1", Holders: []pos.CardHolder{{Card: "1", Name: "x"}}})
	if code := do("POST", term.URL+wire.PathHolders, body, &bad); code != 400 || !strings.Contains(bad.Message, "phone") {
		t.Errorf("an invalid holder = %d %+v", code, bad)
	}

	// HQ staff find the holder by the end of the phone number, masked.
	var found wire.CustomerSearch
	if code := do("GET", admin.URL+wire.PathAdminCustomers+"?phone=123-45-67", nil, &found); code != 200 || len(found.Customers) != 1 ||
		found.Customers[0] != (wire.FoundCustomer{Card: "2000000000015", Name: "Василий Петрович", Phone: "+• ••• •••4567"}) {
		t.Errorf("find by phone = %d %+v", code, found)
	}
	for q, want := range map[string]string{"123": "3 digits", "12a4567": "digits, spaces", "1234567890123456": "16 digits"} {
		if code := do("GET", admin.URL+wire.PathAdminCustomers+"?phone="+q, nil, &bad); code != 400 || !strings.Contains(bad.Message, want) {
			t.Errorf("phone %q = %d %+v, want 400 saying %q", q, code, bad, want)
		}
	}
	var ps wire.CardPurchases
	if code := do("GET", admin.URL+wire.PathAdminCustomers+"/2000000000015"+wire.PathAdminPurchases, nil, &ps); code != 200 || ps.Purchases == nil || len(ps.Purchases) != 0 || ps.Limit != 100 {
		t.Errorf("purchases of a card without sales = %d %+v", code, ps)
	}
	if code := do("GET", admin.URL+wire.PathAdminCustomers+"/2000000000015"+wire.PathAdminPurchases+"?limit=0", nil, &bad); code != 400 || !strings.Contains(bad.Message, "limit") {
		t.Errorf("limit=0 = %d %+v", code, bad)
	}

	// HQ forgets the holder.
	var res map[string]any
	if code := do("DELETE", admin.URL+wire.PathAdminCustomers+"/2000000000015", nil, &res); code != 200 || res["forgotten"] != true {
		t.Fatalf("forget = %d %v", code, res)
	}
	var after wire.AccountAnswer
	do("GET", admin.URL+wire.PathAdminCustomers+"/2000000000015", nil, &after)
	if after.Holder != nil || !after.Forgotten {
		t.Errorf("after forgetting: %+v", after)
	}
	var od wire.OverdraftReport
	if code := do("GET", admin.URL+wire.PathReportOverdrafts, nil, &od); code != 200 || od.Cards == nil || len(od.Cards) != 0 {
		t.Errorf("overdrafts = %d %+v", code, od)
	}
	if !reflect.DeepEqual(res["card"], "2000000000015") {
		t.Errorf("forget answer %v", res)
	}
	// HQ's log names the card masked, never in full.
	if logs.seen.Load() == 0 {
		t.Error("HQ logged the forget without the masked card")
	}
}

// cardLog is a log handler that fails the test on a record that shows card
// in full, and counts the records that show it masked.
type cardLog struct {
	t            *testing.T
	card, masked string
	seen         atomic.Int32
}

func (h *cardLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *cardLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *cardLog) WithGroup(string) slog.Handler            { return h }
func (h *cardLog) Handle(_ context.Context, r slog.Record) error {
	line := r.Message
	r.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	if strings.Contains(line, h.card) {
		h.t.Errorf("HQ logged a full card number: %s", line)
	}
	if strings.Contains(line, h.masked) {
		h.seen.Add(1)
	}
	return nil
}

// customerHQ is an HQ on a real bbolt store with its admin and terminal
// routes served over HTTP; do sends a request and decodes the answer.
type customerHQ struct {
	store       *boltstore.Store
	path        string
	admin, term *httptest.Server
}

func newCustomerHQ(t *testing.T) *customerHQ {
	t.Helper()
	return newCustomerHQLogged(t, slog.DiscardHandler)
}

// newCustomerHQLogged is newCustomerHQ whose server logs to log.
func newCustomerHQLogged(t *testing.T, log slog.Handler) *customerHQ {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hq.db")
	store, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	srv := hq.NewServer(hq.Options{Store: store, Now: func() time.Time { return importNow }, MaxWait: 5 * time.Second,
		Logger: slog.New(log)})
	h := &customerHQ{store: store, path: path, admin: httptest.NewServer(srv.AdminHandler()), term: httptest.NewServer(srv.Handler())}
	t.Cleanup(h.admin.Close)
	t.Cleanup(h.term.Close)
	return h
}

func (h *customerHQ) do(t *testing.T, method, url string, body []byte, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %d: %v", method, url, resp.StatusCode, err)
		}
	}
	return resp.StatusCode
}

// postHolders sends holders as terminal S1-T1 and returns how many HQ stored.
func (h *customerHQ) postHolders(t *testing.T, hs ...pos.CardHolder) int {
	t.Helper()
	body, _ := json.Marshal(wire.HoldersRequest{Terminal: "S1-T1", Holders: hs})
	var ans wire.HoldersResponse
	if code := h.do(t, "POST", h.term.URL+wire.PathHolders, body, &ans); code != 200 {
		t.Fatalf("POST holders = %d", code)
	}
	return ans.Stored
}

// heapPeak runs fn while sampling the heap's bytes in objects, and returns
// the most they grew over what they were before fn.
func heapPeak(fn func()) uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	base := read()
	var peak atomic.Uint64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			if v := read(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	fn()
	close(stop)
	<-done
	if v := read(); v > peak.Load() {
		peak.Store(v)
	}
	return max(peak.Load(), base) - base
}

// An import reads its file as a stream: a 16 MiB file of bad rows is
// answered with the first 1000 of them and the count of all, in bounded
// memory. Before the fix it took 1.7 GiB of heap and answered 438 MB.
func TestImportMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("reads a 16 MiB file")
	}
	h := newCustomerHQ(t)
	const size = 16 << 20
	file := bytes.NewBuffer(make([]byte, 0, size))
	file.WriteString("card,name\n")
	for file.Len() < size {
		file.WriteString("x\n")
	}
	rows := (file.Len() - len("card,name\n")) / 2
	var rep hq.ImportAnswer
	var code int
	var answered int
	grew := heapPeak(func() {
		req, _ := http.NewRequest("POST", h.admin.URL+wire.PathAdminCustomers, bytes.NewReader(file.Bytes()))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		code, answered = resp.StatusCode, len(body)
		if err := json.Unmarshal(body, &rep); err != nil {
			t.Fatalf("import answer: %v", err)
		}
	})
	t.Logf("a %d MiB file of %d bad rows: heap grew by at most %.1f MiB, answer %d bytes", size>>20, rows, float64(grew)/(1<<20), answered)
	if code != 200 || rep.Rows != rows || rep.Stored != 0 || rep.RejectedTotal != rows || len(rep.Rejected) != 1000 {
		t.Fatalf("import = %d rows %d stored %d rejected %d listed %d; want 200, %d rows all rejected, 1000 listed",
			code, rep.Rows, rep.Stored, rep.RejectedTotal, len(rep.Rejected), rows)
	}
	if r := rep.Rejected[999]; r.Line != 1001 || r.Reason != "1 fields, the header has 2" {
		t.Errorf("the last row listed = %+v", r)
	}
	// The file itself is 16 MiB of the test's heap; the import's own
	// memory is its batch, its list and its buffers.
	if grew > 64<<20 || answered > 1<<20 {
		t.Errorf("the import grew the heap by %d MiB and answered %d bytes; want under 64 MiB and 1 MiB", grew>>20, answered)
	}
}

// BenchmarkImportCustomers reports the heap an import of 16 MiB grows by
// at its peak, of bad rows and of valid holders.
func BenchmarkImportCustomers(b *testing.B) {
	for _, c := range []struct {
		name string
		row  func(i int) string
	}{
		{"bad", func(int) string { return "x\n" }},
		{"valid", func(i int) string { return fmt.Sprintf("2%012d,Анна,+7 900 %07d\n", i, i%10_000_000) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			var file bytes.Buffer
			file.WriteString("card,name,phone\n")
			if c.name == "bad" {
				file.Reset()
				file.WriteString("card,name\n")
			}
			for i := 0; file.Len() < 16<<20; i++ {
				file.WriteString(c.row(i))
			}
			var peak uint64
			for b.Loop() {
				b.StopTimer()
				store, err := boltstore.Open(filepath.Join(b.TempDir(), "hq.db"), boltstore.Options{})
				if err != nil {
					b.Fatal(err)
				}
				srv := hq.NewServer(hq.Options{Store: store, Now: func() time.Time { return importNow }, Logger: slog.New(slog.DiscardHandler)})
				b.StartTimer()
				peak = max(peak, heapPeak(func() {
					w := httptest.NewRecorder()
					srv.AdminHandler().ServeHTTP(w, httptest.NewRequest("POST", wire.PathAdminCustomers, bytes.NewReader(file.Bytes())))
					if w.Code != 200 {
						b.Fatalf("import = %d %s", w.Code, w.Body.Bytes()[:min(200, w.Body.Len())])
					}
				}))
				store.Close()
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		})
	}
}

// A terminal's holder dated ahead of HQ's clock beyond the allowed skew is
// taken as the oldest version: it replaces nothing, does not bring a
// forgotten customer back, and HQ's import wins over it. One within the
// skew is taken as dated.
func TestHolderDatedAheadOfHQ(t *testing.T) {
	h := newCustomerHQ(t)
	const card = "2000000000015"
	far := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	holder := pos.CardHolder{Card: card, Name: "Василий", Phone: "+7 900 1234567", Registered: importNow, Terminal: "S1-T1", Updated: far}
	if n := h.postHolders(t, holder); n != 1 {
		t.Fatalf("a new card's holder dated 9999: stored %d, want 1 (nothing at HQ to lose to)", n)
	}
	var a wire.AccountAnswer
	a = wire.AccountAnswer{}
	h.do(t, "GET", h.admin.URL+wire.PathAdminCustomers+"/"+card, nil, &a)
	if a.Holder == nil || !a.Holder.Updated.IsZero() {
		t.Fatalf("the holder at HQ = %+v; want it kept undated", a.Holder)
	}
	// HQ's import replaces it.
	var rep hq.ImportAnswer
	if code := h.do(t, "POST", h.admin.URL+wire.PathAdminCustomers, []byte("card,name,phone\n"+card+",Вася,+7 900 7654321\n"), &rep); code != 200 || rep.Stored != 1 {
		t.Fatalf("import over it = %d %+v", code, rep)
	}
	// The till sends its copy again: refused, and the import stays.
	if n := h.postHolders(t, holder); n != 0 {
		t.Errorf("the copy dated 9999 again: stored %d, want 0", n)
	}
	a = wire.AccountAnswer{}
	h.do(t, "GET", h.admin.URL+wire.PathAdminCustomers+"/"+card, nil, &a)
	if a.Holder == nil || a.Holder.Name != "Вася" {
		t.Errorf("after the till's copy: holder %+v, want the import's", a.Holder)
	}
	// Forgotten, the customer does not come back with the till's copy.
	if code := h.do(t, "DELETE", h.admin.URL+wire.PathAdminCustomers+"/"+card, nil, nil); code != 200 {
		t.Fatalf("forget = %d", code)
	}
	if n := h.postHolders(t, holder); n != 0 {
		t.Errorf("the copy dated 9999 after the forget: stored %d, want 0", n)
	}
	a = wire.AccountAnswer{}
	h.do(t, "GET", h.admin.URL+wire.PathAdminCustomers+"/"+card, nil, &a)
	if a.Holder != nil || !a.Forgotten {
		t.Errorf("after the forget and the till's copy: %+v, want the card forgotten", a)
	}
	// Within the skew a till's date stands: a sign-up four minutes ahead.
	soon := holder
	soon.Card, soon.Updated = "2000000000022", importNow.Add(4*time.Minute)
	if n := h.postHolders(t, soon); n != 1 {
		t.Fatalf("a holder 4 minutes ahead: stored %d", n)
	}
	a = wire.AccountAnswer{}
	h.do(t, "GET", h.admin.URL+wire.PathAdminCustomers+"/"+soon.Card, nil, &a)
	if a.Holder == nil || !a.Holder.Updated.Equal(soon.Updated) {
		t.Errorf("a holder 4 minutes ahead = %+v, want its date kept", a.Holder)
	}
}

// Import rows that lose to a later version HQ holds are listed as refused,
// with the reason, not silently dropped.
func TestImportListsRowsThatLose(t *testing.T) {
	h := newCustomerHQ(t)
	// A version dated ahead, as a terminal could store before HQ bounded
	// terminals' dates.
	later := pos.CardHolder{Card: "2000000000022", Name: "Мария", Phone: "+7 911 1234567", Updated: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := h.store.PutHolders(context.Background(), "S1-T1", []pos.CardHolder{later}); err != nil {
		t.Fatal(err)
	}
	var rep hq.ImportAnswer
	file := "card,name,phone\n2000000000015,Василий,+7 900 1234567\n2000000000022,Маша,+7 911 7654321\n,x,1\n"
	if code := h.do(t, "POST", h.admin.URL+wire.PathAdminCustomers, []byte(file), &rep); code != 200 {
		t.Fatalf("import = %d", code)
	}
	if rep.Rows != 3 || rep.Stored != 1 || rep.RejectedTotal != 2 || len(rep.Rejected) != 2 {
		t.Fatalf("import = %+v; want 3 rows, 1 stored, 2 rejected", rep)
	}
	if r := rep.Rejected[0]; r.Line != 3 || r.Card != "2000000000022" || !strings.Contains(r.Reason, "9999-01-01") {
		t.Errorf("the row that lost = %+v; want line 3 with HQ's version's date", r)
	}
	if r := rep.Rejected[1]; r.Line != 4 || !strings.HasPrefix(r.Reason, "card: missing") {
		t.Errorf("the bad row = %+v", r)
	}
}

// A terminal's look-up of a card is checked as a till's scan gives one:
// a made-up number costs the store one seen mark of at most 64 bytes, not
// the 30 kB keys that grew hq.db from 32 kB to 49 MB in 500 look-ups.
func TestAccountLookUpChecksTheCard(t *testing.T) {
	h := newCustomerHQ(t)
	for _, c := range []struct{ card, want string }{
		{strings.Repeat("7", 40_000), "40000 bytes, at most 128"},
		{strings.Repeat("7", 30_000), "30000 bytes, at most 128"},
		{strings.Repeat("7", 100), "100 bytes; a till's scan gives at most 64"},
		{"2000%20000015", "printable ASCII characters without spaces"},
		{"%C3%A9t%C3%A9", "printable ASCII"},
		{"%01", "control characters"},
	} {
		var e wire.Error
		if code := h.do(t, "GET", h.term.URL+wire.PathAccountPrefix+c.card+"?terminal=S1-T1", nil, &e); code != 400 || !strings.Contains(e.Message, c.want) {
			t.Errorf("look-up of %.20q = %d %+v; want 400 saying %q", c.card, code, e, c.want)
		}
	}
	size := func() int64 {
		fi, err := os.Stat(h.path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	for i := range 500 {
		var a wire.AccountAnswer
		if code := h.do(t, "GET", h.term.URL+wire.PathAccountPrefix+fmt.Sprintf("7%063d", i)+"?terminal=S1-T1", nil, &a); code != 200 || a.Account.Sales != 0 {
			t.Fatalf("look-up of a made-up card = %d %+v", code, a)
		}
	}
	after := size()
	t.Logf("500 look-ups of made-up 64-byte cards: hq.db %d → %d bytes", before, after)
	if after-before > 1<<20 {
		t.Errorf("they grew hq.db by %d bytes; want under 1 MiB", after-before)
	}
}

// The admin's customer routes answer a card that is not one with 400
// naming the problem, and a store's failure without its text.
func TestCustomerRoutesCheckTheCard(t *testing.T) {
	h := newCustomerHQ(t)
	long := strings.Repeat("7", 40_000)
	for _, c := range []struct{ method, path string }{
		{"DELETE", wire.PathAdminCustomers + "/" + long},
		{"GET", wire.PathAdminCustomers + "/" + long},
		{"GET", wire.PathAdminCustomers + "/" + long + wire.PathAdminPurchases},
		{"GET", wire.PathAdminCustomers + "/%20x"},
	} {
		var e wire.Error
		if code := h.do(t, c.method, h.admin.URL+c.path, nil, &e); code != 400 || !strings.HasPrefix(e.Message, "card: ") {
			t.Errorf("%s %.60s = %d %+v; want 400 naming the card's problem", c.method, c.path, code, e)
		}
	}
	h.store.Close() // every read fails now
	var e wire.Error
	if code := h.do(t, "GET", h.admin.URL+wire.PathAdminCustomers+"/2000000000015", nil, &e); code != 503 || strings.Contains(e.Message, "database") {
		t.Errorf("show with the store down = %d %+v; want 503 without the store's error", code, e)
	}
}

// One sale body HQ acked but cannot read leaves the card's purchases page
// readable: the event is left out and counted.
func TestPurchasesSkipAnUnreadableEvent(t *testing.T) {
	h := newCustomerHQ(t)
	const card = "2000000000015"
	bad := event.Event{Terminal: "S1-T1", Seq: 1, ID: "S1-T1-1", Type: event.TypeSale, At: importNow, RulesetVersion: 1,
		Body: json.RawMessage(`{"card":"` + card + `","total":0,"lines":"not a list"}`)}
	bad.Hash = bad.ComputeHash()
	good := storetest.Chain("S1-T1", 2, 2, bad.Hash, 100_00)
	body, _ := json.Marshal(wire.UploadRequest{Terminal: "S1-T1", Events: append([]event.Event{bad}, good...)})
	var up wire.UploadResponse
	if code := h.do(t, "POST", h.term.URL+wire.PathUpload, body, &up); code != 200 || up.Acked != 2 {
		t.Fatalf("upload = %d %+v", code, up)
	}
	var ps struct {
		wire.CardPurchases
		Unreadable int `json:"unreadable"`
	}
	if code := h.do(t, "GET", h.admin.URL+wire.PathAdminCustomers+"/"+card+wire.PathAdminPurchases, nil, &ps); code != 200 ||
		len(ps.Purchases) != 1 || ps.Purchases[0].Total != 100_00 || ps.Unreadable != 1 {
		t.Errorf("purchases = %d %+v; want the readable sale and 1 unreadable", code, ps)
	}
}

// A quote left open makes the rest of a file one row: HQ stops at 64 KiB,
// stores the holders of the rows before it and says so.
func TestImportStopsAtAnOverlongRow(t *testing.T) {
	h := newCustomerHQ(t)
	file := "card,name,phone\n2000000000015,Василий,+7 900 1234567\n\"2000000000022,Мария," + strings.Repeat("7", 100<<10) + "\n"
	var e wire.Error
	if code := h.do(t, "POST", h.admin.URL+wire.PathAdminCustomers, []byte(file), &e); code != 400 ||
		!strings.Contains(e.Message, "after line 2 is longer than 65536 bytes") || !strings.Contains(e.Message, "stored the 1 holders") {
		t.Fatalf("import = %d %+v", code, e)
	}
	var a wire.AccountAnswer
	if h.do(t, "GET", h.admin.URL+wire.PathAdminCustomers+"/2000000000015", nil, &a); a.Holder == nil {
		t.Errorf("the holder of the row before the long one was not stored: %+v", a)
	}
	// A quote left open before many short lines: the rest of the file is
	// one row, stopped at the same length.
	file = "card,name,phone\n2000000000015,Василий,+7 900 1234567\n\"2000000000022,Мария,\n" + strings.Repeat("2000000000039,Пётр,+7 900 1234567\n", 8000)
	if code := h.do(t, "POST", h.admin.URL+wire.PathAdminCustomers, []byte(file), &e); code != 400 ||
		!strings.Contains(e.Message, "after line 2 is longer than 65536 bytes") {
		t.Errorf("import with a quote left open = %d %+v", code, e)
	}
}
