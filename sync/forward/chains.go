package forward

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/tilld/tilld/sync/wire"
)

// Chains lists this terminal's chains HQ holds: what a ledger rebuilt from
// HQ's copy chooses from. It needs no Outbox.
func (f *Forwarder) Chains(ctx context.Context) ([]wire.Chain, error) {
	var ans wire.ChainsAnswer
	q := url.Values{"terminal": {f.opts.Terminal}}
	if err := f.call(ctx, http.MethodGet, wire.PathChains+"?"+q.Encode(), nil, &ans); err != nil {
		return nil, fmt.Errorf("list chains at HQ: %w", err)
	}
	return ans.Chains, nil
}

// ChainPage returns a page of the events a ledger of the epoch holds, after
// seq after, as HQ holds them; it needs no Outbox.
func (f *Forwarder) ChainPage(ctx context.Context, epoch string, after uint64) (wire.ChainAnswer, error) {
	var ans wire.ChainAnswer
	q := url.Values{"terminal": {f.opts.Terminal}, "epoch": {epoch}, "after": {strconv.FormatUint(after, 10)}}
	if err := f.call(ctx, http.MethodGet, wire.PathChain+"?"+q.Encode(), nil, &ans); err != nil {
		return wire.ChainAnswer{}, fmt.Errorf("read chain %q after %d at HQ: %w", epoch, after, err)
	}
	return ans, nil
}
