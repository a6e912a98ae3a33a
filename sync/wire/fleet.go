package wire

import (
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Health is what a till tells HQ with its regular rules poll (as query
// parameters, no extra connection): its tilld version, how many events wait
// to be uploaded and since when, its card readers, its clock and its
// certificate's expiry. A till of an older version sends only some of it:
// what it leaves out is zero.
type Health struct {
	Tilld  string    // tilld's version
	Outbox uint64    // events not yet acknowledged by HQ
	Oldest time.Time // the oldest of them; zero when none

	Readers     int    // card readers configured
	ReadersUp   int    // of them, running with no fault reported
	ReaderError string // why the first reader that is not up is not: "name: error"

	Clock        time.Time // the till's clock when it sent the poll; zero: not sent
	CertNotAfter time.Time // when the till's certificate expires; zero: not sent
}

// Bounds of what ParseHealth keeps.
const (
	MaxHealthVersion   = 64   // bytes of Health.Tilld
	MaxHealthReaderErr = 120  // bytes of Health.ReaderError
	MaxHealthReaders   = 1000 // Health.Readers and ReadersUp
)

// healthClockLayout is Health.Clock's: RFC 3339 in milliseconds, for a
// clock skew finer than a second.
const healthClockLayout = "2006-01-02T15:04:05.000Z07:00"

// AddTo sets h's query parameters on q.
func (h Health) AddTo(q url.Values) {
	if h.Tilld != "" {
		q.Set("tilld", h.Tilld)
	}
	q.Set("outbox", strconv.FormatUint(h.Outbox, 10))
	if !h.Oldest.IsZero() {
		q.Set("oldest", h.Oldest.UTC().Format(time.RFC3339))
	}
	if h.Readers > 0 {
		q.Set("readers", strconv.Itoa(h.Readers))
		q.Set("readers_up", strconv.Itoa(h.ReadersUp))
	}
	if h.ReaderError != "" {
		q.Set("reader_error", cutUTF8(h.ReaderError, MaxHealthReaderErr))
	}
	if !h.Clock.IsZero() {
		q.Set("clock", h.Clock.UTC().Format(healthClockLayout))
	}
	if !h.CertNotAfter.IsZero() {
		q.Set("cert", h.CertNotAfter.UTC().Format(time.RFC3339))
	}
}

// ParseHealth reads the health a till sent in q. A missing or malformed
// value is left zero (a till of an older version sends none); the version
// and the reader error are cut to MaxHealthVersion and MaxHealthReaderErr
// bytes of valid UTF-8, reader counts above MaxHealthReaders are malformed,
// and no more readers are up than configured.
func ParseHealth(q url.Values) (h Health, sent bool) {
	if _, sent = q["outbox"]; !sent {
		return Health{}, false
	}
	h.Tilld = cutUTF8(q.Get("tilld"), MaxHealthVersion)
	h.Outbox, _ = strconv.ParseUint(q.Get("outbox"), 10, 64)
	h.Oldest = parseHealthTime(q.Get("oldest"), time.Second)
	h.Readers = parseHealthCount(q.Get("readers"))
	h.ReadersUp = min(parseHealthCount(q.Get("readers_up")), h.Readers)
	h.ReaderError = cutUTF8(q.Get("reader_error"), MaxHealthReaderErr)
	h.Clock = parseHealthTime(q.Get("clock"), time.Millisecond)
	h.CertNotAfter = parseHealthTime(q.Get("cert"), time.Second)
	return h, true
}

// parseHealthTime reads an RFC 3339 time to the precision AddTo sends;
// malformed, or outside the years 1 to 9999 in UTC: zero.
func parseHealthTime(s string, precision time.Duration) time.Time {
	if len(s) > 40 {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if t = t.UTC(); err != nil || t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}
	}
	return t.Truncate(precision)
}

func parseHealthCount(s string) int {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n > MaxHealthReaders {
		return 0
	}
	return int(n)
}

// cutUTF8 returns s as valid UTF-8 of at most n bytes, cut at a character.
func cutUTF8(s string, n int) string {
	if len(s) > 4*n {
		s = s[:4*n] // the rest cannot be kept anyway
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// PathAdminFleet lists every terminal with its last contact (GET, a Fleet):
// ?find=TEXT keeps the terminals whose id or store contains TEXT (any
// case), ?attention=1 those needing attention, ?limit=N the first N of them.
const PathAdminFleet = "/v1/admin/fleet"

// Statuses of a terminal in the fleet.
const (
	FleetOnline  = "online"  // its last contact is younger than Fleet.OfflineAfter
	FleetOffline = "offline" // older
	FleetRevoked = "revoked" // its certificate is refused, whatever its contact
)

// Attention reasons: what about a terminal needs someone (FleetTerminal.Attention).
const (
	AttentionOffline = "offline" // no contact for Fleet.OfflineAfter (or revoked) with sales waiting
	AttentionWaiting = "waiting" // sales waiting longer than Fleet.OfflineAfter
	AttentionSilent  = "silent"  // offline, nothing waiting
	AttentionReader  = "reader"  // a card reader is not up
	AttentionClock   = "clock"   // the till's clock is off by more than Fleet.MaxSkewSeconds
	AttentionCert    = "cert"    // the certificate expires within Fleet.CertWarnDays days (or has)
	AttentionRuleset = "ruleset" // the till has an older ruleset than the current one
)

// FleetTerminal is a terminal as the fleet view shows it.
type FleetTerminal struct {
	Terminal    string `json:"terminal"`
	Store       string `json:"store,omitempty"` // from its certificate (its enrollment)
	Status      string `json:"status"`          // FleetOnline, FleetOffline or FleetRevoked
	LastContact string `json:"last_contact"`    // RFC 3339
	ContactAge  int64  `json:"contact_age_s"`   // seconds from the last contact to Fleet.At
	Remote      string `json:"remote"`
	Tilld       string `json:"tilld,omitempty"`
	Ruleset     int64  `json:"ruleset"`               // the version the till has
	Waiting     uint64 `json:"waiting"`               // events waiting to be uploaded
	OldestWait  string `json:"oldest_wait,omitempty"` // RFC 3339
	OldestAge   int64  `json:"oldest_age_s"`          // seconds from the oldest waiting event to Fleet.At; 0 when none
	Revoked     bool   `json:"revoked,omitempty"`

	Readers     int    `json:"readers"`    // card readers configured (0: none, or an older till)
	ReadersUp   int    `json:"readers_up"` // of them, up
	ReaderError string `json:"reader_error,omitempty"`
	// ClockSkew is the till's clock minus HQ's when HQ received the poll,
	// in seconds (positive: the till is ahead); nil when the till sent no clock.
	ClockSkew *float64 `json:"clock_skew_s,omitempty"`
	// CertDaysLeft is whole days until the terminal's certificate expires
	// (negative: expired), as HQ saw it in the TLS handshake or else as the
	// till said; nil when neither.
	CertDaysLeft *int `json:"cert_days_left,omitempty"`
	// Attention lists what needs someone, most urgent first (Attention*);
	// empty when nothing does.
	Attention []string `json:"attention,omitempty"`
}

// Fleet is every terminal that ever polled HQ for rules, the ones that need
// attention first: revoked or offline with sales waiting, sales waiting
// long, offline, a reader down, the clock off, the certificate expiring, an
// older ruleset; the longest waiting first within each, then by terminal.
type Fleet struct {
	Terminals []FleetTerminal `json:"terminals"`
	Current   int64           `json:"current_ruleset"`
	At        string          `json:"at"` // HQ's clock when it answered, RFC 3339
	// Counts over every terminal, whatever the query kept.
	Total         int `json:"total"`           // terminals
	Offline       int `json:"offline_count"`   // offline (not revoked)
	NeedAttention int `json:"attention_count"` // with a reason in Attention
	Matching      int `json:"matching"`        // terminals the query matched; Terminals is the first ?limit of them
	// The limits the statuses and attention reasons are judged by.
	OfflineAfter   int64 `json:"offline_after_s"`
	MaxSkewSeconds int64 `json:"max_skew_s"`
	CertWarnDays   int   `json:"cert_warn_days"`
}
