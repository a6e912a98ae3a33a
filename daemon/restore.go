package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tilld/tilld/internal/durable"
	"github.com/tilld/tilld/ledger"
	"github.com/tilld/tilld/sync/forward"
	"github.com/tilld/tilld/sync/hqclient"
	"github.com/tilld/tilld/sync/wire"
	"github.com/tilld/tilld/till"
)

// RestoreOptions say which of the terminal's chains to rebuild a ledger from.
type RestoreOptions struct {
	// DataDir holds the enrollment identity; the ledger is rebuilt as
	// DataDir/ledger.db, which must not exist.
	DataDir string
	// Epoch is the chain to restore; "" means the chain the terminal uploaded
	// to last (the head).
	Epoch string
	// HQ overrides the HQ address of the enrollment.
	HQ string
	// Progress, when set, is told of each page restored.
	Progress func(restored, total uint64)
}

// RestoreResult says what RestoreFromHQ rebuilt.
type RestoreResult struct {
	Path     string
	Terminal string
	Chain    wire.Chain
	Events   uint64 // events restored
	Report   ledger.Report
}

// ErrLedgerExists: RestoreFromHQ never overwrites a ledger.
var ErrLedgerExists = errors.New("a ledger exists")

// RestoreFromHQ rebuilds a terminal's ledger from HQ's copy of its chain, when
// its disk died: every event the terminal uploaded, its account views, its
// sales index, acknowledged and filed under the same epoch, so that the till
// sells on from the next seq. The ledger is built beside the data directory's
// files and moved into place only once it verifies. Run it with tilld
// stopped, as tilld's user.
func RestoreFromHQ(ctx context.Context, opts RestoreOptions) (RestoreResult, error) {
	res := RestoreResult{Path: filepath.Join(opts.DataDir, "ledger.db")}
	fail := func(err error) (RestoreResult, error) { return res, fmt.Errorf("restore the ledger from HQ: %w", err) }
	for _, p := range []string{res.Path, res.Path + "-journal"} {
		if _, err := os.Stat(p); err == nil {
			return fail(fmt.Errorf("%w: %s is there; a restore never overwrites one: stop tilld and move it (and %s-journal) aside, or keep it: it may hold sales HQ does not have", ErrLedgerExists, p, res.Path))
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fail(err)
		}
	}
	id, err := LoadIdentity(opts.DataDir)
	if err != nil {
		return fail(fmt.Errorf("enrollment identity in %s: %w", opts.DataDir, err))
	}
	res.Terminal = id.Terminal
	hqURL := cmp.Or(opts.HQ, id.HQ)
	fwd := forward.New(forward.Options{HQ: hqclient.New(hqURL, hqclient.Options{TLS: id.TLS}), Terminal: id.Terminal})
	chains, err := fwd.Chains(ctx)
	if err != nil {
		return fail(err)
	}
	var names []string
	for _, c := range chains {
		names = append(names, fmt.Sprintf("%q (%d events)", c.Epoch.ID, c.Acked))
		if opts.Epoch == "" && c.Head || opts.Epoch != "" && c.Epoch.ID == opts.Epoch {
			res.Chain = c
		}
	}
	switch {
	case len(chains) == 0:
		return fail(fmt.Errorf("HQ holds no events of terminal %s: there is nothing to restore; start tilld and it begins an empty ledger", id.Terminal))
	case res.Chain.Acked == 0 && opts.Epoch != "":
		return fail(fmt.Errorf("HQ holds no chain %q of terminal %s; it holds %s", opts.Epoch, id.Terminal, strings.Join(names, ", ")))
	}

	// Build in a directory of its own inside DataDir (same file system, so the
	// rename is atomic), and move the file in once it verifies.
	tmp, err := os.MkdirTemp(opts.DataDir, ".restore-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(tmp)
	path := filepath.Join(tmp, "ledger.db")
	l, err := ledger.Open(path, ledger.Options{Terminal: id.Terminal})
	if err != nil {
		return fail(err)
	}
	defer l.Close()
	var after uint64
	for after < res.Chain.Acked {
		page, err := fwd.ChainPage(ctx, res.Chain.Epoch.ID, after)
		if err != nil {
			return fail(err)
		}
		if len(page.Events) == 0 {
			return fail(fmt.Errorf("HQ's chain %q ends at %d, it said %d", res.Chain.Epoch.ID, after, res.Chain.Acked))
		}
		if err := l.Restore(page.Chain.Epoch, page.Events, till.RestoredSale); err != nil {
			return fail(err)
		}
		after = page.Events[len(page.Events)-1].Seq
		res.Events += uint64(len(page.Events))
		if opts.Progress != nil {
			opts.Progress(after, res.Chain.Acked)
		}
	}
	if res.Report, err = l.Verify(); err != nil {
		return fail(err)
	}
	if !res.Report.OK() {
		return fail(fmt.Errorf("the rebuilt ledger does not verify: %s", res.Report.Problems[0]))
	}
	if err := l.Close(); err != nil {
		return fail(err)
	}
	if err := durable.Rename(path, res.Path); err != nil {
		return fail(err)
	}
	return res, nil
}
