package doctor

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tilld/tilld/sync/hqclient"
)

func TestHQ(t *testing.T) {
	healthy := http.NewServeMux()
	healthy.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	down := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
	})
	noDate := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Date"] = nil // net/http then sends none
	})
	badDate := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", "yesterday")
	})
	ahead := func(d time.Duration) func() time.Time { return func() time.Time { return time.Now().Add(d) } }

	tests := []struct {
		name               string
		handler            http.Handler // nil: nothing listens
		opts               HQOptions
		hq, clock          Status
		hqDetail, clockDet string
		hqFix, clockFix    string
	}{
		{name: "healthy, clocks in step", handler: healthy,
			hq: OK, hqDetail: " answers in ", clock: OK, clockDet: "in step with HQ"},
		{name: "clock a minute ahead", handler: healthy, opts: HQOptions{Now: ahead(time.Minute)},
			hq: OK, clock: Warn, clockDet: " ahead of HQ's", clockFix: "timedatectl set-ntp true"},
		{name: "clock an hour behind", handler: healthy, opts: HQOptions{Now: ahead(-time.Hour)},
			hq: OK, clock: Fail, clockDet: " behind HQ's", clockFix: "timedatectl set-ntp true"},
		{name: "custom skew limits", handler: healthy, opts: HQOptions{Now: ahead(time.Minute), SkewWarn: time.Hour, SkewFail: 2 * time.Hour},
			hq: OK, clock: OK, clockDet: " ahead of HQ's"},
		{name: "HQ unhealthy", handler: down,
			hq: Fail, hqDetail: "answered 503 Service Unavailable to GET /healthz", hqFix: "tell HQ's staff",
			clock: OK, clockDet: "in step"},
		{name: "no Date header", handler: noDate,
			hq: OK, clock: Warn, clockDet: "not measured: HQ sent no Date header", clockFix: "timedatectl"},
		{name: "bad Date header", handler: badDate,
			hq: OK, clock: Warn, clockDet: `not measured: HQ's Date header "yesterday"`, clockFix: "timedatectl"},
		{name: "unreachable",
			hq: Fail, hqDetail: "HQ unreachable: no answer from http://127.0.0.1:", hqFix: "check the network and the hq setting in /etc/tilld/tilld.toml",
			clock: Warn, clockDet: "not measured: no answer from HQ", clockFix: "see hq above"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkGoroutines(t)
			var requests atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				if tt.handler == nil {
					t.Error("request reached a closed server")
					return
				}
				tt.handler.ServeHTTP(w, r)
			}))
			if tt.handler == nil {
				srv.Close()
			} else {
				defer srv.Close()
			}
			// A transport of its own, so no idle connection outlives the test.
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			checks := HQ(hqclient.New(srv.URL+"/", hqclient.Options{Transport: tr, Timeout: 5 * time.Second}), tt.opts) // a trailing slash is fine
			if len(checks) != 2 || checks[0].Name != "hq" || checks[1].Name != "clock" {
				t.Fatalf("checks %+v", checks)
			}
			rep := Run(context.Background(), checks)
			checkResult(t, rep.Outcomes[0].Result, tt.hq, tt.hqDetail, tt.hqFix)
			checkResult(t, rep.Outcomes[1].Result, tt.clock, tt.clockDet, tt.clockFix)
			if n := requests.Load(); tt.handler != nil && n != 1 {
				t.Errorf("%d requests to HQ, want one shared by both checks", n)
			}
		})
	}
}

func TestHQStandAlone(t *testing.T) {
	checks := HQ(nil, HQOptions{})
	if len(checks) != 1 {
		t.Fatalf("%d checks for a stand-alone till", len(checks))
	}
	checkResult(t, checks[0].Run(context.Background()), OK, "stand-alone", "")
}

// A clock off by less than HQ's Date can tell (whole seconds plus the round
// trip) reads as in step, whatever fraction of a second it is off by.
func TestHQClockPrecision(t *testing.T) {
	date := time.Date(2025, 11, 20, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name      string
		sent, got time.Time
		want      Status
		detail    string
	}{
		{"at the start of HQ's second", date, date.Add(2 * time.Millisecond), OK, "in step with HQ (within 501ms)"},
		{"at the end of HQ's second", date.Add(999 * time.Millisecond), date.Add(time.Second), OK, "in step"},
		{"slow answer widens the slack", date.Add(-2 * time.Second), date.Add(2 * time.Second), OK, "within 2.5s"},
		// HQ's clock is taken to be half way through its second.
		{"ten seconds ahead", date.Add(10500 * time.Millisecond), date.Add(10500 * time.Millisecond), Warn, "10s ahead of HQ's"},
		{"three minutes behind", date.Add(-3*time.Minute + 500*time.Millisecond), date.Add(-3*time.Minute + 500*time.Millisecond), Fail, "3m0s behind HQ's"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := hqAnswer{status: 200, date: date, sent: tt.sent, got: tt.got}
			res := a.clock(HQOptions{SkewWarn: DefaultSkewWarn, SkewFail: DefaultSkewFail})
			if res.Status != tt.want || !strings.Contains(res.Detail, tt.detail) {
				t.Errorf("got %s %q, want %s containing %q", res.Status, res.Detail, tt.want, tt.detail)
			}
		})
	}
}
