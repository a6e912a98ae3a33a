package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/sync/hqclient"
	"github.com/tilld/tilld/sync/wire"
)

func TestLedger(t *testing.T) {
	problems := []string{"seq 7: hash mismatch", "seq 8: link broken", "card ****0022: points 10, events say 12", "sales index: id x points at seq 99"}
	tests := []struct {
		name                string
		info                LedgerInfo
		err                 error
		status              Status
		wantDetail, wantFix string
	}{
		{"intact", LedgerInfo{Events: 1200}, nil, OK, "intact: 1200 events, hash chain verified", ""},
		{"one problem", LedgerInfo{Events: 9, Problems: problems[:1]}, nil, Fail, "1 problem in 9 events: seq 7: hash mismatch", "do not delete or edit the file"},
		{"many problems are cut", LedgerInfo{Events: 100, Problems: problems}, nil, Fail,
			"4 problems in 100 events: seq 7: hash mismatch; seq 8: link broken; card ****0022: points 10, events say 12; and 1 more", "send it to support"},
		{"no ledger yet", LedgerInfo{}, fmt.Errorf("open /var/lib/tilld/ledger.db: %w", fs.ErrNotExist), Warn, "no ledger yet: open /var/lib/tilld/ledger.db", "systemctl start tilld"},
		{"cannot verify", LedgerInfo{}, errors.New("ledger file is locked by another process"), Fail, "cannot verify the ledger: ledger file is locked", "systemctl status tilld"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Ledger(func(context.Context) (LedgerInfo, error) { return tt.info, tt.err })
			checkResult(t, c.Run(context.Background()), tt.status, tt.wantDetail, tt.wantFix)
		})
	}
	if len(problems) != 4 {
		t.Errorf("the check changed its input: %q", problems)
	}
}

func TestRules(t *testing.T) {
	now := time.Date(2025, 11, 20, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name                string
		info                RulesInfo
		err                 error
		opts                RulesOptions
		status              Status
		wantDetail, wantFix string
	}{
		{"fresh", RulesInfo{Version: 7, Current: now.Add(-90 * time.Second)}, nil, RulesOptions{}, OK, "version 7, confirmed current 1m30s ago", ""},
		{"a day and more", RulesInfo{Version: 7, Current: now.Add(-30 * time.Hour)}, nil, RulesOptions{}, Warn, "confirmed current 30h0m0s ago", "tillctl status"},
		{"over a week", RulesInfo{Version: 7, Current: now.Add(-8 * 24 * time.Hour)}, nil, RulesOptions{}, Fail, "version 7, confirmed current 192h0m0s ago", "hq setting in " + ConfigFile},
		{"custom ages", RulesInfo{Version: 7, Current: now.Add(-2 * time.Hour)}, nil, RulesOptions{WarnAge: time.Minute, FailAge: time.Hour}, Fail, "2h0m0s ago", "tillctl status"},
		{"never confirmed", RulesInfo{Version: 7}, nil, RulesOptions{}, Warn, "version 7, never confirmed by HQ", "tillctl status"},
		{"no ruleset, stand-alone", RulesInfo{}, nil, RulesOptions{}, Fail, "no ruleset: the till sells nothing (a stand-alone till", "hq setting"},
		{"cached ruleset refused", RulesInfo{Version: 6, Current: now, Problem: "cached ruleset version 7: ruleset fails its check"}, nil, RulesOptions{}, Fail,
			"cached ruleset version 7: ruleset fails its check", "changed outside tilld"},
		{"tilld down", RulesInfo{}, errors.New("dial tcp 127.0.0.1:7450: connect: connection refused"), RulesOptions{}, Fail,
			"cannot read the rules' state: dial tcp", "systemctl status tilld"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Now = func() time.Time { return now }
			c := Rules(func(context.Context) (RulesInfo, error) { return tt.info, tt.err }, tt.opts)
			checkResult(t, c.Run(context.Background()), tt.status, tt.wantDetail, tt.wantFix)
		})
	}
}

// A till without rules is told why: HQ has none to give, HQ cannot be
// reached, HQ's certificate does not cover the address the till uses, or HQ
// has one the till did not take. Each has its own fix. HQ here is a TLS
// server whose certificate covers 127.0.0.1 and example.com, not localhost.
func TestRulesTellsWhyThereAreNone(t *testing.T) {
	var published int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != wire.PathRules || r.URL.Query().Get("wait") != "0" {
			t.Errorf("doctor asked %s, want %s without waiting", r.URL, wire.PathRules)
		}
		if published == 0 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set(wire.HeaderRulesVersion, fmt.Sprint(published))
		w.Write([]byte("version = 3"))
	}))
	defer srv.Close()
	down := httptest.NewTLSServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	client := func(base string) *hqclient.Client {
		tr := srv.Client().Transport.(*http.Transport).Clone()
		t.Cleanup(tr.CloseIdleConnections)
		return hqclient.New(base, hqclient.Options{Transport: tr, Timeout: 5 * time.Second})
	}
	byName := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	for _, tt := range []struct {
		name        string
		hq          *hqclient.Client
		published   int64
		detail, fix string
	}{
		{"none published yet", client(srv.URL), 0, "HQ is reachable but has published no rules yet", "tillhq rules publish FILE"},
		{"HQ unreachable", client(downURL), 0, "until HQ answers; HQ unreachable: no answer from " + downURL, "check the network"},
		{"certificate does not match", client(byName), 0, "certificate does not match: HQ's certificate covers example.com, *.example.com, 127.0.0.1, ::1, not localhost", "re-issue"},
		{"published but not taken", client(srv.URL), 3, "HQ publishes version 3 but the till has not taken it", "journalctl -u tilld"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			published = tt.published
			c := Rules(func(context.Context) (RulesInfo, error) { return RulesInfo{}, nil }, RulesOptions{HQ: tt.hq})
			checkResult(t, c.Run(context.Background()), Fail, tt.detail, tt.fix)
		})
	}
}
