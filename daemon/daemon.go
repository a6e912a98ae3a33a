// Package daemon assembles a terminal: the ledger file, the card readers, the
// till core, the local API and the link to HQ, from a Config. cmd/tilld and the
// demo both run a Daemon. It reads and writes the data directory's files that
// are the terminal's own: the enrollment identity in DATA_DIR/identity (Enroll
// writes it, LoadIdentity reads it), the data directory's owner and the ledger
// (checked at start, rebuilt from HQ by RestoreFromHQ). It reads no
// configuration file and no environment: cmd/tilld parses tilld.toml
// (ParseConfig takes its bytes) and hands over a Config.
package daemon

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tilld/tilld/device"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/localapi"
	"github.com/tilld/tilld/serve"
	"github.com/tilld/tilld/sync/forward"
	"github.com/tilld/tilld/sync/hqclient"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
	"github.com/tilld/tilld/version"

	// Reader transports register themselves by type name.
	_ "github.com/tilld/tilld/device/fake"
	_ "github.com/tilld/tilld/device/hidpos"
	_ "github.com/tilld/tilld/device/pcsc"
	_ "github.com/tilld/tilld/device/serial"
)

// Options are what the caller supplies beside the configuration.
type Options struct {
	Logger *slog.Logger
	// Now is the till's clock (till.Options.Now); nil: time.Now.
	Now func() time.Time
}

// Daemon is one running terminal.
type Daemon struct {
	cfg     Config
	log     *slog.Logger
	ledger  *ledger.Ledger
	devices *device.Manager
	till    *till.Till
	fwd     *forward.Forwarder
	ln      net.Listener
	sock    net.Listener // the local API's unix socket; nil: none
	token   string       // the local API's token, in DataDir's localapi.TokenFile
	now     func() time.Time
	certEnd time.Time // the enrollment certificate's NotAfter; zero: none
}

// New opens the ledger and the local API's listener; Run starts everything else.
// On error nothing stays open, and the error is in one of the classes of
// ExitCodes when New can tell what went wrong: it says what, where, and what to do.
func New(cfg Config, opts Options) (*Daemon, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := checkDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	id, err := LoadIdentity(cfg.DataDir)
	switch {
	case errors.Is(err, ErrNotEnrolled):
		id = nil
	case err != nil:
		return nil, fmt.Errorf("enrollment identity: %w", fileError(cfg.DataDir, err))
	default:
		if cfg.Terminal == "" {
			cfg.Terminal = id.Terminal
		}
		if cfg.Store == "" {
			cfg.Store = id.Store
		}
		if cfg.HQ == "" {
			cfg.HQ = id.HQ
		}
		if cfg.HQKey == "" {
			cfg.HQKey = id.RulesKey
		}
	}
	if err := enrolled(cfg, id); err != nil {
		return nil, err
	}
	if err := cfg.Complete(); err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg, log: log, now: opts.Now}
	if d.now == nil {
		d.now = time.Now
	}
	if id != nil {
		d.certEnd = id.NotAfter
	}
	retain, err := ParseAge(cfg.Retention)
	if err != nil {
		return nil, fmt.Errorf("%w: retention: %w", ErrConfig, err)
	}
	var rulesKey ed25519.PublicKey
	if cfg.HQKey != "" {
		if rulesKey, err = wire.ParsePublicKey(cfg.HQKey); err != nil {
			return nil, fmt.Errorf("%w: hq_key: %w", ErrConfig, err)
		}
	}
	path := filepath.Join(cfg.DataDir, "ledger.db")
	tokenFile := filepath.Join(cfg.DataDir, localapi.TokenFile)
	if err := checkOwners(cfg.DataDir, filepath.Join(cfg.DataDir, identityDir), path, path+"-journal", tokenFile); err != nil {
		return nil, err
	}
	// The address first: a till that cannot serve opens no file.
	if d.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, listenError(cfg.Listen, err)
	}
	ok := false
	defer func() {
		if !ok {
			d.ln.Close()
		}
	}()
	if d.token, err = localapi.EnsureToken(cfg.DataDir); err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			err = fmt.Errorf("%w: %w", ledger.ErrDiskFull, err)
		}
		return nil, fileError(cfg.DataDir, err)
	}
	if cfg.Socket != "" {
		if d.sock, err = listenSocket(cfg.Socket); errors.Is(err, errors.ErrUnsupported) {
			d.sock = nil
		} else if err != nil {
			return nil, fmt.Errorf("%w: socket: %w", ErrConfig, err)
		}
	}
	defer func() {
		if !ok && d.sock != nil {
			d.sock.Close()
		}
	}()
	d.ledger, err = ledger.Open(path, ledger.Options{Terminal: cfg.Terminal, Retain: retain, Logger: log.With("component", "ledger"),
		CheckRuleset: till.RulesCheck(rulesKey)})
	if err != nil {
		return nil, fileError(cfg.DataDir, err)
	}
	defer func() {
		if !ok {
			d.ledger.Close()
		}
	}()
	// The parts refer to each other (a scan reaches the till, a sale wakes the
	// forwarder, the forwarder hands rules to the till): closures over d tie them
	// once all exist.
	d.devices = device.NewManager(device.ManagerOptions{
		Logger: log.With("component", "devices"),
		OnScan: func(s device.Scan) { d.till.HandleScan(s) },
	})
	presenters := map[string]presenter{}
	for _, r := range cfg.Readers {
		if err := d.devices.Add(r.Name, r.Type, r.Reader); err != nil {
			return nil, err
		}
		if p, ok := r.Reader.(presenter); ok {
			presenters[r.Name] = p
		}
	}
	topts := till.Options{
		RulesKey: rulesKey,
		Terminal: cfg.Terminal,
		Store:    cfg.Store,
		Region:   cfg.Region,
		Ledger:   d.ledger,
		Now:      opts.Now,
		Logger:   log.With("component", "till"),
		Cards:    device.IdentifyOptions{CardPrefixes: cfg.CardPrefixes, TrackPrefixes: cfg.TrackPrefixes, CardPatterns: cfg.CardPatterns},
		Discover: device.Discover,
		Devices:  d.devices.Status,
		Present: func(reader, data string) error {
			p, ok := presenters[reader]
			if !ok {
				return till.ErrUnknownReader
			}
			return p.Present(data)
		},
	}
	if cfg.HQ != "" {
		topts.OnSale = func() { d.fwd.Kick() }
		topts.Lookup = func(ctx context.Context, card string) error { return d.fwd.Lookup(ctx, card) }
		topts.FetchSale = func(ctx context.Context, receipt string) (wire.SaleAnswer, error) {
			a, err := d.fwd.Sale(ctx, receipt)
			var se *hqclient.StatusError
			if errors.As(err, &se) && se.Status < 500 || errors.Is(err, forward.ErrBadSaleAnswer) {
				err = fmt.Errorf("%w: %w", till.ErrSaleNotAtHQ, err) // HQ answered: no return on the receipt's word
			}
			return a, err
		}
		topts.Link = func() till.Link {
			s := d.fwd.Status()
			return till.Link{Online: s.Online, LastSync: s.LastSync, LastError: s.LastError, Problem: s.Problem}
		}
	}
	if d.till, err = till.New(topts); err != nil {
		return nil, err
	}
	if cfg.HQ != "" {
		var hqopts hqclient.Options
		if id != nil {
			hqopts.TLS = id.TLS
		}
		d.fwd = forward.New(forward.Options{HQ: hqclient.New(cfg.HQ, hqopts), Terminal: cfg.Terminal, Outbox: d.ledger, Rules: d.till, Cards: d.till,
			Health: d.health, Logger: log.With("component", "sync")})
	}
	ok = true
	return d, nil
}

// enrolled checks that a till without an enrollment identity can run: it has
// a terminal id of its own and does not talk to an HQ that accepts only
// enrolled tills (mutual TLS over https).
func enrolled(cfg Config, id *Identity) error {
	if id != nil {
		return nil
	}
	where := filepath.Join(cfg.DataDir, identityDir)
	enroll := "enroll it as the service user: runuser -u tilld -- tilld enroll --hq https://HQ:7460 --token TOKEN (`tillhq terminal add` prints the token)"
	switch {
	case cfg.Terminal == "":
		return fmt.Errorf("%w: %s holds no identity and tilld.toml sets no terminal id. To join the chain, %s; "+
			"for a stand-alone till, set terminal in tilld.toml", ErrNotEnrolled, where, enroll)
	case strings.HasPrefix(cfg.HQ, "https://"):
		return fmt.Errorf("%w: %s holds no identity, and HQ %s accepts only enrolled tills. To join the chain, %s", ErrNotEnrolled, where, cfg.HQ, enroll)
	}
	return nil
}

// presenter is a software reader a card can be presented to (device/fake).
type presenter interface {
	Present(data string) error
}

// Addr is the local API's base URL, e.g. http://127.0.0.1:7450.
func (d *Daemon) Addr() string { return "http://" + d.ln.Addr().String() }

// Socket is the path of the local API's unix socket, "" when it serves none.
func (d *Daemon) Socket() string {
	if d.sock == nil {
		return ""
	}
	return d.cfg.Socket
}

// TokenFile is the file that holds the local API's token.
func (d *Daemon) TokenFile() string { return filepath.Join(d.cfg.DataDir, localapi.TokenFile) }

// Till is the terminal's core, for callers that embed the daemon (the demo).
func (d *Daemon) Till() *till.Till { return d.till }

// Run serves until ctx is cancelled, then stops every part and closes the
// ledger. It returns nil after a clean stop.
func (d *Daemon) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	wg.Go(func() { errc <- d.devices.Run(ctx) })
	if d.fwd != nil {
		wg.Go(func() { errc <- d.fwd.Run(ctx) })
	}
	api := localapi.Handler(localapi.Options{Till: d.till, Token: d.token, Logger: d.log.With("component", "api")})
	wg.Go(func() { errc <- serve.HTTP(ctx, d.ln, api, 0) })
	if d.sock != nil {
		wg.Go(func() { errc <- serve.HTTP(ctx, d.sock, api, 0) })
	}
	wg.Go(func() {
		serve.Notify(ctx, func() error { _, err := d.ledger.Stats(); return err })
	})
	d.log.Info("tilld running", "terminal", d.cfg.Terminal, "api", d.Addr(), "socket", d.Socket(), "hq", d.cfg.HQ, "readers", len(d.cfg.Readers))
	// A part that fails stops the others; one that ends cleanly on its own
	// (a manager with no readers) does not.
	parts := 2
	if d.fwd != nil {
		parts++
	}
	if d.sock != nil {
		parts++
	}
	var first error
	for ; parts > 0; parts-- {
		select {
		case <-ctx.Done():
		case first = <-errc:
		}
		if ctx.Err() != nil || first != nil {
			break
		}
	}
	if first != nil {
		d.log.Error("tilld stopping", "err", first)
	} else {
		d.log.Info("tilld stopping", "why", context.Cause(ctx))
	}
	cancel()
	wg.Wait()
	close(errc)
	for err := range errc {
		if first == nil {
			first = err
		}
	}
	if err := d.ledger.Close(); err != nil && first == nil {
		first = err
	}
	d.log.Info("tilld stopped", "err", first)
	return first
}

// health is what the till tells HQ with its rules poll (HQ's fleet view).
func (d *Daemon) health() wire.Health {
	h := wire.Health{Tilld: version.Version, Clock: d.now(), CertNotAfter: d.certEnd}
	if st, err := d.ledger.Stats(); err == nil {
		h.Outbox, h.Oldest = st.Outbox, st.OldestPending
	}
	h.Readers, h.ReadersUp, h.ReaderError = readerHealth(d.devices.Status())
	return h
}

// readerHealth sums up the readers for HQ: how many, how many up, and why
// the first one that is not up is not.
func readerHealth(rs []device.Health) (n, up int, why string) {
	for _, r := range rs {
		if r.State == device.StateRunning {
			up++
			continue
		}
		if why == "" {
			why = r.Name + ": " + string(r.State)
			if r.LastError != "" {
				why = r.Name + ": " + r.LastError
			}
		}
	}
	return len(rs), up, why
}
