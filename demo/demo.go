// Package demo runs a whole chain in one process on loopback: an HQ on the
// embedded store with the example rules, one terminal with a fake card reader,
// and the till page — what a newcomer starts to see tilld work in a minute.
package demo

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tilld/tilld/daemon"
	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/discount"
	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/boltstore"
	"github.com/tilld/tilld/pos"
	"github.com/tilld/tilld/serve"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

// Options configure the demo.
type Options struct {
	// Listen is the terminal's local API address (default 127.0.0.1:7450, or a
	// free port when that one is taken).
	Listen string
	// DataDir keeps the demo's files (default: a new temporary directory,
	// removed at the end).
	DataDir string
	Out     io.Writer // where the welcome text goes (default os.Stdout)
	Logger  *slog.Logger
	// Bin is the directory of tillctl and tillhq as the welcome text names
	// them ("bin", as `make demo` runs from the repository; default: none,
	// the commands are looked up in PATH).
	Bin string
	// Ready, when not nil, receives the local API's URL once the terminal has its
	// rules and the welcome text is printed.
	Ready func(url string)
}

// Cards of the demo: EAN-13 numbers in the chain's card range (prefix 2).
const (
	NewCustomer = "2000000000015" // no purchases yet
	Regular     = "2000000000022" // 12 000,00 ₽ bought before: the Gold tier
)

// Run starts the demo and blocks until ctx is cancelled.
func Run(ctx context.Context, opts Options) error {
	if opts.Out == nil {
		opts.Out = os.Stdout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.DataDir == "" {
		dir, err := os.MkdirTemp("", "tilld-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		opts.DataDir = dir
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	store, err := boltstore.Open(filepath.Join(opts.DataDir, "hq.db"), boltstore.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		return err
	}
	srv := hq.NewServer(hq.Options{Store: store, SigningKey: key, Logger: opts.Logger.With("process", "tillhq")})
	if _, err := srv.PublishRuleset(ctx, discount.Example); err != nil && !errors.Is(err, hq.ErrOldRuleset) {
		return fmt.Errorf("publish example rules: %w", err)
	}
	hqLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	// One loopback listener for the terminal API and the admin API: the demo
	// runs plain HTTP on loopback; a real HQ serves terminals over mutual TLS.
	mux := http.NewServeMux()
	mux.Handle("/v1/admin/", srv.AdminHandler())
	mux.Handle(wire.PathReportSales, srv.AdminHandler())
	mux.Handle(wire.PathReportAudit, srv.AdminHandler())
	mux.Handle("/", srv.Handler())
	wg.Go(func() { serve.HTTP(ctx, hqLn, mux, 0) })
	wg.Go(func() { srv.RunAuditor(ctx, hq.AuditorOptions{}) })

	listen := opts.Listen
	if listen == "" {
		listen = daemon.DefaultListen
		if ln, err := net.Listen("tcp", listen); err != nil {
			listen = "127.0.0.1:0"
		} else {
			ln.Close()
		}
	}
	reader, err := device.Open("demo", "fake", nil)
	if err != nil {
		return err
	}
	termDir := filepath.Join(opts.DataDir, "terminal")
	if err := os.MkdirAll(termDir, 0o750); err != nil { // tilld itself never creates its data directory
		return err
	}
	d, err := daemon.New(daemon.Config{
		Terminal: "DEMO-1",
		Store:    "DEMO",
		DataDir:  termDir,
		Listen:   listen,
		HQ:       "http://" + hqLn.Addr().String(),
		HQKey:    wire.FormatPublicKey(pub),
		Readers:  []daemon.Reader{{Name: "demo", Type: "fake", Reader: reader}},
	}, daemon.Options{Logger: opts.Logger.With("process", "tilld")})
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	wg.Go(func() { errc <- d.Run(ctx) })

	if err := waitForRules(ctx, d.Till(), 5*time.Second); err != nil {
		cancel()
		return err
	}
	if err := seedRegular(d.Till()); err != nil {
		cancel()
		return err
	}
	took := ""
	if opts.Listen == "" && strings.TrimPrefix(d.Addr(), "http://") != daemon.DefaultListen {
		took = fmt.Sprintf("  (%s was taken, so the demo listens on %s)\n", daemon.DefaultListen, strings.TrimPrefix(d.Addr(), "http://"))
	}
	hqURL := "http://" + hqLn.Addr().String()
	fmt.Fprintf(opts.Out, welcome, d.Addr(), took, d.TokenFile(), hqURL+wire.PathReportSales,
		strings.TrimPrefix(d.Addr(), "http://"), d.TokenFile(), "  "+strings.ReplaceAll(strings.TrimSuffix(Commands(opts.Bin, hqURL), "\n"), "\n", "\n  "))
	if opts.Ready != nil {
		opts.Ready(d.Addr())
	}
	select {
	case <-ctx.Done():
		return <-errc
	case err := <-errc:
		return err
	}
}

func waitForRules(ctx context.Context, t *till.Till, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for t.RulesVersion() == 0 {
		if time.Now().After(deadline) {
			return errors.New("demo terminal got no rules from the demo HQ")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// seedRegular gives the regular customer a purchase history, recorded through
// the till like any sale, so the tiers show.
func seedRegular(t *till.Till) error {
	_, _, err := t.Sale(till.SaleRequest{ID: "demo-history-1", Basket: pos.Basket{
		Card:  Regular,
		Lines: []pos.Line{{SKU: "tv-55", Category: "electronics", Qty: 1, UnitPrice: 1_200_000}},
	}})
	if err != nil {
		return fmt.Errorf("demo history: %w", err)
	}
	_, _, err = t.RegisterCustomer(pos.CardHolder{Card: Regular, Name: "Василий", Patronymic: "Петрович",
		Phone: "+7 900 000-00-00", Lang: "ru"})
	if err != nil {
		return fmt.Errorf("demo customer: %w", err)
	}
	return nil
}

// Commands are what the welcome text suggests trying, one shell command a
// line, after its export line: tillctl and tillhq in bin ("" for PATH),
// the demo HQ's admin API at hqURL.
func Commands(bin, hqURL string) string {
	if bin != "" {
		bin += "/"
	}
	return strings.NewReplacer("TILLCTL", bin+"tillctl", "TILLHQ", bin+"tillhq", "HQURL", hqURL, "NEW", NewCustomer, "REGULAR", Regular).Replace(
		`TILLCTL scan NEW                       # present a new customer's card on the fake reader
TILLCTL scan REGULAR                       # a regular in the Gold tier
TILLCTL quote --explain --card REGULAR milk:dairy:2:99.90 cigarettes:tobacco:1:250
TILLCTL sale  --card NEW --id sale-1 milk:dairy:2:99.90
TILLCTL account NEW
TILLCTL customer add --card NEW --name Мария --email maria@example.ru
TILLCTL status
TILLHQ report sales --admin HQURL          # the demo HQ's report: the sales once synced
`)
}

const welcome = `
tilld demo is running.

  till page   %s/        (open it in a browser, then present a card)
%s  API token   %s  (the POS app's and tillctl's; a web page has none)
  HQ          %s  (the sales report, JSON)

Try next, in another terminal, from this directory:

  export TILLD_ADDR=%s TILLD_TOKEN_FILE=%s
%s

(tillctl finds tilld and its token by TILLD_ADDR and TILLD_TOKEN_FILE, or
--addr and --token-file.) Ctrl-C stops the demo and removes its files.
`
