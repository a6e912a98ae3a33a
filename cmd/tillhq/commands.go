package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tilld/tilld/discount/rulesfile"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/boltstore"
	"github.com/tilld/tilld/hq/pgstore"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/serve"
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
	root.AddCommand(initCmd(stdout), serveCmd(stderr), rulesCmd(stdout), reportCmd(stdout), terminalCmd(stdout), customersCmd(stdout))
	return root.ExecuteContext(ctx)
}

func initCmd(stdout io.Writer) *cobra.Command {
	var dataDir string
	var hosts []string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "create HQ's data directory, store and rules-signing key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
			fmt.Fprintf(stdout, "HQ initialised in %s (TLS names: %s)\nrules key (terminals get it at enrollment; hq_key for unenrolled ones):\n%s\n",
				dataDir, strings.Join(hosts, ", "), wire.FormatPublicKey(pub))
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data", "/var/lib/tillhq", "directory of HQ's store and keys")
	cmd.Flags().StringSliceVar(&hosts, "host", []string{"localhost", "127.0.0.1"}, "host names and addresses terminals reach HQ by (repeatable)")
	return cmd
}

func serveCmd(stderr io.Writer) *cobra.Command {
	var dataDir, listen, admin, rulesFile, postgres string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "run the HQ server",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if host, _, err := net.SplitHostPort(admin); err != nil || !serve.Loopback(host) {
				return fmt.Errorf("--admin %q: the admin API (rules, terminals, reports, customers) has no authentication yet, "+
					"so it listens on loopback only: use 127.0.0.1:PORT, and reach it from elsewhere through an SSH tunnel", admin)
			}
			log := serve.NewLogger(stderr, slog.LevelInfo, os.Getenv("JOURNAL_STREAM"))
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
			defer store.Close()
			srv := hq.NewServer(hq.Options{Store: store, SigningKey: key, CA: ca, RequireClientCert: true, Logger: log})
			if rulesFile != "" {
				raw, err := os.ReadFile(rulesFile)
				if err != nil {
					return err
				}
				if _, err := srv.PublishRuleset(cmd.Context(), raw); err != nil && !errors.Is(err, hq.ErrOldRuleset) {
					return fmt.Errorf("%s: %w", rulesFile, err)
				}
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
			log.Info("tillhq listening", "terminals", "https://"+ln.Addr().String(), "admin", "http://"+adminLn.Addr().String(), "data", dataDir, "version", version.Version)
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
			err = serve.HTTP(cmd.Context(), tls.NewListener(ln, tlsConf), srv.Handler(), 0)
			if aerr := <-errc; err == nil {
				err = aerr
			}
			return err
		},
	}
	cmd.Flags().StringVar(&dataDir, "data", "/var/lib/tillhq", "directory of HQ's store")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:7460", "address terminals reach over mutual TLS")
	cmd.Flags().StringVar(&admin, "admin", "127.0.0.1:7461", "address of the admin API (rules, terminals, reports): loopback only, it has no authentication yet")
	cmd.Flags().StringVar(&postgres, "postgres", "", "PostgreSQL URL (postgres://...): keep HQ's store there instead of DATA/hq.db, so several tillhq replicas can serve one chain (each needs DATA's keys)")
	cmd.Flags().StringVar(&rulesFile, "rules", "", "publish this ruleset file at start unless the store has that version or newer")
	return cmd
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
	var hqURL string
	publish := &cobra.Command{
		Use:   "publish FILE",
		Short: "publish a ruleset to a running HQ",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			if _, err := hq.ValidateRuleset(raw); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, strings.TrimRight(hqURL, "/")+wire.PathAdminRules, strings.NewReader(string(raw)))
			if err != nil {
				return err
			}
			var ans struct {
				Version int64  `json:"version"`
				Hash    string `json:"hash"`
				wire.Error
			}
			if err := doJSON(req, &ans); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "published version %d (sha256 %s)\n", ans.Version, ans.Hash)
			return nil
		},
	}
	publish.Flags().StringVar(&hqURL, "admin", defaultAdmin, "HQ's admin API")
	cmd.AddCommand(check, publish)
	return cmd
}

func reportCmd(stdout io.Writer) *cobra.Command {
	var hqURL string
	var asJSON bool
	cmd := &cobra.Command{Use: "report", Short: "read HQ's reports"}
	sales := &cobra.Command{
		Use:   "sales",
		Short: "sales per terminal",
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, strings.TrimRight(hqURL, "/")+wire.PathReportSales, nil)
			if err != nil {
				return err
			}
			var rep wire.SalesReport
			if err := doJSON(req, &rep); err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(stdout).Encode(rep)
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "TERMINAL\tSALES\tMAX SEQ\tTOTAL\t")
			for _, t := range rep.Terminals {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t\n", t.Terminal, t.Count, t.MaxSeq, money.Display(money.Amount(t.Total), t.Currency))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			return printChains(stdout, rep)
		},
	}
	cmd.PersistentFlags().StringVar(&hqURL, "admin", defaultAdmin, "HQ's admin API")
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(sales, overdraftsCmd(stdout, &hqURL, &asJSON), auditCmd(stdout, &hqURL, &asJSON),
		cadenceCmd(stdout, &hqURL, &asJSON), overdueCmd(stdout, &hqURL, &asJSON), segmentsCmd(stdout, &hqURL, &asJSON), clvCmd(stdout, &hqURL, &asJSON), kpiCmd(stdout, &hqURL, &asJSON))
	return cmd
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
			fmt.Fprintf(w, "  %s: %d sales, %s, up to seq %d, %s%s\n", name, c.Count, money.Display(money.Amount(c.Total), t.Currency), c.Acked, base, head)
		}
	}
	return nil
}

func doJSON(req *http.Request, out any) error {
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var we wire.Error
		json.Unmarshal(data, &we)
		return fmt.Errorf("HQ answered %s: %s", resp.Status, we.Message)
	}
	return json.Unmarshal(data, out)
}

func terminalCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "terminal", Short: "enroll terminals"}
	var req wire.AddTerminalRequest
	var adminURL string
	add := &cobra.Command{
		Use:   "add",
		Short: "print a one-time enrollment token for a terminal (for `tilld enroll`)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body, _ := json.Marshal(req)
			r, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, strings.TrimRight(adminURL, "/")+wire.PathAdminTerminals, strings.NewReader(string(body)))
			if err != nil {
				return err
			}
			var ans wire.AddTerminalResponse
			if err := doJSON(r, &ans); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "enrollment token for terminal %s of store %s (one use, until %s):\n%s\n", req.Terminal, req.Store, ans.Expires, ans.Token)
			return nil
		},
	}
	add.Flags().StringVar(&req.Store, "store", "", "store id (required)")
	add.Flags().StringVar(&req.Terminal, "terminal", "", "terminal id, unique in the chain (required)")
	add.Flags().StringVar(&req.TTL, "ttl", "24h", "how long the token stays valid")
	add.Flags().StringVar(&adminURL, "admin", defaultAdmin, "HQ's admin API")
	add.MarkFlagRequired("store")
	add.MarkFlagRequired("terminal")
	cmd.AddCommand(add)
	return cmd
}
