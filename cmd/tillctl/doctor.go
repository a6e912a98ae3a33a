package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"

	"github.com/tilld/tilld/daemon"
	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/doctor"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/sync/forward"
	"github.com/tilld/tilld/sync/hqclient"
)

// doctorCmd is `tillctl doctor`: package doctor's checks, built from tilld.toml,
// the enrollment identity and the running tilld. It exits non-zero when a check
// fails.
func doctorCmd(c *conn, stdout io.Writer) *cobra.Command {
	var configFile string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "check readers, ledger, HQ link, certificate, clock, disk and rules, and say how to fix what is wrong",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			c.config = configFile
			rep := doctor.Run(ctx, doctorChecks(configFile, c))
			if err := rep.Print(stdout); err != nil {
				return err
			}
			return rep.Err()
		},
	}
	cmd.Flags().StringVar(&configFile, "config", doctor.ConfigFile, "tilld's configuration file")
	cmd.Flags().DurationVar(&timeout, "timeout", 20*time.Second, "report checks still running after this long as failed")
	return cmd
}

func doctorChecks(configFile string, c *conn) []doctor.Check {
	addr := c.addr
	cfg := daemon.Config{DataDir: daemon.DefaultDataDir}
	raw, err := os.ReadFile(configFile)
	if err == nil {
		var c daemon.Config
		if c, err = daemon.ParseConfig(raw); err == nil {
			cfg = c
		}
	}
	id, idErr := daemon.LoadIdentity(cfg.DataDir)
	if idErr == nil {
		cfg.Terminal = cmpOr(cfg.Terminal, id.Terminal)
		cfg.HQ = cmpOr(cfg.HQ, id.HQ)
		cfg.HQKey = cmpOr(cfg.HQKey, id.RulesKey)
	}
	if err == nil {
		err = cfg.Complete()
	}
	user, uerr := doctor.LookupUser(doctor.ServiceUser)
	if uerr != nil {
		user = doctor.Identity{} // not installed: judge for whoever runs doctor
	}
	client := c.client()
	var hq *hqclient.Client // nil: a stand-alone till
	if cfg.HQ != "" {
		var opts hqclient.Options
		if idErr == nil {
			opts.TLS = id.TLS
		}
		opts.Timeout = doctor.DefaultHQTimeout
		hq = hqclient.New(cfg.HQ, opts)
	}

	checks := []doctor.Check{
		{Name: "config", Run: func(context.Context) doctor.Result {
			if err != nil {
				return doctor.Result{Status: doctor.Fail, Detail: fmt.Sprintf("%s: %v", configFile, err),
					Fix: fmt.Sprintf("fix it: `tilld config check %s` names each problem; then `systemctl restart tilld`.", configFile)}
			}
			return doctor.Result{Status: doctor.OK, Detail: fmt.Sprintf("%s: terminal %s, %d readers", configFile, cfg.Terminal, len(cfg.Readers))}
		}},
		{Name: "tilld", Run: func(ctx context.Context) doctor.Result {
			st, err := client.Status(ctx)
			if err != nil {
				return doctor.Result{Status: doctor.Fail, Detail: fmt.Sprintf("not answering at %s: %v", addr, err),
					Fix: "start it: `systemctl start tilld`; `journalctl -u tilld` says why it stopped."}
			}
			if strings.HasPrefix(st.HQProblem, forward.RevokedProblem) {
				// The forwarder stopped calling HQ: only a new enrollment helps.
				return doctor.Result{Status: doctor.Fail, Detail: fmt.Sprintf("terminal %s, %d events not at HQ: %s", st.Terminal, st.Outbox, st.HQProblem),
					Fix: "at HQ, `tillhq terminal add` a new terminal id for this till; here, `tilld enroll` with its token and restart tilld. The sales recorded here stay in this till's ledger."}
			}
			return doctor.Result{Status: doctor.OK, Detail: fmt.Sprintf("running as terminal %s, %d events not yet at HQ", st.Terminal, st.Outbox)}
		}},
		{Name: "api token", Run: func(ctx context.Context) doctor.Result {
			// The POS app and tillctl need it for sales, customers and the
			// ledger. A quote of an empty basket needs it and changes nothing:
			// with the token it is refused as empty (400), without as 401.
			_, err := client.Quote(ctx, pos.Basket{})
			var apiErr *localapi.APIError
			switch {
			case errors.As(err, &apiErr) && apiErr.Status == http.StatusUnauthorized:
				return doctor.Result{Status: doctor.Fail, Detail: fmt.Sprintf("tilld refuses tillctl's token (%s)", c.tokenPath()), Fix: c.tokenHint()}
			case err != nil && !errors.As(err, &apiErr):
				return doctor.Result{Status: doctor.Warn, Detail: fmt.Sprintf("not checked: tilld not answering at %s", addr)}
			}
			return doctor.Result{Status: doctor.OK, Detail: fmt.Sprintf("%s works with the running tilld", c.tokenPath())}
		}},
	}
	checks = append(checks, readerChecks(raw, cfg, user)...)
	checks = append(checks,
		doctor.Ledger(func(ctx context.Context) (doctor.LedgerInfo, error) { return verifyLedger(ctx, client, cfg.DataDir) }),
		doctor.Rules(func(ctx context.Context) (doctor.RulesInfo, error) {
			st, err := client.Status(ctx)
			return doctor.RulesInfo{Version: st.RulesetVersion, Current: st.LastSync, Problem: st.RulesError}, err
		}, doctor.RulesOptions{HQ: hq}),
		doctor.Disk(cfg.DataDir, doctor.DiskOptions{}),
	)
	checks = append(checks, doctor.HQ(hq, doctor.HQOptions{})...)
	if hq != nil {
		checks = append(checks, doctor.Certificate(filepath.Join(cfg.DataDir, "identity", "terminal.crt"), doctor.CertOptions{}))
	}
	return checks
}

// readerChecks has one check per serial or HID reader and one for pcscd when
// a pcsc reader is configured. The reader tables are decoded again for the
// settings the checks need (daemon.Config keeps readers opaque).
func readerChecks(raw []byte, cfg daemon.Config, user doctor.Identity) []doctor.Check {
	var file struct {
		Reader []struct {
			Name, Type, Port, Reader, Device string
		} `toml:"reader"`
	}
	if _, err := toml.Decode(string(raw), &file); err != nil {
		return nil // the config check reports it
	}
	var checks []doctor.Check
	var pcscWant []string
	for i, r := range file.Reader {
		name := cmpOr(r.Name, fmt.Sprintf("%s%d", r.Type, i))
		switch r.Type {
		case "serial":
			checks = append(checks, doctor.Serial(name, r.Port, doctor.SerialOptions{User: user}))
		case "pcsc":
			pcscWant = append(pcscWant, r.Reader)
		case "hidpos":
			checks = append(checks, doctor.HID(name, r.Device, hidScanners, doctor.HIDOptions{User: user}))
		}
	}
	if pcscWant != nil {
		checks = append(checks, doctor.PCSC(pcscReaders, doctor.PCSCOptions{Want: pcscWant}))
	}
	return checks
}

func discovered(ctx context.Context, typ string) ([]device.Discovered, error) {
	all, err := device.Discover(ctx)
	var out []device.Discovered
	for _, d := range all {
		if d.Type == typ {
			out = append(out, d)
		}
	}
	if len(out) == 0 && err != nil {
		return nil, err
	}
	return out, nil
}

func pcscReaders(ctx context.Context) ([]string, error) {
	ds, err := discovered(ctx, "pcsc")
	names := make([]string, 0, len(ds))
	for _, d := range ds {
		names = append(names, d.ID)
	}
	return names, err
}

func hidScanners(ctx context.Context) ([]doctor.HIDDevice, error) {
	ds, err := discovered(ctx, "hidpos")
	var out []doctor.HIDDevice
	for _, d := range ds {
		var vid, pid uint16
		if _, err := fmt.Sscanf(d.ID, "%04x:%04x", &vid, &pid); err == nil {
			out = append(out, doctor.HIDDevice{VendorID: vid, ProductID: pid, Product: d.Description})
		}
	}
	return out, err
}

// verifyLedger asks the running tilld to verify its ledger; when tilld is not
// running it opens the file itself, read-only (tilld holds it while it runs).
func verifyLedger(ctx context.Context, client *localapi.Client, dataDir string) (doctor.LedgerInfo, error) {
	rep, err := client.LedgerVerify(ctx)
	if err != nil {
		path := filepath.Join(dataDir, "ledger.db")
		if _, err := os.Stat(path); err != nil {
			return doctor.LedgerInfo{}, err // fs.ErrNotExist: no ledger yet
		}
		l, err := ledger.Open(path, ledger.Options{ReadOnly: true})
		if err != nil {
			return doctor.LedgerInfo{}, err
		}
		defer l.Close()
		r, err := l.Verify()
		if err != nil {
			return doctor.LedgerInfo{}, err
		}
		rep = localapi.ReportOf(r)
	}
	info := doctor.LedgerInfo{Events: rep.Events}
	for _, p := range rep.Problems {
		info.Problems = append(info.Problems, strings.TrimSpace(fmt.Sprintf("seq %d %s %s", p.Seq, p.Card, p.Problem)))
	}
	return info, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
