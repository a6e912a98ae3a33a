package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/discount/rulesfile"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/boltstore"
	"github.com/tilld/tilld/hq/pgstore"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/serve"
	"github.com/tilld/tilld/sync/hqclient"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/version"
)

const defaultAdmin = "http://127.0.0.1:7461"

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := &cobra.Command{
		Use:           "tillhq",
		Short:         "tilld headquarters: sync endpoint, rules publishing, reports",
		Version:       version.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(initCmd(stdout), certCmd(stdout), serveCmd(stderr), rulesCmd(stdout), reportCmd(stdout), terminalCmd(stdout), customersCmd(stdout), userCmd(stdout, os.Stdin), feedCmd(stdout))
	return root.ExecuteContext(ctx)
}

func initCmd(stdout io.Writer) *cobra.Command {
	var dataDir, currency string
	var hosts []string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "create HQ's data directory, store, rules-signing key, CA and starter ruleset",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cur, err := money.ParseCurrency(currency)
			if err != nil {
				return fmt.Errorf("--currency: %w", err)
			}
			if err := os.MkdirAll(dataDir, 0o750); err != nil {
				return err
			}
			pub, err := createSigningKey(dataDir)
			if err != nil {
				return err
			}
			if _, err := createPKI(dataDir, hosts); err != nil {
				return err
			}
			store, err := boltstore.Open(filepath.Join(dataDir, "hq.db"), boltstore.Options{})
			if err != nil {
				return err
			}
			if err := store.Close(); err != nil {
				return err
			}
			starter := filepath.Join(dataDir, starterRulesFile)
			if err := os.WriteFile(starter, discount.Starter(cur), 0o640); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "HQ initialised in %s (TLS names: %s)\nrules key (terminals get it at enrollment; hq_key for unenrolled ones):\n%s\n"+
				"starter ruleset: %s (version 1, %s, list prices; tillhq serve publishes it while HQ has no ruleset)\n",
				dataDir, strings.Join(hosts, ", "), wire.FormatPublicKey(pub), starter, cur.Code)
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data", "/var/lib/tillhq", "directory of HQ's store and keys")
	cmd.Flags().StringVar(&currency, "currency", "RUB", "currency of the starter ruleset (ISO 4217)")
	cmd.Flags().StringSliceVar(&hosts, "host", []string{"localhost", "127.0.0.1"}, "host names and addresses terminals reach HQ by (repeatable)")
	return cmd
}

// certCmd is `tillhq cert`: HQ's TLS certificate issued again from its CA
// for other names, when terminals reach HQ by a name the old one lacks.
func certCmd(stdout io.Writer) *cobra.Command {
	var dataDir string
	var hosts []string
	cmd := &cobra.Command{
		Use:   "cert",
		Short: "issue HQ's TLS certificate again, from its CA, for the names terminals reach it by",
		Long: `Issue HQ's TLS certificate again from HQ's CA, for exactly the names given with --host
(list the old ones too to keep them). Enrolled terminals and outstanding tokens trust
the CA, not the certificate, so they keep working. Restart tillhq to serve it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(hosts) == 0 {
				return errors.New("name at least one --host: the names and addresses terminals reach HQ by")
			}
			old, err := reissueServerCert(dataDir, hosts)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "HQ's TLS certificate in %s now covers %s (it covered %s); restart tillhq to serve it\n",
				dataDir, strings.Join(hosts, ", "), cmp.Or(strings.Join(old, ", "), "nothing readable"))
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data", "/var/lib/tillhq", "HQ's data directory (tillhq init)")
	cmd.Flags().StringSliceVar(&hosts, "host", nil, "a host name or address terminals reach HQ by (repeatable; required)")
	return cmd
}

func serveCmd(stderr io.Writer) *cobra.Command {
	var dataDir, listen, admin, rulesFile, postgres string
	var adminTLS bool
	var maxWait time.Duration
	var clock func() func() time.Time // set with the flags below
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "run the HQ server",
		RunE: func(cmd *cobra.Command, _ []string) error {
			loopback, err := checkAdminAddr(admin, adminTLS)
			if err != nil {
				return err
			}
			if maxWait < time.Second || maxWait > 5*time.Minute {
				return fmt.Errorf("--max-wait %s: want 1s to 5m", maxWait)
			}
			log := serve.NewLogger(stderr, slog.LevelInfo, os.Getenv("JOURNAL_STREAM"))
			if os.Getenv("GOGC") == "" {
				// HQ's memory is mostly its terminals' idle connections, a large
				// live heap that changes little: collecting at 25 % growth
				// instead of Go's 100 % keeps the resident set near it for a
				// few percent of a core (docs/benchmarks.md, issue 21).
				debug.SetGCPercent(hqGCPercent)
			}
			key, err := loadSigningKey(dataDir)
			if err != nil {
				return err
			}
			ca, tlsConf, err := loadPKI(dataDir)
			if err != nil {
				return err
			}
			var store hq.Store
			if postgres != "" {
				store, err = pgstore.Open(cmd.Context(), postgres, pgstore.Options{Logger: log})
			} else {
				store, err = boltstore.Open(filepath.Join(dataDir, "hq.db"), boltstore.Options{})
			}
			if err != nil {
				return err
			}
			defer func() { log.Info("tillhq stopped") }()
			defer store.Close()
			srv := hq.NewServer(hq.Options{Store: store, SigningKey: key, CA: ca, RequireClientCert: true, RequireOperator: !loopback, Logger: log, Now: clock(),
				MaxWait: maxWait})
			if err := publishAtStart(cmd.Context(), srv, store, rulesFile, dataDir, log); err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			adminLn, err := net.Listen("tcp", admin)
			if err != nil {
				ln.Close()
				return err
			}
			adminScheme := "http://"
			if adminTLS {
				adminLn, adminScheme = tls.NewListener(adminLn, adminTLSConfig(tlsConf)), "https://"
			}
			log.Info("tillhq listening", "terminals", "https://"+ln.Addr().String(), "admin", adminScheme+adminLn.Addr().String(), "data", dataDir, "version", version.Version)
			stopped := make(chan struct{})
			defer close(stopped)
			go func() {
				select {
				case <-cmd.Context().Done():
					log.Info("tillhq stopping", "why", context.Cause(cmd.Context()))
				case <-stopped:
				}
			}()
			errc := make(chan error, 1)
			go func() { errc <- serve.HTTP(cmd.Context(), adminLn, srv.AdminHandler(), 0) }()
			go serve.Notify(cmd.Context(), func() error { _, err := store.Acked(cmd.Context(), ""); return err })
			// The audit of synced sales runs beside, stopped before the store closes.
			auditCtx, stopAudit := context.WithCancel(cmd.Context())
			auditDone := make(chan error, 1)
			go func() { auditDone <- srv.RunAuditor(auditCtx, hq.AuditorOptions{}) }()
			defer func() { stopAudit(); <-auditDone }()
			// So does the loyalty reports' book, read from the store as uploads add to it.
			loyaltyDone := make(chan error, 1)
			go func() { loyaltyDone <- srv.RunLoyalty(auditCtx) }()
			defer func() { stopAudit(); <-loyaltyDone }()
			// And the wake-ups of the other replicas on the same database.
			notifyDone := make(chan error, 1)
			go func() { notifyDone <- srv.RunNotifications(auditCtx) }()
			defer func() { stopAudit(); <-notifyDone }()
			err = srv.ServeTerminals(cmd.Context(), tls.NewListener(ln, tlsConf))
			// The terminals' last contacts this replica kept in memory (hq/fleet.go).
			if ferr := srv.FlushContacts(context.WithoutCancel(cmd.Context())); ferr != nil {
				log.Warn("cannot record the terminals' last contacts", "err", ferr)
			}
			if aerr := <-errc; err == nil {
				err = aerr
			}
			return err
		},
	}
	cmd.Flags().StringVar(&dataDir, "data", "/var/lib/tillhq", "directory of HQ's store")
	clock = serve.ClockOffsetFlag(cmd.Flags())
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:7460", "address terminals reach over mutual TLS")
	cmd.Flags().DurationVar(&maxWait, "max-wait", 30*time.Second, "the longest HQ holds a till's long poll; set it below the idle timeout of any proxy or balancer in front of HQ (a till is shown offline after 1 min + twice this without contact)")
	cmd.Flags().StringVar(&admin, "admin", "127.0.0.1:7461", "address of the admin API (rules, terminals, reports, operators): loopback, or any address with --admin-tls (docs/hq.md)")
	cmd.Flags().BoolVar(&adminTLS, "admin-tls", false, "serve the admin API over TLS with HQ's certificate; needed to listen beyond loopback, where every request needs an operator's token or session")
	cmd.Flags().StringVar(&postgres, "postgres", "", "PostgreSQL URL (postgres://...): keep HQ's store there instead of DATA/hq.db, so several tillhq replicas can serve one chain (each needs DATA's keys)")
	cmd.Flags().StringVar(&rulesFile, "rules", "", "publish this ruleset file at start unless the store has that version or newer (default: DATA/"+starterRulesFile+" when HQ has published no ruleset yet)")
	return cmd
}

// hqGCPercent is tillhq serve's GOGC unless the environment sets one.
const hqGCPercent = 25

// starterRulesFile is the starter ruleset `tillhq init` writes into HQ's data
// directory (discount.Starter).
const starterRulesFile = "starter-rules.toml"

// publishAtStart publishes rulesFile unless the store has its version or a
// newer one; without rulesFile, it publishes the starter ruleset of dataDir
// when the store has no ruleset at all, so that enrolled tills can sell at
// once.
func publishAtStart(ctx context.Context, srv *hq.Server, store hq.Store, rulesFile, dataDir string, log *slog.Logger) error {
	if rulesFile == "" {
		_, err := store.CurrentRuleset(ctx)
		if !errors.Is(err, hq.ErrNoRuleset) {
			return err
		}
		rulesFile = filepath.Join(dataDir, starterRulesFile)
		if _, err := os.Stat(rulesFile); errors.Is(err, fs.ErrNotExist) {
			log.Warn("no ruleset published and no starter ruleset: tills cannot price until one is published (tillhq rules publish FILE)", "starter", rulesFile)
			return nil
		}
		log.Info("no ruleset published yet: publishing the starter ruleset", "file", rulesFile)
	}
	raw, err := os.ReadFile(rulesFile)
	if err != nil {
		return err
	}
	if _, err := srv.PublishRuleset(ctx, raw); err != nil && !errors.Is(err, hq.ErrOldRuleset) {
		return fmt.Errorf("%s: %w", rulesFile, err)
	}
	return nil
}

func rulesCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "rules", Short: "check and publish rulesets"}
	check := &cobra.Command{
		Use:   "check FILE",
		Short: "validate a ruleset file; errors name the rule and field",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			raw, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			rs, warnings, err := rulesfile.Check(raw)
			for _, w := range warnings {
				fmt.Fprintf(stdout, "%s: warning: %s\n", args[0], w)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			fmt.Fprintf(stdout, "%s: ok: version %d, %s, %d rules\n", args[0], rs.Version, rs.Currency.Code, len(rs.Rules))
			return nil
		},
	}
	var hqURL, effective string
	publish := &cobra.Command{
		Use:   "publish FILE",
		Short: "publish a ruleset to a running HQ",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := readRuleset(args[0])
			if err != nil {
				return err
			}
			var ans struct {
				Version int64  `json:"version"`
				Hash    string `json:"hash"`
				wire.Error
			}
			path := wire.PathAdminRules
			if effective != "" {
				path += "?" + url.Values{"effective": {effective}}.Encode()
			}
			r := hqclient.Request{Method: http.MethodPost, Path: path, Body: bytes.NewReader(raw), ContentType: "application/toml"}
			if err := doJSON(cmd.Context(), hqURL, r, &ans); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "published version %d (sha256 %s)", ans.Version, ans.Hash)
			if effective != "" {
				fmt.Fprintf(stdout, ", in effect from %s; the tills keep the rules before until then", effective)
			}
			fmt.Fprintln(stdout)
			return nil
		},
	}
	publish.Flags().StringVar(&hqURL, "admin", defaultAdmin, "HQ's admin API")
	publish.Flags().StringVar(&effective, "effective", "", "take effect from then: 2026-03-01T09:00:00 (each till's wall clock) or 2026-03-01T09:00:00+03:00; HQ writes it into the file's effective line")
	cmd.AddCommand(check, publish, simulateCmd(stdout), rollbackCmd(stdout), rulesListCmd(stdout))
	return cmd
}

func reportCmd(stdout io.Writer) *cobra.Command {
	var hqURL string
	var asJSON bool
	cmd := &cobra.Command{Use: "report", Short: "read HQ's reports"}
	sales := &cobra.Command{
		Use:   "sales",
		Short: "sales, returns and net per terminal",
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rep wire.SalesReport
			if err := doJSON(cmd.Context(), hqURL, hqclient.Request{Path: wire.PathReportSales}, &rep); err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(stdout).Encode(rep)
			}
			return printSales(stdout, rep)
		},
	}
	cmd.PersistentFlags().StringVar(&hqURL, "admin", defaultAdmin, "HQ's admin API")
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(sales, overdraftsCmd(stdout, &hqURL, &asJSON), auditCmd(stdout, &hqURL, &asJSON),
		cadenceCmd(stdout, &hqURL, &asJSON), overdueCmd(stdout, &hqURL, &asJSON), segmentsCmd(stdout, &hqURL, &asJSON), clvCmd(stdout, &hqURL, &asJSON), kpiCmd(stdout, &hqURL, &asJSON), npsCmd(stdout, &hqURL, &asJSON),
		adminLogCmd(stdout, &hqURL, &asJSON), returnExcessCmd(stdout, &hqURL, &asJSON))
	return cmd
}

// printSales writes the sales report: a row per terminal, its total in major
// units with its currency, then the chains of terminals that wrote several.
func printSales(w io.Writer, rep wire.SalesReport) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "TERMINAL\tSALES\tRETURNS\tMAX SEQ\tTOTAL\tRETURNED\tNET\t")
	for _, t := range rep.Terminals {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t\n", t.Terminal, t.Count, t.Refunds, t.MaxSeq, money.Display(money.Amount(t.Total), t.Currency),
			money.Display(money.Amount(t.Refunded), t.Currency), money.Display(money.Amount(t.Net), t.Currency))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return printChains(w, rep)
}

// printChains lists the chains of every terminal that has more than one: a
// ledger restored from a backup or started empty, kept beside the first.
func printChains(w io.Writer, rep wire.SalesReport) error {
	for _, t := range rep.Terminals {
		if len(t.Chains) < 2 {
			continue
		}
		fmt.Fprintf(w, "\n%s wrote %d chains (a ledger restored from a backup or started empty; HQ keeps every one):\n", t.Terminal, len(t.Chains))
		for _, c := range t.Chains {
			name, base := "first", "from the start"
			if c.Epoch.ID != "" {
				name = "epoch " + c.Epoch.ID
			}
			switch {
			case c.Epoch.BaseSeq > 0 && c.BaseVerified:
				base = fmt.Sprintf("based on seq %d of %s", c.Epoch.BaseSeq, cmp.Or(c.Epoch.Parent, "the first chain"))
			case c.Epoch.BaseSeq > 0:
				base = fmt.Sprintf("based on seq %d of %s, which HQ never held: events before it are missing here", c.Epoch.BaseSeq, cmp.Or(c.Epoch.Parent, "the first chain"))
			}
			head := ""
			if c.Head {
				head = ", uploading now"
			}
			fmt.Fprintf(w, "  %s: %s, %s, %s, %s net, up to seq %d, %s%s\n", name, plural(c.Count, "sale"), money.Display(money.Amount(c.Total), t.Currency),
				plural(c.Refunds, "return"), money.Display(money.Amount(c.Net), t.Currency), c.Acked, base, head)
		}
	}
	return nil
}

// doJSON sends r to the admin API at base and decodes its JSON answer.
func doJSON(ctx context.Context, base string, r hqclient.Request, out any) error {
	c, err := adminClient(base, 30*time.Second)
	if err != nil {
		return err
	}
	a, err := c.Do(ctx, r)
	if err != nil || out == nil {
		return err
	}
	return a.JSON(out)
}

func terminalCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "terminal", Short: "enroll and revoke terminals"}
	var req wire.AddTerminalRequest
	var adminURL string
	add := &cobra.Command{
		Use:   "add",
		Short: "print a one-time enrollment token for a terminal (for `tilld enroll`)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body, _ := json.Marshal(req)
			var ans wire.AddTerminalResponse
			r := hqclient.Request{Method: http.MethodPost, Path: wire.PathAdminTerminals, Body: bytes.NewReader(body)}
			if err := doJSON(cmd.Context(), adminURL, r, &ans); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "enrollment token for terminal %s of store %s (one use, until %s):\n%s\n", req.Terminal, req.Store, ans.Expires, ans.Token)
			return nil
		},
	}
	add.Flags().StringVar(&req.Store, "store", "", "store id (required)")
	add.Flags().StringVar(&req.Terminal, "terminal", "", "terminal id, unique in the chain (required)")
	add.Flags().StringVar(&req.TTL, "ttl", "24h", "how long the token stays valid")
	cmd.PersistentFlags().StringVar(&adminURL, "admin", defaultAdmin, "HQ's admin API")
	add.MarkFlagRequired("store")
	add.MarkFlagRequired("terminal")
	cmd.AddCommand(add, revokeCmd(stdout, &adminURL))
	return cmd
}
