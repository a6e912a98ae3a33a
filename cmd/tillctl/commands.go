package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/doctor"
	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/till"
	"github.com/tilld/tilld/version"
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := &conn{addr: os.Getenv("TILLD_ADDR"), tokenFile: os.Getenv("TILLD_TOKEN_FILE"), config: doctor.ConfigFile}
	if c.addr == "" {
		c.addr = localapi.DefaultAddr
	}
	var asJSON bool
	root := &cobra.Command{
		Use:           "tillctl",
		Short:         "talk to the local tilld: status, devices, quote, sale, accounts, scans",
		Version:       version.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&c.addr, "addr", c.addr, "tilld's local API (env TILLD_ADDR)")
	root.PersistentFlags().StringVar(&c.tokenFile, "token-file", c.tokenFile, "the local API's token (env TILLD_TOKEN_FILE; default: "+localapi.TokenFile+" in tilld's data_dir)")
	root.PersistentFlags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	client := c.client
	out := func(v any, text func(io.Writer) error) error {
		if asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(v)
		}
		return text(stdout)
	}

	status := &cobra.Command{
		Use:   "status",
		Short: "terminal, HQ link, outbox, rules and readers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := client().Status(cmd.Context())
			if err != nil {
				return err
			}
			return out(st, func(w io.Writer) error {
				link := "offline"
				if st.Online {
					link = "online"
				}
				fmt.Fprintf(w, "terminal   %s\nHQ         %s", st.Terminal, link)
				if !st.LastSync.IsZero() {
					fmt.Fprintf(w, " (last sync %s ago)", time.Since(st.LastSync).Round(time.Second))
				}
				switch {
				case st.HQProblem != "":
					fmt.Fprintf(w, " — %s", st.HQProblem)
				case st.LastSyncError != "":
					fmt.Fprintf(w, " — %s", st.LastSyncError)
				}
				fmt.Fprintf(w, "\noutbox     %d unsynced", st.Outbox)
				if !st.OldestUnsynced.IsZero() {
					fmt.Fprintf(w, ", oldest %s ago", time.Since(st.OldestUnsynced).Round(time.Second))
				}
				fmt.Fprintf(w, "\nledger     last seq %d, acked by HQ %d", st.LastSeq, st.Acked)
				switch e := st.Epoch; {
				case e.BaseSeq > 0:
					fmt.Fprintf(w, ", chain epoch %s (after seq %d of %q: restored from a backup)", e.ID, e.BaseSeq, e.Parent)
				case e.ID != "":
					fmt.Fprintf(w, ", chain epoch %s", e.ID)
				}
				fmt.Fprintf(w, "\nrules      version %d\n", st.RulesetVersion)
				if st.RulesError != "" {
					fmt.Fprintf(w, "           REFUSED: %s\n", st.RulesError)
				}
				return printDevices(w, st.Devices)
			})
		},
	}

	devices := &cobra.Command{
		Use:   "devices",
		Short: "list configured readers and their state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := client().Devices(cmd.Context())
			if err != nil {
				return err
			}
			return out(d, func(w io.Writer) error {
				if err := printDevices(w, d.Configured); err != nil {
					return err
				}
				fmt.Fprintln(w)
				if len(d.Discovered) == 0 {
					fmt.Fprintln(w, "attached    no PC/SC readers or HID scanners found")
				} else {
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ATTACHED\tTYPE\tSTATE\tDESCRIPTION")
					for _, x := range d.Discovered {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", x.ID, x.Type, orDash(x.State), x.Description)
					}
					tw.Flush()
				}
				if d.DiscoverError != "" {
					fmt.Fprintf(w, "discovery problems: %s\n", d.DiscoverError)
				}
				return nil
			})
		},
	}

	var reader string
	scan := &cobra.Command{
		Use:   "scan CARD",
		Short: "present a card number on a software (fake) reader, as the demo has",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := client().Present(cmd.Context(), reader, args[0]); err != nil {
				return noSuchReader(cmd, client(), reader, err)
			}
			fmt.Fprintf(stdout, "presented %s on reader %q\n", args[0], reader)
			return nil
		},
	}
	scan.Flags().StringVar(&reader, "reader", "demo", "name of the fake reader")

	var card, cardType, basketFile string
	var explain bool
	basket := func(args []string) (pos.Basket, error) {
		b, err := parseBasket(args, basketFile)
		if err != nil {
			return b, err
		}
		if card != "" {
			b.Card = card
		}
		if cardType != "" {
			b.CardType = cardType
		}
		return b, nil
	}
	quote := &cobra.Command{
		Use:   "quote [SKU:CATEGORY:QTY:PRICE ...]",
		Short: "price a basket without recording it (PRICE in major units, e.g. 99.90)",
		Example: `  tillctl quote --card 2000000000015 milk:dairy:2:99.90 bread:bakery:1:45
  tillctl quote --file basket.json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := basket(args)
			if err != nil {
				return err
			}
			q, err := client().QuoteWith(cmd.Context(), b, till.QuoteOptions{Explain: explain})
			if err != nil {
				return err
			}
			return out(q, func(w io.Writer) error { return printQuote(w, q.Quote, q.Customer) })
		},
	}
	quote.Flags().BoolVar(&explain, "explain", false, "also list the rules that did not apply, and why")
	var saleID string
	sale := &cobra.Command{
		Use:   "sale [SKU:CATEGORY:QTY:PRICE ...]",
		Short: "record a sale (durable before it answers); --id makes retries safe",
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := basket(args)
			if err != nil {
				return err
			}
			if saleID == "" {
				saleID = fmt.Sprintf("tillctl-%d", time.Now().UnixNano())
			}
			res, code, err := client().Sale(cmd.Context(), till.SaleRequest{ID: saleID, Basket: b})
			if err != nil {
				return err
			}
			return out(res, func(w io.Writer) error {
				word := "recorded"
				if code == 200 {
					word = "already recorded"
				}
				fmt.Fprintf(w, "sale %s %s as seq %d, receipt code %s\n", res.ID, word, res.Seq, res.ReceiptCode)
				return printQuote(w, res.Quote, nil)
			})
		},
	}
	sale.Flags().StringVar(&saleID, "id", "", "client sale id (default: a new one)")
	for _, c := range []*cobra.Command{quote, sale} {
		c.Flags().StringVar(&card, "card", "", "loyalty card number")
		c.Flags().StringVar(&cardType, "card-type", "", "the card number's type as the scan named it (ean13, uid, pan, ...); default: read from the number")
		c.Flags().StringVar(&basketFile, "file", "", "basket as JSON ({\"card\":..., \"lines\":[...]}), - for stdin")
	}

	account := &cobra.Command{
		Use:   "account CARD",
		Short: "a card's account: lifetime spend, points, tier",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := client().AccountOfType(cmd.Context(), args[0], cardType)
			if err != nil {
				return err
			}
			return out(a, func(w io.Writer) error {
				fmt.Fprintf(w, "card            %s\nlifetime spend  %s\npoints          %d\ntier            %s\nsales           %d\n",
					a.Card, money.Display(money.Amount(a.LifetimeSpend), a.Currency), a.Points, orDash(a.Tier), a.Sales)
				if h := a.Holder; h != nil {
					fmt.Fprintf(w, "holder          %s\n", strings.Join(strings.Fields(h.Name+" "+h.Patronymic+" "+h.Surname), " "))
					fmt.Fprintf(w, "birthday        %s\ncontact         %s\nconsent         %v\n", orDash(h.Birthday), orDash(strings.TrimSpace(h.Phone+" "+h.Email)), h.Consent)
				}
				return nil
			})
		},
	}

	account.Flags().StringVar(&cardType, "card-type", "", "the card number's type as the scan named it (ean13, uid, pan, ...); default: read from the number")
	root.AddCommand(status, devices, scan, quote, sale, refundCmd(client, out), rewardsCmd(client, out), account, customerCmd(client, out), doctorCmd(c, stdout), ledgerCmd(client, stdout))
	err := root.ExecuteContext(ctx)
	var apiErr *localapi.APIError
	if errors.As(err, &apiErr) {
		if apiErr.Status == http.StatusUnauthorized {
			return fmt.Errorf("%s (%d %s)\n%s", apiErr.Message, apiErr.Status, apiErr.Code, c.tokenHint())
		}
		return fmt.Errorf("%s (%d %s)", apiErr.Message, apiErr.Status, apiErr.Code)
	}
	return err
}

// Amounts are printed with two fraction digits; the ruleset's currency decides
// the real exponent, and two is right for RUB, EUR, USD and most others.
var rub = money.Currency{Code: "RUB", Exponent: 2}

func parseBasket(args []string, file string) (pos.Basket, error) {
	var b pos.Basket
	if file != "" {
		var data []byte
		var err error
		if file == "-" {
			data, err = io.ReadAll(os.Stdin)
		} else {
			data, err = os.ReadFile(file)
		}
		if err != nil {
			return b, err
		}
		if err := json.Unmarshal(data, &b); err != nil {
			return b, fmt.Errorf("basket %s: %w", file, err)
		}
		return b, nil
	}
	if len(args) == 0 {
		return b, errors.New("no lines: give SKU:CATEGORY:QTY:PRICE arguments or --file")
	}
	for i, a := range args {
		f := strings.Split(a, ":")
		if len(f) != 4 {
			return b, fmt.Errorf("line %d %q: want SKU:CATEGORY:QTY:PRICE", i+1, a)
		}
		qty, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return b, fmt.Errorf("line %d %q: quantity: %w", i+1, a, err)
		}
		price, err := rub.Parse(f[3])
		if err != nil {
			return b, fmt.Errorf("line %d %q: %w", i+1, a, err)
		}
		b.Lines = append(b.Lines, pos.Line{SKU: f[0], Category: f[1], Qty: qty, UnitPrice: price})
	}
	return b, nil
}

// printQuote writes a priced basket for a person: each line's unit price,
// amount, discount and total; the rules that applied (and, explained, those
// that did not), aligned; the tier's message and the privileges; the totals.
// Every amount is in major units with the quote's currency (money.Display).
func printQuote(w io.Writer, q pos.Quote, c *till.Customer) error {
	cash := func(a money.Amount) string { return money.Display(a, q.Currency) }
	if c != nil {
		fmt.Fprintf(w, "customer %s: tier %s, %d points, lifetime %s\n", c.Card, orDash(c.Tier), c.Points, cash(money.Amount(c.LifetimeSpend)))
	}
	if q.Greeting != "" {
		fmt.Fprintln(w, q.Greeting)
	}
	if q.TierMessage != "" {
		fmt.Fprintf(w, "tier %s: %s\n", orDash(q.Tier), q.TierMessage)
	}
	privileges := q.Flags
	if q.Birthday {
		privileges = append(slices.Clone(privileges), "birthday")
	}
	if len(privileges) > 0 {
		fmt.Fprintf(w, "privileges: %s\n", strings.Join(privileges, ", "))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "SKU\tQTY\tPRICE\tAMOUNT\tDISCOUNT\tTOTAL\t")
	for _, l := range q.Lines {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t\n", l.SKU, l.Qty, cash(l.UnitPrice), cash(l.Amount), cash(l.Discount), cash(l.Total))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// The rules that applied and those that did not, in one aligned table:
	// rule, effect (right-aligned), reason.
	type row struct{ rule, effect, reason string }
	var applied, dropped []row
	for _, a := range q.Applied {
		effect := "-" + cash(a.Amount)
		switch {
		case a.Amount == 0 && a.Redeemed != 0:
			effect = fmt.Sprintf("-%d pts", a.Redeemed)
		case a.Amount == 0 && a.Points != 0:
			effect = fmt.Sprintf("%+d pts", a.Points)
		}
		reason := a.Reason
		if a.Note != "" {
			reason += " (" + a.Note + ")"
		}
		applied = append(applied, row{a.Rule, effect, reason})
	}
	for _, d := range q.Dropped {
		dropped = append(dropped, row{d.Rule, d.Code, d.Reason})
	}
	ruleW, effectW := 0, 0
	for _, r := range append(slices.Clone(applied), dropped...) {
		ruleW, effectW = max(ruleW, utf8.RuneCountInString(r.rule)), max(effectW, utf8.RuneCountInString(r.effect))
	}
	printRows := func(rows []row) {
		for _, r := range rows {
			fmt.Fprintf(w, "  %s%s  %s%s  %s\n", r.rule, strings.Repeat(" ", ruleW-utf8.RuneCountInString(r.rule)),
				strings.Repeat(" ", effectW-utf8.RuneCountInString(r.effect)), r.effect, r.reason)
		}
	}
	printRows(applied)
	if q.PointsRedeemed > 0 {
		fmt.Fprintf(w, "paid with %d points worth %s\n", q.PointsRedeemed, cash(q.PointsValue))
	}
	fmt.Fprintf(w, "subtotal %s  discount %s  total %s  points +%d  (rules v%d)\n",
		cash(q.Subtotal), cash(q.Discount), cash(q.Total), q.PointsEarned, q.RulesetVersion)
	if len(dropped) > 0 {
		fmt.Fprintln(w, "not applied:")
		printRows(dropped)
	}
	return nil
}

// noSuchReader explains a scan tilld refused because it has no software
// reader of that name: which name was tried (the default one, "demo", when
// --reader was not given) and which readers the till has. Other errors are
// returned as they are.
func noSuchReader(cmd *cobra.Command, client *localapi.Client, reader string, err error) error {
	var apiErr *localapi.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != "no_such_reader" {
		return err
	}
	tried := fmt.Sprintf("reader %q", reader)
	if !cmd.Flags().Changed("reader") {
		tried = fmt.Sprintf("reader %q (the default of --reader: the demo's fake reader)", reader)
	}
	have := "none"
	if d, derr := client.Devices(cmd.Context()); derr == nil && len(d.Configured) > 0 {
		var names []string
		for _, h := range d.Configured {
			names = append(names, fmt.Sprintf("%s (%s)", h.Name, h.Type))
		}
		have = strings.Join(names, ", ")
	}
	return fmt.Errorf("tilld has no software %s; its readers: %s. Only a fake reader takes a presented card: "+
		"add one to tilld.toml ([[reader]] type = \"fake\") and name it with --reader", tried, have)
}

func printDevices(w io.Writer, devs []device.Health) error {
	if len(devs) == 0 {
		fmt.Fprintln(w, "readers    none configured")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "READER\tTYPE\tSTATE\tSCANS\tERRORS\tLAST SCAN\tLAST ERROR")
	for _, d := range devs {
		last := "-"
		if !d.LastScan.IsZero() {
			last = d.LastScan.Format(time.TimeOnly)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", d.Name, d.Type, d.State, d.Scans, d.Errors, last, orDash(d.LastError))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
