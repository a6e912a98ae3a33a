package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
)

// rewardsCmd is `tillctl rewards CARD [SKU:CATEGORY:QTY:PRICE ...]`: what a
// card can get for its points now, and how much of a basket they may pay.
func rewardsCmd(client func() *localapi.Client, out func(any, func(io.Writer) error) error) *cobra.Command {
	return &cobra.Command{
		Use:   "rewards CARD [SKU:CATEGORY:QTY:PRICE ...]",
		Short: "what a card can get for its points now: catalog items, what is missing, points a basket may take",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var b *pos.Basket
			if len(args) > 1 {
				basket, err := parseBasket(args[1:], "")
				if err != nil {
					return err
				}
				b = &basket
			}
			r, err := client().Rewards(cmd.Context(), args[0], b)
			if err != nil {
				return err
			}
			return out(r, func(w io.Writer) error {
				fmt.Fprintf(w, "points          %d (%d usable now)\n", r.Points, r.Usable)
				for _, it := range r.Catalog {
					name := it.Name
					if name == "" {
						name = it.SKU
					}
					state := "available"
					if !it.Affordable {
						state = it.Reason
					}
					fmt.Fprintf(w, "  %s (%s) for %d points: %s\n", name, it.SKU, it.Points, state)
				}
				if r.NextReason != "" {
					fmt.Fprintf(w, "next            %s\n", r.NextReason)
				}
				if r.Redeem != nil {
					fmt.Fprintf(w, "this basket     up to %d points, %s\n", r.Redeem.Points, money.Display(r.Redeem.Value, r.Currency))
				}
				return nil
			})
		},
	}
}
