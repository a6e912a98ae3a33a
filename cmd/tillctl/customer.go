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
	add := &cobra.Command{
		Use:   "add --card CARD --name NAME (--phone PHONE | --email EMAIL)",
		Short: "register (or correct) the holder of a card; kept on the till and sent to HQ",
		Example: `  tillctl customer add --card 2000000000015 --name Василий --patronymic Петрович \
      --birthday 1978-03-05 --phone "+7 900 123-45-67" --consent`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			stored, code, err := client().RegisterCustomer(cmd.Context(), h)
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
	f.StringVar(&h.Name, "name", "", "first name")
	f.StringVar(&h.Patronymic, "patronymic", "", "patronymic (отчество)")
	f.StringVar(&h.Surname, "surname", "", "surname")
	f.StringVar(&h.Birthday, "birthday", "", "YYYY-MM-DD, or --MM-DD without the year")
	f.StringVar(&h.Phone, "phone", "", "phone number")
	f.StringVar(&h.Email, "email", "", "e-mail address")
	f.StringVar(&h.Lang, "lang", "", "language to greet in: ru or en")
	f.BoolVar(&h.Consent, "consent", false, "the holder agrees to be contacted")
	cmd.AddCommand(add)
	return cmd
}
