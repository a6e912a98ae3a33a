package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/pos"
)

// customerCmd is `tillctl customer add`: a cashier or store IT signing a card
// holder up at the till, online or not.
func customerCmd(client func() *localapi.Client, out func(any, func(io.Writer) error) error) *cobra.Command {
	cmd := &cobra.Command{Use: "customer", Short: "card holders registered at this till"}
	var h pos.CardHolder
	var cardType string
	add := &cobra.Command{
		Use:   "add --card CARD [--name NAME] [--phone PHONE | --email EMAIL] ...",
		Short: "register the holder of a card, or correct the fields given; kept on the till and sent to HQ",
		Long: `Register the holder of a card (name and a phone or an e-mail address are
required), or correct a registered one: only the fields given change, and
--surname "" clears one.`,
		Example: `  tillctl customer add --card 2000000000015 --name Василий --patronymic Петрович \
      --birthday 1978-03-05 --phone "+7 900 123-45-67" --consent
  tillctl customer add --card 2000000000015 --email vasily@example.ru   # a correction`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			req := localapi.CustomerRequest{HolderChange: pos.HolderChange{Card: h.Card}, CardType: cardType}
			f := cmd.Flags()
			set := func(name string, to **string, v *string) {
				if f.Changed(name) {
					*to = v
				}
			}
			set("name", &req.Name, &h.Name)
			set("patronymic", &req.Patronymic, &h.Patronymic)
			set("surname", &req.Surname, &h.Surname)
			set("birthday", &req.Birthday, &h.Birthday)
			set("phone", &req.Phone, &h.Phone)
			set("email", &req.Email, &h.Email)
			set("lang", &req.Lang, &h.Lang)
			if f.Changed("consent") {
				req.Consent = &h.Consent
			}
			stored, code, err := client().ChangeCustomer(cmd.Context(), req)
			if err != nil {
				return err
			}
			return out(stored, func(w io.Writer) error {
				word := "registered"
				if code == 200 {
					word = "updated"
				}
				fmt.Fprintf(w, "card %s: holder %s %s (%s at %s)\n", stored.Card, stored.Name, stored.Patronymic, word, stored.Terminal)
				return nil
			})
		},
	}
	f := add.Flags()
	f.StringVar(&h.Card, "card", "", "loyalty card number")
	f.StringVar(&cardType, "card-type", "", "the card number's type as the scan named it (ean13, uid, pan, ...); default: read from the number")
	f.StringVar(&h.Name, "name", "", "first name")
	f.StringVar(&h.Patronymic, "patronymic", "", "patronymic (отчество)")
	f.StringVar(&h.Surname, "surname", "", "surname")
	f.StringVar(&h.Birthday, "birthday", "", "YYYY-MM-DD, or --MM-DD without the year")
	f.StringVar(&h.Phone, "phone", "", "phone number")
	f.StringVar(&h.Email, "email", "", "e-mail address")
	f.StringVar(&h.Lang, "lang", "", "language to greet in: ru or en")
	f.BoolVar(&h.Consent, "consent", false, "the holder agrees to be contacted (--consent=false withdraws it)")
	cmd.AddCommand(add)
	return cmd
}
