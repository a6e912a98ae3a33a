package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/sync/hqclient"
	"github.com/tilld/tilld/sync/wire"
)

// customersCmd is `tillhq customers import|show|forget`, against a running HQ's
// admin API.
func customersCmd(stdout io.Writer) *cobra.Command {
	var adminURL string
	var asJSON bool
	cmd := &cobra.Command{Use: "customers", Short: "import, look up and forget card holders"}
	cmd.PersistentFlags().StringVar(&adminURL, "admin", defaultAdmin, "HQ's admin API")
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print JSON")
	imp := &cobra.Command{
		Use:   "import FILE",
		Short: "import an existing customer base from CSV (header: card,name,patronymic,surname,birthday,phone,email,consent,lang)",
		Long: `Import card holders from a CSV file whose first row names the columns: card and name
are required; patronymic, surname, birthday (YYYY-MM-DD or --MM-DD), phone, email,
consent (yes/no, да/нет, 1/0) and lang (ru, en) are optional; "," or ";" separate
fields. Every row that is not a valid holder is reported with its line and why;
the others are stored (a newer record of a card replaces an older one), and reach
the tills that see the card. Importing the same file again is harmless.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			var rep wire.ImportReport
			r := hqclient.Request{Method: http.MethodPost, Path: wire.PathAdminCustomers, Body: f, ContentType: "text/csv"}
			if err := doJSON(cmd.Context(), adminURL, r, &rep); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if asJSON {
				return json.NewEncoder(stdout).Encode(rep)
			}
			rejected := max(rep.RejectedTotal, len(rep.Rejected)) // an older HQ sends no total
			fmt.Fprintf(stdout, "%s: %d rows, %d stored, %d rejected\n", args[0], rep.Rows, rep.Stored, rejected)
			for _, r := range rep.Rejected {
				card := r.Card
				if card == "" {
					card = "-"
				}
				fmt.Fprintf(stdout, "  line %d (card %s): %s\n", r.Line, card, r.Reason)
			}
			if more := rejected - len(rep.Rejected); more > 0 {
				fmt.Fprintf(stdout, "  and %d more rows (HQ lists the first %d)\n", more, len(rep.Rejected))
			}
			if rejected > 0 {
				return fmt.Errorf("%d rows rejected", rejected)
			}
			return nil
		},
	}
	show := &cobra.Command{
		Use:   "show CARD",
		Short: "a card's account across every store, and its holder",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var a wire.AccountAnswer
			if err := doJSON(cmd.Context(), adminURL, hqclient.Request{Path: wire.PathAdminCustomers + "/" + url.PathEscape(args[0])}, &a); err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(stdout).Encode(a)
			}
			printAccount(stdout, a)
			return nil
		},
	}
	forget := &cobra.Command{
		Use:   "forget CARD",
		Short: "erase the card holder's personal data from HQ and, at their next sync, from every till",
		Long: `Erase the name, birthday and contacts of a card's holder: from HQ's store now, and
from every till that has seen the card as soon as it syncs (the tills zero the
pages of their ledger file that held them). Sales, points and every hash chain
stay as they are, so ledgers still verify.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ans struct {
				Card      string `json:"card"`
				Forgotten bool   `json:"forgotten"`
			}
			r := hqclient.Request{Method: http.MethodDelete, Path: wire.PathAdminCustomers + "/" + url.PathEscape(args[0])}
			if err := doJSON(cmd.Context(), adminURL, r, &ans); err != nil {
				return err
			}
			if ans.Forgotten {
				fmt.Fprintf(stdout, "card %s: holder forgotten at HQ; tills forget it at their next sync\n", ans.Card)
			} else {
				fmt.Fprintf(stdout, "card %s: HQ had no holder; tills that have one forget it at their next sync\n", ans.Card)
			}
			return nil
		},
	}
	var phone string
	find := &cobra.Command{
		Use:   "find --phone DIGITS",
		Short: "find card holders by the end of their phone number (at least the last 4 digits)",
		Long: `Find card holders whose phone number ends with the digits given: the last 4 to 7
digits a caller reads out are enough, and the whole number works with or without
its country code ("+7 900 123-45-67", "89001234567" and "1234567" all find a holder
registered as +7 900 123-45-67). Spaces, +, -, ( and ) are ignored. It lists the
card, the name and the phone with all but its last four digits hidden, at most 50
holders; HQ's admin log records who searched.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if phone == "" {
				return fmt.Errorf("--phone: give the last digits of the number")
			}
			var ans wire.CustomerSearch
			path := wire.PathAdminCustomers + "?" + url.Values{"phone": {phone}}.Encode()
			if err := doJSON(cmd.Context(), adminURL, hqclient.Request{Path: path}, &ans); err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(stdout).Encode(ans)
			}
			if len(ans.Customers) == 0 {
				fmt.Fprintf(stdout, "no card holder's phone ends with %s\n", phone)
				return nil
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CARD\tNAME\tPHONE")
			for _, c := range ans.Customers {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Card, c.Name, c.Phone)
			}
			if ans.More {
				fmt.Fprintf(tw, "... more than %d: give more digits\n", ans.Limit)
			}
			return tw.Flush()
		},
	}
	find.Flags().StringVar(&phone, "phone", "", "the last digits of the holder's phone number (4 to 15)")
	var limit int
	purchases := &cobra.Command{
		Use:   "purchases CARD",
		Short: "a card's purchases and returns across every store, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ans wire.CardPurchases
			path := wire.PathAdminCustomers + "/" + url.PathEscape(args[0]) + wire.PathAdminPurchases + "?" + url.Values{"limit": {fmt.Sprint(limit)}}.Encode()
			if err := doJSON(cmd.Context(), adminURL, hqclient.Request{Path: path}, &ans); err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(stdout).Encode(ans)
			}
			printPurchases(stdout, ans)
			return nil
		},
	}
	purchases.Flags().IntVar(&limit, "limit", 100, "at most this many, the newest (1 to 1000)")
	cmd.AddCommand(imp, show, find, purchases, forget)
	return cmd
}

// printAccount writes a card's account at HQ, its lifetime spend in major
// units with the currency, and its holder.
func printAccount(w io.Writer, a wire.AccountAnswer) {
	fmt.Fprintf(w, "card            %s\nlifetime spend  %s\npoints          %d\nsales           %d\n",
		a.Card, money.Display(a.Account.LifetimeSpend, a.Currency), a.Account.Points, a.Account.Sales)
	if a.Overdraft > 0 {
		fmt.Fprintf(w, "overdraft       %d points owed\n", a.Overdraft)
	}
	switch {
	case a.Holder != nil:
		h := a.Holder
		fmt.Fprintf(w, "holder          %s\nbirthday        %s\nphone           %s\nemail           %s\nconsent         %v\n",
			strings.TrimSpace(h.Name+" "+h.Patronymic+" "+h.Surname), h.Birthday, h.Phone, h.Email, h.Consent)
	case a.Forgotten:
		fmt.Fprintln(w, "holder          forgotten")
	default:
		fmt.Fprintln(w, "holder          none registered")
	}
}

// printPurchases writes a card's sales and returns, money in major units
// with its currency.
func printPurchases(w io.Writer, p wire.CardPurchases) {
	if len(p.Purchases) == 0 {
		fmt.Fprintf(w, "card %s: no purchases at HQ\n", p.Card)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DATE\tKIND\tSTORE\tTERMINAL\tRECEIPT\tTOTAL\tDISCOUNT\tPOINTS +\tPOINTS -")
	for _, x := range p.Purchases {
		store := x.Store
		if store == "" {
			store = "-"
		}
		kind := x.Kind
		if x.Of != "" {
			kind += " of " + x.Of
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\n", x.At.Local().Format("2006-01-02 15:04"), kind, store, x.Terminal, x.Receipt,
			money.Display(x.Total, x.Currency), money.Display(x.Discount, x.Currency), x.Earned, x.Spent)
	}
	if p.More {
		fmt.Fprintf(tw, "... older ones beyond the newest %d (--limit)\n", p.Limit)
	}
	tw.Flush()
}

// overdraftsCmd is `tillhq report overdrafts`.
func overdraftsCmd(stdout io.Writer, adminURL *string, asJSON *bool) *cobra.Command {
	return &cobra.Command{
		Use:   "overdrafts",
		Short: "cards whose points were redeemed beyond their balance (offline at two tills)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rep wire.OverdraftReport
			if err := doJSON(cmd.Context(), *adminURL, hqclient.Request{Path: wire.PathReportOverdrafts}, &rep); err != nil {
				return err
			}
			if *asJSON {
				return json.NewEncoder(stdout).Encode(rep)
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CARD\tOWED\tOVERDRAWN\tFIRST\tLAST")
			for _, c := range rep.Cards {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", c.Card, c.Owed, c.Recorded, c.First.Format("2006-01-02 15:04"), c.Last.Format("2006-01-02 15:04"))
			}
			return tw.Flush()
		},
	}
}
