package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"
	"time"
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
		{"no ruleset", RulesInfo{}, nil, RulesOptions{}, Fail, "no ruleset: no discounts or points until the first sync with HQ", "hq setting"},
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
