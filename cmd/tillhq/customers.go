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
			fmt.Fprintf(stdout, "%s: %d rows, %d stored, %d rejected\n", args[0], rep.Rows, rep.Stored, len(rep.Rejected))
			for _, r := range rep.Rejected {
				card := r.Card
				if card == "" {
					card = "-"
				}
				fmt.Fprintf(stdout, "  line %d (card %s): %s\n", r.Line, card, r.Reason)
			}
			if len(rep.Rejected) > 0 {
				return fmt.Errorf("%d rows rejected", len(rep.Rejected))
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
	cmd.AddCommand(imp, show, forget)
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
