package doctor

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Defaults of [CertOptions].
const (
	DefaultCertWarn     = 14 * 24 * time.Hour
	DefaultRenewCommand = "sudo -u tilld tilld enroll --hq HQ_URL --token TOKEN"
)

// CertOptions configure [Certificate]. The zero value means the defaults.
type CertOptions struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
	// WarnWithin warns when the certificate expires sooner than this; default
	// DefaultCertWarn.
	WarnWithin time.Duration
	// RenewCommand is the command that enrolls the terminal again with a new
	// one-time token, which the fix tells store IT to run; default
	// DefaultRenewCommand.
	RenewCommand string
}

// Certificate checks the terminal's certificate (the first CERTIFICATE block
// of the PEM file at path): it fails when the file is missing, unreadable,
// expired or not yet valid, and warns when it expires within opts.WarnWithin.
// The detail gives the days left.
func Certificate(path string, opts CertOptions) Check {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.WarnWithin == 0 {
		opts.WarnWithin = DefaultCertWarn
	}
	if opts.RenewCommand == "" {
		opts.RenewCommand = DefaultRenewCommand
	}
	renew := fmt.Sprintf("renew it: get a new token from HQ's staff (`tillhq terminal add`), move %s aside and run `%s`. "+
		"Until then HQ refuses the till's uploads; the till keeps selling and queues them.", filepath.Dir(path), opts.RenewCommand)
	return Check{Name: "certificate", Run: func(context.Context) Result {
		raw, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return Result{Status: Fail,
				Detail: fmt.Sprintf("no certificate at %s: the terminal is not enrolled", path),
				Fix:    fmt.Sprintf("enroll it with a one-time token from HQ's staff (`tillhq terminal add`): `%s`.", opts.RenewCommand)}
		}
		if err != nil {
			return Result{Status: Fail, Detail: fmt.Sprintf("certificate %s: %v", path, unwrapPath(err)), Fix: "run tillctl doctor as root, or check the file's permissions"}
		}
		cert, err := parseCert(raw)
		if err != nil {
			return Result{Status: Fail, Detail: fmt.Sprintf("certificate %s: %v", path, err), Fix: "the file is damaged: " + renew}
		}
		now := opts.Now()
		left := cert.NotAfter.Sub(now)
		subject := cert.Subject.CommonName
		if subject == "" {
			subject = cert.Subject.String()
		}
		switch {
		case now.Before(cert.NotBefore):
			return Result{Status: Fail,
				Detail: fmt.Sprintf("certificate %s (%s) is not valid before %s: is the clock right?", path, subject, day(cert.NotBefore)),
				Fix:    "set the clock: `timedatectl` shows it; `timedatectl set-ntp true` keeps it right."}
		case left <= 0:
			return Result{Status: Fail,
				Detail: fmt.Sprintf("certificate %s (%s) expired %s ago, on %s", path, subject, days(-left), day(cert.NotAfter)),
				Fix:    renew}
		case left < opts.WarnWithin:
			return Result{Status: Warn,
				Detail: fmt.Sprintf("certificate %s (%s) expires in %s, on %s", path, subject, days(left), day(cert.NotAfter)),
				Fix:    renew}
		}
		return Result{Status: OK, Detail: fmt.Sprintf("%s: %s left (until %s)", subject, days(left), day(cert.NotAfter))}
	}}
}

func parseCert(raw []byte) (*x509.Certificate, error) {
	for rest := raw; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errors.New("no PEM CERTIFICATE block in it")
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		return c, nil
	}
}

// days is a duration in whole days, rounded down.
func days(d time.Duration) string {
	n := int64(d / (24 * time.Hour))
	switch n {
	case 0:
		return "less than a day"
	case 1:
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }
