package hq_test

import (
	"context"
	"crypto/ed25519"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tilld/tilld/hq"
	"github.com/tilld/tilld/hq/boltstore"
	"github.com/tilld/tilld/sync/wire"
)

// The fleet answer: each terminal's status, readers, clock skew and
// certificate days left judged at HQ's clock, and the terminals that need
// attention first, in the documented order (wire.Fleet).
func TestFleetAttentionOrder(t *testing.T) {
	bs, err := boltstore.Open(filepath.Join(t.TempDir(), "hq.db"), boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	ctx := context.Background()
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	_, key, _ := ed25519.GenerateKey(nil)
	srv := hq.NewServer(hq.Options{Store: bs, SigningKey: key, Now: func() time.Time { return now }}) // MaxWait 30 s: offline after 2 min
	if _, err := srv.PublishRuleset(ctx, rulesVersion(2)); err != nil {
		t.Fatal(err)
	}
	year := now.AddDate(1, 0, 0)
	fine := func(terminal string) hq.Contact {
		return hq.Contact{Terminal: terminal, Store: terminal[:2], At: now.Add(-20 * time.Second), Remote: "10.0.0.1:4000", Ruleset: 2, Cert: year,
			Health: wire.Health{Tilld: "1.0", Readers: 2, ReadersUp: 2, Clock: now.Add(-20*time.Second + 250*time.Millisecond), CertNotAfter: year}}
	}
	with := func(c hq.Contact, f func(*hq.Contact)) hq.Contact { f(&c); return c }
	cs := []hq.Contact{
		fine("S1-T1"),
		with(fine("S1-T2"), func(c *hq.Contact) { // offline, sales waiting 3 h
			c.At, c.Health.Clock, c.Health.Outbox, c.Health.Oldest = now.Add(-10*time.Minute), now.Add(-10*time.Minute), 5, now.Add(-3*time.Hour)
		}),
		with(fine("S2-T1"), func(c *hq.Contact) { c.Health.Outbox, c.Health.Oldest = 2, now.Add(-time.Hour) }), // revoked below
		with(fine("S2-T2"), func(c *hq.Contact) { c.Health.Outbox, c.Health.Oldest = 3, now.Add(-10*time.Minute) }),
		with(fine("S2-T3"), func(c *hq.Contact) { c.Health.Outbox, c.Health.Oldest = 1, now.Add(-30*time.Second) }), // in flight: fine
		with(fine("S3-T1"), func(c *hq.Contact) { c.At, c.Health.Clock = now.Add(-5*time.Minute), time.Time{} }),
		with(fine("S3-T2"), func(c *hq.Contact) { c.Health.ReadersUp, c.Health.ReaderError = 1, "desk: unplugged" }),
		with(fine("S3-T3"), func(c *hq.Contact) { c.Health.Clock = c.At.Add(-5 * time.Minute) }),
		with(fine("S4-T1"), func(c *hq.Contact) { c.Cert = now.Add(10*24*time.Hour + time.Hour) }),
		with(fine("S4-T2"), func(c *hq.Contact) { c.Ruleset = 1 }),
		with(fine("S5-T1"), func(c *hq.Contact) { c.Ruleset = 1 }),                          // revoked below: nothing to come from it
		{Terminal: "S6-T1", At: now.Add(-time.Second), Remote: "10.0.0.6:4000", Ruleset: 2}, // an older till: no health
	}
	if err := bs.PutContacts(ctx, cs); err != nil {
		t.Fatal(err)
	}
	for _, term := range []string{"S2-T1", "S5-T1"} {
		if err := bs.RevokeTerminal(ctx, hq.Revocation{Terminal: term, At: now, By: "anna"}); err != nil {
			t.Fatal(err)
		}
	}
	admin := httptest.NewServer(srv.AdminHandler())
	defer admin.Close()
	var fleet wire.Fleet
	get(t, admin.Client(), admin.URL+wire.PathAdminFleet, &fleet)

	type row struct {
		terminal, status string
		why              []string
	}
	want := []row{
		{"S1-T2", wire.FleetOffline, []string{wire.AttentionOffline}},
		{"S2-T1", wire.FleetRevoked, []string{wire.AttentionOffline}},
		{"S2-T2", wire.FleetOnline, []string{wire.AttentionWaiting}},
		{"S3-T1", wire.FleetOffline, []string{wire.AttentionSilent}},
		{"S3-T2", wire.FleetOnline, []string{wire.AttentionReader}},
		{"S3-T3", wire.FleetOnline, []string{wire.AttentionClock}},
		{"S4-T1", wire.FleetOnline, []string{wire.AttentionCert}},
		{"S4-T2", wire.FleetOnline, []string{wire.AttentionRuleset}},
		{"S2-T3", wire.FleetOnline, nil}, // within a rank, the longest waiting first
		{"S1-T1", wire.FleetOnline, nil},
		{"S6-T1", wire.FleetOnline, nil},
		{"S5-T1", wire.FleetRevoked, nil},
	}
	var got []row
	for _, ft := range fleet.Terminals {
		got = append(got, row{ft.Terminal, ft.Status, ft.Attention})
	}
	if !slices.EqualFunc(got, want, func(a, b row) bool {
		return a.terminal == b.terminal && a.status == b.status && slices.Equal(a.why, b.why)
	}) {
		t.Fatalf("fleet order:\n got %v\nwant %v", got, want)
	}
	if fleet.Current != 2 || fleet.Offline != 2 || fleet.OfflineAfter != 120 || fleet.MaxSkewSeconds != 60 || fleet.CertWarnDays != 30 || fleet.At != now.Format(time.RFC3339) {
		t.Errorf("fleet = current %d, %d offline, limits %d s, %d s, %d days, at %s", fleet.Current, fleet.Offline,
			fleet.OfflineAfter, fleet.MaxSkewSeconds, fleet.CertWarnDays, fleet.At)
	}
	// The page's filters, at HQ: the terminals needing attention, the first
	// three of them; a terminal or store id in any case.
	for _, tc := range []struct {
		query    string
		matching int
		want     []string
	}{
		{"?attention=1&limit=3", 8, []string{"S1-T2", "S2-T1", "S2-T2"}},
		{"?find=s3", 3, []string{"S3-T1", "S3-T2", "S3-T3"}},
		{"?find=S4-T2&attention=1", 1, []string{"S4-T2"}},
		{"?find=S1-T1&attention=1", 0, nil},
	} {
		var f wire.Fleet
		get(t, admin.Client(), admin.URL+wire.PathAdminFleet+tc.query, &f)
		var terms []string
		for _, ft := range f.Terminals {
			terms = append(terms, ft.Terminal)
		}
		if !slices.Equal(terms, tc.want) || f.Matching != tc.matching || f.Total != 12 || f.NeedAttention != 8 || f.Offline != 2 {
			t.Errorf("fleet%s = %v, %d matching, counts %d/%d/%d; want %v, %d matching, counts 12/8/2", tc.query, terms, f.Matching,
				f.Total, f.NeedAttention, f.Offline, tc.want, tc.matching)
		}
	}
	for _, bad := range []string{"?limit=-1", "?limit=x", "?find=" + strings.Repeat("S", 65)} {
		if code, _ := get(t, admin.Client(), admin.URL+wire.PathAdminFleet+bad, &wire.Error{}); code != 400 {
			t.Errorf("fleet%s = %d, want 400", bad, code)
		}
	}

	by := map[string]wire.FleetTerminal{}
	for _, ft := range fleet.Terminals {
		by[ft.Terminal] = ft
	}
	if ft := by["S1-T2"]; ft.Waiting != 5 || ft.OldestAge != 3*3600 || ft.ContactAge != 600 || ft.Store != "S1" || *ft.ClockSkew != 0 {
		t.Errorf("S1-T2 = %+v", ft)
	}
	if ft := by["S1-T1"]; ft.ClockSkew == nil || *ft.ClockSkew != 0.25 || ft.CertDaysLeft == nil || *ft.CertDaysLeft != 365 || ft.Readers != 2 || ft.ReadersUp != 2 || ft.OldestAge != 0 {
		t.Errorf("S1-T1 = %+v", ft)
	}
	if ft := by["S3-T2"]; ft.ReaderError != "desk: unplugged" || ft.ReadersUp != 1 {
		t.Errorf("S3-T2 = %+v", ft)
	}
	if ft := by["S3-T3"]; *ft.ClockSkew != -300 {
		t.Errorf("S3-T3's skew = %v, want -300", *ft.ClockSkew)
	}
	if ft := by["S4-T1"]; *ft.CertDaysLeft != 10 {
		t.Errorf("S4-T1's certificate days left = %d, want 10", *ft.CertDaysLeft)
	}
	if ft := by["S6-T1"]; ft.ClockSkew != nil || ft.CertDaysLeft != nil || ft.Readers != 0 || ft.Store != "" {
		t.Errorf("S6-T1, a till that sent no health = %+v", ft)
	}
}

// A poll over mutual TLS: the fleet takes the store and the certificate's
// expiry from the certificate HQ saw, not from what the till says, and the
// till's readers and clock from its health.
func TestContactFromCertificate(t *testing.T) {
	h := startParkedHQ(t)
	client, _ := h.terminal(t, "S1-T7") // store S1, valid for an hour
	q := url.Values{"rules": {"1"}, "wait": {"0"}}
	wire.Health{Tilld: "9.9", Readers: 1, ReadersUp: 0, ReaderError: "door: no such device", Clock: time.Now().Add(90 * time.Second),
		CertNotAfter: time.Now().AddDate(5, 0, 0)}.AddTo(q)
	if code, _ := get(t, client, h.url+wire.PathWait+"?"+q.Encode(), nil); code != 200 {
		t.Fatalf("poll = %d", code)
	}
	admin := httptest.NewServer(h.srv.AdminHandler())
	defer admin.Close()
	var fleet wire.Fleet
	get(t, admin.Client(), admin.URL+wire.PathAdminFleet, &fleet)
	if len(fleet.Terminals) != 1 {
		t.Fatalf("fleet = %+v", fleet.Terminals)
	}
	ft := fleet.Terminals[0]
	if ft.Terminal != "S1-T7" || ft.Store != "S1" || ft.CertDaysLeft == nil || *ft.CertDaysLeft != 0 || ft.Tilld != "9.9" ||
		ft.Readers != 1 || ft.ReadersUp != 0 || ft.ReaderError != "door: no such device" ||
		ft.ClockSkew == nil || *ft.ClockSkew < 85 || *ft.ClockSkew > 95 {
		t.Fatalf("fleet row = %+v (skew %v, days %v)", ft, ft.ClockSkew, ft.CertDaysLeft)
	}
	if !slices.Equal(ft.Attention, []string{wire.AttentionReader, wire.AttentionClock, wire.AttentionCert}) {
		t.Errorf("attention = %v, want reader, clock, cert", ft.Attention)
	}
}
