package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestForgetCustomerEverywhere runs the real binaries: a cashier signs a card
// holder up on the till with tillctl, HQ staff import a customer base (a bad
// row is reported with its line), look the card up, and forget its holder; the
// holder's name, birthday and contacts then appear nowhere in the bytes of
// HQ's store file or of the till's ledger file, and `tillctl ledger verify`
// still passes.
func TestForgetCustomerEverywhere(t *testing.T) {
	work := t.TempDir()
	tilldData := filepath.Join(work, "tilld")
	adminURL := startHQ(t, work, tilldData)
	hqData := filepath.Join(work, "hq")
	apiAddr := freeAddr(t)
	conf := filepath.Join(work, "tilld.toml")
	writeFile(t, conf, fmt.Sprintf("data_dir = %q\nlisten = %q\n", tilldData, apiAddr))
	start(t, "tilld", "run", "--config", conf)
	api := apiClient(apiAddr, tilldData)
	ctx := context.Background()
	waitFor(t, 15*time.Second, "tilld online with rules", func() bool {
		st, err := api.Status(ctx)
		return err == nil && st.RulesetVersion > 0 && st.Online
	})

	const card = "2000000000015"
	personal := []string{"Василий", "Петрович", "Тёркин", "1978-03-05", "+7 900 123-45-67", "vasily@example.ru"}
	out := ctl(t, apiAddr, "customer", "add", "--card", card, "--name", "Василий", "--patronymic", "Петрович", "--surname", "Тёркин",
		"--birthday", "1978-03-05", "--phone", "+7 900 123-45-67", "--email", "vasily@example.ru", "--consent")
	if !strings.Contains(out, "registered at S1-T1") {
		t.Fatalf("customer add said:\n%s", out)
	}
	if out := ctl(t, apiAddr, "sale", "--card", card, "--id", "s1", "milk:dairy:2:99.90"); !strings.Contains(out, "Здравствуйте, Василий Петрович!") {
		t.Errorf("the sale does not greet the holder:\n%s", out)
	}

	// HQ staff import a base: one good row, one refused with its line.
	csv := filepath.Join(work, "customers.csv")
	writeFile(t, csv, "card;name;phone;birthday\n2000000000022;Мария;+7 911 111-11-11;--07-14\n2000000000039;Анна;;1990-01-01\n")
	imp, err := exec.Command(bin("tillhq"), "customers", "import", "--admin", adminURL, csv).CombinedOutput()
	if err == nil || !strings.Contains(string(imp), "2 rows, 1 stored, 1 rejected") || !strings.Contains(string(imp), "line 3 (card 2000000000039): phone:") {
		t.Errorf("import: %v\n%s", err, imp)
	}

	// The holder registered at the till reaches HQ.
	waitFor(t, 15*time.Second, "the holder at HQ", func() bool {
		out, err := exec.Command(bin("tillhq"), "customers", "show", "--admin", adminURL, card).CombinedOutput()
		return err == nil && strings.Contains(string(out), "Василий Петрович Тёркин")
	})
	hqFile := filepath.Join(hqData, "hq.db")
	ledgerFile := filepath.Join(tilldData, "ledger.db")
	for _, f := range []string{hqFile, ledgerFile} {
		if raw, _ := os.ReadFile(f); !bytes.Contains(raw, []byte("Тёркин")) {
			t.Fatalf("%s does not hold the holder before the forget: the test proves nothing", f)
		}
	}

	if out := run(t, bin("tillhq"), "customers", "forget", "--admin", adminURL, card); !strings.Contains(out, "holder forgotten at HQ") {
		t.Errorf("forget said:\n%s", out)
	}
	holds := func(f string) string {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range personal {
			if bytes.Contains(raw, []byte(p)) {
				return p
			}
		}
		return ""
	}
	if p := holds(hqFile); p != "" {
		t.Errorf("HQ's store still holds %q", p)
	}
	waitFor(t, 30*time.Second, "the holder gone from the till's ledger file", func() bool { return holds(ledgerFile) == "" })
	// Sales wait in the ledger's journal until a checkpoint: it never held the holder.
	if p := holds(ledgerFile + "-journal"); p != "" {
		t.Errorf("the till's ledger journal holds %q", p)
	}
	if out := ctl(t, apiAddr, "account", card); strings.Contains(out, "Василий") || !strings.Contains(out, "sales           1") {
		t.Errorf("the till's account after the forget:\n%s", out)
	}
	if out := ctl(t, apiAddr, "ledger", "verify"); !strings.Contains(out, "OK") {
		t.Errorf("ledger verify after the forget:\n%s", out)
	}
	// The other customer is untouched.
	if raw, _ := os.ReadFile(hqFile); !bytes.Contains(raw, []byte("Мария")) {
		t.Error("the imported customer was erased too")
	}
}
