package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/tilld/tilld/analytics/loyalty"
	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/till"
)

// screensRules are the example chain's rules with the NPS question and a
// bonus catalog: a bag for a point, a mug no card reaches.
var screensRules = append(append([]byte(nil), discount.Example...), `
[[rule]]
id = "nps"
kind = "nps"
every_days = 90

[[rule]]
id = "gifts"
kind = "catalog"
  [[rule.item]]
  sku = "bag"
  points = 1
  name = "Пакет"
  [[rule.item]]
  sku = "mug"
  points = 100000
  name = "Кружка"
`...)

const (
	vasily = "2000000000015" // Василий Петрович, ru
	john   = "2000000000022" // John, en
)

// screensTill is a till enrolled at an HQ, with a fake reader "front" and
// two registered card holders.
type screensTill struct {
	hq   *hqProc
	addr string
	api  *localapi.Client
	// unplug kills the serial line of the reader "counter" (a socat pty
	// pair), as pulling its USB adapter does.
	unplug func()
}

func startScreensTill(t *testing.T) *screensTill {
	t.Helper()
	work := t.TempDir()
	h := launchHQ(t, work, screensRules, "")
	data := filepath.Join(work, "S1-T1")
	h.enroll(t, "S1", "S1-T1", data)
	s := &screensTill{hq: h, addr: freeAddr(t)}
	conf := filepath.Join(work, "tilld.toml")
	if _, err := exec.LookPath("socat"); err != nil {
		t.Fatal("socat not found; install it (apt-get install -y socat) or run `make test`, which does")
	}
	readerEnd, scannerEnd := filepath.Join(work, "ttyV0"), filepath.Join(work, "ttyV1")
	socatCtx, kill := context.WithCancel(context.Background())
	socat := exec.CommandContext(socatCtx, "socat", "pty,raw,echo=0,link="+readerEnd, "pty,raw,echo=0,link="+scannerEnd)
	if err := socat.Start(); err != nil {
		t.Fatal(err)
	}
	s.unplug = func() { kill(); socat.Wait() }
	t.Cleanup(s.unplug)
	waitFor(t, 5*time.Second, "socat's ptys", func() bool { _, err := os.Stat(readerEnd); return err == nil })
	writeFile(t, conf, fmt.Sprintf("data_dir = %q\nlisten = %q\n\n[[reader]]\nname = \"front\"\ntype = \"fake\"\n\n[[reader]]\nname = \"counter\"\ntype = \"serial\"\nport = %q\nbaud = 9600\n", data, s.addr, readerEnd))
	start(t, "tilld", "run", "--config", conf)
	s.api = apiClient(s.addr, data)
	ctx := context.Background()
	waitFor(t, 15*time.Second, "the till online with rules", func() bool {
		st, err := s.api.Status(ctx)
		return err == nil && st.RulesetVersion > 0 && st.Online
	})
	for _, h := range []pos.CardHolder{
		{Card: vasily, Name: "Василий", Patronymic: "Петрович", Lang: "ru", Phone: "+7 900 123-45-67"},
		{Card: john, Name: "John", Lang: "en", Email: "john@example.com"},
	} {
		if _, code, err := s.api.RegisterCustomer(ctx, h); err != nil || code != http.StatusCreated {
			t.Fatalf("register %s: %d %v", h.Name, code, err)
		}
	}
	return s
}

// js evaluates expr in the tab and returns its value.
func js[T any](t *testing.T, tab context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(tab, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// text is the text content of the element with the id, "" when none.
func text(t *testing.T, tab context.Context, id string) string {
	t.Helper()
	return js[string](t, tab, fmt.Sprintf(`(document.getElementById(%q) || {}).textContent || ""`, id))
}

// waitText waits until the element's text satisfies ok.
func waitText(t *testing.T, tab context.Context, id, what string, ok func(string) bool) string {
	t.Helper()
	var got string
	waitFor(t, 10*time.Second, what+" (#"+id+")", func() bool {
		got = text(t, tab, id)
		return ok(got)
	})
	return got
}

func open(t *testing.T, tab context.Context, url string) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.Navigate(url), chromedp.WaitReady(chromedp.ID("greeting"))); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	// The page hears events from when its stream is open.
	waitFor(t, 10*time.Second, "the page's event stream", func() bool { return js[string](t, tab, `document.body.dataset.stream || ""`) == "open" })
}

// TestScreens is issue 18 in headless Chromium against the real tilld with
// the fake reader, reading the DOM of the cashier's page and the customer's
// display, open at once: the greeting by name and patronymic in ru and en
// (the language switch remembered); a quote from the API as lines with each
// discount's reason; a sale updating the figures and asking the NPS
// question on the display; HQ stopped, the banner with the events waiting;
// the display's tap recorded at the till and, once HQ is back, at HQ
// exactly once; the sign-up form creating a holder.
func TestScreens(t *testing.T) {
	s := startScreensTill(t)
	ctx := context.Background()
	cashier := browser(t)
	display, cancel := chromedp.NewContext(cashier) // a second tab of the same browser
	t.Cleanup(cancel)
	open(t, cashier, "http://"+s.addr+"/")
	open(t, display, "http://"+s.addr+"/display")
	waitText(t, cashier, "terminal", "the page to show the terminal", func(v string) bool { return v == "S1-T1" })

	// A scan: the greeting by name and patronymic, on both screens.
	if err := s.api.Present(ctx, "front", vasily); err != nil {
		t.Fatal(err)
	}
	waitText(t, cashier, "greeting", "the cashier's greeting", func(v string) bool { return v == "Здравствуйте, Василий Петрович!" })
	waitText(t, display, "greeting", "the display's greeting", func(v string) bool { return v == "Здравствуйте, Василий Петрович!" })
	if got := text(t, cashier, "details"); !strings.Contains(got, "•••• 0015") {
		t.Errorf("details: %q", got)
	}
	if got := text(t, cashier, "progress-text"); got != "до Silver 5000.00 RUB" {
		t.Errorf("progress to the next tier: %q", got)
	}
	checkRewards(t, s, cashier, vasily, "ru")
	// The rules' version and age; then HQ publishes a ruleset that starts
	// later: the page shows it waiting.
	if got := text(t, cashier, "rules"); got != "1" {
		t.Errorf("rules version on the page: %q", got)
	}
	if got := text(t, cashier, "rules-age"); !strings.HasPrefix(got, "с ") || !strings.HasSuffix(got, " мин)") {
		t.Errorf("the rules' age on the page: %q, want \"с <when> (N мин)\"", got)
	}
	future := filepath.Join(t.TempDir(), "future.toml")
	writeFile(t, future, strings.Replace(string(screensRules), "version = 1\n", "version = 2\neffective = 2099-06-15T12:00:00Z\n", 1))
	run(t, bin("tillhq"), "rules", "publish", "--admin", s.hq.adminURL, future)
	next := waitText(t, cashier, "nextrules", "the future ruleset waiting", func(v string) bool { return strings.HasPrefix(v, "версия 2 ждёт: с 15.06") })
	if st, err := s.api.Status(ctx); err != nil || st.RulesetVersion != 1 || st.NextRuleset == nil || st.NextRuleset.Version != 2 || st.RulesetSince.IsZero() {
		t.Errorf("status with a ruleset waiting: %+v %v (page: %q)", st, err, next)
	}
	if got := text(t, cashier, "rules"); got != "1" {
		t.Errorf("rules version with the next one waiting: %q", got)
	}
	screenshot(t, cashier, "cashier-ru-online.png")

	// English, remembered across a reload; John greeted in his language.
	if err := chromedp.Do(cashier, chromedp.Click(chromedp.ID("lang-en"))); err != nil {
		t.Fatal(err)
	}
	waitText(t, cashier, "link", "the page in English", func(v string) bool { return v == "HQ: online" })
	open(t, cashier, "http://"+s.addr+"/")
	if got := js[string](t, cashier, `document.getElementById('lang-en').getAttribute('aria-pressed')`); got != "true" {
		t.Errorf("the language after a reload: lang-en pressed %q", got)
	}
	if err := s.api.Present(ctx, "front", john); err != nil {
		t.Fatal(err)
	}
	waitText(t, cashier, "greeting", "John's greeting", func(v string) bool { return v == "Hello, John!" })
	waitText(t, cashier, "progress-text", "John's progress in English", func(v string) bool { return v == "5000.00 RUB to Silver" })
	checkRewards(t, s, cashier, john, "en")
	waitText(t, cashier, "nextrules", "the waiting ruleset in English", func(v string) bool { return strings.HasPrefix(v, "version 2 waits: from 15/06") })
	screenshot(t, cashier, "cashier-en-online.png")
	if err := chromedp.Do(cashier, chromedp.Click(chromedp.ID("lang-ru"))); err != nil {
		t.Fatal(err)
	}
	if err := s.api.Present(ctx, "front", vasily); err != nil {
		t.Fatal(err)
	}
	waitText(t, cashier, "greeting", "Василий again", func(v string) bool { return v == "Здравствуйте, Василий Петрович!" })

	// A quote through the API: its lines and every discount's reason.
	basket := pos.Basket{Card: vasily, Lines: []pos.Line{
		{SKU: "bread", Category: "bakery", Qty: 2, UnitPrice: 60_00}, {SKU: "coffee", Category: "coffee", Qty: 1, UnitPrice: 450_00}}}
	q, err := s.api.Quote(ctx, basket)
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Applied) == 0 {
		t.Fatalf("the quote applied nothing: %+v", q)
	}
	waitFor(t, 10*time.Second, "the quote's lines on the page", func() bool {
		return js[int](t, cashier, `document.querySelectorAll('#lines tr.line').length`) == 2
	})
	reasons := js[[]string](t, cashier, `[...document.querySelectorAll('#applied li')].map(li => li.textContent)`)
	for _, a := range q.Applied {
		if !slices.ContainsFunc(reasons, func(r string) bool { return strings.HasPrefix(r, a.Reason) }) {
			t.Errorf("the page does not give the reason %q of rule %s: %q", a.Reason, a.Rule, reasons)
		}
	}
	if got := text(t, cashier, "total"); got != money.Display(q.Total, "RUB") {
		t.Errorf("total on the page %q, want %q", got, money.Display(q.Total, "RUB"))
	}
	waitText(t, display, "total", "the display's total", func(v string) bool { return v == money.Display(q.Total, "RUB") })

	// The sale: the receipt, the card's new figures; the display asks.
	sale, _, err := s.api.Sale(ctx, till.SaleRequest{ID: "screen-1", Basket: basket})
	if err != nil || !sale.AskNPS {
		t.Fatalf("sale: %v, ask_nps %v", err, sale.AskNPS)
	}
	acct, err := s.api.Account(ctx, vasily)
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, cashier, "points", "the new balance on the page", func(v string) bool { return v == fmt.Sprint(acct.Points) })
	if got := text(t, cashier, "receipt"); !strings.Contains(got, fmt.Sprintf("баланс %d", acct.Points)) {
		t.Errorf("receipt summary: %q", got)
	}
	if got := text(t, cashier, "spend"); got != money.Display(money.Amount(acct.LifetimeSpend), "RUB") {
		t.Errorf("spend on the page %q, want %q", got, money.Display(money.Amount(acct.LifetimeSpend), "RUB"))
	}
	// The new balance affords the bag: the rewards refreshed with the sale.
	if acct.Points < 1 {
		t.Fatalf("the sale earned no points (%d): the catalog's bag cannot be checked", acct.Points)
	}
	waitFor(t, 10*time.Second, "the bag redeemable after the sale", func() bool {
		return slices.Equal(js[[]string](t, cashier, `[...document.querySelectorAll('#rewards li.reward')].map(li => li.dataset.sku)`), []string{"bag"})
	})
	checkRewards(t, s, cashier, vasily, "ru")
	waitFor(t, 10*time.Second, "the NPS question on the display", func() bool {
		return js[bool](t, display, `!document.getElementById('nps').hidden`)
	})
	screenshot(t, display, "display-ru-nps.png")

	// HQ stops; the customer taps 9 on the display.
	s.hq.proc.stop(t)
	if err := chromedp.Do(display, chromedp.Click(chromedp.CSS(`#scores button[data-score="9"]`))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "thanks on the display", func() bool { return js[bool](t, display, `!document.getElementById('thanks').hidden`) })
	if got := text(t, display, "thanks"); got != "Спасибо за ответ!" {
		t.Errorf("display after the tap: %q", got)
	}
	waitText(t, cashier, "lastnps", "the answer on the cashier's page", func(v string) bool { return strings.Contains(v, "screen-1") && strings.Contains(v, "9") })
	// Another sale while HQ is down: the banner says since when and how many wait.
	if _, _, err := s.api.Sale(ctx, till.SaleRequest{ID: "screen-2", Basket: pos.Basket{Lines: []pos.Line{{SKU: "bread", Qty: 1, UnitPrice: 60_00}}}}); err != nil {
		t.Fatal(err)
	}
	banner := waitText(t, cashier, "banner", "the offline banner", func(v string) bool { return strings.Contains(v, "Продаж ждут отправки: 2") })
	if !strings.HasPrefix(banner, "Нет связи с HQ") || js[bool](t, cashier, `document.getElementById('banner').hidden`) {
		t.Errorf("banner: %q", banner)
	}
	screenshot(t, cashier, "cashier-ru-offline.png")
	nine := 9
	if again, code, err := s.api.Feedback(ctx, till.FeedbackRequest{Sale: "screen-1", Score: &nine}); err != nil || code != http.StatusOK || again.Score != 9 || again.Seq != sale.Seq+1 {
		t.Errorf("the display's answer at the till: %d %v %+v", code, err, again)
	}
	// The display in English, offline.
	open(t, display, "http://"+s.addr+"/display?lang=en")
	if err := s.api.Present(ctx, "front", john); err != nil {
		t.Fatal(err)
	}
	waitText(t, display, "greeting", "John on the display", func(v string) bool { return v == "Hello, John!" })
	jq, err := s.api.Quote(ctx, pos.Basket{Card: john, Lines: []pos.Line{{SKU: "tea", Category: "grocery", Qty: 3, UnitPrice: 120_00}}})
	if err != nil {
		t.Fatal(err)
	}
	waitText(t, display, "total", "John's basket on the display", func(v string) bool { return v == money.Display(jq.Total, "RUB") })
	screenshot(t, display, "display-en-offline.png")
	if err := chromedp.Do(cashier, chromedp.Click(chromedp.ID("lang-en"))); err != nil {
		t.Fatal(err)
	}
	waitText(t, cashier, "banner", "the banner in English", func(v string) bool { return strings.Contains(v, "Sales waiting: 2") })
	if got := text(t, cashier, "lastnps"); got != "screen-1 · score 9" {
		t.Errorf("the last answer after the switch to English: %q", got)
	}
	screenshot(t, cashier, "cashier-en-offline.png")
	if err := chromedp.Do(cashier, chromedp.Click(chromedp.ID("lang-ru"))); err != nil {
		t.Fatal(err)
	}

	// HQ back: the answer reaches it once.
	s.hq.start(t)
	waitFor(t, 30*time.Second, "the till's events at HQ", func() bool {
		st, err := s.api.Status(ctx)
		return err == nil && st.Online && st.Outbox == 0
	})
	waitFor(t, 10*time.Second, "the banner gone", func() bool { return js[bool](t, cashier, `document.getElementById('banner').hidden`) })
	var rep loyalty.NPSReport
	if err := json.Unmarshal([]byte(run(t, bin("tillhq"), "report", "nps", "--admin", s.hq.adminURL, "--store", "S1", "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Total.Answers != 1 || rep.Total.Promoters != 1 {
		t.Errorf("NPS at HQ: %+v", rep.Total)
	}
	// John buys: the display (in English) asks him, and the cashier keys
	// his answer in: 7, Enter.
	if _, _, err := s.api.Sale(ctx, till.SaleRequest{ID: "screen-3", Basket: pos.Basket{Card: john, Lines: []pos.Line{{SKU: "tea", Category: "grocery", Qty: 3, UnitPrice: 120_00}}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the question for John", func() bool { return js[bool](t, display, `!document.getElementById('nps').hidden`) })
	screenshot(t, display, "display-en-online.png")
	if err := chromedp.Do(display, chromedp.KeyEvent("7"), chromedp.KeyEvent("\r")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "thanks for the keyed answer", func() bool { return js[bool](t, display, `!document.getElementById('thanks').hidden`) })
	if got := text(t, display, "thanks"); got != "Thank you for your answer!" {
		t.Errorf("display after the keyed answer: %q", got)
	}
	seven := 7
	if f, code, err := s.api.Feedback(ctx, till.FeedbackRequest{Sale: "screen-3", Score: &seven}); err != nil || code != http.StatusOK || f.Card != john {
		t.Errorf("the keyed answer at the till: %d %v %+v", code, err, f)
	}
	waitFor(t, 30*time.Second, "the keyed answer at HQ", func() bool {
		var rep loyalty.NPSReport
		err := json.Unmarshal([]byte(run(t, bin("tillhq"), "report", "nps", "--admin", s.hq.adminURL, "--store", "S1", "--json")), &rep)
		return err == nil && rep.Total.Answers == 2 && rep.Total.Passives == 1 && rep.Total.Promoters == 1
	})

	// The serial reader's line goes: the page says so at once.
	if !js[bool](t, cashier, `document.getElementById('readers').hidden`) {
		t.Errorf("a reader shown as not working before it was unplugged: %q", text(t, cashier, "readers"))
	}
	s.unplug()
	waitText(t, cashier, "readers", "the unplugged reader on the page", func(v string) bool { return strings.Contains(v, "counter") })
	if got := text(t, cashier, "readers"); !strings.HasPrefix(got, "Считыватель не работает: counter") {
		t.Errorf("readers: %q", got)
	}

	// The sign-up form creates a holder, with explicit consent.
	const newCard = "2000000000039"
	fill := []chromedp.Action[chromedp.Void]{
		chromedp.SendKeys(chromedp.ID("su-card"), newCard),
		chromedp.SendKeys(chromedp.ID("su-name"), "Мария"),
		chromedp.SendKeys(chromedp.ID("su-patronymic"), "Ивановна"),
		chromedp.SendKeys(chromedp.ID("su-phone"), "+7 900 765-43-21"),
		chromedp.Click(chromedp.ID("su-submit")),
	}
	if err := chromedp.Do(cashier, fill...); err != nil {
		t.Fatal(err)
	}
	waitText(t, cashier, "signup-result", "the form to ask for consent", func(v string) bool { return v == "Нужно согласие покупателя." })
	// A phone the till refuses: the field named in the cashier's language.
	if err := chromedp.Do(cashier, chromedp.Click(chromedp.ID("su-consent")), chromedp.SetValue(chromedp.ID("su-phone"), "12"), chromedp.Click(chromedp.ID("su-submit"))); err != nil {
		t.Fatal(err)
	}
	waitText(t, cashier, "signup-result", "the refusal in Russian", func(v string) bool {
		return v == "Проверьте поле «Телефон»: цифр 2, нужно от 5 до 15."
	})
	if err := chromedp.Do(cashier, chromedp.SetValue(chromedp.ID("su-phone"), "+7 900 765-43-21"), chromedp.Click(chromedp.ID("su-consent"))); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(cashier, chromedp.Click(chromedp.ID("su-consent")), chromedp.Click(chromedp.ID("su-submit"))); err != nil {
		t.Fatal(err)
	}
	waitText(t, cashier, "signup-result", "the sign-up", func(v string) bool { return v == "Участник зарегистрирован." })
	a, err := s.api.Account(ctx, newCard)
	if err != nil || a.Holder == nil || a.Holder.Name != "Мария" || a.Holder.Patronymic != "Ивановна" || !a.Holder.Consent {
		t.Fatalf("the holder signed up on the page: %+v %v", a.Holder, err)
	}
	if err := s.api.Present(ctx, "front", newCard); err != nil {
		t.Fatal(err)
	}
	waitText(t, cashier, "greeting", "the new member greeted", func(v string) bool { return v == "Здравствуйте, Мария Ивановна!" })

	// The rewards of a card are for the page only, and only of a scan the
	// till keeps.
	if got, err := chromedp.Run(cashier, chromedp.Evaluate[int](`fetch('/v1/scans/nope-1/rewards').then(r => r.status)`, chromedp.EvalAwaitPromise)); err != nil || got != http.StatusNotFound {
		t.Errorf("the rewards of a scan the till does not keep: %d %v, want 404", got, err)
	}
	if resp, err := http.Get("http://" + s.addr + "/v1/scans/nope-1/rewards"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the rewards without the page's cookie: %v %v, want 401", resp, err)
	} else {
		resp.Body.Close()
	}

	keyboardSignUp(t, s, cashier)
}

// checkRewards compares what the cashier's page shows the scanned card
// can redeem with what the till's API answers for it: the catalog items it
// affords, and "ещё N баллов до «…»" (or the English) for the next one.
func checkRewards(t *testing.T, s *screensTill, tab context.Context, card, lang string) {
	t.Helper()
	rw, err := s.api.Rewards(context.Background(), card, nil)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range rw.Catalog {
		if c.Affordable {
			want = append(want, c.SKU)
		}
	}
	if rw.Next == nil {
		t.Fatalf("the till names no next reward for %s: %+v", card, rw)
	}
	next := rw.NextReason
	if lang == "en" {
		next = fmt.Sprintf("%d more points to «%s»", rw.Next.Missing, rw.Next.Name)
		if rw.Next.Missing == 1 {
			next = fmt.Sprintf("1 more point to «%s»", rw.Next.Name)
		}
	}
	waitText(t, tab, "rewards-next", "the next reward on the page", func(v string) bool { return v == next })
	got := js[[]string](t, tab, `[...document.querySelectorAll('#rewards li.reward')].map(li => li.dataset.sku)`)
	if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Errorf("redeemable on the page %q, the till says %q", got, want)
	}
	if none := !js[bool](t, tab, `document.getElementById('rewards-none').hidden`); none != (len(want) == 0) {
		t.Errorf("\"nothing yet\" shown %v with %d items redeemable", none, len(want))
	}
}

// keyboardSignUp uses the cashier's page with the keyboard alone: the
// language switched by its access key (Alt+E, Alt+R), Tab to the sign-up
// form, the fields typed (card, name, phone), the consent ticked with Space, the form sent
// with Enter from a text field.
func keyboardSignUp(t *testing.T, s *screensTill, tab context.Context) {
	t.Helper()
	key := func(keys string, mods ...chromedp.Modifier) {
		t.Helper()
		if err := chromedp.Do(tab, chromedp.KeyEvent(keys, chromedp.KeyModifiers(mods...))); err != nil {
			t.Fatal(err)
		}
	}
	// accessKey presses Alt+k as a person does. chromedp's KeyEvent sends no
	// char event with Alt held, and Chromium handles access keys on it.
	accessKey := func(k rune) {
		t.Helper()
		for _, ev := range kb.Encode(k) {
			ev.Modifiers |= int64(chromedp.ModifierAlt)
			if _, err := chromedp.Call(tab, input.DispatchKeyEvent, *ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	focused := func() string { return js[string](t, tab, `document.activeElement ? document.activeElement.id : ""`) }
	// tabTo presses Tab (Shift+Tab backwards) until id has the focus.
	tabTo := func(id string, mods ...chromedp.Modifier) {
		t.Helper()
		for range 40 {
			if focused() == id {
				return
			}
			key(kb.Tab, mods...)
		}
		t.Fatalf("#%s never got the focus by Tab; it stayed at %q", id, focused())
	}
	// Start from a fresh page: nothing focused.
	open(t, tab, "http://"+s.addr+"/")
	accessKey('e')
	waitText(t, tab, "link", "English by the access key", func(v string) bool { return strings.HasPrefix(v, "HQ: ") })
	if got := js[string](t, tab, `document.documentElement.lang`); got != "en" {
		t.Fatalf("Alt+E left the page in %q", got)
	}
	const card = "2000000000046"
	tabTo("su-card")
	key(card)
	tabTo("su-name")
	key("Olga")
	tabTo("su-phone")
	key("+7 900 111-22-33")
	tabTo("su-consent")
	key(" ")
	if !js[bool](t, tab, `document.getElementById('su-consent').checked`) {
		t.Fatal("Space did not tick the consent")
	}
	tabTo("su-name", chromedp.ModifierShift)
	key(kb.Enter)
	waitText(t, tab, "signup-result", "the keyboard's sign-up", func(v string) bool {
		if v != "" && v != "Member signed up." {
			t.Fatalf("the keyboard's sign-up: %q (card %q, name %q, focus %q)", v, js[string](t, tab, `document.getElementById('su-card').value`),
				js[string](t, tab, `document.getElementById('su-name').value`), focused())
		}
		return v == "Member signed up."
	})
	a, err := s.api.Account(context.Background(), card)
	if err != nil || a.Holder == nil || a.Holder.Name != "Olga" || !a.Holder.Consent {
		t.Fatalf("the holder signed up with the keyboard: %+v %v", a.Holder, err)
	}
	accessKey('r')
	waitText(t, tab, "signup-result", "", func(string) bool { return js[string](t, tab, `document.documentElement.lang`) == "ru" })
	if got := text(t, tab, "su-submit"); got != "Зарегистрировать" {
		t.Errorf("after Alt+R the form says %q", got)
	}
}

// cashierPage starts a screens till and opens its cashier's page in a
// browser tab.
func cashierPage(t *testing.T) (*screensTill, context.Context) {
	t.Helper()
	s := startScreensTill(t)
	tab := browser(t)
	open(t, tab, "http://"+s.addr+"/")
	waitText(t, tab, "terminal", "the page", func(v string) bool { return v == "S1-T1" })
	return s, tab
}

// TestScreensErrors: the POS app's failures reach the cashier's page in
// the cashier's language, specific (which line, which field, how much,
// money in major units with the currency), read from the DOM of headless
// Chromium against the real tilld and HQ: a basket line's quantity and
// price, a card's check digit, points to redeem, a return over what was
// sold, a receipt the till does not keep, and, with HQ stopped, another
// till's receipt. Every code the API has renders in ru and en.
func TestScreensErrors(t *testing.T) {
	s, tab := cashierPage(t)
	ctx := context.Background()
	// shows runs a request of the POS app that must fail with code, and
	// waits for the page to say want.
	shows := func(code, want string, call func() error) {
		t.Helper()
		var ae *localapi.APIError
		if err := call(); !errors.As(err, &ae) || ae.Code != code {
			t.Fatalf("want %s, got %v", code, err)
		}
		got := waitText(t, tab, "problem", code+" on the page", func(v string) bool { return v == want })
		if c := js[string](t, tab, `document.getElementById('problem').dataset.code || ""`); c != code || js[bool](t, tab, `document.getElementById('problem').hidden`) {
			t.Errorf("the problem box: code %q, text %q", c, got)
		}
	}
	quote := func(b pos.Basket) func() error {
		return func() error { _, err := s.api.Quote(ctx, b); return err }
	}
	milk0 := pos.Basket{Lines: []pos.Line{{SKU: "bread", Qty: 1, UnitPrice: 60_00}, {SKU: "milk", Qty: 0, UnitPrice: 80_00}}}
	shows("bad_line", "Расчёт: Строка 2 («milk»): количество 0 — допустимо от 1 до 1000000.", quote(milk0))
	shows("bad_line", "Продажа: Строка 1 («gold»): цена 2000000000.00 RUB — допустимо не больше 1000000000.00 RUB.", func() error {
		_, _, err := s.api.Sale(ctx, till.SaleRequest{ID: "gold", Basket: pos.Basket{Lines: []pos.Line{{SKU: "gold", Qty: 1, UnitPrice: 2 * pos.MaxUnitPrice}}}})
		return err
	})
	// A quote that prices clears the box.
	if _, err := s.api.Quote(ctx, pos.Basket{Lines: []pos.Line{{SKU: "bread", Qty: 1, UnitPrice: 60_00}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the problem box to clear", func() bool { return js[bool](t, tab, `document.getElementById('problem').hidden`) })
	shows("bad_card", "Расчёт: Номер карты •••••••••0016 не распознан: неверная контрольная цифра. Отсканируйте карту ещё раз или проверьте номер.",
		quote(pos.Basket{Card: "2000000000016", Lines: []pos.Line{{SKU: "bread", Qty: 1, UnitPrice: 60_00}}}))
	shows("unknown_card", "Расчёт: •••••••••3931 — это код товара, а не карта лояльности.",
		quote(pos.Basket{Card: "4006381333931", Lines: []pos.Line{{SKU: "bread", Qty: 1, UnitPrice: 60_00}}}))
	shows("bad_redeem_points", "Расчёт: Списать можно от 0 до 1000000000 баллов, запрошено 2000000000.",
		quote(pos.Basket{Card: vasily, RedeemPoints: 2_000_000_000, Lines: []pos.Line{{SKU: "bread", Qty: 1, UnitPrice: 60_00}}}))
	if _, _, err := s.api.Sale(ctx, till.SaleRequest{ID: "teas", Basket: pos.Basket{Card: vasily, Lines: []pos.Line{{SKU: "tea", Qty: 2, UnitPrice: 120_00}}}}); err != nil {
		t.Fatal(err)
	}
	refund := func(req till.RefundRequest) func() error {
		return func() error { _, _, err := s.api.Refund(ctx, req); return err }
	}
	shows("over_return", "Возврат: Чек teas, строка 1 («tea»): продано 2, уже возвращено 0, к возврату 3 — можно вернуть не больше 2.",
		refund(till.RefundRequest{ID: "r1", Sale: "teas", Lines: []pos.ReturnLine{{Line: 1, Qty: 3}}}))
	screenshot(t, tab, "cashier-ru-error.png")
	// The errors' catalog shares T with the rest of the page: the basket's labels are still there.
	if got := js[string](t, tab, `document.querySelector('[data-t=saved]').textContent`); got != "скидка" {
		t.Errorf("the basket's \"saved\" label: %q", got)
	}
	shows("no_such_sale", "Возврат: Чек «nope» не найден на этой кассе. Проверьте номер или код чека.", refund(till.RefundRequest{ID: "r2", Sale: "nope"}))

	// In English; HQ stopped: another till's receipt cannot be returned here.
	if err := chromedp.Do(tab, chromedp.Click(chromedp.ID("lang-en"))); err != nil {
		t.Fatal(err)
	}
	waitText(t, tab, "problem", "the problem in English", func(v string) bool {
		return v == "Return: Receipt «nope» not found at this till. Check the number or code."
	})
	shows("bad_line", "Pricing: Line 2 («milk»): quantity 0, allowed 1 to 1000000.", quote(milk0))
	s.hq.proc.stop(t)
	shows("sale_unreachable", "Return: Receipt «S2-T1-1-3fa9c2» is from another till and HQ cannot be reached now (or has not got the sale yet): return it at that till, try again later, or, where the rules allow, return it on what the receipt says.",
		refund(till.RefundRequest{ID: "r3", Receipt: "S2-T1-1-3fa9c2", Lines: []pos.ReturnLine{{Line: 1, Qty: 1}}}))
	screenshot(t, tab, "cashier-en-error.png")

	// Every code renders in both languages, its details filled in: no
	// fallback text, nothing undefined.
	sample := `{op: 'sale', field: 'lines[1].qty', reason: 'range', line: 1, sku: 'tea', got: 3, min: 1, max: 2, amount: {minor: 12000, currency: 'RUB'},
		limit: {minor: 10000, currency: 'RUB'}, used: {minor: 5000, currency: 'RUB'}, excess: {minor: 7000, currency: 'RUB'}, sold: 2, returned: 1, asked: 3, card: '•••••••••0015', sale: 's1', effective: '2026-06-15T12:00:00Z'}`
	for _, l := range []string{"ru", "en"} {
		for code := range localapi.Codes {
			got := js[string](t, tab, fmt.Sprintf(`(() => { lang = %q; return problemText(Object.assign(%s, {code: %q})); })()`, l, sample, code))
			if fallback := js[string](t, tab, `t('other')`); got == "" || got == fallback || strings.Contains(got, "undefined") || strings.Contains(got, "NaN") {
				t.Errorf("%s %s: %q", l, code, got)
			}
		}
	}
}

// TestScreensScanLatency presents 200 cards on the fake reader and reads
// the cashier page's own timestamps: the scan's time at the reader and the
// time the page had the greeting in its DOM. It logs p50, p99 and the
// worst (docs/benchmarks.md); it asserts no time.
func TestScreensScanLatency(t *testing.T) {
	s, tab := cashierPage(t)
	ctx := context.Background()
	const n = 200
	for i := range n {
		card := []string{vasily, john}[i%2]
		if err := s.api.Present(ctx, "front", card); err != nil {
			t.Fatal(err)
		}
		want := i + 1
		waitFor(t, 10*time.Second, "the greeting", func() bool { return js[int](t, tab, `window.scanTimes.length`) >= want })
	}
	times := js[[][2]float64](t, tab, `window.scanTimes`)
	var lat []float64
	for i, p := range times {
		lat = append(lat, p[1]-p[0])
		if p[1]-p[0] > 50 {
			t.Logf("scan %d took %.1f ms", i+1, p[1]-p[0])
		}
	}
	slices.Sort(lat)
	p := func(q float64) float64 { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	t.Logf("scan -> greeting on the page over %d scans: p50 %.1f ms, p99 %.1f ms, max %.1f ms", len(lat), p(0.50), p(0.99), lat[len(lat)-1])
	if out := os.Getenv("TILLD_LATENCY_OUT"); out != "" {
		os.WriteFile(out, fmt.Appendf(nil, "scans %d p50 %.1f p99 %.1f max %.1f\n", len(lat), p(0.50), p(0.99), lat[len(lat)-1]), 0o644)
	}
	if len(lat) != n {
		t.Errorf("%d scans timed, want %d", len(lat), n)
	}
}
