package hq_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/boltstore"
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
		if len(hs)+len(rep.Rejected) != rep.Rows {
			t.Fatalf("%d holders + %d rejected != %d rows", len(hs), len(rep.Rejected), rep.Rows)
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
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "hq.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	logs := &cardLog{t: t, card: "2000000000015", masked: "•••••••••0015"}
	srv := hq.NewServer(hq.Options{Store: store, Now: func() time.Time { return importNow }, MaxWait: 5 * time.Second, Logger: slog.New(logs)})
	admin := httptest.NewServer(srv.AdminHandler())
	defer admin.Close()
	term := httptest.NewServer(srv.Handler())
	defer term.Close()
	do := func(method, url string, body []byte, out any) int {
		t.Helper()
		req, _ := http.NewRequest(method, url, bytes.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if out != nil {
			if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
				t.Fatalf("%s %s: %v", method, url, err)
			}
		}
		return resp.StatusCode
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
