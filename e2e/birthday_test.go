package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

// birthdayRules is a chain's rules with a birthday discount (on every sale in
// the window) and a 200-point birthday bonus (once per birthday).
const birthdayRules = `schema = 1
version = 1
currency = "RUB"

[[rule]]
id = "bonus"
kind = "points"
points = 1
per = "100.00"

[[rule]]
id = "bday"
kind = "birthday"
days_before = 3
days_after = 3
percent = "10%"
text = { ru = "С днём рождения, {name}!" }

[[rule]]
id = "bday-points"
kind = "birthday"
days_before = 3
days_after = 3
bonus_points = 200
`

// TestBirthdayBonusOnce is issue 14's item 7 through the real binaries: four
// sales in the birthday window, one of them for 1.00, used to earn the
// 200-point bonus each. Now the first earns it and the other three say why
// not; and once HQ's account of the card reaches a till of another store, a
// sale there does not earn it again. The birthday discount applies to every
// sale. Both ledgers verify.
func TestBirthdayBonusOnce(t *testing.T) {
	work := t.TempDir()
	h := launchHQ(t, work, []byte(birthdayRules), "")
	adminURL := h.adminURL
	ctx := context.Background()
	// tillA is S1-T1; tillB, in another store, has a software reader the test
	// presents the card on, as a cashier scans it.
	startTill := func(store, terminal string) *localapi.Client {
		e := h.enrollTill(t, work, store, terminal, "\n[[reader]]\nname = \"front\"\ntype = \"fake\"\n")
		api := e.api
		start(t, "tilld", "run", "--config", e.conf)
		waitFor(t, 15*time.Second, terminal+" online with rules", func() bool {
			st, err := api.Status(ctx)
			return err == nil && st.RulesetVersion > 0 && st.Online
		})
		return api
	}
	tillA := startTill("S1", "S1-T1")

	// The customer's birthday is today on the tills' calendar (they run in
	// this process's time zone); the window is three days either side.
	const card = "2000000000015"
	today := time.Now()
	if _, code, err := tillA.RegisterCustomer(ctx, pos.CardHolder{Card: card, Name: "Василий", Phone: "+7 900 123-45-67",
		Birthday: fmt.Sprintf("1980-%02d-%02d", today.Month(), today.Day())}); err != nil || code != http.StatusCreated {
		t.Fatalf("register the customer: %d %v", code, err)
	}

	basket := func(price int64) pos.Basket {
		return pos.Basket{Card: card, Lines: []pos.Line{{SKU: "tea", Category: "grocery", Qty: 1, UnitPrice: money.Amount(price)}}}
	}
	sell := func(api *localapi.Client, id string, price int64) till.SaleResult {
		t.Helper()
		res, code, err := api.Sale(ctx, till.SaleRequest{ID: id, Basket: basket(price)})
		if err != nil || code != http.StatusCreated {
			t.Fatalf("sale %s: %d %v", id, code, err)
		}
		return res
	}
	bonusOf := func(s pos.Sale) (bonus, discount int64) {
		for _, a := range s.Applied {
			switch a.Rule {
			case "bday-points":
				bonus += a.Points
			case "bday":
				discount += int64(a.Amount)
			}
		}
		return bonus, discount
	}
	// why asks the till, in explain mode, why the bonus is not paid now.
	why := func(api *localapi.Client) string {
		t.Helper()
		q, err := api.QuoteWith(ctx, basket(100_00), till.QuoteOptions{Explain: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range q.Dropped {
			if d.Rule == "bday-points" {
				return d.Code + ": " + d.Reason
			}
		}
		return fmt.Sprintf("not dropped: applied %+v", q.Applied)
	}

	var total int64
	for i, price := range []int64{1_00, 1000_00, 250_00, 40_00} {
		res := sell(tillA, fmt.Sprintf("a-%d", i+1), price)
		total += int64(res.Total)
		bonus, discount := bonusOf(res.Sale)
		if discount != price/10 {
			t.Errorf("sale %d of %d: birthday discount %d, want 10 %% on every sale in the window", i+1, price, discount)
		}
		switch {
		case i == 0 && (bonus != 200 || res.BirthdayBonus != 200):
			t.Fatalf("the first sale in the window (1.00) earned a bonus of %d (birthday_bonus %d), want 200: %+v", bonus, res.BirthdayBonus, res.Applied)
		case i > 0 && (bonus != 0 || res.BirthdayBonus != 0):
			t.Errorf("sale %d earned the birthday bonus again: %d points", i+1, bonus)
		}
	}
	if got := why(tillA); !strings.HasPrefix(got, "once: бонус ко дню рождения (200 баллов) уже начислен ") {
		t.Errorf("till A's explanation: %s", got)
	}
	if a, err := tillA.Account(ctx, card); err != nil || a.Points != 200+9+2+0 {
		t.Errorf("till A's account: %+v %v; want the bonus once plus 1 point per 100.00 paid", a, err)
	}

	// HQ gets the four sales; till B, in store S2, scans the card and so
	// learns HQ's account of it: its sale pays no bonus again.
	waitFor(t, 30*time.Second, "HQ to hold S1-T1's four sales", func() bool {
		rep := salesReport(t, adminURL)
		return len(rep.Terminals) == 1 && rep.Terminals[0].MaxSeq == 4 && rep.Terminals[0].Total == total
	})
	tillB := startTill("S2", "S2-T1")
	if err := tillB.Present(ctx, "front", card); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "HQ's account of the card at till B", func() bool {
		a, err := tillB.Account(ctx, card)
		return err == nil && a.Sales == 4 && a.Holder != nil
	})
	if got := why(tillB); !strings.HasPrefix(got, "once: ") {
		t.Errorf("till B's explanation: %s", got)
	}
	res := sell(tillB, "b-1", 300_00)
	if bonus, discount := bonusOf(res.Sale); bonus != 0 || res.BirthdayBonus != 0 || discount != 30_00 {
		t.Errorf("till B's sale: bonus %d, discount %d; want no bonus and the 10 %% discount: %+v", bonus, discount, res.Applied)
	}
	waitFor(t, 30*time.Second, "HQ to hold S2-T1's sale", func() bool {
		for _, tr := range salesReport(t, adminURL).Terminals {
			if tr.Terminal == "S2-T1" && tr.MaxSeq == 1 {
				return true
			}
		}
		return false
	})
	// HQ's account of the card: the bonus once, when it was paid, across both stores.
	var acct wire.AccountAnswer
	resp, err := http.Get(adminURL + wire.PathAdminCustomers + "/" + card)
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&acct)
	resp.Body.Close()
	if err != nil || acct.Account.Sales != 5 || acct.Account.Points != 200+9+2+0+2 || acct.Account.BirthdayBonus.IsZero() {
		t.Errorf("HQ's account: %+v %v; want 5 sales, the bonus once and when it was paid", acct.Account, err)
	}
	for name, api := range map[string]*localapi.Client{"A": tillA, "B": tillB} {
		rep, err := api.LedgerVerify(ctx)
		if err != nil || len(rep.Problems) > 0 {
			t.Errorf("till %s: ledger verify: %+v %v", name, rep, err)
		}
	}
}
