package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

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
				if st.LastSyncError != "" {
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
				return err
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
					a.Card, rub.Format(money.Amount(a.LifetimeSpend)), a.Points, orDash(a.Tier), a.Sales)
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

func printQuote(w io.Writer, q pos.Quote, c *till.Customer) error {
	if c != nil {
		fmt.Fprintf(w, "customer %s: tier %s, %d points, lifetime %s\n", c.Card, orDash(c.Tier), c.Points, rub.Format(money.Amount(c.LifetimeSpend)))
	}
	if q.Greeting != "" {
		fmt.Fprintln(w, q.Greeting)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "SKU\tQTY\tPRICE\tDISCOUNT\tTOTAL\t")
	for _, l := range q.Lines {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t\n", l.SKU, l.Qty, rub.Format(l.Amount), rub.Format(l.Discount), rub.Format(l.Total))
	}
	tw.Flush()
	for _, a := range q.Applied {
		effect := "-" + rub.Format(a.Amount)
		if a.Amount == 0 && a.Points != 0 {
			effect = fmt.Sprintf("%+d pts", a.Points)
		}
		fmt.Fprintf(w, "  %-14s %10s  %s\n", a.Rule, effect, a.Reason)
	}
	fmt.Fprintf(w, "subtotal %s  discount %s  total %s %s  points +%d  (rules v%d)\n",
		rub.Format(q.Subtotal), rub.Format(q.Discount), rub.Format(q.Total), q.Currency, q.PointsEarned, q.RulesetVersion)
	if len(q.Dropped) > 0 {
		fmt.Fprintln(w, "not applied:")
		for _, d := range q.Dropped {
			fmt.Fprintf(w, "  %-14s %-12s %s\n", d.Rule, d.Code, d.Reason)
		}
	}
	return nil
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
