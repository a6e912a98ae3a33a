package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/tilld/tilld/sync/hqclient"
)

// Defaults of [HQOptions].
const (
	DefaultHQTimeout = 10 * time.Second
	DefaultSkewWarn  = 5 * time.Second
	DefaultSkewFail  = 2 * time.Minute
)

// HealthPath is HQ's health endpoint, which answers 200 to a GET.
const HealthPath = "/healthz"

// HQOptions configure [HQ]. The zero value means the defaults.
type HQOptions struct {
	// Now is the clock compared with HQ's; default time.Now.
	Now func() time.Time
	// SkewWarn and SkewFail are the clock differences that warn and fail;
	// defaults DefaultSkewWarn and DefaultSkewFail.
	SkewWarn, SkewFail time.Duration
}

// HQ returns two checks sharing one GET of HealthPath through hq (the
// terminal's client, with its certificate): "hq" (is HQ reachable and
// healthy, and if not, why: unreachable, a certificate that does not match,
// ...) and "clock" (how far this machine's clock is from HQ's, read from the
// answer's Date header). A nil hq is a stand-alone till: one check that says so.
func HQ(hq *hqclient.Client, opts HQOptions) []Check {
	if hq == nil {
		return []Check{{Name: "hq", Run: func(context.Context) Result {
			return Result{Status: OK, Detail: "none configured: stand-alone till, nothing is synced"}
		}}}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SkewWarn == 0 {
		opts.SkewWarn = DefaultSkewWarn
	}
	if opts.SkewFail == 0 {
		opts.SkewFail = DefaultSkewFail
	}
	p := &hqProbe{hq: hq, opts: opts}
	return []Check{
		{Name: "hq", Run: func(ctx context.Context) Result { return p.get(ctx).reachable(hq.Base()) }},
		{Name: "clock", Run: func(ctx context.Context) Result { return p.get(ctx).clock(opts) }},
	}
}

// hqProbe makes its GET once, for whichever of the two checks asks first.
type hqProbe struct {
	hq   *hqclient.Client
	opts HQOptions
	once sync.Once
	ans  hqAnswer
}

type hqAnswer struct {
	err    error
	status int
	reason string
	// date is HQ's Date header; sent and got are the local clock around the request.
	date, sent, got time.Time
	dateErr         error
}

func (p *hqProbe) get(ctx context.Context) hqAnswer {
	p.once.Do(func() { p.ans = p.do(ctx) })
	return p.ans
}

func (p *hqProbe) do(ctx context.Context) hqAnswer {
	var a hqAnswer
	a.sent = p.opts.Now()
	ans, err := p.hq.Do(ctx, hqclient.Request{Path: HealthPath, Limit: 4 << 10})
	a.got = p.opts.Now()
	var se *hqclient.StatusError
	switch {
	case errors.As(err, &se):
		a.status, a.reason = se.Status, se.Reason
	case err != nil:
		return hqAnswer{err: err}
	default:
		a.status, a.reason = ans.Status, "200 OK"
	}
	if d := ans.Header.Get("Date"); d == "" {
		a.dateErr = errors.New("HQ sent no Date header")
	} else if a.date, err = http.ParseTime(d); err != nil {
		a.dateErr = fmt.Errorf("HQ's Date header %q: %w", d, err)
	}
	return a
}

func (a hqAnswer) reachable(baseURL string) Result {
	if a.err != nil {
		d := hqclient.Diagnose(baseURL, a.err)
		fix := d.Fix
		if d.Problem == hqclient.Unreachable {
			fix = fmt.Sprintf("check the network and the hq setting in %s (`curl -sv %s%s`). "+
				"The till keeps selling offline and forwards its sales once HQ is back.", ConfigFile, baseURL, HealthPath)
		}
		return Result{Status: Fail, Detail: d.String(), Fix: fix}
	}
	if a.status != http.StatusOK {
		return Result{Status: Fail,
			Detail: fmt.Sprintf("HQ %s answered %s to GET %s", baseURL, a.reason, HealthPath),
			Fix:    "HQ is reachable but not healthy: tell HQ's staff. The till keeps selling and forwards its sales later."}
	}
	return Result{Status: OK, Detail: fmt.Sprintf("%s answers in %v", baseURL, a.got.Sub(a.sent).Round(time.Millisecond))}
}

func (a hqAnswer) clock(opts HQOptions) Result {
	if a.err != nil {
		return Result{Status: Warn, Detail: "not measured: no answer from HQ", Fix: "see hq above; meanwhile `timedatectl` shows whether NTP keeps the clock right."}
	}
	if a.dateErr != nil {
		return Result{Status: Warn, Detail: "not measured: " + a.dateErr.Error(), Fix: "`timedatectl` shows whether NTP keeps the clock right."}
	}
	// Date has whole seconds: HQ's clock read somewhere in [date, date+1s)
	// while the request was in flight, between sent and got on ours.
	rtt := a.got.Sub(a.sent)
	local := a.sent.Add(rtt / 2)
	skew := local.Sub(a.date.Add(500 * time.Millisecond))
	slack := 500*time.Millisecond + rtt/2
	abs := skew
	if abs < 0 {
		abs = -abs
	}
	fix := "turn on time synchronisation: `timedatectl set-ntp true` (systemd-timesyncd), and check HQ's clock too. Sales are stamped with this clock and rules start by it."
	if abs <= slack {
		return Result{Status: OK, Detail: fmt.Sprintf("in step with HQ (within %v)", slack.Round(time.Millisecond))}
	}
	dir := "ahead of"
	if skew < 0 {
		dir = "behind"
	}
	detail := fmt.Sprintf("this clock is %v %s HQ's", abs.Truncate(time.Second), dir)
	switch {
	case abs-slack > opts.SkewFail:
		return Result{Status: Fail, Detail: detail, Fix: fix}
	case abs-slack > opts.SkewWarn:
		return Result{Status: Warn, Detail: detail, Fix: fix}
	}
	return Result{Status: OK, Detail: detail}
}
