package wire

import (
	"net/url"
	"strconv"
	"time"
)

// Health is what a till tells HQ with its regular rules poll (as query
// parameters, no extra connection): its tilld version, how many events wait
// to be uploaded and since when.
type Health struct {
	Tilld  string    // tilld's version
	Outbox uint64    // events not yet acknowledged by HQ
	Oldest time.Time // the oldest of them; zero when none
}

// AddTo sets h's query parameters on q.
func (h Health) AddTo(q url.Values) {
	if h.Tilld != "" {
		q.Set("tilld", h.Tilld)
	}
	q.Set("outbox", strconv.FormatUint(h.Outbox, 10))
	if !h.Oldest.IsZero() {
		q.Set("oldest", h.Oldest.UTC().Format(time.RFC3339))
	}
}

// ParseHealth reads the health a till sent in q. A missing or malformed
// value is left zero (a till of an older version sends none); the version is
// cut to 64 bytes.
func ParseHealth(q url.Values) (h Health, sent bool) {
	if _, sent = q["outbox"]; !sent {
		return Health{}, false
	}
	h.Tilld = q.Get("tilld")
	if len(h.Tilld) > 64 {
		h.Tilld = h.Tilld[:64]
	}
	h.Outbox, _ = strconv.ParseUint(q.Get("outbox"), 10, 64)
	if t, err := time.Parse(time.RFC3339, q.Get("oldest")); err == nil {
		h.Oldest = t.UTC()
	}
	return h, true
}

// PathAdminFleet lists every terminal with its last contact (GET, a Fleet).
const PathAdminFleet = "/v1/admin/fleet"

// FleetTerminal is a terminal as the fleet view shows it.
type FleetTerminal struct {
	Terminal    string `json:"terminal"`
	LastContact string `json:"last_contact"` // RFC 3339
	Remote      string `json:"remote"`
	Tilld       string `json:"tilld,omitempty"`
	Ruleset     int64  `json:"ruleset"`               // the version the till has
	Waiting     uint64 `json:"waiting"`               // events waiting to be uploaded
	OldestWait  string `json:"oldest_wait,omitempty"` // RFC 3339
	Revoked     bool   `json:"revoked,omitempty"`
}

// Fleet is every terminal that ever polled HQ for rules, by terminal.
type Fleet struct {
	Terminals []FleetTerminal `json:"terminals"`
	Current   int64           `json:"current_ruleset"`
}
