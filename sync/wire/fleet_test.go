package wire

import (
	"net/url"
	"testing"
	"time"
)

func TestHealthRoundTrip(t *testing.T) {
	h := Health{Tilld: "1.2.3", Outbox: 7, Oldest: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	q := url.Values{}
	h.AddTo(q)
	got, sent := ParseHealth(q)
	if !sent || got != h {
		t.Fatalf("ParseHealth(%s) = %+v %v, want %+v", q.Encode(), got, sent, h)
	}
	if _, sent := ParseHealth(url.Values{"after": {"3"}}); sent {
		t.Fatal("a poll without health parsed as having some")
	}
}

func FuzzParseHealth(f *testing.F) {
	f.Add("outbox=3&oldest=2026-12-01T09:00:00Z&tilld=1.0")
	f.Add("outbox=-1&oldest=yesterday")
	f.Add("outbox=99999999999999999999999&tilld=" + string(make([]byte, 100)))
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		h, sent := ParseHealth(q)
		if len(h.Tilld) > 64 {
			t.Fatalf("version of %d bytes kept", len(h.Tilld))
		}
		if !sent && h != (Health{}) {
			t.Fatalf("no health sent, got %+v", h)
		}
	})
}
