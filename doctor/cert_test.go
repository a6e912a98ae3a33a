package doctor

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCertificate(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2025, 11, 20, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	valid := writeCert(t, dir, "S1-T1", now.AddDate(0, 0, -30), now.AddDate(0, 0, 335).Add(time.Hour))
	soon := writeCert(t, dir, "S1-T2", now.AddDate(0, 0, -30), now.AddDate(0, 0, 5).Add(time.Hour))
	expired := writeCert(t, dir, "S1-T3", now.AddDate(-1, 0, 0), now.AddDate(0, 0, -3))
	justExpired := writeCert(t, dir, "S1-T4", now.AddDate(-1, 0, 0), now.Add(-time.Hour))
	future := writeCert(t, dir, "S1-T5", now.AddDate(0, 1, 0), now.AddDate(1, 0, 0))
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	damaged := filepath.Join(dir, "damaged.pem")
	if err := os.WriteFile(damaged, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "terminal.pem")

	tests := []struct {
		name                string
		path                string
		opts                CertOptions
		want                Status
		wantDetail, wantFix string
	}{
		{"valid", valid, CertOptions{}, OK, "S1-T1: 335 days left (until 2026-10-21)", ""},
		{"expires soon", soon, CertOptions{}, Warn, "(S1-T2) expires in 5 days, on 2025-11-25", "renew it: get a new token"},
		{"custom warning window", valid, CertOptions{WarnWithin: 400 * 24 * time.Hour}, Warn, "expires in 335 days", "renew it"},
		{"custom renew command", expired, CertOptions{RenewCommand: "tilld enroll --token T"}, Fail, "expired 3 days ago", "`tilld enroll --token T`"},
		{"expired", expired, CertOptions{}, Fail, "certificate " + expired + " (S1-T3) expired 3 days ago, on 2025-11-17", "renew it: get a new token"},
		{"expired within the day", justExpired, CertOptions{}, Fail, "expired less than a day ago", "renew it"},
		{"not yet valid", future, CertOptions{}, Fail, "is not valid before 2025-12-20: is the clock right?", "timedatectl"},
		{"missing", missing, CertOptions{}, Fail, "no certificate at " + missing + ": the terminal is not enrolled", "enroll it with a one-time token"},
		{"not PEM", garbage, CertOptions{}, Fail, "no PEM CERTIFICATE block in it", "the file is damaged"},
		{"damaged DER", damaged, CertOptions{}, Fail, "parse certificate:", "the file is damaged"},
		{"unreadable", dir, CertOptions{}, Fail, "certificate " + dir + ":", "permissions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.opts.Now == nil {
				tt.opts.Now = clock
			}
			checkResult(t, Certificate(tt.path, tt.opts).Run(context.Background()), tt.want, tt.wantDetail, tt.wantFix)
		})
	}
}
