package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/money"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/till"
)

// refundCmd is `tillctl refund`: a return against one of the till's sales.
func refundCmd(client func() *localapi.Client, out func(any, func(io.Writer) error) error) *cobra.Command {
	var req till.RefundRequest
	var claims []string
	var claimCard, currency string
	cmd := &cobra.Command{
		Use:   "refund (--sale ID | --seq N | --receipt CODE) [LINE:QTY ...]",
		Short: "return a sale, whole or by lines (durable before it answers); --id makes retries safe",
		Long: `Return units of a sale recorded at this till, named by the POS app's sale
id, its seq, or the receipt code printed with it. LINE:QTY returns QTY units
of the sale's line LINE (from 1); without any, everything not returned yet.
The money, the points earned and paid with, the partner points and the
charity round-up go back as the sale allocated them; the sale is never priced
again.

A receipt of another till's sale is looked up at HQ. When HQ cannot be asked,
the return is taken on what the receipt says (--claim, one per receipt line
returned: LINE:SKU:QTY:PAID[:REDEEMED[:EARNED]], QTY the units the line sold,
PAID what they were paid in major units of --currency, REDEEMED the points
they were paid with, EARNED the points they earned; --claim-card the card on
the receipt), if the rules allow it, within [limits] offline_return and
offline_returns_per_day; HQ reconciles it with the sale later.`,
		Example: `  tillctl refund --sale s-1001                     # the whole sale
  tillctl refund --receipt T042-17-3fa9c2 1:2 --reason "брак"
  tillctl refund --seq 17 3:1 --id ret-88
  # another till's sale while HQ is out of reach, on the receipt's word:
  tillctl refund --receipt S1-T1-17-3fa9c2 --currency RUB --claim-card 2000000000015 \
      --claim 1:tea:3:810.00::8 1:1`,
		RunE: func(cmd *cobra.Command, args []string) error {
			lines, err := parseReturnLines(args)
			if err != nil {
				return err
			}
			req.Lines = lines
			if len(claims) > 0 || claimCard != "" {
				c, err := parseClaim(claims, claimCard, currency)
				if err != nil {
					return err
				}
				req.Claim = c
			}
			if req.ID == "" {
				req.ID = fmt.Sprintf("tillctl-refund-%d", time.Now().UnixNano())
			}
			res, code, err := client().Refund(cmd.Context(), req)
			if err != nil {
				return err
			}
			return out(res, func(w io.Writer) error { return printRefund(w, res, code == 200) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.ID, "id", "", "client refund id (default: a new one)")
	f.StringVar(&req.Sale, "sale", "", "the POS app's id of the sale")
	f.Uint64Var(&req.Seq, "seq", 0, "the sale's seq in this till's ledger")
	f.StringVar(&req.Receipt, "receipt", "", "the receipt code printed with the sale")
	f.StringVar(&req.Reason, "reason", "", "why the customer returns it")
	f.StringArrayVar(&claims, "claim", nil, "what the receipt prints of a line, for a return without HQ: LINE:SKU:QTY:PAID[:REDEEMED[:EARNED]]")
	f.StringVar(&claimCard, "claim-card", "", "the card the receipt names, for a return without HQ")
	f.StringVar(&currency, "currency", "", "the currency of the receipt's amounts (with --claim), e.g. RUB")
	return cmd
}

// parseClaim reads --claim LINE:SKU:QTY:PAID[:REDEEMED[:EARNED]] values, PAID
// in major units of currency.
func parseClaim(args []string, card, currency string) (*pos.ReceiptClaim, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("--claim-card needs the receipt's lines: --claim LINE:SKU:QTY:PAID")
	}
	cur, err := money.ParseCurrency(currency)
	if err != nil {
		return nil, fmt.Errorf("--currency: the currency of the receipt's amounts is needed with --claim: %w", err)
	}
	c := &pos.ReceiptClaim{Card: card, Currency: cur.Code}
	for _, a := range args {
		p := strings.Split(a, ":")
		bad := func(what string, err error) error {
			return fmt.Errorf("--claim %q: %s: %v; want LINE:SKU:QTY:PAID[:REDEEMED[:EARNED]], e.g. 1:tea:3:810.00::8", a, what, err)
		}
		if len(p) < 4 || len(p) > 6 {
			return nil, bad("fields", fmt.Errorf("%d of them", len(p)))
		}
		for len(p) < 6 {
			p = append(p, "")
		}
		var l pos.ClaimLine
		if l.Line, err = strconv.Atoi(p[0]); err != nil {
			return nil, bad("LINE", err)
		}
		l.SKU = p[1]
		if l.Qty, err = strconv.ParseInt(p[2], 10, 64); err != nil {
			return nil, bad("QTY", err)
		}
		if l.Paid, err = cur.Parse(p[3]); err != nil {
			return nil, bad("PAID", err)
		}
		for i, v := range []*int64{&l.Redeemed, &l.Points} {
			if p[4+i] == "" {
				continue
			}
			if *v, err = strconv.ParseInt(p[4+i], 10, 64); err != nil {
				return nil, bad([]string{"REDEEMED", "EARNED"}[i], err)
			}
		}
		c.Lines = append(c.Lines, l)
	}
	return c, nil
}

// parseReturnLines reads LINE:QTY arguments.
func parseReturnLines(args []string) ([]pos.ReturnLine, error) {
	var out []pos.ReturnLine
	for _, a := range args {
		l, q, ok := strings.Cut(a, ":")
		line, err1 := strconv.Atoi(l)
		qty, err2 := strconv.ParseInt(q, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%q: want LINE:QTY, e.g. 2:1", a)
		}
		out = append(out, pos.ReturnLine{Line: line, Qty: qty})
	}
	return out, nil
}

func printRefund(w io.Writer, r till.RefundResult, replayed bool) error {
	word := "recorded"
	if replayed {
		word = "already recorded"
	}
	m := func(a money.Amount) string { return money.Display(a, r.Currency) }
	fmt.Fprintf(w, "refund %s %s as seq %d, of sale %s (%s)\n", r.ID, word, r.Seq, r.SaleID, r.SaleEvent)
	if r.Claim != nil {
		fmt.Fprintln(w, "taken on the receipt's word: HQ could not tell the sale; it reconciles the return when the till uploads it")
	}
	for _, l := range r.Lines {
		fmt.Fprintf(w, "  line %d %s × %d  %s\n", l.Line, l.SKU, l.Qty, m(l.Amount))
	}
	fmt.Fprintf(w, "money back      %s", m(r.Back))
	if r.Donated != 0 {
		fmt.Fprintf(w, " (goods %s, charity round-up %s)", m(r.Amount), m(r.Donated))
	}
	fmt.Fprintf(w, "\npoints          %d taken back, %d given back\n", r.PointsReversed, r.PointsReturned)
	if r.PartnerPoints != 0 {
		fmt.Fprintf(w, "partner points  %d taken back (%s)\n", r.PartnerPoints, r.Partner)
	}
	if r.Full {
		fmt.Fprintln(w, "the sale is returned whole")
		for _, e := range r.RafflesVoid {
			fmt.Fprintf(w, "raffle %s: %d ticket(s) void, code %s\n", e.Rule, e.Tickets, e.Code)
		}
	}
	return nil
}
